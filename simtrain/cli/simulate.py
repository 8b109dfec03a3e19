"""``simtrain simulate``: simulate one data-parallel training step.

Examples
--------
>>> from simtrain.cli import main
>>> main(["simulate", "--model", "resnet50", "--topology", "torus-2d", "--gpus", "16", "--json"])  # doctest: +ELLIPSIS
{...}
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import CLI, emit, new_output, print_rows, split_overrides
from simtrain.cli._run_flags import add_run_flags, run_values
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.inputs import digits, first_repeat

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``simulate`` sub-command: a flag for every parameter of :class:`simtrain.run.TrainingRun`."""
    p = sub.add_parser("simulate", help="simulate one data-parallel training step")
    add_run_flags(p)
    # dests are the fields of Perturbations, so its errors show these flags (cli._common.flag_table)
    p.add_argument("--straggler", dest="stragglers", action="append", default=[], metavar="RANK:FACTOR",
                   help="DES: GPU RANK computes FACTOR times slower")
    p.add_argument("--degrade", dest="degraded", action="append", default=[], metavar="LINK:FACTOR",
                   help="DES: multiply a link's bandwidth by FACTOR (LINK: a->b, a<->b, or a node such as node3.nic0)")
    p.add_argument("--fail-link", dest="failed", action="append", default=[], metavar="LINK",
                   help="DES: take a link down; traffic reroutes where the topology allows")
    p.add_argument("--background", action="append", default=[], metavar="LINK:RATE",
                   help="DES: constant background traffic on a link, e.g. leaf0->spine:20GB/s")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override: topology.KEY (YAML keys), network.KEY (see docs/reference.md), algorithm.KEY")
    p.add_argument("--workload", metavar="WORKLOAD.json",
                   help="replay a measured step (from `simtrain import-trace`) instead of a model: its compute as "
                        "measured, its collectives simulated on --topology (with --algorithm, --engine)")
    p.add_argument("--trace", metavar="OUT.json", help="write a Chrome/Perfetto trace of the step")
    p.add_argument("--trace-ranks", metavar="R,R,...", help="GPUs the trace shows (default: the first four and "
                                                            "every straggler)")
    p.add_argument("--trace-links", metavar="A->B,...", help="links the trace draws beside the most utilised ones")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    for action in p._actions:   # --workload stands in for --model
        if action.dest == "model":
            action.required = False
    p.set_defaults(func=run)


def _perturbations(args: argparse.Namespace) -> Any:
    """The perturbation flags, merged with the ``--perturbations`` file (None when there are none)."""
    from simtrain.network.perturb import Perturbations

    combined = Perturbations.parse(args.stragglers, args.degraded, args.failed, args.background)
    if args.perturbations:
        from simtrain.config import load_yaml

        combined.merge(Perturbations.from_dict(load_yaml(args.perturbations), source=args.perturbations))
    return None if combined.empty else combined


def training_run(args: argparse.Namespace) -> Any:
    """The :class:`~simtrain.run.TrainingRun` the flags describe."""
    from simtrain.run import TrainingRun

    groups = split_overrides(args.set)
    values = run_values(args)
    for other in ("parallel", "micro_batch", "global_batch"):   # the run sees only a batch unlike its default
        if values.get("batch") is not None and values.get(other) is not None:
            raise ConfigError(f"does not combine with {other}: the batch is global_batch over the GPUs (with "
                              "micro_batch, micro-batches of it)", key="batch", value=values["batch"])
    if values.get("seed") is not None and not values.get("compute_jitter"):
        # the seed draws the compute jitter and nothing else: typed without it, it changes nothing (a study sets
        # one for every point, so only the command line refuses it)
        raise ConfigError("draws only --compute-jitter (engine des), which this run does not set", key="seed",
                          value=values["seed"], allowed="with --compute-jitter, or leave it unset")
    if values.get("dp_bucket_rule") is not None and values.get("dp_bucket_size") is None:
        # a study's per-layer row may keep a base rule (it changes nothing there); typed alone, it is a slip
        raise ConfigError("says how --dp-bucket-size closes a bucket, and it is not given", key="dp_bucket_rule",
                          value=values["dp_bucket_rule"], allowed="with --dp-bucket-size")
    values["perturbations"] = _perturbations(args)
    return TrainingRun(**values, topology_overrides=tuple(groups["topology"]), network=dict(groups["network"]),
                       algorithm_params=dict(groups["algorithm"]))


