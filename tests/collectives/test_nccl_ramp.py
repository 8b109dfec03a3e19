"""The small-to-large message ramp of NCCL's collectives (issue 14): what the chosen schedule costs at each size,
checked from first principles, in both engines.

* Rings follow NCCL's tuning model at every size: ``base + steps x per-step latency + size / algorithm bandwidth``,
  so small messages are latency-bound (time -> base + 2(p-1) x hop latency) and large ones bandwidth-bound (bus
  bandwidth -> the protocol's share of the line rate).
* NVLS runs NCCL's chunked pipeline: chunks of 16-128 KiB by size (enqueue.cc), 16 channels taking units of
  ``heads x chunk`` in turn, and three warp groups (scatter, reduce + multicast, gather) a unit passes in order. Its
  bandwidth time is the busiest channel's flow-shop makespan, recomputed here by brute force.
"""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.collectives import build_schedule
from simtrain.collectives.nccl import NcclTuner
from simtrain.network import evaluate, run_engine
from simtrain.network.protocol import (
    BASE_LATENCY_US,
    HW_LATENCY_US,
    NVLS_CHANNELS,
    SIMPLE_EFFICIENCY,
    bandwidth_factor,
    nvls_chunk_bytes,
    nvls_pipeline,
    with_protocol,
)
from simtrain.topology import hierarchical, load_topology, switch

P = 8
LINE = 300e9


def _ring(protocol: str, size: float):
    cluster = switch(P, LINE)  # no wire latency: NCCL's per-step latency is the whole latency
    schedule = with_protocol(build_schedule("all-reduce", size, cluster, "ring"), cluster, "ring", protocol)
    return evaluate(schedule, cluster)


@pytest.mark.parametrize("protocol", ["LL", "LL128", "Simple"])
def test_ring_is_latency_bound_small_and_bandwidth_bound_large(protocol):
    index = ("LL", "LL128", "Simple").index(protocol)
    latency = (BASE_LATENCY_US["ring"][index] + 2 * (P - 1) * HW_LATENCY_US["nvlink"]["ring"][index]) * 1e-6
    tiny = _ring(protocol, 64.0)
    assert tiny.time_s == pytest.approx(latency, rel=1e-3)
    peak = LINE * SIMPLE_EFFICIENCY * bandwidth_factor("ring", protocol, "all-reduce", 1, P, P)
    huge = _ring(protocol, 2.0**36)
    assert huge.busbw_Bps == pytest.approx(peak, rel=1e-3)
    # in between, exactly latency + bytes at the peak: the curve NCCL's tuning model draws
    for size in (2.0**16, 2.0**20, 2.0**24, 2.0**28):
        expected = latency + size * 2 * (P - 1) / P / peak
        assert _ring(protocol, size).time_s == pytest.approx(expected, rel=1e-9)


def test_auto_ring_times_equal_nccls_own_prediction():
    """Where the choice is a ring on one node, the engines time it as NCCL's model predicts it (the tuner sees a
    GPU's path at the link kind's efficiency, the schedule's flows run at the same)."""
    cluster = hierarchical(1, P, intra_bandwidth=LINE, intra_latency=0.0, nic_bandwidth="200 Gbit/s")
    tuner = NcclTuner("all-reduce", cluster, [np.arange(P)], [1.0])
    protocols = set()
    for size in (2.0**12, 2.0**18, 2.0**24, 2.0**30):
        schedule = tuner.schedule(size)
        candidate = tuner.choose(size)
        assert candidate.nccl == "ring"
        protocols.add(candidate.protocol)
        assert evaluate(schedule, cluster).time_s == pytest.approx(tuner.predict(candidate, size), rel=1e-9)
    assert protocols == {"LL", "LL128", "Simple"}


def test_nvls_chunk_size_follows_enqueue_thresholds():
    """128 KiB; 64 KiB below 64 x 128 concurrent chunks of 128 KiB; 32 KiB below 8 x 128 x 64 KiB; 16 KiB below
    2 x 128 x 32 KiB (16 channels x 8 heads = 128 concurrent chunks)."""
    concurrent = NVLS_CHANNELS * P
    edges = [(64 * concurrent * 131072, 65536), (8 * concurrent * 65536, 32768), (2 * concurrent * 32768, 16384)]
    for edge, below in edges:
        assert nvls_chunk_bytes(edge - 1, P) == below
        assert nvls_chunk_bytes(edge, P) == below * 2 or nvls_chunk_bytes(edge, P) == 131072
    assert nvls_chunk_bytes(2**34, P) == 131072


