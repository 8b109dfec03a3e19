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

A profile calibrated on another machine, and a pricing of the element-wise layers by a fitted bandwidth, miss what
a small model's pass on a CPU spends most of its time on (NumPy's per-call cost of im2col, pooling, softmax and
the like). :class:`PassCosts` therefore predicts a pass *on the machine that trains*, from two parts timed apart
from the run: every GEMM the pass calls, timed by :func:`simtrain.calibration.gemm_table.time_gemm` (the very
product and path ``simtrain calibrate`` times, at that shape), and the non-GEMM work of the pass, timed by running
the pass with its GEMMs replaced by zero-filled outputs of their shapes.

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
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from simtrain.compute import ComputeModel
from simtrain.model.spec import Layer, ModelSpec, Tensor

__all__ = ["OpCosts", "PassCosts", "clock", "factor_layers", "layer_time", "step_compute_time"]

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
    if layer.recurrence is not None:   # its steps' products are not one GEMM's two factors
        raise ValueError(f"layer {layer.name} is recurrent: its weights are not factorised")
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


class _StubBackend:
    """A GEMM backend that computes nothing: each product returns zeros of its output shape and is recorded as
    ``(layout, rows, cols, inner)`` in the calibration kernels' convention (a (rows × inner)·(inner × cols))."""

    def __init__(self, name: str, device: str) -> None:
        self.name, self.device = name, device
        self.calls: list[tuple[str, int, int, int]] = []

    def _out(self, layout: str, rows: int, cols: int, inner: int, dtype: Any) -> np.ndarray:
        self.calls.append((layout, rows, cols, inner))
        out = np.empty((rows, cols), dtype=dtype)
        out.fill(0)     # written, as a product writes it (np.zeros of a large array would map the shared zero page)
        return out

    def nt(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)     # as the real backend does
        return self._out("nt", a.shape[0], b.shape[0], a.shape[1], np.result_type(a, b))

    def nn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        return self._out("nn", a.shape[0], b.shape[1], a.shape[1], np.result_type(a, b))

    def tn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        return self._out("tn", a.shape[1], b.shape[1], a.shape[0], np.result_type(a, b))


#: The clock of compute: CPU seconds of this process. The machine is shared; wall-clock would count the time other
#: processes hold the core, CPU time counts only the work (with BLAS pinned to one thread, the work of one core).
clock = time.process_time


