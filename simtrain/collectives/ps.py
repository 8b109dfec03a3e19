"""Parameter server: workers push gradient shards to S servers, then pull the updated shards.

Servers are co-located with ranks spread evenly over the participants (rank ``j·p/S`` hosts server j); a
worker's shard for its own server stays local. Each worker sends n/S to every server, every server receives
n/S from every worker (incast), then the reverse. Uncontended except for the incast, on a switch:

``T_push = 2α + max((S-1)/S · n, (p-1)·n/S) / B`` (a worker that is not a server sends n), and the same for pull
(docs/references.md, "Parameter server").

Examples
--------
>>> from simtrain.topology import switch
>>> from simtrain.collectives import collective_time
>>> r = collective_time("all-reduce", 8e6, switch(8, 1e9, 1e-6), "ps", servers=1)
>>> abs(r.time_s - 2 * (2e-6 + 7 * 8e6 / 1e9)) < 1e-12
True
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern
from simtrain.params import Param
from simtrain.registry import param_error


@register_algorithm(
    "ps",
    ["all-reduce"],
    params=(Param("servers", "integer", 1, "parameter servers S (at most the participating ranks)", minimum=1),
            Param("pull_ratio", "number", 1.0, "bytes pulled per byte pushed", minimum=0, exclusive_minimum=True)),
    summary="parameter server push/pull with S co-located servers (servers=S; pull_ratio scales what is pulled)",
)
def build_ps(op: str, n: float, ranks: np.ndarray, cluster: object, servers: int = 1,
             pull_ratio: float = 1.0) -> list[StepPattern]:
    """Patterns of one chunk: push then pull."""
    p = len(ranks)
    if servers > p:
        raise param_error("algorithm", "ps", "servers", f"must lie between 1 and the {p} ranks", servers)
    if p < 2:
        return []
    server_ranks = ranks[(np.arange(servers) * p) // servers]
    workers = np.repeat(ranks, servers)
    targets = np.tile(server_ranks, p)
    remote = workers != targets
    workers, targets = workers[remote], targets[remote]
    shard = n / servers
    return [
        StepPattern(workers, targets, shard, 1, p * shard, "push"),
        StepPattern(targets, workers, shard * pull_ratio, 1, 0.0, "pull"),
    ]
