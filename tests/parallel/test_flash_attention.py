"""Fused (FlashAttention-style) attention, a decoder's ``attention=flash``: its FLOPs and time, its activation memory
against the closed forms, the engines' agreement with it, and what it changes in a step."""

from __future__ import annotations

import pytest

from simtrain.compute import FLASH1_EFFICIENCY, FLASH2_EFFICIENCY, FLASH_EFFICIENCY, ComputeModel, flash_attention_flops
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.model.decoder import DecoderConfig, block_layers, is_core_attention
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import activation_bytes_per_layer
from simtrain.parallel.plan import make_plan
from simtrain.parallel.step import step_time
from simtrain.run import TrainingRun
from simtrain.topology import load_topology
from simtrain.training import simulate

GPT = {"layers": 24, "hidden": 2048, "heads": 16, "seq": 2048, "vocab": 51200}


def _core(config: dict, **tp: int):
    c = DecoderConfig.from_mapping(config)
    return next(layer for layer in block_layers(c, **tp) if layer.name.endswith("attention.core"))


# -- FLOPs and time ------------------------------------------------------------------------------------------------
def test_flash_flops_closed_form() -> None:
    b, s, d = 2, 4096, 2048
    forward = 4 * b * s * s * d * (1 + 128 / s) / 2          # causal: blocks on and below the diagonal
    assert flash_attention_flops(b, s, s, d, "forward") == pytest.approx(forward, rel=1e-12)
    assert flash_attention_flops(b, s, s, d, "backward") == pytest.approx(2.5 * forward, rel=1e-12)
    # one block: nothing to skip
    assert flash_attention_flops(1, 128, 128, 64, "forward") == 4 * 128 * 128 * 64


@pytest.mark.parametrize("device", ["a100", "h100"])
def test_flash_time_is_its_flops_at_the_papers_fraction_of_peak(device: str) -> None:
    cm = ComputeModel.roofline(device)
    layer = _core({**GPT, "seq": 16384, "attention": "flash"})
    forward, backward = FLASH_EFFICIENCY.get(cm.device.architecture, FLASH_EFFICIENCY[""])
    peak = cm.device.peak_flops("bf16")
    for phase, efficiency in (("forward", forward), ("backward", backward)):
        flops = flash_attention_flops(4, 16384, 16384, 2048, phase)
        # its FLOPs at the fraction, and the kernel's launch overhead on top (as every GEMM-tile kernel's)
        assert cm.layer_time(layer, 4, phase, "bf16") == pytest.approx(
            flops / (peak * efficiency) + cm.kernel_overhead_s, rel=1e-12)


@pytest.mark.parametrize(("device", "fraction"), [("a100", None), ("h100", 0.33), ("b200", 0.15)])
def test_flash2_is_flashattention_2_on_every_gpu(device: str, fraction: float | None) -> None:
    """attention=flash2 prices FlashAttention-2 itself: on Ampere the same as flash, on Hopper and Blackwell at the
    fraction Azure measured (forward plus backward), where flash takes FlashAttention-3's Hopper fractions."""
    cm = ComputeModel.roofline(device)
    flash2 = _core({**GPT, "seq": 16384, "attention": "flash2"})
    flash = _core({**GPT, "seq": 16384, "attention": "flash"})
    peak = cm.device.peak_flops("bf16")
    for phase in ("forward", "backward"):
        if fraction is None:
            assert cm.layer_time(flash2, 4, phase, "bf16") == cm.layer_time(flash, 4, phase, "bf16")
        else:
            flops = flash_attention_flops(4, 16384, 16384, 2048, phase)
            assert cm.layer_time(flash2, 4, phase, "bf16") == pytest.approx(
                flops / (peak * fraction) + cm.kernel_overhead_s, rel=1e-12)
    assert FLASH2_EFFICIENCY["hopper"][0] < FLASH_EFFICIENCY["hopper"][1]


