"""Memory per GPU of a compression scheme's state under a model-parallel plan: the data-parallel step's state on a
dp-only plan, split over the pipeline stages, TP-sharded, and large enough to make a plan not fit."""

from __future__ import annotations

import dataclasses

import pytest

from simtrain.compression import make_scheme
from simtrain.errors import InfeasibleError
from simtrain.model import load_model
from simtrain.parallel.memory import memory_per_gpu, scheme_state_bytes, stage_tensors
from simtrain.parallel.plan import make_plan
from simtrain.parallel.search import candidates, search
from simtrain.parallel.step import scheme_context
from simtrain.training import memory_per_gpu as data_parallel_memory
from simtrain.training import simulate

MODEL = "gpt:layers=4,hidden=256,heads=4,seq=128,vocab=1000"
UNTIED = MODEL + ",tied=false"
#: schemes with state, each kind: error feedback with factors, error feedback, factorising (replacing dense state)
SCHEMES = ("powersgd:rank=4", "topk:density=0.01", "onebit", "oialr:warmup=0", "oialr:rank=8,warmup=0",
           "cuttlefish:switch_epoch=0", "cuttlefish:switch_epoch=0,keep_first=3",
           "ab-training:sync_mode=only-b")   # AB-training's world sync is refused with a plan; its state still splits


def _state(model: str, parallel: str, scheme: str, stage: int, dtype: str = "bf16", optimizer: str = "adam",
           gpus: int = 8) -> float:
    spec = load_model(model)
    plan = make_plan(spec.config, gpus, parallel)
    return scheme_state_bytes(spec.config, plan, make_scheme(scheme), stage, dtype, optimizer,
                              scheme_context(plan, spec, 8, dtype))


@pytest.mark.parametrize("model", [MODEL, UNTIED])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_dp_only_plan_holds_the_data_parallel_steps_state(model: str, scheme: str) -> None:
    spec = load_model(model)
    expected = data_parallel_memory(spec, 1, "bf16", "adam", scheme, num_gpus=8, gpus_per_node=8)["scheme_state"]
    assert expected != 0
    assert _state(model, "dp=8", scheme, 0) == pytest.approx(expected, rel=1e-12)


def test_the_hybrid_report_carries_the_scheme_state() -> None:
    spec = load_model(MODEL)
    expected = data_parallel_memory(spec, 1, "bf16", "adam", "powersgd:rank=4", num_gpus=8,
                                    gpus_per_node=8)["scheme_state"]
    plain = simulate(MODEL, "dgx-a100", gpus=8, parallel="dp=8", micro_batch=1, global_batch=8, dtype="bf16",
                     optimizer="adam")
    report = simulate(MODEL, "dgx-a100", gpus=8, parallel="dp=8", micro_batch=1, global_batch=8, dtype="bf16",
                      optimizer="adam", scheme="powersgd:rank=4")
    categories = report.parallel["memory_by_category_bytes"]
    assert "scheme_state" not in plain.parallel["memory_by_category_bytes"]
    assert categories["scheme_state"] == pytest.approx(expected, rel=1e-12)
    assert report.memory_per_gpu_bytes == pytest.approx(sum(categories.values()), rel=1e-12)
    assert report.memory_per_gpu_bytes == pytest.approx(plain.memory_per_gpu_bytes + expected, rel=1e-12)


@pytest.mark.parametrize("model", [MODEL, UNTIED])
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("parallel", ["pp=2,dp=4", "pp=4,dp=2"])
def test_pipeline_stages_split_the_whole_models_state(model: str, scheme: str, parallel: str) -> None:
    pp = int(parallel.split(",")[0][3:])
    stages = [_state(model, parallel, scheme, s) for s in range(pp)]
    assert sum(stages) == pytest.approx(_state(model, "dp=8", scheme, 0), rel=1e-12)
    # the first stage holds the embedding, the last the head: each holds some of it
    assert all(stage != 0 for stage in stages)


def test_an_uneven_layout_moves_state_with_the_layers() -> None:
    c = load_model(MODEL).config
    even, uneven = make_plan(c, 8, "pp=2,dp=4"), make_plan(c, 8, "pp=2,dp=4", pipeline_layout="first=1,last=3")
    topk = make_scheme("topk")
    moved = 4 * sum(t.numel for t in stage_tensors(c, even, 0) if t.name.startswith("layers.1."))
    assert scheme_state_bytes(c, uneven, topk, 0) == pytest.approx(scheme_state_bytes(c, even, topk, 0) - moved)
    assert scheme_state_bytes(c, uneven, topk, 1) == pytest.approx(scheme_state_bytes(c, even, topk, 1) + moved)


