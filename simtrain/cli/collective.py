"""``simtrain collective``: time one collective on a topology.

Examples
--------
>>> from simtrain.cli import main
>>> main(["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "16", "--size", "1GiB",
...       "--json"])  # doctest: +ELLIPSIS
{"op": "all-reduce", ...}
0
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from simtrain.cli._common import (
    CLI,
    algorithm,
    collective_size,
    emit,
    network_flags,
    network_options,
    new_output,
    number,
    one_channel_ring_note,
    print_rows,
    refuse_unread_restriction,
    split_overrides,
)
from simtrain.collectives.base import spec_chunks
from simtrain.errors import ConfigError
from simtrain.registry import format_spec

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``collective`` sub-command to an argparse sub-parsers object."""
    from simtrain.collectives.schedule import OPERATIONS

    p = sub.add_parser("collective", help="time one collective on a topology, or sweep sizes as nccl-tests does")
    p.add_argument("--op", required=True, help="one of: " + ", ".join(OPERATIONS))
    p.add_argument("--size", type=collective_size, help="full buffer size with a unit, e.g. 1GiB")
    sweep = p.add_argument_group("size sweep and comparison, as nccl-tests (sizes here may also be 8, 8K, 8M, 8G: "
                                 "bytes, KiB, MiB, GiB)")
    sweep.add_argument("-b", "--min-bytes", help="smallest size of the sweep (nccl-tests -b)")
    sweep.add_argument("-e", "--max-bytes", help="largest size of the sweep (nccl-tests -e)")
    sweep.add_argument("-f", "--step-factor", type=number, default=2.0, help="size multiplier per step (-f)")
    sweep.add_argument("--datatype", help="element type of the count column (-d): float (default), half, "
                                          "bfloat16, int8, int32, int64, double, …")
    sweep.add_argument("--compare", metavar="LOG", help="an nccl-tests output log: print measured against "
                                                        "simulated per size, with the error")
    p.add_argument("--trace", metavar="OUT.json", help="write a Chrome/Perfetto trace of the collective: every "
                                                       "chunk's phases as scheduled (the analytical engine's chunk "
                                                       "plan, or each traced rank in the DES, with link loads); "
                                                       "open it in ui.perfetto.dev")
    p.add_argument("--force", action="store_true", help="overwrite an existing --trace")
    p.add_argument("--trace-ranks", metavar="R,R,...", help="--engine des: GPUs the trace shows (default: the first "
                                                            "four)")
    p.add_argument("--trace-links", metavar="A->B,...", help="--engine des: links the trace draws beside the most "
                                                             "utilised ones")
    network_flags(p)
    p.add_argument("--quiet", action="store_true", help="DES: no progress line on stderr")
    p.set_defaults(func=run, chunks=None)   # None: not given (1), which --algorithm best needs to know


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain collective``; returns the exit status."""
    from simtrain import units
    from simtrain.collectives import collective_time
    from simtrain.topology import load_topology

    groups = split_overrides(args.set)
    options = network_options(groups["network"] + ([("max_events", args.max_events)] if args.max_events else []))
    if args.store_and_forward and args.engine != "des":
        raise ConfigError("store-and-forward is a DES option", source=CLI, key="--store-and-forward",
                          allowed="use it with --engine des")
    sweeping = args.min_bytes is not None or args.max_bytes is not None or args.compare is not None
    if sweeping and args.size is not None:
        raise ConfigError("give --size, or a sweep (-b/-e) or --compare LOG, not both", source=CLI, key="--size",
                          value=args.size)
    if not sweeping and args.size is None:
        raise ConfigError("is missing: give the collective's --size, or a sweep (-b/-e) or --compare LOG",
                          source=CLI, key="--size")
    if args.datatype is not None and not sweeping:   # --size takes bytes with a unit; there is no count column
        raise ConfigError("sets the count column of a sweep (-b/-e) or --compare", source=CLI, key="--datatype",
                          value=args.datatype)
    if (args.trace_ranks or args.trace_links) and args.trace is None:
        raise ConfigError("needs --trace", source=CLI, key="--trace-ranks" if args.trace_ranks else "--trace-links")
    if args.trace is not None:
        if (args.trace_ranks or args.trace_links) and args.engine != "des":
            raise ConfigError("ranks and link loads are traced by the DES", source=CLI,
                              key="--trace-ranks" if args.trace_ranks else "--trace-links",
                              allowed="use it with --engine des")
        if sweeping or args.algorithm == "best":
            raise ConfigError("traces one collective: give --size and an algorithm", source=CLI, key="--trace",
                              value=args.trace)
        new_output(args.trace, args.force, "--trace")   # before the run
    if sweeping and args.algorithm == "best":
        raise ConfigError("compares algorithms at one --size, not over a sweep", source=CLI, key="--algorithm",
                          value="best")
    if args.algorithm == "best" and args.chunks is not None:
        raise ConfigError("best runs each algorithm in the chunks NCCL's model gives it", source=CLI, key="--chunks",
                          value=args.chunks, allowed="no --chunks with --algorithm best")
    if args.algorithm == "best" and groups["algorithm"]:   # each algorithm has parameters of its own
        key, value = groups["algorithm"][0]
        raise ConfigError("best runs each algorithm with its own defaults", source=CLI, key=f"--set algorithm.{key}",
                          value=value, allowed="no --set algorithm.KEY with --algorithm best")
    args.chunks = 1 if args.chunks is None else args.chunks
    cluster = load_topology(args.topology, gpus=args.gpus, overrides=groups["topology"])
    if args.algorithm == "best":
        return _best(args, cluster, options)
    name, params = algorithm(args.algorithm, groups["algorithm"])
    refuse_unread_restriction(args.op, name, params)
    chunks = spec_chunks(params, args.chunks, args.algorithm)   # NAME:chunks=C stands for --chunks C
    chosen: dict[str, Any] = {}
    tuned = None   # auto's schedule at --size, built once for its choice and the SMs it holds
    if name == "auto" and not sweeping:
        from simtrain.collectives import build_schedule
        from simtrain.collectives.nccl import choices

        tuned = build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params)
        for choice in choices([tuned]):   # the tuner's choice (all-to-all has none: NCCL sends point to point)
            chosen = {k: v for k, v in choice.items() if k not in ("op", "size_bytes")}

    built: dict[Any, Any] = {}   # a DES sweep's schedules, built once for its bound and run after it

    def schedule_of(size: Any) -> Any:
        from simtrain.collectives import build_schedule

        return build_schedule(args.op, size, cluster, name, chunks=chunks, **params)

    def simulate(size: Any) -> Any:
        if args.engine == "des":   # the DES path directly: its progress line and --quiet
            from simtrain.network import run_engine

            schedule = built.pop(size, None) or schedule_of(size)
            try:
                return run_engine("des", schedule, cluster, options, store_and_forward=args.store_and_forward,
                                  progress=False if args.quiet else None)
            except ConfigError as exc:   # the bound as the command line gave it: --max-events, if it was
                if exc.key != "network.max_events" or not args.max_events:
                    raise
                raise ConfigError(exc.message, source=CLI, key="--max-events", value=exc.value,
                                  allowed=exc.allowed) from None
        return collective_time(args.op, size, cluster, name, engine=args.engine, options=options, chunks=chunks,
                               **params)

    routes: list[Any] = []   # the cluster's routes, shared by the sizes' estimates (store-and-forward reads them)

    def des_messages(size: Any) -> int:
        """The DES messages of one size of a sweep (their sum is bounded as one run's are)."""
        from simtrain.network.cache import NetworkCache
        from simtrain.network.des import estimate_messages

        if not routes:
            routes.append(NetworkCache.for_cluster(cluster, None))
        built[size] = schedule_of(size)
        return estimate_messages(built[size], routes[0], args.store_and_forward)

    if sweeping:
        return _sweep(args, cluster, name, simulate, des_messages if args.engine == "des" else None, options)
    result = simulate(args.size) if args.trace is None else _traced(args, cluster, name, chunks, params, options)
    blocks = None
    if options is not None and options.protocol == "nccl":   # the SMs NCCL's kernels hold (docs/compute-model.md)
        from simtrain.training.overlap import held_blocks

        blocks = held_blocks(tuned if tuned is not None else schedule_of(args.size), cluster, options)
    if args.json:
        data = result.to_dict()
        data["topology"] = cluster.name
        data["device"] = cluster.device
        if chosen:
            data["chosen"] = chosen
        if blocks is not None:
            data["nccl_thread_blocks"] = blocks
        emit(data)
        return 0
    chunk_text = f"{chosen['chunks']} chunk{'' if chosen['chunks'] == 1 else 's'}" if chosen else ""
    channels = f":channels={chosen['channels']}" if chosen and chosen["channels"] > 1 else ""
    described = format_spec(name, {k: v for k, v in params.items() if k != "chunks"}) if not chosen else (
        f"auto (NCCL's choice: {chosen['nccl']}/{chosen['protocol']} as "
        f"{chosen['algorithm']}{channels}, {chunk_text})")
    if name == "auto" and not chosen:   # no tuner choice: NCCL's all-to-all is point to point
        described = f"auto (NCCL's point-to-point exchange as {result.algorithm}/{result.protocol})"
    print(f"{result.op} of {units.format_size(result.size_bytes)} with {described} on {cluster.name} "
          f"({cluster.num_gpus} GPUs), {result.engine} engine")
    rows = [
        ("time", units.format_time(result.time_s)),
        ("algorithm bandwidth", units.format_bandwidth(result.algbw_Bps) if result.time_s > 0
         else "none (nothing moves)"),
        ("bus bandwidth", units.format_bandwidth(result.busbw_Bps)),
        ("bytes sent per GPU", units.format_size(result.bytes_per_gpu)),
    ]
    for klass, total in result.bytes_by_class.items():
        rows.append((f"  crossing {klass} links", units.format_size(total / result.num_ranks)))
    if blocks is not None:
        from simtrain.hardware import get_device

        sms = get_device(cluster.device).compute_units
        beside = (f"compute beside it runs at {100 * (1 - blocks / sms):.0f} %" if blocks < sms
                  else "as many as the GPU has or more: compute beside it waits")
        rows.append(("SMs it holds while running", f"{blocks} of {sms} (NCCL's thread blocks: {beside})"))
    print_rows(rows)
    note = one_channel_ring_note(name, params, cluster, result.bytes_by_class.get("inter-node", 0.0))
    if note:
        print(f"  {note}")
    return 0


def _traced(args: argparse.Namespace, cluster: Any, name: str, chunks: int, params: dict[str, Any],
            options: Any) -> Any:
    """``--trace``: run the collective recording its phases as scheduled, write the trace; returns the result."""
    import json

    from simtrain.cli.simulate import _trace_ranks
    from simtrain.collectives import build_schedule
    from simtrain.outputs import write_text
    from simtrain.training.trace import trace_collective

    schedule = build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params)
    links = [link.strip() for link in args.trace_links.split(",")] if args.trace_links else []
    extra: dict[str, Any] = {}
    if args.engine == "des":
        extra = {"ranks": _trace_ranks(args.trace_ranks), "links": links,
                 "store_and_forward": args.store_and_forward, "progress": False if args.quiet else None}
    try:
        result, trace = trace_collective(schedule, cluster, args.engine, options, **extra)
    except ConfigError as exc:
        if exc.key in ("trace_ranks", "links"):   # name the flag the user typed
            raise ConfigError(str(exc).split(": ", 1)[-1], source=CLI,
                              key="--trace-ranks" if exc.key == "trace_ranks" else "--trace-links") from None
        raise
    write_text(args.trace, json.dumps(trace), make_parents=True)
    return result


