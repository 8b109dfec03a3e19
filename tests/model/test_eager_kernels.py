"""A decoder's ``kernels`` key: Megatron-LM's fused element-wise kernels or eager PyTorch's (Hugging Face's GPT-2).

The eager kernels' bytes are counted from the ATen ops Hugging Face's eager GPT-2 attention and NewGELUActivation
dispatch (docs/compute-model.md, "Eager kernels"); these tests hold the compute model and the memory model to
those counts and keep the fused default as it was.
"""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel, score_bytes
from simtrain.errors import ConfigError
from simtrain.model.decoder import DecoderConfig, block_layers, load_decoder
from simtrain.parallel.memory import activation_bytes_per_layer

GPT2 = {"layers": 1, "hidden": 768, "heads": 12, "seq": 1024, "vocab": 50257, "dropout": 0.1}


def _layer(kernels: str, suffix: str, **keys: object):
    c = DecoderConfig.from_mapping({**GPT2, "kernels": kernels, **keys})
    return next(layer for layer in block_layers(c) if layer.name.endswith(suffix))


@pytest.mark.parametrize("kernels, attention, core, act", [
    ("fused", "math", "attention", "gelu"),
    ("eager", "math", "eager_attention", "gelu_eager"),
    ("eager-half", "math", "eager_half_attention", "gelu_eager_half"),
    ("eager", "flash2", "flash2_attention", "gelu_eager"),   # no scores: only the GELU is eager
])
def test_the_kernels_key_picks_the_layer_kinds(kernels, attention, core, act) -> None:
    assert _layer(kernels, ".attention.core", attention=attention).kind == core
    assert _layer(kernels, ".mlp.act", attention=attention).kind == act


def test_an_unknown_kernels_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match="kernels") as info:
        load_decoder("gpt:layers=1,hidden=64,heads=4,seq=32,vocab=100,kernels=triton")
    assert "eager" in str(info.value) and "fused" in str(info.value)


@pytest.mark.parametrize("kind, phase, width, expected", [
    # Hugging Face's eager GPT-2 under autocast, per score element: div 2+2, where 2+2, + fp32 mask 2+4,
    # fp32 softmax 4+4, cast 4+2 (forward); cast 2+4, softmax backward 8+4, cast 4+2, where 2+2, div 2+2 (backward)
    ("eager_attention", "forward", 2, (28.0, 5)),
    ("eager_attention", "backward", 2, (32.0, 5)),
    # the same code on a half model: no fp32, no casts
    ("eager_half_attention", "forward", 2, (16.0, 4)),
    ("eager_half_attention", "backward", 2, (14.0, 3)),
    # Megatron-LM's fused scale-mask-softmax, as before the key existed
    ("attention", "forward", 2, (4.0, 1)),
    ("attention", "backward", 2, (6.0, 1)),
])
def test_score_bytes_are_the_counted_kernels(kind, phase, width, expected) -> None:
    assert score_bytes(kind, width, phase) == expected


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_eager_attention_costs_its_extra_passes_over_the_scores(phase) -> None:
    cm = ComputeModel.roofline("v100")
    fused, eager = _layer("fused", ".attention.core"), _layer("eager", ".attention.core")
    batch, heads, seq = 8, 12, 1024
    elements = batch * heads * seq * seq
    (eager_bytes, eager_kernels), (fused_bytes, fused_kernels) = (score_bytes(k, 2, phase)
                                                                  for k in ("eager_attention", "attention"))
    extra = (cm.kernel_time(0.0, eager_bytes * elements, "fp16", eager_kernels)
             - cm.kernel_time(0.0, fused_bytes * elements, "fp16", fused_kernels))
    difference = cm.layer_time(eager, batch, phase, "fp16") - cm.layer_time(fused, batch, phase, "fp16")
    assert difference == pytest.approx(extra, rel=1e-12) and extra > 0


