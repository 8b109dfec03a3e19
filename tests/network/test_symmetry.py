"""Symmetry classes: the DES with one flow per flow class and one state per rank class equals the per-flow run."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.collectives import build_schedule
from simtrain.errors import ConfigError
from simtrain.network import NetworkOptions, des
from simtrain.network._fairshare_numba import max_min_rates_kernel, max_min_rates_weighted_kernel
from simtrain.network.des import CollectiveRun, FlowNetwork, simulate_collective
from simtrain.network.fairshare import max_min_rates
from simtrain.network.perturb import resolve_links
from simtrain.network.symmetry import Symmetry, _equitable, refine
from simtrain.topology import dimension_stack, hierarchical, load_topology, ring, switch, torus
from simtrain.topology.cluster import Routes


def _nodes(racks: int | None = None, nodes: int = 6):
    return hierarchical(nodes, 4, intra_bandwidth=150e9, intra_latency=1e-6, nics_per_node=2, nic_bandwidth=12.5e9,
                        nic_latency=1e-6, pcie_latency=0.5e-6, nodes_per_rack=racks, oversubscription=2.0,
                        spine_latency=1e-6)


CLUSTERS = {
    "torus-4x4": lambda: torus([4, 4], 10e9, 1e-6),
    "ring-8": lambda: ring(8, 10e9, 2e-6),
    "switch-8": lambda: switch(8, 10e9, 1e-6),
    "stack-4x2-slow-dim1": lambda: dimension_stack([{"kind": "ring", "size": 4, "bandwidth": 10e9, "latency": 1e-6},
                                                    {"kind": "switch", "size": 2, "bandwidth": 3e9,
                                                     "latency": 3e-6}]),
    "nodes-6x4": _nodes,
    "nodes-8x4-racks": lambda: _nodes(racks=2, nodes=8),
    "abci-32": lambda: load_topology("abci", gpus=32),
    "dgx-h100-32": lambda: load_topology("dgx-h100", gpus=32),
}


def _both(schedule, cluster, options=None):
    return (simulate_collective(schedule, cluster, options, symmetry=False),
            simulate_collective(schedule, cluster, options))


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(CLUSTERS)),
       algorithm=st.sampled_from(["ring", "direct", "halving-doubling", "double-binary-tree", "hierarchical",
                                  "multidim-ring", "nccl-tree", "auto"]),
       op=st.sampled_from(["all-reduce", "all-gather", "reduce-scatter", "all-to-all", "broadcast"]),
       chunks=st.integers(1, 4), size=st.floats(1e4, 1e8), delay=st.sampled_from([0.0, 50e-9]),
       charge=st.sampled_from([0.0, 1e-9]))
def test_classes_equal_per_flow_simulation(name, algorithm, op, chunks, size, delay, charge):
    """Contended (trees sharing NICs, all-to-all, chunks sharing links) and uncontended cases alike: the grouped
    run's time and every link's bytes equal the per-flow run's."""
    cluster = CLUSTERS[name]()
    try:
        schedule = build_schedule(op, size, cluster, algorithm, chunks=1 if algorithm == "auto" else chunks)
    except ConfigError:  # an algorithm that does not take this operation or rank count
        return
    options = NetworkOptions(endpoint_delay_s=delay, local_reduction_bandwidth_Bps=1e12 if charge else None)
    reference, grouped = _both(schedule, cluster, options)
    assert grouped.time_s == pytest.approx(reference.time_s, rel=1e-9)
    np.testing.assert_allclose(grouped.link_bytes, reference.link_bytes, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize(("name", "algorithm", "chunks"), [
    ("nodes-6x4", "nccl-tree", 3),
    ("nodes-8x4-racks", "nccl-tree", 2),
    ("dgx-h100-32", "auto", 4),
    ("switch-8", "halving-doubling", 2),
    ("torus-4x4", "direct", 1),
])
def test_the_grouped_run_uses_fewer_ranks_and_flows(name, algorithm, chunks):
    """Not vacuous: these cases have classes, and the grouped run carries fewer flows than there are."""
    cluster = CLUSTERS[name]()
    op = "all-to-all" if algorithm == "direct" else "all-reduce"
    schedule = build_schedule(op, 3e7, cluster, algorithm, chunks=1 if algorithm == "auto" else chunks)
    assert schedule.chunks == chunks
    classes = Symmetry.of([schedule], cluster)
    assert classes is not None
    assert classes.num_rank_classes < cluster.num_gpus
    env = simpy.Environment()
    network = FlowNetwork(env, cluster, symmetry=classes)
    run = CollectiveRun(network, schedule)
    env.run(until=run.done)
    assert run.p == classes.num_rank_classes
    assert sum(len(stage.src) for stage in run.stages) < sum(p.num_flows * p.repeat for p in schedule.patterns)
    assert network.flows_started == sum(p.num_flows * p.repeat for p in schedule.patterns) * chunks
    reference = simulate_collective(schedule, cluster, symmetry=False)
    assert float(np.nanmax(run.finish_time)) == pytest.approx(reference.time_s, rel=1e-9)


@pytest.mark.parametrize("degraded", [["node2.nic0"], [f"node{i}.nic{j}" for i in range(6) for j in range(2)]])
def test_a_degraded_link_breaks_the_symmetry_and_the_results_still_agree(degraded):
    """One degraded NIC splits the classes (here down to single ranks: no symmetry left, and the run is the
    per-flow one); every NIC degraded alike keeps the classes. Results equal the per-flow run's."""
    cluster = _nodes()
    schedule = build_schedule("all-reduce", 3e7, cluster, "nccl-tree", chunks=3)
    capacity = cluster.link_bandwidth_Bps.copy()
    hit = np.concatenate([resolve_links(cluster, name) for name in degraded])
    capacity[hit] *= 0.3
    clean = Symmetry.of([schedule], cluster)
    classes = Symmetry.of([schedule], cluster, capacity)
    assert clean is not None
    if len(degraded) == 1:
        assert classes is None
    else:
        assert classes is not None and classes.num_rank_classes == clean.num_rank_classes

    def run(symmetry):
        env = simpy.Environment()
        network = FlowNetwork(env, cluster, capacity=capacity, symmetry=symmetry)
        collective = CollectiveRun(network, schedule)
        env.run(until=collective.done)
        return float(np.nanmax(collective.finish_time)), network.link_bytes

    reference = run(None)
    grouped = run(classes)
    assert grouped[0] == pytest.approx(reference[0], rel=1e-9)
    np.testing.assert_allclose(grouped[1], reference[1], rtol=1e-9, atol=1e-6)
    assert reference[0] > simulate_collective(schedule, cluster).time_s  # the degraded NIC costs time


def test_a_straggler_gets_a_class_of_its_own():
    cluster = switch(8, 10e9, 1e-6)
    schedule = build_schedule("all-reduce", 1e6, cluster, "halving-doubling")
    factors = np.ones(8)
    assert Symmetry.of([schedule], cluster, rank_color=factors).num_rank_classes == 1
    factors[3] = 1.5
    classes = Symmetry.of([schedule], cluster, rank_color=factors)
    assert classes is None or (classes.rank_class == classes.rank_class[3]).sum() == 1


def test_refinement_splits_a_ring_by_distance_from_a_slow_rank():
    routes = Routes(np.arange(7), np.arange(6))
    ranks, _, flows = refine(np.array([1, 0, 0, 0, 0, 0]), np.zeros(6, int), np.arange(6),
                             np.roll(np.arange(6), -1), np.zeros(6, int), routes)
    # a one-way ring: rank r's behaviour depends on its distance downstream of rank 0, so all differ
    assert len(set(ranks.tolist())) == 6 and len(set(flows.tolist())) == 6
    ranks, links, flows = refine(np.zeros(6, int), np.zeros(6, int), np.arange(6), np.roll(np.arange(6), -1),
                                 np.zeros(6, int), routes)
    assert set(ranks.tolist()) == set(links.tolist()) == set(flows.tolist()) == {0}


def test_the_exact_check_rejects_a_partition_that_is_not_equitable():
    # entities 0 and 1 in one class, but 0 touches neighbour class 0 twice and 1 touches it once
    assert not _equitable(np.array([0, 0, 1]), np.array([0, 0, 0]), np.array([0, 0]), 1)
    assert _equitable(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0]), np.array([0, 0]), 1)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_weighted_water_filling_equals_the_flows_written_out(data):
    """An entry of weight w is w flows on its link: water-filling the expanded flow set gives the same rates
    (NumPy twin and numba kernel alike)."""
    num_links = data.draw(st.integers(1, 5))
    num_flows = data.draw(st.integers(1, 6))
    capacity = np.array(data.draw(st.lists(st.floats(1.0, 100.0), min_size=num_links, max_size=num_links)))
    paths = [sorted(set(data.draw(st.lists(st.integers(0, num_links - 1), min_size=1, max_size=3))))
             for _ in range(num_flows)]
    mult = data.draw(st.lists(st.integers(1, 4), min_size=num_flows, max_size=num_flows))
    offsets = np.cumsum([0] + [len(p) for p in paths])
    links = np.concatenate([np.array(p) for p in paths])
    # each flow class f stands for mult[f] flows, all on the same links: weight mult[f] on each of its entries
    weights = np.concatenate([np.full(len(p), float(m)) for p, m in zip(paths, mult)])
    expanded = [p for p, m in zip(paths, mult) for _ in range(m)]
    ex_offsets = np.cumsum([0] + [len(p) for p in expanded])
    ex_links = np.concatenate([np.array(p) for p in expanded])
    caps = np.full(num_flows, np.inf)
    ex_caps = np.full(len(expanded), np.inf)
    full = max_min_rates(ex_offsets, ex_links, capacity, ex_caps)
    first = np.cumsum([0, *mult])[:-1]
    grouped = max_min_rates(offsets, links, capacity, caps, weights=weights)
    np.testing.assert_allclose(grouped, full[first], rtol=1e-12)
    kernel = max_min_rates_weighted_kernel(offsets, links, weights, capacity, caps, np.ones(num_flows, dtype=bool))
    np.testing.assert_array_equal(kernel, grouped)   # whole-number weights: the twins agree bit for bit
    plain = max_min_rates_kernel(ex_offsets, ex_links, capacity, ex_caps, np.ones(len(expanded), dtype=bool))
    np.testing.assert_array_equal(plain, full)


def test_numba_weighted_filling_in_a_long_grouped_run_equals_numpy(monkeypatch):
    cluster = _nodes()
    schedule = build_schedule("all-reduce", 3e7, cluster, "nccl-tree", chunks=3)
    monkeypatch.setattr(des, "_NUMBA_AFTER", 10**9)
    numpy_only = simulate_collective(schedule, cluster)
    monkeypatch.setattr(des, "_NUMBA_AFTER", 0)
    numba = simulate_collective(schedule, cluster)
    assert numba.time_s == pytest.approx(numpy_only.time_s, rel=1e-9)
    np.testing.assert_allclose(numba.link_bytes, numpy_only.link_bytes, rtol=1e-9, atol=1e-3)
