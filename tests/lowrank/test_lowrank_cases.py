"""AB-training's figures on VGG16/CIFAR-10 as `simtrain validate` counts them (simtrain/validation/lowrank_cases)."""

from __future__ import annotations

import math

import pytest

from simtrain.compression import SchemeContext, make_scheme
from simtrain.model import load_model
from simtrain.validation import CASES, run_cases
from simtrain.validation.lowrank_cases import AB_VGG16


def test_cases_are_registered_as_held_out_tests():
    for name in ("ab-training-vgg16-cifar-traffic-reduction", "ab-training-vgg16-cifar-compression"):
        case = CASES.get(name)
        assert case.role == "test" and case.tag == "[V]" and case.command and case.gap


def test_compression_ratio_is_the_parameter_count_ratio_of_the_authors_code():
    # get_network_compression: factorised layers count r(m + n), every other tensor its size
    model = load_model("vgg16-cifar")
    scheme = make_scheme(AB_VGG16)
    factorised = scheme.factorised(model)
    names = {t.name for t in factorised}
    assert len(factorised) == 12   # 14 weight layers (13 convolutions, the classifier); the first and last kept
    current = sum(math.ceil(0.1 * min(t.matrix_shape)) * sum(t.matrix_shape) for t in factorised)
    ranks, _ = scheme.ranks(SchemeContext(model, 8, 4), factorised)
    assert current == sum(ranks.rank_of(t) * sum(t.matrix_shape) for t in factorised)
    current += sum(t.numel for t in model.tensors if t.name not in names)
    row = run_cases(["ab-training-vgg16-cifar-compression"])[0]
    assert row.simulated == pytest.approx(model.num_params / current, rel=1e-12)


def test_traffic_reduction_is_bounded_by_the_full_rank_steps():
    # 7,200 steps: warm-up 4,330, three whole cycles of 759 with 60 rebound steps, then 593 AB steps
    full_rank = 4330 + 3 * 60
    row = run_cases(["ab-training-vgg16-cifar-traffic-reduction"])[0]
    assert 0 < row.simulated < 100 * (1 - full_rank / 7200)
    assert row.simulated > 0.85 * 100 * (1 - full_rank / 7200)   # the AB steps send a small part of the gradient
