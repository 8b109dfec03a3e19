"""The ``simtrain`` command: a thin layer over the Python API.

One module per command (``simtrain.cli.collective``, ``simulate``, ``sweep``, ``plot``, ``calibrate``,
``traffic``, ``listing``, ``place``, ``validate``), each with ``add_parser(subparsers)`` and ``run(args) -> int``;
a command imports what it needs only when it runs. Every error about input is printed as one line ``error: …`` on
stderr with exit status 2; nothing is written. An error of the library names a Python parameter; :func:`main`
prints it with the command's flag (:func:`simtrain.cli._common.to_cli_error`).

Examples
--------
>>> main(["collective", "--op", "all-reduce", "--algorithm", "ring", "--topology", "torus-8x8",
...       "--size", "1GiB", "--json"])  # doctest: +ELLIPSIS
{"op": "all-reduce", ...}
0
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from simtrain._version import __version__
from simtrain.cli._common import _Parser, flag_table, one_line, positive_int, to_cli_error
from simtrain.errors import ConfigError, InfeasibleError, SimtrainError

__all__ = ["COMMANDS", "build_parser", "main", "positive_int"]

#: The command modules, in the order of ``simtrain --help``.
COMMANDS = ("collective", "simulate", "sweep", "plot", "calibrate", "traffic", "listing", "place", "validate",
            "train", "time_to_accuracy")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``simtrain`` command.

    Examples
    --------
    >>> build_parser().parse_args(["list", "models"]).what
    'models'
    """
    parser = _Parser(prog="simtrain", description="Simulate distributed training when communication is the "
                                                  "bottleneck.")
    parser.add_argument("--version", action="version", version=f"simtrain {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"simtrain.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input, 1 when a solver gave up).

    Examples
    --------
    >>> main(["list", "modls"])
    2
    """
    parser: argparse.ArgumentParser | None = None
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args))
    except ConfigError as exc:
        if parser is not None and args is not None:
            exc = to_cli_error(exc, flag_table(parser).get(args.command, {}))
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except InfeasibleError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except SimtrainError as exc:   # not the input's fault (a solver gave up): one line, status 1
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # pragma: no cover - e.g. piping into head
        return 0
