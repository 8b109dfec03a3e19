"""Every algorithm against its closed form (docs/references.md and the algorithms' docstrings).

Uncontended cases must agree to 1e-9 relative; the conventions of ASTRA-sim's analytical backend (GiB/s
bandwidths, a switch dimension = two link hops, no extra charges) are checked with its alpha-beta forms.
"""

from __future__ import annotations

import math

import pytest

from simtrain.collectives import build_schedule, collective_time
from simtrain.network import NetworkOptions
from simtrain.topology import dimension_stack, fully_connected, hierarchical, ring, switch, torus

GiB = 2.0**30
REL = 1e-9


def t(op, n, cluster, algorithm, **kw):
    return collective_time(op, n, cluster, algorithm, **kw).time_s


# --- ring ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 3, 8, 17])
@pytest.mark.parametrize("n", [1e3, 64 * 2**20, 3.3e9])
def test_ring_all_reduce_on_ring_topology(p, n):
    alpha, bw = 700e-9, 50 * GiB
    expected = 2 * (p - 1) * alpha + 2 * (p - 1) / p * n / bw
    assert t("all-reduce", n, ring(p, bw, alpha), "ring") == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize("p", [2, 5, 16])
def test_ring_on_a_switch_costs_two_hops_per_step(p):
    lat, bw, n = 500e-9, 25 * GiB, 2**30
    alpha = 2 * lat
    c = switch(p, bw, lat)
    assert t("all-reduce", n, c, "ring") == pytest.approx(2 * (p - 1) * (alpha + n / p / bw), rel=REL)
    assert t("reduce-scatter", n, c, "ring") == pytest.approx((p - 1) * (alpha + n / p / bw), rel=REL)
    assert t("all-gather", n, c, "ring") == pytest.approx((p - 1) * (alpha + n / p / bw), rel=REL)


def test_ring_chain_broadcast_and_reduce_pipeline_with_chunks():
    p, alpha, bw, n = 6, 1e-6, 10e9, 60e6
    c = ring(p, bw, alpha)
    for chunks in (1, 4, 10):
        step = alpha + n / chunks / bw
        expected = (p - 1 + chunks - 1) * step
        assert t("broadcast", n, c, "ring", chunks=chunks) == pytest.approx(expected, rel=REL)
        assert t("reduce", n, c, "ring", chunks=chunks) == pytest.approx(expected, rel=REL)


def test_ring_all_to_all_forwards_remaining_blocks():
    p, alpha, bw, n = 8, 2e-6, 10e9, 80e6
    expected = (p - 1) * alpha + (p - 1) / 2 * n / bw
    assert t("all-to-all", n, ring(p, bw, alpha), "ring") == pytest.approx(expected, rel=REL)


def test_ring_chunks_run_back_to_back_on_shared_links():
    p, alpha, bw, n, chunks = 8, 1e-6, 10e9, 80e6, 4
    expected = chunks * 2 * (p - 1) * (alpha + n / chunks / p / bw)
    assert t("all-reduce", n, ring(p, bw, alpha), "ring", chunks=chunks) == pytest.approx(expected, rel=REL)


# --- multi-dimensional ring (ASTRA-sim localBWAware form) ----------------------------------------------------------
STACK = [
    {"kind": "ring", "size": 4, "bandwidth": 150 * GiB, "latency": 500e-9},
    {"kind": "switch", "size": 8, "bandwidth": 25 * GiB, "latency": 700e-9},
    {"kind": "fully_connected", "size": 3, "bandwidth": 12 * GiB, "latency": 1.3e-6},
]


def _alpha(dim):
    return dim["latency"] * (2 if dim["kind"] == "switch" else 1)


def astra_all_reduce(dims, n):
    total, data = 0.0, n
    for d in dims:
        p, bw = d["size"], d["bandwidth"]
        total += 2 * (p - 1) * (_alpha(d) + data / (p * bw))
        data /= p
    return total


