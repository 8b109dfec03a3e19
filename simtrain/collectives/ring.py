"""Ring algorithms: the textbook unidirectional ring in rank order, on one or several channels.

All-reduce is a reduce-scatter then an all-gather, each p-1 steps of n/p bytes to the next rank
(Patarasuk & Yuan 2009): ``T = 2(p-1)·α + 2(p-1)/p·n/B`` uncontended. Broadcast and reduce are pipelined
chains from/to the first rank; all-to-all forwards along the ring, step k carrying the (p-k) blocks not yet
delivered: ``T = (p-1)·α + (p-1)/2·n/B``.

``channels = C`` runs C rings at once, each on 1/C of the buffer, as NCCL does (one ring per channel). Ring c
visits the nodes in the same order but enters every node at GPU ⌊c·g/C⌋ of its g (each node's ranks rotated),
so on a rail-optimised cluster (GPU l uses NIC l·nics/g) the rings cross nodes through NICs spread evenly:
with C = NICs per node every NIC carries one ring in each direction, and the bus bandwidth approaches the
node's aggregate NIC bandwidth (docs/references.md, "nccl-tests bus bandwidth") instead of one NIC's. Inside a
node the C rings move the same bytes per GPU as one ring.

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
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern
from simtrain.limits import MAX_CHANNELS
from simtrain.params import Param
from simtrain.registry import param_error

__all__ = ["chain", "channel_orders", "ring_steps"]


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


@register_algorithm(
    "ring",
    ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce", "all-to-all"],
    params=(Param("channels", "integer", 1, "rings run at once, each on 1/C of the buffer", minimum=1,
                  maximum=MAX_CHANNELS),),
    summary="unidirectional ring in rank order (pipelined chain for broadcast/reduce); channels=C: C rings, "
            "each entering a node at a different GPU (NCCL's channels)",
)
def build_ring(op: str, n: float, ranks: np.ndarray, cluster: object, channels: int = 1) -> list[StepPattern]:
    """Patterns of one chunk of the ring algorithm (``channels`` validated by its declaration)."""
    if channels > 1 and op not in ("all-reduce", "reduce-scatter", "all-gather"):
        raise param_error("algorithm", "ring", "channels",
                          f"channels > 1 is implemented for all-reduce, reduce-scatter and all-gather, not {op}",
                          channels)
    p = len(ranks)
    if p < 2:
        return []
    if op in ("all-reduce", "reduce-scatter", "all-gather"):
        orders = channel_orders(ranks, int(getattr(cluster, "gpus_per_node", 1)), int(channels))
        # all channels' flows run concurrently in one pattern; each ring carries 1/C of the buffer
        return ring_steps(orders.ravel(), np.roll(orders, -1, axis=1).ravel(), n / channels, p, op)
    src, dst = ranks, np.roll(ranks, -1)
    if op == "broadcast":
        return [chain(ranks, n, False, "broadcast chain")]
    if op == "reduce":
        return [chain(ranks[::-1], n, True, "reduce chain")]
    # all-to-all: step k forwards the (p-k) blocks still in transit
    block = n / p
    return [StepPattern(src, dst, (p - k) * block, 1, 0.0, f"all-to-all step {k}") for k in range(1, p)]