def _median_time(run: Callable[[], Any], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = clock()
        run()
        times.append(clock() - start)
    return float(np.median(times))


def _numba_gemm_seconds(layout: str, rows: int, cols: int, inner: int, batch_s: float, repeats: int) -> float:
    """CPU seconds of one product by the compiled numba kernel ``simtrain calibrate`` times, called from Python as
    training calls it (its dispatch included; the kernel's own loop rule picks BLAS or loops), on operands built as
    :mod:`simtrain.calibration.gemm_table` builds them."""
    from simtrain.calibration import _kernels_numba as kernels
    from simtrain.calibration.gemm_table import _operands

    a, b = _operands(layout, rows, cols, inner, np.float32, np.random.default_rng(0))
    product = {"nt": kernels._a_bt, "nn": kernels._a_b, "tn": kernels._at_b}[layout]
    product(a, b)        # compile, first touch
    start = clock()
    product(a, b)
    count = max(1, int(batch_s / max(clock() - start, 1e-7)))

    def run() -> None:
        for _ in range(count):
            product(a, b)
    return _median_time(run, repeats, warmup=0) / count


class PassCosts:
    """Seconds of one forward and backward pass of a :class:`~simtrain.lowrank.nets.Net`, predicted on this
    machine from parts timed apart from the run.

    ``gemm``: each product the pass calls, at the shapes read from the pass itself, timed on the net's backend as
    ``simtrain calibrate`` times it (numba: the compiled product, called from Python as the pass calls it; torch:
    :func:`~simtrain.calibration.gemm_table.time_gemm`'s ``torch.mm``). ``other``: the pass with every GEMM
    replaced by a zero-filled output of its shape (im2col and col2im, bias, ReLU, pooling, LayerNorm, attention's
    batched products, softmax, the Python between them).
    Both are memoised per parametrisation (which weights are dense, ``A·B`` or ``U·S·Vᵀ`` at which ranks) and
    batch: the object is a run's explicit cache, one per run. Times are CPU seconds of the process (:data:`clock`),
    as :mod:`simtrain.lowrank.train` measures its passes (torch's GEMMs: wall-clock, CUDA events on a GPU).

    Parameters
    ----------
    repeats : int
        Timings whose median is taken (passes without GEMMs; batches of each GEMM).
    batch_s : float
        Length of one batch of calls of a GEMM (:func:`~simtrain.calibration.gemm_table.time_gemm`).

    Examples
    --------
    >>> from simtrain.lowrank.nets import Backend, Net
    >>> net = Net("cnn-digits", Backend("numba"), seed=0)
    >>> costs = PassCosts(repeats=3, batch_s=1e-5)
    >>> x, y = np.zeros((4, 16, 16), dtype=np.float32), np.arange(4)
    >>> gemm, other = costs.parts(net, x, y)
    >>> gemm > 0 and other > 0 and costs.predict(net, x, y) == gemm + other
    True
    >>> len(costs.gemms(net, x, y))        # 5 layers forward, 5 weight gradients, 4 input gradients
    14
    """

    def __init__(self, repeats: int = 7, batch_s: float = 2e-4) -> None:
        self.repeats, self.batch_s = repeats, batch_s
        self._gemm: dict[tuple[str, int, int, int], float] = {}
        self._passes: dict[tuple[Any, ...], tuple[list[tuple[str, int, int, int]], float]] = {}

    @staticmethod
    def _key(net: Any, x: np.ndarray) -> tuple[Any, ...]:
        factors = tuple(sorted((n, tuple(sorted((k, v.shape) for k, v in f.items())))
                               for n, f in net.params.factors.items()))
        return net.name, net.backend.name, x.shape, factors

    def _pass(self, net: Any, x: np.ndarray, y: np.ndarray) -> tuple[list[tuple[str, int, int, int]], float]:
        key = self._key(net, x)
        hit = self._passes.get(key)
        if hit is None:
            real = net.backend
            stub = _StubBackend(real.name, real.device)
            net.backend = stub
            try:
                net.loss_and_grads(x, y)
                calls = list(stub.calls)
                other = _median_time(lambda: net.loss_and_grads(x, y), self.repeats)
            finally:
                net.backend = real
            hit = self._passes[key] = (calls, other)
        return hit

    def gemms(self, net: Any, x: np.ndarray, y: np.ndarray) -> list[tuple[str, int, int, int]]:
        """The products one pass calls, ``(layout, rows, cols, inner)`` in order."""
        return self._pass(net, x, y)[0]

    def gemm_time(self, backend: str, device: str, layout: str, rows: int, cols: int, inner: int) -> float:
        """Seconds of one product on this machine (memoised by shape)."""
        from simtrain.calibration.gemm_table import time_gemm

        key = (layout, rows, cols, inner)
        hit = self._gemm.get(key)
        if hit is None:
            hit = self._gemm[key] = (
                _numba_gemm_seconds(layout, rows, cols, inner, self.batch_s, self.repeats) if backend == "numba"
                else time_gemm(backend, device, layout, rows, cols, inner, "fp32", batch_s=self.batch_s,
                               repeats=self.repeats))
        return hit

    def parts(self, net: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(GEMM seconds, non-GEMM seconds) of one pass of ``net`` on the batch ``x``, ``y``."""
        calls, other = self._pass(net, x, y)
        be = net.backend
        return sum(self.gemm_time(be.name, be.device, *c) for c in calls), other

    def predict(self, net: Any, x: np.ndarray, y: np.ndarray) -> float:
        """Predicted seconds of one forward and backward pass."""
        gemm, other = self.parts(net, x, y)
        return gemm + other


class OpCosts:
    """CPU seconds of operations timed apart from the run (median of ``repeats``), memoised by a key: a run's codec
    work per tensor shape, priced before it is used.

    Examples
    --------
    >>> costs = OpCosts(repeats=3)
    >>> x = np.ones(1000, dtype=np.float32)
    >>> first = costs.seconds(("sum", 1000), lambda: x.sum)
    >>> first > 0 and costs.seconds(("sum", 1000), lambda: x.sum) == first    # the key's first timing is kept
    True
    """

    def __init__(self, repeats: int = 7) -> None:
        self.repeats = repeats
        self._memo: dict[Any, float] = {}

    def seconds(self, key: Any, make: Callable[[], Callable[[], Any]]) -> float:
        """Seconds of one call of the operation ``make()`` builds (built and timed the first time ``key`` is seen)."""
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = _median_time(make(), self.repeats)
        return hit
