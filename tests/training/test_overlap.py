"""Overlapped collectives hold SMs: compute slows while they run (simtrain.training.overlap), in both steps and
both engines, under network.protocol nccl only."""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.collectives import build_schedule
from simtrain.collectives.base import build_grouped_schedule
from simtrain.collectives.nccl import collective_ctas, group_ctas, nccl_ctas
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
def test_one_collective_beside_a_layer_has_a_closed_form(compute, comm, share):
    # compute outlasts it: it loses share x comm; or it ends inside it, at compute / (1 - share)
    expected = max(comm, min(compute / (1 - share), compute + share * comm))
    assert overlapped(compute, [(comm, share)]) == pytest.approx(expected)


def test_back_to_back_collectives_each_take_their_own_share():
    # 0.2 s at half speed, 0.2 s at three quarters, then full speed: 1.0 s of work ends at 1.0 + 0.1 + 0.05
    assert overlapped(1.0, [(0.2, 0.5), (0.2, 0.25)]) == pytest.approx(1.15)
    assert overlapped(0.0, [(0.2, 0.5), (0.3, 0.25)]) == pytest.approx(0.5)


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


def test_a_named_algorithm_counts_blocks_as_auto_does_on_its_own_group():
    b200 = load_topology("dgx-h100", gpus=16, overrides=[("device", "b200")])
    named = build_schedule("all-reduce", 2**30, b200, "nvls-tree")
    assert collective_ctas(named, b200) == 32   # NVLS_NCHANNELS_SM100
    # two in-node groups of one grouped schedule: each group's own node, not both groups' ranks together
    a100 = load_topology("dgx-a100", gpus=16)
    groups = [np.arange(8), np.arange(8, 16)]
    grouped = build_grouped_schedule("all-reduce", [2**26, 2**26], a100, "ring", groups)
    assert collective_ctas(grouped, a100, groups[0]) == 24
    # a group with one GPU per node uses that GPU's NIC: two blocks, not two per NIC of the node (Hopper doubles
    # channels under 16 across nodes)
    rail = np.arange(0, 64, 8)
    assert group_ctas("ring", load_topology("dgx-a100", gpus=64), rail) == 2
    h100 = load_topology("dgx-h100", gpus=64)
    assert group_ctas("ring", h100, rail) == 4 and group_ctas("ring", h100, np.arange(16)) == 16


def test_a_parameter_server_sums_on_host_cpus_and_holds_no_sm():
    c = load_topology("cloud-25g", gpus=16)
    ps = build_schedule("all-reduce", 2**24, c, "byteps")
    assert collective_share(ps, c, NetworkOptions(protocol="nccl")) == 0.0


def test_only_nccl_collectives_hold_sms():
    a100 = load_topology("dgx-a100", gpus=8)
    ring = build_schedule("all-reduce", 2**28, a100, "ring")
    assert collective_share(ring, a100, NetworkOptions(protocol="nccl")) == pytest.approx(24 / 108)
    assert collective_share(ring, a100, NetworkOptions()) == 0.0


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_the_data_parallel_step_pays_for_its_overlapped_buckets(engine):
    # a communication-heavy step: VGG-16's buckets overlap most of backward on two nodes
    run = dict(gpus=16, batch=16, dtype="fp16", engine=engine, algorithm="ring")
    r = simulate("vgg16", "dgx-a100", network=NCCL, **run)
    assert r.shared_compute_time_s > 0
    assert r.slowest_gpu_wait_s > 0   # the slowest of 16 GPUs (gpu_spread)
    assert r.bucket_copy_s > 0   # DDP's copies into the buckets and back (gradient_as_bucket_view unset)
    assert r.step_time_s == pytest.approx(r.compute_time_s + r.exposed_comm_time_s + r.shared_compute_time_s
                                          + r.slowest_gpu_wait_s + r.bucket_copy_s)
    assert simulate("vgg16", "dgx-a100", **run).shared_compute_time_s == 0.0   # protocol none: free overlap


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_later_buckets_are_ready_later_when_earlier_ones_slowed_backward(engine, monkeypatch):
    # BERT-large on one node: its buckets wait for their gradients, not for the stream
    run = dict(gpus=8, batch=16, dtype="fp16", engine=engine, algorithm="ring", network=NCCL)
    held = simulate("bert-large", "dgx-a100", **run)
    monkeypatch.setattr("simtrain.training.data_parallel.collective_share", lambda *args, **kwargs: 0.0)
    free = simulate("bert-large", "dgx-a100", **run)
    ready_held = [b.start_s for b in held.buckets]
    ready_free = [b.start_s for b in free.buckets]
    assert ready_held[0] == pytest.approx(ready_free[0])   # nothing ran before the first
    assert all(h >= f - 1e-12 for h, f in zip(ready_held, ready_free))
    assert any(h > f for h, f in zip(ready_held[1:], ready_free[1:]))
    assert held.step_time_s > free.step_time_s


