"""m-SCT: memory-constrained Small-Communication-Time scheduling (Baechi; Hanen & Munier).

1. The LP relaxation of P∞|prec,c|Cmax with favourite-child variables (research/baechi.md §1.5), solved with
   :func:`scipy.optimize.linprog` (HiGHS): variables ``x_e`` in [0, 1] (1: the edge pays its communication),
   start times ``s_v`` and the makespan ``w``; minimise ``w`` subject to ``s_u + p_u + c_e·x_e <= s_v``, at most
   one favourite child per op and one favourite parent per op, and ``s_v + p_v <= w``.
2. Rounding: edge ``e`` is a favourite iff ``round(x_e - threshold + 0.5) == 0`` (Python's rounding, as Baechi;
   threshold 0.1 as its TF placer), conflicts repaired in edge order (the last favourite edge of a parent wins,
   and a child keeps only its last favourite parent).
3. List scheduling as m-ETF, where a device that just ran ``u`` waits for ``u``'s favourite child unless another
   op is urgent (:func:`~simtrain.placement.listsched.list_schedule`).

The LP's communication cost of an edge is the mean over device pairs of its tensors' transfer times.

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> g = OpGraph.from_edges([1, 3, 3, 1, 3, 1], {(0, 1): 1, (0, 4): 1, (1, 2): 1, (2, 3): 1, (4, 5): 1, (5, 3): 1})
>>> lp = solve_favourite_lp(g, np.ones(g.num_edges))
>>> round(lp.makespan_s, 9)          # the relaxed makespan equals the critical path 0-1-2-3
8.0
>>> int((favourite_children(g, lp.x, 0.1) >= 0).sum())
4
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.placement.base import Placement, Placer, register_placer
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.placement.listsched import list_schedule

__all__ = ["FavouriteLP", "MSct", "favourite_children", "solve_favourite_lp"]


@dataclass(frozen=True)
class FavouriteLP:
    """The LP's solution: edge variables ``x``, start times ``start_s`` and the relaxed makespan."""

    x: np.ndarray
    start_s: np.ndarray
    makespan_s: float
    solve_time_s: float


def solve_favourite_lp(graph: OpGraph, edge_comm_s: np.ndarray, method: str = "auto") -> FavouriteLP:
    """Solve the favourite-child LP relaxation (module docstring) with HiGHS.

    ``method`` is a :func:`scipy.optimize.linprog` HiGHS method; ``auto`` takes ``highs`` (simplex, a vertex
    solution) up to 5,000 ops and the interior-point ``highs-ipm`` above, which is faster on large graphs.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 0.5, (0, 2): 0.5})
    >>> lp = solve_favourite_lp(g, np.full(2, 0.5))
    >>> round(lp.makespan_s, 9), round(float(lp.x.sum()), 9)   # one child pays the transfer, or both half
    (2.25, 1.0)
    """
    import scipy.optimize  # here, not at import: the command line starts without loading SciPy's solvers
    import scipy.sparse

    n, e = graph.num_ops, graph.num_edges
    # solve in units of the mean op time: HiGHS is much faster on well-scaled coefficients
    scale = float(graph.compute_s.mean()) if n and graph.compute_s.mean() > 0 else 1.0
    p = graph.compute_s / scale
    c = np.asarray(edge_comm_s, dtype=np.float64) / scale
    nvar = e + n + 1
    w = e + n
    src, dst = graph.edge_src, graph.edge_dst
    eidx = np.arange(e)
    rows, cols, vals, rhs = [], [], [], []
    # precedence: s_u - s_v + c_e x_e <= -p_u
    rows += [eidx, eidx, eidx]
    cols += [e + src, e + dst, eidx]
    vals += [np.ones(e), -np.ones(e), c]
    rhs.append(-p[src])
    row = e
    # at most one favourite child: -sum_{succ} x <= -(outdeg - 1), for outdeg >= 2
    outdeg = np.bincount(src, minlength=n)
    indeg = np.bincount(dst, minlength=n)
    for ends, deg in ((src, outdeg), (dst, indeg)):
        nodes = np.flatnonzero(deg >= 2)
        index = np.full(n, -1, dtype=np.int64)
        index[nodes] = row + np.arange(len(nodes))
        mask = index[ends] >= 0
        rows.append(index[ends][mask])
        cols.append(eidx[mask])
        vals.append(-np.ones(int(mask.sum())))
        rhs.append(-(deg[nodes] - 1.0))
        row += len(nodes)
    # makespan: s_v - w <= -p_v
    vidx = np.arange(n)
    rows += [row + vidx, row + vidx]
    cols += [e + vidx, np.full(n, w)]
    vals += [np.ones(n), -np.ones(n)]
    rhs.append(-p)
    row += n
    matrix = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(row, nvar))
    cost = np.zeros(nvar)
    cost[w] = 1.0
    bounds = np.zeros((nvar, 2))
    bounds[:, 1] = np.inf
    bounds[:e, 1] = 1.0
    began = time.perf_counter()
    if method == "auto":
        method = "highs" if n <= 5000 else "highs-ipm"
    if method not in ("highs", "highs-ds", "highs-ipm"):
        raise ConfigError("unknown LP method", source="<cli>", key="--algorithm", value=method,
                          choices=["auto", "highs", "highs-ds", "highs-ipm"])
    result = scipy.optimize.linprog(cost, A_ub=matrix, b_ub=np.concatenate(rhs), bounds=bounds, method=method)
    elapsed = time.perf_counter() - began
    if result.status != 0:  # pragma: no cover - the LP is always feasible and bounded
        raise RuntimeError(f"the favourite-child LP failed: {result.message}")
    x = np.clip(result.x[:e], 0.0, 1.0)
    return FavouriteLP(x, result.x[e:e + n] * scale, float(result.x[w]) * scale, elapsed)


