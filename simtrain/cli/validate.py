"""The ``simtrain validate`` command: run the reproduction cases and print published vs simulated figures.

``simtrain.cli`` registers it with :func:`add_parser`; :func:`run` executes it. The text report ends with the
median ``|error|`` over ``test`` cases (held out) and over ``fit`` cases (used to set a constant) separately, and
the median error of the effect in ratio cases. ``--check-ratchet`` compares every case's ``|error|`` with the
committed ratchet file and exits with 1 when one grew beyond its record by more than the tolerance;
``--record`` rewrites that file (:mod:`simtrain.validation.ratchet`) and ``--markdown docs/validation.md`` the
docs page, so after a model change ``simtrain validate --record --markdown docs/validation.md`` re-records both.
An unknown ``--case`` raises :class:`~simtrain.errors.ConfigError`; ``simtrain.cli.main`` prints it as one
``error:`` line and exits with 2.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="simtrain")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> run(parser.parse_args(["validate", "--case", "powersgd-sgd-payload", "--json"]))  # doctest: +ELLIPSIS
{"cases": [{"name": "powersgd-sgd-payload", ...}], "summary": {...}}
0
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from simtrain.cli._common import distinct_outputs, emit, number

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``validate`` sub-command to an argparse sub-parsers object."""
    from simtrain.validation.ratchet import DEFAULT_RATCHET

    p = sub.add_parser("validate", help="reproduce published measurements and report simtrain's error per case")
    p.add_argument("--case", action="append", metavar="NAME",
                   help="run only this case (repeatable; default: all cases)")
    p.add_argument("--role", choices=("fit", "test"),
                   help="run only the cases of this role (fit: used to set a constant; test: held out)")
    p.add_argument("--json", action="store_true",
                   help="print one object: 'cases' (name, source, role, published, simulated, rel_error, "
                        "effect_error, assumptions, command, ...) and 'summary' (counts and medians)")
    p.add_argument("--check-ratchet", action="store_true",
                   help="exit 1 when a case's |error| grew beyond its recorded value by more than the tolerance "
                        "(new cases enter at their measured error)")
    p.add_argument("--record", action="store_true",
                   help="rewrite the ratchet file with every case's current error (all cases only)")
    p.add_argument("--ratchet", metavar="PATH", default=str(DEFAULT_RATCHET),
                   help="the ratchet file; default the committed simtrain/validation/ratchet.json")
    p.add_argument("--markdown", metavar="PATH",
                   help="also write the validation page (docs/validation.md) from this run; with --record, one "
                        "command re-records the errors and the page")
    p.add_argument("--tolerance", type=number, metavar="X", default=None,
                   help="allowed growth of a case's |error| as a fraction (0.01 = 1 percentage point); "
                        "default the file's, else 0.01")
    p.add_argument("--quiet", action="store_true", help="no progress bar (it shows on a terminal only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain validate``; returns the exit status (1 when the ratchet check fails)."""
    from simtrain.errors import ConfigError
    from simtrain.outputs import check_writable, write_text
    from simtrain.progress import ProgressBar
    from simtrain.validation import run_cases
    from simtrain.validation.ratchet import (
        DEFAULT_TOLERANCE,
        load_ratchet,
        ratchet_entries,
        summary,
        write_ratchet,
    )
    from simtrain.validation.report import ratchet_text, validation_markdown, validation_text

    tolerance = getattr(args, "tolerance", None)
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance >= 0):
        raise ConfigError("must be a non-negative number", key="--tolerance", value=tolerance)
    role = getattr(args, "role", None)
    for flag in ("record", "markdown"):
        if getattr(args, flag, None) and (args.case or role):
            raise ConfigError("covers every case: drop --case and --role", key=f"--{flag}",
                              value=getattr(args, flag))
    # inputs and outputs are checked before the cases run: a bad ratchet file or an unwritable page fails at once
    # the page must not land on the ratchet file, whether it is read, rewritten or the committed default
    distinct_outputs(("--ratchet", args.ratchet), ("--markdown", getattr(args, "markdown", None)))
    ratchet = load_ratchet(args.ratchet) if getattr(args, "check_ratchet", False) else None
    if getattr(args, "record", False):
        check_writable(args.ratchet, make_parents=True, flag="--ratchet")
    if getattr(args, "markdown", None):
        check_writable(args.markdown, make_parents=True, flag="--markdown")
    bar = ProgressBar(0, "cases", quiet=getattr(args, "quiet", False))   # the count comes with the first case
    try:
        rows = run_cases(args.case, progress=bar.callback)
    finally:
        bar.close()
    if role:
        rows = [r for r in rows if r.role == role]
    if args.json:
        # the CLI's one JSON writer: a number that is not finite (a case that could not run) is null
        emit({"cases": [row.to_dict() for row in rows], "summary": summary(rows)})
    else:
        print(validation_text(rows))
    status = 0
    if ratchet is not None:
        entries = ratchet_entries(rows, ratchet, tolerance)
        text = ratchet_text(entries)
        print(text, file=sys.stderr if args.json else sys.stdout)
        status = 1 if any(e.status == "worse" for e in entries) else 0
    out = sys.stderr if args.json else sys.stdout
    if getattr(args, "record", False):
        write_ratchet(rows, args.ratchet, DEFAULT_TOLERANCE if tolerance is None else tolerance)
        print(f"recorded {len(rows)} cases in {args.ratchet}", file=out)
    if getattr(args, "markdown", None):
        write_text(args.markdown, validation_markdown(rows), make_parents=True)
        print(f"wrote {args.markdown}", file=out)
    return status
