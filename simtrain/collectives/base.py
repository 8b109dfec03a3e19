"""The algorithm contract, the registry, and the two entry points ``build_schedule`` and ``collective_time``.

An algorithm is a :class:`CollectiveAlgorithm`: a name, the operations it implements, its keyword parameters
declared once as :class:`~simtrain.params.Param` (validated by :func:`simtrain.registry.make`), and a builder
``build(op, chunk_bytes, ranks, cluster, **params) -> list[StepPattern]`` that describes one chunk. Register a
new one with :func:`register_algorithm` (or the ``simtrain.algorithms`` entry point group) and every command
can use it.

Examples
--------
>>> from simtrain.topology import switch
>>> r = collective_time("all-reduce", "64 MiB", switch(8, "100 GB/s", "1 us"), algorithm="ring")
>>> round(r.time_s * 1e3, 4)
1.2024
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain import units
from simtrain.collectives.schedule import OPERATIONS, Schedule, StepPattern
from simtrain.errors import ConfigError
from simtrain.limits import MAX_CHUNKS, MAX_COLLECTIVE_BYTES, check_count
from simtrain.params import Param
from simtrain.registry import Registry, format_spec, make
from simtrain.topology.cluster import Cluster

__all__ = ["ALGORITHMS", "CollectiveAlgorithm", "ConfiguredAlgorithm", "build_grouped_schedule", "build_schedule",
           "collective_time", "register_algorithm"]

Builder = Callable[..., list[StepPattern]]


def _as_parameters(params: Sequence[Param] | Mapping[str, Any] | None) -> tuple[Param, ...]:
    """Declarations from a tuple of Param, or (the old contract) a mapping of name → default of any value."""
    if params is None:
        return ()
    if isinstance(params, Mapping):
        return tuple(Param(name, "any", default) for name, default in params.items())
    return tuple(params)


@dataclass(frozen=True)
class CollectiveAlgorithm:
    """A registered collective algorithm.

    Attributes
    ----------
    name : str
        Registry name (``ring``, ``multidim-ring`` …).
    operations : tuple of str
        Operations it implements.
    build : callable
        ``build(op, chunk_bytes, ranks, cluster, **params) -> list[StepPattern]`` for one chunk, called with
        validated parameters.
    parameters : tuple of Param
        Its keyword parameters, declared once (type, bounds, default, help).
    summary : str
        One line for ``simtrain list algorithms``.
    """

    name: str
    operations: tuple[str, ...]
    build: Builder
    parameters: tuple[Param, ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", _as_parameters(self.parameters))

    @property
    def params(self) -> dict[str, Any]:
        """Parameter → default (derived from :attr:`parameters`)."""
        return {p.name: p.default for p in self.parameters}


@dataclass(frozen=True)
class ConfiguredAlgorithm:
    """A collective algorithm with validated parameters: what ``make(ALGORITHMS, spec)`` returns.

    Examples
    --------
    >>> from simtrain.registry import make
    >>> ring = make(ALGORITHMS, "ring:channels=2")
    >>> ring.name, ring.get_params(), ring.describe()
    ('ring', {'channels': 2}, 'ring:channels=2')
    """

    algorithm: CollectiveAlgorithm
    params: dict[str, Any]

    @property
    def name(self) -> str:
        """The registry name."""
        return self.algorithm.name

    @property
    def operations(self) -> tuple[str, ...]:
        """Operations it implements."""
        return self.algorithm.operations

    def get_params(self) -> dict[str, Any]:
        """The parameters, defaults included."""
        return dict(self.params)

    def describe(self) -> str:
        """``name:key=value,...`` with the parameters that differ from their defaults."""
        defaults = self.algorithm.params
        return format_spec(self.name, {k: v for k, v in self.params.items() if v != defaults.get(k)})

    def build(self, op: str, chunk_bytes: float, ranks: np.ndarray, cluster: Cluster) -> list[StepPattern]:
        """The patterns of one chunk."""
        return self.algorithm.build(op, chunk_bytes, ranks, cluster, **self.params)


ALGORITHMS: Registry[CollectiveAlgorithm] = Registry(
    "algorithm", "simtrain.algorithms", "algorithm", factory=lambda algo, params: ConfiguredAlgorithm(algo, params))


def register_algorithm(name: str, operations: Sequence[str], params: Sequence[Param] | Mapping[str, Any] | None = None,
                       summary: str = "") -> Callable[[Builder], Builder]:
    """Decorator registering a builder function as algorithm ``name``.

    Parameters
    ----------
    name : str
        Registry name.
    operations : sequence of str
        Operations it implements.
    params : sequence of Param, optional
        Its keyword parameters (a mapping of name → default is read as parameters of any value).
    summary : str
        One line for ``simtrain list algorithms``.

    Examples
    --------
    >>> @register_algorithm("my-direct-bcast", ["broadcast"], summary="root sends to everyone")
    ... def _build(op, n, ranks, cluster):
    ...     return [StepPattern(np.full(len(ranks) - 1, ranks[0]), ranks[1:], n, label="broadcast")]
    >>> "my-direct-bcast" in ALGORITHMS.names()
    True
    """
    for op in operations:
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}")

    def decorate(builder: Builder) -> Builder:
        ALGORITHMS.register(name, CollectiveAlgorithm(name, tuple(operations), builder, _as_parameters(params),
                                                      summary))
        return builder

    return decorate


def _size(size: Any) -> float:
    if isinstance(size, str):
        try:
            value = units.parse_size(size)
        except units.UnitError as exc:
            raise ConfigError(str(exc), key="size") from None
    elif isinstance(size, (int, float, np.integer, np.floating)) and not isinstance(size, bool):
        value = float(size)
    else:
        raise ConfigError("must be a size such as '25 MiB' or a number of bytes", key="size", value=size)
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError("must be a positive size", key="size", value=size)
    if value > MAX_COLLECTIVE_BYTES:
        raise ConfigError("too large a collective", key="size", value=size, allowed="at most 1 PiB")
    return value


def spec_chunks(params: dict[str, Any], default: int, spec: str) -> int:
    """The chunks an algorithm spec gives (``NAME:chunks=C``, popped from its ``params``), else ``default``: bounded
    as the ``chunks`` run parameter is, an error naming the spec (key ``algorithm``), not a flag the user did not type.

    Examples
    --------
    >>> params = {"chunks": 4, "channels": 2}
    >>> spec_chunks(params, 1, "ring:chunks=4,channels=2"), params
    (4, {'channels': 2})
    >>> spec_chunks({}, 3, "ring")
    3
    """
    if "chunks" not in params:
        return default
    chunks = params.pop("chunks")
    if isinstance(chunks, bool) or not isinstance(chunks, int) or not 1 <= chunks <= MAX_CHUNKS:
        raise ConfigError(f"chunks must be an integer from 1 to {MAX_CHUNKS}", key="algorithm", value=spec)
    return chunks


def build_schedule(
    op: str,
    size: Any,
    cluster: Cluster,
    algorithm: str = "ring",
    *,
    ranks: Sequence[int] | np.ndarray | None = None,
    chunks: int = 1,
    cache: Any = None,
    **params: Any,
) -> Schedule:
    """Build the Schedule of collective ``op`` of ``size`` bytes on ``cluster`` with ``algorithm``.

    Parameters
    ----------
    op : str
        ``all-reduce``, ``reduce-scatter``, ``all-gather``, ``broadcast``, ``reduce`` or ``all-to-all``.
    size : float or str
        The full buffer (nccl-tests convention), in bytes or with a unit (``"1 GiB"``).
    cluster : Cluster
        Where it runs.
    algorithm : str
        Registry name; see ``simtrain list algorithms``.
    ranks : sequence of int, optional
        Participating ranks in algorithm order (default: all GPUs). The root of broadcast/reduce is the first.
    chunks : int
        Number of chunks the buffer is split into (pipelining).
    cache : NetworkCache, optional
        Routes and rates of ``cluster`` that ``auto`` may share with the engines that will run the Schedule (its
        choice evaluates candidates); it never changes the answer.
    **params
        Algorithm parameters (e.g. ``servers`` for ``ps``).

    Returns
    -------
    Schedule

    Examples
    --------
    >>> from simtrain.topology import torus
    >>> s = build_schedule("all-reduce", "1 GiB", torus([4, 4], "50 GiB/s"), "multidim-ring")
    >>> [p.label for p in s.patterns]
    ['reduce-scatter dim0', 'reduce-scatter dim1', 'all-gather dim1', 'all-gather dim0']
    """
    if op not in OPERATIONS:
        raise ConfigError("unknown operation", key="op", value=op, choices=OPERATIONS)
    algo: ConfiguredAlgorithm = make(ALGORITHMS, algorithm, key="algorithm", **params)
    if op not in algo.operations:
        raise ConfigError(f"operation not implemented by algorithm {algo.name!r}", key="op", value=op,
                          choices=algo.operations)
    nbytes = _size(size)
    if not isinstance(cluster, Cluster):
        raise ConfigError("must be a Cluster (simtrain.topology.load_topology(name, gpus=N) makes one from a name)",
                          key="cluster", value=repr(cluster))
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise ConfigError("must be a positive integer", key="chunks", value=chunks)
    check_count(chunks, MAX_CHUNKS, key="chunks")   # every caller: the flag, a spec's chunks=, Python
    if ranks is None:
        rank_array = np.arange(cluster.num_gpus, dtype=np.int64)
    else:
        given = np.asarray(ranks)
        # ranks are integers: a bool or 1.5 would be read as a rank silently (0, 1) by the cast below
        if given.dtype.kind not in "iu" and not (given.dtype == object and all(
                isinstance(r, numbers.Integral) and not isinstance(r, (bool, np.bool_)) for r in given.ravel())):
            raise ConfigError("must be integer GPU ranks", key="ranks", value=ranks)
        rank_array = given.astype(np.int64)
        if rank_array.ndim != 1 or rank_array.size == 0:
            raise ConfigError("must be a non-empty list of ranks", key="ranks", value=ranks)
        if rank_array.min() < 0 or rank_array.max() >= cluster.num_gpus:
            raise ConfigError(f"ranks must lie in [0, {cluster.num_gpus})", key="ranks", value=ranks)
        if len(np.unique(rank_array)) != len(rank_array):
            raise ConfigError("ranks must be distinct", key="ranks", value=ranks)
    if algo.name == "auto":
        if chunks != 1:
            raise ConfigError("auto chooses its own chunks (NCCL's pipeline); leave chunks at 1, or name an "
                              "algorithm to chunk it (ring, ...)", key="chunks", value=chunks)
        from simtrain.collectives.nccl import auto_schedule

        return auto_schedule(op, nbytes, cluster, [rank_array], [1.0], cache, **algo.get_params())
    patterns = algo.build(op, nbytes / chunks, rank_array, cluster)
    return Schedule(op, algo.name, nbytes, rank_array, tuple(patterns), chunks, algo.get_params())


def build_grouped_schedule(
    op: str,
    sizes: Sequence[float],
    cluster: Cluster,
    algorithm: str,
    groups: Sequence[np.ndarray],
    *,
    chunks: int = 1,
    cache: Any = None,
    **params: Any,
) -> Schedule:
    """One Schedule running the same collective concurrently on disjoint rank groups (sizes may differ).

    ``cache`` as in :func:`build_schedule`.

    The groups must have equal sizes, so their schedules have the same shape and merge step by step.

    Examples
    --------
    >>> from simtrain.topology import switch
    >>> s = build_grouped_schedule("all-reduce", [4e6, 8e6], switch(8, 1e9), "ring",
    ...                            [np.arange(4), np.arange(4, 8)])
    >>> s.bytes_sent == 2 * 3 * (4e6 + 8e6)
    True
    """
    if len(groups) == 1:
        return build_schedule(op, sizes[0], cluster, algorithm, ranks=groups[0], chunks=chunks, cache=cache,
                              **params)
    configured = make(ALGORITHMS, algorithm, key="algorithm", **params)
    if configured.name == "auto" and sizes[0] > 0:
        from simtrain.collectives.nccl import auto_schedule

        return auto_schedule(op, float(sum(sizes)), cluster, [np.asarray(g) for g in groups], list(sizes), cache,
                             **configured.get_params())
    channels = make(ALGORITHMS, algorithm, key="algorithm", **params).params.get("channels", 1)
    if len({len(g) for g in groups}) == 1 and sizes[0] > 0 and channels == 1:
        # Every algorithm places flows by a rank's position in its group, so the other groups' patterns are the
        # first group's relabelled (tested against building each group): one build instead of one per group.
        # Not so for multi-channel rings, which rotate each node's run of ranks: those build every group.
        first = _one_group_endpoints(build_schedule(op, sizes[0], cluster, algorithm, ranks=groups[0],
                                                    chunks=chunks, **params), algorithm)
        merged = _relabel(first.patterns, np.stack([np.asarray(g) for g in groups]),
                          np.asarray(sizes, dtype=np.float64) / sizes[0], cluster.num_gpus)
    else:
        parts = [_one_group_endpoints(build_schedule(op, size, cluster, algorithm, ranks=group, chunks=chunks,
                                                     **params), algorithm)
                 for size, group in zip(sizes, groups)]
        merged = merge_group_patterns([part.patterns for part in parts], [len(g) for g in groups])
        first = parts[0]
    return Schedule(op, algorithm, float(sum(sizes)), np.concatenate(list(groups)), tuple(merged), chunks,
                    first.params)


def _one_group_endpoints(schedule: Schedule, algorithm: str) -> Schedule:
    """``schedule``, unless it names endpoints beyond its ranks (BytePS's CPU server machines): how concurrent
    groups would share those servers is not modelled, so grouped collectives refuse them."""
    if len(schedule.endpoints) > len(schedule.ranks):
        raise ConfigError("CPU server machines serve one group of ranks: grouped collectives (--parallel plans, a "
                          "scheme's sub-groups) cannot use them; set topology.cpu_servers.count=0 or drop the "
                          "grouping", key="algorithm", value=algorithm)
    return schedule


def merge_group_patterns(parts: Sequence[Sequence[StepPattern]], group_sizes: Sequence[int]) -> list[StepPattern]:
    """Merge the patterns of concurrent per-group schedules step by step (their shapes must match)."""
    shape = [(p.repeat, p.stages, p.chain_id is not None) for p in parts[0]]
    if any([(p.repeat, p.stages, p.chain_id is not None) for p in part] != shape for part in parts[1:]):
        raise ConfigError("grouped collectives need groups of equal size", key="groups", value=list(group_sizes))
    merged = []
    for index, first in enumerate(parts[0]):
        pieces = [part[index] for part in parts]
        chain_id = None
        if first.chain_id is not None:
            ids = [p.chain_id if p.chain_id is not None else np.zeros(0, dtype=np.int64) for p in pieces]
            shifts = np.cumsum([0] + [int(c.max()) + 1 if c.size else 0 for c in ids[:-1]])
            chain_id = np.concatenate([c + shift for c, shift in zip(ids, shifts)])
        stage_of_flow = None
        if first.stage_of_flow is not None:
            stage_of_flow = np.concatenate([p.stage_of_flow for p in pieces if p.stage_of_flow is not None])
        efficiency = offset = None
        if any(p.efficiency is not None for p in pieces):
            efficiency = np.concatenate([np.ones(p.num_flows) if p.efficiency is None else p.efficiency
                                         for p in pieces])
        if any(p.latency_offset_s is not None for p in pieces):
            offset = np.concatenate([np.zeros(p.num_flows) if p.latency_offset_s is None else p.latency_offset_s
                                     for p in pieces])
        merged.append(StepPattern(
            np.concatenate([p.src for p in pieces]), np.concatenate([p.dst for p in pieces]),
            np.concatenate([p.nbytes for p in pieces]), first.repeat, max(p.reduce_bytes for p in pieces),
            first.label, chain_id, first.stages, stage_of_flow, max(p.step_latency_s for p in pieces), efficiency,
            offset))
    return merged


def _relabel(patterns: Sequence[StepPattern], groups: np.ndarray, ratios: np.ndarray,
             num_gpus: int) -> list[StepPattern]:
    """The first group's patterns copied onto every group (rows of ``groups``), bytes scaled by ``ratios``;
    the same arrays :func:`merge_group_patterns` makes from per-group builds."""
    position = np.full(num_gpus, -1, dtype=np.int64)
    position[groups[0]] = np.arange(groups.shape[1])
    count = groups.shape[0]
    merged = []
    for p in patterns:
        chain_id = None
        if p.chain_id is not None:
            span = int(p.chain_id.max()) + 1 if p.chain_id.size else 0
            chain_id = (p.chain_id[None, :] + span * np.arange(count)[:, None]).ravel()
        stage_of_flow = np.tile(p.stage_of_flow, count) if p.stage_of_flow is not None else None
        efficiency = np.tile(p.efficiency, count) if p.efficiency is not None else None
        offset = np.tile(p.latency_offset_s, count) if p.latency_offset_s is not None else None
        merged.append(StepPattern(
            groups[:, position[p.src]].ravel(), groups[:, position[p.dst]].ravel(),
            (ratios[:, None] * p.nbytes[None, :]).ravel(), p.repeat, float(p.reduce_bytes * ratios.max()),
            p.label, chain_id, p.stages, stage_of_flow, p.step_latency_s, efficiency, offset))
    return merged


def collective_time(
    op: str,
    size: Any,
    cluster: Cluster,
    algorithm: str = "ring",
    *,
    engine: str = "analytical",
    options: Any = None,
    ranks: Sequence[int] | np.ndarray | None = None,
    chunks: int = 1,
    **params: Any,
) -> Any:
    """Build and evaluate a collective; returns a :class:`~simtrain.network.CollectiveResult`.

    Examples
    --------
    >>> from simtrain.topology import ring
    >>> r = collective_time("all-gather", "8 MB", ring(8, "10 GB/s", "1 us"))
    >>> round(r.time_s * 1e6, 3)      # 7 steps of (1 us + 1 MB / 10 GB/s)
    707.0
    """
    from simtrain.network import ENGINES, run_engine

    if engine not in ENGINES:
        raise ConfigError("unknown engine", key="engine", value=engine, choices=ENGINES)
    options = _network_options(options)
    if _size(size) < 1:   # a collective of a user's moves whole bytes (a scheme's own payloads may be fractions)
        raise ConfigError("is a fraction of a byte", key="size", value=size, allowed="at least 1 B")
    schedule = build_schedule(op, size, cluster, algorithm, ranks=ranks, chunks=chunks, **params)
    return run_engine(engine, schedule, cluster, options)


def _network_options(options: Any) -> Any:
    """``options`` as :class:`~simtrain.network.NetworkOptions`: given so, or a mapping of its keys (as a run's
    ``network`` takes them), or ``None``."""
    from simtrain.network import NetworkOptions

    if options is None or isinstance(options, NetworkOptions):
        return options
    if isinstance(options, Mapping):
        return NetworkOptions.from_mapping(options)
    raise ConfigError("must be NetworkOptions or a mapping of network keys", key="options", value=options)
