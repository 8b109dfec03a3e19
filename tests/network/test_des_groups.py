"""Event groups equal per-flow simulation; the DES's estimate, bound and progress line."""

from __future__ import annotations

import io

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.cli import main
from simtrain.collectives import build_schedule
from simtrain.errors import ConfigError
from simtrain.network import NetworkOptions
from simtrain.network.des import (
    CollectiveRun,
    FlowNetwork,
    Progress,
    check_budget,
    estimate_messages,
    simulate_collective,
    uncontended_finish,
)
from simtrain.topology import dimension_stack, fully_connected, hierarchical, ring, switch, torus

CLUSTERS = {
    "torus-4x4": lambda: torus([4, 4], 10e9, 1e-6),
    "torus-3x5": lambda: torus([3, 5], 10e9, 1e-6),
    "ring-7": lambda: ring(7, 10e9, 2e-6),
    "switch-6": lambda: switch(6, 10e9, 1e-6),
    "fc-5": lambda: fully_connected(5, 10e9, 1e-6),
}


def _per_rank(schedule, cluster, options=None, finish_times=False):
    """The same collective with every rank started by its own call: no step is ever sent whole, so every flow
    and every rank goes through the general per-flow, per-rank path."""
    env = simpy.Environment()
    network = FlowNetwork(env, cluster)
    run = CollectiveRun(network, schedule, options, start_all=False)
    for rank in range(run.p):
        run.mark_ready(np.array([rank]))
    env.run(until=run.done)
    if finish_times:
        return run.finish_time
    return float(np.nanmax(run.finish_time)), network.link_bytes


def _slow_dim1(size0, size1):
    return dimension_stack([{"kind": "ring", "size": size0, "bandwidth": 10e9, "latency": 1e-6},
                            {"kind": "ring", "size": size1, "bandwidth": 3e9, "latency": 3e-6}])


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from([*sorted(CLUSTERS), "torus-6x4-slow-dim1", "torus-5x3x2"]),
       algorithm=st.sampled_from(["ring", "direct", "halving-doubling", "multidim-ring"]),
       op=st.sampled_from(["all-reduce", "all-gather", "reduce-scatter", "broadcast", "reduce"]),
       size=st.floats(1e4, 1e9), delay=st.sampled_from([0.0, 50e-9]), charge=st.sampled_from([0.0, 1e-9]))
def test_uncontended_runs_solved_step_by_step_equal_per_flow_simulation(name, algorithm, op, size, delay, charge):
    """Where no link is ever shared the DES solves the run step by step; every rank's finish time equals the
    per-flow, per-rank simulation's, also where ranks drift apart (a flat ring on a torus: the wrap-around
    hops are longer, and slower on a slow dimension)."""
    clusters = {**CLUSTERS, "torus-6x4-slow-dim1": lambda: _slow_dim1(6, 4),
                "torus-5x3x2": lambda: torus([5, 3, 2], 10e9, 1e-6)}
    cluster = clusters[name]()
    try:
        schedule = build_schedule(op, size, cluster, algorithm)
    except ConfigError:
        return
    options = NetworkOptions(endpoint_delay_s=delay, local_reduction_bandwidth_Bps=1e12 if charge else None)
    run = CollectiveRun(FlowNetwork(simpy.Environment(), cluster), schedule, options, start_all=False)
    solved = uncontended_finish(run)
    if solved is None:
        return  # a link may carry two flows at once: the event-driven run (the test above)
    np.testing.assert_allclose(solved, _per_rank(schedule, cluster, options, finish_times=True), rtol=1e-9)
    result = simulate_collective(schedule, cluster, options, progress=False)
    np.testing.assert_allclose(result.link_bytes, _per_rank(schedule, cluster, options)[1], rtol=1e-9, atol=1e-3)


def test_a_flat_ring_on_a_torus_is_solved_step_by_step_and_its_ranks_drift():
    cluster = _slow_dim1(8, 4)
    schedule = build_schedule("all-reduce", 1e8, cluster, "ring")
    run = CollectiveRun(FlowNetwork(simpy.Environment(), cluster), schedule, start_all=False)
    solved = uncontended_finish(run)
    assert solved is not None and np.unique(solved).size > 1  # ranks finish at different instants
    np.testing.assert_allclose(solved, _per_rank(schedule, cluster, finish_times=True), rtol=1e-9)
    # shared links (a direct all-to-all on a switch: every uplink carries several flows) are not
    contended = build_schedule("all-to-all", 1e8, switch(6, 10e9, 1e-6), "direct")
    run = CollectiveRun(FlowNetwork(simpy.Environment(), switch(6, 10e9, 1e-6)), contended, start_all=False)
    assert uncontended_finish(run) is None


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(CLUSTERS)),
       algorithm=st.sampled_from(["ring", "direct", "halving-doubling", "multidim-ring"]),
       op=st.sampled_from(["all-reduce", "all-gather", "reduce-scatter", "all-to-all"]),
       chunks=st.integers(1, 3), size=st.floats(1e4, 1e9), delay=st.sampled_from([0.0, 50e-9]))
