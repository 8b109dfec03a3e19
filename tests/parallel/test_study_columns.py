"""Study rows of model-parallel points carry the plan's figures; a plan that does not fit is a failed row."""

from __future__ import annotations

import pytest

from simtrain.run import TrainingRun
from simtrain.study import OUTPUT_COLUMNS, run_point
from simtrain.training import simulate

MODEL = "gpt:layers=4,hidden=512,heads=8,seq=512,vocab=1000"
PARALLEL_COLUMNS = ("tokens_per_s", "tflops_per_gpu", "hw_tflops_per_gpu", "mfu", "hfu", "bubble_fraction")


def test_a_parallel_point_fills_the_model_parallel_columns() -> None:
    point = {"model": MODEL, "topology": "dgx-a100", "gpus": 8, "parallel": "tp=2,pp=2", "micro_batch": 1,
             "global_batch": 8, "recompute": "full"}
    row = run_point(point, seed=0)
    assert row["status"] == "ok", row["error"]
    report = simulate(TrainingRun.from_mapping(point)).to_dict()
    for column in (*PARALLEL_COLUMNS, "memory_per_gpu_bytes", "step_time_s"):
        assert column in OUTPUT_COLUMNS
        assert row[column] == pytest.approx(report[column])
    assert 0 < row["mfu"] < row["hfu"] < 1   # full recomputation: hardware FLOPs exceed model FLOPs
    assert row["tokens_per_s"] == pytest.approx(8 * 512 / row["step_time_s"])


def test_a_data_parallel_point_leaves_them_empty() -> None:
    row = run_point({"model": "resnet50", "topology": "dgx-a100", "gpus": 8, "batch": 32}, seed=0)
    assert row["status"] == "ok"
    assert all(row[c] is None for c in PARALLEL_COLUMNS)


def test_a_plan_that_does_not_fit_is_a_failed_row_naming_the_shortfall() -> None:
    row = run_point({"model": "gpt3-175b", "topology": "dgx-a100", "gpus": 8, "parallel": "tp=8,pp=1",
                     "micro_batch": 1, "global_batch": 8}, seed=0)
    assert row["status"] == "error"
    assert row["error"].startswith("InfeasibleError") and "GiB" in row["error"]
    assert all(row[c] is None for c in (*PARALLEL_COLUMNS, "step_time_s", "memory_per_gpu_bytes"))
