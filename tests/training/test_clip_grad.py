"""The run's ``clip_grad``: clipping the gradients by their global norm before the update (issue 14, the training
step): a norm pass and a scaling pass over the gradients each GPU updates."""

from __future__ import annotations

import pytest

from simtrain.compute import CLIP_PASSES, ComputeModel
from simtrain.optimizers import foreach_launches
from simtrain.run import TrainingRun
from simtrain.training import simulate

MODEL = "gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000"


@pytest.mark.parametrize("dtype, autocast", [("fp32", False), ("bf16", False), ("bf16", True), ("fp16", True)])
def test_clipping_reads_the_fp32_gradients_twice_and_writes_them_once(dtype: str, autocast: bool) -> None:
    """12 bytes a parameter whatever the weights' width: the gradients clipped are fp32 (autocast's own, the master
    copy's under half weights)."""
    cm = ComputeModel.roofline("a100", autocast=autocast)
    n = 200_000_000
    extra = cm.update_time(n, dtype, "adam", clip_grad=True) - cm.update_time(n, dtype, "adam")
    assert extra == pytest.approx(12 * n / (cm.device.memory_bandwidth_Bps * cm.memory_efficiency), rel=1e-9)


def test_tiny_gradients_pay_the_passes_launches() -> None:
    """Below the bandwidth bound, the two foreach passes' launches are the cost."""
    cm = ComputeModel.roofline("a100")
    extra = (cm.update_time(1000, "fp32", "adam", optimizer_impl="foreach", tensors=500, clip_grad=True)
             - cm.update_time(1000, "fp32", "adam", optimizer_impl="foreach", tensors=500))
    assert extra == pytest.approx(foreach_launches(CLIP_PASSES, 1000, 500) * cm.kernel_overhead_s, rel=1e-9)


def test_every_step_prices_it_and_zero_clips_only_the_shard() -> None:
    dp = {flag: simulate("resnet50", "dgx-a100", gpus=8, batch=32, clip_grad=flag) for flag in (False, True)}
    assert dp[True].step_time_s > dp[False].step_time_s
    extra = {}
    for zero in (0, 1):
        base = dict(gpus=8, parallel="tp=1,pp=1,dp=8", micro_batch=1, global_batch=8, dtype="bf16", optimizer="adam",
                    zero=zero)
        times = [simulate(MODEL, "dgx-a100", clip_grad=flag, **base).step_time_s for flag in (False, True)]
        extra[zero] = times[1] - times[0]
    assert 0 < extra[1] < extra[0]


def test_the_search_and_a_study_take_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from simtrain.parallel.search import search
    from simtrain.study import load_study

    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=1, clip_grad=True)
    assert result.config["clip_grad"] is True and result.run_params()["clip_grad"] is True
    report = simulate(TrainingRun(**result.run_params()))
    assert result.best[0]["step_time_s"] == pytest.approx(report.step_time_s, rel=1e-9)
    from simtrain.study import run_point

    study = tmp_path / "s.yaml"
    study.write_text("name: s\nbase: {model: resnet50, topology: dgx-a100, gpus: 8}\n"
                     "sweep: {grid: {clip_grad: [false, true]}}\n")
    points = load_study(str(study)).points
    assert [point["clip_grad"] for point in points] == [False, True]
    rows = [run_point(point, 0) for point in points]
    # the study's rows are the runs' (12 bytes a parameter more in the clipped one's update)
    direct = [simulate("resnet50", "dgx-a100", gpus=8, clip_grad=flag).step_time_s for flag in (False, True)]
    assert [row["step_time_s"] for row in rows] == pytest.approx(direct, rel=1e-12) and direct[1] > direct[0]


def test_the_for_loop_code_clips_tensor_by_tensor() -> None:
    cm = ComputeModel.roofline("a100")
    extra = (cm.update_time(1000, "fp32", "adam", optimizer_impl="for-loop", tensors=500, clip_grad=True)
             - cm.update_time(1000, "fp32", "adam", optimizer_impl="for-loop", tensors=500))
    assert extra == pytest.approx(2 * 500 * cm.kernel_overhead_s, rel=1e-9)
