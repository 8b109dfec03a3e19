"""``simtrain calibrate``: measure training-step kernels and fit a compute profile, or ``--check`` one.

A thin caller of :func:`simtrain.calibration.calibrate_profile` and :func:`simtrain.calibration.check_profile`;
what it adds is the command line's own: refusing to overwrite ``--out`` and ``--plot`` and checking that they can be
written before measuring, the progress bar, and the printed summary. Measurements are saved as they finish in
``OUT.partial`` (removed once the profile is written, or when a write fails), so an interrupted ``calibrate``
resumes when run again.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="simtrain")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> parser.parse_args(["calibrate", "--dtypes", "fp32,fp64", "--out", "p.json"]).dtypes
'fp32,fp64'
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from simtrain.cli._common import (
    CLI,
    agg_pyplot,
    announce,
    count_at_most,
    emit,
    new_output,
    output_path,
    save_figure,
)
from simtrain.errors import ConfigError, OutputError
from simtrain.limits import MAX_REPEATS, MAX_THREADS
from simtrain.progress import ProgressBar

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``calibrate`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("calibrate", help="measure training-step kernels and fit a compute profile (or --check one)")
    p.add_argument("--backend", default="numba", help="numba, torch or numpy")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtypes", default="fp32", help="comma-separated: fp32, fp64 (and fp16, bf16 with torch)")
    p.add_argument("--quick", action="store_true", help="fewer shapes (under 2 minutes on a laptop-class CPU)")
    p.add_argument("--repeats", type=count_at_most(MAX_REPEATS), default=15,
                   help=f"timed steps per shape (at least; at most {MAX_REPEATS:,})")
    p.add_argument("--out", help="profile to write, e.g. profiles/NAME.json")
    p.add_argument("--force", action="store_true", help="overwrite an existing profile")
    p.add_argument("--check", metavar="PROFILE", help="measure held-out shapes and report the profile's accuracy")
    p.add_argument("--plot", metavar="FILE.png", help="with --check: draw predicted against measured (and a .csv)")
    p.add_argument("--threads", type=count_at_most(MAX_THREADS),
                   help="BLAS (and torch CPU) threads while measuring (default 1; "
                                                         "--check: the profile's own)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no announcement on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain calibrate``; returns the exit status."""
    # each of these is read by one mode only: given to the other, it would be silently ignored
    if args.check and args.out:
        raise ConfigError("--check writes no profile (it measures one against held-out shapes; its chart: --plot "
                          "FILE.png)", source=CLI, key="--out", value=args.out,
                          allowed="--out without --check, to calibrate a profile")
    if args.plot and not args.check:
        raise ConfigError("draws a --check's predictions against its measurements", source=CLI, key="--plot",
                          value=args.plot, allowed="--plot with --check PROFILE")
    return _check(args) if args.check else _calibrate(args)


def _check(args: argparse.Namespace) -> int:
    from simtrain import units
    from simtrain.calibration import check_profile, load_profile
    from simtrain.catalog import resolve

    profile = load_profile(resolve("profiles", args.check))
    # refuse an existing --plot before measuring for minutes, not after
    out = output_path(args.plot, args.force, "--plot") if args.plot else None
    bar = ProgressBar(0, "shapes", quiet=args.quiet)
    check = check_profile(profile, threads=args.threads, quick=args.quick, repeats=args.repeats,
                          progress=bar.callback)
    bar.close()
    if out is not None:
        plt = agg_pyplot()
        fig, ax = plt.subplots(figsize=(7, 5))
        check.plot(ax)
        save_figure(fig, out, check.to_frame())
    if args.json:
        emit({"profile": args.check, **check.to_dict()})
        return 0
    for row in check.rows:
        print(f"  {row['shape']:<34} measured {units.format_time(row['measured_s']):>9}  predicted "
              f"{units.format_time(row['predicted_s']):>9}  {100 * row['rel_error']:+6.1f} %")
    threads = check.threads
    print(f"{check.within} of {len(check.rows)} held-out shapes ({100 * check.within_15_percent:.1f} %) predicted "
          f"within 15 % (target: at least 90 %; {threads} BLAS thread{'s' if threads > 1 else ''})")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from simtrain import units
    from simtrain.calibration import calibrate_profile

    if not args.out:
        raise ConfigError("calibrate needs --out (or --check PROFILE)", source=CLI, key="--out")
    out = new_output(args.out, args.force, "--out")   # before measuring for minutes, not after
    from simtrain.outputs import check_writable

    partial = out.with_name(out.name + ".partial")
    check_writable(partial, make_parents=True, flag="--out")
    threads = args.threads or 1
    from simtrain.calibration.pipeline import calibration_cost, check_backend

    check_backend(args.backend, args.device, args.dtypes)   # bad input: its one line, before the announcement
    # a measurement of minutes: say what it will do before it starts (stderr, so --json output stays clean)
    if not args.quiet:
        announce(calibration_cost(args.dtypes, quick=args.quick, repeats=args.repeats).describe())
    bar = ProgressBar(0, "measurements", quiet=args.quiet)
    profile = calibrate_profile(args.backend, args.device, args.dtypes, quick=args.quick, repeats=args.repeats,
                                threads=threads, progress=bar.callback, checkpoint=partial)
    bar.close()
    try:
        profile.save(out, force=args.force)
    except OutputError:   # the profile cannot be written (a full disk): leave no measurement log behind either
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise
    partial.unlink(missing_ok=True)
    print(f"wrote {out}: {len(profile.samples)} step shapes, {args.backend} on {args.device}, "
          f"{threads} BLAS thread{'s' if threads > 1 else ''}")
    for dtype, params in profile.params.items():
        err, table = profile.fit_error[dtype], profile.tables[dtype]
        print(f"  {dtype}: GEMM table {table.measured_points} points, best {units.format_flop_rate(table.peak_rate)}; "
              f"step overhead {units.format_time(params['step_overhead_s'])}, element-wise "
              f"{units.format_bandwidth(params['elementwise_Bps'])}; fit: median error "
              f"{100 * err['median_abs_rel_error']:.1f} %, {100 * err['within_15_percent']:.0f} % within 15 %")
    return 0
