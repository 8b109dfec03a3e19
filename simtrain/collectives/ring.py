"""Ring algorithms: the textbook unidirectional ring in rank order, on one or several channels.

All-reduce is a reduce-scatter then an all-gather, each p-1 steps of n/p bytes to the next rank
(Patarasuk & Yuan 2009): ``T = 2(p-1)·α + 2(p-1)/p·n/B`` uncontended. Broadcast and reduce are pipelined
chains from/to the first rank; all-to-all forwards along the ring, step k carrying the (p-k) blocks not yet
delivered: ``T = (p-1)·α + (p-1)/2·n/B``.

``channels = C`` runs C rings at once, each on 1/C of the buffer, as NCCL does (one ring per channel). Ring c
visits the nodes in the same order but enters every node at GPU ⌊c·g/C⌋ of its g (each node's ranks rotated),
so on a rail-optimised cluster (GPU l uses NIC l·nics/g) the rings cross nodes through NICs spread evenly:
with C = NICs per node every NIC carries one ring in each direction, and the bus bandwidth approaches the
node's aggregate NIC bandwidth (docs/references.md, "nccl-tests bus bandwidth") instead of one NIC's. Inside a
node the C rings move the same bytes per GPU as one ring.

On a full mesh (every pair of the group joined by a link of its own: AMD's xGMI nodes, a ``fully_connected``
dimension) rotated rings would all cross the same links, so there the C rings are edge-disjoint directed
Hamiltonian cycles (:func:`mesh_rings`): p - 1 of them for p ranks (p ≠ 4, 6), one through each of a GPU's links,
as NCCL's and RCCL's topology searches place their channels on distinct links (RCCL: "all XGMI links are used"
with 8 MI300X, ROCm/rccl #1270).

Examples
--------
>>> from simtrain.topology import ring as ring_topology
>>> from simtrain.collectives import collective_time
>>> c = ring_topology(4, "1 GB/s", "1 us")
>>> round(collective_time("all-reduce", 4e6, c, "ring").time_s, 9)
0.006006
>>> from simtrain.topology import hierarchical
>>> h = hierarchical(2, 4, intra_bandwidth="100 GB/s", nics_per_node=4, nic_bandwidth="10 GB/s")
>>> one = collective_time("all-reduce", 1e9, h, "ring").time_s
>>> four = collective_time("all-reduce", 1e9, h, "ring", channels=4).time_s
>>> round(one / four, 2)          # four rings through four NICs per node
4.0
>>> from simtrain.topology import fully_connected
>>> mesh = fully_connected(8, "64 GB/s")
>>> one = collective_time("all-reduce", 1e9, mesh, "ring").time_s
>>> seven = collective_time("all-reduce", 1e9, mesh, "ring", channels=7).time_s
>>> round(one / seven, 2)         # seven rings, each on its own link of every GPU
7.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern
from simtrain.limits import MAX_CHANNELS
from simtrain.params import Param
from simtrain.registry import param_error

__all__ = ["MESH_RANKS", "chain", "channel_orders", "mesh_ring_count", "mesh_rings", "ring_steps"]

#: The largest group whose full mesh gets edge-disjoint rings (p(p-1) routes are checked; its p - 1 rings stay
#: within MAX_CHANNELS). Beyond it, a group's channels are rotated rings whatever its links.
MESH_RANKS = 64
#: Steps of the exhaustive ring search (within them it finds p - 1 rings for every p up to 27 but 4 and 6), then of
#: a greedy search per ring (p - 6 or better up to 64): together under a second at 64 ranks, once per process and p.
MESH_SEARCH_STEPS = 200_000
MESH_GREEDY_STEPS = 20_000


def ring_steps(src: np.ndarray, dst: np.ndarray, chunk_bytes: float, size: int, op: str,
               label_suffix: str = "") -> list[StepPattern]:
    """Reduce-scatter and/or all-gather steps on a ring of ``size`` ranks given by ``src -> dst`` flows.

    ``chunk_bytes`` is the buffer the ring reduces (all-reduce, reduce-scatter) or gathers (all-gather); each
    step moves ``chunk_bytes / size`` per flow.
    """
    if size < 2:
        return []
    block = chunk_bytes / size
    patterns = []
    if op in ("all-reduce", "reduce-scatter"):
        patterns.append(StepPattern(src, dst, block, size - 1, block, "reduce-scatter" + label_suffix))
    if op in ("all-reduce", "all-gather"):
        patterns.append(StepPattern(src, dst, block, size - 1, 0.0, "all-gather" + label_suffix))
    return patterns


def chain(order: np.ndarray, chunk_bytes: float, reduce: bool, label: str,
          chain_ids: np.ndarray | None = None) -> StepPattern:
    """A pipelined chain along ``order`` (one row per chain when 2-D): data flows from ``order[0]`` onward.

    For a reduce, pass the chain already reversed (it then flows toward the last rank of each row).
    """
    rows = np.atleast_2d(order)
    src = rows[:, :-1].ravel()
    dst = rows[:, 1:].ravel()
    ids = np.repeat(np.arange(rows.shape[0]), rows.shape[1] - 1) if chain_ids is None else chain_ids
    position = np.tile(np.arange(rows.shape[1] - 1), rows.shape[0])
    return StepPattern(src, dst, chunk_bytes, 1, chunk_bytes if reduce else 0.0, label, chain_id=ids,
                       stage_of_flow=position)


def channel_orders(ranks: np.ndarray, gpus_per_node: int, channels: int) -> np.ndarray:
    """Ring orders of ``channels`` rings (one row each), spreading where they enter and leave each node.

    Ranks keep their node order; within each node's run of g ranks (``r // gpus_per_node`` equal, in order of
    appearance) ring c of C starts at the run's rank ⌊c·g/C⌋.

    Examples
    --------
    >>> channel_orders(np.arange(6), 3, 3).tolist()
    [[0, 1, 2, 3, 4, 5], [1, 2, 0, 4, 5, 3], [2, 0, 1, 5, 3, 4]]
    >>> channel_orders(np.arange(4), 4, 2).tolist()
    [[0, 1, 2, 3], [2, 3, 0, 1]]
    """
    node = ranks // max(gpus_per_node, 1)
    # runs of consecutive ranks on the same node, in order
    starts = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
    lengths = np.diff(np.r_[starts, len(ranks)])
    # per position: its run's start and length, and its offset in the run; ring c rotates each run left by
    # ⌊c·L/C⌋ (np.roll(run, -s)[i] = run[(i + s) % L]), all runs at once
    first = np.repeat(starts, lengths)
    length = np.repeat(lengths, lengths)
    offset = np.arange(len(ranks)) - first
    return np.stack([ranks[first + (offset + (c * length) // channels) % length] for c in range(channels)])


class _Budget(Exception):
    """A ring search ran out of steps."""


def _cycles(p: int, used: np.ndarray, first: int | None, budget: list[int]) -> Iterator[list[int]]:
    """Directed Hamiltonian cycles of the complete digraph on ``p`` vertices that avoid the ``used`` edges, from
    vertex 0 (through ``first`` next when given), trying successors by forward stride; each extension spends one of
    ``budget[0]`` steps, and :class:`_Budget` is raised when none are left."""
    path, seen = [0], [True] + [False] * (p - 1)

    def extend() -> Iterator[list[int]]:
        budget[0] -= 1
        if budget[0] < 0:
            raise _Budget
        u = path[-1]
        if len(path) == p:
            if not used[u, 0]:
                yield list(path)
            return
        nexts = [first] if first is not None and len(path) == 1 else [(u + k) % p for k in range(1, p)]
        for v in nexts:
            if not seen[v] and not used[u, v]:
                path.append(v)
                seen[v] = True
                yield from extend()
                path.pop()
                seen[v] = False

    yield from extend()


def _mark(used: np.ndarray, ring: list[int], value: bool) -> None:
    used[np.array(ring), np.roll(ring, -1)] = value


def _search_rings(p: int, steps: int) -> list[list[int]]:
    """p - 1 edge-disjoint directed Hamiltonian cycles, by backtracking (ring k leaves vertex 0 for vertex k + 1, as
    a full set uses every edge out of 0 once); [] when they are not found within ``steps``."""
    used = np.zeros((p, p), dtype=bool)
    rings: list[list[int]] = []
    budget = [steps]

    def place(k: int) -> bool:
        if k == p - 1:
            return True
        for ring in _cycles(p, used, k + 1, budget):
            _mark(used, ring, True)
            rings.append(ring)
            if place(k + 1):
                return True
            rings.pop()
            _mark(used, ring, False)
        return False

    try:
        return rings if place(0) else []
    except _Budget:
        return []


def _greedy_rings(p: int, steps: int) -> list[list[int]]:
    """Edge-disjoint directed Hamiltonian cycles taken one after another, each the first a search finds within
    ``steps`` (no backtracking across rings)."""
    used = np.zeros((p, p), dtype=bool)
    rings: list[list[int]] = []
    while True:
        try:
            ring = next(_cycles(p, used, None, [steps]), None)
        except _Budget:
            ring = None
        if ring is None:
            return rings
        rings.append(ring)
        _mark(used, ring, True)


@functools.cache
def _mesh_rings(p: int) -> tuple[tuple[int, ...], ...]:
    found = _search_rings(p, MESH_SEARCH_STEPS)
    if not found:
        strides = [[(i * s) % p for i in range(p)] for s in range(1, p) if math.gcd(s, p) == 1]
        found = max(_greedy_rings(p, MESH_GREEDY_STEPS), strides, key=len)
    return tuple(map(tuple, found))


def mesh_rings(p: int) -> np.ndarray:
    """Edge-disjoint rings through every position of a full mesh of ``p`` ranks: one row per ring, in the order
    the ring visits the positions (row 0 is ``0, 1, ..., p - 1``).

    The complete digraph on p vertices splits into p - 1 directed Hamiltonian cycles for every p except 4 and 6
    (Tillson 1980). A backtracking search finds them within :data:`MESH_SEARCH_STEPS` (every p up to 27 but 4 and
    6); otherwise the larger of a greedy search's rings (p - 2 for 4 and 6, 58 for 64) and the strides coprime to p
    (φ(p) rings). A fixed function of p, computed once per process.

    Examples
    --------
    >>> [len(mesh_rings(p)) for p in (2, 3, 4, 6, 8, 16, 20)]
    [1, 2, 2, 4, 7, 15, 19]
    >>> mesh_rings(3).tolist()
    [[0, 1, 2], [0, 2, 1]]
    """
    if not 2 <= p <= MESH_RANKS:
        raise ValueError(f"mesh rings are built for 2 to {MESH_RANKS} ranks, not {p}")
    rings = np.array(_mesh_rings(int(p)), dtype=np.int64)
    rings.setflags(write=False)
    return rings


def mesh_ring_count(ranks: np.ndarray, cluster: object) -> int:
    """How many edge-disjoint rings ``ranks`` hold: ``len(mesh_rings(p))`` when every ordered pair of them is
    joined by one link of its own (a full mesh, :data:`MESH_RANKS` ranks at most), else 1.

    Examples
    --------
    >>> from simtrain.topology import fully_connected, load_topology
    >>> mesh_ring_count(np.arange(8), fully_connected(8, "64 GB/s"))
    7
    >>> mesh_ring_count(np.arange(8), load_topology("dgx-h100", gpus=8))   # through the NVSwitch
    1
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    p = len(ranks)
    routes_of = getattr(cluster, "routes", None)
    if p < 3 or p > MESH_RANKS or routes_of is None or np.unique(ranks).size != p:
        return 1
    src, dst = np.repeat(ranks, p), np.tile(ranks, p)
    apart = src != dst
    routes = routes_of(src[apart], dst[apart])
    if not (np.all(routes.lengths == 1) and np.unique(routes.links).size == routes.links.size):
        return 1
    return len(_mesh_rings(p))


