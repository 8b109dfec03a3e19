"""m-SCT: memory-constrained Small-Communication-Time scheduling (Baechi; Hanen & Munier).

1. The LP relaxation of P∞|prec,c|Cmax with favourite-child variables (docs/references.md, "m-SCT and its LP"),
   solved with :func:`scipy.optimize.linprog` (HiGHS): variables ``x_e`` in [0, 1] (1: the edge pays its communication),
   start times ``s_v`` and the makespan ``w``; minimise ``w`` subject to ``s_u + p_u + c_e·x_e <= s_v``, at most
   one favourite child per op and one favourite parent per op, and ``s_v + p_v <= w``. Chains (an edge whose
   parent has one child and whose child one parent) are contracted first, which keeps the optimum
   (:mod:`~simtrain.placement.lp_reduce`); an LP that is still large (the placer's ``lp_window_above``, 10,000
   ops) is solved as a rolling horizon of 2,000-op windows, an approximation (:func:`solve_favourite_lp`).
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
>>> lp.lp_ops, lp.x[[2, 4]].tolist()  # 1 → 2 and 4 → 5 are contracted: favourites, and 4 LP ops
(4, [0.0, 0.0])
>>> int((favourite_children(g, lp.x, 0.1) >= 0).sum())
4
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from simtrain.errors import ConfigError
from simtrain.params import Param
from simtrain.placement.base import SHARED_PARAMETERS, Placement, Placer, register_placer
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.placement.listsched import list_schedule
from simtrain.placement.lp_reduce import LPGraph, contract_chains, topological_order

__all__ = ["FavouriteLP", "MSct", "favourite_children", "solve_favourite_lp"]


@dataclass(frozen=True)
class FavouriteLP:
    """The LP's solution: edge variables ``x``, start times ``start_s`` and the relaxed makespan.

    ``solve_time_s`` covers the reduction, the LP's construction and HiGHS; ``lp_ops`` and ``lp_edges`` give the
    size of the LP after the exact reduction (:mod:`~simtrain.placement.lp_reduce`); ``windows`` is the number
    of rolling-horizon windows it was solved in (1: whole, exact; more: ``makespan_s`` is the makespan of a
    feasible LP solution, an upper bound on the LP optimum).
    """

    x: np.ndarray
    start_s: np.ndarray
    makespan_s: float
    solve_time_s: float
    lp_ops: int = 0
    lp_edges: int = 0
    windows: int = 1


#: The ``method`` values of :func:`solve_favourite_lp`.
LP_METHODS = ("auto", "highs", "highs-ds", "highs-ipm")


def solve_favourite_lp(graph: OpGraph, edge_comm_s: np.ndarray, method: str = "auto", *,
                       window_above: int | None = None, window_ops: int = 2000) -> FavouriteLP:
    """Solve the favourite-child LP relaxation (module docstring) with HiGHS.

    The LP is first made smaller without changing its optimum
    (:func:`~simtrain.placement.lp_reduce.contract_chains`, proof there): an edge whose parent has one child
    and whose child one parent is a favourite (``x_e = 0``), and its two ops one LP op.

    If ``window_above`` is given and the reduced LP has more ops than that (and than ``window_ops``), it is solved
    as a rolling horizon, an approximation: windows of ``window_ops`` consecutive ops of the topological order,
    each an LP with the earlier ops' start times and favourites fixed (and the favourite-child share they used
    counted against each op's one), whose makespan rows count each op's compute-only critical path to the end
    (``s_v + tail_v <= w``: a lower bound on the whole makespan given the window's decisions, rather than the
    window's own makespan). The first three quarters of each window are kept (the edges into them, and their
    earliest start times under the kept ``x``), and the next window starts there. The result is a feasible
    solution of the whole LP, so its makespan is an upper bound on the LP optimum: on the 20,000-op benchmark
    graph within 0.02 % of it, with the same step time to 0.1 %, in 10 s instead of 40 s.

    ``method`` is a :func:`scipy.optimize.linprog` HiGHS method; ``auto`` takes ``highs`` (simplex, a vertex
    solution) for an LP solved whole with up to 5,000 ops, and the interior-point ``highs-ipm`` (faster on large
    LPs) above and for every window.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 0.5, (0, 2): 0.5})
    >>> lp = solve_favourite_lp(g, np.full(2, 0.5))
    >>> round(lp.makespan_s, 9), round(float(lp.x.sum()), 9)   # one child pays the transfer, or both half
    (2.25, 1.0)
    >>> chain = OpGraph.from_edges([1.0, 2.0, 3.0], {(0, 1): 5.0, (1, 2): 5.0})
    >>> lp = solve_favourite_lp(chain, np.full(2, 5.0))      # a chain: one LP op, both edges favourites
    >>> lp.lp_ops, lp.x.tolist(), lp.start_s.tolist(), lp.makespan_s
    (1, [0.0, 0.0], [0.0, 1.0, 3.0], 6.0)
    >>> lp = solve_favourite_lp(g, np.full(2, 0.5), window_above=1, window_ops=2)   # two windows
    >>> lp.windows, lp.makespan_s >= 2.25
    (2, True)
    """
    if method not in LP_METHODS:
        raise ConfigError("unknown LP method", key="method", value=method, choices=list(LP_METHODS))
    comm = np.asarray(edge_comm_s, dtype=np.float64)
    if comm.shape != (graph.num_edges,) or not np.all(np.isfinite(comm)) or np.any(comm < 0):
        raise ValueError("edge_comm_s must hold one finite time >= 0 per edge")
    if isinstance(window_ops, bool) or not isinstance(window_ops, (int, np.integer)) or window_ops < 2:
        raise ValueError("window_ops must be an integer >= 2")
    began = time.perf_counter()
    lpg = contract_chains(LPGraph.from_arrays(graph.compute_s, graph.edge_src, graph.edge_dst, comm))
    # solve in units of the mean op time: HiGHS is much faster on well-scaled coefficients
    mean = float(graph.compute_s.mean()) if graph.num_ops else 0.0
    scale = mean if mean > 0 else 1.0
    p, c = lpg.compute / scale, lpg.comm / scale
    windows = 1
    if window_above is None or lpg.num_nodes <= max(window_above, window_ops):
        if method == "auto":
            method = "highs" if lpg.num_nodes <= 5000 else "highs-ipm"
        x, start, makespan = _solve_lp(p, lpg.src, lpg.dst, c, method)
    else:
        x, start, makespan, windows = _solve_windows(p, lpg.src, lpg.dst, c,
                                                      "highs-ipm" if method == "auto" else method, int(window_ops))
    elapsed = time.perf_counter() - began
    return FavouriteLP(lpg.lift_x(x), lpg.lift_start(start * scale), makespan * scale, elapsed, lpg.num_nodes,
                       lpg.num_edges, windows)


def _solve_lp(p: np.ndarray, src: np.ndarray, dst: np.ndarray, c: np.ndarray, method: str,
              fixed_start: np.ndarray | None = None, child_budget: np.ndarray | None = None,
              tail: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The favourite-child LP on nodes of compute ``p`` and edges ``src → dst`` of cost ``c``: ``(x, s, w)``.

    ``fixed_start`` (``nan``: free) fixes some nodes' start times; those nodes get no makespan row (a window's
    boundary). ``child_budget`` replaces the 1 in each node's favourite-child row ``Σ (1 - x_e) <= 1``. ``tail``
    replaces ``p`` in the makespan rows ``s_v + p_v <= w``.
    """
    import scipy.optimize  # here, not at import: the command line starts without loading SciPy's solvers
    import scipy.sparse

    n, e = len(p), len(src)
    nvar = e + n + 1
    w = e + n
    eidx = np.arange(e)
    rows, cols, vals, rhs = [], [], [], []
    # precedence: s_u - s_v + c_e x_e <= -p_u
    rows += [eidx, eidx, eidx]
    cols += [e + src, e + dst, eidx]
    vals += [np.ones(e), -np.ones(e), c]
    rhs.append(-p[src])
    row = e
    # at most one favourite child: -sum_{succ} x <= budget - outdeg, for outdeg >= 2 (or a budget below 1);
    # at most one favourite parent alike
    outdeg = np.bincount(src, minlength=n)
    indeg = np.bincount(dst, minlength=n)
    budget = np.ones(n) if child_budget is None else np.clip(child_budget, 0.0, 1.0)
    for ends, deg, cap in ((src, outdeg, budget), (dst, indeg, np.ones(n))):
        nodes = np.flatnonzero((deg >= 2) | ((deg >= 1) & (cap < 1.0)))
        index = np.full(n, -1, dtype=np.int64)
        index[nodes] = row + np.arange(len(nodes))
        mask = index[ends] >= 0
        rows.append(index[ends][mask])
        cols.append(eidx[mask])
        vals.append(-np.ones(int(mask.sum())))
        rhs.append(cap[nodes] - deg[nodes])
        row += len(nodes)
    # makespan: s_v - w <= -p_v. Only the sinks' rows are needed (the others are implied along a path to a sink),
    # but dropping them moves HiGHS's simplex to another optimal vertex, with other favourites (GNMT: 227.4 ms
    # instead of 226.9 ms), for 0.1 s; kept.
    free = np.ones(n, dtype=bool) if fixed_start is None else np.isnan(fixed_start)
    vidx = np.flatnonzero(free)
    k = len(vidx)
    rows += [row + np.arange(k), row + np.arange(k)]
    cols += [e + vidx, np.full(k, w)]
    vals += [np.ones(k), -np.ones(k)]
    rhs.append(-(p if tail is None else tail)[vidx])
    row += k
    matrix = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(row, nvar))
    cost = np.zeros(nvar)
    cost[w] = 1.0
    bounds = np.zeros((nvar, 2))
    bounds[:, 1] = np.inf
    bounds[:e, 1] = 1.0
    if fixed_start is not None:
        bounds[e:e + n][~free] = fixed_start[~free, None]
    result = scipy.optimize.linprog(cost, A_ub=matrix, b_ub=np.concatenate(rhs), bounds=bounds, method=method)
    if result.status != 0:  # pragma: no cover - the LP is always feasible and bounded
        raise RuntimeError(f"the favourite-child LP failed: {result.message}")
    return np.clip(result.x[:e], 0.0, 1.0), result.x[e:e + n], float(result.x[w])