def _sweep(args: argparse.Namespace, cluster: Any, name: str, simulate: Any, des_messages: Any = None,
           options: Any = None) -> int:
    """The nccl-tests size sweep (``-b/-e/-f``) or the comparison with an nccl-tests log (``--compare``); with the
    DES (``des_messages``: one size's messages) the whole sweep's messages are bounded as one run's are."""
    from simtrain import nccl_tests

    datatype = args.datatype or "float"
    if datatype not in nccl_tests.TYPE_BYTES:
        raise ConfigError("unknown element type", source=CLI, key="--datatype", value=datatype,
                          choices=sorted(nccl_tests.TYPE_BYTES))
    measured: dict[int, Any] = {}
    if args.compare is not None:
        op, log_rows = nccl_tests.read_log(args.compare)
        if op is not None and op != args.op:
            raise ConfigError(f"the log measures {op}, not {args.op}", source=args.compare, key="--op",
                              value=args.op)
        measured = {row.size_bytes: row for row in log_rows}
    if args.min_bytes is not None or args.max_bytes is not None:
        if args.min_bytes is None or args.max_bytes is None:
            raise ConfigError("a sweep needs both -b and -e", source=CLI,
                              key="-b" if args.min_bytes is None else "-e")
        smallest = nccl_tests.parse_size(args.min_bytes, key="-b")
        if smallest < nccl_tests.TYPE_BYTES[datatype]:   # a count of 0 elements
            raise ConfigError(f"is smaller than one {datatype} ({nccl_tests.TYPE_BYTES[datatype]} B)",
                              source=CLI, key="-b", value=args.min_bytes)
        sizes = nccl_tests.sweep_sizes(smallest, nccl_tests.parse_size(args.max_bytes, key="-e"), args.step_factor)
        if measured:
            sizes = [s for s in sizes if s in measured]
            if not sizes:
                raise ConfigError(f"no size of the sweep is in the log (it measures {len(measured)} sizes, "
                                  f"{min(measured)} to {max(measured)} B)", source=CLI, key="-b/-e",
                                  value=f"{args.min_bytes}..{args.max_bytes}",
                                  allowed="a range that holds sizes of the log, or no -b/-e (every size of the log)")
    else:
        sizes = sorted(measured)
    if des_messages is not None and len(sizes) > 1:
        from simtrain.network.des import check_budget

        total = sum(des_messages(size) for size in sizes)
        try:
            check_budget(total, options)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (the sweep's {len(sizes)} sizes together)", source=CLI,
                              key="--max-events", value=exc.value, allowed=exc.allowed) from None
    results = [simulate(size) for size in sizes]
    header = (f"simtrain {nccl_tests.NCCL_NAMES[args.op]}_perf (simulated): {name} on {cluster.name}, "
              f"{cluster.num_gpus} GPUs, {results[0].engine} engine" if results else "")
    if args.json:
        out: list[dict[str, Any]] = []
        for size, r in zip(sizes, results):
            row = {"size_bytes": size, "count": size // nccl_tests.TYPE_BYTES[datatype], "time_us": r.time_s * 1e6,
                   "algbw_GBps": r.algbw_Bps / 1e9, "busbw_GBps": r.busbw_Bps / 1e9}
            if size in measured:
                m = measured[size]
                row.update({"measured_time_us": m.time_us, "measured_busbw_GBps": m.busbw_GBps,
                            "busbw_error": row["busbw_GBps"] / m.busbw_GBps - 1 if m.busbw_GBps > 0 else None})
            out.append(row)
        emit({"op": args.op, "algorithm": name, "topology": cluster.name, "num_gpus": cluster.num_gpus,
              "rows": out})
        return 0
    if not measured:
        factor = [r.busbw_Bps / r.algbw_Bps if r.algbw_Bps > 0 else 1.0 for r in results]
        print(nccl_tests.format_table(args.op, [(s, r.time_s, f) for s, r, f in zip(sizes, results, factor)],
                                      datatype, header))
        return 0
    print(f"# {header}; measured: {args.compare}")
    print(f"#{'size (B)':>13} {'measured (us)':>14} {'simulated (us)':>15} {'meas busbw':>11} {'sim busbw':>10} "
          f"{'error':>8}")
    errors = []
    for size, r in zip(sizes, results):
        m = measured[size]
        sim_busbw = r.busbw_Bps / 1e9
        error = sim_busbw / m.busbw_GBps - 1 if m.busbw_GBps > 0 else float("nan")
        if m.busbw_GBps > 0:
            errors.append(abs(error))
        shown = f"{error:>+8.1%}" if m.busbw_GBps > 0 else f"{'n/a':>8}"   # a 0.00 busbw has no relative error
        print(f"{size:>14} {m.time_us:>14.2f} {r.time_s * 1e6:>15.2f} {m.busbw_GBps:>11.2f} {sim_busbw:>10.2f} "
              f"{shown}")
    if errors:
        errors.sort()
        mid = len(errors) // 2
        median = errors[mid] if len(errors) % 2 else (errors[mid - 1] + errors[mid]) / 2
        print(f"# median |busbw error| {median:.1%} over {len(errors)} sizes (busbw in GB/s, decimal)")
    return 0


