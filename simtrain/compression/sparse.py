"""Sparsification: top-k and MSTopK (values + indices, all-gathered), random-k (shared indices, all-reduced).

Indices differ per worker for top-k, so the (index, value) pairs cannot be summed by an all-reduce: they are
all-gathered, and every worker receives (p-1)·k·(index + value) bytes, growing with p. Random-k draws the same
indices on every worker from a shared seed, so only values travel and an all-reduce works.

MSTopK (Shi et al., MLSys 2021) selects by a sampled threshold and communicates hierarchically (HiTopKComm):
a dense reduce-scatter inside each node over NVLink, each GPU sparsifies its 1/g shard, a sparse all-gather among
the GPUs of the same local rank across nodes, then a dense all-gather inside the node. The inter-node payload per
GPU is the top-k of its shard. (The exact HiTopKComm steps are from a secondary description, not the paper's
text: docs/references.md, "MSTopK".)

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet18-cifar"), num_gpus=16)
>>> c = make_scheme("topk:density=0.01").phases(ctx)[0].comms(ctx.model.tensors)[0]
>>> c.op, c.group
('all-gather', 'world')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from simtrain.compression._common import codec_bytes, dense_bytes
from simtrain.compression.base import Communication, Phase, Scheme, SchemeContext
from simtrain.compression.registry import register_scheme
from simtrain.model.spec import Tensor
from simtrain.params import Param

DENSITY = Param("density", "number", 0.01, "fraction ρ of every tensor's values sent", minimum=0,
                exclusive_minimum=True, maximum=1)
INDEX_BYTES = Param("index_bytes", "integer", 4, "bytes per index: 4 (uint32) or 8 (uint64)", minimum=4, maximum=8,
                    unit="B")


def _selection_flops(tensors: Sequence[Tensor]) -> float:
    # a partial selection reads the gradient a few times: ~10 operations per element
    return float(10 * sum(t.numel for t in tensors))


@register_scheme
class TopK(Scheme):
    """Exact top-k of every tensor (density ρ) with error feedback; (index, value) pairs all-gathered."""

    name = "topk"
    summary = "top-k sparsification with error feedback, all-gather of (index, value)"
    parameters: ClassVar[tuple[Param, ...]] = (DENSITY, INDEX_BYTES)

    def validate(self) -> None:
        if self.params["index_bytes"] not in (4, 8):
            raise self._error("index_bytes", "must be 4 or 8", self.params["index_bytes"])

    def state_bytes(self, ctx: SchemeContext, optimizer: str = "momentum") -> dict[str, float]:
        """Error feedback: an fp32 residual of every gradient value."""
        return {"error feedback residuals": float(4 * sum(t.numel for t in ctx.held_tensors))}

    def _codec_params(self, ctx: SchemeContext) -> dict[str, object]:
        return {"density": self.params["density"], "index_bytes": self.params["index_bytes"],
                "value_dtype": ctx.value_dtype}

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        def comms(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            return [Communication("values+indices", "all-gather",
                                  codec_bytes(self.name, tensors, **self._codec_params(ctx)))]

        return [Phase("sparse", comms, compute_flops=_selection_flops)]


@register_scheme
class MSTopK(TopK):
    """MSTopK: sampled-threshold top-k with hierarchical communication (HiTopKComm)."""

    name = "mstopk"
    summary = "MSTopK: approximate top-k, dense in node, sparse all-gather across nodes (HiTopKComm)"
    parameters: ClassVar[tuple[Param, ...]] = (
        DENSITY, INDEX_BYTES, Param("rounds", "integer", 20, "threshold bisection rounds", minimum=1, maximum=1000))

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        g = ctx.gpus_per_node

        def comms(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            from simtrain.compression.codecs import make_codec

            codec = make_codec("mstopk", **{**self._codec_params(ctx), "rounds": self.params["rounds"]})
            shard = float(sum(codec.payload_bytes((math.ceil(t.numel / g),)) for t in tensors))
            if g == 1:  # no node to reduce in: a plain sparse all-gather
                return [Communication("values+indices", "all-gather", shard)]
            full = dense_bytes(tensors, ctx)
            if ctx.num_nodes == 1:  # one node: NVLink all-reduce, nothing crosses the network
                return [Communication("gradients", "all-reduce", full, "node")]
            return [Communication("gradients (shards)", "reduce-scatter", full, "node"),
                    Communication("shard values+indices", "all-gather", shard, "peers"),
                    Communication("gradients (shards)", "all-gather", full / g, "node")]

        return [Phase("sparse", comms, compute_flops=_selection_flops)]


@register_scheme
class RandomK(Scheme):
    """Random-k with a shared seed: the same k indices on every worker, so the k values are all-reduced."""

    name = "randomk"
    summary = "random-k with shared indices (values only, all-reduce)"
    parameters: ClassVar[tuple[Param, ...]] = (DENSITY,)

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        def comms(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            return [Communication("values", "all-reduce",
                                  codec_bytes("randomk", tensors, density=self.params["density"],
                                              value_dtype=ctx.value_dtype))]

        return [Phase("sparse", comms,
                      compute_flops=lambda ts: float(2 * sum(math.ceil(self.params["density"] * t.numel)
                                                             for t in ts)))]
