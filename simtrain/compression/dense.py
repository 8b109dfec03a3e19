"""Uncompressed data parallelism and half-precision gradients: ``none``, ``fp16``, ``bf16``.

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet50"), num_gpus=8)
>>> make_scheme("fp16").phases(ctx)[0].payload_bytes(ctx.model.tensors) == 2 * 25_557_032
True
"""

from __future__ import annotations

from collections.abc import Sequence

from simtrain.compression._common import codec_bytes, dense
from simtrain.compression.base import Communication, Phase, Scheme, SchemeContext
from simtrain.compression.registry import register_scheme
from simtrain.model.spec import Tensor


@register_scheme
class NoCompression(Scheme):
    """Plain data parallelism: every step all-reduces every gradient at the gradient precision."""

    name = "none"
    summary = "uncompressed data parallelism (the baseline)"

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        return [Phase("dense", lambda tensors: dense(tensors, ctx))]


class _HalfPrecision(Scheme):
    codec = "fp16"

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        def comms(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            return [Communication(f"{self.codec} gradients", "all-reduce", codec_bytes(self.codec, tensors))]

        return [Phase(self.codec, comms, compute_flops=lambda tensors: float(sum(t.numel for t in tensors)))]


@register_scheme
class FP16(_HalfPrecision):
    """Gradients cast to IEEE half precision before the all-reduce."""

    name = "fp16"
    summary = "gradients in fp16 (2 bytes per value)"
    codec = "fp16"


@register_scheme
class BF16(_HalfPrecision):
    """Gradients cast to bfloat16 before the all-reduce."""

    name = "bf16"
    summary = "gradients in bf16 (2 bytes per value)"
    codec = "bf16"
