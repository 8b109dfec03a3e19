"""m-SCT's favourite-child LP: the exact chain contraction keeps the optimum, the rolling horizon gives a feasible
LP solution, and the placer's LP parameters (Hypothesis over small DAGs, the paper's six-op example)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simtrain.errors import ConfigError
from simtrain.placement import GraphBuilder, OpGraph, make_devices, make_placer, place
from simtrain.placement.lp_reduce import LPGraph, contract_chains, topological_order
from simtrain.placement.m_sct import LP_METHODS, _solve_lp, favourite_children, solve_favourite_lp

# Baechi's Fig. 1 example (docs/references.md, "The paper's Fig. 1 example"): every edge costs 1.
FIG1 = OpGraph.from_edges([1, 3, 3, 1, 3, 1], {(0, 1): 1, (0, 4): 1, (1, 2): 1, (2, 3): 1, (4, 5): 1, (5, 3): 1})


@st.composite
def small_dags(draw):
    """DAGs of 2-12 ops with 0-3 parents each (chains, forks and joins), integer-tenth costs."""
    n = draw(st.integers(2, 12))
    compute = [draw(st.integers(0, 9)) / 10 for _ in range(n)]
    edges = {}
    for v in range(1, n):
        for u in draw(st.sets(st.integers(max(0, v - 4), v - 1), max_size=3)):
            edges[(u, v)] = draw(st.integers(0, 30)) / 10
    return OpGraph.from_edges(compute, edges)


def _unreduced_makespan(graph: OpGraph, comm: np.ndarray) -> float:
    return _solve_lp(graph.compute_s, graph.edge_src, graph.edge_dst, comm, "highs")[2]


def _assert_feasible(graph: OpGraph, comm: np.ndarray, lp, tol: float = 1e-7) -> None:
    """The lifted solution satisfies every row of the unreduced LP, with makespan ``lp.makespan_s``."""
    s, p, x = lp.start_s, graph.compute_s, lp.x
    src, dst = graph.edge_src, graph.edge_dst
    assert np.all((x >= -tol) & (x <= 1 + tol))
    assert np.all(s >= -tol)
    assert np.all(s[src] + p[src] + comm * x <= s[dst] + tol)
    assert np.all(s + p <= lp.makespan_s + tol)
    for ends in (src, dst):
        deg = np.bincount(ends, minlength=graph.num_ops)
        paid = np.bincount(ends, weights=x, minlength=graph.num_ops)
        assert np.all(paid >= deg - 1 - tol)       # at most one favourite child / parent


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(graph=small_dags())
def test_chain_contraction_keeps_the_lp_optimum(graph):
    comm = graph.tensor_comm_s[graph.edge_tensors]          # one tensor per edge
    lp = solve_favourite_lp(graph, comm)
    assert lp.makespan_s == pytest.approx(_unreduced_makespan(graph, comm), rel=1e-7, abs=1e-9)
    _assert_feasible(graph, comm, lp)
    outdeg = np.bincount(graph.edge_src, minlength=graph.num_ops)
    indeg = np.bincount(graph.edge_dst, minlength=graph.num_ops)
    chain = (outdeg[graph.edge_src] == 1) & (indeg[graph.edge_dst] == 1)
    assert np.all(lp.x[chain] == 0.0)                       # contracted: a favourite at every threshold
    assert lp.lp_ops == graph.num_ops - int(chain.sum()) and lp.lp_edges == graph.num_edges - int(chain.sum())
    assert np.all(favourite_children(graph, lp.x, 1.0)[graph.edge_src[chain]] >= 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(graph=small_dags(), window=st.integers(2, 5), method=st.sampled_from(["auto", "highs", "highs-ipm"]))
def test_rolling_horizon_gives_a_feasible_lp_solution(graph, window, method):
    comm = graph.tensor_comm_s[graph.edge_tensors]
    lp = solve_favourite_lp(graph, comm, method, window_above=0, window_ops=window)
    _assert_feasible(graph, comm, lp)
    assert lp.makespan_s == pytest.approx(float((lp.start_s + graph.compute_s).max()), abs=1e-9)
    assert lp.makespan_s >= _unreduced_makespan(graph, comm) - 1e-7   # an upper bound on the optimum
    assert (lp.windows == 1) == (lp.lp_ops <= window)
    again = solve_favourite_lp(graph, comm, method, window_above=0, window_ops=window)
    assert np.array_equal(lp.x, again.x) and lp.makespan_s == again.makespan_s    # deterministic


def test_six_op_example_reduced_and_unreduced_agree():
    comm = np.ones(FIG1.num_edges)
    lp = solve_favourite_lp(FIG1, comm)
    assert lp.lp_ops == 4 and lp.lp_edges == 4               # 1 → 2 and 4 → 5 are contracted
    assert lp.makespan_s == pytest.approx(8.0) and _unreduced_makespan(FIG1, comm) == pytest.approx(8.0)
    assert int((favourite_children(FIG1, lp.x, 0.1) >= 0).sum()) == 4
    for method in LP_METHODS:
        assert solve_favourite_lp(FIG1, comm, method).makespan_s == pytest.approx(8.0), method
        windowed = solve_favourite_lp(FIG1, comm, method, window_above=0, window_ops=2)
        assert windowed.windows > 1 and windowed.makespan_s == pytest.approx(8.0), method


def _layered(n: int, seed: int, width: int = 20) -> OpGraph:
    rng = np.random.default_rng(seed)
    b = GraphBuilder("layered")
    for i in range(n):
        b.add_op(f"op{i}", float(np.exp(rng.normal(np.log(6e-6), 2.0))))
    for v in range(width, n):
        first = (v // width - 1) * width
        for u in set(rng.integers(first, first + width, size=int(rng.integers(1, 4))).tolist()):
            b.add_edge(u, v, [b.add_tensor(u, float(rng.integers(256, 4e6)), comm_s=float(rng.uniform(1e-4, 8e-4)))])
    return b.build()


def test_rolling_horizon_stays_close_to_the_optimum_on_a_layered_graph():
    graph = _layered(800, 3)
    comm = graph.edge_comm_s(graph.tensor_comm_s)
    whole = solve_favourite_lp(graph, comm, "highs-ipm")
    windowed = solve_favourite_lp(graph, comm, window_above=100, window_ops=400)
    assert whole.windows == 1 and windowed.windows == 3
    _assert_feasible(graph, comm, windowed, tol=1e-9)
    assert whole.makespan_s - 1e-12 <= windowed.makespan_s <= 1.03 * whole.makespan_s    # 1.0105 here


def test_lp_graph_maps_back_to_ops_and_edges():
    # 0 → 1 → 2 → 3 with a side branch 1 → 4: 2 → 3 contracts (1 has two children)
    lpg = LPGraph.from_arrays(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([0, 1, 1, 2]), np.array([1, 2, 4, 3]),
                              np.array([0.5, 0.5, 0.5, 0.5]))
    small = contract_chains(lpg)
    assert small.node_of.tolist() == [0, 0, 1, 1, 2]        # 0 → 1 contracts too (1 has one parent)
    assert small.compute.tolist() == [3.0, 7.0, 5.0]
    assert small.edge_of.tolist() == [-1, 0, 1, -1]
    assert small.lift_start(np.array([0.0, 10.0, 20.0])).tolist() == [0.0, 1.0, 10.0, 13.0, 20.0]
    assert small.lift_x(np.array([0.25, 0.75])).tolist() == [0.0, 0.25, 0.75, 0.0]
    assert contract_chains(small) is small                  # one pass suffices
    with pytest.raises(ValueError, match="cycle"):
        topological_order(2, np.array([0, 1]), np.array([1, 0]))


def test_bad_arguments():
    with pytest.raises(ConfigError, match="unknown LP method"):
        solve_favourite_lp(FIG1, np.ones(FIG1.num_edges), "simplex")
    with pytest.raises(ValueError, match="edge_comm_s"):
        solve_favourite_lp(FIG1, -np.ones(FIG1.num_edges))
    with pytest.raises(ValueError, match="edge_comm_s"):
        solve_favourite_lp(FIG1, np.ones(2))
    with pytest.raises(ValueError, match="window_ops"):
        solve_favourite_lp(FIG1, np.ones(FIG1.num_edges), window_above=0, window_ops=1)


def test_placer_lp_parameters():
    assert make_placer("m-sct").get_params()["lp_window_above"] == 10_000
    assert make_placer("m-sct:lp_window_above=null").lp_window_above is None
    for bad in ("lp_window_above=-1", "lp_window_above=true", "lp_window_above=x", "lp_method=simplex"):
        with pytest.raises(ConfigError):
            make_placer(f"m-sct:{bad}")
    devices = make_devices(2, [4.0, 4.0])
    whole = place(FIG1, devices, "m-sct", memory_model="held")
    windowed = place(FIG1, devices, "m-sct:lp_window_above=0", memory_model="held")
    assert whole.info["lp_windows"] == 1 and whole.info["lp_ops"] == 4
    assert windowed.info["lp_windows"] == 1                 # one 2,000-op window holds the whole graph
    assert windowed.step_time_s == whole.step_time_s
