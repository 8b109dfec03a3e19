"""The run's ``reduce_dtype``: the dtype gradients are accumulated, reduced and held in across data-parallel ranks
(issue 14, the training step): Megatron-LM's fp32 main_grad for a bf16 model, FSDP2's reduce_dtype=float32."""

from __future__ import annotations

import pytest

from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.run import TrainingRun
from simtrain.training import simulate
from tests.cli_checks import refused

MODEL = "gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000"
PLAN = dict(gpus=16, micro_batch=2, global_batch=32, dtype="bf16", optimizer="adam")


def test_the_data_parallel_buckets_and_gradients_take_its_width() -> None:
    from simtrain.training.data_parallel import memory_per_gpu

    runs = {dtype: simulate("resnet50", "dgx-a100", gpus=16, batch=32, dtype="bf16", reduce_dtype=dtype)
            for dtype in ("auto", "bf16", "fp32")}
    assert runs["auto"].bytes_per_gpu == runs["bf16"].bytes_per_gpu
    assert runs["fp32"].bytes_per_gpu == pytest.approx(2 * runs["bf16"].bytes_per_gpu)
    model = load_model("resnet50")
    half, full = (memory_per_gpu(model, 32, "bf16", "adam", reduce_dtype=d) for d in ("auto", "fp32"))
    assert full["gradients"] == 4 * model.num_params == 2 * half["gradients"]
    assert full["weights"] == half["weights"] and full["master_weights"] == half["master_weights"]


@pytest.mark.parametrize("zero, ratio", [(0, 2.0), (1, 1.5)])
def test_reductions_take_its_width_and_gathers_the_parameters(zero: int, ratio: float) -> None:
    """Pure data parallelism: ZeRO-0 all-reduces the gradients (twice the bytes in fp32); ZeRO-1 reduce-scatters
    them (twice) and all-gathers the bf16 parameters (the same), 1.5x in all."""
    runs = {d: simulate(MODEL, "dgx-a100", parallel="tp=1,pp=1,dp=16", zero=zero, reduce_dtype=d, **PLAN)
            for d in ("auto", "fp32")}
    assert runs["fp32"].bytes_per_gpu == pytest.approx(ratio * runs["auto"].bytes_per_gpu)
    assert runs["fp32"].step_time_s >= runs["auto"].step_time_s


def test_tensor_parallel_traffic_and_the_parameters_memory_keep_their_width() -> None:
    runs = {d: simulate(MODEL, "dgx-a100", parallel="tp=2,pp=1,dp=8", zero=0, reduce_dtype=d, **PLAN)
            for d in ("auto", "fp32")}
    assert runs["auto"].bytes_per_gpu < runs["fp32"].bytes_per_gpu < 2 * runs["auto"].bytes_per_gpu
    memory = {d: simulate(MODEL, "dgx-a100", parallel="tp=2,pp=1,dp=8", zero=0, reduce_dtype=d,
                          **PLAN).memory_per_gpu_bytes for d in ("auto", "fp32")}
    assert memory["fp32"] > memory["auto"]


def test_the_search_and_the_command_line_take_it(capsys) -> None:  # type: ignore[no-untyped-def]
    from simtrain.parallel.search import search

    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=1, reduce_dtype="fp32")
    params = result.run_params()
    assert params["reduce_dtype"] == "fp32"
    assert simulate(TrainingRun(**params)).step_time_s == pytest.approx(result.best[0]["step_time_s"], rel=1e-12)
    with pytest.raises(ConfigError, match="reduce_dtype"):
        simulate("resnet50", "dgx-a100", gpus=8, reduce_dtype="fp64")
    refused(capsys, ["simulate", "--model", "resnet50", "--topology", "dgx-a100", "--gpus", "8", "--reduce-dtype",
                     "fp64"], "--reduce-dtype", "fp32")


def test_a_narrower_reduction_does_not_shrink_the_gradients_held() -> None:
    """The .grad keeps its width when the collective carries a narrower copy; an fp32 buffer widens it."""
    from simtrain.training.data_parallel import memory_per_gpu

    model = load_model("resnet50")
    held = {d: memory_per_gpu(model, 32, "fp16", "adam", autocast=True, reduce_dtype=d)["gradients"]
            for d in ("auto", "bf16")}
    assert held["bf16"] == held["auto"] == 4 * model.num_params
    narrow = simulate(MODEL, "dgx-a100", parallel="tp=1,pp=1,dp=16", zero=0, reduce_dtype="bf16", autocast=True,
                      **{**PLAN, "dtype": "fp16"})
    wide = simulate(MODEL, "dgx-a100", parallel="tp=1,pp=1,dp=16", zero=0, autocast=True, **{**PLAN, "dtype": "fp16"})
    assert narrow.memory_per_gpu_bytes == wide.memory_per_gpu_bytes
    assert narrow.bytes_per_gpu == pytest.approx(wide.bytes_per_gpu / 2)


def test_the_update_reads_the_gradients_at_the_width_they_are_held() -> None:
    from simtrain.compute import ComputeModel

    cm = ComputeModel.roofline("h100")
    n = 1_000_000_000
    extra = cm.update_time(n, "bf16", "adam", reduce_dtype="fp32") - cm.update_time(n, "bf16", "adam")
    assert extra == pytest.approx(2 * n / (cm.device.memory_bandwidth_Bps * cm.memory_efficiency), rel=1e-9)


def test_an_expert_model_counts_its_experts_gathers_under_zero() -> None:
    """ZeRO-1's reduce-scatter and all-gather move what ZeRO-0's all-reduce moves, experts included."""
    model = "gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000,experts=8,top_k=2"
    moved = [simulate(model, "dgx-a100", parallel="tp=1,pp=1,dp=16,ep=4", zero=zero, **PLAN).bytes_per_gpu
             for zero in (0, 1)]
    assert moved[1] == pytest.approx(moved[0], rel=1e-9)
