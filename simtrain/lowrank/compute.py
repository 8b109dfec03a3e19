"""Compute of factorised layers: a factorised layer's forward and backward are its factor GEMMs.

A weight layer with GEMM ``(rows, m, n)`` per sample (rows of its im2col or tokens, m outputs, n inputs) costs,
through :meth:`simtrain.compute.ComputeModel.layer_time` (roofline or calibrated GEMM table alike):

``dense``
    the layer itself.
``AB`` at rank r (Cuttlefish, AB-training's forward as Pufferfish/Cuttlefish run it: x·Bᵀ then ·Aᵀ)
    two layers, ``(rows, r, n)`` and ``(rows, m, r)``, each with its forward and full backward (both trained).
``USV`` at rank k (OIALR run as three products: x·V, ·Sᵀ, ·Uᵀ)
    three layers ``(rows, k, n)``, ``(rows, k, k)``, ``(rows, m, k)``; U and V are frozen, so their backward is
    the input-gradient product only, priced as a forward of the same FLOPs; S's backward is a full backward.

The kernels of :mod:`simtrain.calibration` run these very products, so a calibrated profile prices exactly what
:mod:`simtrain.lowrank.train` measures.

Examples
--------
>>> from simtrain.compute import ComputeModel
>>> from simtrain.lowrank.nets import model_spec
>>> cm = ComputeModel.roofline("cpu")
>>> fc1 = [l for l in model_spec("cnn-digits").layers if l.name == "fc1"][0]
>>> dense = layer_time(cm, fc1, None, 32, "forward")
>>> low = layer_time(cm, fc1, ("AB", 8), 32, "forward")
>>> low < dense
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from simtrain.compute import ComputeModel
from simtrain.model.spec import Layer, ModelSpec, Tensor

__all__ = ["factor_layers", "layer_time", "step_compute_time"]

#: A layer's parametrisation: None (dense) or (kind, rank) with kind "AB" or "USV".
Factorisation = tuple[str, int] | None


def factor_layers(layer: Layer, kind: str, rank: int) -> list[tuple[Layer, bool]]:
    """The products a factorised ``layer`` runs, in forward order, each with whether its factor is trained.

    Examples
    --------
    >>> from simtrain.lowrank.nets import model_spec
    >>> fc1 = [l for l in model_spec("cnn-digits").layers if l.name == "fc1"][0]
    >>> [(l.gemm, trained) for l, trained in factor_layers(fc1, "USV", 4)]
    [((1, 4, 256), False), ((1, 4, 4), True), ((1, 128, 4), False)]
    """
    if layer.gemm is None:
        raise ValueError(f"layer {layer.name} has no GEMM to factorise")
    rows, m, n = layer.gemm
    dims = [(n, rank, "B"), (rank, m, "A")] if kind == "AB" else [(n, rank, "V"), (rank, rank, "S"), (rank, m, "U")]
    out = []
    for index, (inner, cols, part) in enumerate(dims):
        # the first factor reads the layer's own input (a k×k convolution stays one: Winograd where it applies)
        sub = dataclasses.replace(
            layer, name=f"{layer.name}:{part}", tensors=(Tensor(f"{layer.name}:{part}", (cols, inner)),),
            forward_macs=float(rows * cols * inner), output_elements=rows * cols, gemm=(rows, cols, inner),
            input_elements=layer.input_elements if index == 0 else rows * inner)
        out.append((sub, kind == "AB" or part == "S"))
    return out


def layer_time(cm: ComputeModel, layer: Layer, factorisation: Factorisation, batch: int, phase: str,
               dtype: str = "fp32") -> float:
    """Seconds of ``phase`` of ``layer`` at ``batch`` in its parametrisation (see the module docstring)."""
    if factorisation is None:
        return cm.layer_time(layer, batch, phase, dtype)
    total = 0.0
    for sub, trained in factor_layers(layer, *factorisation):
        total += cm.layer_time(sub, batch, phase if trained else "forward", dtype)
    return total


def step_compute_time(cm: ComputeModel, model: ModelSpec, factorised: Mapping[str, Factorisation], batch: int,
                      dtype: str = "fp32") -> float:
    """Forward plus backward seconds of one step of ``model`` with some weights factorised.

    Parameters
    ----------
    factorised : mapping
        Weight tensor name (``fc1.weight``) → ``("AB", r)`` or ``("USV", k)``; others are dense.

    Examples
    --------
    >>> from simtrain.lowrank.nets import model_spec
    >>> cm = ComputeModel.roofline("cpu")
    >>> spec = model_spec("cnn-digits")
    >>> step_compute_time(cm, spec, {"fc1.weight": ("AB", 4)}, 32) < step_compute_time(cm, spec, {}, 32)
    True
    """
    total = 0.0
    for layer in model.layers:
        weight = next((t.name for t in layer.tensors if t.name.endswith(".weight") and t.matrix_shape), None)
        how = factorised.get(weight) if weight is not None and layer.gemm is not None else None
        for phase in ("forward", "backward"):
            total += layer_time(cm, layer, how, batch, phase, dtype)
    return total
