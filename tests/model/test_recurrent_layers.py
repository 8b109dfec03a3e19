"""Recurrent layers (LSTM, GRU, RNN): the hidden-state product priced one time step after another (issue 14, the
compute model), the kinds and keys of the model vocabulary, and the tensors of torch's modules."""

from __future__ import annotations

import dataclasses

import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model, single_layer

V100 = ComputeModel.roofline("v100")


def _lstm(steps: int, hidden: int, **keys) -> object:
    return single_layer({"tokens": [steps, hidden]}, {"kind": "lstm", "hidden": hidden, **keys})


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_steps_run_one_after_another_so_time_grows_with_steps_at_equal_flops(phase):
    """Four times the steps at a quarter of the batch is the same work; as one GEMM it took about as long, step by
    step it takes longer: each step is a small product of the batch's rows, paid in full."""
    long, short = _lstm(100, 512), _lstm(25, 512)
    assert long.forward_macs * 8 == pytest.approx(short.forward_macs * 32)
    assert V100.layer_time(long, 8, phase, "fp16") > 2 * V100.layer_time(short, 32, phase, "fp16")
    # without the recurrence (the layer as one GEMM over every step) the two are within a few per cent
    flat = [dataclasses.replace(layer, recurrence=None) for layer in (long, short)]
    assert V100.layer_time(flat[0], 8, phase, "fp16") == pytest.approx(V100.layer_time(flat[1], 32, phase, "fp16"),
                                                                       rel=0.35)


def test_every_step_pays_at_least_its_two_kernels_launches():
    layer = _lstm(150, 256)
    floor = 150 * 2 * V100.kernel_overhead_s          # a GEMM and a point-wise kernel per step
    assert V100.layer_time(layer, 1, "forward", "fp32") >= floor
    assert V100.layer_time(layer, 1, "backward", "fp32") >= floor


def test_a_bidirectional_layer_runs_its_directions_side_by_side():
    one, both = _lstm(50, 512), _lstm(50, 512, bidirectional=True)
    assert both.recurrence == (50, 1, 2, 512)
    t1, t2 = (V100.layer_time(layer, 16, "forward", "fp16") for layer in (one, both))
    assert t1 < t2 < 2 * t1   # two GEMMs in one kernel per step, not two steps


def test_a_profile_prices_the_steps_with_its_gemm_table():
    from simtrain.calibration.profile import load_profile
    from simtrain.catalog import resolve

    cm = ComputeModel(V100.device, profile=load_profile(resolve("profiles", "cpu-numba")))
    layer = _lstm(40, 64)
    flat = dataclasses.replace(layer, recurrence=None)
    assert cm.layer_time(layer, 4, "forward", "fp32") > cm.layer_time(flat, 4, "forward", "fp32")


def test_input_projection_false_is_cudnn_skip_input():
    """DeepBench's layers: the input (as wide as the state) enters the gates with no input weights."""
    skip, full = _lstm(25, 256, input_projection=False), _lstm(25, 256)
    assert skip.num_params == 4 * 256 * 256 + 2 * 4 * 256
    assert full.num_params == skip.num_params + 4 * 256 * 256
    assert skip.gemm == (25, 1024, 256) and skip.recurrence == (25, 1, 1, 256)
    with pytest.raises(ConfigError, match="as wide as hidden"):
        single_layer({"tokens": [25, 128]}, {"kind": "lstm", "hidden": 256, "input_projection": False})
    with pytest.raises(ConfigError, match="one layer"):
        _lstm(25, 256, input_projection=False, layers=2)


def test_gru_and_rnn_have_their_gates_and_only_the_pytorch_layout():
    gru = single_layer({"tokens": [10, 32]}, {"kind": "gru", "hidden": 64})
    rnn = single_layer({"tokens": [10, 32]}, {"kind": "rnn", "hidden": 64, "bias": False})
    assert gru.gemm == (10, 3 * 64, 32 + 64) and gru.num_params == 3 * 64 * (32 + 64) + 2 * 3 * 64
    assert rnn.gemm == (10, 64, 32 + 64) and rnn.num_params == 64 * (32 + 64)
    with pytest.raises(ConfigError, match="layout"):
        single_layer({"tokens": [10, 32]}, {"kind": "gru", "hidden": 64, "layout": "tensorflow"})


