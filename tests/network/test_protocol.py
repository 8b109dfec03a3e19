"""NCCL's protocol model under a named algorithm (network.protocol: nccl), in both engines."""

from __future__ import annotations

import pytest

from simtrain.cli import main
from simtrain.collectives import collective_time
from simtrain.errors import ConfigError
from simtrain.network import NetworkOptions
from simtrain.network.protocol import (
    BASE_LATENCY_US,
    HW_LATENCY_US,
    SIMPLE_EFFICIENCY,
    bandwidth_factor,
)
from simtrain.topology import hierarchical, switch

NCCL = NetworkOptions(protocol="nccl")


def busbw(size, cluster, options=None, algorithm="ring"):
    r = collective_time("all-reduce", size, cluster, algorithm, options=options)
    p = r.num_ranks
    return r.size_bytes / r.time_s * 2 * (p - 1) / p, r


def test_large_messages_reach_the_simple_efficiency_of_the_line_rate():
    node = switch(8, "300 GB/s", "1 us")
    bw, result = busbw(8e9, node, NCCL)
    assert result.protocol == "Simple"
    assert bw == pytest.approx(SIMPLE_EFFICIENCY * 300e9, rel=2e-3)


def test_small_messages_pick_a_low_latency_protocol_and_cost_its_latencies():
    node = switch(8, "300 GB/s", "1 us")
    _, result = busbw(1e6, node, NCCL)
    assert result.protocol in ("LL", "LL128")
    steps = 2 * 7
    # LL128 on one node: base + 14 steps at max(NVLink hop latency, two 1 us hops) + bytes at its efficiency
    hop = HW_LATENCY_US["nvlink"]["ring"][1] * 1e-6
    efficiency = SIMPLE_EFFICIENCY * bandwidth_factor("ring", "LL128", "all-reduce", 1, 8, 8)
    expected = BASE_LATENCY_US["ring"][1] * 1e-6 + steps * max(hop, 2e-6) + 2 * 7 / 8 * 1e6 / (efficiency * 300e9)
    assert result.protocol == "LL128" and result.time_s == pytest.approx(expected, rel=1e-9)


def test_protocol_never_beats_line_rate_and_busbw_grows_with_size():
    node = switch(8, "300 GB/s", "1 us")
    previous = 0.0
    for size in (1e4, 1e5, 1e6, 1e7, 1e8, 1e9):
        plain, _ = busbw(size, node)
        with_protocol, _ = busbw(size, node, NCCL)
        assert with_protocol < plain
        assert with_protocol > previous
        previous = with_protocol


def test_network_steps_use_the_network_latency():
    cluster = hierarchical(2, 4, intra_bandwidth="300 GB/s", intra_latency="1 us", nic_bandwidth="25 GB/s",
                           nic_latency="1 us")
    one_node = switch(4, "300 GB/s", "1 us")
    # tiny message: latency-bound; crossing nodes costs the network per-step latency
    _, cross = busbw(1e3, cluster, NCCL)
    _, local = busbw(1e3, one_node, NCCL)
    assert cross.time_s > local.time_s


def test_options_parse_and_the_des_runs_the_protocol_model():
    assert NetworkOptions.from_mapping({"protocol": "nccl"}).protocol == "nccl"
    with pytest.raises(ConfigError, match="unknown value: 'ncl'"):
        NetworkOptions.from_mapping({"protocol": "ncl"})
    node = switch(4, "10 GB/s", "1 us")
    des = collective_time("all-reduce", 1e6, node, "ring", engine="des", options=NCCL)
    analytical = collective_time("all-reduce", 1e6, node, "ring", options=NCCL)
    assert des.protocol == analytical.protocol != "none"
    assert des.time_s == pytest.approx(analytical.time_s, rel=1e-9)


def test_the_training_step_and_the_cli_take_the_protocol(capsys):
    from simtrain.training import simulate

    # a named algorithm moves bytes at line rate unless network.protocol says otherwise (auto carries its own costs)
    plain = simulate("resnet50", "abci", gpus=64, batch=32, algorithm="ring")
    nccl = simulate("resnet50", "abci", gpus=64, batch=32, algorithm="ring", network=NCCL)
    assert nccl.comm_time_s > plain.comm_time_s
    auto = simulate("resnet50", "abci", gpus=64, batch=32)
    assert simulate("resnet50", "abci", gpus=64, batch=32, network=NCCL).comm_time_s == auto.comm_time_s
    code = main(["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB",
                 "--set", "network.protocol=nccl", "--json"])
    assert code == 0 and '"protocol": "Simple"' in capsys.readouterr().out


def test_flows_leaving_a_node_run_at_the_network_efficiency():
    from simtrain.network.protocol import SIMPLE_NETWORK_EFFICIENCY

    # 2 nodes x 1 GPU: every ring flow crosses the 10 GB/s NICs, so large-message busbw is that rate times the
    # network efficiency, not the NVLink one
    cluster = hierarchical(2, 1, intra_bandwidth="300 GB/s", nic_bandwidth="10 GB/s")
    bw, result = busbw(8e9, cluster, NCCL)
    assert result.protocol == "Simple"
    assert bw == pytest.approx(SIMPLE_NETWORK_EFFICIENCY * 10e9, rel=2e-3)
    assert SIMPLE_NETWORK_EFFICIENCY != SIMPLE_EFFICIENCY


def test_torus_links_are_all_one_kind_under_the_protocol_model():
    # a torus has no network link class: rings along either dimension see the same efficiency and latencies
    from simtrain.topology import torus

    cluster = torus([8, 8], "50 GiB/s", "500 ns")
    along_dim0 = collective_time("all-reduce", 1e9, cluster, "ring", options=NCCL, ranks=list(range(8)))
    along_dim1 = collective_time("all-reduce", 1e9, cluster, "ring", options=NCCL, ranks=list(range(0, 64, 8)))
    assert along_dim1.time_s == pytest.approx(along_dim0.time_s, rel=1e-9)
