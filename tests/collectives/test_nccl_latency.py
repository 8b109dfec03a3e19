"""NCCL's latencies in both engines: measured end to end, so charged once, not on top of the wire's.

NCCL's per-step latencies (``tuning.cc``'s ``hwLat``) and a tree's latency were measured on real machines, wire
included. A step pays, per flow, the larger of NCCL's latency and its path's wire latency, averaged over the step's
flows (a ring's hops, as NCCL counts them), and across nodes a heavier protocol's excess over LL on top; a tree's
base latency is NCCL's less what one chunk already pays on its way through the steps; a tree runs in the chunk
count that makes the engines fastest (docs/nccl.md, "latency per step", "Trees").
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simtrain.collectives import build_schedule
from simtrain.collectives.nccl import MAX_CHUNKS, PIPELINE_SLACK, NcclTuner, tree_chunks
from simtrain.collectives.schedule import Schedule
from simtrain.network import run_engine
from simtrain.network.analytical import evaluate, pipeline_terms
from simtrain.network.protocol import HW_LATENCY_US, nccl_latency, with_protocol
from simtrain.topology import load_topology


def _empty(schedule: Schedule) -> Schedule:
    """The schedule moving no bytes: what is left is its latency."""
    return dataclasses.replace(schedule, patterns=tuple(p.scaled(0.0) for p in schedule.patterns))


def _time_in(schedule: Schedule, chunks: int, cluster) -> float:
    """The schedule's time split into ``chunks`` chunks (a pattern holds one chunk's bytes)."""
    patterns = tuple(p.scaled(schedule.chunks / chunks) for p in schedule.patterns)
    return evaluate(dataclasses.replace(schedule, patterns=patterns, chunks=chunks), cluster).time_s


def _path(cluster, src: int, dst: int) -> float:
    return float(cluster.link_latency_s[cluster.routes([src], [dst]).links].sum())


@pytest.mark.parametrize("protocol", ["LL", "LL128"])
def test_a_trees_latency_is_nccls_once_not_on_top_of_its_steps(protocol):
    """4 x 8 H100: the tree pays its latency once, the larger of NCCL's and what its steps would charge one chunk
    (before, both: 8 B took 75.5 us, NCCL's model 35.2 us); a heavier protocol keeps at most its excess over LL on
    top. The steps themselves carry none: NCCL hides a step's latency behind the chunks in flight before it, so
    later chunks do not pay it again."""
    cluster = load_topology("dgx-h100", gpus=32)
    tree = with_protocol(build_schedule("all-reduce", 2.0**20, cluster, "nccl-tree"), cluster, "tree", protocol)
    empty = _empty(tree)
    steps, busy = pipeline_terms(empty, cluster)
    assert steps == 0.0 and float(np.max(busy)) == 0.0
    nccl = nccl_latency("tree", protocol, 4, 8)
    times = [run_engine(engine, empty, cluster).time_s for engine in ("analytical", "des")]
    assert times[1] == pytest.approx(times[0], rel=1e-9)
    assert times[0] == pytest.approx(tree.base_latency_s, rel=1e-12)
    if protocol == "LL":
        assert times[0] == pytest.approx(nccl, rel=1e-9)
    else:
        excess = nccl - nccl_latency("tree", "LL", 4, 8)
        assert nccl - 1e-12 <= times[0] <= nccl + excess
    small = evaluate(build_schedule("all-reduce", 8, cluster, "auto"), cluster).time_s
    assert small < nccl_latency("tree", "LL", 4, 8) + 1e-9   # the latency once, and 8 bytes' transfer


def test_a_ring_across_nodes_pays_the_mean_of_its_hops_latencies():
    """2 x 8 H100, ring under LL: each of the 2(p-1) steps pays the mean over the ring's hops of the larger of
    NCCL's per-hop latency and the wire's (NCCL's nInterSteps), not the slowest hop's at every step."""
    cluster = load_topology("dgx-h100", gpus=16)
    ring = with_protocol(build_schedule("all-reduce", 2.0**20, cluster, "ring"), cluster, "ring", "LL")
    hops = [max(_path(cluster, r, (r + 1) % 16), 1e-6 * HW_LATENCY_US["nvlink" if r % 8 != 7 else "net"]["ring"][0])
            for r in range(16)]
    expected = 6.6e-6 + 30 * float(np.mean(hops))
    slowest = 6.6e-6 + 30 * max(hops)
    for engine in ("analytical", "des"):
        time = run_engine(engine, _empty(ring), cluster).time_s
        assert time == pytest.approx(expected, rel=1e-9)
        assert time < slowest


def test_across_nodes_a_heavier_protocol_pays_its_excess_on_top_of_a_slow_wire():
    """Two `cloud-25g` instances (15 us per NIC hop, far above NCCL's 2.7 us for LL): LL128's network hops cost the
    wire plus its 1.3 us excess over LL; in the node (NVLink) the larger of NCCL's and the wire's stands."""
    cluster = load_topology("cloud-25g", gpus=16)
    empty = {p: _empty(with_protocol(build_schedule("all-reduce", 2.0**20, cluster, "ring"), cluster, "ring", p))
             for p in ("LL", "LL128")}
    extra = []
    for r in range(16):
        path = _path(cluster, r, (r + 1) % 16)
        kind = "nvlink" if r % 8 != 7 else "net"
        ll, ll128 = (1e-6 * HW_LATENCY_US[kind]["ring"][i] for i in (0, 1))
        extra.append(ll128 - ll if kind == "net" else max(path, ll128) - max(path, ll))
    times = {p: evaluate(s, cluster).time_s for p, s in empty.items()}
    assert times["LL128"] - times["LL"] == pytest.approx((14.0 - 6.6) * 1e-6 + 30 * float(np.mean(extra)), rel=1e-9)
    assert any(e > 0 for e in extra)


@pytest.mark.parametrize("size", [2.0**16, 2.0**19, 2.0**22, 2.0**25])
def test_a_tree_runs_in_the_fewest_chunks_within_the_slack_of_its_fastest(size):
    """256 x A100: the tuner's chunk count is at least NCCL's Simple rule, within PIPELINE_SLACK of the fastest
    count's time, and one chunk fewer (above the rule) would not be, to 1 % (the tuner takes a chunk's way
    through the tree as linear in its bytes, between none and the template's; it is convex, a maximum of
    latencies plus transfers)."""
    cluster = load_topology("dgx-a100", gpus=256)
    tuner = NcclTuner("all-reduce", cluster, [np.arange(256)], [1.0])
    least = tree_chunks("tree", size, 256, 32, 8)
    for candidate in (c for c in tuner.candidates if c.nccl == "tree" and c.protocol != "Simple"):
        chosen = tuner.chunks(candidate, size)
        assert least <= chosen <= MAX_CHUNKS
        schedule = tuner.schedule_of(candidate, size)
        assert schedule.chunks == chosen
        times = {k: _time_in(schedule, k, cluster) for k in range(least, MAX_CHUNKS + 1)}
        fastest = min(times.values())
        assert times[chosen] <= fastest * (1 + PIPELINE_SLACK) * (1 + 1e-2), (candidate.name, chosen)
        if chosen > least:
            assert times[chosen - 1] > fastest * (1 + PIPELINE_SLACK) * (1 - 1e-2), (candidate.name, chosen)
    if size == 2.0**19:  # before: one chunk, the levels store and forward (423 us under LL)
        assert evaluate(build_schedule("all-reduce", size, cluster, "auto"), cluster).time_s < 300e-6


@pytest.mark.parametrize("algorithm", ["ring", "auto"])
def test_store_and_forward_keeps_the_protocols_latency(algorithm):
    """Hop by hop, a flow still pays NCCL's latency beyond its path's: store-and-forward never beats cut-through."""
    from simtrain.network import NetworkOptions
    from simtrain.network.des import simulate_collective

    cluster = load_topology("dgx-h100", gpus=16)
    nccl = NetworkOptions(protocol="nccl")
    for size in (8.0, 2.0**20):
        schedule = build_schedule("all-reduce", size, cluster, algorithm)
        through = simulate_collective(schedule, cluster, nccl).time_s
        hops = simulate_collective(schedule, cluster, nccl, store_and_forward=True, symmetry=False).time_s
        assert hops >= through * (1 - 1e-12), (size, hops, through)


def test_a_failed_link_detour_adds_its_hops_latency_under_nccls_costs():
    """The protocol's latency is an offset to the path's, so a route that takes more hops later (a failed link,
    rerouted in the DES) still pays them (before the offset, a detour cost an 8 B auto all-reduce nothing)."""
    from simtrain.network.perturb import Perturbations

    cluster = load_topology("torus-2d", gpus=16)
    detoured, _ = Perturbations.parse(failed=["gpu0<->gpu1"]).apply(cluster)
    schedule = build_schedule("all-reduce", 8.0, cluster, "auto")
    assert run_engine("des", schedule, detoured).time_s > run_engine("des", schedule, cluster).time_s


@pytest.mark.parametrize("algorithm", ["ring", "ring:channels=8"])
def test_a_groups_ring_gets_the_same_latency_alone_and_beside_other_groups(algorithm):
    """Concurrent groups (a grouped collective: TP or DP groups of a plan) put their flows side by side; each
    group's rings still average their own hops (they fell back to each flow's own latency, so a step paid its
    slowest hop: 138 us against 115 us for one group's ring on 4 x 8 H100)."""
    from simtrain.collectives import build_grouped_schedule

    cluster = load_topology("dgx-h100", gpus=32)
    evens, odds = np.arange(0, 32, 2), np.arange(1, 32, 2)
    alone = with_protocol(build_schedule("all-reduce", 2.0**20, cluster, algorithm, ranks=evens), cluster, "ring",
                          "LL")
    both = with_protocol(build_grouped_schedule("all-reduce", [2.0**20] * 2, cluster, algorithm, [evens, odds]),
                         cluster, "ring", "LL")
    for one, two in zip(alone.patterns, both.patterns):
        mine = np.isin(two.src, evens)
        offsets = dict(zip(zip(one.src.tolist(), one.dst.tolist()), one.latency_offset_s.tolist()))
        for s, d, o in zip(two.src[mine].tolist(), two.dst[mine].tolist(), two.latency_offset_s[mine].tolist()):
            assert o == pytest.approx(offsets[(s, d)], abs=1e-15)
    assert run_engine("des", both, cluster).time_s == pytest.approx(run_engine("analytical", both, cluster).time_s,
                                                                   rel=1e-9)
