"""Schedule: what a collective does on the wire, as an ordered list of step patterns.

A :class:`StepPattern` is a set of flows ``(src_rank, dst_rank, bytes)`` that run concurrently, repeated
``repeat`` times; a rank's next step waits for the step before (its send waits for its receive). Symmetric
algorithms stay compact: ring all-reduce on p ranks is one pattern of p flows repeated p-1 times for the
reduce-scatter and again for the all-gather, so evaluating it costs O(p), not O(p²).

Two pattern shapes describe pipelines:

* ``chain``: the flows are successive stages of a pipeline (a chain broadcast or reduce), grouped by
  ``chain_id``; one chunk takes the sum of its chain's stage times, and the chain accepts a new chunk every
  max-stage time.
* ``stages > 1``: a pipelined tree of ``stages`` levels whose flows (all tree edges) are busy concurrently in the
  steady state; one chunk takes ``stages`` step times.

A Schedule carries ``chunks``: the buffer is split into that many chunks, each flowing through all patterns.
Patterns hold the bytes of *one chunk*. Both engines evaluate the same Schedule.

Examples
--------
>>> from simtrain.collectives import build_schedule
>>> from simtrain.topology import ring
>>> s = build_schedule("all-reduce", 8 * 2**20, ring(8, "10 GB/s"), "ring")
>>> [(p.label, p.repeat, p.num_flows) for p in s.patterns]
[('reduce-scatter', 7, 8), ('all-gather', 7, 8)]
>>> s.bytes_sent == 2 * 7 * 8 * 2**20     # 2(p-1) n
True
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["OPERATIONS", "TEMPLATE_BYTES", "Schedule", "StepPattern", "build_template"]

#: Collective operations, named as in nccl-tests (``sendrecv``: nccl-tests' sendrecv_perf, every rank sending its
#: whole buffer to the next rank and receiving the previous one's, the pattern of pipeline stages' sends).
OPERATIONS = ("all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce", "all-to-all", "sendrecv")

#: Templates are built at this size and resized (:meth:`Schedule.resized`), so a schedule's bytes depend only on its
#: template and its size, never on which size happened to build the template first (a power of two: the resize
#: factor is exact).
TEMPLATE_BYTES = float(2**30)


def build_template(build: Callable[[float], Schedule], algorithm: str, size_bytes: float) -> Schedule:
    """A template for collectives of ``algorithm`` (a Schedule to resize, :meth:`Schedule.resized`), ``build``
    called with the size to build it at, for a first collective of ``size_bytes``.

    A template is built at :data:`TEMPLATE_BYTES`, except ``auto``'s: a Schedule that NCCL's tuner chose
    chooses afresh at every size it is resized to, so its own size decides nothing, and it is built at the size
    first asked for (the choice NCCL would make at 2^30 bytes, which no collective of the run may need, is never
    worked out). Where ``auto`` runs something without a tuner (all-to-all, push-pull), the template is built
    again at :data:`TEMPLATE_BYTES`, as any other.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-h100", gpus=16)
    >>> sizes = []
    >>> def build(size):
    ...     sizes.append(size)
    ...     return build_schedule("all-reduce", size, c, "auto")
    >>> t = build_template(build, "auto", 2**20)
    >>> sizes == [2**20], t.resized(2**30).size_bytes == 2**30
    (True, True)
    """
    if algorithm == "auto" and size_bytes > 0:
        schedule = build(float(size_bytes))
        if schedule.tuner is not None:
            return schedule
    return build(TEMPLATE_BYTES)


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only in place: a pattern takes the endpoint arrays its builder made (no copy), and
    nothing may change them after, since engines cache routes under their digest."""
    array.flags.writeable = False
    return array


