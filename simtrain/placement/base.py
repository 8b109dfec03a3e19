"""The placer interface and registry.

A placer is a class with a ``name``, keyword parameters declared once as :class:`~simtrain.params.Param` in
``parameters`` and stored by ``__init__`` as attributes (``get_params()`` returns them), and
``place(graph, devices, memory_model)`` returning a :class:`Placement`: a device per op and, for placers
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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from simtrain.errors import ConfigError
from simtrain.params import Param
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.registry import Registry, format_spec, make, param_error, read_plugin_params

__all__ = ["PLACERS", "SHARED_PARAMETERS", "Placement", "Placer", "make_placer", "register_placer"]


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


#: The options every placer shares (see the module docstring).
SHARED_PARAMETERS: tuple[Param, ...] = (
    Param("colocate", "boolean", True, "honour co-location groups (false: every op may go anywhere)"),
    Param("pair_backward", "boolean", True, "backward and update ops go with their forward op"),
    Param("coplace", "boolean", False, "Baechi's coplace grouper: an op with one successor joins its group"),
)


class Placer:
    """Base class: validates and stores the keyword parameters declared in ``parameters``; subclasses implement
    :meth:`_place`.

    A subclass declares ``parameters = (Param(...), ..., *SHARED_PARAMETERS)``; ``__init__`` validates them
    (errors keyed ``placer NAME:PARAM``), sets each as an attribute and calls :meth:`validate` for the checks
    between parameters.
    """

    name: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = SHARED_PARAMETERS
    colocate: bool
    pair_backward: bool
    coplace: bool

    def __init__(self, **params: Any) -> None:
        values = read_plugin_params(self.parameters, params, role="placer", name=self.name)
        for key, value in values.items():
            setattr(self, key, value)
        self.validate()

    def validate(self) -> None:
        """Check what the parameters' declarations cannot (one against another)."""

    def _error(self, key: str, message: str, value: Any, allowed: str | None = None) -> ConfigError:
        """A ConfigError about parameter ``key`` of this placer (key ``placer NAME:KEY``)."""
        return param_error("placer", self.name, key, message, value, allowed=allowed)

    def get_params(self) -> dict[str, Any]:
        """The parameters, defaults included, sorted by name (round-trips through :func:`make_placer`)."""
        return dict(sorted((p.name, getattr(self, p.name)) for p in self.parameters))

    def describe(self) -> str:
        """``name:key=value,...`` with the parameters that differ from their defaults.

        Examples
        --------
        >>> make_placer("m-sct", threshold=0.5).describe()
        'm-sct:threshold=0.5'
        """
        defaults = {p.name: p.default for p in self.parameters}
        return format_spec(self.name, {k: v for k, v in self.get_params().items() if v != defaults[k]})

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


PLACERS: Registry[type[Placer]] = Registry("placer", "simtrain.placers", "placer")


def register_placer(cls: type[Placer]) -> type[Placer]:
    """Class decorator registering a placer under ``cls.name``."""
    PLACERS.register(cls.name, cls)
    return cls


def make_placer(spec: str | tuple[str, Mapping[str, Any]] | Placer, *, key: str = "placer", **params: Any) -> Placer:
    """A placer from ``NAME[:key=value,...]`` or ``(name, params)`` (or a Placer, returned as is).

    Parameters
    ----------
    spec : str, (str, mapping) or Placer
        The placer.
    key : str
        The role the spec was given as, for errors (``placer``).
    **params
        Parameters that replace the spec's.

    Examples
    --------
    >>> make_placer("m-etf").name
    'm-etf'
    >>> make_placer("m-sct:threshold=2")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: placer m-sct:threshold: must be at most 1 (got 2)
    """
    if isinstance(spec, Placer):
        return spec
    placer: Placer = make(PLACERS, spec, key=key, **params)
    return placer
