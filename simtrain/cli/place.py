"""The ``simtrain place`` command: place a graph or a model on memory-constrained devices and simulate the step.

``simtrain.cli`` registers it with :func:`add_parser`; :func:`run` executes it. Bad input raises
:class:`~simtrain.errors.ConfigError`, and an impossible request :class:`~simtrain.errors.InfeasibleError`;
``simtrain.cli.main`` prints either as one ``error:`` line and exits with status 2.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="simtrain")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["place", "--model", "resnet18-cifar", "--devices", "2", "--device-type", "v100",
...                           "--algorithm", "m-etf", "--json"])
>>> run(args)  # doctest: +ELLIPSIS
{"schema": "simtrain.placement.plan/1", "algorithm": "m-etf", ...}
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain import units
from simtrain.cli._common import (
    CLI,
    agg_pyplot,
    count_at_most,
    distinct_outputs,
    emit,
    new_output,
    positive_int,
)
from simtrain.errors import ConfigError
from simtrain.limits import MAX_BATCH, MAX_DEVICES
from simtrain.optimizers import OPTIMIZER_IMPLS, OPTIMIZERS

__all__ = ["add_parser", "run"]

_ALL_ORDER = ("single", "expert", "round-robin", "m-topo", "m-etf", "m-sct", "exact")


def add_parser(sub: Any) -> None:
    """Add the ``place`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("place", help="place a model's ops on memory-constrained devices (Baechi's m-TOPO, m-ETF, "
                                     "m-SCT, baselines, exact MILP) and simulate the step")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--graph", metavar="FILE", help="op graph JSON (.json or .json.gz; the Baechi GNMT schema) or a "
                                                           "shipped graph's name: baechi-gnmt")
    src.add_argument("--model", help="a catalog model (simtrain list models), a YAML path or "
                                      "module:PATH.py[:FACTORY] (a PyTorch model): its training graph, connected as "
                                      "its layers read each other; times from the roofline")
    p.add_argument("--devices", type=count_at_most(MAX_DEVICES), required=True, help="number of devices")
    p.add_argument("--memory", help="memory per device, e.g. 4GiB, or one per device: 4GiB,8GiB (default: the "
                                    "device type's capacity with --model, unlimited with --graph)")
    p.add_argument("--algorithm", default="m-etf",
                   help="placer NAME[:key=value,...] (m-topo, m-etf, m-sct, single, round-robin, expert, exact) or "
                        "'all' for a comparison table")
    p.add_argument("--memory-model", default="live", help="live (outputs freed after their consumers) or held "
                                                          "(everything kept for the step)")
    p.add_argument("--engine", default="analytical", help="analytical (no contention) or des (link contention)")
    p.add_argument("--topology", help="devices are this topology's first GPUs (default: a switch with Baechi's "
                                      "fitted link, 134 us + bytes / 5.7 GB/s)")
    p.add_argument("--bandwidth", help="route bandwidth of the default switch, e.g. 12GB/s")
    p.add_argument("--latency", help="route latency of the default switch, e.g. 10us")
    p.add_argument("--batch", type=count_at_most(MAX_BATCH), default=64, help="--model: samples per step")
    p.add_argument("--device-type", help="--model: hardware catalog device for compute times (default: the "
                                         "--topology's GPU, else v100)")
    p.add_argument("--dtype", default="fp32", help="--model: precision")
    p.add_argument("--optimizer", default="momentum", help="--model: " + ", ".join(OPTIMIZERS))
    p.add_argument("--optimizer-impl", default="fused", help="--model: the update's code, "
                                                             + ", ".join(OPTIMIZER_IMPLS) + "; default fused")
    p.add_argument("--micro-batch", type=positive_int, help="--model: run the placed model as a pipeline of "
                                                             "micro-batches of this many samples (must divide "
                                                             "--batch); reports the speed-up over one device and "
                                                             "over data parallelism")
    p.add_argument("--pipeline-schedule", help="with --micro-batch: gpipe (all forwards, then all backwards; the "
                                               "default) or 1f1b (PipeDream-Flush)")
    p.add_argument("--coplace", action="store_true", help="Baechi's coplace grouper: an op with one successor "
                                                          "goes with it")
    p.add_argument("--out", metavar="PLAN.json", help="write the plan")
    p.add_argument("--plot", metavar="PLAN.png", help="draw the Gantt chart of the simulated step")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--json", action="store_true", help="print the plan summary as one JSON object")
    p.add_argument("--quiet", action="store_true", help="--algorithm all: no progress bar")
    p.set_defaults(func=run)


def _load_graph(path: str) -> Any:
    """The op graph of ``--graph``; any way the file can be malformed is one ConfigError naming it."""
    import zlib

    from simtrain.placement.build import load_graph

    try:
        return load_graph(path)
    except ConfigError:
        raise
    except (zlib.error, EOFError, OSError) as exc:   # a corrupt gzip stream
        raise ConfigError(f"cannot read the graph: {exc}", source=path, key="--graph") from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        # a value of the wrong JSON type where the schema wants an object, a list or a number
        raise ConfigError(f"malformed op graph ({type(exc).__name__}: {exc})", source=path, key="--graph") from None


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain place``; returns the exit status."""
    from simtrain.errors import InfeasibleError

    try:
        return _run(args)
    except InfeasibleError as exc:   # name the file whose graph or model cannot be placed
        path = args.graph or (args.model if "/" in args.model or args.model.endswith((".yaml", ".yml")) else None)
        if path is None or str(exc).startswith(path):
            raise
        raise InfeasibleError(f"{path}: {exc}") from None


def _run(args: argparse.Namespace) -> int:
    from simtrain.placement.api import compare, place
    from simtrain.placement.devices import make_devices

    distinct_outputs(("--out", args.out), ("--plot", args.plot))
    for path, flag in ((args.out, "--out"), (args.plot, "--plot")):
        if path is not None:
            new_output(path, args.force, flag, figure=flag == "--plot")   # before placing
    memory: Any = args.memory.split(",") if args.memory else None
    if args.micro_batch is not None and args.graph:
        raise ConfigError("needs --model: a graph file has no batch to split into micro-batches", source=CLI,
                          key="--micro-batch", value=args.micro_batch)
    if args.pipeline_schedule is not None and args.micro_batch is None:   # no pipeline to schedule
        raise ConfigError("schedules micro-batches: give --micro-batch", source=CLI, key="--pipeline-schedule",
                          value=args.pipeline_schedule)
    args.pipeline_schedule = args.pipeline_schedule or "gpipe"
    if args.micro_batch is not None and args.algorithm == "all":
        raise ConfigError("compares placers in a table; a pipelined run (--micro-batch) needs one placer",
                          source=CLI, key="--algorithm", value="all", allowed="m-topo, m-etf, m-sct or another one "
                                                                              "placer, or no --micro-batch")
    for path, flag in ((args.out, "--out"), (args.plot, "--plot")):
        if path and args.algorithm == "all":   # 'all' compares placers in a table: there is no one plan to write
            raise ConfigError("writes one placer's plan: name a placer, not 'all' (its table prints, or --json)",
                              source=CLI, key=flag, value=path)
    if args.graph:
        for flag, value, default in (("--optimizer", args.optimizer, "momentum"),
                                     ("--optimizer-impl", args.optimizer_impl, "fused")):
            if value != default:   # a graph file's update ops carry their own times
                raise ConfigError("is read with --model: a graph file's ops carry their own times", source=CLI,
                                  key=flag, value=value, allowed="no " + flag + " with --graph")
        graph = _load_graph(args.graph)
    else:
        from simtrain.compute import ComputeModel
        from simtrain.hardware import get_device
        from simtrain.placement.build import graph_from_model

        if args.device_type is not None and args.topology:
            # the ops run on the topology's GPUs: another device's compute beside its links is a machine that is not
            raise ConfigError("the ops run on the topology's GPUs", source=CLI, key="--device-type",
                              value=args.device_type, allowed="no --device-type with --topology (or --set the "
                              "topology's device in its file)")
        if args.device_type is None:   # the GPUs the ops run on: the topology's, unless told otherwise
            args.device_type = (make_devices(1, topology=args.topology).cluster.device if args.topology
                                else "v100")
        spec = get_device(args.device_type)
        graph = graph_from_model(args.model, batch=args.batch, compute=ComputeModel.roofline(spec),
                                 dtype=args.dtype, optimizer=args.optimizer, optimizer_impl=args.optimizer_impl)
        if memory is None:
            memory = spec.memory_bytes
    devices = make_devices(args.devices, memory, topology=args.topology, bandwidth=args.bandwidth,
                           latency=args.latency)
    options: dict[str, Any] = {"memory_model": args.memory_model, "engine": args.engine}
    if args.coplace:
        options["coplace"] = True
    if args.algorithm == "all":
        names = [n for n in _ALL_ORDER if n != "exact" or graph.num_ops <= 16]
        from simtrain.progress import ProgressBar

        bar = ProgressBar(0, "placers", quiet=args.quiet)
        try:
            results = compare(graph, devices, names, progress=bar.callback, **options)
        finally:
            bar.close()
        rows: list[dict[str, Any]] = []
        for name, result in results.items():
            if isinstance(result, str):
                rows.append({"algorithm": name, "error": result})
            else:
                rows.append({"algorithm": name, "step_time_s": result.step_time_s,
                             "placement_time_s": result.placement_time_s,
                             "peak_memory_bytes": max(d["peak_memory_bytes"] for d in result.per_device()),
                             "bytes_transferred": result.simulation.bytes_sent})
        if args.json:
            emit({"graph": graph.name, "critical_path_s": graph.critical_path_s(),
                  "single_device_s": float(graph.compute_s.sum()), "results": rows})
        else:
            _print_table(graph, devices, rows)
        return 0
    pipeline = None
    if args.micro_batch is not None:
        plan, pipeline = _pipelined(args, devices, options)
    else:
        plan = place(graph, devices, args.algorithm, **options)
    outputs: list[tuple[str, bytes]] = []   # the plan and its chart are written together or not at all
    if args.out:
        outputs.append((args.out, plan.to_json().encode()))
    if args.plot:
        plt = agg_pyplot()

        from simtrain.outputs import figure_bytes
        from simtrain.placement.gantt import plot_gantt

        ax = plot_gantt(plan, device=args.device_type if args.model else None, pipeline=pipeline)
        try:
            ax.figure.tight_layout()
            outputs.append((args.plot, figure_bytes(ax.figure, args.plot, dpi=120)))
        finally:
            plt.close(ax.figure)
    if outputs:
        from simtrain.outputs import write_many

        write_many(outputs, make_parents=True)
    if args.json:
        emit(plan.to_dict(schedule=False))
    else:
        _print_plan(plan, args.device_type if args.model else None)
    return 0


def _pipelined(args: argparse.Namespace, devices: Any, options: dict[str, Any]) -> tuple[Any, Any]:
    """Place the micro-batch graph and run it as a pipeline; the plan carries the pipeline's figures."""
    import dataclasses

    from simtrain.compute import ComputeModel
    from simtrain.hardware import get_device
    from simtrain.placement.pipeline import place_pipelined

    if args.batch % args.micro_batch:
        raise ConfigError(f"must divide --batch ({args.batch})", source=CLI, key="--micro-batch",
                          value=args.micro_batch)
    if args.pipeline_schedule not in ("gpipe", "1f1b"):
        raise ConfigError("unknown pipeline schedule", source=CLI, key="--pipeline-schedule",
                          value=args.pipeline_schedule, choices=["gpipe", "1f1b"])
    plan, result = place_pipelined(args.model, devices, args.algorithm, batch=args.batch,
                                   micro_batch=args.micro_batch,
                                   compute=ComputeModel.roofline(get_device(args.device_type)), dtype=args.dtype,
                                   optimizer=args.optimizer, optimizer_impl=args.optimizer_impl,
                                   schedule=args.pipeline_schedule, **options)
    return dataclasses.replace(plan, info={**plan.info, "pipeline": result.summary()}), result


def _print_plan(plan: Any, device: str | None) -> None:
    from simtrain.hardware import get_device

    g = plan.graph
    doc = plan.to_dict(schedule=False)
    what = (f"{plan.devices.count} × {get_device(device).name.upper()} ({plan.devices.cluster.name})" if device
            else f"{plan.devices.count} devices ({plan.devices.cluster.name}; op times from the graph)")
    lines = [
        f"{g.name}: {g.num_ops} ops, {g.num_edges} edges on {what}",
        f"algorithm {plan.algorithm} {plan.params}, memory model {plan.memory_model}, engine {plan.simulation.engine}",
        f"step time {units.format_time(plan.step_time_s)} (critical path {units.format_time(doc['critical_path_s'])},"
        f" single device {units.format_time(doc['single_device_s'])}); placed in "
        f"{units.format_time(plan.placement_time_s)}; {units.format_size(plan.simulation.bytes_sent)} transferred",
    ]
    limits = plan.devices.memory_bytes
    for row in plan.per_device():
        d = row["device"]
        limit = units.format_size(float(limits[d])) if limits[d] != float("inf") else "unlimited"
        lines.append(f"  device {d}: {row['ops']:5d} ops, busy {units.format_time(row['busy_s'])}, peak memory "
                     f"{units.format_size(row['peak_memory_bytes'])} of {limit}")
    pipe = plan.info.get("pipeline")
    if pipe:
        vs_dp = (f"{pipe['speedup_vs_data_parallel']:.2f}x data parallelism "
                 f"({units.format_time(pipe['data_parallel_step_time_s'])})"
                 if pipe["data_parallel_step_time_s"] is not None
                 else f"data parallelism: {pipe['data_parallel_note']}")
        peaks = ", ".join(units.format_size(b) for b in pipe["peak_memory_bytes"])
        lines.append(f"pipelined ({pipe['micro_batches']} micro-batches, {pipe['pipeline_schedule']}): step "
                     f"{units.format_time(pipe['pipelined_step_time_s'])}, "
                     f"{pipe['speedup_vs_one_device']:.2f}x one device "
                     f"({units.format_time(pipe['one_device_step_time_s'])}); {vs_dp}; peak memory per device "
                     f"{peaks}")
        lines.append("  (the lines above are one micro-batch's placement and step)")
    print("\n".join(lines))


def _print_table(graph: Any, devices: Any, rows: list[dict[str, Any]]) -> None:
    bound = graph.critical_path_s()
    print(f"{graph.name}: {graph.num_ops} ops on {devices.count} devices; critical path "
          f"{units.format_time(bound)}, single device {units.format_time(float(graph.compute_s.sum()))}")
    print(f"{'algorithm':<12} {'step time':>11} {'/ crit. path':>12} {'placed in':>10} {'max peak mem':>12}")
    for row in rows:
        if "error" in row:
            print(f"{row['algorithm']:<12} {'—':>11}  {row['error']}")
            continue
        print(f"{row['algorithm']:<12} {units.format_time(row['step_time_s']):>11} "
              f"{row['step_time_s'] / bound if bound else float('nan'):>12.3f} "
              f"{units.format_time(row['placement_time_s']):>10} {units.format_size(row['peak_memory_bytes']):>12}")
