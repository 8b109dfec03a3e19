"""Direct algorithms: every rank exchanges with every other rank in one step.

Reduce-scatter sends block j of n/p bytes straight to rank j; all-reduce is that plus a direct all-gather;
all-to-all sends n/p to each rank; broadcast and reduce go straight from/to the root; sendrecv sends the whole n
from every rank to the next (nccl-tests' sendrecv_perf: rank r to r + 1, the last to the first). All flows of a step run
at once and share links, so the engine's congestion model decides the cost: on a switch each GPU link carries
p-1 flows, ``T_RS = 2α + (p-1)/p·n/B``; with a dedicated link per pair, ``T_RS = α + n/(p·B)``.

A step has p(p-1) flows, so ``max_ranks`` (default 1024) bounds the size.

Examples
--------
>>> from simtrain.topology import switch
>>> from simtrain.collectives import collective_time
>>> r = collective_time("reduce-scatter", 8e6, switch(8, 1e9, 1e-6), "direct")
>>> abs(r.time_s - (2e-6 + 7 / 8 * 8e6 / 1e9)) < 1e-12
True
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern
from simtrain.limits import MAX_DIRECT_RANKS
from simtrain.params import Param
from simtrain.registry import param_error

__all__ = ["all_pairs"]


def all_pairs(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source and destination of every ordered pair of distinct ranks."""
    p = len(ranks)
    i = np.repeat(np.arange(p), p - 1)
    j = np.tile(np.arange(p - 1), p)
    j = j + (j >= i)
    return ranks[i], ranks[j]


@register_algorithm(
    "direct",
    ["all-reduce", "reduce-scatter", "all-gather", "all-to-all", "broadcast", "reduce", "sendrecv"],
    params=(Param("max_ranks", "integer", 1024, "refuse more ranks than this (a step has p(p-1) flows)", minimum=1,
                  maximum=MAX_DIRECT_RANKS),),
    summary="every rank sends to every other at once (p(p-1) concurrent flows); sendrecv: each rank to the next",
)
def build_direct(op: str, n: float, ranks: np.ndarray, cluster: object, max_ranks: int = 1024) -> list[StepPattern]:
    """Patterns of one chunk."""
    p = len(ranks)
    if p < 2:
        return []
    if op == "sendrecv":   # p flows, whatever p: max_ranks does not apply
        return [StepPattern(ranks, np.roll(ranks, -1), n, 1, 0.0, "sendrecv to the next rank")]
    if p > max_ranks:
        allowed = (f"at least the {p} ranks (raise direct:max_ranks=N, up to {MAX_DIRECT_RANKS})"
                   if p <= MAX_DIRECT_RANKS else
                   f"at most {MAX_DIRECT_RANKS} ranks: another algorithm (ring, halving-doubling, auto)")
        raise param_error("algorithm", "direct", "max_ranks", f"direct has p(p-1) flows per step; {p} ranks exceed it",
                          max_ranks, allowed=allowed)
    if op == "broadcast":
        return [StepPattern(np.full(p - 1, ranks[0]), ranks[1:], n, 1, 0.0, "direct broadcast")]
    if op == "reduce":
        return [StepPattern(ranks[1:], np.full(p - 1, ranks[0]), n, 1, (p - 1) * n, "direct reduce")]
    src, dst = all_pairs(ranks)
    block = n / p
    if op == "all-to-all":
        return [StepPattern(src, dst, block, 1, 0.0, "direct all-to-all")]
    patterns = []
    if op in ("all-reduce", "reduce-scatter"):
        patterns.append(StepPattern(src, dst, block, 1, (p - 1) * block, "direct reduce-scatter"))
    if op in ("all-reduce", "all-gather"):
        patterns.append(StepPattern(src, dst, block, 1, 0.0, "direct all-gather"))
    return patterns
