"""Multi-channel rings (NCCL's channels): C rings on 1/C of the buffer each, spread over a node's NICs."""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.collectives import build_schedule, collective_time
from simtrain.collectives.ring import channel_orders
from simtrain.errors import ConfigError
from simtrain.network import NetworkOptions
from simtrain.topology import hierarchical, switch, torus


def rail_cluster(nics: int, nodes: int = 4):
    return hierarchical(nodes, 8, intra_bandwidth="300 GB/s", intra_latency="1 us", nics_per_node=nics,
                        nic_bandwidth="25 GB/s", nic_latency="1 us")


def busbw(cluster, channels: int, size: float = 8e9, engine: str = "analytical") -> float:
    r = collective_time("all-reduce", size, cluster, "ring", engine=engine, channels=channels)
    p = r.num_ranks
    return r.size_bytes / r.time_s * 2 * (p - 1) / p


@pytest.mark.parametrize("channels", [1, 2, 3, 8, 16])
def test_every_channel_is_a_ring_visiting_every_rank_once_in_node_order(channels):
    ranks = np.arange(32)
    orders = channel_orders(ranks, 8, channels)
    assert orders.shape == (channels, 32)
    for row in orders:
        assert sorted(row.tolist()) == ranks.tolist()
        assert (row // 8).tolist() == (ranks // 8).tolist()


def test_channels_move_the_same_bytes_as_one_ring():
    cluster = rail_cluster(8)
    one = build_schedule("all-reduce", 1e9, cluster, "ring")
    many = build_schedule("all-reduce", 1e9, cluster, "ring", channels=8)
    assert many.bytes_sent == pytest.approx(one.bytes_sent, rel=1e-12)
    assert many.num_steps == one.num_steps


@pytest.mark.parametrize("nics", [1, 2, 4, 8])
def test_bus_bandwidth_approaches_the_nodes_aggregate_nic_bandwidth(nics):
    # with one channel per NIC every NIC carries one ring each way (collectives.md 1.8)
    cluster = rail_cluster(nics)
    assert busbw(cluster, 1) == pytest.approx(25e9, rel=0.01)
    assert busbw(cluster, nics) == pytest.approx(nics * 25e9, rel=0.01)
    assert busbw(cluster, 2 * nics) == pytest.approx(busbw(cluster, nics), rel=1e-9)  # more rings: no more NICs


def test_analytical_and_des_agree_on_multi_channel_rings():
    cluster = rail_cluster(4, nodes=2)
    for channels in (1, 4):
        analytical = busbw(cluster, channels, 64e6)
        des = busbw(cluster, channels, 64e6, engine="des")
        assert des == pytest.approx(analytical, rel=1e-3)


@pytest.mark.parametrize("cluster", [switch(8, "300 GB/s", "1 us"), torus([4, 4], "50 GB/s", "1 us")])
def test_channels_change_nothing_where_there_are_no_nics_to_spread_over(cluster):
    options = NetworkOptions(protocol="nccl")
    one = collective_time("all-reduce", 1e9, cluster, "ring", options=options)
    many = collective_time("all-reduce", 1e9, cluster, "ring", options=options, channels=4)
    assert many.time_s == pytest.approx(one.time_s, rel=1e-9)


@pytest.mark.parametrize("channels", [0, -1, 1.5, True, "4"])
def test_bad_channel_counts_are_config_errors(channels):
    with pytest.raises(ConfigError, match="channels"):
        build_schedule("all-reduce", 1e6, switch(4, "10 GB/s"), "ring", channels=channels)


def test_channels_on_all_to_all_are_refused_not_ignored():
    with pytest.raises(ConfigError, match="channels > 1 is implemented"):
        build_schedule("all-to-all", 1e6, switch(4, "10 GB/s"), "ring", channels=2)


@pytest.mark.parametrize("op", ["broadcast", "reduce"])
def test_chain_channels_split_the_buffer_over_rings_that_start_at_the_root(op):
    """A broadcast or reduce on C channels: C chains of 1/C of the buffer, each the ring of its channel from the
    root round to the rank before it; through C NICs a node's crossing carries C times the bytes per second."""
    cluster = rail_cluster(8)
    one = build_schedule(op, 1e9, cluster, "ring", chunks=16)
    many = build_schedule(op, 1e9, cluster, "ring", chunks=16, channels=8)
    assert many.bytes_sent == pytest.approx(one.bytes_sent, rel=1e-12)
    pattern = many.patterns[0]
    assert pattern.num_flows == 8 * 31
    ends = pattern.src if op == "broadcast" else pattern.dst
    starts = pattern.stage_of_flow == (0 if op == "broadcast" else 30)
    assert set(ends[starts].tolist()) == {0}                          # every chain at the root
    fast = collective_time(op, 1e9, cluster, "ring", chunks=16, channels=8).time_s
    slow = collective_time(op, 1e9, cluster, "ring", chunks=16).time_s
    assert slow / fast > 4                                            # eight NICs instead of one


def test_grouped_multi_channel_rings_equal_building_each_group():
    from simtrain.collectives import build_grouped_schedule

    cluster = hierarchical(3, 4, intra_bandwidth="100 GB/s", nics_per_node=4, nic_bandwidth="10 GB/s")
    groups = [np.arange(6), np.arange(6, 12)]  # the groups straddle node boundaries differently
    merged = build_grouped_schedule("all-reduce", [1e6, 1e6], cluster, "ring", groups, channels=2)
    for index, group in enumerate(groups):
        alone = build_schedule("all-reduce", 1e6, cluster, "ring", ranks=group, channels=2)
        for m, a in zip(merged.patterns, alone.patterns):
            span = slice(index * a.num_flows, (index + 1) * a.num_flows)
            assert m.src[span].tolist() == a.src.tolist() and m.dst[span].tolist() == a.dst.tolist()
