"""Measured GEMM efficiency: the achieved FLOP/s of a backend's matrix products over a grid of shapes.

A GEMM (rows × inner)·(inner × cols) in one of three layouts, ``nn`` (a·b), ``nt`` (a·bᵀ) and ``tn`` (aᵀ·b), the
three a training step uses (forward, input gradient, weight gradient), is timed on every grid point
(rows, cols, inner) with each dimension a power of two or 1.5 times one (:func:`grid_dims`), up to a FLOP cap. Its
time anywhere is

    t = 2·rows·cols·inner / rate(rows, cols, inner)

with log(rate) interpolated trilinearly in log2 of the dimensions. The rate holds everything a closed form had to
guess: the per-call overhead (small products have low rates), the memory-bound regime (one dimension tiny) and the
library's blocking. A kernel that runs small skinny products as loops (numba's) switches path abruptly at its
rule's boundary, which interpolation would smear, so each path has its own table and the kernel's rule
(``skinny``, ``loop_work``; :func:`simtrain.calibration._kernels_numba.uses_loop`) picks the table. Outside the
grid the rate of the nearest edge is used (products larger than the grid run at the plateau rate); grid points
above the FLOP cap are filled with the largest rate measured at any smaller point (the running maximum along each
axis), so rates never fall with size where nothing was measured.

A closed-form roofline with a per-GEMM overhead and a size-dependent efficiency d/(d + h) was tried first: on the
same measured steps it predicted 57 % of held-out steps within 15 %, an octave grid of this table 87 %, and the
half-octave grid 93–94 % (the project's VM; docs/design.md).

Examples
--------
>>> dims = [1, 4, 16]
>>> rate = lambda r, c, k: 1e9 * (r * c * k) ** 0.25    # any rate linear in log-dimensions is interpolated exactly
>>> table = GemmTable.from_function(dims, rate)
>>> round(table.seconds(8, 8, 8, "nn") / (2 * 8**3 / rate(8, 8, 8)), 12)
1.0
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.inputs import check_keys

__all__ = ["LAYOUTS", "GemmTable", "grid_dims", "loop_rule", "measure_gemm_table", "time_gemm"]

#: Product layouts: a·b, a·bᵀ, aᵀ·b.
LAYOUTS = ("nn", "nt", "tn")
#: The slowest rate a table may hold (FLOP/s): a measured kernel is far above it, and every time priced from the
#: table stays finite.
MIN_RATE = 1.0
#: The largest dimension a table may list: far beyond any measured GEMM, and every dimension converts to a float.
MAX_DIM = 2**40


def grid_dims(quick: bool = False, largest: int = 4096) -> list[int]:
    """Grid dimensions up to ``largest``: powers of two and the midpoints 1.5 × 2^k (with ``quick``: powers of four,
    a sixtieth of the points, for a smoke-test profile).

    The midpoints matter: BLAS rates change within an octave (a kernel switch between 192 and 256 rows made a
    product 1.9x slower per FLOP on the project's VM) and powers of two are often slower than their neighbours
    (cache-set aliasing: 16 × 1024 × 4 ran at 24 GFLOP/s, 16 × 896 × 4 and 16 × 1088 × 4 at 32), so an octave grid
    mispredicts the dimensions between its points by up to 40 %.

    Examples
    --------
    >>> grid_dims(quick=True, largest=256)
    [1, 4, 16, 64, 256]
    >>> grid_dims(largest=64)
    [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
    """
    dims, d = [], 1
    while d <= largest:
        dims.append(d)
        if not quick and d >= 2 and 3 * d // 2 <= largest:
            dims.append(3 * d // 2)
        d *= 4 if quick else 2
    return dims


def _filled_log(rate: np.ndarray) -> np.ndarray:
    """log(rate) with unmeasured points (NaN) filled by the running maximum along each axis."""
    log_rate = np.log(rate)
    filled = np.where(np.isnan(log_rate), -np.inf, log_rate)
    for axis in range(3):
        filled = np.maximum.accumulate(filled, axis=axis)
    return np.where(np.isnan(log_rate), filled, log_rate)


def loop_rule(transposed_left: bool, rows: int, cols: int, inner: int, skinny: int, loop_work: int) -> bool:
    """Whether a kernel with a loop path computes (rows × inner)·(inner × cols) as loops: when the product is not
    wide (both output dimensions of aᵀ·b, or the columns and inner dimension of a·b and a·bᵀ, at least ``skinny``)
    and has at most ``loop_work`` multiply-adds. The numba kernels compile this same function.

    Examples
    --------
    >>> loop_rule(False, 8, 4, 16, 32, 16384), loop_rule(False, 8, 64, 64, 32, 16384)
    (True, False)
    """
    wide = (rows >= skinny and cols >= skinny) if transposed_left else (cols >= skinny and inner >= skinny)
    return not wide and rows * cols * inner <= loop_work


def _uses_loop(rule: tuple[int, int], layout: str, rows: int, cols: int, inner: int) -> bool:
    return loop_rule(layout == "tn", rows, cols, inner, rule[0], rule[1])


@dataclass
class GemmTable:
    """Achieved FLOP/s per layout on a grid; ``rates[layout][i, j, k]`` for (dims[i], dims[j], dims[k]),
    NaN where not measured. ``loop_rates`` and ``loop_rule`` (skinny, loop_work): the loop path of a kernel that
    has one, used where the rule picks it."""

    dims: tuple[int, ...]
    rates: dict[str, np.ndarray]
    loop_rates: dict[str, np.ndarray] | None = None
    loop_rule: tuple[int, int] | None = None
    _log_dims: np.ndarray = field(init=False, repr=False)
    _log_rates: dict[str, np.ndarray] = field(init=False, repr=False)
    _cache: dict[tuple[int, int, int, str], float] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._log_dims = np.log2(np.asarray(self.dims, dtype=np.float64))
        self._log_rates = {layout: _filled_log(rate) for layout, rate in self.rates.items()}
        for layout, rate in (self.loop_rates or {}).items():
            self._log_rates["loop-" + layout] = _filled_log(rate)

    @classmethod
    def from_function(cls, dims: Sequence[int], rate: Callable[[int, int, int], float],
                      layouts: Sequence[str] = LAYOUTS) -> GemmTable:
        """A table whose every point is ``rate(rows, cols, inner)`` (for tests and synthetic profiles)."""
        grid = np.array([[[rate(r, c, k) for k in dims] for c in dims] for r in dims], dtype=np.float64)
        return cls(tuple(int(d) for d in dims), {layout: grid.copy() for layout in layouts})

    def rate(self, rows: int, cols: int, inner: int, layout: str = "nn") -> float:
        """Interpolated FLOP/s of one product (0 for an empty one)."""
        seconds = self.seconds(rows, cols, inner, layout)
        return 2.0 * rows * cols * inner / seconds if seconds > 0 else 0.0

    def seconds(self, rows: int, cols: int, inner: int, layout: str = "nn") -> float:
        """Predicted seconds of one product (rows × inner)·(inner × cols) in ``layout``; 0 for an empty one."""
        rows, cols, inner = int(rows), int(cols), int(inner)
        key = (rows, cols, inner, layout)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if min(rows, cols, inner) <= 0:
            return 0.0
        if layout not in self.rates:
            raise ConfigError("layout not in the profile", key="layout", value=layout, choices=sorted(self.rates))
        table = layout
        if self.loop_rule is not None and _uses_loop(self.loop_rule, layout, *key[:3]):
            table = "loop-" + layout
        log_dims = self._log_dims
        point = np.clip(np.log2([rows, cols, inner]), log_dims[0], log_dims[-1])
        if len(log_dims) == 1:
            log_rate = float(self._log_rates[table][0, 0, 0])
        else:
            index = np.clip(np.searchsorted(log_dims, point, side="right") - 1, 0, len(log_dims) - 2)
            weight = (point - log_dims[index]) / (log_dims[index + 1] - log_dims[index])
            cube = self._log_rates[table][index[0]:index[0] + 2, index[1]:index[1] + 2, index[2]:index[2] + 2]
            for axis_weight in weight:  # collapse one axis at a time
                cube = cube[0] * (1 - axis_weight) + cube[1] * axis_weight
            log_rate = float(cube)
        value = 2.0 * rows * cols * inner / math.exp(log_rate)
        self._cache[key] = value
        return value

    @property
    def peak_rate(self) -> float:
        """The highest measured rate (any layout)."""
        return float(max(np.nanmax(rate) for rate in self.rates.values()))

    @property
    def measured_points(self) -> int:
        """Grid points measured (all layouts, both paths)."""
        grids = [*self.rates.values(), *(self.loop_rates or {}).values()]
        return int(sum(np.isfinite(rate).sum() for rate in grids))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``dims`` and one nested list per layout (``null`` where not measured), 4 significant
        digits; ``loop``: the rule and the loop path's grids, when the kernel has one."""
        def grid(rate: np.ndarray) -> list[Any]:
            return [[[None if not np.isfinite(v) else float(f"{v:.4g}") for v in row] for row in plane]
                    for plane in rate]

        out: dict[str, Any] = {"dims": list(self.dims)}
        out.update({layout: grid(rate) for layout, rate in self.rates.items()})
        if self.loop_rates is not None and self.loop_rule is not None:
            out["loop"] = {"skinny": self.loop_rule[0], "loop_work": self.loop_rule[1],
                           **{layout: grid(rate) for layout, rate in self.loop_rates.items()}}
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str, key: str) -> GemmTable:
        """Read and check a table written by :meth:`to_dict`; errors name ``source`` and the key path."""
        if not isinstance(data, dict):
            raise ConfigError("must be a GEMM table (dims and one rate grid per layout)", source=source, key=key)
        dims = data.get("dims")
        if (not isinstance(dims, list) or not dims
                or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_DIM for d in dims)
                or any(b <= a for a, b in itertools.pairwise(dims))):
            raise ConfigError(f"must be a non-empty increasing list of integers from 1 to {MAX_DIM}", source=source,
                              key=f"{key}.dims", value=dims)
        check_keys(data, ("dims", "loop", *LAYOUTS), source, f"{key}.")   # a misspelt layout: not "unmeasured"
        rates = _grids(data, len(dims), source, key)
        loop = data.get("loop")
        if loop is None:
            return cls(tuple(dims), rates)
        if not isinstance(loop, dict):
            raise ConfigError("must be the loop path (skinny, loop_work and one rate grid per layout)", source=source,
                              key=f"{key}.loop")
        rule = []
        for name in ("skinny", "loop_work"):
            value = loop.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError("must be a non-negative integer", source=source, key=f"{key}.loop.{name}",
                                  value=value)
            rule.append(value)
        return cls(tuple(dims), rates, _grids(loop, len(dims), source, f"{key}.loop"), (rule[0], rule[1]))


