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
from typing import Any

from simtrain.cli._common import CLI, algorithm, emit, network_flags, network_options, split_overrides
from simtrain.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``collective`` sub-command to an argparse sub-parsers object."""
    from simtrain.collectives.schedule import OPERATIONS

    p = sub.add_parser("collective", help="time one collective on a topology")
    p.add_argument("--op", required=True, help="one of: " + ", ".join(OPERATIONS))
    p.add_argument("--size", required=True, help="full buffer size with a unit, e.g. 1GiB")
    network_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain collective``; returns the exit status."""
    from simtrain import units
    from simtrain.collectives import collective_time
    from simtrain.topology import load_topology

    groups = split_overrides(args.set)
    options = network_options(groups["network"])
    cluster = load_topology(args.topology, gpus=args.gpus, overrides=groups["topology"])
    if args.algorithm == "best":
        return _best(args, cluster, options)
    name, params = algorithm(args.algorithm, groups["algorithm"])
    chunks = params.pop("chunks", args.chunks)
    chosen: dict[str, Any] = {}
    if name == "auto":
        from simtrain.collectives import build_schedule

        schedule = build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params)
        chosen = {k: schedule.params[k] for k in ("algorithm", "nccl", "protocol", "chunks") if k in schedule.params}
    if args.store_and_forward:
        from simtrain.collectives import build_schedule
        from simtrain.network import run_engine

        if args.engine != "des":
            raise ConfigError("store-and-forward is a DES option", source=CLI, key="--store-and-forward",
                              allowed="use it with --engine des")
        result = run_engine("des", build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params),
                            cluster, options, store_and_forward=True)
    else:
        result = collective_time(args.op, args.size, cluster, name, engine=args.engine, options=options,
                                 chunks=chunks, **params)
    if args.json:
        data = result.to_dict()
        data["topology"] = cluster.name
        data["device"] = cluster.device
        if chosen:
            data["chosen"] = chosen
        emit(data)
        return 0
    described = name if not chosen else (f"auto (NCCL's choice: {chosen['nccl']}/{chosen['protocol']} as "
                                         f"{chosen['algorithm']}, {chosen['chunks']} chunks)")
    print(f"{result.op} of {units.format_size(result.size_bytes)} with {described} on {cluster.name} "
          f"({cluster.num_gpus} GPUs), {result.engine} engine")
    rows = [
        ("time", units.format_time(result.time_s)),
        ("algorithm bandwidth", units.format_bandwidth(result.algbw_Bps)),
        ("bus bandwidth", units.format_bandwidth(result.busbw_Bps)),
        ("bytes sent per GPU", units.format_size(result.bytes_per_gpu)),
    ]
    for klass, total in result.bytes_by_class.items():
        rows.append((f"  crossing {klass} links", units.format_size(total / result.num_ranks)))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return 0


def _best(args: argparse.Namespace, cluster: Any, options: Any) -> int:
    """``--algorithm best``: every registered algorithm that runs this operation here, fastest first.

    Every algorithm runs with NCCL's protocol costs, as ``auto``'s choice does, so they compare alike: each named
    algorithm under the fastest of the protocols NCCL would run it with (NVLS, NVLS tree and CollNet: Simple;
    the others as a ring: LL, LL128, Simple), NCCL's trees pipelined in ``auto``'s chunks.
    """
    import math

    from simtrain import units
    from simtrain.collectives import ALGORITHMS, build_schedule
    from simtrain.collectives.nccl import MAX_CHUNKS
    from simtrain.network import run_engine
    from simtrain.network.protocol import CHUNK_BYTES, PROTOCOL_NAMES, with_protocol

    kinds = {"nvls": "nvls", "nvls-tree": "nvlstree", "nccl-tree": "tree", "collnet": "collnet"}
    size = units.parse_size(args.size) if isinstance(args.size, str) else float(args.size)
    rows = []
    skipped = []
    for name in ALGORITHMS.names():
        if args.op not in ALGORITHMS.get(name).operations:
            continue
        chunks = 1
        if name in ("nccl-tree", "nvls-tree"):
            nics = int(cluster.params.get("nics_per_node", 1))
            chunks = int(min(MAX_CHUNKS, max(1, math.ceil(size / (CHUNK_BYTES * nics)))))
        try:
            schedule = build_schedule(args.op, args.size, cluster, name, chunks=chunks)
        except ConfigError as exc:
            skipped.append({"algorithm": name, "why": str(exc)})
            continue
        if name == "auto":
            result = run_engine(args.engine, schedule, cluster, options)
            label = f"auto ({schedule.params['nccl']}/{schedule.params['protocol']})"
        else:
            kind = kinds.get(name, "ring")
            protocols = ("Simple",) if kind in ("nvls", "nvlstree", "collnet") else PROTOCOL_NAMES
            result = min((run_engine(args.engine, with_protocol(schedule, cluster, kind, p), cluster, options)
                          for p in protocols), key=lambda r: r.time_s)
            label = f"{name} ({result.protocol})"
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
          f"{args.engine} engine: every applicable algorithm with NCCL's protocol costs, fastest first")
    width = max(len(label) for _, label, _ in rows)
    print(f"  {'algorithm':<{width}}  {'time':>12}  {'bus bandwidth':>14}")
    for time_s, label, result in rows:
        print(f"  {label:<{width}}  {units.format_time(time_s):>12}  {units.format_bandwidth(result.busbw_Bps):>14}")
    print(f"best: {best[1]}")
    for item in skipped:
        print(f"  not applicable: {item['algorithm']}: {item['why']}")
    return 0
