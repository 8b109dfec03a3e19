"""The optimizer step of a factorising scheme is priced on the parameters it trains in each phase (the factors),
not on the dense model; dense phases keep the dense update."""

from __future__ import annotations

import pytest

from simtrain.compression import SchemeContext, make_scheme
from simtrain.compression.lowrank import weight_matrices
from simtrain.compute import ComputeModel
from simtrain.hardware import get_device
from simtrain.model import load_model
from simtrain.run import TrainingRun
from simtrain.training import simulate
from simtrain.training.data_parallel import plan, resolve

MODEL = "vgg16-cifar"


def _phases(spec: str) -> dict:
    ctx = SchemeContext(load_model(MODEL), num_gpus=8, gpus_per_node=4)
    return {p.name: p for p in make_scheme(spec).phases(ctx)}


def _closed_form(spec: str, per_layer) -> int:
    """Every value of the model, less each factorised weight's size, plus what ``per_layer(r, m, n)`` trains."""
    model = load_model(MODEL)
    scheme = make_scheme(spec)
    ctx = SchemeContext(model, num_gpus=8, gpus_per_node=4)
    ranks, factorised = scheme.ranks(ctx, scheme.factorised(model))
    total = model.num_params
    for t in factorised:
        m, n = t.matrix_shape
        total += per_layer(ranks.rank_of(t), m, n) - m * n
    return total


@pytest.mark.parametrize(("spec", "phase", "per_layer"), [
    ("cuttlefish:rank=16", "low-rank", lambda r, m, n: r * (m + n)),
    ("oialr:rank=16", "low-rank", lambda r, m, n: r * r),
    ("oialr:rank=16", "rank update", lambda r, m, n: r * r),
    ("ab-training:rank=16", "ab", lambda r, m, n: r * max(m, n)),
    ("ab-training:rank=16,sync_mode=only-b", "ab", lambda r, m, n: r * n),
])
def test_factorised_phases_train_their_factors(spec, phase, per_layer):
    model = load_model(MODEL)
    trained = _phases(spec)[phase].updated_params(model.tensors)
    assert trained == _closed_form(spec, per_layer)
    assert trained < model.num_params


@pytest.mark.parametrize(("spec", "phase"), [("cuttlefish", "full-rank"), ("oialr", "full-rank"),
                                             ("ab-training", "full-rank"), ("powersgd:rank=4", "compressed")])
def test_dense_phases_train_every_value(spec, phase):
    model = load_model(MODEL)
    assert _phases(spec)[phase].updated_params(model.tensors) == model.num_params


def _run(spec: str, optimizer: str = "adam") -> TrainingRun:
    return TrainingRun(MODEL, "dgx-h100", gpus=8, batch=64, scheme=spec, optimizer=optimizer, check_memory=False)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "lamb"])
def test_step_plan_prices_each_phase_update_on_its_parameters(optimizer):
    spec = "cuttlefish:rank=16,switch_epoch=0"
    step = plan(resolve(_run(spec, optimizer)))
    cm = ComputeModel.roofline(get_device("h100"))
    factors = _closed_form(spec, lambda r, m, n: r * (m + n))
    assert step.update_of("low-rank") == pytest.approx(cm.update_time(factors, "fp32", optimizer))
    assert step.update_time == pytest.approx(cm.update_time(load_model(MODEL).num_params, "fp32", optimizer))
    assert step.update_of("low-rank") < step.update_time


def test_report_update_is_the_mean_over_the_period():
    # OIALR's period: 499 low-rank steps and one rank update, both training S only
    low = simulate(_run("oialr:warmup=0,rank=16"))
    dense = simulate(_run("none"))
    assert low.update_time_s < dense.update_time_s
    step = plan(resolve(_run("oialr:warmup=0,rank=16")))
    assert low.update_time_s == pytest.approx(step.update_of("low-rank"))
    # AB-training's period mixes full-rank rebound steps (dense update) and AB steps (one factor)
    ab = simulate(_run("ab-training:warmup=0,rank=16,sync_every=100,rebound=50"))
    step = plan(resolve(_run("ab-training:warmup=0,rank=16,sync_every=100,rebound=50")))
    expected = (49 * step.update_of("ab") + step.update_of("sync") + 50 * step.update_time) / 100
    assert ab.update_time_s == pytest.approx(expected)


def test_vgg16_weights_are_what_the_schemes_factorise():
    # the closed forms above walk the scheme's own factorised set; it must be a subset of the weight matrices
    names = {t.name for t in weight_matrices(load_model(MODEL))}
    for spec in ("cuttlefish", "oialr", "ab-training"):
        assert {t.name for t in make_scheme(spec).factorised(load_model(MODEL))} <= names