def test_with_a_straggler_the_cost_is_the_one_the_last_rank_paid():
    from simtrain.network.perturb import Perturbations

    r = simulate("bert-large", "dgx-h100", gpus=16, batch=16, dtype="fp16", engine="des", algorithm="ring",
                 network=NCCL, perturbations=Perturbations(stragglers={3: 1.3}))
    assert 0 < r.shared_compute_time_s
    assert r.compute_time_s * 1.3 + r.shared_compute_time_s <= r.step_time_s * (1 + 1e-9)


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
    free, free_step = _zero3_step(NetworkOptions(protocol="nccl"))
    assert held.exposed["dp"] > free.exposed["dp"]
    assert held_step.step_time_s > free_step.step_time_s
    # by no more than the share of the step (compute loses at most that while a collective runs)
    assert held_step.step_time_s - free_step.step_time_s <= share * held_step.step_time_s


def test_hybrid_engines_agree_with_sharing():
    _, a = _zero3_step(NetworkOptions(protocol="nccl"))
    _, d = _zero3_step(NetworkOptions(protocol="nccl"), "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_a_plan_reports_what_its_gradient_reductions_cost_the_last_backward(engine, monkeypatch):
    run = dict(gpus=16, parallel="tp=2,pp=2,dp=4", micro_batch=1, global_batch=16, dtype="bf16",
               optimizer="adam", engine=engine, network=NCCL)
    model = "gpt:layers=8,hidden=2048,heads=16,seq=2048,vocab=32000"
    held = simulate(model, "dgx-a100", **run)
    # the same NCCL collectives holding no SMs
    monkeypatch.setattr("simtrain.parallel.costs.collective_share", lambda *args: 0.0)
    free = simulate(model, "dgx-a100", **run)
    assert held.shared_compute_time_s > 0 and free.shared_compute_time_s == 0.0
    assert free.step_time_s < held.step_time_s
    # the stretched backward and what the reductions add beyond it are one step, not counted twice
    assert held.step_time_s - free.step_time_s <= held.shared_compute_time_s + \
        held.parallel["exposed_comm_s"]["dp"] - free.parallel["exposed_comm_s"]["dp"] + 1e-12


def test_the_collective_command_says_how_many_sms_a_collective_holds(capsys):
    import json

    import simtrain.cli

    base = ["collective", "--op", "all-reduce", "--topology", "dgx-a100", "--gpus", "8", "--size", "256MiB",
            "--algorithm", "ring"]
    assert simtrain.cli.main([*base, "--set", "network.protocol=nccl", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nccl_thread_blocks"] == 24
    assert simtrain.cli.main([*base, "--set", "network.protocol=nccl"]) == 0
    assert "24 of 108" in capsys.readouterr().out
    assert simtrain.cli.main([*base, "--json"]) == 0   # line rate: nothing held
    assert "nccl_thread_blocks" not in json.loads(capsys.readouterr().out)


def test_a_node_local_collective_of_a_scheme_counts_its_own_group():
    from simtrain.run import TrainingRun
    from simtrain.training.data_parallel import plan, resolve

    resolved = resolve(TrainingRun("resnet50", "dgx-a100", gpus=16, scheme="byteps-compress", algorithm="ring",
                                   network=NCCL))
    jobs = [job for _, _, phase_jobs in plan(resolved).phases for job in phase_jobs if job.group is not None]
    local = [job for job in jobs if len(np.unique(np.asarray(job.group) // 8)) == 1 and len(job.group) == 8]
    assert local
    for job in local:   # an in-node reduce or broadcast: 24 blocks as in-node, not 16 as if it crossed nodes
        share = collective_share(job.schedule, resolved.cluster, resolved.network, job.group)
        assert share == pytest.approx(24 / 108)


def test_replaying_jobs_that_run_alone_changes_no_result_under_sharing(monkeypatch):
    run = dict(gpus=16, batch=16, dtype="fp16", algorithm="auto", network=NCCL, engine="des")
    replayed = simulate("bert-large", "dgx-a100", **run)
    monkeypatch.setattr("simtrain.training.des_step._Replays.replayed", lambda *args: False)
    simulated = simulate("bert-large", "dgx-a100", **run)
    assert replayed.step_time_s == pytest.approx(simulated.step_time_s, rel=1e-12)
    assert replayed.shared_compute_time_s == pytest.approx(simulated.shared_compute_time_s, rel=1e-9)
