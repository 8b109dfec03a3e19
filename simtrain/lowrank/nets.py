"""The two models :mod:`simtrain.lowrank.train` trains, written out with explicit GEMMs on the calibrated kernels.

``cnn-digits``
    A small VGG-style CNN on 16 × 16 digits: three 3 × 3 convolutions (16, 32, 64 channels, ReLU, 2 × 2 max-pool
    after each), then ``fc1`` (256 → 128, ReLU) and ``fc2`` (128 → 10).
``transformer-digits``
    A small pre-LayerNorm Transformer over the 16 rows of pixels: ``embed`` (16 → 64), a class token, a learned
    position embedding, two encoder blocks (LayerNorm, packed Q/K/V projection, 4-head attention, output
    projection, residual; LayerNorm, MLP 64 → 128 → 64 with ReLU, residual), a final LayerNorm and ``head`` on the
    class token.

Each model is also a :class:`~simtrain.model.ModelSpec` (:func:`model_spec`), with exactly the tensors the
numeric model trains (names, shapes), so the traffic model and the compute model price the very layers trained.

Every weight layer (a convolution through its im2col rows, or a linear layer) is one of three parametrisations:
dense ``W`` (m × n), low-rank ``W = A·B`` (A m × r, B r × n, both trained) or OIALR's ``W = U·S·Vᵀ`` (only S
trained). Forward and backward are the factor GEMMs of :mod:`simtrain.calibration.kernels_numpy` (same order,
same layouts: ``nt`` a·bᵀ, ``nn`` a·b, ``tn`` aᵀ·b), run by a :class:`Backend`: ``numba`` calls the compiled
products of :mod:`simtrain.calibration._kernels_numba` that ``simtrain calibrate`` times (BLAS, or explicit loops
for small skinny products by the same rule), ``torch`` the torch matmuls of the torch kernels (CUDA when there).
Element-wise work (im2col, pooling, LayerNorm, softmax, the attention's batched per-head products) is NumPy.
Convolution weights are stored in their 2-D view with columns ordered (kh, kw, C_in) — images are NHWC — a column
permutation of PyTorch's (C_in, kh, kw) that changes neither the shape count nor any singular value.

Examples
--------
>>> net = Net("cnn-digits", Backend("numba"), seed=0)
>>> sorted(net.weight_names)
['conv1.weight', 'conv2.weight', 'conv3.weight', 'fc1.weight', 'fc2.weight']
>>> x = np.zeros((2, 16, 16), dtype=np.float32)
>>> net.loss_and_grads(x, np.array([1, 2]))[0] > 0
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.model import ModelSpec, Tensor, model_from_dict

__all__ = ["BACKENDS", "MODELS", "Backend", "Net", "Params", "model_spec", "softmax_cross_entropy", "weight_shapes"]

#: Models :class:`Net` builds.
MODELS = ("cnn-digits", "transformer-digits")
#: GEMM backends.
BACKENDS = ("numba", "torch")

_D, _HEADS, _MLP, _BLOCKS = 64, 4, 128, 2


def _block_layers(i: int) -> list[dict[str, Any]]:
    p = f"blocks.{i}"
    return [
        {"residual": {"main": [
            {"kind": "layernorm", "name": f"{p}.ln_1"},
            {"kind": "linear", "name": f"{p}.in_proj", "out": 3 * _D},
            {"kind": "attention", "name": f"{p}.attn", "heads": _HEADS, "packed": True},
            {"kind": "linear", "name": f"{p}.out_proj", "out": _D}], "shortcut": []}},
        {"residual": {"main": [
            {"kind": "layernorm", "name": f"{p}.ln_2"},
            {"kind": "linear", "name": f"{p}.mlp.0", "out": _MLP},
            {"kind": "relu", "name": f"{p}.mlp.1"},
            {"kind": "linear", "name": f"{p}.mlp.2", "out": _D}], "shortcut": []}},
    ]


def _is_weight_matrix(t: Tensor) -> bool:
    """A conv or linear weight, which the low-rank schemes factorise and whose spectrum a run records."""
    return t.name.endswith(".weight") and t.matrix_shape is not None


def weight_shapes(name: str) -> dict[str, tuple[int, int]]:
    """Model ``name``'s weight matrices (conv and linear), in forward order, as their 2-D views ``(m, n)``: what
    :attr:`Net.shapes` holds, without building the network.

    Examples
    --------
    >>> weight_shapes("cnn-digits") == Net("cnn-digits", Backend("numba")).shapes
    True
    """
    if name not in MODELS:
        raise ConfigError("unknown model", key="model", value=name, choices=list(MODELS))
    return {t.name: t.matrix_shape for t in model_spec(name).tensors if _is_weight_matrix(t) and t.matrix_shape}


@functools.cache
def model_spec(name: str) -> ModelSpec:
    """The :class:`~simtrain.model.ModelSpec` of model ``name`` (one of :data:`MODELS`).

    Examples
    --------
    >>> model_spec("cnn-digits").num_params, model_spec("transformer-digits").num_params
    (57482, 69962)
    """
    if name == "cnn-digits":
        conv = [({"kind": "conv2d", "name": f"conv{i + 1}", "out": c, "kernel": 3, "padding": 1},
                 {"kind": "relu", "name": f"relu{i + 1}"}, {"kind": "maxpool2d", "name": f"pool{i + 1}", "kernel": 2})
                for i, c in enumerate((16, 32, 64))]
        return model_from_dict({
            "name": name, "input": {"image": [1, 16, 16]},
            "layers": [layer for triple in conv for layer in triple] + [
                {"kind": "flatten", "name": "flatten"},
                {"kind": "linear", "name": "fc1", "out": 128}, {"kind": "relu", "name": "relu4"},
                {"kind": "linear", "name": "fc2", "out": 10}]})
    if name == "transformer-digits":
        # the image as 16 channels x 16 rows x 1 column: patch_tokens then makes one token per row of pixels
        return model_from_dict({
            "name": name, "input": {"image": [16, 16, 1]},
            "layers": [{"kind": "patch_tokens", "name": "rows"}, {"kind": "linear", "name": "embed", "out": _D},
                       {"kind": "class_token", "name": "cls"}, {"kind": "position_embedding", "name": "pos"},
                       *[layer for i in range(_BLOCKS) for layer in _block_layers(i)],
                       {"kind": "layernorm", "name": "ln"}, {"kind": "select_token", "name": "token", "index": 0},
                       {"kind": "linear", "name": "head", "out": 10}]})
    raise ConfigError("unknown model", key="model", value=name, choices=list(MODELS))


# --------------------------------------------------------------------------------------------- GEMM backends


class Backend:
    """The three GEMM layouts of the calibrated kernels: ``nt`` a·bᵀ, ``nn`` a·b, ``tn`` aᵀ·b.

    Parameters
    ----------
    name : str
        ``numba`` (the compiled products of the numba kernels) or ``torch`` (torch matmuls; on CUDA when torch sees
        a GPU, arrays copied to and from the device per product).

    Examples
    --------
    >>> b = Backend("numba")
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> b.nt(a, a).tolist()
    [[5.0, 14.0], [14.0, 50.0]]
    """

    def __init__(self, name: str = "numba") -> None:
        if name not in BACKENDS:
            raise ConfigError("unknown backend", key="backend", value=name, choices=list(BACKENDS))
        self.name = name
        self.device = "cpu"
        self._nt: Callable[[np.ndarray, np.ndarray], np.ndarray]
        self._nn: Callable[[np.ndarray, np.ndarray], np.ndarray]
        self._tn: Callable[[np.ndarray, np.ndarray], np.ndarray]
        if name == "numba":
            from simtrain.calibration import _kernels_numba as k

            self._nt, self._nn, self._tn = k._a_bt, k._a_b, k._at_b
        else:
            try:
                import torch
            except ImportError as exc:
                raise ConfigError("needs PyTorch (pip install simtrain[torch])", key="backend",
                                  value=name, choices=["numba"]) from exc
            dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            self.device = dev.type

            def wrap(op: Callable[[Any, Any], Any]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
                def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
                    out = op(torch.from_numpy(a).to(dev), torch.from_numpy(b).to(dev))
                    return np.asarray(out.cpu().numpy())
                return run

            self._nt = wrap(lambda a, b: a @ b.T)
            self._nn = wrap(lambda a, b: a @ b)
            self._tn = wrap(lambda a, b: a.T @ b)

    def nt(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """a · bᵀ."""
        return self._nt(np.ascontiguousarray(a), np.ascontiguousarray(b))

    def nn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """a · b."""
        return self._nn(np.ascontiguousarray(a), np.ascontiguousarray(b))

    def tn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """aᵀ · b."""
        return self._tn(np.ascontiguousarray(a), np.ascontiguousarray(b))


# --------------------------------------------------------------------------------------------- parameters


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of a batch and its gradient with respect to the logits (in their dtype).

    Examples
    --------
    >>> loss, g = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(loss, 4), float(g.sum())
    (1.3863, 0.0)
    """
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    loss = float(-logp[rows, labels].mean())
    g = np.exp(logp)
    g[rows, labels] -= 1.0
    return loss, (g / len(labels)).astype(logits.dtype)


