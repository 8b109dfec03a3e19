"""``simtrain sweep`` (a what-if study from a YAML file) and ``simtrain quickstart`` (the built-in study).

Both run the study's points on a local pool or Dask, save the table to ``--out`` as chunks finish (re-running the
same command resumes), and print where it went.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="simtrain")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> parser.parse_args(["quickstart"]).out
'simtrain-quickstart'
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simtrain.cli._common import CLI, agg_pyplot, count_at_most, positive_int
from simtrain.errors import ConfigError
from simtrain.limits import MAX_WORKERS

__all__ = ["add_parser", "run", "run_quickstart"]


def _sweep_flags(p: argparse.ArgumentParser, out_default: str | None) -> None:
    p.add_argument("--out", required=out_default is None, default=out_default,
                   help="output folder (re-running the same command resumes it)")
    p.add_argument("--workers", type=count_at_most(MAX_WORKERS), help="local processes (default: all CPUs; 1: serial)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on Dask: tcp://HOST:8786, or local for a "
                                                          "LocalCluster (needs the dask extra)")
    p.add_argument("--chunk-size", type=positive_int, help="points per saved chunk (default: automatic)")
    p.add_argument("--force", action="store_true", help="discard another study's results in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_parser(sub: Any) -> None:
    """Add the ``sweep`` and ``quickstart`` sub-commands to an argparse sub-parsers object."""
    p = sub.add_parser("sweep", help="run a what-if study (a YAML file of sweep axes) and save its table")
    p.add_argument("study", help="study YAML path, or a shipped study by name (simtrain list studies)")
    _sweep_flags(p, None)
    p.add_argument("--plot", metavar="KINDS", help="also draw figures: comma-separated scaling, breakdown, "
                                                   "traffic, bandwidth")
    p.set_defaults(func=run)

    p = sub.add_parser("quickstart", help="the built-in study: ResNet-50 and BERT-base, 8 to 4096 GPUs, three "
                                          "clusters, three schemes; writes a table and figures")
    _sweep_flags(p, "simtrain-quickstart")
    p.set_defaults(func=run_quickstart)


def _run_sweep(study: Any, out: str, args: argparse.Namespace) -> Any:
    import time

    from simtrain.outputs import check_output_folder
    from simtrain.study import run_study

    if not str(out).strip():   # '' would be read as the current folder
        raise ConfigError("is empty: give the output folder", source=CLI, key="--out", value=out)
    check_output_folder(out, "--out", CLI)
    backend = "dask" if args.scheduler else ("serial" if args.workers == 1 else "pool")
    started = time.perf_counter()
    # Ctrl-C raises Interrupted, saying what is saved: simtrain.cli.main prints it and exits with status 130
    table = run_study(study, out, backend=backend, workers=args.workers, scheduler=args.scheduler,
                      chunk_size=args.chunk_size, force=args.force, progress=not args.quiet)
    elapsed = time.perf_counter() - started
    failed = int((table["status"] != "ok").sum())
    if failed == len(table):   # nothing to show: a failure, not a result (the table still says why, per point)
        raise ConfigError(f"every one of the {failed} points failed (the error column of "
                          f"{Path(out) / 'results.csv'} says why); the first: {str(table['error'].iloc[0])[:300]}",
                          source=study.source or CLI)
    print(f"{study.name}: {len(table)} points in {elapsed:.1f} s on {backend}"
          + (f", {failed} failed (see the error column)" if failed else ""))
    print(f"wrote {Path(out) / 'results.csv'}" + (" (and results.parquet)" if (Path(out) / "results.parquet")
                                                    .exists() else ""))
    return table


def _figures(table: Any, out: Path, kinds: Sequence[str]) -> None:
    plt = agg_pyplot()

    from simtrain.outputs import figure_bytes, write_bytes
    from simtrain.plot.study import figure_from_results

    for kind in kinds:
        try:
            fig = figure_from_results(table, kind)
        except ConfigError as exc:   # the study's own table cannot give this figure
            if exc.source is not None:
                raise
            raise ConfigError(exc.message, source=CLI, key=f"--plot {kind}", value=exc.value, choices=exc.choices,
                              allowed=exc.allowed) from None
        path = out / f"{kind}.png"
        try:
            data = figure_bytes(fig, path, dpi=110)
        finally:
            plt.close(fig)
        write_bytes(path, data)
        print(f"wrote {path}")


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain sweep``; returns the exit status."""
    from simtrain.plot.study import RESULT_PLOTS
    from simtrain.study import load_study

    kinds = [k.strip() for k in args.plot.split(",")] if args.plot else []
    for kind in kinds:
        if kind not in RESULT_PLOTS:
            raise ConfigError("unknown plot of results", source=CLI, key="--plot", value=kind, choices=RESULT_PLOTS)
    study = load_study(args.study)
    if "bandwidth" in kinds:   # the study's axes decide it: refuse before any point runs or any file is written
        import pandas as pd

        from simtrain.plot.study import bandwidth_column

        try:
            bandwidth_column(pd.DataFrame(study.points))
        except ConfigError as exc:
            raise ConfigError("no axis sweeps a bandwidth, which --plot bandwidth draws against", source=study.source,
                              key="sweep", allowed=exc.allowed) from None
    table = _run_sweep(study, args.out, args)
    _figures(table, Path(args.out), kinds)
    return 0


def run_quickstart(args: argparse.Namespace) -> int:
    """Execute ``simtrain quickstart``; returns the exit status."""
    from simtrain.study import load_study

    study = load_study("quickstart")
    print(f"{study.name}: {study.description} ({len(study.points)} points)")
    table = _run_sweep(study, args.out, args)
    _figures(table, Path(args.out), ("scaling", "breakdown", "traffic"))
    largest = table[(table["status"] == "ok") & (table["gpus"] == table["gpus"].max())]
    print(f"\nat {int(largest['gpus'].max())} GPUs:")
    print(f"  {'model':<10} {'topology':<10} {'scheme':<16} {'samples/s':>12} {'efficiency':>10} "
          f"{'exposed comm':>12}")
    for _, row in largest.iterrows():
        print(f"  {row['model']:<10} {row['topology']:<10} {row['scheme']:<16} "
              f"{row['throughput_samples_per_s']:>12,.0f} {100 * row['scaling_efficiency']:>9.1f} % "
              f"{100 * row['comm_fraction']:>10.1f} %")
    return 0
