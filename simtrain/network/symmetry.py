"""Symmetry classes of a run: ranks, links and flows that behave alike, found by colour refinement.

The DES's rule is deterministic, so two ranks that start alike, send and receive alike flows (same bytes, same
kinds of peers) over alike links (same capacity and latency, carrying alike flows) behave alike for the whole run.
:func:`refine` finds the coarsest such partition (an *equitable* partition of the graph of ranks, flows and links:
1-dimensional Weisfeiler-Leman colour refinement), derived from the Schedules' flows and the routes alone, never
from a model or a topology's name. It is then checked exactly (:func:`_equitable`): within a class every member
has the same number of neighbours of every other class. On an equitable partition the DES can run one flow per
flow class, with a multiplicity per link class (each link of class ``L`` carries ``w`` flows of class ``f``), and
one state per rank class: max-min water-filling and the ranks' state machines then take exactly the steps the
per-flow run takes (see :class:`Symmetry`).

A perturbation breaks the symmetry by itself: a straggler's factor or a degraded link's capacity is part of its
initial colour, so its class, and the classes of everything it touches, split.

Examples
--------
>>> import numpy as np
>>> from simtrain.topology import ring
>>> from simtrain.collectives import build_schedule
>>> cluster = ring(8, "1 GB/s", "1 us")
>>> sym = Symmetry.of([build_schedule("all-reduce", 8e6, cluster, "ring")], cluster)
>>> sym.num_rank_classes, sym.num_link_classes   # the links the ring does not use are a class of their own
(1, 2)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simtrain.collectives.schedule import Schedule, StepPattern
from simtrain.network.cache import NetworkCache
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["PatternClasses", "Symmetry", "refine"]

_MAX_ROUNDS = 200  # refinement stops earlier (when no class splits); this only bounds a pathological input


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 of every entry (uint64): a fixed, well-spread hash, so sums of hashes name multisets."""
    with np.errstate(over="ignore"):
        x = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _combine(*parts: np.ndarray) -> np.ndarray:
    """One hash of several uint64 columns (order matters)."""
    h = np.zeros(len(parts[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for salt, part in enumerate(parts):
            h = _mix(h ^ _mix(part.astype(np.uint64) + np.uint64((salt * 0x632BE59BD9B4E019) % 2**64)))
    return h


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids 0..k-1 of the distinct values, and k."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    uniq, inverse = np.unique(values, return_inverse=True)
    return inverse.astype(np.int64).ravel(), len(uniq)


def _segment_sums(values: np.ndarray, order: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per segment of a CSR grouping (``order``, ``offsets``), the wrapping uint64 sum of ``values[order]``."""
    counts = np.diff(offsets)
    out = np.zeros(len(counts), dtype=np.uint64)
    if order.size:
        nonempty = counts > 0
        with np.errstate(over="ignore"):
            out[nonempty] = np.add.reduceat(values[order], offsets[:-1][nonempty])
    return out


def _grouping(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR grouping of positions by ``keys`` (values in ``0..size-1``): (order, offsets)."""
    order = np.argsort(keys, kind="stable")
    offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=offsets[1:])
    return order, offsets


def refine(rank_color: np.ndarray, link_color: np.ndarray, src: np.ndarray, dst: np.ndarray, flow_color: np.ndarray,
           routes: Routes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Coarsest equitable partition of ranks, links and flows that refines the given colours.

    Parameters
    ----------
    rank_color, link_color, flow_color : ndarray of int
        Initial colours (entities of different colours are never put in one class).
    src, dst : ndarray of int
        Every flow's sending and receiving rank.
    routes : Routes
        Every flow's links.

    Returns
    -------
    (rank class, link class, flow class), dense ids; ``None`` if the partition found is not equitable (a hash
    collision, which the exact check catches).

    Examples
    --------
    >>> import numpy as np
    >>> from simtrain.topology.cluster import Routes
    >>> # a 4-rank ring on 4 links; rank 0 is slower (its own colour): everything splits by distance from it
    >>> routes = Routes(np.arange(5), np.arange(4))
    >>> r, l, f = refine(np.array([1, 0, 0, 0]), np.zeros(4, int), np.arange(4), np.roll(np.arange(4), -1),
    ...                  np.zeros(4, int), routes)
    >>> len(set(r.tolist())), len(set(f.tolist())), len(set(l.tolist()))
    (4, 4, 4)
    """
    num_ranks, num_links, num_flows = len(rank_color), len(link_color), len(flow_color)
    rc, n_r = _dense(np.asarray(rank_color))
    lc, n_l = _dense(np.asarray(link_color))
    fc, n_f = _dense(np.asarray(flow_color))
    entry_flow = routes.flow_of_entry
    entry_link = routes.links
    by_link = _grouping(entry_link, num_links)
    by_src = _grouping(src, num_ranks)
    by_dst = _grouping(dst, num_ranks)
    lengths = routes.lengths
    nonempty = lengths > 0
    for _ in range(_MAX_ROUNDS):
        link_sum = np.zeros(num_flows, dtype=np.uint64)
        if entry_link.size:
            with np.errstate(over="ignore"):
                link_sum[nonempty] = np.add.reduceat(_mix(lc[entry_link]), routes.offsets[:-1][nonempty])
        new_f, m_f = _dense(_combine(fc, rc[src], rc[dst], link_sum))
        mixed_f = _mix(fc)
        new_l, m_l = _dense(_combine(lc, _segment_sums(mixed_f[entry_flow], *by_link)))
        out_f = _mix(fc * 2)
        in_f = _mix(fc * 2 + 1)
        new_r, m_r = _dense(_combine(rc, _segment_sums(out_f, *by_src), _segment_sums(in_f, *by_dst)))
        stable = (m_f, m_l, m_r) == (n_f, n_l, n_r)
        fc, lc, rc, n_f, n_l, n_r = new_f, new_l, new_r, m_f, m_l, m_r
        if stable:
            break
    else:
        return None
    flows = np.arange(num_flows)
    checks = ((flows, rc[src], fc, n_f), (flows, rc[dst], fc, n_f), (entry_flow, lc[entry_link], fc, n_f),
              (entry_link, fc[entry_flow], lc, n_l), (src, fc, rc, n_r), (dst, fc, rc, n_r))
    for entity, neighbour_class, entity_class, count in checks:
        if not _equitable(entity, neighbour_class, entity_class, count):
            return None
    return rc, lc, fc


def _equitable(entity: np.ndarray, neighbour_class: np.ndarray, entity_class: np.ndarray, num_classes: int) -> bool:
    """Whether every member of a class has the same number of incidences with each neighbour class.

    ``entity[i]`` and ``neighbour_class[i]`` describe incidence ``i``; ``entity_class`` maps entities to classes.
    """
    if entity.size == 0:
        return True
    size = np.bincount(entity_class, minlength=num_classes)
    n_nb = int(neighbour_class.max()) + 1
    pair, per_pair = np.unique(entity.astype(np.int64) * n_nb + neighbour_class, return_counts=True)
    member = pair // n_nb
    triple = np.unique(np.stack([entity_class[member], pair % n_nb, per_pair]), axis=1, return_counts=True)
    (klass, _, _), members = triple
    return bool((members == size[klass]).all())


@dataclass(frozen=True)
class PatternClasses:
    """One pattern's flows by class.

    Attributes
    ----------
    reps : ndarray of int
        One flow (index in the pattern) per flow class in the pattern, ascending.
    src_class, dst_class : ndarray of int
        The rank classes of each representative's sender and receiver.
    out_mult, in_mult : ndarray of int
        Flows of the class each member of the sending (receiving) rank class sends (receives).
    routes : Routes
        Each representative's link classes, each once.
    weights : ndarray of float
        Per route entry: flows of the class on every link of that link class.
    """

    reps: np.ndarray
    src_class: np.ndarray
    dst_class: np.ndarray
    out_mult: np.ndarray
    in_mult: np.ndarray
    routes: Routes
    weights: np.ndarray


class Symmetry:
    """Classes of ranks, links and flows shared by a set of Schedules run together on one cluster.

    Build it with :meth:`of`; ``None`` comes back when nothing would be gained (every rank its own class) or the
    partition is not equitable.

    Attributes
    ----------
    rank_class : ndarray of int
        Class of every GPU rank of the cluster.
    link_class : ndarray of int
        Class of every link.
    class_size : ndarray of int
        Ranks per rank class.
    capacity : ndarray of float
        Capacity of every link class (its links').
    representative_link : ndarray of int
        The first link of every link class.
    representative_rank : ndarray of int
        The first rank of every rank class.
    link_capacity : ndarray of float
        Capacity of every link.
    """

    def __init__(self, rank_class: np.ndarray, link_class: np.ndarray, capacity: np.ndarray,
                 patterns: dict[bytes, PatternClasses]) -> None:
        self.rank_class = rank_class
        self.link_class = link_class
        self.num_rank_classes = int(rank_class.max()) + 1 if rank_class.size else 0
        self.num_link_classes = int(link_class.max()) + 1 if link_class.size else 0
        self.class_size = np.bincount(rank_class, minlength=self.num_rank_classes)
        self.link_class_size = np.bincount(link_class, minlength=self.num_link_classes)
        representative = np.zeros(self.num_link_classes, dtype=np.int64)
        representative[link_class[::-1]] = np.arange(len(link_class))[::-1]  # the first link of each class
        self.representative_link = representative
        self.capacity = capacity[representative].astype(np.float64)
        self.link_capacity = np.asarray(capacity, dtype=np.float64)
        first = np.zeros(self.num_rank_classes, dtype=np.int64)
        first[rank_class[::-1]] = np.arange(len(rank_class))[::-1]
        self.representative_rank = first
        self._patterns = patterns

    def pattern(self, pattern: StepPattern) -> PatternClasses:
        """The classes of a pattern of one of the Schedules the symmetry was built for."""
        return self._patterns[_structure_key(pattern)]

    def expand_link_bytes(self, class_bytes: np.ndarray) -> np.ndarray:
        """Per link, from per link class (every link of a class carries the same bytes)."""
        return class_bytes[self.link_class]

    @classmethod
    def of(cls, schedules: Sequence[Schedule], cluster: Cluster, capacity: np.ndarray | None = None,
           rank_color: np.ndarray | None = None, cache: NetworkCache | None = None) -> Symmetry | None:
        """The symmetry of ``schedules`` run together on ``cluster`` (links of ``capacity``, default the
        cluster's), with ranks of different ``rank_color`` (a straggler's factor, when each job starts) never
        alike; ``None`` if there is none to use.

        Membership counts: a rank in a Schedule is never alike a rank outside it. ``cache``: a
        :class:`~simtrain.network.cache.NetworkCache` of ``cluster`` (routes).
        """
        num_ranks = cluster.num_gpus
        if any(len(schedule.endpoints) > len(schedule.ranks) for schedule in schedules):
            return None  # CPU server hosts (BytePS) are endpoints beyond the GPUs: simulated flow by flow
        if rank_color is not None and len(np.unique(rank_color)) == num_ranks:
            return None  # every rank starts apart (jitter): no two can be alike
        network_cache = NetworkCache.for_cluster(cluster, cache)
        capacity = cluster.link_bandwidth_Bps if capacity is None else capacity
        color = np.zeros(num_ranks, dtype=np.uint64) if rank_color is None else _dense(rank_color)[0].astype(np.uint64)
        for index, schedule in enumerate(schedules):  # which Schedules a rank takes part in
            if schedule.ranks.size:
                members = np.asarray(schedule.ranks, dtype=np.int64)
                with np.errstate(over="ignore"):
                    color[members] += _mix(np.full(members.size, index + 1, dtype=np.uint64))
        link_color = _combine(_dense(capacity)[0], _dense(cluster.link_latency_s)[0])
        # distinct pattern structures (the same flows, bytes shape and stage order, in any Schedule)
        distinct: dict[bytes, StepPattern] = {}
        for schedule in schedules:
            for pattern in schedule.patterns:
                if pattern.num_flows:
                    distinct.setdefault(_structure_key(pattern), pattern)
        keys = list(distinct)
        srcs, dsts, labels, route_list = [], [], [], []
        for number, key in enumerate(keys):
            pattern = distinct[key]
            srcs.append(pattern.src)
            dsts.append(pattern.dst)
            route_list.append(network_cache.routes(pattern))
            labels.append(_combine(np.full(pattern.num_flows, number), *_flow_labels(pattern)))
        if not keys:
            return None
        src, dst = np.concatenate(srcs), np.concatenate(dsts)
        routes = _concat_routes(route_list)
        found = refine(color, link_color, src, dst, np.concatenate(labels), routes)
        if found is None:
            return None
        rank_class, link_class, flow_class = found
        if int(rank_class.max()) + 1 == num_ranks:
            return None
        patterns: dict[bytes, PatternClasses] = {}
        start = 0
        num_flow_classes = int(flow_class.max()) + 1
        class_size = np.bincount(rank_class)
        flow_class_size = np.bincount(flow_class, minlength=num_flow_classes)
        for key, pattern_routes in zip(keys, route_list):
            count = len(pattern_routes.offsets) - 1
            classes = flow_class[start:start + count]
            _, reps = np.unique(classes, return_index=True)
            reps = np.sort(reps)
            rep_class = classes[reps]
            pattern = distinct[key]
            src_class = rank_class[pattern.src[reps]]
            dst_class = rank_class[pattern.dst[reps]]
            size = flow_class_size[rep_class]
            patterns[key] = PatternClasses(
                reps, src_class, dst_class, size // class_size[src_class], size // class_size[dst_class],
                *_class_routes(pattern_routes, reps, rep_class, flow_class, link_class, routes, start))
            start += count
        return cls(rank_class, link_class, capacity, patterns)


def _structure_key(pattern: StepPattern) -> bytes:
    """What the classes of a pattern's flows depend on: its endpoints, and the shape (not the scale) of its
    bytes, efficiencies and stage order."""
    digest = hashlib.sha1(pattern.flows_key)
    for label in _flow_labels(pattern):
        digest.update(np.ascontiguousarray(label).tobytes())
    return digest.digest()


def _flow_labels(pattern: StepPattern) -> list[np.ndarray]:
    """Per-flow labels that make flows of one pattern differ: their bytes, efficiency and pipeline stage."""
    labels = [_dense(pattern.nbytes)[0]]
    if pattern.efficiency is not None:
        labels.append(_dense(pattern.efficiency)[0])
    if pattern.stage_of_flow is not None:
        labels.append(pattern.stage_of_flow)
    return labels


def _concat_routes(parts: list[Routes]) -> Routes:
    offsets = [np.zeros(1, dtype=np.int64)]
    shift = 0
    for part in parts:
        offsets.append(part.offsets[1:] + shift)
        shift += int(part.offsets[-1])
    return Routes(np.concatenate(offsets), np.concatenate([part.links for part in parts]))


def _class_routes(pattern_routes: Routes, reps: np.ndarray, rep_class: np.ndarray, flow_class: np.ndarray,
                  link_class: np.ndarray, all_routes: Routes, start: int) -> tuple[Routes, np.ndarray]:
    """Each representative's distinct link classes, with the flows of its class that every link of that class
    carries (counted over all flows of the class, in every pattern of the same structure: the same flows)."""
    entry_flow = all_routes.flow_of_entry
    num_link_classes = int(link_class.max()) + 1
    # flows of class f on link l, for the classes of these representatives, from the links' side
    wanted = np.zeros(int(flow_class.max()) + 1, dtype=bool)
    wanted[rep_class] = True
    mine = wanted[flow_class[entry_flow]]
    # entries of flows of this pattern only (a class never spans patterns: the pattern is in its colour)
    in_pattern = (entry_flow >= start) & (entry_flow < start + len(pattern_routes.offsets) - 1)
    mine &= in_pattern
    pair, per_link = np.unique(all_routes.links[mine] * (int(flow_class.max()) + 1) + flow_class[entry_flow[mine]],
                               return_counts=True)
    n_fc = int(flow_class.max()) + 1
    weight_of = dict(zip(((link_class[pair // n_fc]) * n_fc + pair % n_fc).tolist(), per_link.tolist()))
    offsets = np.zeros(len(reps) + 1, dtype=np.int64)
    links: list[int] = []
    weights: list[float] = []
    for i, (rep, klass) in enumerate(zip(reps.tolist(), rep_class.tolist())):
        lo, hi = pattern_routes.offsets[rep], pattern_routes.offsets[rep + 1]
        for lclass in sorted(set(link_class[pattern_routes.links[lo:hi]].tolist())):
            links.append(lclass)
            weights.append(float(weight_of[lclass * n_fc + klass]))
        offsets[i + 1] = len(links)
    del num_link_classes
    return Routes(offsets, np.array(links, dtype=np.int64)), np.array(weights)