@dataclass
class Params:
    """Dense tensors by name, and the factors of factorised weights (``{"A", "B"}`` or ``{"U", "S", "V"}``)."""

    dense: dict[str, np.ndarray]
    factors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def weight(self, name: str) -> np.ndarray:
        """The effective 2-D weight: dense, ``A·B`` or ``U·S·Vᵀ``."""
        if name in self.dense:
            return self.dense[name]
        f = self.factors[name]
        return f["A"] @ f["B"] if "A" in f else f["U"] @ f["S"] @ f["V"].T

    def trained(self) -> dict[str, np.ndarray]:
        """Every trained array by key: ``name``, or ``name:A``, ``name:B``, ``name:S`` (U and V are frozen)."""
        out = dict(self.dense)
        for name, f in self.factors.items():
            for part in ("A", "B") if "A" in f else ("S",):
                out[f"{name}:{part}"] = f[part]
        return out

    def get(self, key: str) -> np.ndarray:
        name, _, part = key.partition(":")
        return self.factors[name][part] if part else self.dense[name]

    def set(self, key: str, value: np.ndarray) -> None:
        name, _, part = key.partition(":")
        if part:
            self.factors[name][part] = value
        else:
            self.dense[name] = value


# --------------------------------------------------------------------------------------------- layers