def test_whole_steps_equal_per_flow_simulation(name, algorithm, op, chunks, size, delay):
    """Contended cases included (a flat ring or all-to-all on a torus or ring shares links)."""
    cluster = CLUSTERS[name]()
    try:
        schedule = build_schedule(op, size, cluster, algorithm, chunks=chunks)
    except ConfigError:
        return  # the algorithm does not do this op or this rank count
    options = NetworkOptions(endpoint_delay_s=delay)
    grouped = simulate_collective(schedule, cluster, options, progress=False)
    time_s, link_bytes = _per_rank(schedule, cluster, options)
    assert grouped.time_s == pytest.approx(time_s, rel=1e-9)
    np.testing.assert_allclose(grouped.link_bytes, link_bytes, rtol=1e-9, atol=1e-3)


def test_estimate_counts_every_flow_of_every_step_and_chunk():
    cluster = torus([4, 4], 10e9, 1e-6)
    schedule = build_schedule("all-reduce", 1e8, cluster, "ring", chunks=3)
    env = simpy.Environment()
    network = FlowNetwork(env, cluster)
    run = CollectiveRun(network, schedule)
    env.run(until=run.done)
    assert estimate_messages(schedule) == network.flows_started == 3 * 2 * 15 * 16


def test_a_run_past_the_bound_is_refused_before_it_starts():
    cluster = torus([4, 4], 10e9, 1e-6)
    schedule = build_schedule("all-reduce", 1e8, cluster, "ring")
    with pytest.raises(ConfigError, match=r"network\.max_events"):
        simulate_collective(schedule, cluster, NetworkOptions(max_events=100))
    check_budget(480, NetworkOptions(max_events=480))  # at the bound: allowed
    assert simulate_collective(schedule, cluster, NetworkOptions(max_events=480)).time_s > 0


def test_the_command_exits_2_past_the_bound(capsys):
    argv = ["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "64", "--size", "1GiB",
            "--engine", "des"]
    assert main([*argv, "--max-events", "1000"]) == 2
    assert "max_events" in capsys.readouterr().err
    assert main([*argv, "--set", "network.max_events=1000"]) == 2
    assert main([*argv, "--max-events", "100000", "--quiet", "--json"]) == 0


def test_the_training_step_is_bounded_too():
    from simtrain.training import simulate

    with pytest.raises(ConfigError, match=r"network\.max_events"):
        simulate("resnet50", "torus-2d", gpus=16, batch=32, engine="des", network={"max_events": 10})


def test_progress_draws_only_when_enabled(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    silent = Progress(100, enabled=False)
    silent.update(50)
    silent.close()
    assert err.getvalue() == ""
    shown = Progress(100, "DES test", enabled=True)
    shown.update(50)
    assert err.getvalue() == ""  # not within its first two seconds
    shown.started -= 10.0
    shown._shown -= 10.0
    shown.update(50)
    assert "DES test:  50.0% of 100 messages" in err.getvalue()
    shown.close()
    assert err.getvalue().endswith("\r")


def _nodes():
    return hierarchical(6, 4, intra_bandwidth=150e9, intra_latency=1e-6, nics_per_node=2, nic_bandwidth=12.5e9,
                        nic_latency=1e-6, pcie_latency=0.5e-6)


@pytest.mark.parametrize(("cluster", "op", "algorithm", "chunks"), [
    (_nodes(), "all-reduce", "double-binary-tree", 3),  # ranks drift and share NICs: 215 contended fillings
    (_nodes(), "all-reduce", "hierarchical", 4),
    (torus([4, 4], 10e9, 1e-6), "all-to-all", "direct", 1),
])
def test_numba_water_filling_of_long_runs_equals_numpy(monkeypatch, cluster, op, algorithm, chunks):
    """A run that keeps water-filling switches to numba's kernel after its first contended events; times and
    link bytes equal those of NumPy's water-filling at every event."""
    from simtrain.network import des

    schedule = build_schedule(op, 3e7, cluster, algorithm, chunks=chunks)
    monkeypatch.setattr(des, "_NUMBA_AFTER", 10**9)
    numpy_only = _per_rank(schedule, cluster)
    monkeypatch.setattr(des, "_NUMBA_AFTER", 0)
    numba = _per_rank(schedule, cluster)
    assert numba[0] == pytest.approx(numpy_only[0], rel=1e-9)
    np.testing.assert_allclose(numba[1], numpy_only[1], rtol=1e-9, atol=1e-3)
