"""Factorised layers priced in `simulate`: the factor GEMMs replace the dense ones after Cuttlefish's switch."""

from __future__ import annotations

import dataclasses

import pytest

from simtrain.compression import SchemeContext, make_scheme
from simtrain.compute import ComputeModel
from simtrain.hardware import get_device
from simtrain.lowrank.compute import factor_layers
from simtrain.model import load_model
from simtrain.run import TrainingRun
from simtrain.training import simulate


def _low_rank_phase(model: str, spec: str):
    ctx = SchemeContext(load_model(model), num_gpus=8)
    return next(p for p in make_scheme(spec).phases(ctx) if p.factorised)


def test_cuttlefish_factorises_what_it_all_reduces_as_factors():
    phase = _low_rank_phase("vgg16-cifar", "cuttlefish:rank=32")
    model = load_model("vgg16-cifar")
    weights = [t.name for t in model.tensors if t.name.endswith(".weight") and t.matrix_shape]
    # the first weight layer and the classifier stay full rank; every 3x3 convolution in between is factorised
    assert weights[0] not in phase.factorised and weights[-1] not in phase.factorised
    assert len(phase.factorised) == 12 and set(phase.factorised.values()) == {("AB", 32)}


@pytest.mark.parametrize("rank", [8, 32, 100])
def test_factor_gemm_flops_equal_the_closed_form(rank):
    # a layer (rows, m, n) at rank r: forward r·n + m·r multiply-adds per output pixel, both factors trained
    model = load_model("vgg16-cifar")
    for layer in model.layers:
        if layer.kind != "conv2d" or layer.name == model.layers[0].name:
            continue
        rows, m, n = layer.gemm
        r = min(rank, m, n)
        subs = factor_layers(layer, "AB", r)
        assert sum(s.forward_macs for s, _ in subs) == rows * r * (m + n)
        assert sum(s.backward_flops for s, trained in subs if trained) == 2 * 2 * rows * r * (m + n)
        assert subs[0][0].gemm == (rows, r, n) and subs[1][0].gemm == (rows, m, r)


def test_oialr_and_ab_training_run_dense_gemms_as_their_code_does():
    # both rebuild W (A·B, U·S·Vᵀ) and run the layer at full size: no factorised phase
    for spec in ("oialr", "ab-training"):
        ctx = SchemeContext(load_model("vgg16-cifar"), num_gpus=8, gpus_per_node=4)
        assert not any(p.factorised for p in make_scheme(spec).phases(ctx))


def _compute(spec: str | None, model: str, cm: ComputeModel, dtype: str = "fp16") -> float:
    run = TrainingRun(model, "dgx-h100", gpus=8, batch=128, dtype=dtype, scheme=spec or "none", compute=cm,
                      check_memory=False)
    report = simulate(run)
    return report.forward_time_s + report.backward_time_s


@pytest.mark.parametrize("fraction", [0.5, 0.25])
def test_rank_r_vgg16_compute_falls_by_the_flop_ratio_when_compute_bound(fraction):
    # a device whose memory and launches cost nothing: every kernel is compute-bound, so the step's compute falls
    # by the GEMM FLOP ratio (up to tile and wave quantisation)
    device = dataclasses.replace(get_device("h100"), memory_bandwidth_Bps=1e18, launch_overhead_s=0.0,
                                 pipeline_stages=0)
    cm = ComputeModel(device)
    spec = f"cuttlefish:rank_fraction={fraction},switch_epoch=0"
    phase = _low_rank_phase("vgg16-cifar", spec)
    model = load_model("vgg16-cifar")
    dense_flops = factor_flops = 0.0
    for layer in model.layers:
        if layer.gemm is None:
            continue
        dense_flops += layer.forward_flops
        how = next((phase.factorised[t.name] for t in layer.tensors if t.name in phase.factorised), None)
        factor_flops += (sum(s.forward_flops for s, _ in factor_layers(layer, *how)) if how
                         else layer.forward_flops)
    expected = factor_flops / dense_flops
    assert expected < 0.6
    ratio = _compute(spec, "vgg16-cifar", cm) / _compute(None, "vgg16-cifar", cm)
    assert ratio == pytest.approx(expected, rel=0.06)


def test_step_time_drops_with_the_roofline_and_a_calibrated_table():
    for cm in (ComputeModel.roofline("h100"), ComputeModel.from_profile("cpu-numba")):
        dense = _compute(None, "vgg16-cifar", cm, "fp32")
        low = _compute("cuttlefish:rank_fraction=0.25", "vgg16-cifar", cm, "fp32")
        oialr = _compute("oialr", "vgg16-cifar", cm, "fp32")
        assert low < 0.8 * dense
        assert oialr == pytest.approx(dense)


def test_report_means_compute_over_the_period():
    # AB-training's phases all run dense: its compute equals none's; Cuttlefish's step is cheaper than none's
    base = simulate("vgg16-cifar", "dgx-a100", gpus=8, batch=128)
    cut = simulate("vgg16-cifar", "dgx-a100", gpus=8, batch=128, scheme="cuttlefish:rank_fraction=0.25")
    assert cut.step_time_s < base.step_time_s
    assert cut.compute_time_s < base.compute_time_s
    assert cut.timeline is not None


def test_the_des_engine_prices_the_factorised_phase_alike():
    common = dict(gpus=8, batch=128, scheme="cuttlefish:rank_fraction=0.25")
    analytical = simulate("vgg16-cifar", "dgx-a100", **common)
    des = simulate("vgg16-cifar", "dgx-a100", engine="des", **common)
    dense = simulate("vgg16-cifar", "dgx-a100", engine="des", gpus=8, batch=128)
    assert des.compute_time_s == pytest.approx(analytical.compute_time_s)
    assert des.step_time_s < dense.step_time_s
