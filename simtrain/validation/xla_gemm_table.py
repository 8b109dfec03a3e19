"""The GEMM kernel model against OpenXLA's measured GEMM table (H100 and B200, 375 shapes per dtype).

OpenXLA ships a table of measured GEMM throughputs for its cost model (``default_matmul_perf_table.txtpb``): every
batched product of ``b`` in {1, 2, 4} and ``m``, ``n``, ``k`` in {256, ..., 4096}, timed as the median CUPTI kernel
duration. simtrain keeps the NVIDIA rows in ``simtrain/validation/data/xla_gemm_table.csv`` (with its provenance)
and sets :meth:`~simtrain.compute.ComputeModel.gemm_time` beside each: :func:`compare` row by row, :func:`summary`
per device and dtype (the table in docs/validation.md, "The GEMM kernel model over the whole table").

The cube shapes (``b = 1``, ``m = n = k``) are validation cases (``simtrain validate``); each is the
``simtrain gemm`` command it prints. The H100 bf16 rows are ``fit``: they set the form of a GEMM kernel's fixed
cost (paid on top of its work, not as a floor); every other device and dtype is ``test``. The f32 rows run as TF32
(XLA lets f32 dots use TF32 on Ampere and later: the H100's 403 TFLOP/s at 4096^3 is six times its FP32 peak).
The H100 FP8 rows are not cases: at 4096^3 they reach 2,424 TFLOP/s, above the dense FP8 peak of 1,979, so the
median kernel there is not the GEMM alone.

Examples
--------
>>> rows = compare("h100", "bf16")
>>> len(rows), rows[0].dtype
(375, 'bf16')
>>> 0 < summary()[("h100", "bf16")]["median_abs_error"] < 0.5
True
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from simtrain.validation.base import Case, register_case

__all__ = ["ARCHITECTURES", "DTYPES", "GemmRow", "compare", "gemm_flops_per_s", "load_table", "summary"]

#: The table's architecture keys and the catalog devices they are (the table names only the architecture: its best
#: sm_90 bf16 rate, 805 TFLOP/s, is above the H100 PCIe's 756 TFLOP/s peak, so it is the SXM part).
ARCHITECTURES = {"sm_90": "h100", "sm_100_B200": "b200"}
#: The table's dtype keys and simtrain's dtypes (f32 dots run as TF32).
DTYPES = {"bf16xbf16->bf16": "bf16", "f32xf32->f32": "tf32", "f8e4m3fnxf8e4m3fn->bf16": "fp8"}

_ARCH_KEYS = {device: key for key, device in ARCHITECTURES.items()}
_DTYPE_KEYS = {dtype: key for key, dtype in DTYPES.items()}
_TABLE = Path(__file__).parent / "data" / "xla_gemm_table.csv"
_SOURCE = ("OpenXLA's default GEMM performance table (xla/service/gpu/model/default_matmul_perf_table.txtpb, "
           "openxla/xla commit dc66032; the same values in matmul_interpolator_data.h since 71feeddf, October 2025): "
           "median CUPTI kernel time of each product (xla/tools/matmul_perf_table_gen.cc)")
_FIT = ("h100", "bf16")
#: Why some mid-size cubes miss by more than 25 % (printed only for those that do).
_GAPS = {
    "tf32": ("at 512^3 and 1024^3 the measured TF32 kernels reach 46-72 % of the bf16 kernels' rate at the same "
             "shape, the model's 74-87 % (the peaks' ratio is 50 %): the model gives TF32 the bf16 kernels' tile "
             "and ramp, and the measured TF32 kernels fill their pipeline more slowly; from 2048^3 on they agree"),
    "fp8": ("at 512^3 the measured B200 FP8 kernel is slower than bf16's at the same shape (39 against 49 TFLOP/s): "
            "a small FP8 GEMM pays for its scaling factors, which the model does not charge; from 1024^3 on it "
            "agrees"),
}


@dataclass(frozen=True)
class GemmRow:
    """One measured product and simtrain's figure for it (FLOP/s)."""

    device: str
    dtype: str
    b: int
    m: int
    n: int
    k: int
    measured: float
    simulated: float

    @property
    def rel_error(self) -> float:
        """``simulated / measured - 1``."""
        return self.simulated / self.measured - 1.0


