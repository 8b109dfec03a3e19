"""Run a ``simtrain`` command line for a validation case and read one figure from its JSON output.

A case built on :func:`simtrain_json` *is* its command: the same argument list is shown in the docs and run here
(in-process, through :func:`simtrain.cli.main`, with ``--json`` appended), so the figure a user gets from the
printed command is the figure the case compares. When the defaults change (a new compute model, NCCL's algorithm
choice), the case follows them; ``simtrain validate --record`` then re-records its error.

Results are cached per argument tuple (a pure function of it: the catalogs are read-only within a process).

Examples
--------
>>> doc = simtrain_json(("collective", "--op", "all-reduce", "--size", "1GB", "--topology", "dgx-h100",
...                      "--gpus", "8", "--algorithm", "ring"))
>>> doc["num_ranks"]
8
>>> command_line(("collective", "--op", "all-reduce", "--size", "1GB"))
'simtrain collective --op all-reduce --size 1GB'
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = ["command_line", "simtrain_json"]


def command_line(argv: Sequence[str]) -> str:
    """The shell form of ``simtrain ARGV`` (quoted where needed).

    Examples
    --------
    >>> command_line(("simulate", "--set", "topology.nic.bandwidth=100Gbit/s"))
    'simtrain simulate --set topology.nic.bandwidth=100Gbit/s'
    """
    return shlex.join(["simtrain", *argv])


@lru_cache(maxsize=512)
def _run(argv: tuple[str, ...]) -> str:
    from simtrain.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, "--json"])
    if code != 0:
        raise RuntimeError(f"{command_line(argv)} --json failed ({code}): {err.getvalue().strip()}")
    return out.getvalue()


def simtrain_json(argv: Sequence[str]) -> dict[str, Any]:
    """Run ``simtrain ARGV --json`` in-process and return the parsed object (a fresh copy each call).

    A non-zero exit raises :class:`RuntimeError` with the command and its error line.
    """
    doc = json.loads(_run(tuple(argv)))
    if not isinstance(doc, dict):
        raise RuntimeError(f"{command_line(argv)} --json printed {type(doc).__name__}, not an object")
    return doc