@pytest.mark.parametrize("kernels, phase, per_element, count", [
    # under autocast pow runs in fp32, so the chain after it does: 0.5·x 2+2, cast 2+4, pow 4+4, ·c 4+4,
    # x + (fp32) 2+4+4, ·c 4+4, tanh 4+4, 1 + 4+4, product 2+4+4, cast for the down projection 4+2
    ("eager", "forward", 76.0, 10),
    ("eager", "backward", 118.0, 15),
    # on a half model: eight kernels (ten reads, eight writes) and eleven backward (seventeen reads, eleven writes)
    ("eager-half", "forward", 36.0, 8),
    ("eager-half", "backward", 56.0, 11),
])
def test_the_eager_gelu_is_its_kernels_bytes(kernels, phase, per_element, count) -> None:
    cm = ComputeModel.roofline("v100")
    act = _layer(kernels, ".mlp.act")
    nbytes = per_element * act.input_elements * 8
    # eager chains run at the bandwidth PyTorch's native kernels reach (docs/compute-model.md, "Native kernels")
    assert cm.layer_time(act, 8, phase, "fp16") == pytest.approx(
        cm.kernel_time(0.0, nbytes, "fp16", count, native=True), rel=1e-12)


def test_eager_code_keeps_what_autograd_saves() -> None:
    # counted with saved-tensor hooks on the code as written (bytes per element): autocast's GELU keeps pow's fp32
    # input, tanh's output and the bracket (4 each) and 0.5·x (2), and the down projection its input (2), 16 in all
    # against the fused activation's input and output (4); LayerNorm under autocast keeps an fp32 input
    s, b, h, f, a = 1024, 2, 768, 3072, 12
    scores = a * s * s * b
    fused, eager, half = (activation_bytes_per_layer(DecoderConfig.from_mapping({**GPT2, "kernels": k}), b)
                          for k in ("fused", "eager", "eager-half"))
    assert eager - fused == (4 - 2) * scores + (16 - 4) * s * b * f + 2 * (4 - 2) * s * b * h
    assert half - fused == (10 - 4) * s * b * f   # x, tanh, 0.5·x, the bracket and the down input, at 2 bytes
    fp32 = [activation_bytes_per_layer(DecoderConfig.from_mapping({**GPT2, "kernels": k}), b, width=4)
            for k in ("fused", "eager", "eager-half")]
    assert fp32[1] == fp32[2] > fp32[0]   # in fp32 the two eager styles are one


def test_a_gated_models_eager_code_keeps_more() -> None:
    s, b, h, f, q, k = 256, 1, 512, 1536, 512, 128
    fused, eager = (activation_bytes_per_layer(DecoderConfig.from_mapping({**LLAMA, "kernels": kk, "ffn": f,
                                                                           "attention": "flash2"}), b)
                    for kk in ("fused", "eager"))
    # RMSNorm's fp32 input (4 more per element, two norms), the silu's output, repeat_kv's expanded K and V
    assert eager - fused == 2 * 4 * s * b * h + 2 * s * b * f + 2 * 2 * s * b * (q - k)


LLAMA = {"layers": 1, "hidden": 512, "heads": 8, "kv_heads": 2, "seq": 256, "vocab": 1000, "gated": True}


def _kinds(**keys: object) -> dict[str, str]:
    c = DecoderConfig.from_mapping({**LLAMA, **keys})
    return {layer.name.split(".", 2)[-1]: layer.kind for layer in block_layers(c)}


def test_a_gated_models_eager_kernels_are_torchtitans() -> None:
    fused, eager = _kinds(), _kinds(kernels="eager")
    assert (fused["input_norm"], fused["attention.rotary"], fused["mlp.act"]) == ("rmsnorm", "rotary", "silu")
    assert "attention.repeat_kv" not in fused   # a fused attention reads the shared heads in place
    assert (eager["input_norm"], eager["attention.rotary"], eager["attention.repeat_kv"], eager["mlp.act"]) == (
        "rmsnorm_eager", "rotary_eager", "repeat_kv", "silu_eager")
    assert "attention.repeat_kv" not in _kinds(kernels="eager", kv_heads=8)   # no grouped-query attention
    assert "attention.rotary" not in _kinds(positions="alibi")


