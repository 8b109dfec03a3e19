"""The large-model validation cases: registered as held-out tests in their source's unit, with their plan."""

from __future__ import annotations

import pytest

from simtrain.model.decoder import DecoderConfig, block_layers, is_core_attention
from simtrain.run import TrainingRun
from simtrain.training import simulate
from simtrain.validation import CASES
from simtrain.validation.large_models import _SC21_ROWS

LARGE = [n for n in CASES.names() if n.startswith(("megatron-", "mt-nlg-"))]


def test_every_large_model_case_is_a_held_out_parallel_command() -> None:
    assert len(LARGE) >= 21
    for name in LARGE:
        case = CASES.get(name)
        assert case.role == "test" and case.source_id and case.tag in ("[M]", "[M2]")
        assert "--parallel tp=" in case.command and "--global-batch" in case.command
        # the ADLR blog's weak-scaling efficiencies are ratios (their effect: the loss against linear scaling)
        assert case.unit in ("s", "TFLOP/s") or (case.unit == "%" and case.effect_zero == 100.0)


@pytest.mark.parametrize("row", [r for r in _SC21_ROWS if r[0] in ("1.7b", "145b")], ids=lambda r: r[0])
def test_hw_tflops_is_megatrons_eq3(row: tuple) -> None:
    """simtrain's hardware FLOPs of a fully recomputed GPT are Narayanan et al.'s eq. 3, so the units match."""
    size, layers, h, heads, tp, pp, gpus, mbs, gbs, *_ = row
    case = CASES.get(f"megatron-sc21-{size}-hw-tflops")
    run = TrainingRun.from_mapping({"model": f"gpt:layers={layers},hidden={h},heads={heads},seq=2048,vocab=51200",
                                    "topology": "dgx-a100", "gpus": gpus, "parallel": f"tp={tp},pp={pp}",
                                    "micro_batch": mbs, "global_batch": gbs, "dtype": "fp16", "optimizer": "adam",
                                    "recompute": "full"})
    data = simulate(run).to_dict()
    s, v = 2048, 51200
    eq3 = 96 * gbs * s * layers * h**2 * (1 + s / (6 * h) + v / (16 * layers * h))
    assert data["hw_tflops_per_gpu"] * 1e12 * data["step_time_s"] * gpus == pytest.approx(eq3, rel=1e-9)
    assert "TFLOP/s" == case.unit and case.published in (137.0, 148.0)


def test_dropout_adds_bandwidth_kernels_and_no_flops_or_parameters() -> None:
    base = {"layers": 1, "hidden": 256, "heads": 4, "seq": 128, "vocab": 100}
    plain = block_layers(DecoderConfig.from_mapping(base))
    dropped = block_layers(DecoderConfig.from_mapping({**base, "dropout": 0.1}))
    extra = [layer for layer in dropped if layer.kind == "dropout"]
    assert [layer.name.split(".", 2)[2] for layer in extra] == \
        ["attention.dropout", "attention.dropout_add", "mlp.dropout_add"]
    assert extra[0].input_elements == 4 * 128 * 128            # heads x seq x seq probabilities per sample
    assert sum(x.num_params for x in dropped) == sum(x.num_params for x in plain)
    assert sum(x.forward_flops for x in dropped) == sum(x.forward_flops for x in plain)
    sp = block_layers(DecoderConfig.from_mapping({**base, "dropout": 0.1}), tp=2, sp=True)
    assert [x.input_elements for x in sp if x.name.endswith("_add")] == [64 * 256, 64 * 256]   # 1/tp of tokens
    assert [x.name for x in dropped if is_core_attention(x)] == ["layers.0.attention.core",
                                                                    "layers.0.attention.dropout"]


def test_dropout_slows_the_step_and_selective_recomputation_runs_the_attention_dropout_again() -> None:
    def step(dropout: float, recompute: str) -> float:
        model = f"gpt:layers=4,hidden=1024,heads=16,seq=1024,vocab=1000,dropout={dropout}"
        return simulate(TrainingRun.from_mapping({
            "model": model, "topology": "dgx-a100", "gpus": 8, "parallel": "tp=2,pp=2", "micro_batch": 1,
            "global_batch": 8, "dtype": "bf16", "optimizer": "adam", "recompute": recompute})).step_time_s

    assert step(0.1, "none") > step(0.0, "none")
    # selective recomputation re-runs the core attention: with dropout it re-runs more
    assert step(0.1, "selective") - step(0.1, "none") > step(0.0, "selective") - step(0.0, "none")