def astra_reduce_scatter(dims, n):
    total, data = 0.0, n
    for d in dims:
        p, bw = d["size"], d["bandwidth"]
        total += (p - 1) * (_alpha(d) + data / (p * bw))
        data /= p
    return total


def astra_all_gather(dims, shard):
    total = 0.0
    for d in reversed(dims):
        p, bw = d["size"], d["bandwidth"]
        total += (p - 1) * (_alpha(d) + shard / bw)
        shard *= p
    return total


@pytest.mark.parametrize("dims", [STACK, STACK[:2], STACK[1:], [STACK[0]], [STACK[1]]])
@pytest.mark.parametrize("n", [1 * 2**20, 1 * GiB, 7.5e9])
def test_multidim_ring_equals_astra_sim_forms(dims, n):
    cluster = dimension_stack(dims)
    p = cluster.num_gpus
    assert t("all-reduce", n, cluster, "multidim-ring") == pytest.approx(astra_all_reduce(dims, n), rel=REL)
    assert t("reduce-scatter", n, cluster, "multidim-ring") == pytest.approx(astra_reduce_scatter(dims, n), rel=REL)
    assert t("all-gather", n, cluster, "multidim-ring") == pytest.approx(astra_all_gather(dims, n / p), rel=REL)


def test_multidim_ring_on_a_2d_torus_matches_mikami_form():
    x, y, alpha, bw, n = 4, 8, 1e-6, 20e9, 51.1e6
    expected = 2 * (x - 1) * alpha + 2 * (x - 1) / x * n / bw + 2 * (y - 1) * alpha + 2 * (y - 1) / y * (n / x) / bw
    assert t("all-reduce", n, torus([x, y], bw, alpha), "multidim-ring") == pytest.approx(expected, rel=REL)
    # with uniform links the bandwidth term is the ring optimum 2(N-1)/N n/B
    assert 2 * (x - 1) / x + 2 * (y - 1) / (x * y) == pytest.approx(2 * (x * y - 1) / (x * y), rel=1e-15)


def test_multidim_ring_on_hierarchical_cluster_shares_the_nic():
    # 4 GPUs per node, 2 NICs: the 4 inter-node rings of a node share 2 NICs, so each gets half a NIC
    g, nodes, n = 4, 8, 64e6
    intra_bw, nic_bw, pcie_bw = 150e9, 12.5e9, 50e9
    lat_in, lat_nic, lat_pcie = 1e-6, 1e-6, 0.5e-6
    c = hierarchical(nodes, g, intra_bandwidth=intra_bw, intra_latency=lat_in, nics_per_node=2,
                     nic_bandwidth=nic_bw, nic_latency=lat_nic, pcie_bandwidth=pcie_bw, pcie_latency=lat_pcie)
    alpha_in, alpha_out = 2 * lat_in, 2 * lat_pcie + 2 * lat_nic
    share = nic_bw / 2
    expected = 2 * (g - 1) * (alpha_in + n / g / intra_bw) + 2 * (nodes - 1) * (alpha_out + n / g / nodes / share)
    assert t("all-reduce", n, c, "multidim-ring") == pytest.approx(expected, rel=REL)


# --- hierarchical (Jia et al.) ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("g", "nodes"), [(4, 8), (8, 2), (2, 5)])
def test_hierarchical_one_chunk(g, nodes):
    n = 100e6
    intra_bw, nic_bw = 100e9, 12.5e9
    lat_in, lat_nic, lat_pcie = 1e-6, 2e-6, 0.5e-6
    c = hierarchical(nodes, g, intra_bandwidth=intra_bw, intra_latency=lat_in, nic_bandwidth=nic_bw,
                     nic_latency=lat_nic, pcie_bandwidth=40e9, pcie_latency=lat_pcie)
    alpha_in, alpha_out = 2 * lat_in, 2 * lat_pcie + 2 * lat_nic
    expected = 2 * (g - 1) * (alpha_in + n / intra_bw) + 2 * (nodes - 1) * (alpha_out + n / nodes / nic_bw)
    assert t("all-reduce", n, c, "hierarchical") == pytest.approx(expected, rel=REL)


