"""numba kernels of the training steps; their twins are :mod:`simtrain.calibration.kernels_numpy`.

The whole step is one compiled call. Small skinny products (fewer than ``SKINNY`` columns or inner terms and at
most ``LOOP_WORK`` multiply-adds: low rank, small batch) are explicit loops, where they beat a BLAS call and its
overhead; larger products call BLAS through ``np.dot``, threaded by BLAS itself: numba's own threads
(``parallel=True``) did not pay here, and competing with BLAS's threads they made steps erratic. The loops use
``fastmath`` so their reductions vectorise (summation order differs from NumPy's at the level of rounding).
The update is in place (as training does); the NumPy twin returns new arrays, so the tests give each its own copy.
``cache=True``; runs as plain Python under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simtrain.calibration.gemm_table import loop_rule

SKINNY = 32


LOOP_WORK = 1 << 14  # multiply-adds up to which a skinny product is cheaper as a loop than as a BLAS call


@njit(cache=True, fastmath=True)
def _a_bt_loop(a, b):
    """a · bᵀ for a (p × k), b (q × k), as loops."""
    p, k = a.shape
    q = b.shape[0]
    out = np.empty((p, q), dtype=a.dtype)
    for i in range(p):
        for j in range(q):
            acc = a.dtype.type(0)
            for s in range(k):
                acc += a[i, s] * b[j, s]
            out[i, j] = acc
    return out


@njit(cache=True, fastmath=True)
def _a_b_loop(a, b):
    """a · b for a (p × k), b (k × q), as loops."""
    p, k = a.shape
    q = b.shape[1]
    out = np.zeros((p, q), dtype=a.dtype)
    for i in range(p):
        for s in range(k):
            coef = a[i, s]
            for j in range(q):
                out[i, j] += coef * b[s, j]
    return out


@njit(cache=True, fastmath=True)
def _at_b_loop(a, b):
    """aᵀ · b for a (p × k), b (p × q), as loops."""
    p, k = a.shape
    q = b.shape[1]
    out = np.zeros((k, q), dtype=a.dtype)
    for i in range(p):
        for s in range(k):
            coef = a[i, s]
            for j in range(q):
                out[s, j] += coef * b[i, j]
    return out


_loop_rule = njit(cache=True)(loop_rule)  # the one rule, compiled; the GEMM table uses it in Python


@njit(cache=True)
def _a_bt(a, b):
    """a · bᵀ for a (p × k), b (q × k): BLAS unless skinny and small (:func:`uses_loop`)."""
    if _loop_rule(False, a.shape[0], b.shape[0], a.shape[1], SKINNY, LOOP_WORK):
        return _a_bt_loop(a, b)
    return np.dot(a, b.T)


@njit(cache=True)
def _a_b(a, b):
    """a · b for a (p × k), b (k × q): BLAS unless skinny and small."""
    if _loop_rule(False, a.shape[0], b.shape[1], a.shape[1], SKINNY, LOOP_WORK):
        return _a_b_loop(a, b)
    return np.dot(a, b)


@njit(cache=True)
def _at_b(a, b):
    """aᵀ · b for a (p × k), b (p × q): BLAS unless skinny and small."""
    if _loop_rule(True, a.shape[1], b.shape[1], a.shape[0], SKINNY, LOOP_WORK):
        return _at_b_loop(a, b)
    return np.dot(a.T, b)


def uses_loop(layout: str, rows: int, cols: int, inner: int) -> bool:
    """Whether the kernel computes a product (rows × inner)·(inner × cols) in ``layout`` as loops.

    Examples
    --------
    >>> uses_loop("nn", 8, 4, 16), uses_loop("nn", 8, 64, 64), uses_loop("tn", 4, 4, 100_000)
    (True, False, False)
    """
    return loop_rule(layout == "tn", rows, cols, inner, SKINNY, LOOP_WORK)


@njit(cache=True, fastmath=True)
def _sgd(param, grad, lr):
    """param -= lr·grad in place (as training does; the NumPy twin returns a new array), returning param."""
    flat_param = param.reshape(-1)
    flat_grad = grad.reshape(-1)
    for i in range(flat_param.shape[0]):
        flat_param[i] -= lr * flat_grad[i]
    return param


@njit(cache=True, fastmath=True)
def _error(y, t):
    """Upstream gradient (y - t)/batch and the loss ½‖y - t‖²/batch, in one pass.

    ``fastmath`` lets the loss reduction vectorise: as a strict left-to-right sum (``np.sum`` in numba) it is one
    dependent add per element, which made this pass slower than all the step's GEMMs on wide outputs (490 µs of a
    600 µs step at 128 × 2048, fp32).
    """
    batch, width = y.shape
    g = np.empty_like(y)
    scale = y.dtype.type(1.0 / batch)
    acc = 0.0
    for i in range(batch):
        for j in range(width):
            d = y[i, j] - t[i, j]
            acc += d * d
            g[i, j] = d * scale
    return g, 0.5 * acc / batch


@njit(cache=True)
def dense_step(x, t, W, lr):
    """Twin of ``kernels_numpy.dense_step``."""
    y = _a_bt(x, W)
    g, loss = _error(y, t)
    dW = _at_b(g, x)
    dx = _a_b(g, W)
    return _sgd(W, dW, lr), dx, loss


@njit(cache=True)
def lowrank_step(x, t, A, B, lr):
    """Twin of ``kernels_numpy.lowrank_step``."""
    h = _a_bt(x, B)
    y = _a_bt(h, A)
    g, loss = _error(y, t)
    dA = _at_b(g, h)
    dh = _a_b(g, A)
    dB = _at_b(dh, x)
    dx = _a_b(dh, B)
    return _sgd(A, dA, lr), _sgd(B, dB, lr), dx, loss


@njit(cache=True)
def oialr_step(x, t, U, S, V, lr):
    """Twin of ``kernels_numpy.oialr_step``."""
    h1 = _a_b(x, V)
    h2 = _a_bt(h1, S)
    y = _a_bt(h2, U)
    g, loss = _error(y, t)
    dh2 = _a_b(g, U)
    dS = _at_b(dh2, h1)
    dx = _a_bt(_a_b(dh2, S), V)
    return _sgd(S, dS, lr), dx, loss


# -- GEMM timing loops: a product called ``count`` times from compiled code, as a step calls it (no dispatch from
# Python per call), by one path (``loop`` True: the loops, else BLAS) whatever the rule would pick, so each path's
# table is measured on its own; the first element of every result is summed so the calls cannot be optimised away.
@njit(cache=True)
def repeat_product(a, b, count, layout, loop):
    """Run one product ``count`` times: ``layout`` 0 a·b, 1 a·bᵀ, 2 aᵀ·b; ``loop`` picks the path."""
    acc = 0.0
    for _ in range(count):
        if layout == 0:
            out = _a_b_loop(a, b) if loop else np.dot(a, b)
        elif layout == 1:
            out = _a_bt_loop(a, b) if loop else np.dot(a, b.T)
        else:
            out = _at_b_loop(a, b) if loop else np.dot(a.T, b)
        acc += out[0, 0]
    return acc
