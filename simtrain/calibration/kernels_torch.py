"""Torch kernels: the training steps of :mod:`simtrain.calibration.kernels_numpy` written as explicit torch matmuls.

The math, shapes and loss (½‖y − t‖² / batch) are exactly those of the NumPy reference; gradients are written out by
hand (no autograd), so a step is the same sequence of GEMMs the FLOP formulas of
:func:`~simtrain.calibration.kernels_numpy.step_flops` count. :class:`TorchKernel` holds inputs, targets and
parameters on a device (CPU or CUDA) in one precision and times steps; :func:`torch_step` runs one step on NumPy
arrays so tests can compare the torch and NumPy implementations on identical inputs.

torch is an optional dependency (``pip install simtrain[torch]``): it is imported only when a kernel is built, and
importing this module never needs it. Intermediate buffers are allocated once per kernel and reused, so timed steps
do not pay for large allocations (on CPU these would page-fault freshly mapped memory on every step).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x, t = rng.standard_normal((8, 20)), rng.standard_normal((8, 12))
>>> A, B = rng.standard_normal((12, 3)), rng.standard_normal((3, 20))
>>> A2, B2, dx, loss = torch_step("lowrank", x, t, (A, B), 0.1)
>>> ref = kernels_numpy.step("lowrank", x, t, (A, B), 0.1)
>>> bool(np.allclose(A2, ref[0]) and np.allclose(dx, ref[2]) and np.isclose(loss, ref[3]))
True
"""

from __future__ import annotations

import importlib.util
import math
import time as _time
from typing import TYPE_CHECKING, Any

import numpy as np

from simtrain.calibration import kernels_numpy

if TYPE_CHECKING:
    import torch
    from torch import Tensor

__all__ = ["DTYPES", "TIMING_LR", "TorchKernel", "cuda_available", "torch_available", "torch_step"]

#: Precision names and their element size in bytes.
DTYPES: dict[str, int] = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2}

#: Learning rate :meth:`TorchKernel.time` uses by default: non-zero (a zero ``alpha`` may let BLAS skip the update
#: GEMM) but small enough that parameters never diverge however long the kernel is timed.
TIMING_LR = 1e-6

_INSTALL_HINT = "the torch kernels need PyTorch; install it with `pip install simtrain[torch]`"


def torch_available() -> bool:
    """Whether torch can be imported.

    Examples
    --------
    >>> isinstance(torch_available(), bool)
    True
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def cuda_available() -> bool:
    """Whether torch is importable and sees a CUDA device (False without torch).

    Examples
    --------
    >>> cuda_available() in (True, False)
    True
    >>> cuda_available() == (torch_available() and __import__("torch").cuda.is_available())
    True
    """
    if not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


def _torch() -> Any:
    """Import torch, or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return torch


