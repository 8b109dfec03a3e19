"""The DES: agreement with the analytical engine where nothing contends, hand-computed answers where flows do."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.collectives import build_schedule
from simtrain.network import NetworkOptions, run_engine
from simtrain.network._fairshare_numba import max_min_rates_kernel
from simtrain.network.des import CollectiveRun, FlowNetwork, simulate_collective
from simtrain.network.fairshare import max_min_rates
from simtrain.topology import Routes, dimension_stack, fully_connected, hierarchical, ring, switch, torus
from simtrain.topology.builders import from_graph


# --- the numba kernel and its NumPy twin -----------------------------------------------------------------------
@st.composite
def instances(draw):
    num_links = draw(st.integers(1, 10))
    num_flows = draw(st.integers(1, 16))
    paths = [draw(st.lists(st.integers(0, num_links - 1), min_size=0, max_size=4, unique=True))
             for _ in range(num_flows)]
    capacity = np.array(draw(st.lists(st.floats(0.5, 100.0), min_size=num_links, max_size=num_links)))
    caps = np.array(draw(st.lists(st.sampled_from([np.inf, 1.0, 3.0, 50.0]), min_size=num_flows,
                                  max_size=num_flows)))
    active = np.array(draw(st.lists(st.booleans(), min_size=num_flows, max_size=num_flows)))
    offsets = np.zeros(num_flows + 1, dtype=np.int64)
    np.cumsum([len(p) for p in paths], out=offsets[1:])
    links = np.array([link for p in paths for link in p], dtype=np.int64)
    return offsets, links, capacity, caps, active


@settings(max_examples=300, deadline=None)
@given(instances())
def test_numba_kernel_equals_numpy_twin(instance):
    offsets, links, capacity, caps, active = instance
    expected = max_min_rates(offsets, links, capacity, caps, active)
    got = max_min_rates_kernel(offsets, links, capacity, caps, active)
    np.testing.assert_array_equal(got, expected)   # the same rounds in the same order: bit for bit


# --- agreement with the analytical engine --------------------------------------------------------------------------
UNCONTENDED = [
    ("ring", ring(8, 10e9, 1e-6), ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce",
                                   "all-to-all"]),
    ("ring", switch(5, 10e9, 1e-6), ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce"]),
    ("multidim-ring", torus([4, 4], 50 * 2**30, 500e-9), ["all-reduce", "reduce-scatter", "all-gather"]),
    ("multidim-ring", torus([2, 3, 4], 50e9, 1e-6), ["all-reduce", "reduce-scatter", "all-gather"]),
    ("multidim-ring", dimension_stack([
        {"kind": "ring", "size": 4, "bandwidth": 150 * 2**30, "latency": 500e-9},
        {"kind": "switch", "size": 4, "bandwidth": 25 * 2**30, "latency": 500e-9},
        {"kind": "fully_connected", "size": 3, "bandwidth": 12e9, "latency": 1e-6}]),
     ["all-reduce", "reduce-scatter", "all-gather"]),
    ("multidim-ring", hierarchical(6, 4, intra_bandwidth=150e9, intra_latency=1e-6, nics_per_node=2,
                                   nic_bandwidth=12.5e9, nic_latency=1e-6, pcie_latency=0.5e-6),
     ["all-reduce", "reduce-scatter", "all-gather"]),
    ("hierarchical", hierarchical(4, 4, intra_bandwidth=100e9, intra_latency=1e-6, nic_bandwidth=12.5e9,
                                  nic_latency=2e-6), ["all-reduce", "broadcast", "reduce"]),
    ("halving-doubling", switch(8, 10e9, 1e-6), ["all-reduce", "reduce-scatter", "all-gather", "broadcast",
                                                  "reduce"]),
    ("halving-doubling", fully_connected(16, 10e9, 1e-6), ["all-reduce", "reduce-scatter", "all-gather"]),
    ("double-binary-tree", fully_connected(7, 10e9, 1e-6), ["all-reduce"]),
    ("double-binary-tree", torus([4, 4], 10e9, 1e-6), ["all-reduce"]),
    ("direct", switch(6, 10e9, 1e-6), ["all-reduce", "reduce-scatter", "all-gather", "all-to-all", "broadcast",
                                        "reduce"]),
    ("direct", fully_connected(5, 10e9, 1e-6), ["all-reduce", "all-to-all"]),
    ("ps", switch(8, 10e9, 1e-6), ["all-reduce"]),
]


@pytest.mark.parametrize(("algorithm", "cluster", "ops"), UNCONTENDED,
                         ids=[f"{a}-{c.name}-{c.num_gpus}" for a, c, _ in UNCONTENDED])
@pytest.mark.parametrize("size", [4e3, 64 * 2**20, 3e9])
def test_des_equals_analytical_when_nothing_contends(algorithm, cluster, ops, size):
    for op in ops:
        schedule = build_schedule(op, size, cluster, algorithm)
        analytical = run_engine("analytical", schedule, cluster).time_s
        des = run_engine("des", schedule, cluster).time_s
        assert des == pytest.approx(analytical, rel=1e-3), op


@pytest.mark.parametrize("chunks", [2, 5])
def test_chains_pipeline_chunks_identically(chunks):
    cluster = ring(6, 10e9, 1e-6)
    for op in ("broadcast", "reduce"):
        schedule = build_schedule(op, 60e6, cluster, "ring", chunks=chunks)
        assert run_engine("des", schedule, cluster).time_s == pytest.approx(
            run_engine("analytical", schedule, cluster).time_s, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    kinds=st.lists(st.sampled_from(["ring", "switch", "fully_connected"]), min_size=3, max_size=3),
    op=st.sampled_from(["all-reduce", "reduce-scatter", "all-gather"]),
    nbytes=st.floats(1e3, 1e10),
)
def test_des_equals_analytical_on_random_dimension_stacks(sizes, kinds, op, nbytes):
    dims = [{"kind": kinds[i], "size": s, "bandwidth": (i + 1) * 10e9, "latency": (i + 1) * 1e-6}
            for i, s in enumerate(sizes)]
    cluster = dimension_stack(dims)
    schedule = build_schedule(op, nbytes, cluster, "multidim-ring")
    analytical = run_engine("analytical", schedule, cluster).time_s
    assert run_engine("des", schedule, cluster).time_s == pytest.approx(analytical, rel=1e-3, abs=1e-15)


def test_per_step_charges_agree():
    cluster = torus([4, 4], 10e9, 1e-6)
    options = NetworkOptions(endpoint_delay_s=50e-9, local_reduction_bandwidth_Bps=1e12)
    schedule = build_schedule("all-reduce", 1e8, cluster, "multidim-ring")
    assert run_engine("des", schedule, cluster, options).time_s == pytest.approx(
        run_engine("analytical", schedule, cluster, options).time_s, rel=1e-9)


def test_traffic_accounting_is_shared_with_the_analytical_engine():
    cluster = hierarchical(4, 4, intra_bandwidth=1e11, nic_bandwidth=1e10)
    schedule = build_schedule("all-reduce", 1e8, cluster, "ring")
    des, analytical = run_engine("des", schedule, cluster), run_engine("analytical", schedule, cluster)
    assert des.bytes_by_class == analytical.bytes_by_class
    # the DES measures link bytes as it moves them; they equal the schedule's static accounting
    np.testing.assert_allclose(des.link_bytes, analytical.link_bytes, rtol=1e-9, atol=1e-3)


# --- contention -----------------------------------------------------------------------------------------------
def _dumbbell(bandwidth=10e9, latency=1e-6):
    """GPUs 0 and 2 on switch A, 1 and 3 on switch B, one A-B link each way."""
    g = nx.DiGraph()
    for gpu, sw in (("g0", "A"), ("g2", "A"), ("g1", "B"), ("g3", "B")):
        g.add_edge(gpu, sw, bandwidth_Bps=4 * bandwidth, latency_s=latency)
        g.add_edge(sw, gpu, bandwidth_Bps=4 * bandwidth, latency_s=latency)
    g.add_edge("A", "B", bandwidth_Bps=bandwidth, latency_s=latency)
    g.add_edge("B", "A", bandwidth_Bps=bandwidth, latency_s=latency)
    return from_graph(g, ["g0", "g1", "g2", "g3"])


def test_two_concurrent_all_reduces_share_the_bottleneck_link():
    cluster = _dumbbell()
    n = 100e6
    env = simpy.Environment()
    network = FlowNetwork(env, cluster)
    first = CollectiveRun(network, build_schedule("all-reduce", n, cluster, "ring", ranks=[0, 1]))
    second = CollectiveRun(network, build_schedule("all-reduce", n, cluster, "ring", ranks=[2, 3]))
    env.run(until=simpy.AllOf(env, [first.done, second.done]))
    latency = 3e-6
    shared = 2 * (latency + (n / 2) / (10e9 / 2))  # p = 2: two steps of n/2, each direction shared by 2 flows
    alone = simulate_collective(build_schedule("all-reduce", n, cluster, "ring", ranks=[0, 1]), cluster).time_s
    assert np.nanmax(first.finish_time) == pytest.approx(shared, rel=1e-9)
    assert np.nanmax(second.finish_time) == pytest.approx(shared, rel=1e-9)
    assert alone == pytest.approx(2 * (latency + (n / 2) / 10e9), rel=1e-9)


def test_a_flow_speeds_up_when_its_competitor_finishes():
    cluster = switch(3, 10e9, 0.0)
    env = simpy.Environment()
    network = FlowNetwork(env, cluster)
    delivered: dict[int, float] = {}

    def record(indices):
        for i in indices:
            delivered[int(i)] = env.now

    routes = cluster.routes([0, 1], [2, 2])  # both into GPU 2: its downlink is shared
    network.send(routes, np.array([1e6, 3e6]), record)
    env.run()
    assert delivered[0] == pytest.approx(2e6 / 10e9, rel=1e-12)  # at 5 GB/s each until the short one ends
    assert delivered[1] == pytest.approx(4e6 / 10e9, rel=1e-12)  # then alone at 10 GB/s


def test_parameter_server_incast_in_the_des():
    p, lat, bw, n = 8, 1e-6, 10e9, 80e6
    schedule = build_schedule("all-reduce", n, switch(p, bw, lat), "ps", servers=1)
    assert run_engine("des", schedule, switch(p, bw, lat)).time_s == pytest.approx(
        2 * (2 * lat + (p - 1) * n / bw), rel=1e-9)


def test_direct_all_reduce_contends_on_a_switch():
    p, lat, bw, n = 6, 1e-6, 10e9, 60e6
    expected = 2 * (2 * lat + (p - 1) / p * n / bw)
    assert simulate_collective(build_schedule("all-reduce", n, switch(p, bw, lat), "direct"),
                               switch(p, bw, lat)).time_s == pytest.approx(expected, rel=1e-9)


def test_store_and_forward_serialises_each_hop():
    p, lat, bw, n = 4, 1e-6, 10e9, 40e6
    cluster = switch(p, bw, lat)
    schedule = build_schedule("all-reduce", n, cluster, "ring")
    cut_through = 2 * (p - 1) * (2 * lat + n / p / bw)
    store_forward = 2 * (p - 1) * 2 * (lat + n / p / bw)
    assert run_engine("des", schedule, cluster).time_s == pytest.approx(cut_through, rel=1e-9)
    assert run_engine("des", schedule, cluster, store_and_forward=True).time_s == pytest.approx(store_forward,
                                                                                               rel=1e-9)


def test_a_late_rank_delays_the_ring_by_its_lateness():
    cluster = ring(4, 10e9, 1e-6)
    schedule = build_schedule("all-reduce", 4e6, cluster, "ring")
    env = simpy.Environment()
    run = CollectiveRun(FlowNetwork(env, cluster), schedule, start_all=False)
    run.mark_ready(np.array([0, 1, 2]))
    env.run(until=1e-3)
    run.mark_ready(np.array([3]))
    env.run(until=run.done)
    clean = simulate_collective(schedule, cluster).time_s
    assert np.nanmax(run.finish_time) == pytest.approx(1e-3 + clean, rel=1e-9)


def test_local_flows_cost_nothing():
    cluster = switch(2, 1e9)
    env = simpy.Environment()
    network = FlowNetwork(env, cluster)
    times = []
    network.send(Routes(np.array([0, 0]), np.zeros(0, dtype=np.int64)), np.array([5e6]),
                 lambda idx: times.append(env.now))
    env.run()
    assert times == [0.0]


def test_a_remainder_below_the_clocks_resolution_ends_the_flow():
    """8 B over 8 channels of a 16-GPU ring leaves flows of 1/16 byte; at a late instant the last 1e-10 B would take
    less time than the clock can add, so waiting for it never moved the clock and the run never ended. Such a
    remainder is through now; the DES ends and agrees with the analytical engine."""
    from simtrain.collectives import build_schedule
    from simtrain.network.analytical import evaluate
    from simtrain.network.des import simulate_collective
    from simtrain.topology import load_topology

    cluster = load_topology("dgx-h100", gpus=16)
    schedule = build_schedule("all-reduce", 8, cluster, "ring", channels=8)
    assert simulate_collective(schedule, cluster, progress=False).time_s == pytest.approx(
        evaluate(schedule, cluster).time_s, rel=1e-9)
