"""``exact``: the optimal placement and schedule of a small graph by MILP (:func:`scipy.optimize.milp`, HiGHS).

The model is the list schedulers' contention-free cost model (docs/references.md, "Exact placement"): binary ``x[v,d]``
(op ``v`` on device ``d``), start times ``s_v`` and the makespan ``C``. An edge ``u → v`` whose ends sit on
devices ``a != b`` delays ``v`` by the edge's transfer time from ``a`` to ``b`` (the slowest of its tensors);
two ops on one device that no path orders do not overlap (a binary order variable and a big-M disjunction);
co-located ops share a device. Memory is static: the persistent, output and temporary bytes of the ops on a
device stay within its limit. Minimise ``C``. Practical up to about 12 ops on 2–3 devices.

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> from simtrain.placement.devices import make_devices
>>> g = OpGraph.from_edges([1, 3, 3, 1, 3, 1], {(0, 1): 1, (0, 4): 1, (1, 2): 1, (2, 3): 1, (4, 5): 1, (5, 3): 1})
>>> round(Exact().place(g, make_devices(2)).makespan_s, 6)
8.0
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from simtrain.errors import InfeasibleError, SimtrainError
from simtrain.params import Param
from simtrain.placement.base import SHARED_PARAMETERS, Placement, Placer, register_placer
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph

__all__ = ["Exact", "SolverError"]


class SolverError(SimtrainError):
    """The MILP solver stopped without a solution on a problem that is not known to be infeasible."""


class _Rows:
    """Sparse constraint rows ``lo <= A x <= hi`` collected one at a time."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add(self, terms: dict[int, float], lo: float, hi: float) -> None:
        r = len(self.lo)
        for c, v in terms.items():
            self.rows.append(r)
            self.cols.append(c)
            self.vals.append(v)
        self.lo.append(lo)
        self.hi.append(hi)