@pytest.mark.parametrize("device", ["a100", "h100"])
def test_flash1_is_flashattention_1_at_the_fractions_its_successor_reports(device: str) -> None:
    """attention=flash1 (the flash-attn 1.x package): 25-40 % of A100 peak by the FlashAttention-2 paper's abstract,
    the range's top forward and its bottom backward, as flash2's 50-73 %."""
    cm = ComputeModel.roofline(device)
    flash1 = _core({**GPT, "seq": 16384, "attention": "flash1"})
    peak = cm.device.peak_flops("bf16")
    assert FLASH1_EFFICIENCY[""] == (0.40, 0.25)
    for phase, fraction in (("forward", 0.40), ("backward", 0.25)):
        flops = flash_attention_flops(4, 16384, 16384, 2048, phase)
        assert cm.layer_time(flash1, 4, phase, "bf16") == pytest.approx(
            flops / (peak * fraction) + cm.kernel_overhead_s, rel=1e-12)
    flash2 = _core({**GPT, "seq": 16384, "attention": "flash2"})
    if device == "a100":
        assert cm.layer_time(flash1, 4, "backward", "bf16") > cm.layer_time(flash2, 4, "backward", "bf16")


def test_flash_is_faster_than_math_and_saves_more_at_longer_sequences() -> None:
    cm = ComputeModel.roofline("h100")
    ratios = []
    for seq in (1024, 8192):
        math_layer, flash_layer = (_core({**GPT, "seq": seq, "attention": kernel}) for kernel in ("math", "flash"))
        assert math_layer.forward_flops == flash_layer.forward_flops    # the model's FLOPs do not change
        times = {k: sum(cm.layer_time(layer, 1, p, "bf16") for p in ("forward", "backward"))
                 for k, layer in (("math", math_layer), ("flash", flash_layer))}
        assert times["flash"] < times["math"]
        ratios.append(times["math"] / times["flash"])
    assert ratios[1] > ratios[0]


# -- the decoder key -----------------------------------------------------------------------------------------------
def test_flash_key_changes_only_the_core_attention() -> None:
    math_c = DecoderConfig.from_mapping({**GPT, "dropout": 0.1})
    flash_c = DecoderConfig.from_mapping({**GPT, "dropout": 0.1, "attention": "flash"})
    assert math_c.attention == "math"
    kinds = [(layer.name, layer.kind) for layer in block_layers(flash_c)]
    assert ("layers.0.attention.core", "flash_attention") in kinds
    # the probabilities' dropout runs inside the fused kernel; the residual dropouts stay
    assert not any(name.endswith("attention.dropout") for name, _ in kinds)
    assert any(name.endswith("dropout_add") for name, _ in kinds)
    assert [layer.name for layer in block_layers(flash_c) if is_core_attention(layer)] == ["layers.0.attention.core"]
    assert load_model("gpt:layers=2,hidden=64,heads=4,seq=32,vocab=100,attention=flash").num_params == \
        load_model("gpt:layers=2,hidden=64,heads=4,seq=32,vocab=100").num_params
    assert "attention=flash" in load_model("llama3-8b:attention=flash").config.describe()
    assert load_model("llama3-405b").config.attention == "math"   # catalog entries keep the unfused default


def test_bad_attention_kernel_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"attention: unknown value: .sdpa.; allowed: flash, flash1, flash2, math"):
        load_model("gpt:layers=2,hidden=64,heads=4,seq=32,vocab=100,attention=sdpa")