def _best(args: argparse.Namespace, cluster: Any, options: Any) -> int:
    """``--algorithm best``: every registered algorithm that runs this operation here, fastest first.

    Every algorithm runs with NCCL's protocol costs, as ``auto``'s choice does, so they compare alike: each named
    algorithm under the fastest of the protocols NCCL would run it with (NVLS, NVLS tree and CollNet: Simple;
    the others as a ring: LL, LL128, Simple), NCCL's trees pipelined in ``auto``'s chunks.
    """
    from simtrain import units
    from simtrain.collectives import ALGORITHMS, build_schedule
    from simtrain.collectives.nccl import NcclTuner
    from simtrain.network import run_engine

    size = units.parse_size(args.size) if isinstance(args.size, str) else float(args.size)
    nccl = dataclasses.replace(options, protocol="nccl")
    planned: list[tuple[str, Any, list[Any]]] = []   # (name, its schedule, the schedules it runs)
    skipped = []
    for name in ALGORITHMS.names():
        if args.op not in ALGORITHMS.get(name).operations:
            continue
        try:
            schedule = build_schedule(args.op, args.size, cluster, name)
        except ConfigError as exc:
            skipped.append({"algorithm": name, "why": str(exc)})
            continue
        runs = [schedule]   # every algorithm under NCCL's protocol model, chosen as the engines choose it
        if name in ("nccl-tree", "nvls-tree"):
            # NCCL's trees as auto would run them: each protocol in its chunks, the fastest kept
            tuner = NcclTuner(args.op, cluster, [schedule.ranks], [1.0])
            runs = [tuner.schedule_of(c, size) for c in tuner.candidates if c.algorithm == name]
        planned.append((name, schedule, runs))
    if args.engine == "des":   # the algorithms' DES runs together within network.max_events, as a sweep's sizes
        from simtrain.network.cache import NetworkCache
        from simtrain.network.des import check_budget, estimate_messages

        cache = NetworkCache.for_cluster(cluster, None)
        total = sum(estimate_messages(s, cache, args.store_and_forward) for _, _, runs in planned for s in runs)
        try:
            check_budget(total, options)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (the {len(planned)} algorithms together)", source=CLI,
                              key="--max-events", value=exc.value, allowed=exc.allowed) from None
    rows = []
    for name, schedule, runs in planned:
        result = min((run_engine(args.engine, s, cluster, nccl) for s in runs), key=lambda r: r.time_s)
        if name == "auto":   # NCCL's algorithm, or for all-to-all the point-to-point sends NCCL runs (direct)
            label = f"auto ({schedule.params.get('nccl', schedule.algorithm)}/{result.protocol})"
        else:
            label = f"{name} ({'line rate' if result.protocol == 'none' else result.protocol})"
        rows.append((result.time_s, label, result))
    if not rows:
        raise ConfigError("no algorithm implements this operation here", key="op", value=args.op)
    rows.sort(key=lambda row: (row[0], row[1]))
    best = rows[0]
    if args.json:
        emit({"op": args.op, "size_bytes": best[2].size_bytes, "topology": cluster.name, "gpus": cluster.num_gpus,
              "engine": args.engine, "best": best[1],
              "results": [dict(r.to_dict(), algorithm=label) for _, label, r in rows], "not_applicable": skipped})
        return 0
    print(f"{args.op} of {units.format_size(best[2].size_bytes)} on {cluster.name} ({cluster.num_gpus} GPUs), "
          f"{args.engine} engine: every applicable algorithm with NCCL's protocol costs (parameter-server "
          "push and pull, which NCCL does not run, at line rate), fastest first")
    width = max(len(label) for _, label, _ in rows)
    print(f"  {'algorithm':<{width}}  {'time':>12}  {'bus bandwidth':>14}")
    for time_s, label, result in rows:
        print(f"  {label:<{width}}  {units.format_time(time_s):>12}  {units.format_bandwidth(result.busbw_Bps):>14}")
    print(f"best: {best[1]}")
    for item in skipped:
        print(f"  not applicable: {item['algorithm']}: {item['why']}")
    return 0