def _per_flow(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``values`` (a scalar or one per flow) as float64, one per flow, read-only (a plain view where it already
    is one per flow: patterns are rescaled at every size)."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.shape == shape:
        view = values.view()
        view.flags.writeable = False
        return view
    return np.broadcast_to(np.asarray(values, dtype=np.float64), shape)


@dataclass(frozen=True, eq=False)
class StepPattern:
    """Concurrent flows of one step, repeated.

    Attributes
    ----------
    src, dst : ndarray of int
        Global ranks of each flow.
    nbytes : ndarray of float
        Bytes of each flow for one chunk.
    repeat : int
        Times the step is repeated back to back.
    reduce_bytes : float
        Bytes a receiving rank reduces per step (for the optional local-reduction charge).
    label : str
        Phase name shown in reports.
    chain_id : ndarray of int or None
        For chain patterns: which pipeline each flow belongs to (flows of a chain listed in stage order).
    stages : int
        For pipelined trees: levels a chunk traverses (1 for ordinary patterns).
    stage_of_flow : ndarray of int or None
        For chains and trees: the pipeline stage of each flow (0 first), which the DES runs in order.
    step_latency_s : float
        A protocol's per-step latency beyond the wire's (:mod:`simtrain.network.protocol`): both engines charge it
        on every step, like the per-step network options.
    efficiency : ndarray of float or None
        A protocol's bandwidth efficiency per flow: a flow's transfer takes its bytes over ``rate x efficiency``
        (``None``: line rate).
    latency_offset_s : ndarray of float or None
        Added to each flow's path latency (the sum of its links'): a protocol's latency beyond the wire's, which
        may be negative where NCCL's measured end-to-end latency is below the path's
        (:func:`simtrain.network.protocol.with_protocol`); a detour taken later (a failed link) still adds its
        extra hops. ``None``: none.
    """

    src: Any  # array-like on input, an int64 ndarray after __post_init__
    dst: Any
    nbytes: Any  # a scalar or per-flow array-like on input, a float64 ndarray after __post_init__
    repeat: int = 1
    reduce_bytes: float = 0.0
    label: str = ""
    chain_id: np.ndarray | None = None
    stages: int = 1
    stage_of_flow: np.ndarray | None = None
    step_latency_s: float = 0.0
    efficiency: np.ndarray | None = None
    latency_offset_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        src = np.asarray(self.src, dtype=np.int64)
        object.__setattr__(self, "src", _frozen(src))
        object.__setattr__(self, "dst", _frozen(np.asarray(self.dst, dtype=np.int64)))
        for name in _PER_FLOW_FIELDS:
            object.__setattr__(self, name, _field_value(name, getattr(self, name), src.shape))

    @property
    def flows_key(self) -> bytes:
        """A digest (SHA-1) of the flows' endpoints: engines key routes and rates by it (content, never ``id()``).

        The endpoint arrays are read-only, so the digest, computed once, stays true.

        Examples
        --------
        >>> a = StepPattern([0, 1], [1, 0], 1.0)
        >>> a.flows_key == StepPattern([0, 1], [1, 0], 5.0).flows_key != StepPattern([1, 0], [0, 1], 1.0).flows_key
        True
        """
        key = self.__dict__.get("_flows_key")
        if key is None:
            # SHA-1 runs on the CPU's SHA instructions: about twice BLAKE2's speed on these arrays; a key, not a seal
            digest = hashlib.sha1(np.int64(self.src.size).tobytes(), usedforsecurity=False)
            for array in (self.src, self.dst):
                digest.update(array.data if array.flags.c_contiguous else array.tobytes())
            key = digest.digest()
            object.__setattr__(self, "_flows_key", key)
        return key

    @property
    def levels(self) -> tuple[np.ndarray, ...]:
        """The flows of each stage of a chain or tree, stage 0 first, each in flow order (an empty array for a
        stage without flows); worked out once per pattern and kept by :meth:`replaced`.

        Examples
        --------
        >>> [a.tolist() for a in StepPattern([0, 1, 2], [1, 2, 3], 1.0, stage_of_flow=[1, 0, 1]).levels]
        [[1], [0, 2]]
        """
        found = self.__dict__.get("_levels")
        if found is None:
            if self.stage_of_flow is None:
                raise ValueError("only a chain's or a tree's pattern has stages")
            order = np.argsort(self.stage_of_flow, kind="stable")
            counts = np.bincount(self.stage_of_flow)
            found = tuple(np.split(order, np.cumsum(counts)[:-1]))
            object.__setattr__(self, "_levels", found)
        return found

    @property
    def num_flows(self) -> int:
        """Flows in one step."""
        return len(self.src)

    @property
    def is_chain(self) -> bool:
        """Whether flows are successive pipeline stages."""
        return self.chain_id is not None

    @property
    def bytes_per_step(self) -> float:
        """Bytes all flows of one step carry (one chunk)."""
        return float(self.nbytes.sum())

    def scaled(self, factor: float, **changes: Any) -> StepPattern:
        """The same pattern with every flow's bytes (and reduction bytes) multiplied by ``factor`` (and
        ``changes``, as :meth:`replaced`)."""
        return self.replaced(nbytes=self.nbytes * factor, reduce_bytes=self.reduce_bytes * factor, **changes)

    def replaced(self, **changes: Any) -> StepPattern:
        """The same flows with other fields (bytes, costs); they keep the endpoint arrays, so the same digest.

        Examples
        --------
        >>> a = StepPattern([0, 1], [1, 0], 1.0)
        >>> b = a.replaced(efficiency=0.5)
        >>> b.flows_key == a.flows_key and b.src is a.src and b.efficiency.tolist() == [0.5, 0.5]
        True
        """
        if "src" in changes or "dst" in changes:
            raise TypeError("replaced() keeps a pattern's flows; build a new StepPattern for others")
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"StepPattern has no field {sorted(unknown)[0]!r}")
        # the flows and every field not changed are already in their checked form: copy the state (no __init__,
        # which would check them all again; patterns are rescaled at every size)
        state = dict(self.__dict__)
        state["_flows_key"] = self.flows_key
        if "stage_of_flow" in changes:   # other stages: other levels
            state.pop("_levels", None)
        for name, value in changes.items():
            state[name] = _field_value(name, value, self.src.shape)
        out = object.__new__(StepPattern)
        out.__dict__.update(state)
        return out


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(StepPattern))
#: Fields whose values are normalised (:func:`_field_value`) rather than kept as given.
_PER_FLOW_FIELDS = ("nbytes", "chain_id", "stage_of_flow", "efficiency", "latency_offset_s")