class _Ctx:
    """What a forward pass keeps for the backward pass (one list of per-op caches)."""

    def __init__(self) -> None:
        self.caches: list[Any] = []


def _gemm_forward(be: Backend, p: Params, name: str, x: np.ndarray) -> tuple[np.ndarray, Any]:
    """y = x·Wᵀ for rows ``x`` (rows × n), in the layer's parametrisation."""
    if name in p.dense:
        return be.nt(x, p.dense[name]), (x,)
    f = p.factors[name]
    if "A" in f:
        h = be.nt(x, f["B"])
        return be.nt(h, f["A"]), (x, h)
    h1 = be.nn(x, f["V"])
    h2 = be.nt(h1, f["S"])
    return be.nt(h2, f["U"]), (x, h1)


def _gemm_backward(be: Backend, p: Params, name: str, g: np.ndarray, cache: Any,
                   grads: dict[str, np.ndarray], need_dx: bool = True) -> np.ndarray | None:
    """Gradients of the layer's trained arrays into ``grads``; returns dx (the kernels' order of products)."""
    if name in p.dense:
        (x,) = cache
        grads[name] = be.tn(g, x)
        return be.nn(g, p.dense[name]) if need_dx else None
    f = p.factors[name]
    if "A" in f:
        x, h = cache
        grads[f"{name}:A"] = be.tn(g, h)
        dh = be.nn(g, f["A"])
        grads[f"{name}:B"] = be.tn(dh, x)
        return be.nn(dh, f["B"]) if need_dx else None
    x, h1 = cache
    dh2 = be.nn(g, f["U"])
    grads[f"{name}:S"] = be.tn(dh2, h1)
    return be.nt(be.nn(dh2, f["S"]), f["V"]) if need_dx else None


