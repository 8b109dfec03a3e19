"""``simtrain list``: the catalog's models, topologies, algorithms, devices, schemes and studies.

Examples
--------
>>> from simtrain.cli import main
>>> main(["list", "devices"])  # doctest: +ELLIPSIS
a10 ...
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import CLI, emit
from simtrain.errors import ConfigError

__all__ = ["LISTABLE", "add_parser", "run"]

LISTABLE = ("models", "topologies", "algorithms", "devices", "schemes", "studies")

def add_parser(sub: Any) -> None:
    """Add the ``list`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("list", help="list catalog entries")
    p.add_argument("what", help="models, topologies, algorithms, devices, schemes or studies")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain list``; returns the exit status."""
    from simtrain import catalog, units

    if args.what not in LISTABLE:
        raise ConfigError("cannot list", source=CLI, key="list", value=args.what, choices=LISTABLE)

    items: list[dict[str, Any]] = []
    if args.what == "models":
        from simtrain.model import load_model

        for name in catalog.names("models"):
            spec = load_model(name)
            items.append({"name": name, "params": spec.num_params, "forward_flops_per_sample": spec.forward_flops,
                          "forward_macs_per_sample": spec.forward_macs, "reference": spec.reference})
        # columns as wide as their widest entry; a model's forward work in the unit that shows it (GCN's is MFLOP)
        name_w = max((len(i["name"]) for i in items), default=0)
        params_w = max((len(f"{i['params']:,}") for i in items), default=0)
        work = [units.format_flops(i["forward_flops_per_sample"]) for i in items]
        work_w = max((len(w) for w in work), default=0)
        lines = [f"{i['name']:<{name_w}}  {i['params']:>{params_w},} params  {w:>{work_w}}/sample fwd  "
                 f"({i['reference']})" for i, w in zip(items, work)]
    elif args.what == "topologies":
        from simtrain.topology import load_topology

        for name in catalog.names("topologies"):
            cluster = load_topology(name)
            items.append({"name": name, "default_gpus": cluster.num_gpus, "device": cluster.device,
                          "grid": list(cluster.grid), "link_classes": list(cluster.class_names),
                          "description": cluster.description or ""})
        lines = [f"{i['name']:<14} {i['default_gpus']:>6} x {i['device']:<5} grid {'x'.join(map(str, i['grid']))}"
                 for i in items]
    elif args.what == "algorithms":
        from simtrain.collectives import ALGORITHMS

        for name in ALGORITHMS.names():
            algo = ALGORITHMS.get(name)
            items.append({"name": name, "operations": list(algo.operations), "params": algo.params,
                          "summary": algo.summary})
        lines = [f"{i['name']:<20} {', '.join(i['operations'])}\n{'':<20} {i['summary']}" for i in items]
    elif args.what == "schemes":
        from simtrain.compression import SCHEMES

        for name in SCHEMES.names():
            cls = SCHEMES.get(name)
            items.append({"name": name, "params": dict(cls.param_spec), "summary": cls.summary})
        lines = [f"{i['name']:<16} {i['summary']}\n{'':<16} parameters: "
                 + (", ".join(f"{k}={v}" for k, v in i["params"].items()) or "none") for i in items]
    elif args.what == "studies":
        from simtrain.study import load_study

        for name in catalog.names("studies"):
            study = load_study(name)
            items.append({"name": name, "points": len(study.points), "swept": study.swept,
                          "description": study.description})
        lines = [f"{i['name']:<14} {i['points']:>6} points  sweeps {', '.join(i['swept'])}\n{'':<14} "
                 f"{i['description']}" for i in items]
    else:
        from simtrain.hardware import DEVICES

        for name, dev in DEVICES.items():
            items.append({"name": name, "model": dev.model, "peak_flops_per_dtype": dev.peak_flops_per_dtype,
                          "memory_bandwidth_Bps": dev.memory_bandwidth_Bps, "memory_bytes": dev.memory_bytes,
                          "source": dev.source})
        name_width = max((len(i["name"]) for i in items), default=0)
        model_width = max((len(i["model"]) for i in items), default=0)
        lines = [f"{i['name']:<{name_width}} {i['model']:<{model_width}} {units.format_size(i['memory_bytes'])}, "
                 f"{units.format_bandwidth(i['memory_bandwidth_Bps'])}" for i in items]
    if args.json:
        emit(items)
    else:
        print("\n".join(lines))
    return 0
