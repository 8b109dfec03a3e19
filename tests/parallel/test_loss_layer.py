"""A decoder's loss: a cross entropy over its share of the logits, in fp32, on the last pipeline stage only."""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel, _cross_entropy_bytes
from simtrain.model import load_model
from simtrain.model.decoder import DecoderConfig, head_layers
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.plan import make_plan
from simtrain.topology import load_topology

GPT = {"layers": 4, "hidden": 1024, "heads": 8, "seq": 2048, "vocab": 65536}


def _loss(config: dict, tp: int = 1, cp: int = 1):
    layers = head_layers(DecoderConfig.from_mapping(config), tp=tp, cp=cp)
    assert [layer.kind for layer in layers] == ["layernorm", "linear", "cross_entropy"]
    return layers[-1]


def test_the_loss_reads_this_gpus_share_of_the_logits() -> None:
    whole = _loss(GPT)
    assert whole.input_elements == GPT["seq"] * GPT["vocab"] and whole.output_elements == GPT["seq"]
    assert whole.num_params == 0 and whole.forward_flops == 0
    # the vocabulary is split by TP (Megatron's vocab-parallel cross entropy), the tokens by CP
    assert _loss(GPT, tp=2).input_elements == whole.input_elements // 2
    assert _loss(GPT, cp=2).input_elements == whole.input_elements // 2


def test_its_time_is_its_fp32_passes_at_the_streaming_rate() -> None:
    cm = ComputeModel.roofline("h100")
    loss = _loss(GPT)
    for phase in ("forward", "backward"):
        nbytes = _cross_entropy_bytes(loss.input_elements * 2, 2, phase)
        assert cm.layer_time(loss, 2, phase, "bf16") == pytest.approx(nbytes / (cm.device.memory_bandwidth_Bps
                                                                                  * cm.memory_efficiency))
    # an FP8 recipe computes it as it computes every non-GEMM layer, in bf16
    assert cm.layer_time(loss, 1, "forward", "fp8") == cm.layer_time(loss, 1, "forward", "bf16")
    # fp32 logits need no casts: fewer bytes than bf16 ones
    assert cm.layer_time(loss, 1, "backward", "fp32") < cm.layer_time(loss, 1, "backward", "bf16")


def test_a_calibration_profile_prices_the_same_bytes() -> None:
    cm = ComputeModel.from_profile("cpu-numba")
    loss = _loss(GPT)
    for phase in ("forward", "backward"):
        expected = cm.profile.memory_time(_cross_entropy_bytes(loss.input_elements, 4, phase), "fp32")
        assert cm.layer_time(loss, 1, phase, "fp32") == pytest.approx(expected)


def test_only_the_last_stage_pays_it() -> None:
    """Two pipeline stages: growing the vocabulary adds the head's GEMMs and the loss to the last stage's forward and
    nothing to the first stage's (whose backward grows only by the embedding's larger weight gradient)."""
    cluster = load_topology("dgx-a100", gpus=8)
    compute = ComputeModel.roofline("a100")
    plan = make_plan(DecoderConfig.from_mapping(GPT), 8, "tp=2,pp=2", micro_batch=1, global_batch=8)
    small = StageCosts.build(DecoderConfig.from_mapping(GPT), plan, cluster, compute, "bf16", "adam")
    big_config = DecoderConfig.from_mapping({**GPT, "vocab": 2 * GPT["vocab"]})
    big = StageCosts.build(big_config, plan, cluster, compute, "bf16", "adam")
    assert big.forward[0] == small.forward[0]
    head_small, head_big = (head_layers(c, tp=2) for c in (DecoderConfig.from_mapping(GPT), big_config))
    grown = sum(compute.layer_time(a, 1, "forward", "bf16") - compute.layer_time(b, 1, "forward", "bf16")
                for a, b in zip(head_big, head_small))
    assert big.forward[1][-1] - small.forward[1][-1] == pytest.approx(grown, rel=1e-9)
    loss_share = compute.layer_time(head_big[-1], 1, "forward", "bf16") - compute.layer_time(
        head_small[-1], 1, "forward", "bf16")
    assert 0 < loss_share < grown


def test_the_data_parallel_model_ends_with_it() -> None:
    model = load_model("llama3-8b:seq=8192")
    assert model.layers[-1].kind == "cross_entropy"
    assert model.layers[-2].name == "lm_head"
    # one per model, as the head: no other layer of the decoder is a loss
    assert sum(layer.kind == "cross_entropy" for layer in model.layers) == 1
    assert model.layers[-1].input_elements == 8192 * model.config.vocab