def test_hierarchical_chunks_pipeline_the_chains():
    g, nodes, n, chunks = 4, 4, 100e6, 8
    intra_bw, nic_bw, lat = 100e9, 12.5e9, 1e-6
    c = hierarchical(nodes, g, intra_bandwidth=intra_bw, intra_latency=lat, nic_bandwidth=nic_bw, nic_latency=lat,
                     pcie_latency=lat)
    t_in = 2 * lat + n / chunks / intra_bw
    t_out = 4 * lat + n / chunks / nodes / nic_bw
    stage = 2 * (g - 1) * t_in + 2 * (nodes - 1) * t_out
    busiest = max(2 * t_in, 2 * (nodes - 1) * t_out)  # reduce+broadcast chains share GPU links; the ring its own
    assert t("all-reduce", n, c, "hierarchical", chunks=chunks) == pytest.approx(stage + (chunks - 1) * busiest,
                                                                                  rel=REL)


# --- halving-doubling --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 4, 8, 32])
def test_halving_doubling_power_of_two(p):
    lat, bw, n = 1e-6, 10e9, 256e6
    alpha = 2 * lat
    c = switch(p, bw, lat)
    lg = math.log2(p)
    assert t("all-reduce", n, c, "halving-doubling") == pytest.approx(2 * lg * alpha + 2 * (p - 1) / p * n / bw,
                                                                      rel=REL)
    assert t("reduce-scatter", n, c, "halving-doubling") == pytest.approx(lg * alpha + (p - 1) / p * n / bw, rel=REL)
    assert t("all-gather", n, c, "halving-doubling") == pytest.approx(lg * alpha + (p - 1) / p * n / bw, rel=REL)


@pytest.mark.parametrize("p", [3, 6, 12])
def test_halving_doubling_folds_surplus_ranks(p):
    lat, bw, n = 1e-6, 10e9, 256e6
    alpha = 2 * lat
    power = 1 << (p.bit_length() - 1)
    lg = math.log2(power)
    expected = 2 * (alpha + n / bw) + 2 * lg * alpha + 2 * (power - 1) / power * n / bw
    assert t("all-reduce", n, switch(p, bw, lat), "halving-doubling") == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize("p", [2, 5, 8, 9])
def test_binomial_broadcast_and_reduce(p):
    lat, bw, n = 1e-6, 10e9, 64e6
    expected = math.ceil(math.log2(p)) * (2 * lat + n / bw)
    c = switch(p, bw, lat)
    assert t("broadcast", n, c, "halving-doubling") == pytest.approx(expected, rel=REL)
    assert t("reduce", n, c, "halving-doubling") == pytest.approx(expected, rel=REL)


def test_halving_doubling_rejects_non_power_of_two_reduce_scatter():
    from simtrain.errors import ConfigError

    with pytest.raises(ConfigError, match="power-of-two"):
        build_schedule("reduce-scatter", 1e6, switch(6, 1e9), "halving-doubling")


# --- double binary tree -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunks", [1, 4, 32])
def test_double_binary_tree_on_a_switch(chunks):
    # NCCL's trees on 4 ranks (trees.cc): A is 0 - 2 - (1, 3), B mirrors it: 3 - 1 - (2, 0)
    p, lat, bw, n = 4, 1e-6, 10e9, 64e6
    half = n / chunks / 2   # each tree carries half of a chunk
    two = 2 * lat + half / (bw / 2)   # the deep level: ranks 2 and 1 each receive (reduce) or send (broadcast) two
    one = 2 * lat + half / bw   # the level next to the roots: one flow per GPU link
    # later chunks stream: every edge of both trees is busy at once, and ranks 1 and 2 carry four flows each way
    steady = 2 * lat + 4 * half / bw
    expected = 2 * (two + one) + (chunks - 1) * steady
    assert t("all-reduce", n, switch(p, bw, lat), "double-binary-tree", chunks=chunks) == pytest.approx(expected,
                                                                                                         rel=REL)