def _solve_windows(p: np.ndarray, src: np.ndarray, dst: np.ndarray, c: np.ndarray, method: str,
                   window: int) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The LP as a rolling horizon (see :func:`solve_favourite_lp`): ``(x, s, w, number of windows)``."""
    n = len(p)
    order = topological_order(n, src, dst)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    keep = max(1, window * 3 // 4)
    x = np.ones(len(src))
    start = np.zeros(n)
    spent = np.zeros(n)                    # favourite-child share used by kept edges: sum of (1 - x_e)
    in_edges: list[list[int]] = [[] for _ in range(n)]
    for e, v in enumerate(dst.tolist()):
        in_edges[v].append(e)
    src_l, p_l = src.tolist(), p.tolist()
    # each op's compute-only critical path to the end (itself included): what must still run after it starts
    tails = p.copy()
    out_edges: list[list[int]] = [[] for _ in range(n)]
    for e, u in enumerate(src_l):
        out_edges[u].append(e)
    dst_l = dst.tolist()
    for u in order[::-1].tolist():
        best = 0.0
        for e in out_edges[u]:
            best = max(best, tails[dst_l[e]])
        tails[u] = p_l[u] + best
    dst_pos = pos[dst]
    windows, a = 0, 0
    while a < n:
        b = min(a + window, n)
        kept_end = b if b == n else a + keep
        nodes = order[a:b]
        edges = np.flatnonzero((dst_pos >= a) & (dst_pos < b))
        # local ids: the window's ops, then the earlier ops its edges leave from (start times fixed)
        boundary = np.unique(src[edges][pos[src[edges]] < a])
        local = np.full(n, -1, dtype=np.int64)
        members = np.concatenate([nodes, boundary])
        local[members] = np.arange(len(members))
        fixed = np.full(len(members), np.nan)
        fixed[len(nodes):] = start[boundary]
        xw, _, _ = _solve_lp(p[members], local[src[edges]], local[dst[edges]], c[edges], method,
                             fixed_start=fixed, child_budget=1.0 - spent[members],
                             tail=tails[members])
        kept = dst_pos[edges] < kept_end
        x[edges[kept]] = xw[kept]
        np.add.at(spent, src[edges[kept]], 1.0 - xw[kept])
        c_x = c * x
        for v in order[a:kept_end].tolist():   # earliest starts under the kept favourites
            best = 0.0
            for e in in_edges[v]:
                u = src_l[e]
                best = max(best, start[u] + p_l[u] + c_x[e])
            start[v] = best
        windows += 1
        a = kept_end
    return x, start, float((start + p).max()) if n else 0.0, windows


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
    ``lp_method``: see :func:`solve_favourite_lp`; ``lp_window_above``: an LP with more ops than this (after the
    exact reduction) is solved as a rolling horizon of 2,000-op windows, an approximation (``null``: always
    whole)."""

    name = "m-sct"

    parameters: ClassVar[tuple[Param, ...]] = (
        Param("threshold", "number", 0.1, "favourite-rounding threshold θ", minimum=0, maximum=1),
        Param("lp_method", "choice", "auto", "how the LP is solved", choices=tuple(LP_METHODS)),
        Param("lp_window_above", "integer", 10_000, "solve an LP of more ops as 2,000-op windows (null: never)",
              minimum=0, nullable=True),
        *SHARED_PARAMETERS,
    )
    threshold: float
    lp_method: str
    lp_window_above: int | None

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        times = devices.tensor_times(graph.tensor_bytes, graph.tensor_comm_s)
        m = devices.count
        pair_mean = times.sum(axis=(1, 2)) / max(m * (m - 1), 1)
        lp = solve_favourite_lp(graph, graph.edge_comm_s(pair_mean), self.lp_method,
                                window_above=self.lp_window_above)
        fav = favourite_children(graph, lp.x, self.threshold)
        schedule = list_schedule(graph, devices, memory_model=memory_model, favourite=fav.tolist())
        return Placement(schedule.device, schedule.start, schedule.end,
                         {"lp_makespan_s": lp.makespan_s, "lp_time_s": lp.solve_time_s, "lp_ops": lp.lp_ops,
                          "lp_windows": lp.windows, "favourite_edges": int((fav >= 0).sum()),
                          "peak_memory_bytes": schedule.peak_memory_bytes.tolist()})
