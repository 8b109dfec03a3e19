"""``simtrain plot``: links (heat map of a collective on a torus), traffic (traffic-reduction curves), bandwidth
(step time against bandwidth), and scaling or breakdown from a sweep's ``--results``.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="simtrain")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> parser.parse_args(["plot", "links", "--out", "l.png"]).kind
'links'
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from simtrain.cli._common import (
    CLI,
    agg_pyplot,
    algorithm,
    collective_size,
    count_at_most,
    network_options,
    number,
    output_path,
    positive_int,
    refuse_unread_restriction,
    run_default,
    save_figure,
    split_overrides,
    split_schemes,
)
from simtrain.errors import ConfigError
from simtrain.inputs import first_repeat, read_bytes
from simtrain.limits import MAX_CHUNKS, MAX_GPUS
from simtrain.progress import ProgressBar

__all__ = ["PLOTS", "add_parser", "run"]

PLOTS = ("links", "traffic", "bandwidth", "scaling", "breakdown")
#: The options each way of drawing reads (beyond the kind, --out and --force); ``results``: a figure drawn from a
#: sweep's table (--results, and always for scaling and breakdown). Another option given is refused, not ignored.
READS = {
    "links": ("topology", "gpus", "op", "size", "algorithm", "engine", "chunks", "set"),
    "traffic": ("topology", "gpus", "model", "schemes", "sweep", "bytes", "batch", "samples_per_epoch", "epochs",
                "gpus_per_node", "whole_run", "dtype", "quiet"),
    "bandwidth": ("topology", "gpus", "model", "schemes", "bandwidths", "batch", "algorithm", "engine", "dtype",
                  "quiet"),
    "results": ("results",),
}
#: Each option's default (filled in by :func:`add_parser`): an option at its default was not given.
_DEFAULTS: dict[str, Any] = {}
#: The defaults of the options argparse leaves at None, so that one given at its default value still counts as given.
_FILLED = {"op": "all-reduce", "size": "1GiB", "engine": "analytical", "chunks": 1, "model": "resnet50",
           "bytes": "wire", "samples_per_epoch": 50000, "epochs": 1.0, "gpus_per_node": 4, "dtype": "fp32"}


def add_parser(sub: Any) -> None:
    """Add the ``plot`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("plot", help="draw figures: links (heat map of a collective on a torus), traffic "
                                    "(traffic-reduction curves), bandwidth (step time against bandwidth), scaling "
                                    "and breakdown (from --results)")
    p.add_argument("kind", help="links, traffic, bandwidth, scaling or breakdown")
    p.add_argument("--results", metavar="DIR", help="scaling, breakdown, traffic, bandwidth: a sweep's output folder")
    p.add_argument("--out", required=True, help="output file (.png, .svg or .pdf); curves also write a .csv")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--quiet", action="store_true", help="traffic, bandwidth: no progress bar")
    p.add_argument("--topology", help="catalog name or YAML path")
    p.add_argument("--gpus", type=count_at_most(MAX_GPUS), help="GPUs (topology size; workers for traffic)")
    p.add_argument("--op", help=f"links: the collective (default: {_FILLED['op']})")
    p.add_argument("--size", type=collective_size,
                   help=f"links: full buffer size with a unit (default: {_FILLED['size']})")
    p.add_argument("--algorithm", help="collective algorithm NAME[:key=value,...]: auto, what NCCL would pick "
                                       "(default: auto)")
    p.add_argument("--engine", help=f"analytical or des (default: {_FILLED['engine']})")
    p.add_argument("--chunks", type=count_at_most(MAX_CHUNKS),
                   help="links: chunks per collective of a named --algorithm (auto chooses NCCL's; "
                        f"default: {_FILLED['chunks']})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="links: overrides")
    p.add_argument("--model", help="traffic/bandwidth: catalog model, YAML path or module:PATH.py[:FACTORY] "
                                   f"(default: {_FILLED['model']})")
    p.add_argument("--schemes", help="traffic/bandwidth: comma-separated scheme specs")
    p.add_argument("--sweep", action="append", default=[], metavar="PARAM=V1,V2,...",
                   help="traffic: a scheme parameter (rank, density, levels, period …) or gpus and its values; "
                        "repeat it to sweep each scheme along its own parameter (one row of panels each); a "
                        "scheme without any swept parameter is drawn flat at its settings")
    p.add_argument("--bytes", choices=("wire", "payload"),
                   help="traffic: count the bytes each GPU sends on the wire or the payload it contributes "
                        f"(default: {_FILLED['bytes']})")
    p.add_argument("--bandwidths", help="bandwidth: comma-separated bandwidths with units, e.g. 1Gbit/s,25Gbit/s")
    p.add_argument("--batch", type=positive_int, help="samples per GPU (traffic: 128, bandwidth: 32)")
    p.add_argument("--samples-per-epoch", type=positive_int,
                   help=f"traffic: samples per epoch (default: {_FILLED['samples_per_epoch']})")
    p.add_argument("--epochs", type=number, help=f"traffic: epochs (default: {_FILLED['epochs']:g})")
    p.add_argument("--gpus-per-node", type=count_at_most(MAX_GPUS),
                   help=f"traffic: node size without a topology (default: {_FILLED['gpus_per_node']})")
    p.add_argument("--whole-run", action="store_true", help="traffic: include warm-ups (default: steady schedule)")
    p.add_argument("--dtype", help=f"gradient precision (default: {_FILLED['dtype']})")
    p.set_defaults(func=run)
    _DEFAULTS.update({action.dest: action.default for action in p._actions if action.option_strings})


def _values(text: str, key: str) -> list[Any]:
    from simtrain.config import parse_override, yaml_scalar

    name, raw = parse_override(text, source=CLI)
    if name != key:
        return []
    values = raw if isinstance(raw, list) else [v.strip() for v in str(raw).split(",")]
    return [yaml_scalar(v) if isinstance(v, str) else v for v in values]


def _read_results(folder: str) -> Any:
    """The results table of a sweep's output folder (or a results.csv path)."""
    import pandas as pd

    path = Path(folder)
    path = path / "results.csv" if path.is_dir() else path
    if not path.is_file():
        raise ConfigError("no results table there", source=CLI, key="--results", value=folder,
                          allowed="the output folder of a finished simtrain sweep (it holds results.csv)")
    try:
        # bounded like every input (simtrain.inputs): a regular file of at most 64 MiB
        data = read_bytes(path, key="--results")
        header = next(csv.reader([data.decode().partition("\n")[0]]), [])
        twice = first_repeat(header)
        if twice is not None:   # pandas would rename the second one and plot the first
            raise ConfigError("a column is named twice in the header", source=str(path), key="--results",
                              value=twice)
        return pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""])
    except ConfigError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the table ({exc})", source=str(path), key="--results") from None


def _rekey(exc: ConfigError, names: tuple[str, ...], flag: str) -> ConfigError:
    """A Python-parameter error of one of ``names`` (parameters the command fills from ``flag``) as ``flag``'s."""
    if exc.source is not None or exc.key not in names:
        return exc
    return ConfigError(exc.message, source=CLI, key=flag, value=exc.value, choices=exc.choices, allowed=exc.allowed)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain plot``; returns the exit status."""
    if args.kind not in PLOTS:
        raise ConfigError("unknown plot", source=CLI, key="plot", value=args.kind, choices=PLOTS)
    way = "results" if args.results or args.kind in ("scaling", "breakdown") else args.kind
    for name, default in _DEFAULTS.items():
        if name in ("out", "force", "help") or name in READS[way] or getattr(args, name, default) == default:
            continue
        drawn = f"plot {args.kind}" + (" from --results" if way == "results" and args.kind in READS else "")
        raise ConfigError(f"is not read by {drawn}", source=CLI, key=f"--{name.replace('_', '-')}",
                          value=getattr(args, name), allowed=", ".join(f"--{r.replace('_', '-')}" for r in READS[way]))
    for name, value in {**_FILLED, "algorithm": run_default("algorithm")}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    out = output_path(args.out, args.force)
    if args.results or args.kind in ("scaling", "breakdown"):
        return _from_results(args, out)
    if args.kind == "traffic":
        return _traffic(args, out)
    if args.kind == "bandwidth":
        return _bandwidth(args, out)
    return _links(args, out)


def _from_results(args: argparse.Namespace, out: Path) -> int:
    agg_pyplot()
    from simtrain.plot.study import figure_from_results

    if not args.results:
        raise ConfigError(f"plot {args.kind} draws a study's results", source=CLI, key="--results",
                          allowed="the output folder of simtrain sweep or simtrain quickstart")
    table = _read_results(args.results)
    try:
        fig = figure_from_results(table, args.kind)
    except ConfigError as exc:
        raise ConfigError(exc.message, source=exc.source or args.results,
                          key="--results" if exc.key in (None, "table") else f"--results: {exc.key}",
                          value=exc.value, choices=exc.choices, allowed=exc.allowed) from None
    except (KeyError, TypeError, ValueError) as exc:   # a table that is not a sweep's results
        raise ConfigError(f"not a results table of simtrain sweep ({type(exc).__name__}: {exc})",
                          source=args.results, key="--results") from None
    save_figure(fig, out)
    return 0


def _traffic(args: argparse.Namespace, out: Path) -> int:
    from simtrain.config import parse_override
    from simtrain.plot.reduction import check_values, plot_traffic_figure, sweep_traffic_each

    if not args.schemes or not args.sweep:
        raise ConfigError("plot traffic needs --schemes and --sweep", source=CLI, key="plot traffic",
                          allowed="e.g. --schemes powersgd,topk --sweep rank=1,2,4 --sweep density=0.1,0.01")
    sweeps: dict[str, list[Any]] = {}
    for text in args.sweep:
        if not text.partition("=")[0].strip() or "=" not in text:   # parse_override would name --set
            raise ConfigError("must look like PARAM=V1,V2,...", source=CLI, key="--sweep", value=text,
                              allowed="e.g. --sweep rank=1,2,4")
        key, _ = parse_override(text, source=CLI)
        if key in sweeps:
            raise ConfigError("a parameter is swept once", source=CLI, key="--sweep", value=text)
        sweeps[key] = _values(text, key)
        check_values(sweeps[key], "--sweep", f"values of {key}")
        twice = first_repeat(json.dumps(v, sort_keys=True, default=str) for v in sweeps[key])
        if twice is not None:   # a value swept twice draws one point twice: a typo
            raise ConfigError(f"the value {twice} is given twice", source=CLI, key="--sweep", value=text)
    if "gpus" in sweeps and args.gpus is not None:   # the sweep's counts replace it: one of the two is a mistake
        raise ConfigError("the sweep varies the GPU count (--sweep gpus=...): give it once, in the sweep", source=CLI,
                          key="--gpus", value=args.gpus)
    bar = ProgressBar(0, "rows", quiet=args.quiet)
    try:
        frame = sweep_traffic_each(args.model, split_schemes(args.schemes), sweeps, gpus=args.gpus or 16,
                                   batch=args.batch or 128, samples_per_epoch=args.samples_per_epoch,
                                   epochs=args.epochs, dtype=args.dtype, steady=not args.whole_run,
                                   topology=args.topology, gpus_per_node=args.gpus_per_node, progress=bar.callback)
    except ConfigError as exc:
        raise _rekey(exc, ("key", "values", "sweeps"), "--sweep") from None
    finally:
        bar.close()
    agg_pyplot()
    save_figure(plot_traffic_figure(frame, bytes=args.bytes), out, frame)
    return 0


def _bandwidth(args: argparse.Namespace, out: Path) -> int:
    from simtrain.plot.reduction import check_values, plot_bandwidth, sweep_bandwidth

    if not args.topology or not args.bandwidths:
        raise ConfigError("plot bandwidth needs --topology and --bandwidths", source=CLI, key="plot bandwidth",
                          allowed="e.g. --topology cloud-25g --bandwidths '1 Gbit/s,10 Gbit/s,100 Gbit/s'")
    bandwidths = [b.strip() for b in args.bandwidths.split(",")]
    check_values(bandwidths, "--bandwidths", "bandwidths")
    from simtrain import units

    try:   # the same bandwidth twice (in any spelling) draws one point twice: a typo
        twice = first_repeat(units.parse_bandwidth(b) for b in bandwidths)
    except (units.UnitError, ValueError):
        twice = None   # a malformed one is refused by the sweep, naming it
    if twice is not None:
        raise ConfigError(f"the bandwidth {units.format_bandwidth(twice)} is given twice", source=CLI,
                          key="--bandwidths", value=args.bandwidths)
    bar = ProgressBar(0, "points", quiet=args.quiet)
    try:
        frame = sweep_bandwidth(args.model, args.topology, split_schemes(args.schemes or "none"),
                                bandwidths, gpus=args.gpus or 64,
                                batch=args.batch or 32, dtype=args.dtype, algorithm=args.algorithm,
                                engine=args.engine, progress=bar.callback)
    finally:
        bar.close()
    plt = agg_pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    plot_bandwidth(frame, ax)
    save_figure(fig, out, frame)
    return 0


def _links(args: argparse.Namespace, out: Path) -> int:
    import numpy as np

    from simtrain import units
    from simtrain.collectives import build_schedule
    from simtrain.network import run_engine
    from simtrain.plot.links import link_heatmap, link_utilization
    from simtrain.topology import load_topology

    if not args.topology:
        raise ConfigError("plot links needs --topology", source=CLI, key="--topology")
    groups = split_overrides(args.set)
    name, params = algorithm(args.algorithm, groups["algorithm"])
    refuse_unread_restriction(args.op, name, params)
    chunks = params.pop("chunks", args.chunks)
    cluster = load_topology(args.topology, gpus=args.gpus, overrides=groups["topology"])
    try:   # a clear error before any simulation
        link_utilization(cluster, np.zeros(cluster.num_links), 1.0, 0)
    except ConfigError as exc:
        raise _rekey(exc, ("cluster",), "--topology") from None
    schedule = build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params)
    result = run_engine(args.engine, schedule, cluster, network_options(groups["network"]))
    plt = agg_pyplot()
    dims = len(cluster.grid)
    fig, axes = plt.subplots(1, dims, figsize=(5 * dims, 4), squeeze=False)
    for dim in range(dims):
        assert result.link_bytes is not None
        link_heatmap(cluster, result.link_bytes, result.time_s, dim, ax=axes[0][dim])
    fig.suptitle(f"{args.op} of {units.format_size(result.size_bytes)} with {name} on {cluster.name} "
                 f"({cluster.num_gpus} × {cluster.device.upper()}, {result.engine}): "
                 f"{units.format_time(result.time_s)}")
    save_figure(fig, out)
    return 0