def _grids(data: dict[str, Any], n: int, source: str, key: str) -> dict[str, np.ndarray]:
    """The three layouts' n × n × n rate grids of a table document, checked."""
    rates: dict[str, np.ndarray] = {}
    for layout in LAYOUTS:
        if layout not in data:
            raise ConfigError("missing required key", source=source, key=f"{key}.{layout}")
        raw = np.array(data[layout], dtype=object)
        if raw.shape == (n, n, n) and any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))
                                          for v in raw.ravel()):
            raise ConfigError("rates must be numbers (FLOP/s) or null", source=source, key=f"{key}.{layout}")
        try:
            grid = np.array(data[layout], dtype=np.float64)  # null -> nan
        except (TypeError, ValueError):
            grid = np.zeros(0)
        if grid.shape != (n, n, n):
            raise ConfigError(f"must be a {n} x {n} x {n} grid of rates (FLOP/s, or null)", source=source,
                              key=f"{key}.{layout}")
        finite = grid[~np.isnan(grid)]
        if finite.size == 0 or not np.all(np.isfinite(finite)) or np.any(finite < MIN_RATE):
            raise ConfigError(f"rates must be finite numbers of at least {MIN_RATE:g} FLOP/s (null where not "
                              "measured), at least one", source=source, key=f"{key}.{layout}")
        if np.isnan(grid[0, 0, 0]):
            raise ConfigError("the smallest product (1 x 1 x 1) must be measured", source=source,
                              key=f"{key}.{layout}")
        rates[layout] = grid
    return rates