# -- memory: Korthikanti et al. 2022's closed forms without the a·s²·b terms -----------------------------------------
@pytest.mark.parametrize("t", [1, 2, 8])
@pytest.mark.parametrize("b", [1, 4])
def test_flash_activation_closed_forms(t: int, b: int) -> None:
    math_c = DecoderConfig.from_mapping(GPT)
    flash_c = DecoderConfig.from_mapping({**GPT, "attention": "flash"})
    s, h, a = GPT["seq"], GPT["hidden"], GPT["heads"]
    lse = 4 * a * s * b / t
    assert activation_bytes_per_layer(flash_c, b, t) == pytest.approx(s * b * h * (10 + 24 / t) + lse)
    assert activation_bytes_per_layer(flash_c, b, t, sp=True) == pytest.approx(s * b * h * 34 / t + lse)
    # math keeps the softmax output, its dropout mask and the dropout's output: 5·a·s²·b bytes, split by TP
    assert activation_bytes_per_layer(math_c, b, t) - activation_bytes_per_layer(flash_c, b, t) == \
        pytest.approx(5 * a * s * s * b / t - lse)
    # selective recomputation drops the scores (math) or the log-sum-exp (flash): the same bytes remain
    assert activation_bytes_per_layer(flash_c, b, t, sp=True, recompute="selective") == \
        pytest.approx(activation_bytes_per_layer(math_c, b, t, sp=True, recompute="selective"))
    # context parallelism: local queries only, so the log-sum-exp shrinks with cp
    assert activation_bytes_per_layer(flash_c, b, t, cp=2) == pytest.approx(
        (s // 2) * b * h * (10 + 24 / t) + lse / 2)


# -- the step ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("parallel, schedule, extra", [
    ("tp=4,pp=4,dp=1", "1f1b", {}),
    ("tp=2,pp=2,dp=4", "interleaved:chunks=2", {"zero": 1, "rank_order": "tp-cp-pp-dp"}),
    ("tp=4,pp=2,dp=1,cp=2", "1f1b", {"sequence_parallel": True, "recompute": "selective"}),
])
def test_analytical_and_des_agree_with_flash(parallel: str, schedule: str, extra: dict) -> None:
    c = load_model("gpt:layers=8,hidden=512,heads=8,seq=512,vocab=1000,attention=flash").config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=16)
    plan = make_plan(c, 16, parallel, micro_batch=1, global_batch=8 * int(parallel.split("dp=")[1].split(",")[0]),
                     pipeline_schedule=schedule, **extra)
    compute = ComputeModel.roofline("a100")
    a = step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam"), plan)
    d = step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam", engine="des"), plan, "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)


def test_a_flash_step_is_faster_and_smaller_at_long_sequence() -> None:
    results = {}
    for kernel in ("math", "flash"):
        run = TrainingRun(f"gpt:layers=4,hidden=1024,heads=16,seq=16384,vocab=32000,attention={kernel}",
                          "dgx-h100", gpus=8, parallel="tp=8", micro_batch=1, global_batch=2, dtype="bf16",
                          optimizer="adam", sequence_parallel=True, check_memory=False)
        report = simulate(run)
        results[kernel] = {**report.parallel, "step_time_s": report.step_time_s}
    flash, math_ = results["flash"], results["math"]
    assert flash["step_time_s"] < math_["step_time_s"]
    assert flash["memory_by_category_bytes"]["activations"] < 0.2 * math_["memory_by_category_bytes"]["activations"]
    assert flash["tflops_per_gpu"] > math_["tflops_per_gpu"]   # same model FLOPs, less time


def test_selective_recompute_with_flash_counts_the_recomputed_kernel() -> None:
    base = dict(gpus=8, parallel="tp=8", micro_batch=1, global_batch=2, dtype="bf16", optimizer="adam",
                sequence_parallel=True)
    model = "gpt:layers=4,hidden=1024,heads=16,seq=4096,vocab=32000,attention=flash"
    none = simulate(TrainingRun(model, "dgx-h100", recompute="none", **base))
    selective = simulate(TrainingRun(model, "dgx-h100", recompute="selective", **base))
    # hardware FLOPs per step (TFLOP/s x seconds) grow by the recomputed kernel's forward
    assert selective.parallel["hw_tflops_per_gpu"] * selective.step_time_s > \
        none.parallel["hw_tflops_per_gpu"] * none.step_time_s * 1.01
    assert selective.step_time_s > none.step_time_s