def _torch_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {sorted(DTYPES)}")
    torch = _torch()
    return {"fp64": torch.float64, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


def _check_kind(kind: str) -> None:
    if kind not in kernels_numpy.KINDS:
        raise ValueError(f"unknown kernel kind {kind!r}; expected one of {kernels_numpy.KINDS}")


def _trained(kind: str, params: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return (params[1],) if kind == "oialr" else params


def _workspace(kind: str, x: Tensor, t: Tensor, params: tuple[Tensor, ...]) -> dict[str, Any]:
    """Preallocated intermediates of one step (same dtype and device as ``x``)."""
    torch = _torch()
    batch, n = x.shape
    m = t.shape[1]

    def buf(*shape: int) -> Tensor:
        return torch.empty(shape, dtype=x.dtype, device=x.device)

    ws = {"y": buf(batch, m), "dx": buf(batch, n)}
    if kind == "lowrank":
        r = params[0].shape[1]
        ws.update(h=buf(batch, r), dh=buf(batch, r))
    elif kind == "oialr":
        r = params[1].shape[0]
        ws.update(h1=buf(batch, r), h2=buf(batch, r), dh2=buf(batch, r), dh1=buf(batch, r))
    return ws


def _step_inplace(kind: str, x: Tensor, t: Tensor, params: tuple[Tensor, ...], lr: float,
                  ws: dict[str, Any]) -> None:
    """One step: the trained parameters are updated in place, ``ws["y"]`` holds g = (y − t)/batch, ``ws["dx"]`` dx.

    Every gradient is computed from the parameters before the update, as in the NumPy reference.
    """
    torch = _torch()
    batch = x.shape[0]
    if kind == "dense":
        (W,) = params
        g = torch.mm(x, W.t(), out=ws["y"]).sub_(t).div_(batch)
        torch.mm(g, W, out=ws["dx"])
        W.addmm_(g.t(), x, alpha=-lr)
    elif kind == "lowrank":
        A, B = params
        h = torch.mm(x, B.t(), out=ws["h"])
        g = torch.mm(h, A.t(), out=ws["y"]).sub_(t).div_(batch)
        dh = torch.mm(g, A, out=ws["dh"])
        torch.mm(dh, B, out=ws["dx"])
        A.addmm_(g.t(), h, alpha=-lr)
        B.addmm_(dh.t(), x, alpha=-lr)
    elif kind == "oialr":
        U, S, V = params
        h1 = torch.mm(x, V, out=ws["h1"])
        h2 = torch.mm(h1, S.t(), out=ws["h2"])
        g = torch.mm(h2, U.t(), out=ws["y"]).sub_(t).div_(batch)
        dh2 = torch.mm(g, U, out=ws["dh2"])
        dh1 = torch.mm(dh2, S, out=ws["dh1"])
        torch.mm(dh1, V.t(), out=ws["dx"])
        S.addmm_(dh2.t(), h1, alpha=-lr)
    else:
        raise ValueError(f"unknown kernel kind {kind!r}")


def _loss_from_g(g: Tensor) -> float:
    """½‖y − t‖²/batch from g = (y − t)/batch, accumulated in float64."""
    batch = g.shape[0]
    return float(0.5 * batch * g.double().square().sum().item())


def _forward_residual(kind: str, x: Tensor, t: Tensor, params: tuple[Tensor, ...]) -> Tensor:
    if kind == "dense":
        y = x @ params[0].t()
    elif kind == "lowrank":
        y = (x @ params[1].t()) @ params[0].t()
    else:
        U, S, V = params
        y = ((x @ V) @ S.t()) @ U.t()
    return (y - t) / x.shape[0]


def torch_step(kind: str, x: np.ndarray, t: np.ndarray, params: tuple[np.ndarray, ...], lr: float, *,
               dtype: str = "fp64", device: str = "cpu") -> tuple[Any, ...]:
    """One step of the torch kernel on NumPy arrays, laid out like :func:`kernels_numpy.step`.

    The arrays are copied into torch tensors of ``dtype`` on ``device`` (float64 on the CPU by default; the inputs
    are never modified), the step runs exactly as in :meth:`TorchKernel.step`, and the results come back as float64
    NumPy arrays.

    Parameters
    ----------
    kind : {"dense", "lowrank", "oialr"}
        The layer.
    x, t : numpy.ndarray
        Input (batch × n) and target (batch × m).
    params : tuple of numpy.ndarray
        (W,), (A, B) or (U, S, V), as for :func:`kernels_numpy.step`.
    lr : float
        Learning rate.
    dtype : {"fp64", "fp32", "fp16", "bf16"}
        Precision the step is computed in.
    device : {"cpu", "cuda"}
        Where it is computed.

    Returns
    -------
    tuple
        The new trained parameters (W; A, B; or S), then dx, then the loss (float) before the update.

    Examples
    --------
    >>> W2, dx, loss = torch_step("dense", np.ones((2, 3)), np.zeros((2, 1)), (np.ones((1, 3)),), 0.5)
    >>> W2.tolist(), dx.shape, round(loss, 6)
    ([[-0.5, -0.5, -0.5]], (2, 3), 4.5)
    """
    _check_kind(kind)
    torch = _torch()
    tdtype = _torch_dtype(dtype)
    dev = _check_device(device)

    def to_tensor(a: np.ndarray) -> Tensor:
        return torch.tensor(np.asarray(a, dtype=np.float64), dtype=tdtype, device=dev)

    xt, tt = to_tensor(x), to_tensor(t)
    pt = tuple(to_tensor(p) for p in params)
    ws = _workspace(kind, xt, tt, pt)
    _step_inplace(kind, xt, tt, pt, lr, ws)
    new = tuple(_to_numpy(p) for p in _trained(kind, pt))
    return (*new, _to_numpy(ws["dx"]), _loss_from_g(ws["y"]))


def _to_numpy(a: Tensor) -> np.ndarray:
    """A float64 NumPy copy (never a view of the tensor's memory, which later steps overwrite)."""
    return a.detach().to(device="cpu", dtype=_torch().float64, copy=True).numpy()


def _check_device(device: str) -> str:
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; expected 'cpu' or 'cuda'")
    if device == "cuda" and not cuda_available():
        raise RuntimeError("device='cuda' requested but torch sees no CUDA device")
    return device


class TorchKernel:
    """A dense, low-rank or OIALR layer's training step held on a torch device, for timing.

    Inputs, targets and parameters are drawn once from a seeded :class:`torch.Generator` on the device (standard
    normal, parameters scaled by 1/sqrt(fan_in) so activations stay O(1)) and stored in ``dtype``. Each
    :meth:`step` is one SGD step of :mod:`~simtrain.calibration.kernels_numpy`'s math on the same fixed batch.

    Parameters
    ----------
    kind : {"dense", "lowrank", "oialr"}
        The layer: W (m × n); A (m × r), B (r × n); or U (m × r), S (r × r), V (n × r) with only S trained.
    m, n : int
        Output and input features.
    r : int
        Rank (ignored by "dense", which may pass 0).
    batch : int
        Rows of the input.
    dtype : {"fp32", "fp16", "bf16", "fp64"}
        Precision of every tensor and matmul.
    device : {"cpu", "cuda"}
        Where the tensors live and the step runs.
    seed : int
        Seed of the generator that draws the tensors.

    Examples
    --------
    >>> k = TorchKernel("lowrank", m=12, n=20, r=3, batch=8, dtype="fp64", seed=0)
    >>> before = k.loss()
    >>> for _ in range(10):
    ...     k.step(0.05)
    >>> k.loss() < before
    True
    >>> x, t, (A, B) = k.arrays()
    >>> x.shape, t.shape, A.shape, B.shape
    ((8, 20), (8, 12), (12, 3), (3, 20))
    >>> len(k.time(repeats=3, warmup=1))
    3
    >>> k.flops == kernels_numpy.step_flops("lowrank", 12, 20, 3, 8)
    True
    >>> k.bytes == kernels_numpy.step_bytes("lowrank", 12, 20, 3, 8, itemsize=8)
    True
    >>> TorchKernel("dense", 256, 256, 0, 64, device="cuda").time(10, 3)  # doctest: +SKIP
    [...]
    """

    def __init__(self, kind: str, m: int, n: int, r: int, batch: int, dtype: str = "fp32", device: str = "cpu",
                 seed: int = 0) -> None:
        _check_kind(kind)
        if min(m, n, batch) < 1:
            raise ValueError(f"m, n and batch must be positive, got m={m}, n={n}, batch={batch}")
        if kind != "dense" and r < 1:
            raise ValueError(f"{kind} needs a rank r >= 1, got {r}")
        torch = _torch()
        self.kind, self.m, self.n, self.r, self.batch = kind, int(m), int(n), int(r), int(batch)
        self.dtype, self.device, self.seed = dtype, _check_device(device), int(seed)
        self._torch_dtype = _torch_dtype(dtype)

        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.seed)
        draw_dtype = torch.float64 if dtype == "fp64" else torch.float32

        def draw(rows: int, cols: int, scale: float = 1.0) -> Tensor:
            a = torch.randn((rows, cols), generator=gen, device=self.device, dtype=draw_dtype)
            return a.mul_(scale).to(self._torch_dtype).contiguous()

        self._x = draw(batch, n)
        self._t = draw(batch, m)
        if kind == "dense":
            self._params: tuple[Tensor, ...] = (draw(m, n, 1 / math.sqrt(n)),)
        elif kind == "lowrank":
            self._params = (draw(m, r, 1 / math.sqrt(r)), draw(r, n, 1 / math.sqrt(n)))
        else:
            self._params = (draw(m, r, 1 / math.sqrt(r)), draw(r, r, 1 / math.sqrt(r)), draw(n, r, 1 / math.sqrt(n)))
        self._ws = _workspace(kind, self._x, self._t, self._params)

    def __repr__(self) -> str:
        return (f"TorchKernel({self.kind!r}, m={self.m}, n={self.n}, r={self.r}, batch={self.batch}, "
                f"dtype={self.dtype!r}, device={self.device!r}, seed={self.seed})")

    def step(self, lr: float) -> None:
        """One training step, updating the trained parameters in place; returns nothing and never synchronises.

        Examples
        --------
        >>> k = TorchKernel("oialr", 6, 5, 2, 4, dtype="fp64")
        >>> S = k.arrays()[2][1]
        >>> k.step(0.1)
        >>> bool(np.any(k.arrays()[2][1] != S))
        True
        """
        _step_inplace(self.kind, self._x, self._t, self._params, lr, self._ws)

    def loss(self) -> float:
        """½‖y − t‖²/batch at the current parameters (a forward pass; synchronises, keep it out of timing loops).

        Examples
        --------
        >>> k = TorchKernel("dense", 3, 4, 0, 2, dtype="fp64")
        >>> x, t, (W,) = k.arrays()
        >>> bool(np.isclose(k.loss(), 0.5 * np.sum((x @ W.T - t) ** 2) / 2))
        True
        """
        return _loss_from_g(_forward_residual(self.kind, self._x, self._t, self._params))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """Current (x, t, params) as float64 NumPy copies; ``params`` is (W,), (A, B) or (U, S, V).

        Examples
        --------
        >>> x, t, (U, S, V) = TorchKernel("oialr", 6, 5, 2, 4).arrays()
        >>> x.shape, t.shape, U.shape, S.shape, V.shape, x.dtype
        ((4, 5), (4, 6), (6, 2), (2, 2), (5, 2), dtype('float64'))
        """
        return _to_numpy(self._x), _to_numpy(self._t), tuple(_to_numpy(p) for p in self._params)

    def time(self, repeats: int, warmup: int, *, lr: float = TIMING_LR, threads: int | None = None) -> list[float]:
        """Seconds taken by each of ``repeats`` steps, after ``warmup`` untimed steps.

        On CUDA each step is bracketed by a pair of ``torch.cuda.Event(enable_timing=True)`` and the device is
        synchronised once after the warm-up and once at the end; on the CPU each step is timed with
        :func:`time.perf_counter`.

        Parameters
        ----------
        repeats : int
            Timed steps (>= 1).
        warmup : int
            Untimed steps run first (>= 0).
        lr : float
            Learning rate of the steps (default :data:`TIMING_LR`).
        threads : int, optional
            If given, ``torch.set_num_threads(threads)`` for the duration of the call (restored afterwards).

        Returns
        -------
        list of float
            One duration per timed step, in seconds.

        Examples
        --------
        >>> ts = TorchKernel("dense", 8, 8, 0, 4).time(repeats=4, warmup=2, threads=1)
        >>> len(ts), all(s > 0 for s in ts)
        (4, True)
        """
        if repeats < 1 or warmup < 0:
            raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
        torch = _torch()
        previous_threads = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(int(threads))
        try:
            for _ in range(warmup):
                self.step(lr)
            if self.device == "cuda":
                return self._time_cuda(repeats, lr)
            times = []
            for _ in range(repeats):
                start = _time.perf_counter()
                self.step(lr)
                times.append(_time.perf_counter() - start)
            return times
        finally:
            if threads is not None:
                torch.set_num_threads(previous_threads)

    def _time_cuda(self, repeats: int, lr: float) -> list[float]:
        torch = _torch()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
        torch.cuda.synchronize()
        for start, end in zip(starts, ends):
            start.record()
            self.step(lr)
            end.record()
        torch.cuda.synchronize()
        return [start.elapsed_time(end) / 1e3 for start, end in zip(starts, ends)]

    @property
    def flops(self) -> float:
        """FLOPs of one step, :func:`kernels_numpy.step_flops`."""
        return kernels_numpy.step_flops(self.kind, self.m, self.n, self.r, self.batch)

    @property
    def bytes(self) -> float:
        """Minimum bytes one step moves, :func:`kernels_numpy.step_bytes` with this dtype's element size."""
        return kernels_numpy.step_bytes(self.kind, self.m, self.n, self.r, self.batch, DTYPES[self.dtype])


def _skip_all_examples(doc: str | None) -> str | None:
    """``doc`` with every example marked ``+SKIP``."""
    if not doc:
        return doc
    return "\n".join(line + "  # doctest: +SKIP" if line.lstrip().startswith(">>> ") and "doctest:" not in line
                     else line for line in doc.split("\n"))


# The examples below need torch: without it they are skipped, with it (as in CI) they run unchanged.
if importlib.util.find_spec("torch") is None:
    __doc__ = _skip_all_examples(__doc__) or ""
    for _obj in (torch_step, TorchKernel, TorchKernel.step, TorchKernel.loss, TorchKernel.arrays, TorchKernel.time):
        _obj.__doc__ = _skip_all_examples(_obj.__doc__)
