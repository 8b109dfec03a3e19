"""Reference kernels (NumPy): one training step of a dense, a low-rank (W ≈ A·B) and an OIALR (W = U·S·Vᵀ,
only S trained) linear layer. The numba and torch kernels are tested against these.

Shapes: input ``x`` (batch × n), target ``t`` (batch × m); dense W (m × n); A (m × r), B (r × n); U (m × r),
S (r × r), V (n × r). The loss is ½‖y − t‖² / batch, so the upstream gradient is g = (y − t) / batch. A conv
layer is the same GEMMs on its im2col shapes (rows = output pixels × batch, n = C_in·kh·kw, m = C_out).

Low-rank step (FLOPs = 2 × multiply-adds):

* forward   h = x·Bᵀ (batch × r), y = h·Aᵀ                  → 2·batch·r·(n + m)
* backward  dA = gᵀ·h, dh = g·A, dB = dhᵀ·x, dx = dh·B      → 2·batch·r·(2m + 2n)
* update    A -= lr·dA, B -= lr·dB                          → 2·r·(m + n)

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x, t = rng.standard_normal((8, 20)), rng.standard_normal((8, 12))
>>> A, B = rng.standard_normal((12, 3)), rng.standard_normal((3, 20))
>>> A2, B2, dx, loss = lowrank_step(x, t, A, B, 0.1)
>>> A2.shape, B2.shape, dx.shape, loss > 0
((12, 3), (3, 20), (8, 20), True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["KINDS", "dense_step", "lowrank_step", "oialr_step", "step", "step_bytes", "step_flops"]

#: Kernel kinds.
KINDS = ("dense", "lowrank", "oialr")


def dense_step(x: np.ndarray, t: np.ndarray, W: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray, float]:
    """One SGD step of y = x·Wᵀ; returns (new W, dx, loss).

    Examples
    --------
    >>> W2, dx, loss = dense_step(np.ones((2, 3)), np.zeros((2, 1)), np.ones((1, 3)), 0.5)
    >>> W2.tolist(), round(loss, 6)
    ([[-0.5, -0.5, -0.5]], 4.5)
    """
    batch = x.shape[0]
    y = x @ W.T
    g = (y - t) / batch
    loss = float(0.5 * np.sum((y - t) ** 2) / batch)
    dW = g.T @ x
    dx = g @ W
    return W - lr * dW, dx, loss


def lowrank_step(x: np.ndarray, t: np.ndarray, A: np.ndarray, B: np.ndarray,
                 lr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One SGD step of y = (x·Bᵀ)·Aᵀ training both factors; returns (new A, new B, dx, loss)."""
    batch = x.shape[0]
    h = x @ B.T
    y = h @ A.T
    g = (y - t) / batch
    loss = float(0.5 * np.sum((y - t) ** 2) / batch)
    dA = g.T @ h
    dh = g @ A
    dB = dh.T @ x
    dx = dh @ B
    return A - lr * dA, B - lr * dB, dx, loss


def oialr_step(x: np.ndarray, t: np.ndarray, U: np.ndarray, S: np.ndarray, V: np.ndarray,
               lr: float) -> tuple[np.ndarray, np.ndarray, float]:
    """One SGD step of y = x·V·Sᵀ·Uᵀ training only S; returns (new S, dx, loss).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> S2, dx, loss = oialr_step(rng.standard_normal((4, 6)), rng.standard_normal((4, 5)),
    ...                           rng.standard_normal((5, 2)), rng.standard_normal((2, 2)),
    ...                           rng.standard_normal((6, 2)), 0.1)
    >>> S2.shape, dx.shape
    ((2, 2), (4, 6))
    """
    batch = x.shape[0]
    h1 = x @ V
    h2 = h1 @ S.T
    y = h2 @ U.T
    g = (y - t) / batch
    loss = float(0.5 * np.sum((y - t) ** 2) / batch)
    dh2 = g @ U
    dS = dh2.T @ h1
    dx = (dh2 @ S) @ V.T
    return S - lr * dS, dx, loss


def step(kind: str, x: np.ndarray, t: np.ndarray, params: tuple[np.ndarray, ...],
         lr: float) -> tuple[np.ndarray | float, ...]:
    """Dispatch on ``kind``: the new trained parameters, then dx, then the loss."""
    if kind == "dense":
        return dense_step(x, t, params[0], lr)
    if kind == "lowrank":
        return lowrank_step(x, t, params[0], params[1], lr)
    if kind == "oialr":
        return oialr_step(x, t, params[0], params[1], params[2], lr)
    raise ValueError(f"unknown kernel kind {kind!r}")


def step_flops(kind: str, m: int, n: int, r: int, batch: int) -> float:
    """FLOPs of one step (2 per multiply-add).

    Examples
    --------
    >>> step_flops("dense", 10, 20, 0, 4)      # forward 2bmn, backward 4bmn, update 2mn
    5200.0
    """
    if kind == "dense":
        return float(6 * batch * m * n + 2 * m * n)
    if kind == "lowrank":
        return float(6 * batch * r * (m + n) + 2 * r * (m + n))
    if kind == "oialr":
        # forward x·V, ·Sᵀ, ·Uᵀ; backward g·U, dS, dh2·S, ·Vᵀ; update S
        return float(2 * batch * (n * r + r * r + r * m) + 2 * batch * (m * r + r * r + r * r + r * n) + 2 * r * r)
    raise ValueError(f"unknown kernel kind {kind!r}")


def step_bytes(kind: str, m: int, n: int, r: int, batch: int, itemsize: int) -> float:
    """Bytes a step must move at least once: inputs, targets, parameters (read and written), dx.

    Examples
    --------
    >>> step_bytes("dense", 10, 20, 0, 4, 4)   # (x, t, dx: 4 x 50) + (W read and written: 400), 4 bytes each
    2400.0
    """
    activations = batch * (n + m + n)  # x, t, dx
    if kind == "dense":
        weights = 2 * m * n
    elif kind == "lowrank":
        weights = 2 * r * (m + n)
    elif kind == "oialr":
        weights = m * r + n * r + 2 * r * r
    else:
        raise ValueError(f"unknown kernel kind {kind!r}")
    return float((activations + weights) * itemsize)
