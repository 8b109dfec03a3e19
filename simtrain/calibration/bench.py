"""Measure training-step kernels on real hardware: shape sweeps, warm-up, repeats, median and spread, provenance.

Backends: ``numpy`` (the reference), ``numba`` (CPU) and ``torch`` (CPU or CUDA, timed with CUDA events on a GPU).
Each sample records the shape, the median and quartiles of the step time, and the achieved FLOP/s and bytes/s.

Examples
--------
>>> s = measure("numpy", "cpu", Shape("lowrank", 64, 32, 4, 8, "fp64"), repeats=5, warmup=1)
>>> s.median_s > 0 and s.flops > 0
True
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simtrain.calibration import kernels_numpy
from simtrain.errors import ConfigError

__all__ = ["BACKENDS", "Sample", "Shape", "blas_threads", "check_shapes", "fit_shapes", "measure", "measure_bandwidth",
           "provenance", "sweep"]

BACKENDS = ("numpy", "numba", "torch")
_NUMPY_DTYPES = {"fp64": np.float64, "fp32": np.float32}
_ITEMSIZE = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2}


@dataclass(frozen=True)
class Shape:
    """One kernel configuration: kind (dense, lowrank, oialr), W is m × n, rank r, batch rows, dtype."""

    kind: str
    m: int
    n: int
    r: int
    batch: int
    dtype: str

    @property
    def flops(self) -> float:
        """FLOPs of one step."""
        return kernels_numpy.step_flops(self.kind, self.m, self.n, self.r, self.batch)

    @property
    def nbytes(self) -> float:
        """Bytes a step moves at least once."""
        return kernels_numpy.step_bytes(self.kind, self.m, self.n, self.r, self.batch, _ITEMSIZE[self.dtype])

    @property
    def min_dim(self) -> int:
        """The smallest GEMM dimension of the step (what limits a GEMM's efficiency)."""
        dims = [self.m, self.n, self.batch] + ([self.r] if self.kind != "dense" else [])
        return int(min(dims))

    def describe(self) -> str:
        """``lowrank 512x256 r=8 b=32 fp32``."""
        rank = f" r={self.r}" if self.kind != "dense" else ""
        return f"{self.kind} {self.m}x{self.n}{rank} b={self.batch} {self.dtype}"


@dataclass(frozen=True)
class Sample:
    """One measured shape."""

    backend: str
    device: str
    kind: str
    m: int
    n: int
    r: int
    batch: int
    dtype: str
    median_s: float
    q1_s: float
    q3_s: float
    repeats: int
    flops: float
    nbytes: float
    min_dim: int

    @property
    def shape(self) -> Shape:
        """The configuration measured."""
        return Shape(self.kind, self.m, self.n, self.r, self.batch, self.dtype)

    @property
    def achieved_flops_per_s(self) -> float:
        """FLOP/s at the median time."""
        return self.flops / self.median_s

    @property
    def achieved_bytes_per_s(self) -> float:
        """Bytes/s at the median time."""
        return self.nbytes / self.median_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the achieved rates."""
        data = asdict(self)
        data["achieved_flops_per_s"] = self.achieved_flops_per_s
        data["achieved_bytes_per_s"] = self.achieved_bytes_per_s
        return data


def _numpy_stepper(backend: str, shape: Shape, seed: int) -> Callable[[], None]:
    if shape.dtype not in _NUMPY_DTYPES:
        raise ConfigError(f"the {backend} backend runs fp32 and fp64", key="shape.dtype", value=shape.dtype,
                          choices=list(_NUMPY_DTYPES))
    dtype = _NUMPY_DTYPES[shape.dtype]
    rng = np.random.default_rng(seed)
    m, n, r, b = shape.m, shape.n, shape.r, shape.batch
    x = rng.standard_normal((b, n)).astype(dtype)
    t = rng.standard_normal((b, m)).astype(dtype)
    # scale in float64, then cast: a float64 scalar would promote float32 arrays under NumPy 2
    if shape.kind == "dense":
        params = [(rng.standard_normal((m, n)) / np.sqrt(n)).astype(dtype)]
    elif shape.kind == "lowrank":
        params = [(rng.standard_normal((m, r)) / np.sqrt(r)).astype(dtype),
                  (rng.standard_normal((r, n)) / np.sqrt(n)).astype(dtype)]
    else:
        params = [np.linalg.qr(rng.standard_normal((m, r)))[0].astype(dtype),
                  (rng.standard_normal((r, r)) / np.sqrt(r)).astype(dtype),
                  np.linalg.qr(rng.standard_normal((n, r)))[0].astype(dtype)]
    lr = dtype(1e-3)
    if backend == "numba":
        from simtrain.calibration import _kernels_numba as kernels

        function = getattr(kernels, f"{shape.kind}_step")

        def run() -> None:
            out = function(x, t, *params, lr)
            trained = 1 if shape.kind == "oialr" else 0
            for i in range(len(out) - 2):
                params[trained + i] = out[i]
    else:
        def run() -> None:
            out = kernels_numpy.step(shape.kind, x, t, tuple(params), lr)
            trained = 1 if shape.kind == "oialr" else 0
            for i in range(len(out) - 2):
                params[trained + i] = out[i]

    return run


def measure(backend: str, device: str, shape: Shape, *, repeats: int = 20, warmup: int = 3, seed: int = 0,
            min_time_s: float = 0.0) -> Sample:
    """Time ``repeats`` steps of ``shape`` after ``warmup`` steps; the median and quartiles.

    ``min_time_s`` raises the repeat count until the timed steps take at least that long (for tiny kernels).
    """
    if backend not in BACKENDS:
        raise ConfigError("unknown backend", key="backend", value=backend, choices=BACKENDS)
    if device not in ("cpu", "cuda"):
        raise ConfigError("unknown device", key="device", value=device, choices=["cpu", "cuda"])
    if backend == "torch":
        from simtrain.calibration.kernels_torch import TorchKernel

        kernel = TorchKernel(shape.kind, shape.m, shape.n, shape.r, shape.batch, dtype=shape.dtype, device=device,
                             seed=seed)
        times = kernel.time(repeats, warmup)
        if min_time_s and sum(times) < min_time_s:
            extra = int(np.ceil(min_time_s / max(float(np.median(times)), 1e-9)))
            times += kernel.time(extra, 0)
    else:
        if device != "cpu":
            raise ConfigError(f"the {backend} backend runs on the cpu", key="device", value=device,
                              choices=["cpu"])
        run = _numpy_stepper(backend, shape, seed)
        for _ in range(warmup):
            run()
        times = []
        total = 0.0
        while len(times) < repeats or total < min_time_s:
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            total += elapsed
    q1, median, q3 = (float(v) for v in np.percentile(times, [25, 50, 75]))
    return Sample(backend, device, shape.kind, shape.m, shape.n, shape.r, shape.batch, shape.dtype, median, q1, q3,
                  len(times), shape.flops, shape.nbytes, shape.min_dim)


def sweep(backend: str, device: str, shapes: Sequence[Shape], *, repeats: int = 20, warmup: int = 3,
          min_time_s: float = 0.05, progress: Callable[[int, int, Shape], None] | None = None) -> list[Sample]:
    """Measure every shape in turn (``progress(done, total, shape)`` is called before each)."""
    samples = []
    for index, shape in enumerate(shapes):
        if progress is not None:
            progress(index, len(shapes), shape)
        samples.append(measure(backend, device, shape, repeats=repeats, warmup=warmup, seed=index,
                               min_time_s=min_time_s))
    if progress is not None:
        progress(len(shapes), len(shapes), shapes[-1] if shapes else Shape("dense", 1, 1, 0, 1, "fp32"))
    return samples


def measure_bandwidth(backend: str, device: str, dtype: str, megabytes: int = 64, repeats: int = 7) -> float:
    """Memory bandwidth in bytes/s from a STREAM-like triad a = b + s·c (3 arrays moved), the best of ``repeats``.

    Examples
    --------
    >>> measure_bandwidth("numpy", "cpu", "fp32", megabytes=4, repeats=2) > 1e8
    True
    """
    count = megabytes * 2**20 // _ITEMSIZE[dtype]
    if backend == "torch":
        return _torch_triad(device, dtype, count, repeats)
    return _numpy_triad(dtype, count, repeats)


def _numpy_triad(dtype: str, count: int, repeats: int) -> float:
    np_dtype = _NUMPY_DTYPES.get(dtype, np.float32)
    b = np.ones(count, dtype=np_dtype)
    c = np.ones(count, dtype=np_dtype)
    a = np.empty_like(b)
    scale = np_dtype(0.5)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.multiply(c, scale, out=a)
        np.add(a, b, out=a)
        best = min(best, time.perf_counter() - start)
    # two passes: read c and write a, then read a and b and write a
    return 5 * count * a.itemsize / best


def _torch_triad(device: str, dtype: str, count: int, repeats: int) -> float:
    import torch

    torch_dtype = {"fp64": torch.float64, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    b = torch.ones(count, dtype=torch_dtype, device=device)
    c = torch.ones(count, dtype=torch_dtype, device=device)
    a = torch.empty_like(b)
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.add(b, c, alpha=0.5, out=a)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 3 * count * a.element_size() / best


def _grid(dtypes: Sequence[str], sizes: Sequence[tuple[int, int]], ranks: Sequence[int],
          batches: Sequence[int]) -> list[Shape]:
    shapes = []
    for dtype in dtypes:
        for m, n in sizes:
            for batch in batches:
                shapes.append(Shape("dense", m, n, 0, batch, dtype))
                for r in ranks:
                    if r <= min(m, n):
                        shapes.append(Shape("lowrank", m, n, r, batch, dtype))
                        if r <= 64:
                            shapes.append(Shape("oialr", m, n, r, batch, dtype))
    return shapes


def fit_shapes(dtypes: Sequence[str], quick: bool = False) -> list[Shape]:
    """Shapes the fit is made on.

    Examples
    --------
    >>> len(fit_shapes(["fp32"], quick=True)) > 10
    True
    """
    if quick:
        return _grid(dtypes, [(128, 256), (512, 512), (1024, 768)], [2, 16, 64], [8, 64])
    return _grid(dtypes, [(128, 256), (384, 384), (512, 1024), (1024, 768), (2048, 1024)], [2, 8, 32, 96],
                 [4, 32, 128])


def check_shapes(dtypes: Sequence[str], quick: bool = False) -> list[Shape]:
    """Held-out shapes (none of them in :func:`fit_shapes`) for checking a profile's accuracy."""
    if quick:
        shapes = _grid(dtypes, [(192, 320), (640, 448)], [4, 24], [16, 48])
    else:
        shapes = _grid(dtypes, [(192, 320), (640, 448), (896, 1536)], [4, 24, 48], [16, 48, 96])
    taken = set(fit_shapes(dtypes, quick=False)) | set(fit_shapes(dtypes, quick=True))
    return [s for s in shapes if s not in taken]


@contextlib.contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """Run the block with every BLAS library (NumPy's and SciPy's OpenBLAS, which numba calls) and torch limited to
    ``threads`` threads (torch only if it is already imported: import it first to pin it).

    Both OpenBLAS copies are loaded first, so the limit reaches the one numba's ``np.dot`` uses. Why pin: on a
    machine whose cores are shared, OpenBLAS threads that wait for a busy core made some products 100x slower
    (8 ms instead of 72 µs for a 2048 x 8 x 128 product with two threads on two busy cores).

    Examples
    --------
    >>> with blas_threads(1):
    ...     _ = np.ones((4, 4)) @ np.ones((4, 4))
    """
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's OpenBLAS so the limit applies to it too)
    from threadpoolctl import threadpool_limits

    torch_threads = None
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch_threads is not None:
            sys.modules["torch"].set_num_threads(torch_threads)


def provenance(backend: str, device: str, threads: int | None = None) -> dict[str, Any]:
    """Where and with what a profile was measured."""
    import numba
    import scipy

    info: dict[str, Any] = {
        "backend": backend,
        "device": device,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host_cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "blas": _blas_name(),
    }
    if threads is not None:
        info["threads"] = threads
    if backend == "torch":
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if device == "cuda":
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = config.get("Build Dependencies", {}).get("blas", {}) if isinstance(config, dict) else {}
        return str(blas.get("name", "unknown"))
    except (TypeError, AttributeError):
        return "unknown"
