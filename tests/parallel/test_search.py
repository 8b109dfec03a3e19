"""The plan search: pruning never loses the best plan; memory filters; schemes join the space."""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.model import load_model
from simtrain.network import NetworkCache
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import memory_per_gpu
from simtrain.parallel.plan import make_plan
from simtrain.parallel.search import candidates, search
from simtrain.parallel.step import step_time
from simtrain.run import TrainingRun
from simtrain.topology import load_topology
from simtrain.training.variability import DEFAULT_GPU_SPREAD, expected_slowest

MODEL = "gpt:layers=4,hidden=512,heads=8,seq=512,vocab=1000"


def test_pruned_search_finds_the_exhaustive_best() -> None:
    c = load_model(MODEL).config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=8)
    compute = ComputeModel.roofline("a100")
    cache = NetworkCache(cluster)
    times = []
    # every stage computes as the slowest of the 8 GPUs does at the default spread, as simulate prices it
    slowest = expected_slowest(DEFAULT_GPU_SPREAD, 8)
    for keys in candidates(c, 8, 8, 16):
        plan = make_plan(c, 8, **keys)
        if memory_per_gpu(c, plan, "bf16", "adam")["total"] > 80 * 2**30:
            continue
        costs = StageCosts.build(c, plan, cluster, compute, "bf16", "adam", cache=cache)
        times.append(step_time(costs.stretched([slowest] * plan.pp), plan).step_time_s)
    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=3)
    assert result.fit == len(times) and result.simulated < result.fit
    assert [row["step_time_s"] for row in result.best] == pytest.approx(sorted(times)[:3], rel=1e-12)


def test_no_plan_fits() -> None:
    with pytest.raises(InfeasibleError, match="no plan of gpt3-175b fits"):
        search("gpt3-175b", "dgx-a100", gpus=8, global_batch=8)


def test_search_needs_a_decoder() -> None:
    with pytest.raises(ConfigError, match="needs a decoder"):
        search("resnet50", "dgx-a100", gpus=8, global_batch=8)


def test_a_scheme_joins_the_space() -> None:
    plain = search("gpt:layers=8,hidden=2048,heads=16,seq=1024,vocab=32000", "cloud-25g", gpus=32,
                   global_batch=32, dtype="fp16", top=1)
    compressed = search("gpt:layers=8,hidden=2048,heads=16,seq=1024,vocab=32000", "cloud-25g", gpus=32,
                        global_batch=32, dtype="fp16", top=1, scheme="powersgd:rank=4")
    assert compressed.space > plain.space
    assert compressed.best[0]["step_time_s"] <= plain.best[0]["step_time_s"]
    assert compressed.best[0]["scheme"] == "powersgd:rank=4"


def test_the_report_says_when_no_listed_plan_runs_the_scheme(capsys) -> None:
    """On one node the sharded plans beat every ZeRO-0 plan, the only ones a scheme compresses: the text says that
    none of the listed plans runs it, rather than look as if the flag did nothing (hostile report 13, D7)."""
    from simtrain.cli import main

    argv = ["parallelize", "--model", MODEL, "--topology", "dgx-h100", "--gpus", "8", "--global-batch", "64",
            "--top", "2"]
    assert main([*argv, "--scheme", "powersgd:rank=4"]) == 0
    out = capsys.readouterr().out
    assert "--scheme powersgd" not in out.split("none of these plans")[0]
    assert "none of these plans runs --scheme powersgd:rank=4: it applies to ZeRO-0 plans" in out
    assert main(argv) == 0
    assert "none of these plans" not in capsys.readouterr().out


