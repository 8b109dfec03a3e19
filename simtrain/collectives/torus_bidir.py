"""Torus all-reduce on every link of a GPU: bidirectional rings per dimension, the buffer split across dimensions.

On a torus a GPU has two links per dimension (one each way). ``multidim-ring`` uses one direction of one dimension
at a time. Here, as in Sony's 2D-torus all-reduce and TPU-style implementations, the buffer is split into ``D``
parts (one per dimension) and each part into two halves, one per direction: part ``i`` reduce-scatters over the
dimensions in the order ``i, i+1, …`` (rotated), with the two halves on opposite rings, and all-gathers back in
reverse. All parts run concurrently, so in every phase every dimension is busy in both directions. On a ``k^D`` torus
with links of bandwidth B, uncontended,

``T = 2 Σ_{j<D} (k-1)·(α + n_j / (2 D k B))``,  ``n_0 = n``, ``n_{j+1} = n_j / k``,

so the bus bandwidth is ``2 D B`` less latency (the ``(k-1)/k`` terms cancel): a 16×16 torus with four
25 GB/s links per GPU reaches 100 GB/s, not the 25 GB/s of one ring.

Examples
--------
>>> from simtrain.topology import torus
>>> from simtrain.collectives import collective_time
>>> c = torus([16, 16], "25 GB/s")
>>> r = collective_time("all-reduce", 2**30, c, "torus-bidir")
>>> round(r.busbw_Bps / 1e9, 1)
100.0
"""

from __future__ import annotations

import math

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.multidim_ring import dimension_neighbours
from simtrain.collectives.ring import ring_steps
from simtrain.collectives.schedule import StepPattern
from simtrain.params import Param
from simtrain.registry import param_error
from simtrain.topology.cluster import Cluster

__all__ = ["merge_lockstep"]


def merge_lockstep(sequences: list[list[StepPattern]]) -> list[StepPattern]:
    """Run several pattern sequences concurrently: step ``s`` of the result holds step ``s`` of every sequence.

    Patterns repeated ``r`` times are split where the sequences' step boundaries differ, so the flows of one
    merged pattern are exactly those active together.

    Examples
    --------
    >>> a = [StepPattern([0], [1], 1.0, 3, label="a")]
    >>> b = [StepPattern([2], [3], 2.0, 1, label="b"), StepPattern([3], [2], 2.0, 2, label="c")]
    >>> [(p.repeat, p.num_flows) for p in merge_lockstep([a, b])]
    [(1, 2), (2, 2)]
    """
    position = [0] * len(sequences)
    left = [seq[0].repeat if seq else 0 for seq in sequences]
    merged: list[StepPattern] = []
    while True:
        active = [i for i, seq in enumerate(sequences) if position[i] < len(seq)]
        if not active:
            return merged
        count = min(left[i] for i in active)
        parts = [sequences[i][position[i]] for i in active]
        merged.append(StepPattern(np.concatenate([p.src for p in parts]), np.concatenate([p.dst for p in parts]),
                                  np.concatenate([p.nbytes for p in parts]), count,
                                  max(p.reduce_bytes for p in parts),
                                  " + ".join(dict.fromkeys(p.label for p in parts))))
        for i in active:
            left[i] -= count
            if left[i] == 0:
                position[i] += 1
                if position[i] < len(sequences[i]):
                    left[i] = sequences[i][position[i]].repeat


def _backward(shape: tuple[int, ...], d: int) -> np.ndarray:
    forward = dimension_neighbours(shape, d)
    back = np.empty_like(forward)
    back[forward] = np.arange(len(forward))
    return back


@register_algorithm(
    "torus-bidir",
    ["all-reduce", "reduce-scatter", "all-gather"],
    params=(Param("grid", "int_list", None, "the logical grid p_0 x p_1 x ... (default: the cluster's)", minimum=1),),
    summary="bidirectional rings in every dimension at once, buffer split across dimensions (Sony/TPU-style torus)",
)
def build_torus_bidir(op: str, n: float, ranks: np.ndarray, cluster: Cluster,
                      grid: list[int] | None = None) -> list[StepPattern]:
    """Patterns of one chunk: D parts × 2 directions, each a multi-dimensional ring in a rotated order."""
    shape = tuple(int(g) for g in grid) if grid is not None else tuple(cluster.grid)
    if math.prod(shape) != len(ranks):
        raise param_error("algorithm", "torus-bidir", "grid",
                          f"has {math.prod(shape)} positions but {len(ranks)} ranks take part", list(shape))
    dims = [d for d, k in enumerate(shape) if k > 1]
    if not dims:
        return []
    sequences = []
    for i in range(len(dims)):
        order = dims[i:] + dims[:i]
        for direction in (1, -1):
            sequences.append(_part(op, n / (2 * len(dims)), ranks, shape, order, direction))
    return merge_lockstep(sequences)


def _part(op: str, n: float, ranks: np.ndarray, shape: tuple[int, ...], order: list[int],
          direction: int) -> list[StepPattern]:
    """One part's multi-dimensional ring over ``order`` in one direction."""
    def flows(d: int) -> tuple[np.ndarray, np.ndarray]:
        step = dimension_neighbours(shape, d) if direction > 0 else _backward(shape, d)
        return ranks, ranks[step]

    patterns: list[StepPattern] = []
    if op == "all-gather":
        shard = n / len(ranks)
        for d in reversed(order):
            patterns += ring_steps(*flows(d), shard * shape[d], shape[d], "all-gather", f" dim{d}")
            shard *= shape[d]
        return patterns
    sizes = []
    data = n
    for d in order:
        sizes.append(data)
        patterns += ring_steps(*flows(d), data, shape[d], "reduce-scatter", f" dim{d}")
        data /= shape[d]
    if op == "all-reduce":
        for d, data_d in zip(reversed(order), reversed(sizes)):
            patterns += ring_steps(*flows(d), data_d, shape[d], "all-gather", f" dim{d}")
    return patterns