# -- measurement ---------------------------------------------------------------------------------------------------
def _operands(layout: str, rows: int, cols: int, inner: int, dtype: Any, rng: np.random.Generator) -> tuple[Any, Any]:
    """Operands in the layout the kernels pass them: a·b (rows×inner, inner×cols), a·bᵀ (b is cols×inner),
    aᵀ·b (a is inner×rows)."""
    a_shape = (inner, rows) if layout == "tn" else (rows, inner)
    b_shape = (cols, inner) if layout == "nt" else (inner, cols)
    return (rng.standard_normal(a_shape).astype(dtype), rng.standard_normal(b_shape).astype(dtype))


def _runner(backend: str, device: str, layout: str, rows: int, cols: int, inner: int, dtype: str,
            rng: np.random.Generator, loop: bool = False) -> Callable[[int], float]:
    """A function running the product ``count`` times and returning the elapsed seconds (numba: by its loop
    path or its BLAS path)."""
    if backend in ("numba", "numpy"):
        np_dtype = {"fp32": np.float32, "fp64": np.float64}[dtype]
        a, b = _operands(layout, rows, cols, inner, np_dtype, rng)
        if backend == "numba":
            from simtrain.calibration import _kernels_numba as kernels

            code = LAYOUTS.index(layout)

            def run(count: int) -> float:
                start = time.perf_counter()
                kernels.repeat_product(a, b, count, code, loop)
                return time.perf_counter() - start
            return run
        left = a.T if layout == "tn" else a
        right = b.T if layout == "nt" else b

        def run_numpy(count: int) -> float:
            start = time.perf_counter()
            for _ in range(count):
                np.dot(left, right)
            return time.perf_counter() - start
        return run_numpy
    return _torch_runner(device, layout, rows, cols, inner, dtype, rng)


