"""The types both network engines share: per-step network options, a collective's result, a schedule's traffic.

The analytical engine (:mod:`simtrain.network.analytical`) and the discrete-event engine
(:mod:`simtrain.network.des`) both read :class:`NetworkOptions` and return :class:`CollectiveResult`; neither
imports the other's types.

Examples
--------
>>> NetworkOptions.from_mapping({"endpoint_delay": "2 us"}).step_overhead(0.0)
2e-06
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DEFAULT_MAX_EVENTS", "MAX_EVENTS", "NETWORK_KEYS", "CollectiveResult", "NetworkOptions", "Traffic",
           "network_params"]


#: user key → (kind of value, NetworkOptions field, description)
NETWORK_KEYS: dict[str, tuple[str, str, str]] = {
    "endpoint_delay": ("time", "endpoint_delay_s", "fixed delay charged on every collective step"),
    "local_reduction_bandwidth": ("bandwidth", "local_reduction_bandwidth_Bps",
                                  "memory bandwidth of the local reduction (unset: not charged)"),
    "reduction_memory_passes": ("number", "reduction_memory_passes", "memory passes per reduced byte (default 3)"),
    "protocol": ("choice", "protocol", "none (bytes at line rate, default) or nccl (NCCL's LL/LL128/Simple "
                                       "protocols, the fastest per collective; both engines)"),
    "max_events": ("count", "max_events", "DES: refuse (exit 2) a run estimated past this many messages (default "
                                          "600 million, about five minutes)"),
}

#: The DES's default bound on messages (flow starts) per run: at its best rate (~0.5 µs a message on a 2-core
#: machine, the 128x128 torus) about five minutes.
DEFAULT_MAX_EVENTS = 600_000_000
#: The most a run may raise that bound to: about 1.5 hours at the same rate (a larger one is no bound).
MAX_EVENTS = 10_000_000_000


def network_params() -> tuple[Any, ...]:
    """The declarations (:class:`simtrain.params.Param`) of the network keys."""
    from simtrain.limits import MAX_REDUCTION_PASSES, MAX_STEP_DELAY_S
    from simtrain.network.protocol import PROTOCOLS
    from simtrain.params import Param

    kinds: dict[str, dict[str, Any]] = {
             "time": {"kind": "time", "minimum": 0.0, "maximum": MAX_STEP_DELAY_S, "unit": "s"},
             "bandwidth": {"kind": "bandwidth", "minimum": 0.0, "exclusive_minimum": True, "unit": "B/s"},
             "number": {"kind": "number", "minimum": 0.0, "exclusive_minimum": True, "maximum": MAX_REDUCTION_PASSES},
             "count": {"kind": "integer", "minimum": 1, "maximum": MAX_EVENTS},
             "choice": {"kind": "choice", "choices": tuple(PROTOCOLS)}}
    return tuple(Param(key, default=None, help=text, **kinds[kind]) for key, (kind, _, text) in NETWORK_KEYS.items())


@dataclass(frozen=True)
class NetworkOptions:
    """Optional per-step charges (all off by default).

    Attributes
    ----------
    endpoint_delay_s : float
        Fixed delay added to every step.
    local_reduction_bandwidth_Bps : float or None
        Memory bandwidth of the local reduction; ``None`` charges nothing.
    reduction_memory_passes : float
        Memory passes per reduced byte (3: read two operands, write one).
    protocol : {'none', 'nccl'}
        ``nccl`` runs every collective that carries no protocol of its own under the protocols NCCL would run it
        with and takes the fastest (:func:`simtrain.network.protocol.protocol_candidates`; both engines);
        ``none`` moves bytes at line rate.
    max_events : int or None
        DES only: the most messages (flow starts) a run may be estimated to simulate before it starts; past it
        the run is refused with a :class:`~simtrain.errors.ConfigError`. ``None``: :data:`DEFAULT_MAX_EVENTS`.
        Never changes a result.
    """

    endpoint_delay_s: float = 0.0
    local_reduction_bandwidth_Bps: float | None = None
    reduction_memory_passes: float = 3.0
    protocol: str = "none"
    max_events: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str | None = None,
                     path: str = "network") -> NetworkOptions:
        """From user keys (:data:`NETWORK_KEYS`: ``endpoint_delay``, ``local_reduction_bandwidth``,
        ``reduction_memory_passes``, ``protocol``), values with units; read through the shared parameter
        vocabulary (:mod:`simtrain.params`), so errors name ``network.KEY`` (and the file, when ``source`` is one).

        Examples
        --------
        >>> NetworkOptions.from_mapping({"endpoint_delay": "2 us"}).endpoint_delay_s
        2e-06
        >>> NetworkOptions.from_mapping({"protocol": "nccl2"})
        Traceback (most recent call last):
        ...
        simtrain.errors.ConfigError: network.protocol: unknown value: 'nccl2' (did you mean 'nccl'?); ...
        """
        from simtrain.params import read_params

        values = read_params(network_params(), data, source=source, path=path)
        if values.get("reduction_memory_passes") is not None and values.get("local_reduction_bandwidth") is None:
            from simtrain.errors import ConfigError

            raise ConfigError("is read only with network.local_reduction_bandwidth (unset: no reduction charged)",
                              source=source, key=f"{path}.reduction_memory_passes",
                              value=values["reduction_memory_passes"],
                              allowed="set network.local_reduction_bandwidth too, or leave the passes unset")
        # a key given as null is unset, as one left out (every key's default is "unset")
        return cls(**{NETWORK_KEYS[key][1]: value for key, value in values.items()
                      if key in data and value is not None})

    def step_overhead(self, reduce_bytes: float) -> float:
        """Charges added to one step that reduces ``reduce_bytes`` bytes per rank."""
        overhead = self.endpoint_delay_s
        if self.local_reduction_bandwidth_Bps and reduce_bytes:
            overhead += self.reduction_memory_passes * reduce_bytes / self.local_reduction_bandwidth_Bps
        return overhead


@dataclass
class CollectiveResult:
    """Outcome of evaluating one collective.

    Attributes
    ----------
    time_s : float
        Completion time of the collective, all configured charges included.
    bytes_sent : float
        Bytes sent by all ranks together.
    bytes_by_class : dict
        Bytes that cross each link class (a flow counts once per class it crosses), summed over ranks;
        ``bytes_per_gpu_by_class`` gives them per GPU.
    phases : list of (str, float)
        Time one chunk spends in each pattern.
    link_bytes : ndarray
        Bytes carried by every link.
    """

    op: str
    algorithm: str
    engine: str
    num_ranks: int
    size_bytes: float
    chunks: int
    time_s: float
    bytes_sent: float
    bytes_by_class: dict[str, float]
    phases: list[tuple[str, float]] = field(default_factory=list)
    link_bytes: np.ndarray | None = field(default=None, repr=False)
    protocol: str = "none"

    @property
    def bytes_per_gpu(self) -> float:
        """Mean bytes sent per participating GPU."""
        return self.bytes_sent / self.num_ranks

    @property
    def bytes_per_gpu_by_class(self) -> dict[str, float]:
        """Bytes crossing each link class per participating GPU (``bytes_by_class`` is the sum over ranks): what
        the CLI prints, the JSON's ``bytes_per_gpu_by_link_class``, and the meaning of
        ``StepReport.bytes_per_gpu_by_class``."""
        return {k: v / self.num_ranks for k, v in self.bytes_by_class.items()}

    @property
    def algbw_Bps(self) -> float:
        """Algorithm bandwidth as in nccl-tests: size / time."""
        return self.size_bytes / self.time_s if self.time_s > 0 else float("inf")

    @property
    def busbw_Bps(self) -> float:
        """Bus bandwidth as in nccl-tests (algbw × the operation's factor)."""
        p = self.num_ranks
        factor = {"all-reduce": 2 * (p - 1) / p, "reduce-scatter": (p - 1) / p, "all-gather": (p - 1) / p,
                  "all-to-all": (p - 1) / p}.get(self.op, 1.0)
        return self.algbw_Bps * factor if factor else 0.0   # one rank: nothing crosses a bus (as nccl-tests)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping with unit-carrying names."""
        return {
            "op": self.op,
            "algorithm": self.algorithm,
            "engine": self.engine,
            "num_ranks": self.num_ranks,
            "size_bytes": self.size_bytes,
            "chunks": self.chunks,
            "protocol": self.protocol,
            "time_s": self.time_s,
            "algbw_Bps": self.algbw_Bps,
            "busbw_Bps": self.busbw_Bps,
            "bytes_sent_total": self.bytes_sent,
            "bytes_sent_per_gpu": self.bytes_per_gpu,
            "bytes_per_gpu_by_link_class": self.bytes_per_gpu_by_class,
            "phases": [{"label": label, "time_s": t} for label, t in self.phases],
        }


@dataclass
class Traffic:
    """Bytes a schedule puts on the network: per link class (a flow counts once per class it crosses) and per
    link."""

    class_bytes: np.ndarray
    link_bytes: np.ndarray
    class_names: tuple[str, ...] = ()

    @property
    def bytes_by_class(self) -> dict[str, float]:
        """Class name → bytes."""
        return {name: float(self.class_bytes[i]) for i, name in enumerate(self.class_names)}