def _replay(args: argparse.Namespace) -> int:
    """``simulate --workload``: the measured step replayed on the topology (simtrain.workload.replay)."""
    from simtrain import units
    from simtrain.cli._common import algorithm, network_options
    from simtrain.topology import load_topology
    from simtrain.workload import read_workload
    from simtrain.workload.replay import replay
    from simtrain.workload.schema import check_simulable

    if args.model is not None:
        raise ConfigError("give --model or --workload, not both", source=CLI, key="--workload", value=args.workload)
    from simtrain.params import read_params
    from simtrain.run import RUN_PARAMS

    used = ("topology", "gpus", "algorithm", "engine")
    given = run_values(args, used)
    unused = sorted(set(run_values(args)) - set(used))
    if unused:
        raise ConfigError(f"does not apply to a workload replay (it uses {', '.join(used)})", source=CLI,
                          key=f"--{unused[0].replace('_', '-')}")
    # the step's own flags (perturbations, its trace) have no step to act on in a replay: refused, not ignored
    for flag, value in (("--straggler", args.stragglers), ("--degrade", args.degraded), ("--fail-link", args.failed),
                        ("--background", args.background), ("--trace", args.trace),
                        ("--trace-ranks", args.trace_ranks), ("--trace-links", args.trace_links)):
        if value:
            raise ConfigError(f"does not apply to a workload replay (it uses {', '.join(used)})", source=CLI,
                              key=flag, value=value[0] if isinstance(value, list) else value)
    values = read_params([p for p in RUN_PARAMS if p.name in used], given)
    workload = read_workload(args.workload)
    check_simulable(workload, args.workload)   # named by its file, before the cluster is built
    groups = split_overrides(args.set)
    name, params = algorithm(values["algorithm"], groups["algorithm"])
    cluster = load_topology(values["topology"], gpus=values["gpus"], overrides=groups["topology"])
    result = replay(workload, cluster, algorithm=name, engine=values["engine"],
                    options=network_options(groups["network"]), **params)
    if args.json:
        emit({"workload": args.workload, "algorithm": name, **result.to_dict()})
        return 0
    t = units.format_time
    print(f"{args.workload} replayed on {cluster.name}: {cluster.num_gpus} GPUs, {name} collectives")
    rows = [("step time", t(result.step_time_s)), ("  as measured", t(result.measured_step_s)),
            ("  compute (as measured)", t(result.compute_s)), ("  communication (simulated)", t(result.comm_s)),
            ("  exposed communication", t(result.exposed_comm_s))]
    print_rows(rows)
    return 0


