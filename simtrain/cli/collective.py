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
    p.add_argument("--quiet", action="store_true", help="DES: no progress line on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain collective``; returns the exit status."""
    from simtrain import units
    from simtrain.collectives import collective_time
    from simtrain.topology import load_topology

    groups = split_overrides(args.set)
    options = network_options(groups["network"] + ([("max_events", args.max_events)] if args.max_events else []))
    name, params = algorithm(args.algorithm, groups["algorithm"])
    chunks = params.pop("chunks", args.chunks)
    cluster = load_topology(args.topology, gpus=args.gpus, overrides=groups["topology"])
    if args.store_and_forward and args.engine != "des":
        raise ConfigError("store-and-forward is a DES option", source=CLI, key="--store-and-forward",
                          allowed="use it with --engine des")
    if args.engine == "des":
        from simtrain.collectives import build_schedule
        from simtrain.network import run_engine

        result = run_engine("des", build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params),
                            cluster, options, store_and_forward=args.store_and_forward,
                            progress=False if args.quiet else None)
    else:
        result = collective_time(args.op, args.size, cluster, name, engine=args.engine, options=options,
                                 chunks=chunks, **params)
    if args.json:
        data = result.to_dict()
        data["topology"] = cluster.name
        data["device"] = cluster.device
        emit(data)
        return 0
    print(f"{result.op} of {units.format_size(result.size_bytes)} with {name} on {cluster.name} "
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
