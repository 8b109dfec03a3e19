"""Cuttlefish's layer choice as the authors' code makes it (hwang595/Cuttlefish, [C]) and what its rank floors
bound: the model-size reduction its ImageNet runs can reach at most (docs/lowrank.md, "Cuttlefish's model-size
reduction")."""

from __future__ import annotations

import pytest

from simtrain.compression import SchemeContext, make_scheme
from simtrain.compression.lowrank import weight_matrices
from simtrain.model import load_model

# main.py, name_layers_to_factorize for --arch resnet18 (CIFAR-10)
RESNET18_CODE = [f"{name}.weight" for name in (
    "layer2.1.conv1", "layer2.1.conv2", "layer3.0.conv1", "layer3.0.conv2", "layer3.1.conv1", "layer3.1.conv2",
    "layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2")]
# cuttlefish_imagenet_training.py, PREDEFINED_FACTORIZATION_LAYERS (ResNet-50), without the DDP "module." prefix
RESNET50_CODE = {f"{name}.weight" for name in (
    "layer4.0.downsample.0", "layer4.0.conv1", "layer4.0.conv2", "layer4.0.conv3", "layer4.1.conv1",
    "layer4.1.conv2", "layer4.1.conv3", "layer4.2.conv1", "layer4.2.conv2", "layer4.2.conv3")}


def _held(model: str, spec: str, ranks: dict[str, int]) -> int:
    """Parameters the model holds after Cuttlefish's switch at ``ranks``."""
    m = load_model(model)
    scheme = make_scheme(spec).with_ranks(ranks)
    phase = next(p for p in scheme.phases(SchemeContext(m, num_gpus=8)) if p.name == "low-rank")
    return phase.updated_params(m.tensors)


def test_keep_first_7_is_the_codes_resnet18_cifar_cut():
    factorised = make_scheme("cuttlefish:keep_first=7").factorised(load_model("resnet18-cifar"))
    assert [t.name for t in factorised] == RESNET18_CODE


def test_pointwise_reproduces_the_codes_resnet50_choice():
    model = load_model("resnet50")
    weights = weight_matrices(model)
    first = next(i for i, t in enumerate(weights) if t.name.startswith("layer4."))
    chosen = make_scheme(f"cuttlefish:keep_first={first},pointwise=true").factorised(model)
    assert {t.name for t in chosen} == RESNET50_CODE
    # without pointwise, the 1x1 convolutions (and the downsample) stay full rank
    plain = {t.name for t in make_scheme(f"cuttlefish:keep_first={first}").factorised(model)}
    assert plain == {"layer4.0.conv2.weight", "layer4.1.conv2.weight", "layer4.2.conv2.weight"}


@pytest.mark.parametrize(("model", "spec", "select", "floor", "most"), [
    # ImageNet ResNet-50: layer4 only, ranks at least int(full / 5) (rank_estimation's __rr_lower_bound = 1/5)
    ("resnet50", "cuttlefish:keep_first=43,pointwise=true", lambda t: t.name in RESNET50_CODE, 0.2, 1.80),
    # DeiT-base (ViT-B/16 shapes): every block's qkv and MLP, ranks at least int(full / 2) (cuttlefish_deit)
    ("vit-b16", "cuttlefish", lambda t: "in_proj" in t.name or ".mlp." in t.name, 0.5, 1.49),
])
def test_rank_floors_bound_the_imagenet_reduction_below_the_abstracts_5_6x(model, spec, select, floor, most):
    m = load_model(model)
    ranks = {t.name: int(min(t.matrix_shape) * floor) for t in weight_matrices(m) if select(t)}
    held = _held(model, spec, ranks)
    closed = m.num_params - sum(t.numel - ranks[t.name] * sum(t.matrix_shape) for t in weight_matrices(m)
                                if t.name in ranks)
    assert held == closed
    assert m.num_params / held < most < 5.6


def test_higher_ranks_hold_more_parameters():
    m = load_model("resnet18-cifar")
    low = _held("resnet18-cifar", "cuttlefish:keep_first=7", dict.fromkeys(RESNET18_CODE, 8))
    high = _held("resnet18-cifar", "cuttlefish:keep_first=7", dict.fromkeys(RESNET18_CODE, 64))
    assert low < high < m.num_params