def test_gnmt_s_recurrent_layers_carry_their_steps():
    """GNMT's LSTMs (TensorFlow layout, input feeding into the bottom decoder layer): every one steps over its 40
    tokens, and the input-fed layer's step multiplies the fed-back attention too."""
    layers = [layer for layer in load_model("gnmt").layers if layer.kind == "lstm"]
    assert len(layers) == 8 and all(layer.recurrence is not None and layer.recurrence[0] == 40 for layer in layers)
    fed = next(layer for layer in layers if "attention" in layer.name)
    assert fed.recurrence == (40, 1, 1, 512 + 512)


def test_torch_s_modules_have_the_tensors_of_the_model_vocabulary():
    torch = pytest.importorskip("torch")
    for kind, module in (("lstm", torch.nn.LSTM(32, 64)), ("gru", torch.nn.GRU(32, 64)),
                         ("rnn", torch.nn.RNN(32, 64))):
        layer = single_layer({"tokens": [10, 32]}, {"kind": kind, "hidden": 64, "name": "m"})
        assert {(t.name, t.shape) for t in layer.tensors} == {
            (f"m.{name}", tuple(p.shape)) for name, p in module.named_parameters()}, kind


def test_a_recurrent_layer_keeps_every_step_for_backward():
    """The memory check counts a recurrent layer's gates and states at every step and stacked layer (cuDNN's
    reserve space), not only its output."""
    from simtrain.model import model_from_dict

    spec = model_from_dict({"name": "x", "input": {"tokens": [100, 1024]},
                            "layers": [{"kind": "lstm", "hidden": 1024, "layers": 4}]})
    layer = spec.layers[0]
    assert layer.output_elements == 100 * 1024
    assert spec.activation_elements == layer.saved_elements == 4 * 100 * (4 * 1024 + 2 * 1024)


def test_low_rank_factors_refuse_a_recurrent_layer():
    from simtrain.lowrank.compute import factor_layers

    with pytest.raises(ValueError, match="recurrent"):
        factor_layers(_lstm(10, 64), "AB", 8)


def test_a_profile_looks_up_each_gemm_in_its_layout_s_table():
    """Forward products in the forward table ("nt"), the input's and state's gradients in "nn" and the weights'
    gradient in "tn", as every other GEMM layer under a profile."""
    from simtrain.calibration.profile import load_profile
    from simtrain.catalog import resolve

    profile = load_profile(resolve("profiles", "cpu-numba"))
    seen = []

    class Recording:
        def __getattr__(self, name):
            return getattr(profile, name)

        def gemm_time(self, m, n, k, dtype, layout):
            seen.append(layout)
            return profile.gemm_time(m, n, k, dtype, layout)

    cm = ComputeModel(V100.device, profile=Recording())
    cm.layer_time(_lstm(5, 32), 2, "forward", "fp32")
    assert set(seen) == {"nt"}
    seen.clear()
    cm.layer_time(_lstm(5, 32), 2, "backward", "fp32")
    assert seen.count("tn") == 1 and set(seen) == {"nn", "tn"}


def test_a_model_file_s_tokens_are_a_length_or_a_length_and_features(tmp_path):
    from simtrain.model import model_from_dict

    for tokens in ("4x8", {"a": 1}, True, 2.5):
        with pytest.raises(ConfigError, match=r"integer length N \(token ids\) or \[length, features\]"):
            model_from_dict({"name": "x", "input": {"tokens": tokens}, "layers": [{"kind": "relu"}]})
    with pytest.raises(ConfigError, match=r"integer length N \(token ids\) or \[length, features\]"):
        model_from_dict({"name": "x", "input": {"tokens": [4, 8, 2]}, "layers": [{"kind": "relu"}]})