def _field_value(name: str, value: Any, shape: tuple[int, ...]) -> Any:
    """A StepPattern field's value in its checked form: per-flow float arrays (:func:`_per_flow`), integer
    stage and chain arrays (the stages read-only: their levels are kept), any other field as given."""
    if name == "nbytes" or (name in ("efficiency", "latency_offset_s") and value is not None):
        return _per_flow(value, shape)
    if name == "chain_id" and value is not None:
        return np.asarray(value, dtype=np.int64)
    if name == "stage_of_flow" and value is not None:
        return _frozen(np.asarray(value, dtype=np.int64))
    return value


@dataclass(frozen=True, eq=False)
class Schedule:
    """An ordered list of step patterns for one collective.

    Attributes
    ----------
    op : str
        One of :data:`OPERATIONS`.
    algorithm : str
        Registry name of the algorithm that built it.
    size_bytes : float
        The collective's size, as in nccl-tests: the full buffer (the reduced vector; the gathered output).
    ranks : ndarray of int
        The participating global ranks.
    patterns : tuple of StepPattern
        In order; each holds the bytes of one chunk.
    chunks : int
        Number of chunks the buffer is split into.
    params : dict
        The algorithm's parameters (for ``auto``, what it chose: ``algorithm``, ``protocol`` …).
    base_latency_s : float
        A protocol's latency per collective (launch and synchronisation), charged once by both engines.
    protocol : str
        The protocol whose costs the patterns carry (``none``: bytes at line rate).
    tuner : object or None
        For ``auto``: what chooses the algorithm and protocol again when the schedule is :meth:`resized`.
    """

    op: str
    algorithm: str
    size_bytes: float
    ranks: np.ndarray
    patterns: tuple[StepPattern, ...]
    chunks: int = 1
    params: dict[str, object] = field(default_factory=dict)
    base_latency_s: float = 0.0
    protocol: str = "none"
    tuner: Any = None

    @property
    def num_ranks(self) -> int:
        """Participating ranks."""
        return len(self.ranks)

    @property
    def endpoints(self) -> np.ndarray:
        """Every endpoint the schedule's flows name: its ranks, then (sorted) any others, such as the CPU
        server hosts of ``byteps`` (:mod:`simtrain.topology.hosts`). Engines keep a ready time for each.

        Examples
        --------
        >>> s = Schedule("all-reduce", "x", 1.0, np.array([1, 0]), (StepPattern([0, 1], [9, 9], 1.0),))
        >>> s.endpoints.tolist()
        [1, 0, 9]
        """
        found = self.__dict__.get("_endpoints")
        if found is None:
            ranks = np.asarray(self.ranks, dtype=np.int64)
            top = max((int(a.max()) for p in self.patterns for a in (p.src, p.dst) if a.size), default=-1)
            found = ranks
            if ranks.size and top > int(ranks.max()):   # only then can a flow name an endpoint beyond the ranks
                named = np.concatenate([a for p in self.patterns for a in (p.src, p.dst)])
                found = np.concatenate([ranks, np.setdiff1d(named, ranks).astype(np.int64)])
            object.__setattr__(self, "_endpoints", found)
        return found

    @property
    def bytes_sent(self) -> float:
        """Bytes sent by all ranks together over the whole collective (all chunks); with CPU server hosts
        (``byteps``) their sends are included. Worked out once (the patterns' bytes are read-only)."""
        found = self.__dict__.get("_bytes_sent")
        if found is None:
            found = self.chunks * sum(p.repeat * p.bytes_per_step for p in self.patterns)
            object.__setattr__(self, "_bytes_sent", found)
        return found

    def resized(self, size_bytes: float) -> Schedule:
        """The same schedule for another buffer size (every flow's bytes scale with the buffer).

        The flow arrays are shared, so an engine's route and rate cache serves both. A schedule chosen by ``auto``
        chooses again for the new size (NCCL decides per call, by size).
        """
        if self.tuner is not None:
            return self.tuner.schedule(size_bytes)
        factor = size_bytes / self.size_bytes
        resized = Schedule(self.op, self.algorithm, size_bytes, self.ranks,
                           tuple(p.scaled(factor) for p in self.patterns), self.chunks, self.params,
                           self.base_latency_s, self.protocol)
        if "_endpoints" in self.__dict__:   # the same flow arrays: the same endpoints
            object.__setattr__(resized, "_endpoints", self.__dict__["_endpoints"])
        return resized

    @property
    def num_steps(self) -> int:
        """Sequential steps of one chunk (pipeline stages of chains and trees counted once each)."""
        total = 0
        for p in self.patterns:
            if p.is_chain:
                assert p.chain_id is not None
                total += int(np.bincount(p.chain_id).max()) if p.num_flows else 0
            else:
                total += p.repeat * p.stages
        return total
