"""The flags of a training run, generated from :data:`simtrain.run.RUN_PARAMS`: one flag per parameter, with its
meaning and default, so the command line cannot drift from the run description.

A flag's text is read as a YAML scalar for integers, numbers and booleans (``--batch 32`` is the integer 32) and
kept as text otherwise (``--bucket-size 25MiB``); the run description then validates it, and its errors, which name
the Python parameter, are shown with the flag (:func:`simtrain.cli._common.to_cli_error`).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_run_flags(parser)
>>> args = parser.parse_args(["--model", "resnet50", "--topology", "abci", "--batch", "16"])
>>> run_values(args)["batch"]
16
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from simtrain.config import yaml_scalar
from simtrain.params import Param
from simtrain.run import RUN_PARAMS

__all__ = ["add_run_flags", "flag_of", "run_values"]

_SCALAR_KINDS = ("integer", "number")
_METAVARS = {"integer": "N", "number": "X", "size": "SIZE", "choice": None, "boolean": None}


def flag_of(param: Param) -> str:
    """The flag of a parameter: ``bucket_size`` → ``--bucket-size``."""
    return "--" + param.name.replace("_", "-")


def _help(param: Param, default: Any) -> str:
    text = param.help
    if param.kind == "choice":
        text += f" ({', '.join(param.choice_list())})"
    if not param.required and default is not None:
        shown = str(default).lower() if isinstance(default, bool) else default
        text += f"; default {shown}"
    return text.replace("%", "%%")


def add_run_flags(parser: argparse.ArgumentParser, names: Iterable[str] | None = None,
                  defaults: Mapping[str, Any] | None = None) -> None:
    """Add a flag for each run parameter (or those in ``names``) to ``parser``; unset flags stay ``None``.

    ``defaults``: the command's own defaults where they differ from the run description's (its help says them;
    the command applies them)."""
    wanted = set(names) if names is not None else None
    for param in RUN_PARAMS:
        if wanted is not None and param.name not in wanted:
            continue
        text = _help(param, (defaults or {}).get(param.name, param.default))
        if param.kind == "boolean":
            parser.add_argument(flag_of(param), dest=param.name, action=argparse.BooleanOptionalAction,
                                default=None, help=text)
        else:
            parser.add_argument(flag_of(param), dest=param.name, required=param.required, default=None,
                                metavar=_METAVARS.get(param.kind, param.name.upper()), help=text)


def run_values(args: argparse.Namespace, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The run parameters given on the command line, as values for :class:`~simtrain.run.TrainingRun`."""
    wanted = set(names) if names is not None else None
    values: dict[str, Any] = {}
    for param in RUN_PARAMS:
        if wanted is not None and param.name not in wanted:
            continue
        text = getattr(args, param.name, None)
        if text is None:
            continue
        values[param.name] = yaml_scalar(text) if param.kind in _SCALAR_KINDS and isinstance(text, str) else text
    return values
