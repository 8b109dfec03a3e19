"""A smaller favourite-child LP for m-SCT with the same optimum: chain contraction.

The LP of :mod:`~simtrain.placement.m_sct` (docs/references.md, "m-SCT and its LP") has a variable ``x_e`` in
[0, 1] per edge, a start time ``s_v >= 0`` per op and the makespan ``w``; it minimises ``w`` subject to

* precedence ``s_u + p_u + c_e·x_e <= s_v`` for every edge ``e = u → v`` (``c_e >= 0``);
* one favourite child ``Σ_{e out of u} x_e >= outdeg(u) - 1`` for every ``u`` with ``outdeg(u) >= 2``;
* one favourite parent ``Σ_{e into v} x_e >= indeg(v) - 1`` for every ``v`` with ``indeg(v) >= 2``;
* makespan ``s_v + p_v <= w`` for every op ``v``.

An :class:`LPGraph` is the graph the LP is built on (nodes with a compute time, edges with a communication
time) together with the map back to the original ops and edges.

:func:`contract_chains` is exact. Let ``e = u → v`` be an edge with ``outdeg(u) = 1`` and ``indeg(v) = 1``.
Then ``x_e`` appears in no degree row (those exist only for degree >= 2) and only in its own precedence row,
with the coefficient ``c_e >= 0``; so lowering ``x_e`` to 0 keeps any solution feasible with the same ``w``:
some optimum has ``x_e = 0``. Fix it there and merge ``u`` and ``v`` into one node of compute ``p_u + p_v`` that
starts at ``s_u``:

* a solution with ``x_e = 0`` gives one of the merged LP with the same ``w``: the merged node starts at ``s_u``;
  ``v``'s out-edges now leave at ``s_u + p_u + p_v <= s_v + p_v``, and its makespan row
  ``s_u + p_u + p_v <= s_v + p_v <= w`` holds, so every row stays satisfied;
* a solution of the merged LP gives one of the original with the same ``w`` (``s_v := s_u + p_u``: ``e``'s
  row is tight, ``v``'s out-edges and makespan row are the merged node's, and ``s_u + p_u <= s_v + p_v <= w``);
* no degree row changes: ``u`` had no out-row and ``v`` no in-row, and the merged node has ``u``'s in-edges and
  ``v``'s out-edges.

Hence both LPs have the same optimum, and the contracted edges get ``x_e = 0`` (a favourite for every
threshold in [0, 1]). Contracting all such edges at once is the same argument applied edge by edge (a merge
keeps every other node's degrees), and one pass suffices: a merged node has the in-degree of its first op and
the out-degree of its last, so no new such edge appears. The solver may still land on another optimal vertex
than on the unreduced LP (GNMT: 6 of 2,494 favourites differ; the same step time).

Two other reductions were measured and left out. The makespan rows of ops with a successor are implied
(``s_v + p_v <= s_t - c·x <= s_t`` along any path to a sink); dropping them halves HiGHS's simplex time on GNMT
(0.18 → 0.09 s) but moves it to another optimal vertex with 294 other favourites (step 226.9 → 227.4 ms).
Baechi's coplace fusion (fuse every op with one consumer into it) is an approximation, and on the 20,000-op
benchmark graph it was both slower than the goal (a 26 s LP) and worse (LP makespan +4 %, step +5 %).

Examples
--------
>>> lpg = LPGraph.from_arrays(np.array([1.0, 2.0, 3.0]), np.array([0, 1]), np.array([1, 2]), np.ones(2))
>>> small = contract_chains(lpg)                    # 0 → 1 → 2 is one chain: one node of compute 6
>>> small.num_nodes, small.num_edges, small.compute.tolist(), small.offset.tolist()
(1, 0, [6.0], [0.0, 1.0, 3.0])
>>> small.lift_x(np.zeros(0)).tolist()             # both edges are favourites
[0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LPGraph", "contract_chains", "topological_order"]


@dataclass(frozen=True)
class LPGraph:
    """The graph an LP is built on, and the map from the original graph to it.

    Attributes
    ----------
    compute : ndarray of float
        Compute time of each LP node.
    src, dst : ndarray of int
        The LP's edges.
    comm : ndarray of float
        Communication time of each LP edge (``c_e``, >= 0).
    node_of : ndarray of int
        The LP node of each original op.
    offset : ndarray of float
        Each original op's start relative to its LP node's start.
    edge_of : ndarray of int
        The LP edge of each original edge; ``-1`` for an edge inside an LP node, whose ``x_e`` is 0.
    """

    compute: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    comm: np.ndarray
    node_of: np.ndarray
    offset: np.ndarray
    edge_of: np.ndarray

    @property
    def num_nodes(self) -> int:
        """Number of LP nodes."""
        return len(self.compute)

    @property
    def num_edges(self) -> int:
        """Number of LP edges."""
        return len(self.src)

    @classmethod
    def from_arrays(cls, compute: np.ndarray, src: np.ndarray, dst: np.ndarray, comm: np.ndarray) -> LPGraph:
        """The unreduced LP graph: one node per op and one edge per edge.

        Examples
        --------
        >>> LPGraph.from_arrays(np.ones(2), np.array([0]), np.array([1]), np.array([0.5])).num_edges
        1
        """
        n, e = len(compute), len(src)
        return cls(np.asarray(compute, dtype=np.float64), np.asarray(src, dtype=np.int64),
                   np.asarray(dst, dtype=np.int64), np.asarray(comm, dtype=np.float64),
                   np.arange(n, dtype=np.int64), np.zeros(n), np.arange(e, dtype=np.int64))

    def lift_x(self, x: np.ndarray) -> np.ndarray:
        """Per original edge ``x_e`` from the LP's per LP edge ``x`` (0 inside an LP node).

        Examples
        --------
        >>> lpg = LPGraph.from_arrays(np.ones(2), np.array([0]), np.array([1]), np.array([0.5]))
        >>> lpg.lift_x(np.array([0.25])).tolist()
        [0.25]
        """
        out = np.zeros(len(self.edge_of))
        kept = self.edge_of >= 0
        out[kept] = np.asarray(x, dtype=np.float64)[self.edge_of[kept]]
        return out

    def lift_start(self, start: np.ndarray) -> np.ndarray:
        """Per original op start time from the LP's per LP node ``start``.

        Examples
        --------
        >>> lpg = contract_chains(LPGraph.from_arrays(np.ones(2), np.array([0]), np.array([1]), np.ones(1)))
        >>> lpg.lift_start(np.array([3.0])).tolist()
        [3.0, 4.0]
        """
        return np.asarray(start, dtype=np.float64)[self.node_of] + self.offset

    def _then(self, node_of: np.ndarray, offset: np.ndarray, compute: np.ndarray, src: np.ndarray,
              dst: np.ndarray, comm: np.ndarray, edge_of: np.ndarray) -> LPGraph:
        """Compose a reduction step (maps from this graph's nodes and edges) after this graph's maps."""
        mine = self.edge_of
        lifted = np.where(mine >= 0, edge_of[np.maximum(mine, 0)], -1) if len(mine) else mine
        return LPGraph(compute, src, dst, comm, node_of[self.node_of], self.offset + offset[self.node_of],
                       lifted.astype(np.int64))


def topological_order(num_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Kahn's breadth-first topological order, sources seeded in id order.

    Examples
    --------
    >>> topological_order(3, np.array([2, 0]), np.array([1, 2])).tolist()
    [0, 2, 1]
    """
    indeg = np.bincount(dst, minlength=num_nodes).tolist()
    order_edges = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[order_edges], np.arange(num_nodes + 1)).tolist()
    heads = dst[order_edges].tolist()
    order = [v for v in range(num_nodes) if indeg[v] == 0]
    i = 0
    while i < len(order):
        u = order[i]
        i += 1
        for v in heads[starts[u]:starts[u + 1]]:
            indeg[v] -= 1
            if indeg[v] == 0:
                order.append(v)
    if len(order) != num_nodes:
        raise ValueError("the graph has a cycle")
    return np.asarray(order, dtype=np.int64)


