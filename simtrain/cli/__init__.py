"""The ``simtrain`` command: a thin layer over the Python API.

One module per command (``simtrain.cli.collective``, ``simulate``, ``sweep``, ``plot``, ``calibrate``,
``gemm``, ``layer``, ``traffic``, ``listing``, ``place``, ``validate``, ``parallelize``, ``import_trace``), each with
``add_parser(subparsers)`` and ``run(args) -> int``;
a command imports what it needs only when it runs. Every error about input, and every output that cannot be
written, is printed as one line ``error: …`` on stderr with exit status 2; nothing partial is left. Ctrl-C prints
one line ``interrupted`` (with what was kept) and exits with status 130. An error of the library names a Python
parameter; :func:`main` prints it with the command's flag (:func:`simtrain.cli._common.to_cli_error`).

Examples
--------
>>> main(["collective", "--op", "all-reduce", "--algorithm", "ring", "--topology", "torus-8x8",
...       "--size", "1GiB", "--json"])  # doctest: +ELLIPSIS
{"op": "all-reduce", ...}
0
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from simtrain._version import __version__
from simtrain.cli._common import _Parser, flag_table, one_line, positive_int, to_cli_error
from simtrain.errors import ConfigError, InfeasibleError, OutputError, SimtrainError
from simtrain.outputs import reason

__all__ = ["COMMANDS", "build_parser", "main", "positive_int"]

#: The command modules, in the order of ``simtrain --help``.
COMMANDS = ("collective", "simulate", "sweep", "plot", "calibrate", "gemm", "layer", "traffic", "listing", "place",
            "validate", "import_trace", "parallelize", "train", "time_to_accuracy")

#: Sub-commands whose name is not their module's (any other name is looked up in :data:`COMMANDS` as is).
ALIASES = {"list": "listing", "quickstart": "sweep", "import-trace": "import_trace",
           "time-to-accuracy": "time_to_accuracy"}


class _DefaultsFormatter(argparse.HelpFormatter):
    """``--help`` that shows each option's default, unless it has none (None, False, empty) or its help names it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default in (None, False, "", [], argparse.SUPPRESS)
                or "default" in text or isinstance(action, argparse._VersionAction)):
            return action.help
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


class _CommandParser(_Parser):
    """A command's parser: its ``--help`` shows the defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)


def _command_module(argv: Sequence[str]) -> str | None:
    """The module of the sub-command ``argv`` names (its first word), or None (help, a typo: build them all)."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    if word is None:
        return None
    module = ALIASES.get(word, word)
    return module if module in COMMANDS else None


def build_parser(commands: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    """The argument parser of the ``simtrain`` command, with the sub-commands of the ``commands`` modules (all by
    default; :func:`main` builds only the one it runs, so a command never imports another's dependencies).

    Examples
    --------
    >>> build_parser().parse_args(["list", "models"]).what
    'models'
    >>> build_parser(["listing"]).parse_args(["list", "models"]).what
    'models'
    """
    parser = _Parser(prog="simtrain", description="Simulate distributed training when communication is the "
                                                  "bottleneck.")
    parser.add_argument("--version", action="version", version=f"simtrain {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    for name in commands:
        importlib.import_module(f"simtrain.cli.{name}").add_parser(sub)
    return parser


def _no_empty_values(argv: Sequence[str]) -> None:
    """An option given an empty value (``--trace ''``, ``--perturbations=``) is a :class:`ConfigError`: the value
    would read as no value at all, or as the current folder, and the run go on without what was asked."""
    for index, token in enumerate(argv):
        if not token.strip() and (index == 0 or not argv[index - 1].startswith("--") or "=" in argv[index - 1]):
            # an empty positional argument (``import-trace ''``) reads as the current folder: refused alike
            raise ConfigError("is empty: give it a value", source="<cli>",
                              key=f"argument {index + 1} ({argv[0] if index else 'the command'})", value=token)
        if not token.startswith("--"):
            continue
        flag, equals, value = token.partition("=")
        if not equals:
            if index + 1 >= len(argv) or argv[index + 1] != "" or token == "--":
                continue
            value = ""
        if not value.strip():
            raise ConfigError("is empty: give it a value, or leave the option out", source="<cli>", key=flag,
                              value=value)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input or an unwritable output, 1 when a solver gave
    up, 130 when interrupted).

    Examples
    --------
    >>> main(["list", "modls"])
    2
    """
    parser: argparse.ArgumentParser | None = None
    args: argparse.Namespace | None = None
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        module = _command_module(argv)
        parser = build_parser(COMMANDS if module is None else (module,))
        args = parser.parse_args(argv)
        _no_empty_values(argv)
        code = int(args.func(args))
        try:
            sys.stdout.flush()   # a full disk or device behind stdout is reported here, not as noise at exit
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError("<stdout>", reason(exc)) from None
        return code
    except ConfigError as exc:
        if parser is not None and args is not None:
            exc = to_cli_error(exc, flag_table(parser).get(args.command, {}))
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except (InfeasibleError, OutputError) as exc:
        if isinstance(exc, OutputError) and exc.path == "<stdout>":
            _settle_stdout()
        if isinstance(exc, OutputError) and exc.flag and parser is not None and args is not None:
            # a library parameter's name (``out``) as the command line says it (``--out``)
            flag = flag_table(parser).get(args.command, {}).get(exc.flag)
            exc = OutputError(exc.path, exc.reason, flag) if flag else exc
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except SimtrainError as exc:   # not the input's fault (a solver gave up): one line, status 1
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # pragma: no cover - e.g. piping into head
        _settle_stdout()
        return 0
    except OSError as exc:   # a file the command could not use that no reader or writer named: still one line
        _settle_stdout()
        # every file simtrain writes goes through simtrain.outputs, which names it: a full disk with no name is
        # standard output's (a print that filled its buffer on a full disk or /dev/full)
        full = exc.filename is None and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        where = "<stdout>: cannot write: " if full else f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{reason(exc)}", file=sys.stderr)
        return 2
    except MemoryError as exc:   # an input past what the machine holds, that no bound caught first: still one line
        _settle_stdout()
        detail = f" ({one_line(exc)})" if str(exc) else ""
        print(f"error: the run needs more memory than this machine has{detail}: give smaller sizes (GPUs, devices, "
              "channels, chunks, layers or servers)", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:   # Ctrl-C: one line, whatever the command was doing
        _quiet_interrupt()
        print(f"interrupted{': ' + one_line(exc) if str(exc) else ''}", file=sys.stderr)
        return 130


def _settle_stdout() -> bool:
    """Flush standard output; when it cannot be written (a full disk, ``/dev/full``, a closed pipe), point it at
    ``os.devnull`` so the interpreter's last flush at exit has nothing left to fail on. Returns whether it flushed."""
    try:
        sys.stdout.flush()
        return True
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return False


def _quiet_interrupt() -> None:
    """After Ctrl-C, nothing more on stderr: no Dask log lines from a cluster shutting down, no warnings."""
    import logging
    import warnings

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
