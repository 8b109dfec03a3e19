"""The torch kernels against the NumPy reference (float64 to 1e-10, float32 to 1e-4) and TorchKernel's interface."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from simtrain.calibration import kernels_numpy  # noqa: E402
from simtrain.calibration.kernels_torch import (  # noqa: E402
    DTYPES,
    TIMING_LR,
    TorchKernel,
    cuda_available,
    torch_available,
    torch_step,
)

# (m, n, r, batch): square, non-square both ways, rank 1, batch 1.
SHAPES = [(16, 16, 4, 8), (12, 20, 3, 5), (30, 7, 2, 9), (9, 11, 1, 6), (10, 14, 3, 1), (5, 8, 1, 1)]
KINDS = kernels_numpy.KINDS
requires_cuda = pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU visible to torch")


def _problem(kind: str, m: int, n: int, r: int, batch: int, seed: int,
             dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n))
    t = rng.standard_normal((batch, m))
    if kind == "dense":
        params: tuple[np.ndarray, ...] = (rng.standard_normal((m, n)) / np.sqrt(n),)
    elif kind == "lowrank":
        params = (rng.standard_normal((m, r)) / np.sqrt(r), rng.standard_normal((r, n)) / np.sqrt(n))
    else:
        params = (rng.standard_normal((m, r)) / np.sqrt(r), rng.standard_normal((r, r)) / np.sqrt(r),
                  rng.standard_normal((n, r)) / np.sqrt(n))
    return x.astype(dtype), t.astype(dtype), tuple(p.astype(dtype) for p in params)


def _assert_step_close(got: tuple, ref: tuple, rtol: float, atol_scale: float) -> None:
    assert len(got) == len(ref)
    for g, r in zip(got[:-1], ref[:-1]):
        assert g.shape == r.shape
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol_scale * np.max(np.abs(r)))
    assert isinstance(got[-1], float)
    np.testing.assert_allclose(got[-1], ref[-1], rtol=rtol)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "m{}-n{}-r{}-b{}".format(*s))
@pytest.mark.parametrize("kind", KINDS)
def test_torch_step_matches_numpy_float64(kind: str, shape: tuple[int, int, int, int]) -> None:
    x, t, params = _problem(kind, *shape, seed=sum(shape))
    copies = [a.copy() for a in (x, t, *params)]
    got = torch_step(kind, x, t, params, 0.1)
    ref = kernels_numpy.step(kind, x, t, params, 0.1)
    _assert_step_close(got, ref, rtol=1e-10, atol_scale=1e-12)
    for before, after in zip(copies, (x, t, *params)):  # the inputs are not modified
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "m{}-n{}-r{}-b{}".format(*s))
@pytest.mark.parametrize("kind", KINDS)
def test_torch_step_matches_numpy_float32(kind: str, shape: tuple[int, int, int, int]) -> None:
    x, t, params = _problem(kind, *shape, seed=7 * sum(shape), dtype=np.float32)
    got = torch_step(kind, x, t, params, 0.1, dtype="fp32")
    ref = kernels_numpy.step(kind, x.astype(np.float64), t.astype(np.float64),
                             tuple(p.astype(np.float64) for p in params), 0.1)
    _assert_step_close(got, ref, rtol=1e-4, atol_scale=1e-4)


@pytest.mark.parametrize("dtype,tol", [("fp16", 2e-2), ("bf16", 1e-1)])
@pytest.mark.parametrize("kind", KINDS)
def test_torch_step_half_precision_on_cpu(kind: str, dtype: str, tol: float) -> None:
    # fp16 and bf16 matmuls run on the CPU too; inputs rounded to the format, results within its precision.
    x, t, params = _problem(kind, 12, 20, 3, 8, seed=3)
    rounded = [torch.tensor(a).to({"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]).double().numpy()
               for a in (x, t, *params)]
    x, t, params = rounded[0], rounded[1], tuple(rounded[2:])
    got = torch_step(kind, x, t, params, 0.1, dtype=dtype)
    ref = kernels_numpy.step(kind, x, t, params, 0.1)
    _assert_step_close(got, ref, rtol=tol, atol_scale=tol)


def test_torch_step_rejects_bad_arguments() -> None:
    x, t, params = _problem("dense", 4, 3, 0, 2, seed=0)
    with pytest.raises(ValueError, match="kind"):
        torch_step("conv", x, t, params, 0.1)
    with pytest.raises(ValueError, match="dtype"):
        torch_step("dense", x, t, params, 0.1, dtype="int8")
    with pytest.raises(ValueError, match="device"):
        torch_step("dense", x, t, params, 0.1, device="tpu")


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_step_matches_numpy_reference(kind: str) -> None:
    k = TorchKernel(kind, m=12, n=20, r=3, batch=8, dtype="fp64", seed=1)
    x, t, params = k.arrays()
    ref = kernels_numpy.step(kind, x, t, params, 0.05)
    k.step(0.05)
    x2, t2, params2 = k.arrays()
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(t2, t)
    trained = params2[1:2] if kind == "oialr" else params2
    for got, want in zip(trained, ref[:-2]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.max(np.abs(want)))
    if kind == "oialr":  # U and V are frozen
        np.testing.assert_array_equal(params2[0], params[0])
        np.testing.assert_array_equal(params2[2], params[2])


@pytest.mark.parametrize("dtype", ["fp64", "fp32", "fp16", "bf16"])
@pytest.mark.parametrize("kind", KINDS)
def test_kernel_learns(kind: str, dtype: str) -> None:
    k = TorchKernel(kind, m=10, n=16, r=4, batch=8, dtype=dtype, seed=2)
    losses = [k.loss()]
    for _ in range(5):
        for _ in range(4):
            k.step(0.05)
        losses.append(k.loss())
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.9 * losses[0]
    if dtype in ("fp64", "fp32"):
        assert all(b < a for a, b in itertools.pairwise(losses))


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_loss_is_reference_loss(kind: str) -> None:
    k = TorchKernel(kind, m=9, n=6, r=2, batch=5, dtype="fp64", seed=4)
    x, t, params = k.arrays()
    ref_loss = kernels_numpy.step(kind, x, t, params, 0.1)[-1]
    assert k.loss() == pytest.approx(ref_loss, rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_arrays_shapes_and_values(kind: str) -> None:
    m, n, r, batch = 11, 7, 3, 5
    k = TorchKernel(kind, m, n, r, batch, dtype="fp32", seed=3)
    x, t, params = k.arrays()
    expected = {"dense": [(m, n)], "lowrank": [(m, r), (r, n)], "oialr": [(m, r), (r, r), (n, r)]}[kind]
    assert x.shape == (batch, n)
    assert t.shape == (batch, m)
    assert [p.shape for p in params] == expected
    for a in (x, t, *params):
        assert a.dtype == np.float64
        assert np.all(np.isfinite(a))
        assert np.count_nonzero(a) == a.size  # random values, never zeros
        assert np.max(np.abs(a)) < 10  # O(1): parameters scaled by 1/sqrt(fan_in)


def test_kernel_is_seeded() -> None:
    a = TorchKernel("lowrank", 8, 6, 2, 4, seed=5).arrays()
    b = TorchKernel("lowrank", 8, 6, 2, 4, seed=5).arrays()
    c = TorchKernel("lowrank", 8, 6, 2, 4, seed=6).arrays()
    for u, v in zip((a[0], a[1], *a[2]), (b[0], b[1], *b[2])):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16", "fp64"])
def test_kernel_tensors_have_requested_dtype(dtype: str) -> None:
    k = TorchKernel("oialr", 8, 6, 2, 4, dtype=dtype)
    expected = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64}[dtype]
    assert {p.dtype for p in (k._x, k._t, *k._params)} == {expected}
    assert {p.device.type for p in (k._x, k._t, *k._params)} == {"cpu"}


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_time_cpu(kind: str) -> None:
    k = TorchKernel(kind, 16, 12, 3, 4, seed=0)
    threads = torch.get_num_threads()
    times = k.time(repeats=5, warmup=2, threads=1)
    assert len(times) == 5
    assert all(isinstance(s, float) and s > 0 for s in times)
    assert torch.get_num_threads() == threads  # restored
    assert len(k.time(repeats=1, warmup=0)) == 1
    with pytest.raises(ValueError, match="repeats"):
        k.time(repeats=0, warmup=1)


def test_kernel_time_changes_parameters_slightly() -> None:
    k = TorchKernel("dense", 8, 8, 0, 4, dtype="fp64")
    (w0,) = k.arrays()[2]
    k.time(repeats=3, warmup=2)
    (w1,) = k.arrays()[2]
    assert not np.array_equal(w0, w1)  # the update GEMM really ran
    assert np.max(np.abs(w1 - w0)) < 1e3 * TIMING_LR * np.max(np.abs(w0)) * 8


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16", "fp64"])
def test_kernel_flops_and_bytes(kind: str, dtype: str) -> None:
    m, n, r, batch = 24, 40, 5, 16
    k = TorchKernel(kind, m, n, r, batch, dtype=dtype)
    assert k.flops == kernels_numpy.step_flops(kind, m, n, r, batch)
    assert k.bytes == kernels_numpy.step_bytes(kind, m, n, r, batch, DTYPES[dtype])
    assert DTYPES[dtype] == torch.tensor([], dtype=k._torch_dtype).element_size()


def test_kernel_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kind"):
        TorchKernel("conv", 4, 4, 2, 2)
    with pytest.raises(ValueError, match="rank"):
        TorchKernel("lowrank", 4, 4, 0, 2)
    with pytest.raises(ValueError, match="positive"):
        TorchKernel("dense", 4, 0, 0, 2)
    with pytest.raises(ValueError, match="dtype"):
        TorchKernel("dense", 4, 4, 0, 2, dtype="fp8")
    with pytest.raises(ValueError, match="device"):
        TorchKernel("dense", 4, 4, 0, 2, device="mps")
    assert "lowrank" in repr(TorchKernel("lowrank", 4, 4, 2, 2))


def test_dense_accepts_zero_rank() -> None:
    k = TorchKernel("dense", 6, 5, 0, 3)
    assert k.flops == kernels_numpy.step_flops("dense", 6, 5, 0, 3)


def test_availability_flags() -> None:
    assert torch_available() is True
    assert cuda_available() is bool(torch.cuda.is_available())


@pytest.mark.skipif(cuda_available(), reason="checks the error raised without a CUDA device")
def test_cuda_request_without_gpu_raises() -> None:
    with pytest.raises(RuntimeError, match="CUDA"):
        TorchKernel("dense", 4, 4, 0, 2, device="cuda")


def test_module_imports_and_doctests_skip_without_torch() -> None:
    # Blocking the torch import simulates a machine without it: the module imports, the flags say False, building a
    # kernel raises an ImportError that names the extra, and every torch-needing doctest example is skipped.
    code = (
        "import sys, doctest\n"
        "sys.modules['torch'] = None\n"
        "import simtrain.calibration.kernels_torch as k\n"
        "assert not k.torch_available() and not k.cuda_available()\n"
        "try:\n"
        "    k.TorchKernel('dense', 4, 4, 0, 2)\n"
        "except ImportError as e:\n"
        "    assert 'simtrain[torch]' in str(e)\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
        "r = doctest.testmod(k)\n"
        "print(r.failed, r.attempted)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    failed, attempted = map(int, proc.stdout.split())
    assert failed == 0
    assert attempted >= 2  # the torch-free examples (torch_available, cuda_available) still run


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_kernel_times_and_matches_cpu_reference(kind: str) -> None:
    k = TorchKernel(kind, m=96, n=64, r=8, batch=32, dtype="fp32", device="cuda", seed=0)
    assert {p.device.type for p in (k._x, k._t, *k._params)} == {"cuda"}
    x, t, params = k.arrays()
    ref = kernels_numpy.step(kind, x, t, params, 0.05)
    assert k.loss() == pytest.approx(ref[-1], rel=1e-4)
    k.step(0.05)
    trained = k.arrays()[2][1:2] if kind == "oialr" else k.arrays()[2]
    for got, want in zip(trained, ref[:-2]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.max(np.abs(want)))
    got_step = torch_step(kind, x, t, params, 0.05, dtype="fp32", device="cuda")
    _assert_step_close(got_step, ref, rtol=1e-4, atol_scale=1e-4)
    times = k.time(repeats=5, warmup=2)
    assert len(times) == 5
    assert all(isinstance(s, float) and s > 0 for s in times)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, requires_cuda])])
def test_gemm_table_measures_torch_products(device: str) -> None:
    from simtrain.calibration.gemm_table import LAYOUTS, measure_gemm_table

    table = measure_gemm_table("torch", device, "fp32", [1, 8, 32], batch_s=1e-5, repeats=1)
    assert table.loop_rates is None and table.loop_rule is None  # torch has no loop path
    assert table.measured_points == len(LAYOUTS) * 27
    assert all(np.isfinite(rate).all() and (rate > 0).all() for rate in table.rates.values())
    assert table.seconds(32, 32, 32, "tn") > 0
