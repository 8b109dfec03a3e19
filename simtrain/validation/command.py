"""A validation case's ``simtrain`` command: one mapping of run parameters, run through the library, shown as CLI.

A :class:`Command` holds what a user would type, in the run-description vocabulary (``simtrain.run.RUN_PARAMS``
names, and dotted ``topology.KEY`` / ``network.KEY`` overrides as ``--set`` takes them). :meth:`Command.line`
prints it as a ``simtrain simulate`` or ``simtrain collective`` command; :meth:`Command.run` computes the same
figure through the library calls those commands make (:func:`simtrain.training.simulate` on a
:class:`~simtrain.run.TrainingRun`, or :func:`simtrain.collectives.collective_time` on a loaded topology) and returns
the dictionary ``--json`` prints. A key the case leaves out takes simtrain's default, so when a default changes (a
new compute model, NCCL's algorithm choice) the case follows it and ``simtrain validate --record`` re-records it.

Results are cached per command (a pure function of it: the catalogs are read-only within a process).

Examples
--------
>>> cmd = Command("collective", {"op": "all-reduce", "size": "1GiB", "topology": "dgx-h100", "gpus": 8,
...                              "network.protocol": "nccl"})
>>> cmd.line()
'simtrain collective --op all-reduce --size 1GiB --topology dgx-h100 --gpus 8 --set network.protocol=nccl'
>>> cmd.run()["num_ranks"]
8
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from simtrain.inputs import digits

__all__ = ["KINDS", "RUN_METHOD", "Command"]

RUN_METHOD = "simtrain.validation.command.Command.run(): the library calls of the command, the figure its --json prints"
"""The ``method`` of a case that is a :class:`Command` (the command itself is the case's ``command``)."""

KINDS = ("simulate", "collective")
"""The commands a case can be: ``simtrain simulate`` (a training step) and ``simtrain collective`` (one collective)."""


@dataclass(frozen=True)
class Command:
    """One ``simtrain`` command as a mapping of parameters (insertion order is the order printed).

    Attributes
    ----------
    kind : str
        ``simulate`` or ``collective`` (:data:`KINDS`).
    params : mapping
        Flag names (``model``, ``gpus``, ``op``, ``size``, ...) and dotted overrides (``topology.nic.count``,
        ``network.protocol``) to values; override values are written as ``--set`` takes them (``300GB/s``).
    """

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"command kind {self.kind!r} is not one of {KINDS}")
        object.__setattr__(self, "params", dict(self.params))

    def _key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.kind, tuple((k, str(v)) for k, v in self.params.items())

    def __hash__(self) -> int:
        return hash(self._key())

    def line(self) -> str:
        """The command line (plain flags first, then ``--set`` overrides, each in the order given).

        Examples
        --------
        >>> Command("simulate", {"model": "resnet50", "topology.device": "a100", "topology": "dgx-h100"}).line()
        'simtrain simulate --model resnet50 --topology dgx-h100 --set topology.device=a100'
        """
        flags: list[str] = []
        sets: list[str] = []
        for key, value in self.params.items():
            if "." in key:
                sets += ["--set", f"{key}={value}"]
            elif isinstance(value, bool):   # a switch: --flag or --no-flag
                flags.append(f"--{'' if value else 'no-'}{key.replace('_', '-')}")
            else:
                flags += [f"--{key.replace('_', '-')}", str(value)]
        return shlex.join(["simtrain", self.kind, *flags, *sets])

    def run(self) -> dict[str, Any]:
        """What ``LINE --json`` prints, computed through the library (a fresh copy each call)."""
        return dict(_run(self._key()))


def _typed(key: str, value: Any) -> Any:
    """An override value as ``--set`` reads it (``16`` an int, ``300GB/s`` a string for the loaders)."""
    from simtrain.config import parse_override

    return parse_override(f"{key}={value}")[1] if isinstance(value, str) else value


@lru_cache(maxsize=512)
def _run(key: tuple[str, tuple[tuple[str, str], ...]]) -> dict[str, Any]:
    kind, items = key
    params = {k: _typed(k, v) if "." in k else _plain(v) for k, v in items}
    if kind == "simulate":
        from simtrain.run import TrainingRun
        from simtrain.training import simulate

        return simulate(TrainingRun.from_mapping(params)).to_dict()
    return _collective(params)


def _plain(text: str) -> Any:
    if text in ("True", "False"):   # a switch, as ``_key`` wrote it
        return text == "True"
    return int(text) if digits(text) else text


def _collective(params: dict[str, Any]) -> dict[str, Any]:
    from simtrain.collectives import collective_time
    from simtrain.network import NetworkOptions
    from simtrain.registry import merge_spec_params
    from simtrain.run import RUN_PARAMS
    from simtrain.topology import load_topology

    default_algorithm = next(p.default for p in RUN_PARAMS if p.name == "algorithm")
    name, algo_params = merge_spec_params(str(params.get("algorithm", default_algorithm)),
                                          {k[len("algorithm."):]: v for k, v in params.items()
                                           if k.startswith("algorithm.")})
    chunks = algo_params.pop("chunks", params.get("chunks", 1))
    overrides = [(k[len("topology."):], v) for k, v in params.items() if k.startswith("topology.")]
    network = {k[len("network."):]: v for k, v in params.items() if k.startswith("network.")}
    cluster = load_topology(params["topology"], gpus=params.get("gpus"), overrides=overrides)
    result = collective_time(params["op"], params["size"], cluster, name, engine=params.get("engine", "analytical"),
                             options=NetworkOptions.from_mapping(network), chunks=chunks, **algo_params)
    data = result.to_dict()
    data["topology"] = cluster.name
    data["device"] = cluster.device
    return data
