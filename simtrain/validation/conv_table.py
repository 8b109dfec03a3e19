"""The convolution kernel model against Baidu DeepBench's measured cuDNN convolutions (V100 and T4, fp16).

DeepBench times the convolutions of its training suite (speech, OCR, face recognition, vision and ResNet layers) with
cuDNN 7.6 on tensor cores: forward, backward with respect to the input (data gradient) and with respect to the
filter (weight gradient), NHWC tensors, the algorithms fixed by the benchmark (implicit precomputed GEMM forward,
``ALGO_1`` backward). simtrain keeps the fp16 rows in ``simtrain/validation/data/deepbench_conv.csv`` (with its
provenance) and sets :meth:`~simtrain.compute.ComputeModel.layer_time` of the same convolution beside each:
:func:`compare` row by row, :func:`summary` per device and pass (the table in docs/validation.md).

The cases are every eighth of the rows the benchmark ran unpadded (C and K multiples of 8; it pads the others to
8 for tensor cores, so a row's published C is not what ran), the same rows on both devices, each a forward case and
a backward case (data and weight gradients together, as simtrain's backward of a layer is). All are ``test``:
nothing was set from them. The fp32 rows are not used: the benchmark's tensor-core build forces the implicit-GEMM
algorithm on them too, where cuDNN (and simtrain) would use Winograd for 3x3 filters.

Examples
--------
>>> rows = compare("v100")
>>> len(rows), rows[0].app
(94, 'DeepSpeech')
>>> sorted(summary())[:2]
[('t4', 'backward'), ('t4', 'forward')]
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from simtrain.model import Layer, conv2d_layer
from simtrain.validation.base import Case, register_case
from simtrain.validation.gemm_tables import DEEPBENCH_RESULTS

__all__ = ["ConvRow", "compare", "conv_seconds", "load_table", "summary"]

_TABLE = Path(__file__).parent / "data" / "deepbench_conv.csv"
#: The cases: every this-many-th unpadded row of a device's sheet, from the first.
STRIDE = 8
#: The dtype of every row (the fp16 sheet; see the module's docstring for fp32).
DTYPE = "fp16"
PASSES = ("forward", "backward")
_SHORT = {"forward": "fwd", "backward": "bwd"}
_SOURCE = (f"{DEEPBENCH_RESULTS}, 'Convolution'; CUDA 10.1, cuDNN 7.6.2, V100 in a DGX-1): cuDNN on tensor cores, "
           "NHWC, implicit precomputed GEMM forward and ALGO_1 backward (code/nvidia/conv_bench.cu)")
_GAPS = {
    "forward": ("at the extremes of size: a small product (a 14 x 14 map at batch 16, 13-16 us measured) takes less "
                "than the model's fixed costs (the 4 us launch and the pipeline's fill) add to its work, and a "
                "narrow one (32 output channels of a 5 x 10 filter) runs at a third of the model's rate; over all "
                "94 rows the model is 6 % (V100) and 10 % (T4) faster than the measured forward"),
    "backward": ("cuDNN 7.6's ALGO_1 (the one algorithm the benchmark allowed for both gradients) takes a median "
                 "1.22x the model's time over the V100's 84 rows and 1.49x over the T4's (the forward: 1.07x and "
                 "1.11x), and up to 2.6x on 7 x 7 maps at batch 8, where the model splits K over idle SMs; whether a "
                 "framework's autotuner finds faster backward kernels is not measured here"),
}


@dataclass(frozen=True)
class ConvRow:
    """One measured convolution and simtrain's times for it (seconds): ``forward``, and ``backward`` = the data
    gradient plus the weight gradient (None where the sheet has no data gradient: a first layer)."""

    device: str
    app: str
    c: int
    h: int
    w: int
    n: int
    k: int
    r: int
    s: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    measured: dict[str, float | None]
    simulated: dict[str, float]

    def rel_error(self, phase: str) -> float | None:
        """``simulated / measured - 1`` for ``phase`` (negative: simtrain is faster), None where not measured."""
        measured = self.measured[phase]
        return None if measured is None else self.simulated[phase] / measured - 1.0


@lru_cache(maxsize=1)
def load_table() -> tuple[dict[str, str], ...]:
    """The fp16 rows as published (the CSV's columns, times in ms, ``bwd_data_ms`` empty for a first layer).

    Examples
    --------
    >>> row = load_table()[0]
    >>> row["device"], row["c"], row["fwd_ms"], row["bwd_data_ms"]
    ('v100', '1', '0.591', '')
    """
    with _TABLE.open(newline="") as handle:
        return tuple(csv.DictReader(line for line in handle if not line.startswith("#")))


def conv_seconds(device: str, c: int, h: int, w: int, n: int, k: int, r: int, s: int, stride: tuple[int, int],
                 padding: tuple[int, int], phase: str) -> float:
    """simtrain's time of one convolution (``c`` channels of ``h x w`` in, ``k`` filters of ``r x s``, batch ``n``)
    in fp16 with NHWC tensors, as a one-layer model's :meth:`~simtrain.compute.ComputeModel.layer_time`
    (``simtrain conv ... --memory-format nhwc`` prints the same).

    Examples
    --------
    >>> f = conv_seconds("v100", 64, 56, 56, 16, 64, 3, 3, (1, 1), (1, 1), "forward")
    >>> b = conv_seconds("v100", 64, 56, 56, 16, 64, 3, 3, (1, 1), (1, 1), "backward")
    >>> b > 2 * f   # two GEMMs of the forward's size, the data gradient's with a short K (the filter's 64 channels)
    True
    """
    from simtrain.compute import ComputeModel

    return ComputeModel.roofline(device, memory_format="nhwc").layer_time(
        _layer(c, h, w, k, r, s, stride, padding), n, phase, DTYPE)


@lru_cache(maxsize=512)
def _layer(c: int, h: int, w: int, k: int, r: int, s: int, stride: tuple[int, int],
           padding: tuple[int, int]) -> Layer:
    return conv2d_layer(c, h, w, k, (r, s), stride, padding)


def _ms(text: str) -> float | None:
    return float(text) * 1e-3 if text else None


def _row(raw: dict[str, str]) -> ConvRow:
    dims = {key: int(raw[key]) for key in ("c", "h", "w", "n", "k", "r", "s")}
    stride, padding = (int(raw["stride_h"]), int(raw["stride_w"])), (int(raw["pad_h"]), int(raw["pad_w"]))
    data, weights = _ms(raw["bwd_data_ms"]), _ms(raw["bwd_filter_ms"])
    measured = {"forward": _ms(raw["fwd_ms"]),
                "backward": data + weights if data is not None and weights is not None else None}
    simulated = {phase: conv_seconds(raw["device"], **dims, stride=stride, padding=padding, phase=phase)
                 for phase in PASSES}
    return ConvRow(raw["device"], raw["app"], **dims, stride=stride, padding=padding, measured=measured,
                   simulated=simulated)


def compare(device: str | None = None) -> list[ConvRow]:
    """Every measured row of ``device`` (None: both) with simtrain's times.

    Examples
    --------
    >>> sorted({r.device for r in compare()})
    ['t4', 'v100']
    """
    return [_row(raw) for raw in load_table() if device is None or raw["device"] == device]


def summary() -> dict[tuple[str, str], dict[str, float]]:
    """Per (device, pass): rows, median error, median |error| and the share within 25 % (error = simulated /
    measured time - 1).

    Examples
    --------
    >>> summary()[("v100", "forward")]["rows"]
    94.0
    """
    groups: dict[tuple[str, str], list[float]] = {}
    for row in compare():
        for phase in PASSES:
            error = row.rel_error(phase)
            if error is not None:
                groups.setdefault((row.device, phase), []).append(error)
    return {key: {"rows": float(len(errors)), "median_error": statistics.median(errors),
                  "median_abs_error": statistics.median(abs(e) for e in errors),
                  "within_25": sum(abs(e) <= 0.25 for e in errors) / len(errors)}
            for key, errors in sorted(groups.items())}


def _case_rows() -> list[dict[str, str]]:
    """Every :data:`STRIDE`-th row each device ran unpadded (C and K multiples of 8), in the sheet's order."""
    position: dict[str, int] = {}
    chosen = []
    for raw in load_table():
        if int(raw["c"]) % 8 or int(raw["k"]) % 8:
            continue
        at = position[raw["device"]] = position.get(raw["device"], -1) + 1
        if at % STRIDE == 0:
            chosen.append(raw)
    return chosen


def _register_cases() -> None:
    for raw in _case_rows():
        device = raw["device"]
        c, h, w, n, k, r, s = (int(raw[key]) for key in ("c", "h", "w", "n", "k", "r", "s"))
        stride, padding = (int(raw["stride_h"]), int(raw["stride_w"])), (int(raw["pad_h"]), int(raw["pad_w"]))
        shape = f"c{c}-{h}x{w}-n{n}-k{k}-{r}x{s}-s{stride[0]}"
        described = (f"a {r} x {s} convolution (stride {stride[0]}, padding {padding[0]}) of {c} channels of "
                     f"{h} x {w} into {k}, batch {n}")
        measured = _row(raw).measured
        for phase, what in (("forward", "the forward"), ("backward", "the data gradient plus the weight gradient")):
            register_case(Case(
                name=f"deepbench-conv-{device}-{shape}-{_SHORT[phase]}",
                source=(f"{_SOURCE}: {device.upper()} sheet, {raw['app']} row W={w}, H={h}, C={c}, N={n}, K={k}, "
                        f"S={s}, R={r}"),
                quantity=f"{phase} time of {described} in fp16 on one {device.upper()}",
                published=1e6 * float(measured[phase] or 0.0), unit="us", tag="[M]",
                assumptions=(f"{what}; the catalog {device} and its compute model of a convolution as an implicit "
                             "GEMM (tiles, waves, split-K, the memory bound, the launch overhead) with NHWC tensors "
                             "(`memory_format: nhwc`, as the benchmark ran), one layer's `layer_time`; the measured "
                             "time is the mean of back-to-back cuDNN calls, the algorithm fixed by the benchmark"),
                method="simtrain.validation.conv_table.conv_seconds",
                compute=partial(_case_us, device, c, h, w, n, k, r, s, stride, padding, phase),
                role="test", gap=_GAPS[phase],
                command=(f"simtrain conv --device {device} --dtype {DTYPE} --input {c}x{h}x{w} --filters {k} "
                         f"--kernel {r}x{s} --stride {stride[0]}x{stride[1]} --padding {padding[0]}x{padding[1]} "
                         f"--batch {n} --memory-format nhwc"),
                source_id="deepbench"))


def _case_us(device: str, c: int, h: int, w: int, n: int, k: int, r: int, s: int, stride: tuple[int, int],
             padding: tuple[int, int], phase: str) -> float:
    return 1e6 * conv_seconds(device, c, h, w, n, k, r, s, stride, padding, phase)


_register_cases()