def _torch_runner(device: str, layout: str, rows: int, cols: int, inner: int, dtype: str,
                  rng: np.random.Generator) -> Callable[[int], float]:
    import torch

    from simtrain.calibration.kernels_torch import _torch_dtype

    a_np, b_np = _operands(layout, rows, cols, inner, np.float32, rng)
    a = torch.from_numpy(a_np).to(device=device, dtype=_torch_dtype(dtype))
    b = torch.from_numpy(b_np).to(device=device, dtype=_torch_dtype(dtype))
    left = a.t() if layout == "tn" else a
    right = b.t() if layout == "nt" else b
    out = torch.empty((rows, cols), device=device, dtype=a.dtype)  # the kernels write into reused buffers

    def run(count: int) -> float:
        if device == "cuda":
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            for _ in range(count):
                torch.mm(left, right, out=out)
            end.record()
            torch.cuda.synchronize()
            return float(begin.elapsed_time(end)) / 1e3
        start = time.perf_counter()
        for _ in range(count):
            torch.mm(left, right, out=out)
        return time.perf_counter() - start
    return run


def time_gemm(backend: str, device: str, layout: str, rows: int, cols: int, inner: int, dtype: str, *,
              batch_s: float = 5e-4, repeats: int = 5, seed: int = 0, loop: bool = False) -> float:
    """Median seconds of one product: ``repeats`` batches of calls, each batch long enough (``batch_s``) that the
    clock's resolution and the per-batch dispatch vanish.

    Examples
    --------
    >>> time_gemm("numpy", "cpu", "nt", 16, 16, 16, "fp64", batch_s=1e-4, repeats=3) > 0
    True
    """
    run = _runner(backend, device, layout, rows, cols, inner, dtype, np.random.default_rng(seed), loop)
    run(1)  # warm-up: compilation, first touch of the operands
    count = max(1, math.ceil(batch_s / max(run(1), 1e-9)))
    return float(np.median([run(count) / count for _ in range(repeats)]))


