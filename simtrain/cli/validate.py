"""The ``simtrain validate`` command: run the reproduction cases and print published vs simulated figures.

``simtrain.cli`` registers it with :func:`add_parser`; :func:`run` executes it. An unknown ``--case`` raises
:class:`~simtrain.errors.ConfigError`; ``simtrain.cli.main`` prints it as one ``error:`` line and exits with 2.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="simtrain")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> run(parser.parse_args(["validate", "--case", "powersgd-sgd-payload", "--json"]))  # doctest: +ELLIPSIS
[{"name": "powersgd-sgd-payload", "source": ...}]
0
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``validate`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("validate", help="reproduce published measurements and report simtrain's error per case")
    p.add_argument("--case", action="append", metavar="NAME",
                   help="run only this case (repeatable; default: all cases)")
    p.add_argument("--json", action="store_true",
                   help="print a list of objects (name, source, published, simulated, rel_error, unit, tag, ...)")
    p.set_defaults(func=run)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain validate``; returns the exit status."""
    from simtrain.validation import run_cases
    from simtrain.validation.report import validation_text

    rows = run_cases(args.case)
    if args.json:
        docs = []
        for row in rows:
            doc = row.to_dict()
            doc["simulated"] = _finite(row.simulated)
            doc["rel_error"] = _finite(row.rel_error)
            docs.append(doc)
        print(json.dumps(docs))
    else:
        print(validation_text(rows))
    return 0