def _im2col(x: np.ndarray) -> np.ndarray:
    """NHWC ``x`` → rows (B·H·W) × (3·3·C) of 3 × 3 patches, zero padding 1."""
    b, h, w, c = x.shape
    xp = np.zeros((b, h + 2, w + 2, c), dtype=x.dtype)   # zero padding 1 (np.pad costs more than the copy here)
    xp[:, 1:-1, 1:-1, :] = x
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))  # B, H, W, C, 3, 3
    return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(b * h * w, 9 * c)


def _col2im(cols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    b, h, w, c = shape
    patches = cols.reshape(b, h, w, 3, 3, c)
    out = np.zeros((b, h + 2, w + 2, c), dtype=cols.dtype)
    for i in range(3):
        for j in range(3):
            out[:, i:i + h, j:j + w, :] += patches[:, :, :, i, j, :]
    return out[:, 1:-1, 1:-1, :]


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, Any]:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    inv = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + 1e-5)
    xhat = xc * inv
    return xhat * gamma + beta, (xhat, inv)


def _layernorm_backward(dy: np.ndarray, cache: Any, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xhat, inv = cache
    axes = tuple(range(dy.ndim - 1))
    dgamma = (dy * xhat).sum(axis=axes)
    dbeta = dy.sum(axis=axes)
    dxhat = dy * gamma
    dx = inv * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------------------------- the networks


class Net:
    """A trainable model: its parameters and explicit forward/backward passes.

    Parameters
    ----------
    name : str
        ``cnn-digits`` or ``transformer-digits``.
    backend : Backend
        Runs the weight layers' GEMMs.
    seed : int
        Initialisation (He-normal weights, zero biases, unit LayerNorm scales, N(0, 0.02) tokens).

    Attributes
    ----------
    spec : ModelSpec
    params : Params
    weight_names : list of str
        The weight matrices (conv and linear), in forward order.
    shapes : dict
        Weight name → its 2-D view (m, n).
    """

    def __init__(self, name: str, backend: Backend, seed: int = 0) -> None:
        self.name = name
        self.spec = model_spec(name)
        self.backend = backend
        rng = np.random.default_rng(seed)
        dense: dict[str, np.ndarray] = {}
        self.weight_names: list[str] = []
        self.shapes: dict[str, tuple[int, int]] = {}
        for t in self.spec.tensors:
            if _is_weight_matrix(t) and t.matrix_shape is not None:
                m, n = t.matrix_shape
                self.weight_names.append(t.name)
                self.shapes[t.name] = (m, n)
                dense[t.name] = rng.normal(0.0, math.sqrt(2.0 / n), size=(m, n))
            elif t.name.endswith("ln_1.weight") or t.name.endswith("ln_2.weight") or t.name == "ln.weight":
                dense[t.name] = np.ones(t.shape)
            elif t.name in ("cls", "pos"):
                dense[t.name] = rng.normal(0.0, 0.02, size=t.shape)
            else:
                dense[t.name] = np.zeros(t.shape)
        self.params = Params({k: v.astype(np.float32) for k, v in dense.items()})

    # -- passes -----------------------------------------------------------------------------------------------
    def logits(self, x: np.ndarray, ctx: _Ctx | None = None) -> np.ndarray:
        """Forward pass of a batch of images (B × 16 × 16)."""
        if self.name == "cnn-digits":
            return self._cnn_forward(x, ctx)
        return self._transformer_forward(x, ctx)

    def loss_and_grads(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean softmax cross-entropy and the gradient of every trained array (keys of :meth:`Params.trained`)."""
        ctx = _Ctx()
        loss, g = softmax_cross_entropy(self.logits(x, ctx), labels)
        grads: dict[str, np.ndarray] = {}
        if self.name == "cnn-digits":
            self._cnn_backward(g, ctx, grads)
        else:
            self._transformer_backward(g, ctx, grads)
        return loss, grads

    # -- CNN --------------------------------------------------------------------------------------------------
    def _cnn_forward(self, x: np.ndarray, ctx: _Ctx | None) -> np.ndarray:
        be, p = self.backend, self.params
        a = x[..., None]  # NHWC, one channel
        for i in (1, 2, 3):
            name = f"conv{i}.weight"
            b, h, w, _ = a.shape
            cols = _im2col(a)
            y, cache = _gemm_forward(be, p, name, cols)
            y = np.maximum(y + p.dense[f"conv{i}.bias"], 0.0).reshape(b, h, w, -1)
            pooled = y.reshape(b, h // 2, 2, w // 2, 2, y.shape[-1]).max(axis=(2, 4))
            if ctx is not None:
                ctx.caches.append((a.shape, cache, y, pooled))
            a = pooled
        flat = a.reshape(a.shape[0], -1)
        h1, c1 = _gemm_forward(be, p, "fc1.weight", flat)
        h1 = np.maximum(h1 + p.dense["fc1.bias"], 0.0)
        out, c2 = _gemm_forward(be, p, "fc2.weight", h1)
        if ctx is not None:
            ctx.caches.append((a.shape, c1, h1, c2))
        return out + p.dense["fc2.bias"]

    def _cnn_backward(self, g: np.ndarray, ctx: _Ctx, grads: dict[str, np.ndarray]) -> None:
        be, p = self.backend, self.params
        shape, c1, h1, c2 = ctx.caches[-1]
        grads["fc2.bias"] = g.sum(axis=0)
        dh1 = _gemm_backward(be, p, "fc2.weight", g, c2, grads)
        assert dh1 is not None
        dh1 = dh1 * (h1 > 0)
        grads["fc1.bias"] = dh1.sum(axis=0)
        da = _gemm_backward(be, p, "fc1.weight", dh1, c1, grads)
        assert da is not None
        da = da.reshape(shape)
        for i in (3, 2, 1):
            in_shape, cache, y, pooled = ctx.caches[i - 1]
            b, h, w, c = y.shape
            # max-pool and ReLU: the gradient goes to the maximum of each 2 x 2 window if it is positive (a mask
            # against the pooled output, no arg-max; a tie between positive values does not occur with real data)
            win = y.reshape(b, h // 2, 2, w // 2, 2, c)
            top = pooled[:, :, None, :, None, :]
            dy = (da[:, :, None, :, None, :] * ((win == top) & (top > 0))).reshape(b * h * w, c)
            grads[f"conv{i}.bias"] = dy.sum(axis=0)
            dcols = _gemm_backward(be, p, f"conv{i}.weight", dy, cache, grads, need_dx=i > 1)
            if dcols is not None:
                da = _col2im(dcols, in_shape)

    # -- Transformer ------------------------------------------------------------------------------------------
    def _transformer_forward(self, x: np.ndarray, ctx: _Ctx | None) -> np.ndarray:
        be, p = self.backend, self.params
        b, rows, width = x.shape
        e, ce = _gemm_forward(be, p, "embed.weight", x.reshape(b * rows, width))
        e = (e + p.dense["embed.bias"]).reshape(b, rows, _D)
        tokens = np.concatenate([np.broadcast_to(p.dense["cls"], (b, 1, _D)), e], axis=1) + p.dense["pos"]
        caches: list[Any] = [ce]
        length = rows + 1
        dh = _D // _HEADS
        for i in range(_BLOCKS):
            pre = f"blocks.{i}"
            n1, cn1 = _layernorm(tokens, p.dense[f"{pre}.ln_1.weight"], p.dense[f"{pre}.ln_1.bias"])
            qkv, cq = _gemm_forward(be, p, f"{pre}.in_proj.weight", n1.reshape(b * length, _D))
            qkv = (qkv + p.dense[f"{pre}.in_proj.bias"]).reshape(b, length, 3, _HEADS, dh).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attn = scores / scores.sum(axis=-1, keepdims=True)
            heads = (attn @ v).transpose(0, 2, 1, 3).reshape(b * length, _D)
            o, co = _gemm_forward(be, p, f"{pre}.out_proj.weight", heads)
            tokens = tokens + (o + p.dense[f"{pre}.out_proj.bias"]).reshape(b, length, _D)
            n2, cn2 = _layernorm(tokens, p.dense[f"{pre}.ln_2.weight"], p.dense[f"{pre}.ln_2.bias"])
            m0, cm0 = _gemm_forward(be, p, f"{pre}.mlp.0.weight", n2.reshape(b * length, _D))
            m0 = np.maximum(m0 + p.dense[f"{pre}.mlp.0.bias"], 0.0)
            m2, cm2 = _gemm_forward(be, p, f"{pre}.mlp.2.weight", m0)
            tokens = tokens + (m2 + p.dense[f"{pre}.mlp.2.bias"]).reshape(b, length, _D)
            caches.append((cn1, cq, q, k, v, attn, co, cn2, cm0, m0, cm2))
        final, cf = _layernorm(tokens, p.dense["ln.weight"], p.dense["ln.bias"])
        cls = np.ascontiguousarray(final[:, 0, :])
        out, ch = _gemm_forward(be, p, "head.weight", cls)
        if ctx is not None:
            ctx.caches = [*caches, (cf, ch, (b, rows, width))]
        return out + p.dense["head.bias"]

    def _transformer_backward(self, g: np.ndarray, ctx: _Ctx, grads: dict[str, np.ndarray]) -> None:
        be, p = self.backend, self.params
        cf, ch, (b, rows, _) = ctx.caches[-1]
        length, dh = rows + 1, _D // _HEADS
        grads["head.bias"] = g.sum(axis=0)
        dcls = _gemm_backward(be, p, "head.weight", g, ch, grads)
        dfinal = np.zeros((b, length, _D), dtype=g.dtype)
        dfinal[:, 0, :] = dcls
        dt, grads["ln.weight"], grads["ln.bias"] = _layernorm_backward(dfinal, cf, p.dense["ln.weight"])
        for i in range(_BLOCKS - 1, -1, -1):
            pre = f"blocks.{i}"
            cn1, cq, q, k, v, attn, co, cn2, cm0, m0, cm2 = ctx.caches[1 + i]
            # MLP branch
            dm2 = dt.reshape(b * length, _D)
            grads[f"{pre}.mlp.2.bias"] = dm2.sum(axis=0)
            dm0 = _gemm_backward(be, p, f"{pre}.mlp.2.weight", dm2, cm2, grads)
            assert dm0 is not None
            dm0 = dm0 * (m0 > 0)
            grads[f"{pre}.mlp.0.bias"] = dm0.sum(axis=0)
            dn2 = _gemm_backward(be, p, f"{pre}.mlp.0.weight", dm0, cm0, grads)
            assert dn2 is not None
            dx2, grads[f"{pre}.ln_2.weight"], grads[f"{pre}.ln_2.bias"] = _layernorm_backward(
                dn2.reshape(b, length, _D), cn2, p.dense[f"{pre}.ln_2.weight"])
            dt = dt + dx2
            # attention branch
            do = dt.reshape(b * length, _D)
            grads[f"{pre}.out_proj.bias"] = do.sum(axis=0)
            dheads = _gemm_backward(be, p, f"{pre}.out_proj.weight", do, co, grads)
            assert dheads is not None
            dho = dheads.reshape(b, length, _HEADS, dh).transpose(0, 2, 1, 3)
            dattn = dho @ v.transpose(0, 1, 3, 2)
            dv = attn.transpose(0, 1, 3, 2) @ dho
            dscores = attn * (dattn - (dattn * attn).sum(axis=-1, keepdims=True)) / math.sqrt(dh)
            dq = dscores @ k
            dk = dscores.transpose(0, 1, 3, 2) @ q
            dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(b * length, 3 * _D)
            grads[f"{pre}.in_proj.bias"] = dqkv.sum(axis=0)
            dn1 = _gemm_backward(be, p, f"{pre}.in_proj.weight", np.ascontiguousarray(dqkv), cq,
                                 grads)
            assert dn1 is not None
            dx1, grads[f"{pre}.ln_1.weight"], grads[f"{pre}.ln_1.bias"] = _layernorm_backward(
                dn1.reshape(b, length, _D), cn1, p.dense[f"{pre}.ln_1.weight"])
            dt = dt + dx1
        grads["pos"] = dt.sum(axis=0, keepdims=True)
        grads["cls"] = dt[:, :1, :].sum(axis=0, keepdims=True)
        de = dt[:, 1:, :].reshape(b * rows, _D)
        grads["embed.bias"] = de.sum(axis=0)
        _gemm_backward(be, p, "embed.weight", np.ascontiguousarray(de), ctx.caches[0], grads, need_dx=False)
