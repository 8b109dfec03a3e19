"""No placer beats the MILP optimum in the same contention-free cost model (Hypothesis over small DAGs)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simtrain.placement import OpGraph, make_devices, place
from simtrain.placement.exact import SolverError

WORST: dict[str, float] = {}


@st.composite
def small_dags(draw):
    n = draw(st.integers(2, 7))
    compute = [draw(st.integers(1, 9)) / 10 for _ in range(n)]
    edges = {}
    for v in range(1, n):
        for u in draw(st.sets(st.integers(0, v - 1), max_size=2)):
            edges[(u, v)] = draw(st.integers(0, 6)) / 10
    return OpGraph.from_edges(compute, edges)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(graph=small_dags(), m=st.integers(2, 3))
def test_no_placer_beats_the_milp_optimum(graph, m):
    devices = make_devices(m)
    try:
        opt = place(graph, devices, "exact").step_time_s
    except SolverError:   # HiGHS occasionally fails on big-M models; the property needs a proven optimum
        assume(False)
    assert opt >= graph.critical_path_s() - 1e-9
    assert opt <= graph.compute_s.sum() + 1e-9
    for name in ("m-etf", "m-sct", "m-topo", "expert", "round-robin", "single"):
        got = place(graph, devices, name).step_time_s
        assert got >= opt - 1e-6, name
        WORST[name] = max(WORST.get(name, 1.0), got / opt)


def test_report_worst_ratio_found():
    # Runs after the property test in file order; prints the worst ratio to the optimum seen.
    if WORST:
        print("worst makespan / MILP optimum:", {k: round(v, 3) for k, v in sorted(WORST.items())})
    assert all(np.isfinite(v) and v >= 1.0 for v in WORST.values())