@lru_cache(maxsize=1)
def load_table() -> tuple[tuple[str, str, int, int, int, int, float], ...]:
    """The measured rows: ``(device, dtype, b, m, n, k, flops_per_s)`` in simtrain's names.

    Examples
    --------
    >>> load_table()[0][:2]
    ('b200', 'bf16')
    """
    with _TABLE.open(newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return tuple((ARCHITECTURES[r["arch"]], DTYPES[r["dtype"]], int(r["b"]), int(r["m"]), int(r["n"]), int(r["k"]),
                  float(r["flops_per_s"])) for r in csv.DictReader(lines))


def gemm_flops_per_s(device: str, dtype: str, m: int, n: int, k: int, count: int = 1) -> float:
    """simtrain's throughput of ``count`` products of ``(m x k)·(k x n)`` (the kernel model of the catalog device).

    Examples
    --------
    >>> gemm_flops_per_s("h100", "bf16", 4096, 4096, 4096) / 1e12 > 700
    True
    """
    from simtrain.compute import ComputeModel

    return ComputeModel.roofline(device).gemm_rate(m, n, k, dtype, count)


def compare(device: str | None = None, dtype: str | None = None) -> list[GemmRow]:
    """Every measured row of ``device`` and ``dtype`` (None: all) with simtrain's figure.

    Examples
    --------
    >>> sorted({r.device for r in compare(dtype="tf32")})
    ['b200', 'h100']
    """
    return [GemmRow(dev, dt, b, m, n, k, measured, gemm_flops_per_s(dev, dt, m, n, k, b))
            for dev, dt, b, m, n, k, measured in load_table()
            if (device is None or dev == device) and (dtype is None or dt == dtype)]


def summary() -> dict[tuple[str, str], dict[str, float]]:
    """Per (device, dtype): rows, median error, median |error| and the share within 25 %.

    Examples
    --------
    >>> sorted(summary())[:2]
    [('b200', 'bf16'), ('b200', 'fp8')]
    """
    groups: dict[tuple[str, str], list[float]] = {}
    for row in compare():
        groups.setdefault((row.device, row.dtype), []).append(row.rel_error)
    return {key: {"rows": len(errors), "median_error": statistics.median(errors),
                  "median_abs_error": statistics.median(abs(e) for e in errors),
                  "within_25": sum(abs(e) <= 0.25 for e in errors) / len(errors)}
            for key, errors in sorted(groups.items())}


def _cube_tflops(device: str, dtype: str, size: int) -> float:
    return gemm_flops_per_s(device, dtype, size, size, size) / 1e12


def _register_cubes() -> None:
    """The cube shapes of every device and dtype but the H100's FP8 as validation cases."""
    for device, dtype, b, m, n, k, measured in load_table():
        if b != 1 or not m == n == k or (device, dtype) == ("h100", "fp8"):
            continue
        fit = (device, dtype) == _FIT
        register_case(Case(
            name=f"xla-gemm-{device}-{dtype}-{m}",
            source=f"{_SOURCE}: arch {_ARCH_KEYS[device]}, dtype {_DTYPE_KEYS[dtype]}, b=1, m=n=k={m}",
            quantity=f"throughput of one {m}x{m}x{m} {dtype} GEMM on one {device.upper()}",
            published=measured / 1e12, unit="TFLOP/s", tag="[M]",
            assumptions=(f"the catalog {device} at its datasheet peak and its compute model (tiles, waves, split-K, "
                         "the ramp, the memory bound, and the launch overhead on top, docs/compute-model.md); the "
                         "measured time is the kernel's on the GPU (CUPTI), so no host launch gap is in it; "
                         + ("f32 operands as TF32, as XLA runs them; " if dtype == "tf32" else "")
                         + "the GPU's clocks and power limit are not stated"),
            method="simtrain.validation.xla_gemm_table.gemm_flops_per_s",
            compute=partial(_cube_tflops, device, dtype, m),
            role="fit" if fit else "test",
            fit_note=("this table's H100 bf16 rows set the form of a GEMM kernel's fixed cost: the device file's "
                      "launch overhead (4 us by default, not fitted) is paid on top of the kernel's work instead of "
                      "as a floor (simtrain.compute.ComputeModel.gemm_time)") if fit else "",
            gap=_GAPS.get(dtype, ""),
            command=f"simtrain gemm --device {device} --dtype {dtype} --shape {m}x{m}x{m}",
            source_id="xla-gemm-table"))


_register_cubes()