def test_a_step_of_more_pipeline_slots_than_simtrain_lists_is_refused_or_skipped() -> None:
    """Every micro-batch x stage x model-chunk slot is listed by the step's schedule, so their count is bounded
    (simtrain.limits.MAX_PIPELINE_SLOTS): a plan past it is one error naming global_batch, and the search skips
    the plans past it, or refuses when every plan is."""
    from simtrain.limits import MAX_PIPELINE_SLOTS

    c = load_model(MODEL).config
    assert c is not None
    with pytest.raises(ConfigError, match="slots") as info:
        make_plan(c, 8, "tp=1,pp=4,dp=2", micro_batch=1, global_batch=2 * (MAX_PIPELINE_SLOTS // 4 + 1))
    assert info.value.key == "global_batch"
    with pytest.raises(ConfigError, match="micro-batches per pipeline") as info:
        search(MODEL, "dgx-a100", gpus=8, global_batch=10**20)
    assert info.value.key == "global_batch"
    big = 8 * (MAX_PIPELINE_SLOTS // 2)   # pp > 2 at micro-batch 1 and dp 1 would pass the bound
    keys = list(candidates(c, 8, 8, big))
    assert keys and all(
        (big // (k["micro_batch"] * int(k["parallel"].split("dp=")[1].split(",")[0])))
        * int(k["parallel"].split("pp=")[1].split(",")[0]) * (2 if k["pipeline_schedule"].startswith("interleaved")
                                                              else 1) <= MAX_PIPELINE_SLOTS for k in keys)


def test_why_reports_a_compute_share_between_0_and_100() -> None:
    """The explanation's compute share is the first stage's own compute over the step (it was 1 minus the bubble,
    exposed TP and exposed DP shares, which overlap, and read -4 % on a bubble-bound plan)."""
    import re

    result = search("gpt:layers=2,hidden=256,heads=4,seq=128,vocab=1000", "dgx-a100", gpus=4096, global_batch=4096,
                    top=5)
    for row in result.best:
        share = float(re.match(r"compute (-?\d+) %", row["why"]).group(1))
        assert 0 <= share <= 100, row["why"]


def test_sequence_parallelism_needs_a_tensor_parallel_group() -> None:
    """With tp = 1 there is no group to split the activations over: refused, not a silent no-op (hostile report
    13, D5)."""
    c = load_model(MODEL).config
    with pytest.raises(ConfigError, match="tensor-parallel group, and this plan has tp = 1"):
        make_plan(c, 8, "tp=1,pp=2", sequence_parallel=True, micro_batch=1, global_batch=8)
    assert make_plan(c, 8, "tp=2,pp=2", sequence_parallel=True, micro_batch=1, global_batch=8).sequence_parallel


@pytest.mark.parametrize("autocast", [False, True])
def test_the_search_prices_a_plan_as_simulate_does(autocast: bool) -> None:
    from simtrain.training import simulate

    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=1, autocast=autocast)
    row = result.best[0]
    assert result.config["autocast"] is autocast
    params = result.run_params()
    assert {k: params[k] for k in ("model", "gpus", "global_batch", "dtype", "optimizer", "autocast")} == {
        "model": MODEL, "gpus": 8, "global_batch": 16, "dtype": "bf16", "optimizer": "adam", "autocast": autocast}
    report = simulate(TrainingRun(**params))
    assert report.slowest_gpu_factor > 1
    assert row["step_time_s"] == pytest.approx(report.step_time_s, rel=1e-9)
    assert row["memory_per_gpu_bytes"] == pytest.approx(report.memory_per_gpu_bytes, rel=1e-12)


def test_run_params_names_a_plan_found() -> None:
    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=2)
    assert result.run_params(1)["parallel"] == result.best[1]["parallel"]
    for rank in (2, -1, True, 0.5):
        with pytest.raises(ConfigError, match="rank"):
            result.run_params(rank)   # type: ignore[arg-type]


def test_the_search_takes_autocast_as_a_run_does(capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.cli_checks import refused

    with pytest.raises(ConfigError, match=r"autocast.*fp16 or bf16"):
        search(MODEL, "dgx-a100", gpus=8, global_batch=16, dtype="fp32", autocast=True)
    refused(capsys, ["parallelize", "--model", MODEL, "--topology", "dgx-a100", "--gpus", "8", "--global-batch", "16",
                     "--dtype", "tf32", "--autocast"], "--autocast", "fp16 or bf16")
    # fp32 parameters and gradients: the best plan's memory grows
    off, on = (search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=1, autocast=flag).best[0]
               for flag in (False, True))
    assert on["memory_per_gpu_bytes"] > off["memory_per_gpu_bytes"]


def test_the_search_prices_zero3_plans_with_fsdp2s_copies_as_simulate_does() -> None:
    """``zero_impl`` fsdp2 applies to the ZeRO-3 plans (ZeRO 0-2 have no such copies); every plan found runs as
    ``simulate`` prices it, from its run parameters."""
    from simtrain.training import simulate

    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=8, zero_impl="fsdp2")
    assert result.config["zero_impl"] == "fsdp2"
    assert all(row["zero_impl"] == ("fsdp2" if row["zero"] == 3 else "flat") for row in result.best)
    zero3 = next(k for k, row in enumerate(result.best) if row["zero"] == 3)
    params = result.run_params(zero3)
    assert params["zero_impl"] == "fsdp2"
    assert result.best[zero3]["step_time_s"] == pytest.approx(simulate(TrainingRun(**params)).step_time_s, rel=1e-9)
    with pytest.raises(ConfigError, match="zero_impl"):
        search(MODEL, "dgx-a100", gpus=8, global_batch=16, zero_impl="fsdp1")


def test_the_search_prices_asynchronous_tp_as_simulate_does_and_prunes_nothing_it_should_not() -> None:
    """``tp_overlap`` async applies to every plan; the lower bound counts one pass of TP collectives (the
    backward's may all hide), so pruning still finds the exhaustive best, and a TP plan found runs as ``simulate``
    prices it."""
    from simtrain.training import simulate

    c = load_model(MODEL).config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=8)
    compute = ComputeModel.roofline("a100")
    cache = NetworkCache(cluster)
    slowest = expected_slowest(DEFAULT_GPU_SPREAD, 8)
    times = []
    for keys in candidates(c, 8, 8, 16):
        plan = make_plan(c, 8, **keys, tp_overlap="async")
        if memory_per_gpu(c, plan, "bf16", "adam")["total"] > 80 * 2**30:
            continue
        costs = StageCosts.build(c, plan, cluster, compute, "bf16", "adam", cache=cache)
        times.append(step_time(costs.stretched([slowest] * plan.pp), plan).step_time_s)
    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=40, tp_overlap="async")
    assert result.config["tp_overlap"] == "async"
    assert [row["step_time_s"] for row in result.best] == pytest.approx(sorted(times)[:40], rel=1e-12)
    rank = next(k for k, row in enumerate(result.best) if not row["parallel"].startswith("tp=1,"))
    params = result.run_params(rank)
    assert params["tp_overlap"] == "async"
    assert result.best[rank]["step_time_s"] == pytest.approx(simulate(TrainingRun(**params)).step_time_s, rel=1e-9)
    with pytest.raises(ConfigError, match="tp_overlap"):
        search(MODEL, "dgx-a100", gpus=8, global_batch=16, tp_overlap="maybe")