def _trace_ranks(text: str | None) -> list[int] | None:
    """``--trace-ranks 0,17``: GPU ranks (checked against the GPU count by the trace)."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not all(digits(part, limit=16) for part in parts):   # ASCII: int() also reads '０' and '1_7'
        raise ConfigError("must be GPU ranks separated by commas, e.g. 0,17", source=CLI, key="--trace-ranks",
                          value=text)
    ranks = [int(part) for part in parts]
    if len(ranks) > 256:
        raise ConfigError("at most 256 ranks", source=CLI, key="--trace-ranks", value=len(ranks))
    twice = first_repeat(ranks)
    if twice is not None:   # one process per traced rank: a repeat would draw the rank twice
        raise ConfigError("names a rank twice", source=CLI, key="--trace-ranks", value=twice)
    return ranks


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain simulate``; returns the exit status."""
    from simtrain import units
    from simtrain.training import simulate

    if args.workload is not None:
        return _replay(args)
    if args.model is None:
        raise ConfigError("the following argument is required (or --workload)", source=CLI, key="--model")
    if (args.trace_ranks or args.trace_links) and not args.trace:
        raise ConfigError("needs --trace", source=CLI, key="--trace-ranks" if args.trace_ranks else "--trace-links")
    _trace_ranks(args.trace_ranks)   # malformed ranks fail before the run
    if args.trace:
        new_output(args.trace, args.force, "--trace")   # before the run
    the_run = training_run(args)
    if args.trace and the_run.parallel is not None and (args.trace_ranks or args.trace_links):
        # a plan's trace draws its pipeline schedule, stage by stage: it has no rank or link tracks to choose
        raise ConfigError("a parallel plan's trace draws its pipeline schedule, without rank or link tracks",
                          source=CLI, key="--trace-ranks" if args.trace_ranks else "--trace-links",
                          value=args.trace_ranks or args.trace_links, allowed="leave it out, or no --parallel")
    try:
        traced = bool(args.trace) and the_run.engine == "des"
        report = simulate(the_run, record_loads=traced,
                          record_phases=(_trace_ranks(args.trace_ranks) or True) if traced else False)
    except InfeasibleError as exc:   # a model file that cannot fit: name the file
        if "/" not in args.model and not args.model.endswith((".yaml", ".yml")):
            raise
        raise InfeasibleError(f"{args.model}: {exc}") from None
    if args.trace and report.parallel is not None:
        from simtrain.parallel.step import write_pipeline_trace

        write_pipeline_trace(report, args.trace)
    elif args.trace:
        from simtrain.training.trace import write_trace

        try:
            write_trace(report, args.trace, _trace_ranks(args.trace_ranks),
                        [link.strip() for link in args.trace_links.split(",")] if args.trace_links else ())
        except ConfigError as exc:   # step_trace's ``links``: what --trace-links gave
            if exc.key != "links" or exc.source is not None:
                raise
            raise ConfigError(exc.message, source=CLI, key="--trace-links", value=exc.value, choices=exc.choices,
                              allowed=exc.allowed) from None
    if args.json:
        emit(report.to_dict())
        return 0
    if report.parallel is not None:
        return _print_parallel(report, args)
    print(f"{report.model} on {report.topology}: {report.num_gpus} x {report.device}, batch {report.batch_per_gpu}"
          f" per GPU ({report.global_batch} global), {report.dtype}, {report.algorithm} all-reduce, "
          f"{report.engine} engine" + (f", scheme {report.scheme}" if report.scheme != "none" else ""))
    _print_profile(report.config)
    t = units.format_time
    period = sum(report.phase_steps_per_period.values())
    largest = max((b.size_bytes for b in report.buckets), default=0.0)
    rows = [
        ("step time" + (f" (mean over a {period}-step period)" if len(report.phase_step_times_s) > 1 else ""),
         t(report.step_time_s)),
        ("  forward", t(report.forward_time_s)),
        ("  backward", t(report.backward_time_s)),
        ("  exposed communication", t(report.exposed_comm_time_s)),
        *([("  compute slowed by overlapped collectives", t(report.shared_compute_time_s))]
          if report.shared_compute_time_s > 0 else []),
        *([("  gradient copies (DDP's buckets, in and out)", t(report.bucket_copy_s))]
          if report.bucket_copy_s > 0 else []),
        *([("  buffer broadcast (DDP's, before forward)", t(report.buffer_sync_s))]
          if report.buffer_sync_s > 0 else []),
        ("  optimizer update", t(report.update_time_s)),
        *_slowest_row(report),
        ("communication (all buckets)", f"{t(report.comm_time_s)} in {report.num_buckets} "
                                        f"bucket{'s' if report.num_buckets != 1 else ''}"
                                        # under a scheme the messages are the codec's, not the gradient buckets
                                        + (f", the largest {'message ' if report.scheme != 'none' else ''}"
                                           f"{units.format_size(largest)}" if report.buckets else "")),
        ("throughput", f"{report.throughput_samples_per_s:,.0f} samples/s"),
        ("scaling efficiency", f"{100 * report.scaling_efficiency:.2f} % (vs {report.num_gpus} x one GPU)"),
        ("bytes sent per GPU", units.format_size(report.bytes_per_gpu)),
    ]
    for klass, class_bytes in report.bytes_per_gpu_by_class.items():
        rows.append((f"  crossing {klass} links", units.format_size(class_bytes)))
    rows.append(("memory per GPU", f"{units.format_size(report.memory_per_gpu_bytes)} of "
                                   f"{units.format_size(report.memory_capacity_bytes)}"))
    if len(report.phase_step_times_s) > 1:
        for name, seconds in report.phase_step_times_s.items():
            rows.append((f"  {name} step ({report.phase_steps_per_period[name]} per period)", t(seconds)))
    if report.engine == "des":
        rows.append(("busiest link", f"{100 * report.max_link_utilization:.1f} % utilised over the step"))
    if report.clean_step_time_s is not None and report.perturbation_cost_s is not None:
        rows.append(("clean step (no perturbation)", t(report.clean_step_time_s)))
        rows.append(("cost of the perturbations", f"{t(report.perturbation_cost_s)} "
                     f"({100 * report.perturbation_cost_s / report.clean_step_time_s:+.1f} %)"))
    if args.trace:
        rows.append(("trace", f"{args.trace} (open in ui.perfetto.dev)"))
    print_rows(rows)
    _print_warmup(report)
    if report.timeline is not None and report.timeline.cluster is not None:
        from simtrain.cli._common import one_channel_ring_note
        from simtrain.registry import parse_spec

        name, params = parse_spec(the_run.algorithm, key="algorithm")
        note = one_channel_ring_note(name, {**params, **dict(the_run.algorithm_params)}, report.timeline.cluster,
                                     report.bytes_per_gpu_by_class.get("inter-node", 0.0))
        if note:
            print(f"  {note}")
    return 0


