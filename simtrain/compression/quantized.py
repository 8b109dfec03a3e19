"""Quantisation: QSGD (s levels), signSGD (packed signs), 1-bit with error feedback (signs + one scale).

Quantised values differ per worker and cannot be summed in their compressed form, so they are all-gathered
(as GRACE's implementations do) and decoded and summed on every worker.

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet50"), num_gpus=8)
>>> phase = make_scheme("signsgd").phases(ctx)[0]
>>> round(ctx.model.num_params * 4 / phase.payload_bytes(ctx.model.tensors), 1)   # 32x smaller
32.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from simtrain.compression._common import codec_bytes
from simtrain.compression.base import Communication, Phase, Scheme, SchemeContext
from simtrain.compression.registry import register_scheme
from simtrain.model.spec import Tensor
from simtrain.params import Param


class _AllGathered(Scheme):
    codec = ""
    label = ""
    flops_per_value = 4.0

    def codec_params(self) -> dict[str, object]:
        return {}

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        def comms(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            return [Communication(self.label, "all-gather", codec_bytes(self.codec, tensors, **self.codec_params()))]

        return [Phase("quantised", comms,
                      compute_flops=lambda ts: self.flops_per_value * sum(t.numel for t in ts))]


@register_scheme
class QSGD(_AllGathered):
    """QSGD: stochastic s-level quantisation, one norm per tensor (int8 levels up to s = 127, else int16)."""

    name = "qsgd"
    summary = "QSGD stochastic quantisation to s levels (all-gather)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("levels", "integer", 127, "quantisation levels s (int8 up to 127, else int16)", minimum=1,
              maximum=32767),)
    codec = "qsgd"
    label = "norms+levels"

    def codec_params(self) -> dict[str, object]:
        return {"levels": self.params["levels"]}


@register_scheme
class SignSGD(_AllGathered):
    """signSGD: one bit per value (majority vote on the signs)."""

    name = "signsgd"
    summary = "signSGD: packed sign bits, majority vote (all-gather)"
    codec = "signsgd"
    label = "signs"
    flops_per_value = 2.0


@register_scheme
class OneBit(_AllGathered):
    """1-bit SGD with error feedback: packed signs plus one fp32 scale per tensor (BytePS's onebit format)."""

    name = "onebit"
    summary = "1-bit with error feedback: packed signs + one scale per tensor (all-gather)"
    codec = "onebit"
    label = "signs+scale"
    flops_per_value = 3.0

    def state_bytes(self, ctx: SchemeContext, optimizer: str = "momentum") -> dict[str, float]:
        """Error feedback: an fp32 residual of every gradient value."""
        return {"error feedback residuals": float(4 * sum(t.numel for t in ctx.held_tensors))}
