"""Fit a compute model to measured kernel times: a roofline with measured ceilings, a per-GEMM overhead, and an
efficiency that grows with each GEMM's smallest dimension.

A training step is a list of GEMMs (rows × inner)·(inner × cols) plus element-wise work (the error, the update).
Each GEMM of F = 2·rows·cols·inner FLOPs moving Q bytes, whose smallest dimension is d, takes::

    t_gemm = c + max( F / (P · d/(d + h)),  Q / B )        (a library GEMM call)
    t_gemm = F / L                                          (a small skinny product the kernel runs as a loop)

and element-wise work of Q bytes takes Q / E. Parameters per dtype: ``call_overhead_s`` c, ``peak_flops`` P,
``half_dim`` h (the dimension at which a GEMM reaches half its peak: skinny low-rank products run well below it),
``bandwidth_Bps`` B (the measured memory ceiling, or fitted), ``loop_flops`` L (the numba kernel's loops; absent
for backends without loops) and ``elementwise_Bps`` E. Which GEMMs are loops follows the kernel's own rule
(``skinny`` and ``loop_work``). The fit minimises squared log-time errors (relative error) from several starts.
The ComputeModel times a layer's GEMMs with the library-call formula.

Examples
--------
>>> from simtrain.calibration.bench import fit_shapes
>>> truth = {"call_overhead_s": 2e-6, "peak_flops": 5e10, "half_dim": 12.0, "bandwidth_Bps": 1e10,
...          "loop_flops": 4e9, "elementwise_Bps": 3e9}
>>> shapes = [(s.kind, s.m, s.n, s.r, s.batch) for s in fit_shapes(["fp32"], quick=True)]
>>> times = [step_time(truth, *s, itemsize=4, loop_work=16384) for s in shapes]
>>> fitted = fit_params(shapes, times, itemsize=4, bandwidth_Bps=1e10, loop_work=16384)
>>> all(abs(fitted[p] / truth[p] - 1) < 1e-6 for p in PARAMS)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["PARAMS", "elementwise_bytes", "fit_params", "gemm_time", "is_loop", "relative_errors", "step_gemms",
           "step_time"]

PARAMS = ("call_overhead_s", "peak_flops", "half_dim", "bandwidth_Bps", "loop_flops", "elementwise_Bps")
ShapeRow = tuple[str, int, int, int, int]  # kind, m, n, r, batch
Gemm = tuple[int, int, int, bool]  # rows, cols, inner, transposed-left (aᵀ·b)


def step_gemms(kind: str, m: int, n: int, r: int, batch: int) -> list[Gemm]:
    """The (rows, cols, inner, transposed-left) of every GEMM of one training step (see ``kernels_numpy``).

    Examples
    --------
    >>> step_gemms("dense", 10, 20, 0, 4)
    [(4, 10, 20, False), (10, 20, 4, True), (4, 20, 10, False)]
    """
    b = batch
    if kind == "dense":  # y = x·Wᵀ, dW = gᵀ·x, dx = g·W
        return [(b, m, n, False), (m, n, b, True), (b, n, m, False)]
    if kind == "lowrank":  # h = x·Bᵀ, y = h·Aᵀ, dA = gᵀ·h, dh = g·A, dB = dhᵀ·x, dx = dh·B
        return [(b, r, n, False), (b, m, r, False), (m, r, b, True), (b, r, m, False), (r, n, b, True),
                (b, n, r, False)]
    if kind == "oialr":  # h1 = x·V, h2 = h1·Sᵀ, y = h2·Uᵀ, dh2 = g·U, dS = dh2ᵀ·h1, dh2·S, (·)·Vᵀ
        return [(b, r, n, False), (b, r, r, False), (b, m, r, False), (b, r, m, False), (r, r, b, True),
                (b, r, r, False), (b, n, r, False)]
    raise ValueError(f"unknown kernel kind {kind!r}")


def is_loop(gemm: Gemm, skinny: int, loop_work: int) -> bool:
    """Whether the numba kernel runs this product as a loop (its own rule; ``loop_work = 0``: never)."""
    rows, cols, inner, transposed = gemm
    wide = (rows >= skinny and cols >= skinny) if transposed else (cols >= skinny and inner >= skinny)
    return loop_work > 0 and not wide and rows * cols * inner <= loop_work


def elementwise_bytes(kind: str, m: int, n: int, r: int, batch: int, itemsize: int) -> float:
    """Bytes of the element-wise work of a step: the error (y, t, g) and the update (read and write)."""
    trained = {"dense": m * n, "lowrank": r * (m + n), "oialr": r * r}[kind]
    return float((3 * batch * m + 3 * trained) * itemsize)


def gemm_time(params: dict[str, float], rows: int, cols: int, inner: int, itemsize: int) -> float:
    """Predicted seconds of one GEMM.

    Examples
    --------
    >>> p = {"call_overhead_s": 1e-6, "peak_flops": 1e9, "half_dim": 0.0, "bandwidth_Bps": 1e12}
    >>> round(gemm_time(p, 100, 100, 100, 4), 9)      # 1 us + 2e6 FLOP at 1 GFLOP/s
    0.002001
    """
    dim = min(rows, cols, inner)
    efficiency = dim / (dim + params["half_dim"]) if dim > 0 else 1.0
    flops = 2.0 * rows * cols * inner
    nbytes = float((rows * inner + inner * cols + rows * cols) * itemsize)
    compute = flops / (params["peak_flops"] * efficiency)
    return params["call_overhead_s"] + max(compute, nbytes / params["bandwidth_Bps"])


def step_time(params: dict[str, float], kind: str, m: int, n: int, r: int, batch: int, itemsize: int,
              skinny: int = 32, loop_work: int = 0) -> float:
    """Predicted seconds of one training step: its GEMMs (library calls or loops) plus its element-wise work."""
    total = 0.0
    for gemm in step_gemms(kind, m, n, r, batch):
        rows, cols, inner, _ = gemm
        if is_loop(gemm, skinny, loop_work):
            total += 2.0 * rows * cols * inner / params["loop_flops"]
        else:
            total += gemm_time(params, rows, cols, inner, itemsize)
    return total + elementwise_bytes(kind, m, n, r, batch, itemsize) / params["elementwise_Bps"]


def _tables(shapes: Sequence[ShapeRow], itemsize: int, skinny: int, loop_work: int) -> tuple[np.ndarray, ...]:
    owner, flops, nbytes, dims, loops = [], [], [], [], []
    elementwise = np.zeros(len(shapes))
    for index, (kind, m, n, r, b) in enumerate(shapes):
        for gemm in step_gemms(kind, m, n, r, b):
            rows, cols, inner, _ = gemm
            owner.append(index)
            flops.append(2.0 * rows * cols * inner)
            nbytes.append(float((rows * inner + inner * cols + rows * cols) * itemsize))
            dims.append(float(min(rows, cols, inner)))
            loops.append(is_loop(gemm, skinny, loop_work))
        elementwise[index] = elementwise_bytes(kind, m, n, r, b, itemsize)
    return (np.array(owner), np.array(flops), np.array(nbytes), np.array(dims), np.array(loops, dtype=bool),
            elementwise)


def fit_params(shapes: Sequence[ShapeRow], times: Sequence[float], itemsize: int,
               bandwidth_Bps: float | None = None, skinny: int = 32, loop_work: int = 0) -> dict[str, float]:
    """Fit the parameters to measured step ``times`` of ``shapes`` (kind, m, n, r, batch).

    With ``bandwidth_Bps`` (a measured memory ceiling) the GEMM bandwidth is held there: when few GEMMs are
    memory-bound the data cannot pin it down. Without loops (``loop_work = 0``) ``loop_flops`` equals the peak.
    """
    from scipy.optimize import least_squares

    owner, flops, nbytes, dims, loops, elementwise = _tables(shapes, itemsize, skinny, loop_work)
    measured = np.log(np.asarray(times, dtype=float))
    count = len(shapes)
    has_loops = bool(loops.any())
    free = ["call_overhead_s", "peak_flops", "half_dim", "elementwise_Bps"]
    if bandwidth_Bps is None:
        free.append("bandwidth_Bps")
    if has_loops:
        free.append("loop_flops")

    if len(shapes) < len(free):
        from simtrain.errors import ConfigError

        raise ConfigError(f"fitting {len(free)} parameters needs at least as many shapes", key="calibrate",
                          value=len(shapes))

    def unpack(theta: np.ndarray) -> dict[str, float]:
        values = dict(zip(free, np.exp(np.clip(theta, -700, 700)).tolist()))
        values.setdefault("bandwidth_Bps", bandwidth_Bps or 0.0)
        values.setdefault("loop_flops", values["peak_flops"])
        return values

    def residuals(theta: np.ndarray) -> np.ndarray:
        return _residuals(unpack(theta))

    def _residuals(p: dict[str, float]) -> np.ndarray:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return _log_error(p)

    def _log_error(p: dict[str, float]) -> np.ndarray:
        library = p["call_overhead_s"] + np.maximum(flops / (p["peak_flops"] * dims / (dims + p["half_dim"])),
                                                    nbytes / p["bandwidth_Bps"])
        per_gemm = np.where(loops, flops / p["loop_flops"], library)
        model = np.bincount(owner, weights=per_gemm, minlength=count) + elementwise / p["elementwise_Bps"]
        return np.log(model) - measured

    per_step_flops = np.bincount(owner, weights=flops, minlength=count)
    rate = float((per_step_flops / np.exp(measured)).max())
    fastest = float(np.exp(measured).min())
    guess = {"bandwidth_Bps": 1e11, "elementwise_Bps": 1e10, "loop_flops": rate}
    best = None
    for half in (1.0, 8.0, 64.0):
        for share in (0.05, 0.3):
            guess.update(call_overhead_s=max(fastest * share / 7, 1e-9), peak_flops=rate * 1.5, half_dim=half)
            start = np.log([guess[name] for name in free])
            result = least_squares(residuals, start, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
            if best is None or result.cost < best.cost:
                best = result
    assert best is not None
    fitted = unpack(best.x)
    return {name: float(fitted[name]) for name in PARAMS}


def relative_errors(params: dict[str, float], shapes: Sequence[ShapeRow], times: Sequence[float],
                    itemsize: int, skinny: int = 32, loop_work: int = 0) -> np.ndarray:
    """(predicted − measured) / measured for every shape.

    Examples
    --------
    >>> p = {"call_overhead_s": 0.0, "peak_flops": 1e9, "half_dim": 0.0, "bandwidth_Bps": 1e15,
    ...      "loop_flops": 1e9, "elementwise_Bps": 1e15}
    >>> err = relative_errors(p, [("dense", 10, 10, 0, 10)], [6e-6], 4)
    >>> round(float(err[0]), 3)
    0.0
    """
    predicted = np.array([step_time(params, *shape, itemsize, skinny, loop_work) for shape in shapes])
    return (predicted - np.asarray(times, dtype=float)) / np.asarray(times, dtype=float)
