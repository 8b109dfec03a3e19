"""Overlapped collectives hold SMs: compute slows while they run (simtrain.training.overlap), in both steps and
both engines, under network.protocol nccl only."""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.collectives import build_schedule
from simtrain.collectives.nccl import collective_ctas, nccl_ctas
from simtrain.compute import ComputeModel
from simtrain.model import load_model
from simtrain.network import NetworkOptions
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.plan import make_plan
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology
from simtrain.training import simulate
from simtrain.training.overlap import collective_share, compute_end, compute_ends, overlapped

NCCL = {"protocol": "nccl"}


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 0.9])
@pytest.mark.parametrize(("compute", "comm"), [(1.0, 0.2), (1.0, 0.95), (0.3, 1.0), (1.0, 3.0)])
def test_the_closed_form_is_the_stretched_compute_against_one_collective(compute, comm, share):
    assert overlapped(compute, comm, share) == pytest.approx(max(comm, compute_end(compute, [(0.0, comm, share)])))


def test_compute_never_gets_faster_and_slows_with_the_share():
    rng = np.random.default_rng(0)
    for _ in range(200):
        edges = np.sort(rng.uniform(0, 3, 2 * rng.integers(1, 5)))
        intervals = list(zip(edges[::2], edges[1::2]))
        work = float(rng.uniform(0.1, 3))
        ends = [compute_end(work, [(b, e, s) for b, e in intervals]) for s in (0.0, 0.2, 0.6)]
        assert ends[0] == pytest.approx(work)
        assert ends[0] <= ends[1] <= ends[2]
        busy = sum(e - b for b, e in intervals)
        assert ends[2] <= work + 0.6 * busy + 1e-12   # at most the share of every busy second


def test_compute_ends_runs_each_rank_on_its_own_intervals():
    starts = np.array([[0.0, np.nan], [1.0, 1.0]])
    ends = np.array([[0.5, np.nan], [2.0, 1.5]])
    out = compute_ends(np.array([3.0, 3.0]), starts, ends, np.array([0.5, 0.5]))
    assert out.tolist() == pytest.approx([3.0 + 0.25 + 0.5, 3.0 + 0.25])


def test_nccl_launches_a_block_per_channel_by_what_it_runs():
    h100 = load_topology("dgx-h100", gpus=8)
    big = build_schedule("all-reduce", 2**30, h100, "auto")
    assert big.params["nccl"] == "nvls" and collective_ctas(big, h100) == 16
    two_nodes = load_topology("dgx-h100", gpus=16)
    ring = build_schedule("all-reduce", 2**30, two_nodes, "auto:algo=ring")
    assert collective_ctas(ring, two_nodes) == 2 * int(two_nodes.params["nics_per_node"])
    a100 = load_topology("dgx-a100", gpus=8)
    assert collective_ctas(build_schedule("all-reduce", 2**28, a100, "ring"), a100) == 24
    assert nccl_ctas("ring", 1, 1, 32e9, "") == 2   # PCIe: at least two


def test_only_nccl_collectives_hold_sms():
    a100 = load_topology("dgx-a100", gpus=8)
    ring = build_schedule("all-reduce", 2**28, a100, "ring")
    assert collective_share(ring, a100, NetworkOptions(protocol="nccl")) == pytest.approx(24 / 108)
    assert collective_share(ring, a100, NetworkOptions()) == 0.0


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_the_data_parallel_step_pays_for_its_overlapped_buckets(engine):
    # a communication-heavy step: VGG-16's buckets overlap most of backward on two nodes
    run = dict(gpus=16, batch=16, dtype="fp16", engine=engine, algorithm="auto")
    r = simulate("vgg16", "dgx-a100", network=NCCL, **run)
    assert r.shared_compute_time_s > 0
    assert r.step_time_s >= r.compute_time_s + r.exposed_comm_time_s + r.shared_compute_time_s - 1e-12
    assert simulate("vgg16", "dgx-a100", **run).shared_compute_time_s == 0.0   # protocol none: free overlap


@pytest.mark.parametrize(("gpus", "algorithm"), [(8, "auto"), (16, "ring")])
def test_both_engines_agree_on_what_sharing_costs(gpus, algorithm):
    # steps whose buckets the two engines time alike (one node under auto; rings across two)
    run = dict(gpus=gpus, batch=16, dtype="fp16", algorithm=algorithm, network=NCCL)
    a = simulate("vgg16", "dgx-a100", **run)
    d = simulate("vgg16", "dgx-a100", engine="des", **run)
    assert a.shared_compute_time_s > 0
    assert d.shared_compute_time_s == pytest.approx(a.shared_compute_time_s, rel=1e-9)
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)


def _zero3_step(options, engine="analytical"):
    c = load_model("gpt:layers=8,hidden=2048,heads=16,seq=2048,vocab=32000").config
    cluster = load_topology("dgx-a100", gpus=16)
    plan = make_plan(c, 16, "dp=16", micro_batch=1, global_batch=32, zero=3)
    costs = StageCosts.build(c, plan, cluster, ComputeModel.roofline("a100"), "bf16", "adam", options=options,
                             engine=engine)
    return costs, step_time(costs, plan, engine)


def test_zero3_gathers_slow_the_layers_they_hide_behind(monkeypatch):
    held, held_step = _zero3_step(NetworkOptions(protocol="nccl"))
    share = held.comms.share("all-gather", "dpcp", 2**26)
    assert share == pytest.approx(16 / 108)   # two nodes: two blocks per NIC, of an A100's 108 SMs
    # the same collectives, as if they held no SMs
    monkeypatch.setattr("simtrain.parallel.costs.collective_share", lambda *args: 0.0)
    monkeypatch.setattr("simtrain.parallel.step.collective_share", lambda *args: 0.0)
    free, free_step = _zero3_step(NetworkOptions(protocol="nccl"))
    assert held.exposed["dp"] > free.exposed["dp"]
    assert held_step.step_time_s > free_step.step_time_s
    # by no more than the share of the step (compute loses at most that while a collective runs)
    assert held_step.step_time_s - free_step.step_time_s <= share * held_step.step_time_s


def test_hybrid_engines_agree_with_sharing():
    _, a = _zero3_step(NetworkOptions(protocol="nccl"))
    _, d = _zero3_step(NetworkOptions(protocol="nccl"), "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)
