"""Ring algorithms: the textbook unidirectional ring in rank order, on one or several channels.

All-reduce is a reduce-scatter then an all-gather, each p-1 steps of n/p bytes to the next rank
(Patarasuk & Yuan 2009): ``T = 2(p-1)·α + 2(p-1)/p·n/B`` uncontended. Broadcast and reduce are pipelined
chains from/to the first rank; all-to-all forwards along the ring, step k carrying the (p-k) blocks not yet
delivered: ``T = (p-1)·α + (p-1)/2·n/B``.

``channels = C`` runs C rings at once, each on 1/C of the buffer, as NCCL does (one ring per channel); a broadcast
or reduce runs C chains, each its channel's ring from the root round to the rank before it. Ring c
visits the nodes in the same order but enters every node at GPU ⌊c·g/C⌋ of its g (each node's ranks rotated),
so on a rail-optimised cluster (GPU l uses NIC l·nics/g) the rings cross nodes through NICs spread evenly:
with C = NICs per node every NIC carries one ring in each direction, and the bus bandwidth approaches the
node's aggregate NIC bandwidth (docs/references.md, "nccl-tests bus bandwidth") instead of one NIC's. Inside a
node the C rings move the same bytes per GPU as one ring.

On a full mesh (every pair of the group joined by a link of its own: AMD's xGMI nodes, a ``fully_connected``
dimension) rotated rings would all cross the same links, so there the C rings are edge-disjoint directed
Hamiltonian cycles (:func:`mesh_rings`): p - 1 of them for p ranks up to 27 (p ≠ 4, 6; fewer beyond), one through
each of a GPU's links, as NCCL's and RCCL's topology searches place their channels on distinct links (RCCL: "all
XGMI links are used" with 8 MI300X, ROCm/rccl #1270).

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

__all__ = ["MESH_RANKS", "chain", "channel_orders", "mesh_channel_orders", "mesh_ring_count", "mesh_rings",
           "ring_steps"]

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


def _hamiltonian(p: int, used: np.ndarray, start: int, end: int | None, second: int | None,
                 budget: list[int]) -> Iterator[list[int]]:
    """Hamiltonian routes of the complete digraph on ``p`` vertices that avoid the ``used`` edges: cycles from
    ``start`` (``end`` None) or paths from ``start`` to ``end``, through ``second`` next when given, trying
    successors by forward stride; each extension spends one of ``budget[0]`` steps, and :class:`_Budget` is raised
    when none are left."""
    path, seen = [start], [v == start for v in range(p)]

    def extend() -> Iterator[list[int]]:
        budget[0] -= 1
        if budget[0] < 0:
            raise _Budget
        u = path[-1]
        if len(path) == p:
            if (u == end) if end is not None else not used[u, start]:
                yield list(path)
            return
        nexts = [second] if second is not None and len(path) == 1 else [(u + k) % p for k in range(1, p)]
        for v in nexts:
            if not seen[v] and not used[u, v] and (v != end or len(path) == p - 1):
                path.append(v)
                seen[v] = True
                yield from extend()
                path.pop()
                seen[v] = False

    yield from extend()


def _mark(used: np.ndarray, route: list[int], value: bool, cycle: bool = True) -> None:
    hops = np.array(route)
    used[(hops, np.roll(hops, -1)) if cycle else (hops[:-1], hops[1:])] = value


def _disjoint(p: int, specs: list[tuple[int, int | None, int | None]], steps: int) -> list[list[int]] | None:
    """Edge-disjoint Hamiltonian routes, one per ``(start, end, second)`` of ``specs`` (:func:`_hamiltonian`'s),
    by backtracking over them all; None when they are not found within ``steps``."""
    used = np.zeros((p, p), dtype=bool)
    found: list[list[int]] = []
    budget = [steps]

    def place(k: int) -> bool:
        if k == len(specs):
            return True
        start, end, second = specs[k]
        for route in _hamiltonian(p, used, start, end, second, budget):
            _mark(used, route, True, cycle=end is None)
            found.append(route)
            if place(k + 1):
                return True
            found.pop()
            _mark(used, route, False, cycle=end is None)
        return False

    try:
        return found if place(0) else None
    except _Budget:
        return None


def _first(p: int, used: np.ndarray, start: int, end: int | None, steps: int) -> list[int] | None:
    """The first Hamiltonian route from ``start`` a search finds among the unused edges within ``steps``."""
    try:
        return next(_hamiltonian(p, used, start, end, None, [steps]), None)
    except _Budget:
        return None


def _search_rings(p: int, steps: int) -> list[list[int]]:
    """p - 1 edge-disjoint directed Hamiltonian cycles, by backtracking (ring k leaves vertex 0 for vertex k + 1, as
    a full set uses every edge out of 0 once); [] when they are not found within ``steps``."""
    return _disjoint(p, [(0, None, k + 1) for k in range(p - 1)], steps) or []


def _greedy_rings(p: int, steps: int) -> list[list[int]]:
    """Edge-disjoint directed Hamiltonian cycles taken one after another, each the first a search finds within
    ``steps`` (no backtracking across rings)."""
    used = np.zeros((p, p), dtype=bool)
    rings: list[list[int]] = []
    while (ring := _first(p, used, 0, None, steps)) is not None:
        rings.append(ring)
        _mark(used, ring, True)
    return rings


@functools.cache
def _mesh_paths(length: int, channels: int) -> tuple[tuple[int, ...], ...]:
    """In-node paths of ``channels`` rings through a full mesh of ``length`` GPUs, one per channel: from position
    ⌊c·L/C⌋, where :func:`channel_orders` enters the node, to the position before it, where it leaves. Paths from
    distinct entries share no link when a backtracking search finds them within :data:`MESH_SEARCH_STEPS` (every
    L ≤ 16 but 3, 4 and 5 with one channel per GPU); otherwise each is the first a search finds among the links left,
    or the rotated run (s, s+1, …, s-1) when none is left."""
    entries = list(dict.fromkeys((c * length) // channels for c in range(channels)))
    found = _disjoint(length, [(s, (s - 1) % length, None) for s in entries], MESH_SEARCH_STEPS)
    if found is None:
        used = np.zeros((length, length), dtype=bool)
        found = []
        for s in entries:
            route = (_first(length, used, s, (s - 1) % length, MESH_GREEDY_STEPS)
                     or [(s + i) % length for i in range(length)])
            _mark(used, route, True, cycle=False)
            found.append(route)
    by_entry = dict(zip(entries, found))
    return tuple(tuple(by_entry[(c * length) // channels]) for c in range(channels))


def _meshes(grid: np.ndarray, cluster: object) -> bool:
    """Whether the ranks of every row of ``grid`` form a full mesh: each ordered pair joined by one link of its
    own."""
    routes_of = getattr(cluster, "routes", None)
    length = grid.shape[1]
    if routes_of is None or length < 3 or length > MESH_RANKS:
        return False
    if grid.shape[0] > 1 and not _meshes(grid[:1], cluster):   # most clusters answer on their first node
        return False
    link_src, link_dst = getattr(cluster, "link_src", None), getattr(cluster, "link_dst", None)
    if link_src is not None and link_dst is not None:
        # most clusters answer here: the first rank has no link of its own to every other (a switch, a torus)
        reached = link_dst[link_src == grid[0, 0]]
        if np.isin(grid[0, 1:], reached).sum() != length - 1:
            return False
    src, dst = np.repeat(grid, length, axis=1).ravel(), np.tile(grid, (1, length)).ravel()
    apart = src != dst
    if int(apart.sum()) != grid.shape[0] * length * (length - 1):   # a rank twice in a row
        return False
    routes = routes_of(src[apart], dst[apart])
    return bool(np.all(routes.lengths == 1) and np.unique(routes.links).size == routes.links.size)


def mesh_channel_orders(ranks: np.ndarray, cluster: object, channels: int) -> np.ndarray | None:
    """Ring orders of ``channels`` rings across nodes whose GPUs form full meshes, or None where they do not.

    Each ring enters and leaves every node's run of ranks where :func:`channel_orders` has it (so the NICs carry the
    same rings) but crosses the node on its own path (:func:`_mesh_paths`), so the channels spread over the GPUs'
    links instead of all crossing the same one (NCCL's and RCCL's searches put channels on distinct links). Every
    node's run must have the same length.

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> orders = mesh_channel_orders(np.arange(16), load_topology("mi300x", gpus=16), 8)
    >>> orders.shape, orders[0, :8].tolist() == channel_orders(np.arange(16), 8, 8)[0, :8].tolist()
    ((8, 16), True)
    >>> mesh_channel_orders(np.arange(16), load_topology("dgx-h100", gpus=16), 8) is None   # NVSwitch nodes
    True
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    node = ranks // max(int(getattr(cluster, "gpus_per_node", 1)), 1)
    starts = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
    lengths = np.diff(np.r_[starts, len(ranks)])
    if starts.size < 2 or np.any(lengths != lengths[0]):
        return None
    grid = ranks.reshape(starts.size, int(lengths[0]))
    if not _meshes(grid, cluster):
        return None
    paths = np.array(_mesh_paths(grid.shape[1], int(channels)), dtype=np.int64)   # [channel, position]
    return grid[:, paths].transpose(1, 0, 2).reshape(int(channels), -1)


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
    return len(_mesh_rings(len(ranks))) if _meshes(ranks[None, :], cluster) else 1