def favourite_children(graph: OpGraph, x: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Each op's favourite child (``-1``: none) from the LP's ``x``, with Baechi's rounding and repair.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 1.0, (0, 2): 1.0})
    >>> favourite_children(g, np.array([0.0, 0.05]), 0.1).tolist()    # both round to favourite: the last wins
    [2, -1, -1]
    """
    fav = np.full(graph.num_ops, -1, dtype=np.int64)
    parent = np.full(graph.num_ops, -1, dtype=np.int64)
    for e, (u, v) in enumerate(zip(graph.edge_src.tolist(), graph.edge_dst.tolist())):
        if round(float(x[e]) - threshold + 0.5) != 0:
            continue
        old_child = fav[u]
        if old_child >= 0 and parent[old_child] == u:
            parent[old_child] = -1
        old_parent = parent[v]
        if old_parent >= 0 and fav[old_parent] == v:
            fav[old_parent] = -1
        fav[u] = v
        parent[v] = u
    return fav


@register_placer
class MSct(Placer):
    """m-SCT; ``threshold``: the favourite-rounding threshold (0.1, Baechi TF; BaechiPyTorch uses 0.5);
    ``lp_method``: see :func:`solve_favourite_lp`."""

    name = "m-sct"

    def __init__(self, threshold: float = 0.1, lp_method: str = "auto", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lp_method = str(lp_method)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise ConfigError("threshold must lie in [0, 1]", source="<cli>", key="--algorithm", value=threshold)
        self.threshold = float(threshold)

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        times = devices.tensor_times(graph.tensor_bytes, graph.tensor_comm_s)
        m = devices.count
        pair_mean = times.sum(axis=(1, 2)) / max(m * (m - 1), 1)
        lp = solve_favourite_lp(graph, graph.edge_comm_s(pair_mean), self.lp_method)
        fav = favourite_children(graph, lp.x, self.threshold)
        schedule = list_schedule(graph, devices, memory_model=memory_model, favourite=fav.tolist())
        return Placement(schedule.device, schedule.start, schedule.end,
                         {"lp_makespan_s": lp.makespan_s, "lp_time_s": lp.solve_time_s,
                          "favourite_edges": int((fav >= 0).sum()),
                          "peak_memory_bytes": schedule.peak_memory_bytes.tolist()})
