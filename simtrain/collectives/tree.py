"""NCCL's double binary tree all-reduce (Jeaugey, NCCL 2.4; ``src/graph/trees.cc``).

Two complementary binary trees, each carrying half the buffer. Tree A is NCCL's ``ncclGetBtree``: rank 0 is the
root with one child, and the tree alternates leaves and nodes (every odd rank is a leaf, every even rank but 0
interior), so its height is about ``log2(p) + 1``. Tree B is ``ncclGetDtree``'s: A mirrored (rank ``r`` takes A's
place of ``p - 1 - r``) when ``p`` is even, A shifted by one rank when ``p`` is odd; either way a rank interior in
one tree is a leaf in the other, so no rank sends more than four of the two trees' flows (reduce up, broadcast
down). All-reduce is a pipelined reduce up both trees followed by a pipelined broadcast down them. In the steady
state every tree edge is busy; with ``h`` the height of the trees, ``c`` chunks and ``t`` the time of one chunk's
step (the slowest edge with all edges active), each phase takes ``(h + c - 1)·t``.

With one chunk the trees are not pipelined (as in ASTRA-sim): use ``chunks`` to pipeline.

Examples
--------
>>> parent, height = nccl_btree(14)   # the tree drawn in trees.cc: 0 - 8, 8 - (4, 12), 4 - (2, 6), ...
>>> parent.tolist(), height
([-1, 2, 4, 2, 8, 6, 4, 6, 0, 10, 12, 10, 8, 12], 4)
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern

__all__ = ["dtree_edges", "nccl_btree"]


def nccl_btree(p: int) -> tuple[np.ndarray, int]:
    """Parent of every rank of NCCL's binary tree on ``p`` ranks (``ncclGetBtree``; -1 at the root, rank 0), and
    its height.

    A rank ``r > 0`` with lowest set bit ``b`` has parent ``(r ^ b) | 2b``, or ``r ^ b`` when that is out of range.

    Examples
    --------
    >>> nccl_btree(8)[0].tolist()
    [-1, 2, 4, 2, 0, 6, 4, 6]
    """
    parent, depth = _btree(p)
    return parent, int(depth.max())


def dtree_edges(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The (child, parent) positions of every edge of NCCL's two trees on ``p`` ranks (``ncclGetDtree``: tree B
    mirrors A for even ``p`` and shifts it by one for odd ``p``), each edge's depth (its child's), and the height.

    Examples
    --------
    >>> child, parent, depth, height = dtree_edges(4)   # A: 0-2, 2-1, 2-3; B mirrored: 3-1, 1-2, 1-0
    >>> child.tolist(), parent.tolist(), depth.tolist(), height
    ([1, 2, 3, 2, 1, 0], [2, 0, 2, 1, 3, 1], [2, 1, 2, 2, 1, 2], 2)
    """
    parent, depth = _btree(p)
    child = np.flatnonzero(parent >= 0)
    other = (p - 1 - child, p - 1 - parent[child]) if p % 2 == 0 else ((child + 1) % p, (parent[child] + 1) % p)
    return (np.concatenate([child, other[0]]), np.concatenate([parent[child], other[1]]),
            np.concatenate([depth[child], depth[child]]), int(depth.max()))


def _btree(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Parent and depth of every rank of NCCL's binary tree on ``p`` ranks."""
    parent = np.full(p, -1, dtype=np.int64)
    depth = np.zeros(p, dtype=np.int64)
    ranks = np.arange(1, p, dtype=np.int64)
    low = ranks & -ranks
    up = (ranks ^ low) | (low << 1)
    parent[1:] = np.where(up >= p, ranks ^ low, up)
    # a parent's lowest set bit is above its child's (rank 0 has none): depths from the highest bit down
    for bit in sorted(set(low.tolist()), reverse=True):
        chosen = ranks[low == bit]
        depth[chosen] = depth[parent[chosen]] + 1
    return parent, depth


@register_algorithm(
    "double-binary-tree",
    ["all-reduce"],
    summary="two complementary pipelined binary trees, half the buffer each (NCCL tree); use chunks",
)
def build_double_binary_tree(op: str, n: float, ranks: np.ndarray, cluster: object) -> list[StepPattern]:
    """Patterns of one chunk: a pipelined reduce up both trees, then a pipelined broadcast down."""
    p = len(ranks)
    if p < 2:
        return []
    child, parent, level, height = dtree_edges(p)
    up_src, up_dst = ranks[child], ranks[parent]
    half = n / 2
    return [
        StepPattern(up_src, up_dst, half, 1, n, "tree reduce", stages=height, stage_of_flow=height - level),
        StepPattern(up_dst, up_src, half, 1, 0.0, "tree broadcast", stages=height, stage_of_flow=level - 1),
    ]