def test_the_probabilities_dropout_follows_the_core_attention() -> None:
    names = list(_kinds(kernels="eager", dropout=0.1))
    assert names[names.index("attention.core") + 1] == "attention.dropout"


@pytest.mark.parametrize("phase", ["forward", "backward"])
@pytest.mark.parametrize("suffix", [".input_norm", ".attention.rotary"])
def test_the_eager_fp32_kinds_are_their_counted_bytes(phase, suffix) -> None:
    from simtrain.compute import eager_bytes

    cm = ComputeModel.roofline("h100")
    c = DecoderConfig.from_mapping({**LLAMA, "kernels": "eager"})
    layer = next(layer for layer in block_layers(c) if layer.name.endswith(suffix))
    per_element, kernels = eager_bytes(layer.kind, 2, phase)
    weights = layer.num_params * 2 * (1 if phase == "forward" else 2)
    expected = cm.kernel_time(0.0, per_element * layer.input_elements * 4 + weights, "bf16", kernels, native=True)
    assert cm.layer_time(layer, 4, phase, "bf16") == pytest.approx(expected, rel=1e-12)
    # the fp32 the code computes in: an fp32 run has no casts and costs less per element
    assert eager_bytes(layer.kind, 4, phase)[0] < 2 * per_element


def test_eager_kernels_slow_a_gated_model_down() -> None:
    cm = ComputeModel.roofline("h100")
    times = {}
    for kernels in ("fused", "eager"):
        c = DecoderConfig.from_mapping({**LLAMA, "kernels": kernels, "attention": "flash2"})
        times[kernels] = sum(cm.layer_time(layer, 2, phase, "bf16") for layer in block_layers(c)
                             for phase in ("forward", "backward"))
    assert times["eager"] > times["fused"]


@pytest.mark.parametrize("keys", [dict(GPT2), {**LLAMA, "attention": "flash2"}])
def test_a_calibration_profile_prices_the_eager_kernels_too(keys) -> None:
    # a profile replaces the rates, not what the kernels move: eager code costs more under it as well
    cm = ComputeModel.from_profile("cpu-numba")
    times = {}
    for kernels in ("fused", "eager"):
        c = DecoderConfig.from_mapping({**keys, "kernels": kernels})
        times[kernels] = sum(cm.layer_time(layer, 2, phase, "fp32") for layer in block_layers(c)
                             for phase in ("forward", "backward"))
    assert times["eager"] > times["fused"]


def test_a_profile_prices_an_eager_kinds_counted_bytes_at_its_bandwidth() -> None:
    from simtrain.compute import eager_bytes

    cm = ComputeModel.from_profile("cpu-numba")
    act = _layer("eager", ".mlp.act")
    for phase in ("forward", "backward"):
        nbytes = eager_bytes("gelu_eager", 4, phase)[0] * act.input_elements * 2
        assert cm.layer_time(act, 2, phase, "fp32") == pytest.approx(cm.profile.memory_time(nbytes, "fp32"),
                                                                     rel=1e-12)


def test_one_key_value_head_a_rank_is_not_copied() -> None:
    # torchtitan's repeat_kv of a single key/value head is an expanded view: no copy, nothing more kept
    assert "attention.repeat_kv" not in _kinds(kernels="eager", kv_heads=1)
    c = DecoderConfig.from_mapping({**LLAMA, "kernels": "eager", "attention": "flash2"})
    fused = DecoderConfig.from_mapping({**LLAMA, "attention": "flash2"})
    assert [layer.kind for layer in block_layers(c, tp=2)].count("repeat_kv") == 0   # 2 key/value heads over 2
    extra_tp2 = activation_bytes_per_layer(c, 1, tp=2) - activation_bytes_per_layer(fused, 1, tp=2)
    extra_tp1 = activation_bytes_per_layer(c, 1) - activation_bytes_per_layer(fused, 1)
    s, h, f = 256, 512, DecoderConfig.from_mapping(LLAMA).ffn
    assert extra_tp2 == pytest.approx((2 * 4 * s * h + 2 * s * f / 2) , rel=1e-12)   # norms, silu: no repeat_kv
    assert extra_tp1 > 2 * 4 * s * h + 2 * s * f