def product_key(layout: str, loop: bool, rows: int, cols: int, inner: int) -> str:
    """The name of one timed product in a measurement log.

    Examples
    --------
    >>> product_key("nt", False, 16, 32, 8)
    'nt:16x32x8'
    """
    return f"{layout}{'-loop' if loop else ''}:{rows}x{cols}x{inner}"


def measure_gemm_table(backend: str, device: str, dtype: str, dims: Sequence[int], *, max_flops: float = 2.0**31,
                       batch_s: float = 5e-4, repeats: int = 5,
                       progress: Callable[[int, int], None] | None = None,
                       known: Mapping[str, float] | None = None,
                       record: Callable[[str, float], None] | None = None) -> GemmTable:
    """Time every layout on every grid point of at most ``max_flops`` FLOPs (``progress(done, total)``); for the
    numba backend also its loop path, on the points of at most 8x its loop rule's work limit (multiply-adds).

    ``known`` holds products already timed (by :func:`product_key`: seconds), which are not timed again, and
    ``record(key, seconds)`` is told of each product as it is timed: together they let an interrupted measurement
    resume where it stopped.

    Examples
    --------
    >>> table = measure_gemm_table("numpy", "cpu", "fp64", [1, 8], batch_s=1e-5, repeats=1)
    >>> table.measured_points, table.seconds(4, 4, 4, "nt") > 0
    (24, True)
    """
    n = len(dims)
    cube = [(i, j, k) for i in range(n) for j in range(n) for k in range(n)]
    points = [(i, j, k) for i, j, k in cube if 2.0 * dims[i] * dims[j] * dims[k] <= max_flops]
    rule = None
    loop_points: list[tuple[int, int, int]] = []
    if backend == "numba":
        from simtrain.calibration import _kernels_numba as kernels

        rule = (kernels.SKINNY, kernels.LOOP_WORK)
        loop_points = [(i, j, k) for i, j, k in cube if dims[i] * dims[j] * dims[k] <= 8 * kernels.LOOP_WORK]
    total = (len(points) + len(loop_points)) * len(LAYOUTS)
    done = 0

    def grid(layout: str, chosen: list[tuple[int, int, int]], loop: bool) -> np.ndarray:
        nonlocal done
        rate = np.full((n, n, n), np.nan)
        for i, j, k in chosen:
            if progress is not None:
                progress(done, total)
            key = product_key(layout, loop, dims[i], dims[j], dims[k])
            seconds = known.get(key) if known is not None else None
            if seconds is None:
                seconds = time_gemm(backend, device, layout, dims[i], dims[j], dims[k], dtype, batch_s=batch_s,
                                    repeats=repeats, seed=done, loop=loop)
                if record is not None:
                    record(key, seconds)
            rate[i, j, k] = 2.0 * dims[i] * dims[j] * dims[k] / seconds
            done += 1
        return rate

    rates = {layout: grid(layout, points, False) for layout in LAYOUTS}
    loop_rates = {layout: grid(layout, loop_points, True) for layout in LAYOUTS} if rule else None
    if progress is not None:
        progress(total, total)
    return GemmTable(tuple(int(d) for d in dims), rates, loop_rates, rule)
