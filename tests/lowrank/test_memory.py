"""Scheme state in memory per GPU, and the optimizers' state and update traffic."""

from __future__ import annotations

import pytest

from simtrain.compression import SchemeContext, make_scheme
from simtrain.compute import OPTIMIZER_STATES as REEXPORTED
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.optimizers import OPTIMIZER_STATES, state_bytes, update_bytes_per_param
from simtrain.run import OPTIMIZERS
from simtrain.training.data_parallel import memory_per_gpu

VGG = load_model("vgg16")


def test_optimizers_state_and_update() -> None:
    assert REEXPORTED is OPTIMIZER_STATES and set(OPTIMIZERS) == set(OPTIMIZER_STATES)
    assert state_bytes("novograd", 1000, 10) == state_bytes("adam", 1000, 10) // 2 + 4 * 10   # half, + 1/layer
    assert update_bytes_per_param("lamb", 4) == update_bytes_per_param("adam", 4) + 8
    assert update_bytes_per_param("lars", 2) == update_bytes_per_param("momentum", 2) + 8
    with pytest.raises(ConfigError):
        state_bytes("rmsprop", 1)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "novograd", "lamb", "lars"])
def test_memory_counts_optimizer_state(optimizer: str) -> None:
    m = memory_per_gpu(VGG, 8, "fp32", optimizer)
    layers = sum(1 for layer in VGG.layers if layer.tensors)
    assert m["optimizer_state"] == state_bytes(optimizer, VGG.num_params, layers)


def test_memory_differs_by_scheme() -> None:
    ctx = SchemeContext(VGG, num_gpus=16, gpus_per_node=4)
    base = memory_per_gpu(VGG, 32, "fp32", "adam")["total"]
    # PowerSGD: residual of every compressed matrix and its P, Q factors
    psgd = make_scheme("powersgd:rank=4")
    compressed = [t for t in VGG.tensors if psgd.compressed(t)]
    extra = 4 * sum(t.numel + 4 * sum(t.matrix_shape) for t in compressed)
    assert memory_per_gpu(VGG, 32, "fp32", "adam", psgd, 16, 4)["total"] == base + extra
    # OIALR after a warm-up: the peak is dense; without one, its steady state is smaller
    assert memory_per_gpu(VGG, 32, "fp32", "adam", "oialr")["total"] == base
    oialr = make_scheme("oialr:warmup=0,rank=8")
    state = oialr.state_bytes(ctx, "adam")
    factorised = oialr.factorised(VGG)
    assert state["S"] == state["S gradients"] == 4 * 64 * len(factorised)
    assert state["S optimizer state"] == 8 * 64 * len(factorised)
    assert memory_per_gpu(VGG, 32, "fp32", "adam", oialr, 16, 4)["total"] == base + sum(state.values()) < base
    # AB-training adds factors on top of W
    ab = memory_per_gpu(VGG, 32, "fp32", "adam", "ab-training:rank=16", 16, 4)
    assert ab["scheme_state"] > 0 and ab["total"] == base + ab["scheme_state"]
    assert memory_per_gpu(VGG, 32, "fp32", "adam", "none")["total"] == base


@pytest.mark.parametrize("scheme, epochs, warned", [
    ("ab-training", 30, True), ("ab-training", 300, False), ("cuttlefish:switch_epoch=40", 30, True),
    ("cuttlefish", 30, False), ("oialr:warmup=2000", 30, True), ("powersgd:start_iter=5000", 30, True),
    ("none", 1, False)])
def test_traffic_warns_when_the_dense_start_outlasts_the_run(scheme: str, epochs: int, warned: bool,
                                                             capsys) -> None:
    import json

    from simtrain.cli import main

    assert main(["traffic", "--model", "vgg16-cifar", "--gpus", "8", "--batch", "128", "--samples-per-epoch",
                 "50000", "--epochs", str(epochs), "--scheme", scheme, "--gpus-per-node", "4", "--json"]) == 0
    out = capsys.readouterr()
    assert ("warning:" in out.err) == warned
    assert ("warnings" in json.loads(out.out)) == warned