def test_a_decoders_attention_records_its_heads() -> None:
    from simtrain.compute import attention_heads

    c = DecoderConfig.from_mapping({**LLAMA, "head_dim": 128})   # 8 heads of 128
    core = next(layer for layer in block_layers(c) if layer.name.endswith(".attention.core"))
    assert attention_heads(core) == 8 and core.groups == 8
    assert attention_heads(next(layer for layer in block_layers(c, tp=2)
                                if layer.name.endswith(".attention.core"))) == 4


@pytest.mark.parametrize("attention", ["math", "flash2"])
def test_a_profile_prices_both_of_attentions_products(attention) -> None:
    # a layer's GEMM record is Q·Kᵀ forward (P·V has as many multiply-adds) and two of four products backward
    from simtrain.compute import attention_heads, score_bytes

    cm = ComputeModel.from_profile("cpu-numba")
    core = _layer("fused", ".attention.core", attention=attention)
    rows, cols, inner = core.gemm
    for phase in ("forward", "backward"):
        if phase == "forward":
            gemm = cm.profile.gemm_time(rows * 2, cols, inner, "fp32", "nt")
        else:
            gemm = (cm.profile.gemm_time(rows * 2, inner, cols, "fp32", "nn")
                    + cm.profile.gemm_time(cols, inner, rows * 2, "fp32", "tn"))
        scores = 0.0
        if attention == "math":
            scores = cm.profile.memory_time(score_bytes("attention", 4, phase)[0] * 2 * attention_heads(core) * rows
                                            * cols, "fp32")
        assert cm.layer_time(core, 2, phase, "fp32") == pytest.approx(2 * gemm + scores, rel=1e-12)


# -- softmax: the scores' kernels alone ------------------------------------------------------------------------------
@pytest.mark.parametrize("softmax, core", [("eager-half", "eager_half_attention"), ("eager", "eager_attention"),
                                           ("fused", "attention")])
def test_the_softmax_key_changes_the_scores_kernels_only(softmax, core) -> None:
    """2019-2020 Megatron-LM code: scale, mask and softmax as separate kernels beside a fused LayerNorm and GELU."""
    assert _layer("fused", ".attention.core", softmax=softmax).kind == core
    assert _layer("fused", ".mlp.act", softmax=softmax).kind == "gelu"
    assert _layer("fused", ".input_norm", softmax=softmax).kind == "layernorm"
    # and the other way: eager element-wise kernels around a fused softmax
    assert _layer("eager", ".attention.core", softmax="fused").kind == "attention"
    assert _layer("eager", ".mlp.act", softmax="fused").kind == "gelu_eager"


def test_softmax_as_kernels_is_the_same_config() -> None:
    assert DecoderConfig.from_mapping({**GPT2, "kernels": "eager", "softmax": "eager"}) == \
        DecoderConfig.from_mapping({**GPT2, "kernels": "eager"})


def test_the_softmax_key_moves_only_the_scores_memory() -> None:
    """The softmax's output is what autograd keeps of the scores: fp32 under autocast's eager softmax."""
    s, b, a = 1024, 2, 12
    fused = activation_bytes_per_layer(DecoderConfig.from_mapping(GPT2), b)
    eager = activation_bytes_per_layer(DecoderConfig.from_mapping({**GPT2, "softmax": "eager"}), b)
    half = activation_bytes_per_layer(DecoderConfig.from_mapping({**GPT2, "softmax": "eager-half"}), b)
    assert eager - fused == (4 - 2) * a * s * s * b and half == fused


def test_softmax_needs_scores() -> None:
    with pytest.raises(ConfigError, match="softmax") as info:
        load_decoder("gpt:layers=1,hidden=64,heads=4,seq=32,vocab=100,attention=flash,softmax=eager")
    assert "attention=math" in str(info.value)