@register_algorithm(
    "ring",
    ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce", "all-to-all"],
    params=(Param("channels", "integer", 1, "rings run at once, each on 1/C of the buffer", minimum=1,
                  maximum=MAX_CHANNELS),),
    summary="unidirectional ring in rank order (pipelined chain for broadcast/reduce); channels=C: C rings, "
            "each entering a node at a different GPU (NCCL's channels), or on a full mesh each on its own links",
)
def build_ring(op: str, n: float, ranks: np.ndarray, cluster: object, channels: int = 1) -> list[StepPattern]:
    """Patterns of one chunk of the ring algorithm (``channels`` validated by its declaration)."""
    if channels > 1 and op not in ("all-reduce", "reduce-scatter", "all-gather"):
        raise param_error("algorithm", "ring", "channels",
                          f"channels > 1 is implemented for all-reduce, reduce-scatter and all-gather, not {op}",
                          channels)
    p = len(ranks)
    if p < 2:
        return []
    if op in ("all-reduce", "reduce-scatter", "all-gather"):
        if channels > 1 and mesh_ring_count(ranks, cluster) > 1:
            # a full mesh: ring c on edge-disjoint cycle c (cycles reused round-robin past their count)
            rings = mesh_rings(p)
            orders = ranks[rings[np.arange(int(channels)) % len(rings)]]
        else:
            orders = channel_orders(ranks, int(getattr(cluster, "gpus_per_node", 1)), int(channels))
        # all channels' flows run concurrently in one pattern; each ring carries 1/C of the buffer
        return ring_steps(orders.ravel(), np.roll(orders, -1, axis=1).ravel(), n / channels, p, op)
    src, dst = ranks, np.roll(ranks, -1)
    if op == "broadcast":
        return [chain(ranks, n, False, "broadcast chain")]
    if op == "reduce":
        return [chain(ranks[::-1], n, True, "reduce chain")]
    # all-to-all: step k forwards the (p-k) blocks still in transit
    block = n / p
    return [StepPattern(src, dst, (p - k) * block, 1, 0.0, f"all-to-all step {k}") for k in range(1, p)]
