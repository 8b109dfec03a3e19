"""An explicit cache of what evaluating schedules on one cluster derives: routes, rates, schedule templates.

Everything in it is keyed by content: a step pattern by the digest of its flows' endpoints
(:attr:`~simtrain.collectives.schedule.StepPattern.flows_key`), a schedule template by the key its builder was
given. A cache belongs to one cluster (clusters are immutable, so what it holds stays true) and is owned by whoever
evaluates on that cluster: a study keeps one per cluster instance, a single call makes a fresh one. Nothing is
stored in the cluster or keyed by ``id()``, so a cached answer equals a fresh one bit for bit, whatever ran before.

Examples
--------
>>> from simtrain.topology import ring
>>> from simtrain.collectives import build_schedule
>>> cluster = ring(8, "10 GB/s")
>>> cache = NetworkCache(cluster)
>>> schedule = build_schedule("all-reduce", "1 MiB", cluster, "ring")
>>> cache.routes(schedule.patterns[0]) is cache.routes(schedule.resized(2**30).patterns[0])
True
>>> len(cache)
1
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np

from simtrain.collectives.schedule import StepPattern
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["NetworkCache"]

T = TypeVar("T")

#: Up to this many link classes a flow's set of classes is numbered through a table of every possible set (2^n
#: entries); beyond, by sorting the sets.
TABLE_CLASSES = 16


class NetworkCache:
    """Derived data of one cluster, keyed by content.

    Parameters
    ----------
    cluster : Cluster
        The cluster whose routes, rates and templates the cache holds.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._entries: dict[tuple[str, Hashable], Any] = {}

    @classmethod
    def for_cluster(cls, cluster: Cluster, cache: NetworkCache | None) -> NetworkCache:
        """``cache`` when it belongs to ``cluster``, a fresh cache when ``cache`` is None.

        Examples
        --------
        >>> from simtrain.topology import ring
        >>> a, b = ring(4, "1 GB/s"), ring(4, "1 GB/s")
        >>> NetworkCache.for_cluster(b, NetworkCache(a))
        Traceback (most recent call last):
        ...
        ValueError: this NetworkCache belongs to another cluster (ring); make one per cluster
        """
        if cache is None:
            return cls(cluster)
        if cache.cluster is not cluster:
            raise ValueError(f"this NetworkCache belongs to another cluster ({cache.cluster.name}); "
                             "make one per cluster")
        return cache

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, kind: str, key: Hashable, compute: Callable[[], T]) -> T:
        """The entry ``(kind, key)``, computed by ``compute()`` on first use.

        ``key`` must determine the value together with the cluster (content, never an object's identity).
        """
        entry = (kind, key)
        try:
            return self._entries[entry]
        except KeyError:
            value = self._entries[entry] = compute()
            return value

    def routes(self, pattern: StepPattern) -> Routes:
        """The routes of a pattern's flows on the cluster."""
        return self.get("routes", pattern.flows_key, lambda: self.cluster.routes(pattern.src, pattern.dst))

    def link_groups(self, patterns: Sequence[StepPattern]) -> list[int]:
        """The link group of every pattern (:func:`~simtrain.network.pipeline.link_groups`: patterns that share a
        link, directly or through others, share a group).

        Examples
        --------
        >>> from simtrain.topology import torus
        >>> from simtrain.collectives import build_schedule
        >>> c = torus([4, 4], 1e9)
        >>> NetworkCache(c).link_groups(build_schedule("all-reduce", 2**20, c, "multidim-ring").patterns)
        [0, 1, 1, 0]
        """
        from simtrain.network.pipeline import link_groups

        return list(self.get("link-groups", tuple(p.flows_key for p in patterns),
                             lambda: tuple(link_groups([self.routes(p).links for p in patterns],
                                                       self.cluster.num_links))))

    def flow_classes(self, pattern: StepPattern) -> tuple[np.ndarray, np.ndarray]:
        """The link classes each of a pattern's flows crosses, as ``(kind, sets)``: flow ``f`` crosses the classes
        of row ``sets[kind[f]]`` (a boolean row over ``cluster.class_names``). The distinct sets are few, so what
        depends on a flow's classes (its bytes per class, its protocol's costs) is worked out per set.

        Examples
        --------
        >>> from simtrain.topology import torus
        >>> c = torus([4, 4], 1e9)
        >>> kind, sets = NetworkCache(c).flow_classes(StepPattern([0, 0, 0, 5], [1, 4, 0, 6], 1.0))
        >>> sets[kind].tolist()
        [[True, False], [False, True], [False, False], [True, False]]
        """
        def compute() -> tuple[np.ndarray, np.ndarray]:
            routes = self.routes(pattern)
            num_classes = len(self.cluster.class_names)
            flow, klass = routes.flow_of_entry, self.cluster.link_class[routes.links].astype(np.int64)
            if pattern.num_flows == 0:
                return np.zeros(0, dtype=np.int64), np.zeros((0, num_classes), dtype=bool)
            # a flow's set as bits (bit k: it crosses class k), numbered through a table of them: no sort
            if num_classes <= TABLE_CLASSES:
                codes = np.zeros(pattern.num_flows, dtype=np.int64)
                np.bitwise_or.at(codes, flow, np.left_shift(np.int64(1), klass))
                present = np.flatnonzero(np.bincount(codes, minlength=1))
                lookup = np.zeros(int(present[-1]) + 1, dtype=np.int64)
                lookup[present] = np.arange(present.size)
                return lookup[codes], (present[:, None] >> np.arange(num_classes)) & 1 == 1
            crosses = np.zeros((pattern.num_flows, num_classes), dtype=bool)
            crosses[flow, klass] = True
            sets, kind = np.unique(crosses, axis=0, return_inverse=True)
            return kind.reshape(-1), sets

        kind, sets = self.get("flow-classes", pattern.flows_key, lambda: _read_only(*compute()))
        return kind, sets


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays, made read-only: a cached value is shared by every caller."""
    for array in arrays:
        array.flags.writeable = False
    return arrays