@register_algorithm(
    "ring",
    ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce", "all-to-all"],
    params=(Param("channels", "integer", 1, "rings run at once, each on 1/C of the buffer", minimum=1,
                  maximum=MAX_CHANNELS),),
    summary="unidirectional ring in rank order (pipelined chain for broadcast/reduce); channels=C: C rings (or "
            "chains from the root), each entering a node at a different GPU (NCCL's channels), or on a full mesh "
            "each on its own links",
)
def build_ring(op: str, n: float, ranks: np.ndarray, cluster: object, channels: int = 1) -> list[StepPattern]:
    """Patterns of one chunk of the ring algorithm (``channels`` validated by its declaration)."""
    if channels > 1 and op == "all-to-all":
        raise param_error("algorithm", "ring", "channels",
                          "channels > 1 is implemented for all-reduce, reduce-scatter, all-gather, broadcast and "
                          "reduce, not all-to-all", channels)
    p = len(ranks)
    if p < 2:
        return []
    if op != "all-to-all":
        orders = None
        if channels > 1 and mesh_ring_count(ranks, cluster) > 1:
            # a full mesh: ring c on edge-disjoint cycle c (cycles reused round-robin past their count)
            rings = mesh_rings(p)
            orders = ranks[rings[np.arange(int(channels)) % len(rings)]]
        elif channels > 1:   # across nodes: on full-mesh nodes each ring crosses a node on its own path
            orders = mesh_channel_orders(ranks, cluster, int(channels))
        if orders is None:
            orders = channel_orders(ranks, int(getattr(cluster, "gpus_per_node", 1)), int(channels))
        if op in ("broadcast", "reduce"):
            # each channel's ring from the root (the first rank) round to the rank before it: a chain on 1/C of
            # the buffer, flowing away from the root (broadcast) or towards it (reduce)
            start = np.argmax(orders == ranks[0], axis=1)
            chains = np.take_along_axis(orders, (start[:, None] + np.arange(p)[None, :]) % p, axis=1)
            if op == "broadcast":
                return [chain(chains, n / channels, False, "broadcast chain")]
            return [chain(chains[:, ::-1], n / channels, True, "reduce chain")]
        # all channels' flows run concurrently in one pattern; each ring carries 1/C of the buffer
        return ring_steps(orders.ravel(), np.roll(orders, -1, axis=1).ravel(), n / channels, p, op)
    src, dst = ranks, np.roll(ranks, -1)
    # all-to-all: step k forwards the (p-k) blocks still in transit
    block = n / p
    return [StepPattern(src, dst, (p - k) * block, 1, 0.0, f"all-to-all step {k}") for k in range(1, p)]
