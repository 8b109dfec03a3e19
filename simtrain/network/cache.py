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

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from simtrain.collectives.schedule import StepPattern
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["NetworkCache"]

T = TypeVar("T")


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
