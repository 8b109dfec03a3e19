"""The layer kernel model against Baidu DeepBench's measured cuDNN layers: convolutions and recurrent layers.

DeepBench times the layers of its training suite with cuDNN 7.6 on a V100 in a DGX-1 and on a T4: forward, and
backward with respect to the input and to the weights. simtrain keeps two tables in ``simtrain/validation/data/``
(with their provenance) and sets :meth:`~simtrain.compute.ComputeModel.layer_time` of the same layer beside each
row, the layer built as the one layer of a model (:func:`simtrain.model.single_layer`, what ``simtrain layer``
prints): :func:`compare` row by row, :func:`summary` per table, device, dtype and pass (docs/validation.md).

* ``conv``: the convolutions in fp16 on tensor cores, V100 and T4 (NHWC; the benchmark fixes the algorithms:
  implicit precomputed GEMM forward, ``ALGO_1`` for both gradients). Its cases are every eighth of the rows the
  benchmark ran unpadded (C and K multiples of 8; it pads the others to 8 for tensor cores, so a row's published C
  is not what ran). The fp32 rows are not used: the benchmark's tensor-core build forces the implicit-GEMM
  algorithm on them too, where cuDNN (and simtrain) would use Winograd for 3x3 filters.
* ``rnn``: vanilla RNN, LSTM and GRU layers in fp16 and fp32 on the V100 (the T4 sheet has none), one layer with
  ``CUDNN_SKIP_INPUT`` (the input enters the gates with no input weights: ``input_projection=false``). Its cases
  are every eighth row of each dtype's sheet.

Each case row gives a forward case and a backward case (the input's and the weights' gradients together, as
simtrain's backward of a layer is). All are ``test``: nothing was set from them. simtrain's step-by-step pricing of
recurrent layers (:attr:`~simtrain.model.spec.Layer.recurrence`) was written from cuDNN's structure and compared with
the ``rnn`` rows as it was built; no constant was set from them.

Examples
--------
>>> rows = compare("conv", "v100")
>>> len(rows), rows[0].app
(94, 'DeepSpeech')
>>> sorted(summary())[:2]
[('conv', 't4', 'fp16', 'backward'), ('conv', 't4', 'fp16', 'forward')]
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simtrain.model import Layer, single_layer
from simtrain.validation.base import Case, register_case
from simtrain.validation.gemm_tables import DEEPBENCH_RESULTS, error_summary, every_nth

__all__ = ["LayerRow", "compare", "layer_seconds", "load_table", "summary"]

_DATA = Path(__file__).parent / "data"
#: The cases: every this-many-th chosen row of a device's and dtype's sheet, from the first.
STRIDE = 8
PASSES = ("forward", "backward")
_SHORT = {"forward": "fwd", "backward": "bwd"}


@dataclass(frozen=True)
class _Table:
    """One measured layer table: its data file, where it comes from, how a row is the layer it timed."""

    name: str
    path: Path
    source: str
    timing: str
    row: Callable[[Mapping[str, str]], LayerRow]
    chosen: Callable[[Mapping[str, str]], bool]
    gaps: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerRow:
    """One measured layer: its input and layer as a model file gives them, and the published times (seconds;
    ``backward`` = the input's plus the weights' gradient, None where the sheet has no input gradient)."""

    table: str
    device: str
    dtype: str
    app: str
    inputs: tuple[tuple[str, Any], ...]
    layer: tuple[tuple[str, Any], ...]
    batch: int
    memory_format: str
    measured: dict[str, float | None]

    def simulated(self, phase: str) -> float:
        """simtrain's time of ``phase`` (:func:`layer_seconds`)."""
        return layer_seconds(self.device, self.dtype, self.inputs, self.layer, self.batch, phase, self.memory_format)

    def rel_error(self, phase: str) -> float | None:
        """``simulated / measured - 1`` for ``phase`` (negative: simtrain is faster), None where not measured."""
        measured = self.measured[phase]
        return None if measured is None else self.simulated(phase) / measured - 1.0

    def command(self) -> str:
        """The ``simtrain layer`` command that prints :meth:`simulated`."""
        input_kind, sizes = self.inputs[0]
        params = ",".join(f"{key}={_text(value)}" for key, value in self.layer if key != "kind")
        return (f"simtrain layer --device {self.device} --dtype {self.dtype} --input {input_kind}:{_text(sizes)} "
                f"--layer {dict(self.layer)['kind']}:{params} --batch {self.batch} --memory-format "
                f"{self.memory_format}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return str(value)


def _ms(text: str) -> float | None:
    return float(text) * 1e-3 if text else None


def _conv_row(raw: Mapping[str, str]) -> LayerRow:
    c, h, w, n, k, r, s = (int(raw[key]) for key in ("c", "h", "w", "n", "k", "r", "s"))
    data, weights = _ms(raw["bwd_data_ms"]), _ms(raw["bwd_filter_ms"])
    layer = (("kind", "conv2d"), ("out", k), ("kernel", [r, s]), ("stride", [int(raw["stride_h"]),
                                                                            int(raw["stride_w"])]),
             ("padding", [int(raw["pad_h"]), int(raw["pad_w"])]), ("bias", False))
    return LayerRow("conv", raw["device"], "fp16", raw["app"], (("image", [c, h, w]),), layer, n, "nhwc",
                    {"forward": _ms(raw["fwd_ms"]),
                     "backward": data + weights if data is not None and weights is not None else None})


def _rnn_row(raw: Mapping[str, str]) -> LayerRow:
    hidden, steps = int(raw["hidden"]), int(raw["timesteps"])
    data, weights = _ms(raw["bwd_data_ms"]), _ms(raw["bwd_weights_ms"])
    layer = (("kind", raw["kind"]), ("hidden", hidden), ("input_projection", False))
    return LayerRow("rnn", raw["device"], raw["dtype"], raw["app"], (("tokens", [steps, hidden]),), layer,
                    int(raw["n"]), "auto",
                    {"forward": _ms(raw["fwd_ms"]),
                     "backward": data + weights if data is not None and weights is not None else None})


_TABLES = {t.name: t for t in (
    _Table(
        name="conv", path=_DATA / "deepbench_conv.csv",
        source=(f"{DEEPBENCH_RESULTS}, 'Convolution'; CUDA 10.1, cuDNN 7.6.2, V100 in a DGX-1): cuDNN on tensor "
                "cores, NHWC, implicit precomputed GEMM forward and ALGO_1 backward (code/nvidia/conv_bench.cu)"),
        timing=("NHWC tensors (`--memory-format nhwc`, as the benchmark ran); the measured time is the mean of "
                "back-to-back cuDNN calls, the algorithm fixed by the benchmark"),
        row=_conv_row,
        chosen=lambda raw: not int(raw["c"]) % 8 and not int(raw["k"]) % 8,
        gaps={
            "forward": ("at the extremes of size: a small product (a 14 x 14 map at batch 16, 13-16 us measured) "
                        "takes less than the model's fixed costs (the 4 us launch and the pipeline's fill) add to "
                        "its work, and a narrow one (32 output channels of a 5 x 10 filter) runs at a third of the "
                        "model's rate; over the 84 rows run unpadded the model is 5 % (V100) and 9 % (T4) "
                        "faster than the measured forward"),
            "backward": ("cuDNN 7.6's ALGO_1 (the one algorithm the benchmark allowed for both gradients) takes a "
                         "median 1.22x the model's time over the V100's 84 rows and 1.49x over the T4's (the "
                         "forward: 1.07x and 1.11x), and up to 2.6x on 7 x 7 maps at batch 8, where the model "
                         "splits K over idle SMs; whether a framework's autotuner finds faster backward kernels is "
                         "not measured here"),
        }),
    _Table(
        name="rnn", path=_DATA / "deepbench_rnn.csv",
        source=(f"{DEEPBENCH_RESULTS}, 'Recurrent Layers'; CUDA 10.1, cuDNN 7.6.2, V100 in a DGX-1): one cuDNN RNN "
                "layer, CUDNN_SKIP_INPUT (code/nvidia/rnn_bench.cu)"),
        timing=("one unidirectional layer without input weights (`input_projection=false`, cuDNN's "
                "CUDNN_SKIP_INPUT), its hidden-state product step by step; the measured time is the mean of 100 "
                "back-to-back cuDNN calls"),
        row=_rnn_row,
        chosen=lambda raw: True,
        gaps={
            "forward": ("a step of cuDNN's recurrence costs more than the model's GEMM and point-wise kernel at the "
                        "4 us launch: 27 us a step for 256 hidden units at batch 16 (the model: 9 us), so small "
                        "layers over many steps are the furthest off, fp16 more than fp32"),
            "backward": ("as the forward: the step-by-step state gradient carries a per-step cost above the "
                         "model's two kernels at the 4 us launch"),
        }),
)}


@lru_cache(maxsize=len(_TABLES))
def load_table(table: str) -> tuple[Mapping[str, str], ...]:
    """A table's rows as published (``conv`` or ``rnn``; the CSV's columns, times in ms).

    Examples
    --------
    >>> row = load_table("conv")[0]
    >>> row["device"], row["c"], row["fwd_ms"], row["bwd_data_ms"]
    ('v100', '1', '0.591', '')
    >>> load_table("rnn")[0]["kind"]
    'rnn'
    """
    with _TABLES[table].path.open(newline="") as handle:   # read-only rows: the cache is shared by every caller
        return tuple(MappingProxyType(row) for row in csv.DictReader(line for line in handle
                                                                     if not line.startswith("#")))


@lru_cache(maxsize=1024)
def _layer(inputs: tuple[tuple[str, Any], ...], layer: tuple[tuple[str, Any], ...]) -> Layer:
    def mapping(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in pairs}

    return single_layer(mapping(inputs), mapping(layer))


def layer_seconds(device: str, dtype: str, inputs: tuple[tuple[str, Any], ...], layer: tuple[tuple[str, Any], ...],
                  batch: int, phase: str, memory_format: str = "auto") -> float:
    """simtrain's time of ``phase`` of one layer (``layer`` as an item of a model's ``layers``, on ``inputs`` as a
    model's ``input``, both as key-value pairs) at ``batch``: a one-layer model's
    :meth:`~simtrain.compute.ComputeModel.layer_time` (``simtrain layer`` prints the same).

    Examples
    --------
    >>> conv = (("kind", "conv2d"), ("out", 64), ("kernel", [3, 3]), ("padding", [1, 1]), ("bias", False))
    >>> f = layer_seconds("v100", "fp16", (("image", [64, 56, 56]),), conv, 16, "forward", "nhwc")
    >>> b = layer_seconds("v100", "fp16", (("image", [64, 56, 56]),), conv, 16, "backward", "nhwc")
    >>> b > 2 * f   # two GEMMs of the forward's size, the input gradient's with a short K (64 channels)
    True
    """
    from simtrain.compute import ComputeModel

    model = ComputeModel.roofline(device, memory_format=memory_format)
    return model.layer_time(_layer(_hashable(inputs), _hashable(layer)), batch, phase, dtype)


def _hashable(pairs: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((key, tuple(value) if isinstance(value, list) else value) for key, value in pairs)


def compare(table: str | None = None, device: str | None = None) -> list[LayerRow]:
    """Every measured row of ``table`` and ``device`` (None: all).

    Examples
    --------
    >>> sorted({r.device for r in compare("conv")}), sorted({r.dtype for r in compare("rnn")})
    (['t4', 'v100'], ['fp16', 'fp32'])
    """
    return [spec.row(raw) for name, spec in _TABLES.items() if table is None or name == table
            for raw in load_table(name) if device is None or raw["device"] == device]


def summary() -> dict[tuple[str, str, str, str], dict[str, float]]:
    """Per (table, device, dtype, pass): rows, median error, median |error| and the share within 25 % (error =
    simulated / measured time - 1), over the rows the benchmark ran as published (the convolutions it did not pad).

    Examples
    --------
    >>> summary()[("conv", "v100", "fp16", "forward")]["rows"]
    84.0
    """
    groups: dict[tuple[str, str, str, str], list[float]] = {}
    chosen = [spec.row(raw) for spec in _TABLES.values() for raw in load_table(spec.name) if spec.chosen(raw)]
    for row in chosen:
        for phase in PASSES:
            error = row.rel_error(phase)
            if error is not None:
                groups.setdefault((row.table, row.device, row.dtype, phase), []).append(error)
    return {key: error_summary(errors) for key, errors in sorted(groups.items())}


def _case_rows(table: str) -> list[tuple[Mapping[str, str], LayerRow]]:
    """Every :data:`STRIDE`-th chosen row of each device's and dtype's sheet, in its order."""
    spec = _TABLES[table]
    rows = [(raw, spec.row(raw)) for raw in load_table(table) if spec.chosen(raw)]
    return every_nth(rows, lambda pair: (pair[1].device, pair[1].dtype), STRIDE)


def _described(row: LayerRow) -> tuple[str, str]:
    """The case name's shape part and the quantity's words for ``row``'s layer."""
    layer, sizes = dict(row.layer), row.inputs[0][1]
    if row.table == "conv":
        c, h, w = sizes
        (r, s), stride, pad = layer["kernel"], layer["stride"][0], layer["padding"][0]
        return (f"c{c}-{h}x{w}-n{row.batch}-k{layer['out']}-{r}x{s}-s{stride}",
                f"a {r} x {s} convolution (stride {stride}, padding {pad}) of {c} channels of {h} x {w} into "
                f"{layer['out']}, batch {row.batch}")
    steps, hidden = sizes
    return (f"{layer['kind']}-h{hidden}-n{row.batch}-t{steps}",
            f"one {layer['kind'].upper()} layer of {hidden} hidden units over {steps} time steps, batch {row.batch}")


def _register_cases() -> None:
    for name, spec in _TABLES.items():
        for raw, row in _case_rows(name):
            shape, described = _described(row)
            for phase in PASSES:
                measured = row.measured[phase]
                if measured is None:
                    continue
                what = "the forward" if phase == "forward" else "the input's gradient plus the weights' gradient"
                register_case(Case(
                    name=f"deepbench-{name}-{row.device}-{row.dtype}-{shape}-{_SHORT[phase]}",
                    source=f"{spec.source}: {row.device.upper()} sheet, {row.dtype}, {row.app} row "
                           + ", ".join(f"{k}={v}" for k, v in raw.items() if k not in ("device", "dtype", "app")
                                       and not k.endswith("_ms")),
                    quantity=f"{phase} time of {described} in {row.dtype} on one {row.device.upper()}",
                    published=1e6 * measured, unit="us", tag="[M]",
                    assumptions=(f"{what}; the catalog {row.device} and its compute model of the layer, one "
                                 f"layer's `layer_time` (docs/compute-model.md); {spec.timing}"),
                    method="simtrain.validation.layer_tables.layer_seconds",
                    compute=partial(_case_us, row, phase),
                    role="test", gap=spec.gaps[phase], command=row.command(),
                    source_id="deepbench"))


def _case_us(row: LayerRow, phase: str) -> float:
    return 1e6 * row.simulated(phase)


_register_cases()
