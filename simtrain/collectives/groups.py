"""Which ranks form a scheme communication's group, and which collective Schedule carries it.

A scheme's :class:`~simtrain.compression.base.Communication` names a group (``world``, ``node``, ``peers``,
``leaders``, ``groups:K``); :func:`rank_groups` turns it into disjoint rank groups, :func:`comm_sizes` gives the
collective size on each, and :func:`comm_schedule` builds the grouped Schedule that both the traffic model and
the training simulation evaluate.

Examples
--------
>>> from simtrain.compression.base import Communication
>>> from simtrain.topology import switch
>>> schedule = comm_schedule(Communication("g", "all-reduce", 1e6, "node"), switch(8, 1e9), gpus_per_node=4)
>>> schedule.num_ranks, schedule.algorithm
(8, 'ring')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simtrain.collectives.base import ALGORITHMS, build_grouped_schedule
from simtrain.errors import ConfigError
from simtrain.registry import parse_spec

if TYPE_CHECKING:
    from simtrain.collectives.schedule import Schedule
    from simtrain.compression.base import Communication
    from simtrain.topology.cluster import Cluster

__all__ = ["comm_schedule", "comm_sizes", "node_local", "rank_groups"]


def rank_groups(group: str, num_gpus: int, gpus_per_node: int) -> list[np.ndarray]:
    """The disjoint rank groups a communication's ``group`` names.

    Examples
    --------
    >>> [g.tolist() for g in rank_groups("peers", 8, 4)]
    [[0, 4], [1, 5], [2, 6], [3, 7]]
    """
    ranks = np.arange(num_gpus)
    g = max(1, gpus_per_node)
    if group == "world":
        return [ranks]
    if group == "node":
        return [ranks[i:i + g] for i in range(0, num_gpus, g)]
    if group == "peers":
        return [ranks[local::g] for local in range(g)]
    if group == "leaders":
        return [ranks[::g]]
    size = int(group.split(":", 1)[1])
    if num_gpus % size:
        raise ConfigError(f"groups of {size} must divide the {num_gpus} GPUs", key="group_size", value=size)
    return [ranks[i:i + size] for i in range(0, num_gpus, size)]


def node_local(group: str, gpus_per_node: int) -> bool:
    """Whether every group of ``group`` lies inside one node.

    Examples
    --------
    >>> node_local("node", 4), node_local("groups:2", 4), node_local("world", 4)
    (True, True, False)
    """
    if group == "node":
        return True
    if group.startswith("groups:"):
        size = int(group.split(":", 1)[1])
        return size <= gpus_per_node and gpus_per_node % size == 0
    return False


_ALGORITHM_FOR = {"all-to-all": "direct", "push-pull": "ps"}


def comm_sizes(comm: Communication, num_gpus: int, gpus_per_node: int) -> tuple[list[np.ndarray], list[float]]:
    """The rank groups of ``comm`` and the collective size (nccl-tests convention) on each.

    Examples
    --------
    >>> from simtrain.compression.base import Communication
    >>> c = Communication("values+indices", "all-gather", 100.0, "node")
    >>> groups, sizes = comm_sizes(c, 8, 4)
    >>> len(groups), sizes
    (2, [400.0, 400.0])
    """
    groups = rank_groups(comm.group, num_gpus, gpus_per_node)
    if comm.group_payloads:
        payloads = [comm.group_payloads[i % len(comm.group_payloads)] for i in range(len(groups))]
    else:
        payloads = [comm.payload_bytes] * len(groups)
    return groups, [max(comm.collective_size(len(g)) * p / comm.payload_bytes if comm.payload_bytes else p, 1e-9)
                    for g, p in zip(groups, payloads)]


def comm_schedule(comm: Communication, cluster: Cluster, gpus_per_node: int, algorithm: str = "ring",
                  cache: Any = None) -> Schedule:
    """The Schedule that carries ``comm`` on ``cluster`` (grouped over its rank groups).

    ``algorithm`` (a name or ``NAME:key=value,...``) applies where it can: a multidim-ring is defined on the
    cluster's whole grid, so sub-groups (a node, the node leaders) run a ring instead; ``auto`` chooses for the
    groups (NCCL decides per communicator); broadcasts and reduces use a ring unless ``algorithm`` has one, and so
    does any operation ``algorithm`` does not implement (the all-gather of top-k under ``hierarchical``). All-to-all
    runs ``direct`` and push-pull ``ps``. The algorithm's parameters apply only when it is the one that runs.
    ``cache`` as in :func:`~simtrain.collectives.build_schedule`.

    Examples
    --------
    >>> from simtrain.compression.base import Communication
    >>> from simtrain.topology import switch
    >>> s = comm_schedule(Communication("f", "all-gather", 1e6), switch(8, 1e9), 1, "hierarchical")
    >>> s.algorithm
    'ring'
    """
    groups, sizes = comm_sizes(comm, cluster.num_gpus, gpus_per_node)
    size_of_group = len(groups[0])
    chosen, chosen_params = parse_spec(algorithm, key="algorithm")
    op: str = comm.op
    params: dict[str, Any] = {}
    if comm.op == "push-pull":
        op = "all-reduce"
        params = {"servers": comm.servers or size_of_group,
                  "pull_ratio": (comm.pull_bytes / comm.payload_bytes) if comm.pull_bytes and comm.payload_bytes
                  else 1.0}
    name = _ALGORITHM_FOR.get(comm.op, chosen)
    if name == "multidim-ring" and size_of_group != cluster.num_gpus:
        name = "ring"   # the torus grid spans the whole cluster; a sub-group's ring is what an implementation runs
    if comm.op in ("broadcast", "reduce") and name not in ("ring", "halving-doubling", "hierarchical", "direct",
                                                           "auto"):
        name = "ring"
    if op not in ALGORITHMS.get(name, key="algorithm").operations:
        name = "ring"   # e.g. the all-gather of top-k under hierarchical all-reduce: what NCCL would run
    if name == chosen:
        params = {**chosen_params, **params}
    return build_grouped_schedule(op, sizes, cluster, name, groups, cache=cache, **params)
