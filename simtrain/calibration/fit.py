"""The compute model of a training step, fitted to measured step times.

A step is a list of GEMMs (rows × inner)·(inner × cols) in the layouts the kernels use, plus element-wise work (the
error and the update) of Q bytes, plus a fixed cost per step (the call into the compiled step, its allocations)::

    t_step = Σ_GEMMs table.seconds(rows, cols, inner, layout) + step_overhead_s + Q / elementwise_Bps

The GEMM times come from the measured efficiency table (:mod:`simtrain.calibration.gemm_table`: achieved FLOP/s
over a grid of shapes, interpolated); the two remaining parameters per dtype are fitted to whole-step times by
linear least squares on relative errors (bounded at zero), so synthetic timings made from known parameters give
those parameters back exactly.

Examples
--------
>>> from simtrain.calibration.gemm_table import GemmTable
>>> table = GemmTable.from_function([1, 16, 256, 4096], lambda r, c, k: 2e10 * (r * c * k) ** 0.1)
>>> truth = {"step_overhead_s": 2e-6, "elementwise_Bps": 3e9}
>>> shapes = [("lowrank", m, 256, r, b) for m in (64, 512) for r in (2, 16) for b in (4, 64)]
>>> times = [step_time(table, truth, *s, itemsize=4) for s in shapes]
>>> fitted = fit_step_params(table, shapes, times, itemsize=4)
>>> all(abs(fitted[p] / truth[p] - 1) < 1e-9 for p in PARAMS)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["PARAMS", "elementwise_bytes", "fit_step_params", "gemm_seconds", "relative_errors", "step_gemms",
           "step_time"]

#: Fitted per dtype, besides the GEMM table.
PARAMS = ("step_overhead_s", "elementwise_Bps")
ShapeRow = tuple[str, int, int, int, int]  # kind, m, n, r, batch
Gemm = tuple[int, int, int, str]  # rows, cols, inner, layout (nn: a·b, nt: a·bᵀ, tn: aᵀ·b)

#: The largest elementwise bandwidth a fit may report (a fit that finds no element-wise cost at all).
_MAX_ELEMENTWISE_BPS = 1e15


def step_gemms(kind: str, m: int, n: int, r: int, batch: int) -> list[Gemm]:
    """The (rows, cols, inner, layout) of every GEMM of one training step (see ``kernels_numpy``).

    Examples
    --------
    >>> step_gemms("dense", 10, 20, 0, 4)
    [(4, 10, 20, 'nt'), (10, 20, 4, 'tn'), (4, 20, 10, 'nn')]
    """
    b = batch
    if kind == "dense":  # y = x·Wᵀ, dW = gᵀ·x, dx = g·W
        return [(b, m, n, "nt"), (m, n, b, "tn"), (b, n, m, "nn")]
    if kind == "lowrank":  # h = x·Bᵀ, y = h·Aᵀ, dA = gᵀ·h, dh = g·A, dB = dhᵀ·x, dx = dh·B
        return [(b, r, n, "nt"), (b, m, r, "nt"), (m, r, b, "tn"), (b, r, m, "nn"), (r, n, b, "tn"),
                (b, n, r, "nn")]
    if kind == "oialr":  # h1 = x·V, h2 = h1·Sᵀ, y = h2·Uᵀ, dh2 = g·U, dS = dh2ᵀ·h1, dh1 = dh2·S, dx = dh1·Vᵀ
        return [(b, r, n, "nn"), (b, r, r, "nt"), (b, m, r, "nt"), (b, r, m, "nn"), (r, r, b, "tn"),
                (b, r, r, "nn"), (b, n, r, "nt")]
    raise ValueError(f"unknown kernel kind {kind!r}")


def elementwise_bytes(kind: str, m: int, n: int, r: int, batch: int, itemsize: int) -> float:
    """Bytes of the element-wise work of a step: the error (y, t, g) and the update (read and write).

    Examples
    --------
    >>> elementwise_bytes("dense", 10, 20, 0, 4, 4)
    2880.0
    """
    trained = {"dense": m * n, "lowrank": r * (m + n), "oialr": r * r}[kind]
    return float((3 * batch * m + 3 * trained) * itemsize)


def gemm_seconds(table: Any, kind: str, m: int, n: int, r: int, batch: int) -> float:
    """Seconds of a step's GEMMs from a :class:`~simtrain.calibration.gemm_table.GemmTable`."""
    return sum(table.seconds(rows, cols, inner, layout) for rows, cols, inner, layout in step_gemms(kind, m, n, r,
                                                                                                      batch))


def step_time(table: Any, params: dict[str, float], kind: str, m: int, n: int, r: int, batch: int,
              itemsize: int) -> float:
    """Predicted seconds of one training step (module docstring)."""
    return (gemm_seconds(table, kind, m, n, r, batch) + params["step_overhead_s"]
            + elementwise_bytes(kind, m, n, r, batch, itemsize) / params["elementwise_Bps"])


def fit_step_params(table: Any, shapes: Sequence[ShapeRow], times: Sequence[float],
                    itemsize: int) -> dict[str, float]:
    """Fit ``step_overhead_s`` and ``elementwise_Bps`` to measured step ``times`` of ``shapes`` given the GEMM
    table: minimise Σ((predicted − measured)/measured)², both terms non-negative.
    """
    from scipy.optimize import lsq_linear

    from simtrain.errors import ConfigError

    if len(shapes) < len(PARAMS):
        raise ConfigError(f"fitting {len(PARAMS)} parameters needs at least as many shapes", key="calibrate",
                          value=len(shapes))
    measured = np.asarray(times, dtype=float)
    gemms = np.array([gemm_seconds(table, *shape) for shape in shapes])
    elementwise = np.array([elementwise_bytes(*shape, itemsize) for shape in shapes])
    # unknowns (overhead, 1/bandwidth); rows divided by the measured time: relative errors
    matrix = np.stack([np.ones(len(shapes)), elementwise], axis=1) / measured[:, None]
    target = (measured - gemms) / measured
    scale = np.array([1.0, 1.0 / max(float(elementwise.max()), 1.0)])  # columns of similar size
    result = lsq_linear(matrix / scale, target, bounds=(0.0, np.inf), method="bvls", tol=1e-15)
    overhead, inverse = result.x / scale
    return {"step_overhead_s": float(overhead),
            "elementwise_Bps": float(min(1.0 / inverse, _MAX_ELEMENTWISE_BPS) if inverse > 0
                                     else _MAX_ELEMENTWISE_BPS)}


def relative_errors(table: Any, params: dict[str, float], shapes: Sequence[ShapeRow], times: Sequence[float],
                    itemsize: int) -> np.ndarray:
    """(predicted − measured) / measured for every shape.

    Examples
    --------
    >>> from simtrain.calibration.gemm_table import GemmTable
    >>> table = GemmTable.from_function([1, 64], lambda r, c, k: 1e9)
    >>> p = {"step_overhead_s": 0.0, "elementwise_Bps": 1e15}
    >>> err = relative_errors(table, p, [("dense", 10, 10, 0, 10)], [6e-6], 4)
    >>> round(float(err[0]), 3)
    0.0
    """
    predicted = np.array([step_time(table, params, *shape, itemsize) for shape in shapes])
    return (predicted - np.asarray(times, dtype=float)) / np.asarray(times, dtype=float)