def _flow_shop(units: list[float], stages: int, rate: float) -> float:
    """Makespan of units through ``stages`` machines in order, each unit taking bytes / rate on every machine."""
    done = [0.0] * stages
    for size in units:
        previous = 0.0
        for stage in range(stages):
            done[stage] = max(done[stage], previous) + size / rate
            previous = done[stage]
    return done[-1]


@pytest.mark.parametrize("op,stages", [("all-reduce", 3), ("reduce-scatter", 2), ("all-gather", 2)])
@pytest.mark.parametrize("size", [2**16, 2**20, 3 * 2**20 + 12345, 2**24, 2**27, 2**30])
def test_nvls_pipeline_is_the_busiest_channels_flow_shop(op, stages, size):
    """Deal the buffer out as NCCL's device code does (unit u of heads x chunk bytes to channel u mod 16), run each
    channel's units through the warp groups at a sixteenth of the aggregate rate, and compare the slowest channel
    with the buffer streamed at the aggregate rate."""
    pipe = nvls_pipeline(op, size, P)
    assert pipe.stages == stages
    unit = P * pipe.chunk_bytes
    channels: list[list[float]] = [[] for _ in range(NVLS_CHANNELS)]
    offset, index = 0.0, 0
    while offset < size:
        channels[index % NVLS_CHANNELS].append(min(unit, size - offset))
        offset += unit
        index += 1
    rate = 1.0  # aggregate; a channel's stage runs at rate / channels
    makespan = max(_flow_shop(units, stages, rate / NVLS_CHANNELS) for units in channels if units)
    assert pipe.efficiency == pytest.approx((size / rate) / makespan, rel=1e-12)
    assert pipe.loops == len(channels[0])


def test_nvls_ramp_in_both_engines():
    """The NVLS schedule auto picks on one DGX H100 node carries the pipeline at its size: its bandwidth part is the
    streamed one over the pipeline's efficiency, its bus bandwidth rises with size, and the analytical engine and
    the DES agree to 1e-9."""
    cluster = load_topology("dgx-h100", gpus=8)
    previous = 0.0
    for size in (2**20, 2**24, 2**27, 2**30, 2**33):
        schedule = build_schedule("all-reduce", size, cluster, "auto")
        assert schedule.params["nccl"] == "nvls"
        analytical = run_engine("analytical", schedule, cluster)
        des = run_engine("des", schedule, cluster)
        assert des.time_s == pytest.approx(analytical.time_s, rel=1e-9)
        assert analytical.busbw_Bps > previous
        previous = analytical.busbw_Bps

        def streamed(n: float) -> float:
            plain = build_schedule("all-reduce", n, cluster, "nvls")
            return evaluate(with_protocol(plain, cluster, "nvls", "Simple", pipelined=False), cluster).time_s

        fixed = 2 * streamed(size) - streamed(2 * size)  # latency: what does not grow with the size
        assert fixed == pytest.approx(23e-6, rel=1e-9)  # NCCL's NVLS latency on NVLink (a floor over the wire's)
        efficiency = nvls_pipeline("all-reduce", size, P).efficiency
        assert analytical.time_s - fixed == pytest.approx((streamed(size) - fixed) / efficiency, rel=1e-9)
        # a named nvls at this size (collective --algorithm best) costs what auto's choice costs
        named = with_protocol(build_schedule("all-reduce", size, cluster, "nvls"), cluster, "nvls", "Simple")
        assert evaluate(named, cluster).time_s == pytest.approx(analytical.time_s, rel=1e-12)
    # 1 MiB: half the channels hold one unit each, and two more units of fill: 6 x the stream
    assert nvls_pipeline("all-reduce", 2**20, P).efficiency == pytest.approx(1 / 6, rel=1e-12)
    # 8 GiB: 512 units a channel and 2 of fill
    assert nvls_pipeline("all-reduce", 2**33, P).efficiency == pytest.approx(512 / 514, rel=1e-12)


@pytest.mark.parametrize("op", ["reduce-scatter", "all-gather"])
def test_nvls_reduce_scatter_and_all_gather_run_alike_in_both_engines(op):
    cluster = load_topology("dgx-h100", gpus=8)
    for size in (2**20, 2**26):
        schedule = build_schedule(op, size, cluster, "auto")
        if schedule.params["nccl"] != "nvls":
            continue
        analytical = run_engine("analytical", schedule, cluster)
        des = run_engine("des", schedule, cluster)
        assert des.time_s == pytest.approx(analytical.time_s, rel=1e-9)


