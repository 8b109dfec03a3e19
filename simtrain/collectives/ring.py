"""Ring algorithms: the textbook unidirectional ring in rank order.

All-reduce is a reduce-scatter then an all-gather, each p-1 steps of n/p bytes to the next rank
(Patarasuk & Yuan 2009): ``T = 2(p-1)·α + 2(p-1)/p·n/B`` uncontended. Broadcast and reduce are pipelined
chains from/to the first rank; all-to-all forwards along the ring, step k carrying the (p-k) blocks not yet
delivered: ``T = (p-1)·α + (p-1)/2·n/B``.

Examples
--------
>>> from simtrain.topology import ring as ring_topology
>>> from simtrain.collectives import collective_time
>>> c = ring_topology(4, "1 GB/s", "1 us")
>>> round(collective_time("all-reduce", 4e6, c, "ring").time_s, 9)
0.006006
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern

__all__ = ["chain", "ring_steps"]


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


@register_algorithm(
    "ring",
    ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce", "all-to-all"],
    summary="unidirectional ring in rank order (pipelined chain for broadcast/reduce)",
)
def build_ring(op: str, n: float, ranks: np.ndarray, cluster: object) -> list[StepPattern]:
    """Patterns of one chunk of the ring algorithm."""
    p = len(ranks)
    if p < 2:
        return []
    src, dst = ranks, np.roll(ranks, -1)
    if op in ("all-reduce", "reduce-scatter", "all-gather"):
        return ring_steps(src, dst, n, p, op)
    if op == "broadcast":
        return [chain(ranks, n, False, "broadcast chain")]
    if op == "reduce":
        return [chain(ranks[::-1], n, True, "reduce chain")]
    # all-to-all: step k forwards the (p-k) blocks still in transit
    block = n / p
    return [StepPattern(src, dst, (p - k) * block, 1, 0.0, f"all-to-all step {k}") for k in range(1, p)]
