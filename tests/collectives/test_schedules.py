"""Schedule invariants: bytes are conserved, contention slows flows down as hand-computed, bad requests fail."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.collectives import ALGORITHMS, build_schedule, collective_time
from simtrain.errors import ConfigError
from simtrain.topology import hierarchical, ring, switch, torus

ALL_REDUCE_ALGORITHMS = ["ring", "multidim-ring", "hierarchical", "halving-doubling", "double-binary-tree",
                         "direct", "ps"]


@settings(max_examples=60, deadline=None)
@given(
    algorithm=st.sampled_from(ALL_REDUCE_ALGORITHMS),
    gpus_per_node=st.integers(1, 4),
    nodes=st.integers(1, 6),
    size=st.floats(1.0, 1e10),
    chunks=st.integers(1, 5),
    servers=st.integers(1, 4),
)
def test_every_all_reduce_sends_exactly_2_p_minus_1_n(algorithm, gpus_per_node, nodes, size, chunks, servers):
    """Ring, trees, halving-doubling (folding included), direct, PS and hierarchical all move 2(p-1)n bytes."""
    cluster = hierarchical(nodes, gpus_per_node, intra_bandwidth=1e11, nic_bandwidth=1e10)
    p = cluster.num_gpus
    params = {"servers": min(servers, p)} if algorithm == "ps" else {}
    schedule = build_schedule("all-reduce", size, cluster, algorithm, chunks=chunks, **params)
    assert schedule.bytes_sent == pytest.approx(2 * (p - 1) * size, rel=1e-9)
    result = collective_time("all-reduce", size, cluster, algorithm, chunks=chunks, **params)
    assert result.time_s >= 0
    # every byte sent between distinct GPUs crosses at least one link class
    assert sum(result.bytes_by_class.values()) >= result.bytes_sent * (1 - 1e-9) - 1e-6


@pytest.mark.parametrize(("op", "factor"), [("reduce-scatter", 1), ("all-gather", 1), ("all-to-all", 1)])
@pytest.mark.parametrize("algorithm", ["ring", "direct"])
def test_rs_ag_all_to_all_bytes(op, factor, algorithm):
    p, n = 8, 8e6
    schedule = build_schedule(op, n, switch(p, 1e9), algorithm)
    if op == "all-to-all" and algorithm == "ring":
        expected = sum(p * (p - k) * n / p for k in range(1, p))  # step k: p flows of (p-k) blocks
    else:
        expected = (p - 1) * n * factor
    assert schedule.bytes_sent == pytest.approx(expected, rel=1e-12)


def test_halving_doubling_contends_on_a_ring():
    """On a 4-ring, the distance-2 exchanges share links: two flows per link, half the bandwidth each."""
    lat, bw, n = 1e-6, 10e9, 40e6
    got = collective_time("all-reduce", n, ring(4, bw, lat), "halving-doubling").time_s
    far = 2 * lat + (n / 2) / (bw / 2)  # 2 hops, 2 flows per link
    near = lat + (n / 4) / bw  # 1 hop, uncontended
    assert got == pytest.approx(2 * far + 2 * near, rel=1e-9)


def test_flat_ring_on_a_torus_crosses_rows_without_contention():
    x, y, lat, bw, n = 4, 4, 1e-6, 10e9, 16e6
    got = collective_time("all-reduce", n, torus([x, y], bw, lat), "ring").time_s
    # the row-boundary flows take 2 hops (one per dimension) on otherwise idle links
    assert got == pytest.approx(2 * (x * y - 1) * (2 * lat + n / (x * y) / bw), rel=1e-9)


def test_parameter_server_incast_is_the_bottleneck():
    fast = collective_time("all-reduce", 80e6, switch(16, 10e9), "ps", servers=16).time_s
    slow = collective_time("all-reduce", 80e6, switch(16, 10e9), "ps", servers=1).time_s
    assert slow / fast == pytest.approx(16.0, rel=1e-9)  # (p-1)n vs (p-1)/p n per direction


def test_oversubscribed_spine_slows_cross_rack_rings():
    kw = {"intra_bandwidth": 1e11, "nic_bandwidth": 10e9, "nodes_per_rack": 2}
    flat = collective_time("all-reduce", 1e9, hierarchical(8, 1, **kw, oversubscription=1), "ring").time_s
    over = collective_time("all-reduce", 1e9, hierarchical(8, 1, **kw, oversubscription=4), "ring").time_s
    # one flow leaves each rack; its uplink is 2 NICs / 4 = half a NIC
    assert over / flat == pytest.approx(2.0, rel=1e-6)


def test_per_flow_cap_limits_rates():
    capped = hierarchical(4, 1, intra_bandwidth=1e11, nic_bandwidth=10e9, flow_rate_cap=2.5e9)
    free = hierarchical(4, 1, intra_bandwidth=1e11, nic_bandwidth=10e9)
    n = 1e9
    ratio = collective_time("all-reduce", n, capped, "ring").time_s / collective_time("all-reduce", n, free,
                                                                                     "ring").time_s
    assert ratio == pytest.approx(4.0, rel=1e-3)


def test_every_registered_algorithm_lists_its_operations():
    for name in ALGORITHMS.names():
        algo = ALGORITHMS.get(name)
        assert algo.operations
        assert algo.summary


@pytest.mark.parametrize(
    ("kwargs", "key", "match"),
    [
        ({"op": "all-reduc"}, "op", "did you mean 'all-reduce'"),
        ({"algorithm": "rng"}, "algorithm", "did you mean 'ring'"),
        ({"op": "broadcast", "algorithm": "multidim-ring"}, "op", "operation not implemented"),
        ({"size": 0}, "size", "positive size"),
        ({"size": "12"}, "size", "no unit"),
        ({"size": float("nan")}, "size", "positive size"),
        ({"chunks": 0}, "chunks", "positive integer"),
        ({"algorithm": "ps", "servrs": 2}, "algorithm ps:servrs", "did you mean 'servers'"),
        ({"algorithm": "ps", "servers": 99}, "algorithm ps:servers", "between 1 and"),
        ({"algorithm": "ps", "pull_ratio": 0}, "algorithm ps:pull_ratio", "greater than 0"),
        ({"ranks": [0, 0]}, "ranks", "distinct"),
        ({"ranks": [0, 99]}, "ranks", "must lie in"),
        ({"algorithm": "hierarchical", "group_size": 3}, "algorithm hierarchical:group_size", "must divide"),
        ({"algorithm": "multidim-ring", "grid": [3, 3]}, "algorithm multidim-ring:grid", "positions"),
        ({"algorithm": "ring:channels=2,channels=3"}, "algorithm ring:channels", "given twice"),
    ],
)
def test_bad_requests_raise_config_errors(kwargs, key, match):
    args = {"op": "all-reduce", "size": 1e6, "algorithm": "ring", **kwargs}
    op, size, algorithm = args.pop("op"), args.pop("size"), args.pop("algorithm")
    with pytest.raises(ConfigError, match=match) as info:
        build_schedule(op, size, switch(8, 1e9), algorithm, **args)
    assert info.value.key == key and info.value.source is None


def test_direct_refuses_huge_rank_counts_with_advice():
    with pytest.raises(ConfigError, match="max_ranks"):
        build_schedule("all-reduce", 1e6, switch(8, 1e9), "direct", max_ranks=4)


def test_subset_of_ranks_runs_on_those_ranks_only():
    c = switch(8, 1e9, 1e-6)
    s = build_schedule("all-reduce", 4e6, c, "ring", ranks=[1, 3, 5, 7])
    used = np.unique(np.concatenate([p.src for p in s.patterns] + [p.dst for p in s.patterns]))
    assert used.tolist() == [1, 3, 5, 7]
    assert collective_time("all-reduce", 4e6, c, "ring", ranks=[1, 3, 5, 7]).time_s == pytest.approx(
        2 * 3 * (2e-6 + 1e6 / 1e9), rel=1e-9)


def test_resized_schedule_equals_a_fresh_one():
    from simtrain.network import NetworkCache, evaluate

    c = torus([4, 4], 1e10, 1e-6)
    small = build_schedule("all-reduce", 1e6, c, "multidim-ring")
    big = build_schedule("all-reduce", 3e8, c, "multidim-ring")
    cache = NetworkCache(c)
    a = evaluate(small.resized(3e8), c, cache=cache).time_s
    evaluate(small, c, cache=cache)
    assert a == pytest.approx(evaluate(big, c).time_s, rel=1e-12)


def test_pattern_levels_are_each_stages_flows_and_travel_with_the_flows():
    """``StepPattern.levels`` lists each stage's flows in flow order (an empty stage included), as the engines
    walked them with ``flatnonzero(stage_of_flow == k)``; ``replaced``/``scaled`` keep it, and the stages are
    read-only so the kept levels stay true."""
    from simtrain.collectives.schedule import StepPattern

    stage = np.array([2, 0, 2, 0, 3, 2])
    p = StepPattern(np.arange(6), np.arange(1, 7), 1.0, stage_of_flow=stage)
    expected = [np.flatnonzero(p.stage_of_flow == k) for k in range(4)]
    assert [a.tolist() for a in p.levels] == [a.tolist() for a in expected] == [[1, 3], [], [0, 2, 5], [4]]
    assert p.scaled(3.0).levels is p.levels and p.replaced(efficiency=0.5).levels is p.levels
    assert not p.stage_of_flow.flags.writeable
    with pytest.raises(ValueError):
        _ = StepPattern([0], [1], 1.0).levels