@pytest.mark.parametrize("model", [MODEL, UNTIED])
@pytest.mark.parametrize("pp", [1, 2])
def test_tensor_parallelism_halves_the_error_feedback_residual(model: str, pp: int) -> None:
    # PowerSGD compresses every weight matrix here: tp=2 splits each in two (column or row, the vocabulary of the
    # embedding and the head), so one GPU holds half of every layer's fp32 residual; the learned position table
    # (seq x hidden) is replicated, whole on every GPU of the first stage
    spec = load_model(model)
    c = spec.config
    scheme = make_scheme("powersgd:rank=4")
    positions = 4 * c.position_table * c.hidden
    for stage in range(pp):
        residual = []
        for tp in (1, 2):
            plan = make_plan(c, 8, f"tp={tp},pp={pp}")
            ctx = dataclasses.replace(scheme_context(plan, spec, 8, "bf16"), held=stage_tensors(c, plan, stage))
            residual.append(scheme.state_bytes(ctx, "adam")["error feedback residuals"])
        replicated = positions if stage == 0 else 0
        assert residual[1] - replicated == pytest.approx((residual[0] - replicated) / 2, rel=1e-12)
        assert residual[1] < residual[0]


def test_tensor_parallelism_shards_oialrs_factors_as_its_traffic_does() -> None:
    # OIALR runs with tp > 1: each GPU factorises its shard of a layer at the rank the scheme gives the shard, and
    # its state (S, k x k) counts the same ranks as the S matrices it all-reduces
    spec = load_model(MODEL)
    c = spec.config
    scheme = make_scheme("oialr:warmup=0")
    full = make_plan(c, 8, "dp=8")
    plan = make_plan(c, 8, "tp=2,dp=4")
    ctx = scheme_context(plan, spec, 8, "fp32")
    held = stage_tensors(c, plan, 0)
    state = scheme.state_bytes(dataclasses.replace(ctx, held=held), "adam")
    low_rank = scheme.phases(ctx)[1]
    s_bytes = sum(comm.payload_bytes for comm in low_rank.comms(list(held)) if comm.label == "S matrices")
    assert state["S"] == pytest.approx(s_bytes, rel=1e-12)   # fp32: a weight and a gradient value are 4 bytes
    whole = scheme.state_bytes(dataclasses.replace(ctx, held=stage_tensors(c, full, 0)), "adam")
    replaced = "converted layers' dense state"
    assert state[replaced] == pytest.approx(whole[replaced] / 2, rel=1e-12)


def test_a_dense_start_does_not_lower_the_peak() -> None:
    # OIALR with its warm-up holds dense state first: its saving does not count, stage by stage
    assert _state(MODEL, "pp=2,dp=4", "oialr", 0) == 0.0
    assert _state(MODEL, "pp=2,dp=4", "oialr:warmup=0", 0) < 0


BIG = "gpt:layers=16,hidden=2048,heads=16,seq=512,vocab=32000"   # 872 M parameters


def test_the_scheme_state_makes_a_plan_not_fit() -> None:
    # 16 GiB V100s, fp16 with Adam: dp-only holds 13.9 GiB dense; top-k's fp32 residual of every gradient value
    # adds 4 bytes per parameter (3.25 GiB), over the capacity; two pipeline stages hold half of each
    common = {"gpus": 8, "micro_batch": 1, "global_batch": 8, "dtype": "fp16", "optimizer": "adam"}
    dense = simulate(BIG, "cloud-25g", parallel="dp=8", **common)
    assert dense.memory_per_gpu_bytes < dense.memory_capacity_bytes
    with pytest.raises(InfeasibleError, match="scheme_state"):
        simulate(BIG, "cloud-25g", parallel="dp=8", scheme="topk", **common)
    split = simulate(BIG, "cloud-25g", parallel="pp=2,dp=4", scheme="topk", **common)
    assert split.parallel["memory_by_category_bytes"]["scheme_state"] > 0


def test_the_search_drops_plans_the_scheme_state_does_not_fit() -> None:
    spec = load_model(BIG)
    c = spec.config
    scheme = make_scheme("topk")
    capacity = 16 * 2**30
    plain = fits = 0
    for keys in candidates(c, 8, 8, 8):
        plan = make_plan(c, 8, **keys)
        dense = memory_per_gpu(c, plan, "fp16", "adam")["total"]
        plain += dense <= capacity
        if plan.zero == 0 and plan.ep == 1 and plan.dp * plan.cp > 1:
            held = memory_per_gpu(c, plan, "fp16", "adam", scheme=scheme,
                                  scheme_context=scheme_context(plan, spec, 8, "fp16"))["total"]
            assert held > dense
            fits += held <= capacity
    result = search(BIG, "cloud-25g", gpus=8, global_batch=8, dtype="fp16", optimizer="adam", top=2, scheme="topk")
    assert result.fit == plain + fits
    eligible = sum(1 for keys in candidates(c, 8, 8, 8) if keys["zero"] == 0 and "dp=1," not in keys["parallel"])
    assert fits < eligible   # some plans fit only without the scheme's state
    for row in result.best:
        if row.get("scheme") == "topk":
            assert row["memory_per_gpu_bytes"] <= capacity


def test_a_study_row_records_the_plan_the_state_does_not_fit() -> None:
    from simtrain.study.point import run_point

    point = {"model": BIG, "topology": "cloud-25g", "gpus": 8, "parallel": "dp=8", "micro_batch": 1,
             "global_batch": 8, "dtype": "fp16", "optimizer": "adam"}
    assert run_point(point, seed=1)["status"] == "ok"
    row = run_point({**point, "scheme": "topk"}, seed=1)
    assert row["status"] == "error" and "InfeasibleError" in row["error"] and "scheme_state" in row["error"]
