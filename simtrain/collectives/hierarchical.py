"""Jia et al.'s hierarchical all-reduce (Tencent): reduce to a group master, ring among masters, broadcast.

Groups are ``group_size`` consecutive ranks (default: the GPUs of a node). Inside a group the reduce and the
broadcast are pipelined chains; the masters run a ring all-reduce on the **full** vector. Uncontended, with
one chunk, k ranks per group and m groups:

``T = 2(k-1)·(α_in + n/B_in) + 2(m-1)·(α_out + n/(m·B_out))``

With c chunks the chains pipeline: each further chunk adds the busiest link group's per-chunk time (see
:mod:`simtrain.network.analytical`). Compare docs/references.md, "Hierarchical all-reduce".

Examples
--------
>>> from simtrain.topology import switch
>>> from simtrain.collectives import build_schedule
>>> s = build_schedule("all-reduce", 1e6, switch(8, 1e9), "hierarchical", group_size=4)
>>> [p.label for p in s.patterns]
['reduce to master', 'reduce-scatter masters', 'all-gather masters', 'broadcast from master']
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.ring import chain, ring_steps
from simtrain.collectives.schedule import StepPattern
from simtrain.params import Param
from simtrain.registry import param_error
from simtrain.topology.cluster import Cluster


@register_algorithm(
    "hierarchical",
    ["all-reduce", "broadcast", "reduce"],
    params=(Param("group_size", "integer", None, "ranks per group (default: the GPUs of a node)", minimum=1),),
    summary="reduce to group master, ring among masters, broadcast (Jia et al.)",
)
def build_hierarchical(op: str, n: float, ranks: np.ndarray, cluster: Cluster,
                       group_size: int | None = None) -> list[StepPattern]:
    """Patterns of one chunk."""
    k = int(group_size or cluster.gpus_per_node)
    p = len(ranks)
    if k < 1 or p % k:
        raise param_error("algorithm", "hierarchical", "group_size", f"must divide the {p} participating ranks", k)
    groups = ranks.reshape(p // k, k)
    masters = groups[:, 0]
    m = len(masters)
    patterns: list[StepPattern] = []
    if op in ("all-reduce", "reduce") and k > 1:
        patterns.append(chain(groups[:, ::-1], n, True, "reduce to master"))
    if op == "all-reduce":
        patterns += ring_steps(masters, np.roll(masters, -1), n, m, "all-reduce", " masters")
    elif op == "reduce" and m > 1:
        patterns.append(chain(masters[::-1], n, True, "reduce among masters"))
    elif op == "broadcast" and m > 1:
        patterns.append(chain(masters, n, False, "broadcast among masters"))
    if op in ("all-reduce", "broadcast") and k > 1:
        patterns.append(chain(groups, n, False, "broadcast from master"))
    return patterns