def test_nvls_tree_chunk_size_follows_enqueue_thresholds():
    """From 512 KiB (64 KiB on 4 nodes or more): 256 KiB below 32 c x chunk, 128 KiB below 16 c, 64 KiB below 4 c,
    32 KiB below c, with c = 16 channels x heads."""
    from simtrain.network.protocol import nvls_tree_chunk_bytes

    c = NVLS_CHANNELS * P
    assert nvls_tree_chunk_bytes(2**40, P, 2) == 512 * 1024
    assert nvls_tree_chunk_bytes(2**40, P, 4) == 64 * 1024
    for edge, below in ((32 * c * 524288, 262144), (16 * c * 262144, 131072), (4 * c * 131072, 65536),
                        (c * 65536, 32768)):
        assert nvls_tree_chunk_bytes(edge - 1, P, 2) == below
        assert nvls_tree_chunk_bytes(edge, P, 2) > below


def test_nvls_tree_runs_in_nccls_loops_in_both_engines():
    """Across two DGX H100 nodes auto's NVLS tree is pipelined in NCCL's loops (one chunk of the schedule per loop
    of 16 channels x 8 heads x NCCL's chunk); `collective --algorithm best` builds it alike; its bus bandwidth rises
    with size in both engines, the DES within the analytical engine's conservative chunk bound."""
    from simtrain.collectives.nccl import tree_chunks
    from simtrain.network.protocol import nvls_tree_chunk_bytes

    cluster = load_topology("dgx-h100", gpus=16)
    previous = {"analytical": 0.0, "des": 0.0}
    for size in (2**24, 2**26, 2**27, 2**30):
        schedule = build_schedule("all-reduce", size, cluster, "auto")
        assert schedule.params["nccl"] == "nvlstree"
        loops = -(-size // (NVLS_CHANNELS * P * nvls_tree_chunk_bytes(size, P, 2)))
        assert schedule.chunks == min(loops, 64) == tree_chunks("nvlstree", size, 16, 2, 8)
        results = {engine: run_engine(engine, schedule, cluster) for engine in previous}
        assert results["des"].time_s <= results["analytical"].time_s * (1 + 1e-9)
        for engine, result in results.items():
            assert result.busbw_Bps > previous[engine]
            previous[engine] = result.busbw_Bps
        named = with_protocol(build_schedule("all-reduce", size, cluster, "nvls-tree", chunks=schedule.chunks),
                              cluster, "nvlstree", "Simple")
        assert evaluate(named, cluster).time_s == pytest.approx(results["analytical"].time_s, rel=1e-12)


def test_two_node_tree_graph_runs_at_most_twice_the_nics():
    """NCCL's topology search raises a tree's in-node speed above its network speed only while it is below twice
    the network's (search.cc, pass 3), and tuning.cc takes a two-node tree's bandwidth from that in-node speed: so
    the tree NCCL's model sees on two nodes runs at ``min(in-node, 2 x NICs)``. On `cloud-25g` (NVLink 150 GB/s, one
    25 Gbit/s NIC per instance) that is the NICs, not NVLink."""
    from simtrain.network.protocol import nccl_latency, node_bandwidths

    cluster = load_topology("cloud-25g", gpus=16)
    intra, inter, _ = node_bandwidths(cluster, np.arange(16))
    assert 2 * inter < intra
    tuner = NcclTuner("all-reduce", cluster, [np.arange(16)], [1.0])
    tree = next(c for c in tuner.candidates if c.name == "tree/Simple")
    size = 2.0**30  # above 256 MiB: no size correction
    algbw = 2 * inter * bandwidth_factor("tree", "Simple", "all-reduce", 2, 8, 16) / 2
    expected = nccl_latency("tree", "Simple", 2, 8) + size / algbw
    assert tuner.predict(tree, size) == pytest.approx(expected, rel=1e-12)
    # where the NICs are fast (2 x 8 NDR NICs > NVLink), NVLink still bounds it
    h100 = load_topology("dgx-h100", gpus=16)
    intra, inter, _ = node_bandwidths(h100, np.arange(16))
    assert 2 * inter > intra
    tuner = NcclTuner("all-reduce", h100, [np.arange(16)], [1.0])
    tree = next(c for c in tuner.candidates if c.name == "tree/Simple")
    algbw = intra * bandwidth_factor("tree", "Simple", "all-reduce", 2, 8, 16) / 2
    assert tuner.predict(tree, size) == pytest.approx(nccl_latency("tree", "Simple", 2, 8) + size / algbw,
                                                      rel=1e-12)


@pytest.mark.parametrize(("topology", "gpus"), [("cloud-25g", 16), ("cloud-25g", 64), ("abci", 16), ("abci", 64),
                                              ("abci", 256), ("torus-2d", 16), ("torus-2d", 64), ("torus-2d", 256),
                                              ("dgx-h100", 16), ("dgx-h100", 64), ("dgx-h100", 256),
                                              ("dgx-a100", 16), ("dgx-a100", 64), ("dgx-a100", 256),
                                              ("cloud-25g", 256)])
def test_auto_time_is_monotonic_in_size(topology, gpus):
    """`--algorithm auto` takes no less time for a larger all-reduce, 1 KiB to 1 GiB, in the analytical engine, and
    on two `cloud-25g` instances the DES agrees where the protocol changes. Before the two-node tree was capped at twice
    the NICs, NCCL's model saw NVLink on the tree, picked LL up to 128 KiB (LL's bandwidth is 1/3.8 of the tree's),
    and 128 KiB took 494 us against 315 us for 256 KiB under LL128. Before a tree's latency was charged once
    (NCCL's, less what its steps pay), its chunks chosen for speed and a network hop's protocol excess added to the
    wire's, `abci` at 64 and 256 GPUs dipped by 6 % and 14 % where tree/LL gave way to tree/LL128. Before the
    catalog's in-node links took NCCL's LL hop as their latency (a path of two 0.3 us links: the wire takes no
    longer than NCCL's latency for the whole LL step, tuning.cc's hwLat), NCCL's ring/LL on 2 x 8 H100 paid 2 us a
    step and 512 KiB took 81 us against 57 us for 1 MiB on the NVLS tree. Before a tree's later chunks streamed in
    the analytical engine, `dgx-a100` at 64 GPUs dipped 10 %; `dgx-a100` and `cloud-25g` at 256 GPUs dipped 9 % and
    2 % at tree/LL → tree/LL128 until NCCL's model came to take LL128 from 512 KiB there (docs/nccl.md, "Not
    closed" (4))."""
    cluster = load_topology(topology, gpus=gpus)
    previous = 0.0
    for k in range(10, 31):
        schedule = build_schedule("all-reduce", 2.0**k, cluster, "auto")
        time = evaluate(schedule, cluster).time_s
        assert time >= previous, (k, schedule.params)
        previous = time
    if (topology, gpus) != ("cloud-25g", 16):
        return
    switch = [build_schedule("all-reduce", 2.0**k, cluster, "auto") for k in (13, 14)]
    assert [s.params["protocol"] for s in switch] == ["LL", "LL128"]
    times = [run_engine("des", s, cluster).time_s for s in switch]
    for schedule, time in zip(switch, times):
        assert time == pytest.approx(evaluate(schedule, cluster).time_s, rel=1e-9)
    assert times[0] <= times[1]


@pytest.mark.parametrize("nodes", [2, 4])
def test_collnet_graph_runs_at_most_twice_the_nics(nodes):
    """CollNet's bandwidth is NCCL's bwIntra at any node count (tuning.cc), which the search keeps below twice the
    network's: with one 200 Gbit/s NIC per node of 8 NVLink GPUs, CollNet's graph is 2 x the NIC."""
    from simtrain.network.protocol import nccl_time, node_bandwidths

    cluster = hierarchical(nodes, 8, intra_bandwidth=LINE, nic_bandwidth="200 Gbit/s", in_network_reduction=True)
    ranks = np.arange(8 * nodes)
    intra, inter, _ = node_bandwidths(cluster, ranks)
    size = 2.0**34
    big = nccl_time("collnet", "Simple", "all-reduce", size, 8 * nodes, nodes, intra, inter)
    assert size / big == pytest.approx(2 * inter / 2, rel=1e-3)   # algorithm bandwidth: bus x 1/2
    tuner = NcclTuner("all-reduce", cluster, [ranks], [1.0])
    collnet = next(c for c in tuner.candidates if c.nccl == "collnet")
    assert tuner.predict(collnet, size) == pytest.approx(big, rel=1e-12)
