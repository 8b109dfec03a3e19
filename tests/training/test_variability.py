"""Same-SKU GPU spread: the expected slowest GPU against sampled clusters, both engines, the run's rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simtrain.errors import ConfigError
from simtrain.limits import MAX_GPUS
from simtrain.network.perturb import Perturbations
from simtrain.run import TrainingRun
from simtrain.training import simulate
from simtrain.training.variability import DEFAULT_GPU_SPREAD, draw_factors, expected_slowest, priced_spread, stretched
from tests.cli_checks import refused


@pytest.mark.parametrize(("cv", "n"), [(0.02, 2), (0.02, 8), (0.02, 512), (0.1, 16), (0.5, 64)])
def test_expected_slowest_is_the_mean_of_sampled_clusters(cv, n):
    # the same log-normal the DES draws (draw_factors), 4,000 clusters: within four standard errors
    maxima = np.array([draw_factors(cv, n, seed).max() for seed in range(4000)])
    error = maxima.std() / np.sqrt(maxima.size)
    assert abs(expected_slowest(cv, n) - maxima.mean()) < 4 * error + 1e-12


def test_expected_slowest_grows_with_gpus_and_spread_and_is_one_without_either():
    assert expected_slowest(0.02, 1) == expected_slowest(0.0, 4096) == 1.0
    by_gpus = [expected_slowest(0.02, n) for n in (2, 8, 64, 1024, MAX_GPUS)]
    assert all(a < b for a, b in itertools.pairwise(by_gpus))
    by_spread = [expected_slowest(cv, 64) for cv in (0.01, 0.02, 0.05, 1.0)]
    assert all(a < b for a, b in itertools.pairwise(by_spread))
    # a small spread: 1 + cv · E[max of n standard normals] (E[max of 8] = 1.4236)
    assert expected_slowest(1e-4, 8) == pytest.approx(1 + 1e-4 * 1.4236, abs=1e-7)


def test_priced_spread_and_stretch():
    assert priced_spread(None, 0.0) == DEFAULT_GPU_SPREAD
    assert priced_spread(None, 0.1) == 0.0   # the DES draws it instead
    assert priced_spread(0.05, 0.0) == 0.05
    assert stretched(1.04, np.array([1.0, 1.3])).tolist() == [1.04, 1.3]
    assert stretched(1.0, np.array([0.9, 1.1])).tolist() == [0.9, 1.1]


def test_the_step_waits_for_the_slowest_gpu():
    base = dict(gpus=16, batch=64, dtype="fp16")
    identical = simulate("resnet50", "dgx-a100", gpu_spread=0.0, **base)
    spread = simulate("resnet50", "dgx-a100", **base)
    factor = expected_slowest(DEFAULT_GPU_SPREAD, 16)
    assert identical.slowest_gpu_factor == 1.0 and spread.slowest_gpu_factor == pytest.approx(factor)
    # communication is hidden behind backward here: the step stretches with the compute
    assert spread.step_time_s > identical.step_time_s * (1 + 0.9 * (factor - 1))
    assert spread.scaling_efficiency < identical.scaling_efficiency
    # the typical GPU's compute is reported as it was; the stretch is the report's factor
    assert spread.compute_time_s == pytest.approx(identical.compute_time_s)
    assert spread.config["gpu_spread"] is None
    wider = simulate("resnet50", "dgx-a100", gpu_spread=0.05, **base)
    assert wider.step_time_s > spread.step_time_s


def test_one_gpu_waits_for_nobody():
    one = simulate("resnet50", "torus-2d", gpus=1, batch=32)
    assert one.slowest_gpu_factor == 1.0
    assert one.step_time_s == simulate("resnet50", "torus-2d", gpus=1, batch=32, gpu_spread=0.0).step_time_s


@pytest.mark.parametrize("plan", [None, "tp=2,pp=2"])
def test_both_engines_price_the_same_stretch(plan):
    if plan is None:
        kw = dict(model="resnet50", topology="dgx-a100", gpus=16, batch=32, dtype="fp16")
    else:
        kw = dict(model="gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000", topology="dgx-a100", gpus=16,
                  parallel=plan, micro_batch=1, global_batch=8, dtype="bf16")
    analytical = simulate(TrainingRun(**kw))
    des = simulate(TrainingRun(**kw, engine="des"))
    assert analytical.slowest_gpu_factor == des.slowest_gpu_factor > 1
    assert des.step_time_s == pytest.approx(analytical.step_time_s, rel=1e-9)
    flat = simulate(TrainingRun(**kw, gpu_spread=0.0))
    assert analytical.step_time_s > flat.step_time_s


def test_drawn_clusters_average_to_the_expected_slowest():
    # the DES's drawn speeds (compute_jitter) against the analytical expectation at the same spread: a
    # compute-bound 8-GPU step, 40 seeds
    base = dict(gpus=8, batch=64, dtype="fp16")
    expected = simulate("resnet50", "dgx-a100", gpu_spread=0.05, **base).step_time_s
    drawn = np.array([simulate("resnet50", "dgx-a100", engine="des", compute_jitter=0.05, seed=seed,
                               **base).step_time_s for seed in range(40)])
    error = drawn.std() / np.sqrt(drawn.size)
    assert abs(drawn.mean() - expected) < 4 * error + 2e-3 * expected


def test_a_straggler_keeps_its_factor_against_the_typical_gpu():
    base = dict(gpus=16, batch=32, engine="des")
    slow = simulate("resnet50", "torus-2d", perturbations=Perturbations(stragglers={5: 1.5}), **base)
    flat = simulate("resnet50", "torus-2d", perturbations=Perturbations(stragglers={5: 1.5}), gpu_spread=0.0,
                    **base)
    # the straggler is slower than the spread's slowest: it decides the step whatever the others' stretch
    assert slow.step_time_s == pytest.approx(flat.step_time_s, rel=1e-6)
    # and is reported against the clean step, which keeps the spread
    assert slow.clean_step_time_s == pytest.approx(simulate("resnet50", "torus-2d", **base).step_time_s)


def test_jitter_and_spread_are_one_or_the_other(capsys):
    with pytest.raises(ConfigError, match="gpu_spread"):
        TrainingRun("resnet50", "torus-2d", gpus=16, engine="des", compute_jitter=0.05, gpu_spread=0.02)
    refused(capsys, ["simulate", "--model", "resnet50", "--topology", "torus-2d", "--gpus", "16", "--engine", "des",
                     "--compute-jitter", "0.05", "--gpu-spread", "0.02"], "--gpu-spread", "compute jitter")
    refused(capsys, ["simulate", "--model", "resnet50", "--topology", "torus-2d", "--gpus", "16",
                     "--gpu-spread", "1.5"], "--gpu-spread", "1.5")
    refused(capsys, ["simulate", "--model", "resnet50", "--topology", "torus-2d", "--gpus", "16",
                     "--gpu-spread", "nan"], "--gpu-spread")


def test_results_do_not_depend_on_what_ran_before():
    points = [dict(gpus=g, gpu_spread=s) for g in (8, 64) for s in (None, 0.0, 0.04)]
    first = [simulate("resnet50", "dgx-a100", batch=32, **p).step_time_s for p in points]
    second = [simulate("resnet50", "dgx-a100", batch=32, **p).step_time_s for p in reversed(points)]
    assert first == second[::-1]


def test_a_plan_stretches_its_stages_compute_not_their_exposed_communication():
    from simtrain.compute import ComputeModel
    from simtrain.model import load_model
    from simtrain.parallel.costs import StageCosts
    from simtrain.parallel.plan import make_plan
    from simtrain.topology import load_topology

    spec = "gpt:layers=4,hidden=4096,heads=32,seq=1024,vocab=1000"
    c = load_model(spec).config
    cluster = load_topology("dgx-a100", gpus=16)
    plan = make_plan(c, 16, "tp=16,pp=1,dp=1", micro_batch=1, global_batch=1)
    costs = StageCosts.build(c, plan, cluster, ComputeModel.roofline("a100"), "bf16", "adam")
    # TP across two nodes: a large share of each pass is exposed communication
    assert costs.forward[0][0] > 1.2 * costs.forward_compute[0][0]
    run = dict(gpus=16, parallel="tp=16,pp=1,dp=1", micro_batch=1, global_batch=1, dtype="bf16", optimizer="adam",
               network={})
    spread = simulate(spec, "dgx-a100", **run)
    flat = simulate(spec, "dgx-a100", gpu_spread=0.0, **run)
    factor = expected_slowest(DEFAULT_GPU_SPREAD, 16)
    compute = costs.forward_compute[0][0] + costs.backward_compute[0][0] + costs.update[0]
    assert spread.step_time_s - flat.step_time_s == pytest.approx((factor - 1) * compute, rel=1e-6)
    assert spread.parallel["exposed_comm_s"]["tp"] == flat.parallel["exposed_comm_s"]["tp"] > 0
