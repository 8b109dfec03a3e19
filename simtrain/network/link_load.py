"""Bytes a Schedule puts on the network: per link class (a flow counts once per class it crosses) and per link.

Both engines and the training step account traffic here, from the schedule alone (the engines' timing does not
change where bytes go).

Examples
--------
>>> from simtrain.topology import torus
>>> from simtrain.collectives import build_schedule
>>> c = torus([4, 4], 1e9)
>>> t = schedule_traffic(build_schedule("all-reduce", 16e6, c, "multidim-ring"), c)
>>> {k: v / 16 for k, v in t.bytes_by_class.items()}     # per GPU: 2(4-1)/4 n and 2(4-1)/4 n/4
{'dim0': 24000000.0, 'dim1': 6000000.0}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simtrain.collectives.schedule import Schedule, StepPattern
from simtrain.network.cache import NetworkCache
from simtrain.network.types import Traffic
from simtrain.topology.cluster import Cluster

__all__ = ["pattern_traffic", "schedule_traffic", "template_traffic"]


def pattern_traffic(pattern: StepPattern, cache: NetworkCache, multiplicity: float) -> Traffic:
    """Bytes of ``multiplicity`` runs of one step pattern, per link class and per link (``cache``: the
    cluster's routes)."""
    cluster = cache.cluster
    routes = cache.routes(pattern)
    if not routes.links.size:
        return Traffic(np.zeros(len(cluster.class_names)), np.zeros(cluster.num_links), cluster.class_names)
    kind, sets = cache.flow_classes(pattern)   # a flow counts once towards each class it crosses
    # each distinct class set's bytes, then each class's: the sum over the sets that hold it
    per_set = np.bincount(kind, weights=pattern.nbytes, minlength=sets.shape[0])
    class_bytes = multiplicity * (per_set @ sets)
    link_bytes = multiplicity * np.bincount(routes.links, weights=pattern.nbytes[routes.flow_of_entry],
                                            minlength=cluster.num_links)
    return Traffic(class_bytes, link_bytes, cluster.class_names)


def schedule_traffic(schedule: Schedule, cluster: Cluster, cache: NetworkCache | None = None) -> Traffic:
    """Bytes per link class and per link of a whole schedule (all chunks).

    Parameters
    ----------
    schedule : Schedule
        The collective.
    cluster : Cluster
        The network it runs on.
    cache : NetworkCache, optional
        Routes of ``cluster`` by flow content, shared with other calls (a fresh one when omitted).

    Examples
    --------
    >>> from simtrain.topology import torus
    >>> from simtrain.collectives import build_schedule
    >>> c = torus([4, 4], 1e9)
    >>> schedule_traffic(build_schedule("all-reduce", 16e6, c, "ring"), c).bytes_by_class["dim0"] / 16
    30000000.0
    """
    cache = NetworkCache.for_cluster(cluster, cache)
    total = Traffic(np.zeros(len(cluster.class_names)), np.zeros(cluster.num_links), cluster.class_names)
    for pattern in schedule.patterns:
        if pattern.num_flows == 0:
            continue
        part = pattern_traffic(pattern, cache, pattern.repeat * schedule.chunks)
        total.class_bytes += part.class_bytes
        total.link_bytes += part.link_bytes
    return total


def template_traffic(schedule: Schedule, cache: NetworkCache, key: Any) -> Traffic:
    """:func:`schedule_traffic` of a schedule resized from the template ``cache`` holds under ``key``, kept in the
    cache under that key and the size (every schedule resized from one template to one size puts the same bytes on
    the same links); ``key`` None: a schedule of no template, counted afresh. The arrays kept are read-only.

    Examples
    --------
    >>> from simtrain.topology import torus
    >>> from simtrain.collectives import build_schedule
    >>> c = torus([4, 4], 1e9)
    >>> cache = NetworkCache(c)
    >>> s = build_schedule("all-reduce", 16e6, c, "ring")
    >>> template_traffic(s, cache, "ring") is template_traffic(s, cache, "ring")
    True
    """
    if key is None:
        return schedule_traffic(schedule, cache.cluster, cache)

    def count() -> Traffic:
        traffic = schedule_traffic(schedule, cache.cluster, cache)
        traffic.class_bytes.flags.writeable = False
        traffic.link_bytes.flags.writeable = False
        return traffic

    return cache.get("template-traffic", (key, float(schedule.size_bytes)), count)