def contract_chains(lpg: LPGraph) -> LPGraph:
    """Merge every edge ``u → v`` with ``outdeg(u) = 1`` and ``indeg(v) = 1``: exact (module docstring).

    Examples
    --------
    >>> # 0 → 1 → 2 and 0 → 3: only 1 → 2 is a chain edge (0 has two children)
    >>> lpg = LPGraph.from_arrays(np.ones(4), np.array([0, 0, 1]), np.array([1, 3, 2]), np.ones(3))
    >>> small = contract_chains(lpg)
    >>> small.num_nodes, small.node_of.tolist(), small.edge_of.tolist()
    (3, [0, 1, 1, 2], [0, 1, -1])
    """
    n, src, dst = lpg.num_nodes, lpg.src, lpg.dst
    outdeg = np.bincount(src, minlength=n)
    indeg = np.bincount(dst, minlength=n)
    chain = (outdeg[src] == 1) & (indeg[dst] == 1)
    if not chain.any():
        return lpg
    following = np.full(n, -1, dtype=np.int64)
    following[src[chain]] = dst[chain]
    is_head = np.ones(n, dtype=bool)
    is_head[dst[chain]] = False
    heads = np.flatnonzero(is_head)
    node_of = np.empty(n, dtype=np.int64)
    offset = np.empty(n)
    compute = np.empty(len(heads))
    p, nxt = lpg.compute.tolist(), following.tolist()
    for k, h in enumerate(heads.tolist()):   # each op is on exactly one chain (a DAG has no cycle of them)
        v, acc = h, 0.0
        while v >= 0:
            node_of[v] = k
            offset[v] = acc
            acc += p[v]
            v = nxt[v]
        compute[k] = acc
    keep = ~chain
    edge_of = np.full(len(src), -1, dtype=np.int64)
    edge_of[keep] = np.arange(int(keep.sum()))
    return lpg._then(node_of, offset, compute, node_of[src[keep]], node_of[dst[keep]], lpg.comm[keep], edge_of)
