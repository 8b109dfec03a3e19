"""Helpers shared by the scheme families: dense payloads, per-tensor codec sizes, compute costs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simtrain.compression.base import Communication, SchemeContext
from simtrain.model.spec import Tensor

__all__ = ["codec_bytes", "dense", "dense_bytes"]


def dense_bytes(tensors: Sequence[Tensor], ctx: SchemeContext) -> float:
    """Uncompressed bytes of ``tensors`` at the gradient precision."""
    return float(sum(t.numel for t in tensors) * ctx.value_bytes)


def dense(tensors: Sequence[Tensor], ctx: SchemeContext, label: str = "gradients", group: str = "world",
          op: str = "all-reduce") -> list[Communication]:
    """One uncompressed collective of ``tensors`` (nothing when there are none)."""
    if not tensors:
        return []
    return [Communication(label, op, dense_bytes(tensors, ctx), group)]


def codec_bytes(name: str, tensors: Sequence[Tensor], **params: Any) -> float:
    """Total payload of ``tensors`` encoded one by one with codec ``name`` (the codec's own size rule)."""
    from simtrain.compression.codecs import make_codec

    codec = make_codec(name, **params)   # validated once, not once per tensor
    return float(sum(codec.payload_bytes(t.shape) for t in tensors))