@register_placer
class Exact(Placer):
    """The MILP optimum; ``max_ops`` guards against graphs too big to solve, ``time_limit`` in seconds."""

    name = "exact"

    parameters: ClassVar[tuple[Param, ...]] = (
        # the MILP grows as ops² x devices: past a few dozen ops HiGHS runs to its time limit without a solution
        Param("max_ops", "integer", 16, "refuse graphs of more ops than this", minimum=1, maximum=64),
        Param("time_limit", "number", 60.0, "the MILP solver's time limit", minimum=0, exclusive_minimum=True,
              maximum=3600.0, unit="s"),
        *SHARED_PARAMETERS,
    )
    max_ops: int
    time_limit: float

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        return self.solve(graph, devices)

    def solve(self, graph: OpGraph, devices: Devices, fixed_groups: np.ndarray | None = None) -> Placement:
        """The optimum, with co-location group ``g`` held on device ``fixed_groups[g]`` where that is ``>= 0``.

        Memory counts, per device, the persistent, output and temporary bytes of its ops and one copy of each
        tensor it receives (every tensor a consumer there reads from another device): what a device holds when
        nothing is freed (the ``held`` model), with every op's temporary bytes at once.

        Examples
        --------
        >>> from simtrain.placement.graph import OpGraph
        >>> from simtrain.placement.devices import make_devices
        >>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 0.5}, memory_bytes=[4, 4], edge_bytes={(0, 1): 3})
        >>> Exact().solve(g, make_devices(2, [8.0, 8.0])).device.tolist()  # together 4+4+3; apart 4+3, copy 3+4
        [0, 1]
        >>> Exact().solve(g, make_devices(2, [11.0, 11.0]), np.array([1, -1])).device.tolist()
        [1, 1]
        """
        n, m = graph.num_ops, devices.count
        import networkx as nx  # here, not at import: the command line starts without loading these
        import scipy.optimize
        import scipy.sparse

        if n > self.max_ops:
            raise self._error("max_ops", f"exact solves graphs of at most max_ops ops (this one has {n}); use m-etf, "
                              "m-sct or m-topo ('--algorithm all' compares them), or raise max_ops", self.max_ops)
        times = devices.tensor_times(graph.tensor_bytes, graph.tensor_comm_s)
        e_count = graph.num_edges
        comm = np.zeros((e_count, m, m))  # per edge: the slowest of its tensors
        for e in range(e_count):
            ts = graph.edge_tensors[graph.edge_offsets[e]:graph.edge_offsets[e + 1]]
            comm[e] = times[ts].max(axis=0)
        # times in units of the longest one: HiGHS's tolerances are absolute, and big-M rows of ops of 1e9 s
        # (the bound of an op graph's times) made it call a feasible model infeasible
        longest = max(float(graph.compute_s.max(initial=0.0)), float(comm.max(initial=0.0)))
        scale = longest if longest > 0 else 1.0
        p = graph.compute_s / scale
        comm = comm / scale
        dag = nx.DiGraph()
        dag.add_nodes_from(range(n))
        dag.add_edges_from(zip(graph.edge_src.tolist(), graph.edge_dst.tolist()))
        closure = nx.transitive_closure_dag(dag)
        pairs = [(u, v) for u in range(n) for v in range(u + 1, n)
                 if not closure.has_edge(u, v) and not closure.has_edge(v, u)]
        pair_list = [(a, b) for a in range(m) for b in range(m) if a != b]
        # variable layout
        x0, s0 = 0, n * m
        c_var = s0 + n
        y0 = c_var + 1                       # y[e, (a,b)] in [0, 1]
        q0 = y0 + e_count * len(pair_list)   # q[pair]: same device
        o0 = q0 + len(pairs)                 # o[pair]: u before v
        z0 = o0 + len(pairs)                 # z[t, d]: a copy of tensor t is received on d
        nvar = z0 + graph.num_tensors * m
        horizon = float(p.sum() + comm.max(axis=(1, 2)).sum()) + 1.0

        def x(v: int, d: int) -> int:
            return x0 + v * m + d

        rows = _Rows()
        for v in range(n):
            rows.add({x(v, d): 1.0 for d in range(m)}, 1.0, 1.0)
            rows.add({c_var: 1.0, s0 + v: -1.0}, float(p[v]), np.inf)
        for e, (u, v) in enumerate(zip(graph.edge_src.tolist(), graph.edge_dst.tolist())):
            terms = {s0 + v: 1.0, s0 + u: -1.0}
            for k, (a, b) in enumerate(pair_list):
                y = y0 + e * len(pair_list) + k
                rows.add({y: 1.0, x(u, a): -1.0, x(v, b): -1.0}, -1.0, np.inf)
                if comm[e, a, b]:
                    terms[y] = -float(comm[e, a, b])
            rows.add(terms, float(p[u]), np.inf)
        for k, (u, v) in enumerate(pairs):
            q, o = q0 + k, o0 + k
            for d in range(m):
                rows.add({q: 1.0, x(u, d): -1.0, x(v, d): -1.0}, -1.0, np.inf)
            # u before v: s_u + p_u <= s_v + H(1-o) + H(1-q)
            rows.add({s0 + v: 1.0, s0 + u: -1.0, o: -horizon, q: -horizon}, float(p[u]) - 2 * horizon, np.inf)
            # v before u: s_v + p_v <= s_u + H o + H(1-q)
            rows.add({s0 + u: 1.0, s0 + v: -1.0, o: horizon, q: -horizon}, float(p[v]) - horizon, np.inf)
        static = graph.persistent_bytes + graph.output_bytes + graph.temporary_bytes
        producer = graph.tensor_producer.tolist()
        for t, consumers in enumerate(graph.tensor_consumers):
            for c in consumers:
                for d in range(m):   # z[t,d] >= x[c,d] - x[producer,d]
                    rows.add({z0 + t * m + d: 1.0, x(c, d): -1.0, x(producer[t], d): 1.0}, 0.0, np.inf)
        for d in range(m):
            if np.isfinite(devices.memory_bytes[d]):
                terms = {x(v, d): float(static[v]) for v in range(n)}
                terms.update({z0 + t * m + d: float(b) for t, b in enumerate(graph.tensor_bytes.tolist()) if b})
                rows.add(terms, -np.inf, float(devices.memory_bytes[d]))
        for members in graph.group_members:
            for w in members[1:]:
                for d in range(m):
                    rows.add({x(members[0], d): 1.0, x(w, d): -1.0}, 0.0, 0.0)
        if fixed_groups is not None:
            for g, d in enumerate(np.asarray(fixed_groups).tolist()):
                if d >= 0:
                    rows.add({x(graph.group_members[g][0], d): 1.0}, 1.0, 1.0)
        matrix = scipy.sparse.csr_matrix((rows.vals, (rows.rows, rows.cols)), shape=(len(rows.lo), nvar))
        integrality = np.zeros(nvar)
        integrality[x0:s0] = 1
        integrality[q0:z0] = 1
        lower = np.zeros(nvar)
        upper = np.full(nvar, horizon)  # start times and the makespan never exceed the serial horizon
        upper[x0:s0] = 1
        upper[y0:nvar] = 1
        cost = np.zeros(nvar)
        cost[c_var] = 1.0
        problem = {"constraints": scipy.optimize.LinearConstraint(matrix, rows.lo, rows.hi),
                   "integrality": integrality, "bounds": scipy.optimize.Bounds(lower, upper)}
        result = scipy.optimize.milp(cost, **problem, options={"time_limit": self.time_limit})
        if result.status == 4:  # HiGHS's presolve occasionally fails on these models; solve without it
            result = scipy.optimize.milp(cost, **problem, options={"time_limit": self.time_limit, "presolve": False})
        if result.x is None and result.status == 2:
            raise InfeasibleError(f"exact: no placement satisfies the memory limits ({result.message})")
        if result.x is None:
            raise SolverError(f"exact: the MILP solver gave no solution ({result.message}); use m-sct or m-etf")
        sol = result.x
        device = np.argmax(sol[x0:s0].reshape(n, m), axis=1).astype(np.int64)
        start = np.maximum(sol[s0:s0 + n], 0.0) * scale
        start = _tighten(graph, device, start, times)
        return Placement(device, start, start + graph.compute_s, {"optimal": bool(result.status == 0),
                                                                  "milp_makespan_s": float(sol[c_var]) * scale})


def _tighten(graph: OpGraph, device: np.ndarray, start: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Start every op as early as the MILP's per-device order allows (removes solver slack)."""
    n = graph.num_ops
    order = np.lexsort((graph.topo_rank, np.round(start, 12)))
    p = graph.compute_s
    new = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    free: dict[int, float] = {}
    producer = graph.tensor_producer
    pending = list(order.tolist())
    while pending:  # the MILP order is a valid topological order up to ties; follow it
        first = next(k for k, w in enumerate(pending) if all(done[producer[t]] for t in graph.in_tensors[w]))
        v = pending.pop(first)
        d = int(device[v])
        ready = 0.0
        for t in graph.in_tensors[v]:
            u = int(producer[t])
            ready = max(ready, new[u] + p[u] + times[t, device[u], d])
        new[v] = max(ready, free.get(d, 0.0))
        free[d] = new[v] + p[v]
        done[v] = True
    return new
