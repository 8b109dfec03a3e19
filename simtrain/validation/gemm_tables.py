"""The GEMM kernel model against measured GEMM tables: OpenXLA's (H100, B200) and Baidu's DeepBench (V100, T4).

Each table is a CSV in ``simtrain/validation/data/`` with its provenance in its header, and a :class:`GemmTable`
here saying where it comes from, which rows are validation cases and which of its groups set a constant.
:meth:`~simtrain.compute.ComputeModel.gemm_time` is set beside every row: :func:`compare` row by row, :func:`summary`
per table, device and dtype (the table in docs/validation.md, "The GEMM kernel model over whole tables").

* ``xla``: OpenXLA's table of measured GEMM throughputs for its cost model (``default_matmul_perf_table.txtpb``):
  every batched product of ``b`` in {1, 2, 4} and ``m``, ``n``, ``k`` in {256, ..., 4096}, timed as the median CUPTI
  kernel duration. Its cases are the cube shapes (``b = 1``, ``m = n = k``). The H100 bf16 rows are ``fit``: they set
  the form of a GEMM kernel's fixed cost (paid on top of its work, not as a floor). The f32 rows run as TF32 (XLA
  lets f32 dots use TF32 on Ampere and later: the H100's 403 TFLOP/s at 4096^3 is six times its FP32 peak). The
  H100 FP8 rows are not cases: at 4096^3 they reach 2,424 TFLOP/s, above the dense FP8 peak of 1,979, so the median
  kernel there is not the GEMM alone.
* ``deepbench``: Baidu's DeepBench training GEMMs (160 shapes of speech, language-model and speaker-ID layers, many
  of them skinny) on a V100 in a DGX-1 and on a T4, fp16 on tensor cores and fp32, timed by cuBLAS 10.1 calls
  back to back. Its cases are every sixteenth row in the sheets' order (the same ten shapes on each device and
  dtype). The T4 rows are ``fit``: the T4's large-GEMM ceilings (devices/t4.yaml) are their best rows' fractions of
  peak, since the 70 W card does not hold its boost clock; the V100 rows are ``test``.

Examples
--------
>>> rows = compare("h100", "bf16")
>>> len(rows), rows[0].dtype
(375, 'bf16')
>>> 0 < summary()[("xla", "h100", "bf16")]["median_abs_error"] < 0.5
True
>>> len(compare("v100", "fp16", table="deepbench"))
160
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import TypeVar

from simtrain.validation.base import Case, register_case

__all__ = ["TABLES", "GemmRow", "GemmTable", "compare", "error_summary", "every_nth", "gemm_flops_per_s", "load_table",
           "summary"]

T = TypeVar("T")

_DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class GemmTable:
    """One measured GEMM table: its data file and how its rows serve validation.

    Attributes
    ----------
    name : str
        The table's key (``xla``, ``deepbench``) and its cases' name prefix (``<name>-gemm-``).
    path : Path
        The CSV, provenance in ``#`` lines.
    source : str
        Where the figures come from (every case's source line starts with it).
    timing : str
        How a row was timed, for the cases' assumptions.
    fit : frozenset of (device, dtype)
        Groups that set a constant of simtrain's; the others are ``test``.
    fit_note : str
        The constant the fit groups set.
    gaps : mapping
        Why a case misses by more than 25 %, by dtype or by device (printed only for those that do).
    source_id : str
        The publisher's key in the validation report's count of independent sources.
    """

    name: str
    path: Path
    source: str
    timing: str
    fit: frozenset[tuple[str, str]]
    fit_note: str
    gaps: Mapping[str, str] = field(default_factory=dict)
    source_id: str = ""


#: The table's architecture keys and the catalog devices they are (the table names only the architecture: its best
#: sm_90 bf16 rate, 805 TFLOP/s, is above the H100 PCIe's 756 TFLOP/s peak, so it is the SXM part).
XLA_ARCHITECTURES = {"sm_90": "h100", "sm_100_B200": "b200"}
#: The table's dtype keys and simtrain's dtypes (f32 dots run as TF32).
XLA_DTYPES = {"bf16xbf16->bf16": "bf16", "f32xf32->f32": "tf32", "f8e4m3fnxf8e4m3fn->bf16": "fp8"}
#: Where DeepBench's training results are (its GEMM table here, its convolution and recurrent tables in
#: :mod:`simtrain.validation.layer_tables`).
DEEPBENCH_RESULTS = ("Baidu DeepBench training results (baidu-research/DeepBench commit da81ba7, "
                     "results/train/DeepBench_NV_V100.xlsx and DeepBench_NV_T4.xlsx")
#: DeepBench's cases: every this-many-th row of a device's and dtype's sheet, from the first.
DEEPBENCH_STRIDE = 16

TABLES: dict[str, GemmTable] = {t.name: t for t in (
    GemmTable(
        name="xla", path=_DATA / "xla_gemm_table.csv",
        source=("OpenXLA's default GEMM performance table (xla/service/gpu/model/default_matmul_perf_table.txtpb, "
                "openxla/xla commit dc66032; the same values in matmul_interpolator_data.h since 71feeddf, October "
                "2025): median CUPTI kernel time of each product (xla/tools/matmul_perf_table_gen.cc)"),
        timing=("the measured time is the kernel's on the GPU (CUPTI), so no host launch gap is in it; the GPU's "
                "clocks and power limit are not stated"),
        fit=frozenset({("h100", "bf16")}), source_id="xla-gemm-table",
        fit_note=("this table's H100 bf16 rows set the form of a GEMM kernel's fixed cost: the device file's launch "
                  "overhead (4 us by default, not fitted) is paid on top of the kernel's work instead of as a floor "
                  "(simtrain.compute.ComputeModel.gemm_time)"),
        gaps={
            "tf32": ("at 512^3 and 1024^3 the measured TF32 kernels reach 46-72 % of the bf16 kernels' rate at the "
                     "same shape, the model's 74-87 % (the peaks' ratio is 50 %): the model gives TF32 the bf16 "
                     "kernels' tile and ramp, and the measured TF32 kernels fill their pipeline more slowly; from "
                     "2048^3 on they agree"),
            "fp8": ("at 512^3 the measured B200 FP8 kernel is slower than bf16's at the same shape (39 against 49 "
                    "TFLOP/s): a small FP8 GEMM pays for its scaling factors, which the model does not charge; from "
                    "1024^3 on it agrees"),
        }),
    GemmTable(
        name="deepbench", path=_DATA / "deepbench_gemm.csv",
        source=(f"{DEEPBENCH_RESULTS}, 'Dense Matrix Multiplication'; CUDA 10.1, V100 in a DGX-1): cublasGemmEx "
                "with the default tensor-op algorithm (code/nvidia/gemm_bench.cu)"),
        timing=("the measured time is the mean of 400 back-to-back cuBLAS calls between two device synchronisations, "
                "truncated to whole microseconds, so each call's launch gap is in it; fp16 rows are fp16 inputs with "
                "fp32 accumulation; the model does not distinguish transposed operands"),
        fit=frozenset({("t4", "fp16"), ("t4", "fp32")}), source_id="deepbench",
        fit_note=("the T4's large-GEMM ceilings in devices/t4.yaml (fp16 0.71, fp32 0.57 of peak) are the best rows "
                  "of these two tables, a 70 W card's power-capped clock; the shapes' errors beside them test the "
                  "rest of the kernel model"),
        gaps={
            "v100": ("a skinny product (N of 16 to 64) streams its weight matrix: the measured cuBLAS kernels move 3 "
                     "to 40 MB at 34-73 % of the datasheet bandwidth where the model streams at 80 % (plus the 4 us "
                     "launch), and the 512 x 16 x 512 product's 8-10 us is the rate of back-to-back cuBLAS calls, not "
                     "of the kernel; the large products agree within 11 %"),
            "t4": ("the skinny products (N of 16 to 64) as on the V100: the weight matrix streamed at 29-87 % of "
                   "the bandwidth and the smallest product at the rate of cuBLAS calls; and in fp32 the model reaches "
                   "the ceiling (set by the best shape) at smaller shapes than the 70 W card, whose clock falls "
                   "further the longer it computes"),
        }),
)}


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
    table: str = "xla"

    @property
    def rel_error(self) -> float:
        """``simulated / measured - 1``."""
        return self.simulated / self.measured - 1.0


def _xla_row(r: dict[str, str]) -> tuple[str, str, int, int, int, int, str, float]:
    return (XLA_ARCHITECTURES[r["arch"]], XLA_DTYPES[r["dtype"]], int(r["b"]), int(r["m"]), int(r["n"]), int(r["k"]),
            "", float(r["flops_per_s"]))


def _deepbench_row(r: dict[str, str]) -> tuple[str, str, int, int, int, int, str, float]:
    m, n, k = int(r["m"]), int(r["n"]), int(r["k"])
    return (r["device"], r["dtype"], 1, m, n, k, (r["a_t"] + r["b_t"]).lower(),
            2.0 * m * n * k / (float(r["time_ms"]) * 1e-3))


_READERS = {"xla": _xla_row, "deepbench": _deepbench_row}


@lru_cache(maxsize=len(TABLES))
def load_table(table: str = "xla") -> tuple[tuple[str, str, int, int, int, int, str, float], ...]:
    """A table's measured rows: ``(device, dtype, b, m, n, k, layout, flops_per_s)`` in simtrain's names, in file
    order (``layout``: the operands' transposes, ``"tn"`` for A transposed, ``""`` where the table has none).

    Examples
    --------
    >>> load_table()[0][:2]
    ('b200', 'bf16')
    >>> load_table("deepbench")[0][:7]
    ('v100', 'fp16', 1, 1760, 16, 1760, 'nn')
    """
    with TABLES[table].path.open(newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return tuple(_READERS[table](r) for r in csv.DictReader(lines))


def gemm_flops_per_s(device: str, dtype: str, m: int, n: int, k: int, count: int = 1) -> float:
    """simtrain's throughput of ``count`` products of ``(m x k)·(k x n)`` (the kernel model of the catalog device).

    Examples
    --------
    >>> gemm_flops_per_s("h100", "bf16", 4096, 4096, 4096) / 1e12 > 700
    True
    """
    from simtrain.compute import ComputeModel

    return ComputeModel.roofline(device).gemm_rate(m, n, k, dtype, count)


def compare(device: str | None = None, dtype: str | None = None, table: str | None = None) -> list[GemmRow]:
    """Every measured row of ``device``, ``dtype`` and ``table`` (None: all) with simtrain's figure.

    Examples
    --------
    >>> sorted({r.device for r in compare(dtype="tf32")})
    ['b200', 'h100']
    >>> sorted({r.device for r in compare(table="deepbench")})
    ['t4', 'v100']
    """
    return [GemmRow(dev, dt, b, m, n, k, measured, gemm_flops_per_s(dev, dt, m, n, k, b), name)
            for name in TABLES if table is None or name == table
            for dev, dt, b, m, n, k, _, measured in load_table(name)
            if (device is None or dev == device) and (dtype is None or dt == dtype)]


def summary() -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (table, device, dtype): rows, median error, median |error| and the share within 25 %
    (:func:`error_summary`).

    Examples
    --------
    >>> sorted(summary())[:2]
    [('deepbench', 't4', 'fp16'), ('deepbench', 't4', 'fp32')]
    """
    groups: dict[tuple[str, str, str], list[float]] = {}
    for row in compare():
        groups.setdefault((row.table, row.device, row.dtype), []).append(row.rel_error)
    return {key: error_summary(errors) for key, errors in sorted(groups.items())}


def error_summary(errors: Sequence[float]) -> dict[str, float]:
    """A group of measured kernels' errors (simulated / measured - 1) in the figures the validation page tables:
    rows, median error, median |error| and the share within 25 % (this module's tables and
    :mod:`simtrain.validation.layer_tables`).

    Examples
    --------
    >>> error_summary([-0.3, 0.1, 0.2])
    {'rows': 3.0, 'median_error': 0.1, 'median_abs_error': 0.2, 'within_25': 0.6666666666666666}
    """
    return {"rows": float(len(errors)), "median_error": statistics.median(errors),
            "median_abs_error": statistics.median(abs(e) for e in errors),
            "within_25": sum(abs(e) <= 0.25 for e in errors) / len(errors)}


def every_nth(rows: Iterable[T], group: Callable[[T], Hashable], stride: int) -> list[T]:
    """Every ``stride``-th of ``rows`` within each ``group``, from each group's first, in their order: how the
    measured-kernel tables pick their validation cases (a rule fixed before the errors are seen).

    Examples
    --------
    >>> every_nth(["a1", "b1", "a2", "a3", "b2", "b3"], lambda r: r[0], 2)
    ['a1', 'b1', 'a3', 'b3']
    """
    position: dict[Hashable, int] = {}
    chosen = []
    for row in rows:
        key = group(row)
        at = position[key] = position.get(key, -1) + 1
        if at % stride == 0:
            chosen.append(row)
    return chosen


def _tflops(device: str, dtype: str, m: int, n: int, k: int) -> float:
    return gemm_flops_per_s(device, dtype, m, n, k) / 1e12


def _case_rows(table: str) -> list[tuple[str, str, int, int, int, int, str, float]]:
    """The rows of ``table`` that are validation cases (see the module's docstring)."""
    rows = load_table(table)
    if table == "xla":
        return [r for r in rows if r[2] == 1 and r[3] == r[4] == r[5] and (r[0], r[1]) != ("h100", "fp8")]
    return every_nth(rows, lambda row: row[:2], DEEPBENCH_STRIDE)   # the same shapes on each device and dtype


def _row_key(table: str, device: str, dtype: str, m: int, n: int, k: int, layout: str) -> str:
    """A row as its table names it."""
    if table == "xla":
        arch = {v: key for key, v in XLA_ARCHITECTURES.items()}[device]
        return f"arch {arch}, dtype {dict((v, key) for key, v in XLA_DTYPES.items())[dtype]}, b=1, m=n=k={m}"
    transposed = ", ".join(layout.upper())
    return f"{device.upper()} sheet, {dtype}, M={m}, N={n}, K={k}, A and B transposed: {transposed}"


def _register_cases() -> None:
    """The chosen rows of every table as validation cases."""
    for spec in TABLES.values():
        for device, dtype, _, m, n, k, layout, measured in _case_rows(spec.name):
            fit = (device, dtype) in spec.fit
            cube = m == n == k and not layout
            shape = f"{m}" if cube else f"{m}x{n}x{k}" + (f"-{layout}" if layout else "")
            shown = f"{m}x{m}x{m}" if cube else f"{m}x{n}x{k}" + (f" ({layout.upper()})" if layout else "")
            register_case(Case(
                name=f"{spec.name}-gemm-{device}-{dtype}-{shape}",
                source=f"{spec.source}: {_row_key(spec.name, device, dtype, m, n, k, layout)}",
                quantity=f"throughput of one {shown} {dtype} GEMM on one {device.upper()}",
                published=measured / 1e12, unit="TFLOP/s", tag="[M]",
                assumptions=(f"the catalog {device} at its datasheet peak and its compute model (tiles, waves, "
                             "split-K, the ramp, the memory bound, and the launch overhead on top, "
                             "docs/compute-model.md); " + ("f32 operands as TF32, as XLA runs them; "
                                                           if spec.name == "xla" and dtype == "tf32" else "")
                             + spec.timing),
                method="simtrain.validation.gemm_tables.gemm_flops_per_s",
                compute=partial(_tflops, device, dtype, m, n, k),
                role="fit" if fit else "test",
                fit_note=spec.fit_note if fit else "",
                gap=spec.gaps.get(dtype, spec.gaps.get(device, "")),
                command=f"simtrain gemm --device {device} --dtype {dtype} --shape {m}x{n}x{k}",
                source_id=spec.source_id))


_register_cases()
