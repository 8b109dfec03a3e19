"""NCCL-style double binary tree all-reduce (Jeaugey, NCCL 2.4).

Two complementary in-order binary trees, each carrying half the buffer: tree B is tree A with every rank moved
one position, so a rank that is a leaf in one tree is interior in the other. All-reduce is a pipelined reduce
up both trees followed by a pipelined broadcast down them. In the steady state every tree edge is busy; with
``h`` the height of the trees, ``c`` chunks and ``t`` the time of one chunk's step (the slowest edge with all
edges active), each phase takes ``(h + c - 1)·t``. On a switch each GPU link carries at most two of these
flows, so ``t = 2α + (n/2c)/(B/2)`` and, reduce and broadcast sharing the GPU links,

``T = 2h·t + (c - 1)·2t``  →  ``2n/B`` for many chunks, with ``2h·α``-like latency.

With one chunk the trees are not pipelined (as in ASTRA-sim): use ``chunks`` to pipeline.

Examples
--------
>>> import numpy as np
>>> parent, height = inorder_tree(7)
>>> parent.tolist(), height
([1, 3, 1, -1, 5, 3, 5], 2)
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern

__all__ = ["inorder_tree"]


def inorder_tree(p: int) -> tuple[np.ndarray, int]:
    """Parent position of every position of a balanced in-order binary tree on ``p`` positions, and its height.

    The root is the middle position; ``parent`` is -1 at the root.
    """
    parent, depth = _inorder_tree(p)
    return parent, int(depth.max())


def _inorder_tree(p: int) -> tuple[np.ndarray, np.ndarray]:
    parent = np.full(p, -1, dtype=np.int64)
    depths = np.zeros(p, dtype=np.int64)
    stack = [(0, p - 1, -1, 0)]
    while stack:
        lo, hi, up, depth = stack.pop()
        if lo > hi:
            continue
        mid = (lo + hi) // 2
        parent[mid] = up
        depths[mid] = depth
        stack.append((lo, mid - 1, mid, depth + 1))
        stack.append((mid + 1, hi, mid, depth + 1))
    return parent, depths


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
    parent, depth = _inorder_tree(p)
    height = int(depth.max())
    child = np.flatnonzero(parent >= 0)
    level = np.concatenate([depth[child], depth[child]])  # same shape in both trees
    shifted = np.roll(ranks, 1)
    up_src = np.concatenate([ranks[child], shifted[child]])
    up_dst = np.concatenate([ranks[parent[child]], shifted[parent[child]]])
    half = n / 2
    return [
        StepPattern(up_src, up_dst, half, 1, n, "tree reduce", stages=height, stage_of_flow=height - level),
        StepPattern(up_dst, up_src, half, 1, 0.0, "tree broadcast", stages=height, stage_of_flow=level - 1),
    ]