# NCCL's second trees as trees.cc draws them (child: parent): mirrored for 12 ranks, shifted by one for 13
_MIRRORED_12 = {3: 11, 1: 3, 7: 3, 0: 1, 2: 1, 5: 7, 9: 7, 4: 5, 6: 5, 8: 9, 10: 9}
_SHIFTED_13 = {9: 1, 5: 9, 0: 9, 3: 5, 7: 5, 11: 0, 2: 3, 4: 3, 6: 7, 8: 7, 10: 11, 12: 11}


@pytest.mark.parametrize("p,drawn", [(12, _MIRRORED_12), (13, _SHIFTED_13)])
def test_double_binary_tree_second_tree_is_nccls(p, drawn):
    from simtrain.collectives.tree import dtree_edges

    child, parent, _, _ = dtree_edges(p)
    second = dict(zip(child[p - 1:].tolist(), parent[p - 1:].tolist()))
    assert second == drawn


@pytest.mark.parametrize("p", [2, 3, 4, 7, 8, 13, 14, 31, 32, 100])
def test_double_binary_tree_spans_and_balances(p):
    from simtrain.collectives.tree import dtree_edges

    child, parent, _, _ = dtree_edges(p)
    for tree in (slice(0, p - 1), slice(p - 1, 2 * (p - 1))):   # each tree: every rank but its root is a child once
        assert len(set(child[tree].tolist())) == p - 1
    # no rank sends more than four of the two trees' flows (up to its parents, down to its children): why NCCL
    # builds the second tree so
    sends = [0] * p
    for rank in [*child.tolist(), *parent.tolist()]:
        sends[rank] += 1
    assert max(sends) <= 4


# --- direct --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2, 4, 9])
def test_direct_on_switch_and_fully_connected(p):
    lat, bw, n = 1e-6, 10e9, 90e6
    rs_switch = 2 * lat + (p - 1) / p * n / bw
    rs_fc = lat + n / p / bw
    assert t("reduce-scatter", n, switch(p, bw, lat), "direct") == pytest.approx(rs_switch, rel=REL)
    assert t("all-reduce", n, switch(p, bw, lat), "direct") == pytest.approx(2 * rs_switch, rel=REL)
    assert t("all-to-all", n, switch(p, bw, lat), "direct") == pytest.approx(rs_switch, rel=REL)
    assert t("reduce-scatter", n, fully_connected(p, bw, lat), "direct") == pytest.approx(rs_fc, rel=REL)
    assert t("broadcast", n, switch(p, bw, lat), "direct") == pytest.approx(2 * lat + (p - 1) * n / bw, rel=REL)


# --- parameter server ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("servers", [1, 2, 4, 8])
def test_parameter_server_push_pull(servers):
    p, lat, bw, n = 8, 1e-6, 10e9, 80e6
    worker_out = (servers - 1) / servers * n if servers == p else n  # server-hosting workers keep one shard
    incast = (p - 1) * n / servers
    push = 2 * lat + max(worker_out, incast) / bw
    assert t("all-reduce", n, switch(p, bw, lat), "ps", servers=servers) == pytest.approx(2 * push, rel=REL)


# --- optional per-step charges -------------------------------------------------------------------------------------
def test_endpoint_delay_and_local_reduction_charges():
    p, lat, bw, n = 8, 1e-6, 10e9, 80e6
    delay, mem_bw = 10e-9, 1600e9
    options = NetworkOptions(endpoint_delay_s=delay, local_reduction_bandwidth_Bps=mem_bw)
    c = ring(p, bw, lat)
    base = 2 * (p - 1) * (lat + n / p / bw)
    charges = 2 * (p - 1) * delay + (p - 1) * 3 * (n / p) / mem_bw  # reduction only in the reduce-scatter steps
    assert t("all-reduce", n, c, "ring", options=options) == pytest.approx(base + charges, rel=REL)
    assert t("all-reduce", n, c, "ring", options=NetworkOptions()) == pytest.approx(base, rel=REL)