def _slowest_row(report: Any) -> list[tuple[str, str]]:
    """What waiting for the slowest GPU cost the step (simtrain.training.variability), where it cost anything: the
    spread's expected slowest, or the straggler or drawn jitter of the GPU that ended the step."""
    from simtrain import units

    wait = report.slowest_gpu_wait_s if report.parallel is None else 0.0
    if report.slowest_gpu_factor <= 1 and wait <= 0:
        return []
    spread = f"compute x {report.slowest_gpu_factor:.3f}: the expected slowest of {report.num_gpus} GPUs"
    text = spread
    if wait > 0:
        ending = 1.0 + wait / report.compute_time_s if report.compute_time_s > 0 else report.slowest_gpu_factor
        if abs(ending - report.slowest_gpu_factor) > 1e-9 * ending:   # a straggler or a drawn speed ended the step
            text = f"compute x {ending:.3f} on the GPU that ended the step: a straggler or a drawn speed"
        text = f"{units.format_time(wait)} ({text})"
    return [(("  " if report.parallel is None else "") + "waiting for the slowest GPU", text)]


def _print_warmup(report: Any) -> None:
    """``traffic``'s warning where the run's length leaves the scheme in its dense warm-up throughout."""
    if report.warmup_warning:
        print(f"  warning: {report.warmup_warning}")


def _print_profile(config: Any) -> None:
    """Where a profile times the compute, say so, and on what it was measured when that is not the cluster's
    device (a CPU profile on an H100 cluster prices H100 steps at the CPU's speed, as asked, but not silently)."""
    compute = (config or {}).get("compute") or {}
    if compute.get("model") != "profile":
        return
    measured = compute.get("profile_device")
    note = (f", measured on {measured}, not the cluster's {compute.get('device')}"
            if measured and measured != compute.get("device") else "")
    print(f"  compute timed by profile {compute.get('profile')}{note}")


def _print_parallel(report: Any, args: argparse.Namespace) -> int:
    """The text summary of a model-parallel step."""
    from simtrain import units

    p = report.parallel
    t = units.format_time
    print(f"{report.model} on {report.topology}: {report.num_gpus} x {report.device}, {p['plan']}, micro-batch "
          f"{p['micro_batch']} x {p['num_micro_batches']} per pipeline (global batch {report.global_batch}), "
          f"{p['pipeline_schedule']}, recompute {p['recompute']}, ZeRO-{p['zero']}"
          + (f" ({p['zero_impl']})" if p.get("zero_impl", "flat") != "flat" else "")
          + (", sequence parallel" if p["sequence_parallel"] else "")
          + (f", TP communication {p['tp_overlap']}" + (" (tp = 1: nothing to overlap)" if p["tp"] == 1
                                                         else "") if p.get("tp_overlap", "none") != "none" else "")
          + (", PP sends overlapped" + (" (pp = 1: nothing to overlap)" if p["pp"] == 1 else "")
             if p.get("overlap_pp") else "")
          + f", {report.dtype}, {report.engine} engine")
    _print_profile(report.config)
    rows = [
        ("step time", t(report.step_time_s)),
        ("tokens/s (cluster)", f"{p['tokens_per_s']:,.0f}"),
        ("model TFLOP/s per GPU", f"{p['tflops_per_gpu']:.1f} (MFU {100 * p['mfu']:.1f} %)"),
        ("hardware TFLOP/s per GPU", f"{p['hw_tflops_per_gpu']:.1f} (HFU {100 * p['hfu']:.1f} %)"),
        ("pipeline bubble", f"{100 * p['bubble_fraction']:.1f} %"),
        *_slowest_row(report),
    ]
    for key, seconds in p["exposed_comm_s"].items():
        rows.append((f"exposed {key.upper()} communication", t(seconds)))
    if p.get("zero_copy_s"):
        rows.append((f"ZeRO-3 copies ({p['zero_impl']}, in compute)", t(p["zero_copy_s"])))
    rows.append(("memory per GPU", f"{units.format_size(report.memory_per_gpu_bytes)} of "
                                   f"{units.format_size(report.memory_capacity_bytes)} (stage {p['memory_stage']})"))
    for key, nbytes in p["memory_by_category_bytes"].items():
        rows.append((f"  {key}", units.format_size(nbytes)))
    for klass, class_bytes in report.bytes_per_gpu_by_class.items():
        rows.append((f"bytes per GPU crossing {klass} links", units.format_size(class_bytes)))
    if report.clean_step_time_s is not None and report.perturbation_cost_s is not None:
        rows.append(("clean step (no perturbation)", t(report.clean_step_time_s)))
    if args.trace:
        rows.append(("trace", f"{args.trace} (open in ui.perfetto.dev)"))
    print_rows(rows)
    _print_warmup(report)
    return 0
