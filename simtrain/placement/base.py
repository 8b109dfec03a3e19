"""The placer interface and registry.

A placer is a class with a ``name``, keyword parameters stored by ``__init__`` (``get_params()`` returns them),
and ``place(graph, devices, memory_model)`` returning a :class:`Placement`: a device per op and, for placers
that schedule while they place (m-ETF, m-SCT, exact), the start and end of every op. Every placer honours the
graph's co-location groups; the shared options regroup the graph first:

* ``colocate`` (default true): honour co-location groups (false: every op may go anywhere);
* ``pair_backward`` (default true): backward and update ops go with their forward op (Baechi's
  ``colocate_gradients_with_ops``);
* ``coplace`` (default false): Baechi's coplace grouper, an op with exactly one successor joins its group.

Users add placers with :func:`register_placer` (or the ``simtrain.placers`` entry-point group).

Examples
--------
>>> sorted(PLACERS.names())
['exact', 'expert', 'm-etf', 'm-sct', 'm-topo', 'round-robin', 'single']
>>> make_placer("m-sct:threshold=0.2").get_params()["threshold"]
0.2
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from simtrain.errors import ConfigError
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.registry import Registry, parse_spec

__all__ = ["PLACERS", "Placement", "Placer", "make_placer", "register_placer"]


@dataclass(frozen=True)
class Placement:
    """A placer's answer: ``device[i]`` for op ``i``; ``start``/``end`` when the placer also scheduled."""

    device: np.ndarray
    start: np.ndarray | None = None
    end: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def makespan_s(self) -> float | None:
        """The placer's own step-time estimate, if it scheduled."""
        return None if self.end is None or not len(self.end) else float(self.end.max())


class Placer:
    """Base class: stores keyword parameters; subclasses implement :meth:`_place`."""

    name: ClassVar[str] = ""

    def __init__(self, *, colocate: bool = True, pair_backward: bool = True, coplace: bool = False) -> None:
        self.colocate = colocate
        self.pair_backward = pair_backward
        self.coplace = coplace

    def get_params(self) -> dict[str, Any]:
        """The keyword parameters, as given to ``__init__`` (round-trips through :func:`make_placer`)."""
        params: dict[str, Any] = {}
        for cls in type(self).__mro__:
            if cls is object:
                continue
            for pname in inspect.signature(vars(cls).get("__init__", object.__init__)).parameters:
                if pname not in ("self", "kwargs") and hasattr(self, pname):
                    params.setdefault(pname, getattr(self, pname))
        return dict(sorted(params.items()))

    def prepare(self, graph: OpGraph) -> OpGraph:
        """The graph with the co-location groups this placer honours."""
        if not self.colocate:
            return graph.with_groups(np.arange(graph.num_ops))
        if self.pair_backward or self.coplace:
            return graph.merged_groups(pairs=self.pair_backward, coplace=self.coplace)
        return graph

    def place(self, graph: OpGraph, devices: Devices, memory_model: str = "live") -> Placement:
        """Place ``graph`` on ``devices`` (memory limits under ``memory_model``)."""
        return self._place(self.prepare(graph), devices, memory_model)

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:  # pragma: no cover
        raise NotImplementedError


PLACERS: Registry[type[Placer]] = Registry("placer", "simtrain.placers", "--algorithm")


def register_placer(cls: type[Placer]) -> type[Placer]:
    """Class decorator registering a placer under ``cls.name``."""
    PLACERS.register(cls.name, cls)
    return cls


def make_placer(spec: str | Placer, **params: Any) -> Placer:
    """A placer from ``NAME[:key=value,...]`` (or a Placer, returned as is).

    Examples
    --------
    >>> make_placer("m-etf").name
    'm-etf'
    """
    if isinstance(spec, Placer):
        return spec
    name, parsed = parse_spec(spec, key="--algorithm")
    cls = PLACERS.get(name)
    merged = {**parsed, **params}
    try:
        return cls(**merged)
    except TypeError as exc:
        allowed = ", ".join(p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs"))
        raise ConfigError(f"bad parameters for {name}: {exc}", source="<cli>", key="--algorithm",
                          value=spec if isinstance(spec, str) else name, allowed=allowed or "none") from None
