"""BytePS-Compress (Zhong et al., arXiv 2105.07829): two-way compression through parameter servers.

Inside a node the GPUs reduce their gradients over NVLink (NCCL; no compression there); the node's leader then
pushes the compressed gradient to the parameter servers (one per node, co-located), which decompress, sum,
re-compress the aggregate with their own error feedback, and the workers pull it; the leader broadcasts it in the
node. Compressors: ``onebit`` (sign bits in 64-bit words + one fp32 scale), ``topk`` (uint32 index + fp32
value), ``randomk`` (values only, shared seed), ``dithering`` (max-norm, int8 + one fp32 scale).

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet50"), num_gpus=16, gpus_per_node=8)
>>> [c.op for c in make_scheme("byteps-compress").phases(ctx)[0].comms(ctx.model.tensors)]
['reduce', 'push-pull', 'broadcast']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from simtrain.compression._common import codec_bytes, dense_bytes
from simtrain.compression.base import Communication, Phase, Scheme, SchemeContext
from simtrain.compression.registry import register_scheme
from simtrain.model.spec import Tensor
from simtrain.params import Param

COMPRESSORS = ("onebit", "topk", "randomk", "dithering")


@register_scheme
class BytePSCompress(Scheme):
    """Hierarchical push/pull with a compressor on the inter-node hop, both ways."""

    name = "byteps-compress"
    summary = "BytePS-Compress: NVLink reduce, compressed push/pull to PS, broadcast (onebit/topk/randomk/dithering)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("compressor", "choice", "onebit", "the compressor on the inter-node hop", choices=COMPRESSORS),
        Param("density", "number", 0.01, "topk/randomk: fraction of values sent", minimum=0, exclusive_minimum=True,
              maximum=1),
        Param("levels", "integer", 127, "dithering: quantisation levels", minimum=1, maximum=32767),
    )

    def codec_params(self) -> dict[str, object]:
        """Parameters of the compressor's codec."""
        compressor = self.params["compressor"]
        if compressor in ("topk", "randomk"):
            # BytePS sends fp32 values (and uint32 indices for top-k) whatever the gradient precision
            return {"density": self.params["density"], "value_dtype": "fp32"}
        if compressor == "dithering":
            return {"levels": self.params["levels"]}
        return {}

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        compressor = self.params["compressor"]

        def comms(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            compressed = codec_bytes(compressor, tensors, **self.codec_params())
            push = [Communication(f"{compressor} gradients", "push-pull", compressed,
                                  "leaders" if ctx.gpus_per_node > 1 else "world", pull_bytes=compressed)]
            if ctx.gpus_per_node == 1:
                return push
            full = dense_bytes(tensors, ctx)
            return [Communication("gradients", "reduce", full, "node"), *push,
                    Communication("aggregate", "broadcast", full, "node")]

        return [Phase("compressed", comms,
                      compute_flops=lambda ts: 6.0 * sum(t.numel for t in ts))]  # compress + decompress, twice
