"""One NCCL protocol model for both engines: ``network.protocol: nccl`` under a named algorithm runs the fastest of
its protocol candidates (:func:`simtrain.network.protocol.protocol_candidates`), each a Schedule carrying NCCL's
costs as ``--algorithm auto``'s choice does, and the analytical engine and the DES run the same choice."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.cli import main
from simtrain.collectives import build_schedule
from simtrain.network import NetworkOptions, run_engine
from simtrain.network.analytical import fastest_protocol
from simtrain.network.protocol import NCCL_KINDS, nccl_kind, protocol_candidates, with_protocol
from simtrain.topology import hierarchical, load_topology, switch, torus

NCCL = NetworkOptions(protocol="nccl")

#: (algorithm, cluster builder, operations, chunk counts) where nothing contends; pipelined trees at one chunk
#: (with several, the analytical engine's chunk rule is an upper bound: tests/network/test_agreement.py)
GRID = [
    ("ring", lambda: switch(8, "300 GB/s", "1 us"), ["all-reduce", "reduce-scatter", "all-gather"], 4),
    ("ring", lambda: load_topology("dgx-h100", gpus=16), ["all-reduce", "all-gather"], 3),
    ("ring:channels=8", lambda: load_topology("dgx-h100", gpus=16), ["all-reduce"], 1),
    ("multidim-ring", lambda: torus([4, 4], "50 GiB/s", "500 ns"), ["all-reduce", "reduce-scatter"], 4),
    ("hierarchical", lambda: hierarchical(4, 4, intra_bandwidth=150e9, nic_bandwidth=12.5e9),
     ["all-reduce"], 1),
    ("halving-doubling", lambda: switch(8, "100 GB/s", "1 us"), ["all-reduce", "all-gather"], 3),
    ("nvls", lambda: load_topology("dgx-h100", gpus=8), ["all-reduce", "reduce-scatter", "all-gather"], 1),
    ("nvls-tree", lambda: load_topology("dgx-h100", gpus=16), ["all-reduce"], 1),
    ("nccl-tree", lambda: load_topology("dgx-h100", gpus=16), ["all-reduce"], 1),
]


@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(GRID), pick=st.integers(0, 2), chunks=st.integers(1, 4),
       size=st.floats(1e3, 4e9))
def test_both_engines_run_the_same_protocol_and_agree(case, pick, chunks, size):
    algorithm, build, ops, most_chunks = case
    cluster = build()
    op = ops[pick % len(ops)]
    schedule = build_schedule(op, size, cluster, algorithm, chunks=min(chunks, most_chunks))
    analytical = run_engine("analytical", schedule, cluster, NCCL)
    des = run_engine("des", schedule, cluster, NCCL)
    assert analytical.protocol == des.protocol != "none"
    assert des.time_s == pytest.approx(analytical.time_s, rel=1e-9), (algorithm, op, size)
    # the kept candidate is the fastest, and the engine's time is that candidate's own
    times = [run_engine("analytical", c, cluster).time_s for c in protocol_candidates(schedule, cluster)]
    assert analytical.time_s == min(times)
    if size >= 1e8:  # bandwidth-bound: never beats line rate (latency-bound, NCCL's per-hop count of a ring's
        # latency may undercut the line-rate run's slowest flow per step)
        assert analytical.time_s > run_engine("analytical", schedule, cluster).time_s


def test_candidates_follow_the_kind_nccl_runs_the_algorithm_as():
    node = load_topology("dgx-h100", gpus=8)
    ring = build_schedule("all-reduce", 2**24, node, "ring")
    assert [s.protocol for s in protocol_candidates(ring, node)] == ["LL", "LL128", "Simple"]
    nvls = build_schedule("all-reduce", 2**24, node, "nvls")
    assert [s.protocol for s in protocol_candidates(nvls, node)] == ["Simple"]
    assert protocol_candidates(ring, node, "none") == (ring,)
    chosen = fastest_protocol(ring, node, NCCL)
    assert protocol_candidates(chosen, node) == (chosen,)  # a Schedule with a protocol is not re-costed
    # each candidate is with_protocol's Schedule for NCCL's kind: the same costs --algorithm best and auto use
    for name, kind in NCCL_KINDS.items():
        assert nccl_kind(name) == kind
    direct = with_protocol(ring, node, "ring", "LL128")
    candidate = protocol_candidates(ring, node)[1]
    assert candidate.base_latency_s == direct.base_latency_s
    for a, b in zip(candidate.patterns, direct.patterns, strict=True):
        assert a.step_latency_s == b.step_latency_s
        assert np.array_equal(a.efficiency, b.efficiency)


def _cli(capsys, *argv):
    capsys.readouterr()
    assert main(["collective", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_issue_case_a_named_ring_on_an_nvlink_bridge_costs_as_auto_in_both_engines(capsys):
    # 2 x H100 PCIe on an NVLink bridge: the bridge's Simple efficiency applies to a named ring too (116 GB/s,
    # nccl #1161), not the NVSwitch one (237.8 GB/s before one model)
    bridge = ["--op", "all-reduce", "--size", "2GiB", "--topology", "dgx-h100", "--gpus", "2",
              "--set", "topology.gpus_per_node=2", "--set", "topology.intra_node.bandwidth=300GB/s",
              "--set", "topology.intra_node.link=nvlink-bridge", "--set", "network.protocol=nccl"]
    results = {(algorithm, engine): _cli(capsys, *bridge, "--algorithm", algorithm, "--engine", engine)
               for algorithm in ("ring", "auto") for engine in ("analytical", "des")}
    auto = results[("auto", "analytical")]
    assert auto["busbw_Bps"] / 1e9 == pytest.approx(116.0, rel=1e-3)
    for result in results.values():
        assert result["protocol"] == "Simple"
        assert result["time_s"] == pytest.approx(auto["time_s"], rel=1e-9)


def test_the_des_step_runs_a_named_algorithm_under_the_protocol_model():
    from simtrain.training import simulate

    kwargs = {"gpus": 16, "batch": 32, "algorithm": "ring"}
    plain = simulate("resnet50", "dgx-h100", engine="des", **kwargs)
    nccl = simulate("resnet50", "dgx-h100", engine="des", network=NCCL, **kwargs)
    analytical = simulate("resnet50", "dgx-h100", network=NCCL, **kwargs)
    assert nccl.comm_time_s > plain.comm_time_s
    # the same per-bucket choice as the analytical step: its protocol costs, not line rate
    assert nccl.comm_time_s == pytest.approx(analytical.comm_time_s, rel=0.05)


def test_a_traced_collective_runs_the_protocol_choice_in_both_engines(capsys, tmp_path):
    args = ["--op", "all-reduce", "--size", "64MiB", "--topology", "dgx-h100", "--gpus", "16", "--algorithm", "ring",
            "--set", "network.protocol=nccl"]
    untraced = _cli(capsys, *args)
    for engine in ("analytical", "des"):
        traced = _cli(capsys, *args, "--engine", engine, "--trace", str(tmp_path / f"{engine}.json"))
        assert traced["protocol"] == untraced["protocol"] != "none"
        assert traced["time_s"] == pytest.approx(untraced["time_s"], rel=1e-9)


def test_a_socket_transport_prices_the_nic_at_its_efficiency_in_both_engines(capsys):
    # two instances of one GPU, one 25 Gbit/s NIC each: the ring's bus bandwidth is the NIC's line rate times the
    # transport's Simple efficiency (RDMA 0.95, NCCL's socket transport 0.48), the same in both engines
    from simtrain.network.protocol import SIMPLE_NETWORK_EFFICIENCY, SOCKET_NETWORK_EFFICIENCY, TCPX_NETWORK_EFFICIENCY

    base = ["--op", "all-reduce", "--size", "4GiB", "--topology", "cloud-25g", "--gpus", "2",
            "--set", "topology.gpus_per_instance=1", "--set", "network.protocol=nccl", "--algorithm", "ring"]
    busbw = {}
    for transport in ("rdma", "socket", "tcpx"):
        times = []
        for engine in ("analytical", "des"):
            result = _cli(capsys, *base, "--set", f"topology.nic_transport={transport}", "--engine", engine)
            times.append(result["time_s"])
            busbw[transport] = result["busbw_Bps"]
        assert times[1] == pytest.approx(times[0], rel=1e-6)
    line = 25e9 / 8
    assert busbw["rdma"] == pytest.approx(line * SIMPLE_NETWORK_EFFICIENCY, rel=0.01)
    assert busbw["socket"] == pytest.approx(line * SOCKET_NETWORK_EFFICIENCY, rel=0.01)
    assert busbw["tcpx"] == pytest.approx(line * TCPX_NETWORK_EFFICIENCY, rel=0.01)


def test_the_nic_transport_sets_the_link_kind_and_refuses_unknown_values():
    from simtrain.errors import ConfigError
    from simtrain.network.protocol import link_kind, node_bandwidths

    socket = hierarchical(2, 4, intra_bandwidth=150e9, nic_bandwidth=12.5e9, nic_transport="socket")
    rdma = hierarchical(2, 4, intra_bandwidth=150e9, nic_bandwidth=12.5e9)
    assert (link_kind(socket, "inter-node"), link_kind(rdma, "inter-node")) == ("nic-socket", "nic")
    tcpx = hierarchical(2, 4, intra_bandwidth=150e9, nic_bandwidth=12.5e9, nic_transport="tcpx")
    assert link_kind(tcpx, "inter-node") == "nic-tcpx"
    assert node_bandwidths(socket, np.arange(8))[1] < node_bandwidths(tcpx, np.arange(8))[1] < \
        node_bandwidths(rdma, np.arange(8))[1]
    # NCCL's tuning model sees the socket NIC's slower rate (so auto's choice of tree or ring does too)
    assert node_bandwidths(socket, np.arange(8))[1] < node_bandwidths(rdma, np.arange(8))[1]
    with pytest.raises(ConfigError, match=r"nic\.transport"):
        hierarchical(2, 4, intra_bandwidth=150e9, nic_bandwidth=12.5e9, nic_transport="tcp")
