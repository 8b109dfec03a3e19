"""Periodic synchronisation: local SGD, Local AdaAlter, CSER.

* ``local-sgd:period=H``: H-1 local steps without communication, then the models are averaged (one all-reduce
  of the parameters).
* ``local-adaalter:period=H`` (Xie et al. 2019): as local SGD, but the AdaGrad accumulator is averaged too:
  2·b·N every H steps.
* ``cser:r1=R1,r2=R2,period=H`` (Xie et al., NeurIPS 2020, in the form of its reference code): every step the
  workers average one randomly chosen contiguous block of every tensor (a shared seed, so no indices travel), of
  1/R1 of the tensor; every H-th step the block is 1/R2 instead (the error reset). Mean payload per step
  b·N·((H-1)/R1 + 1/R2)/H.

Averaging happens after the optimizer step, so this communication does not overlap backward.

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext, steps_per_phase
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet18-cifar"), num_gpus=8)
>>> s = make_scheme("cser:r1=8,r2=4,period=2")
>>> steps_per_phase(s.run(ctx, 100), 2)
[50, 50]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from simtrain.compression._common import codec_bytes, dense, dense_bytes
from simtrain.compression.base import Block, Communication, Phase, Scheme, SchemeContext, Segment, repeat_period
from simtrain.compression.registry import register_scheme
from simtrain.model.spec import Tensor
from simtrain.params import Param

PERIOD = Param("period", "integer", 4, "H: steps between synchronisations", minimum=1)


class _Periodic(Scheme):
    parameters: ClassVar[tuple[Param, ...]] = (PERIOD,)

    def pattern(self) -> list[Segment]:
        h = self.params["period"]
        return [Segment(0, h - 1), Segment(1, 1)] if h > 1 else [Segment(1, 1)]

    def run(self, ctx: SchemeContext, total_steps: int) -> list[Block]:
        return repeat_period(self.pattern(), total_steps)

    def period(self, ctx: SchemeContext) -> list[Segment]:
        return self.pattern()


@register_scheme
class LocalSGD(_Periodic):
    """Local SGD: average the models every ``period`` steps."""

    name = "local-sgd"
    summary = "local SGD: H-1 local steps, then average the parameters (all-reduce)"

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        return [Phase("local", lambda tensors: [], overlap=False),
                Phase("sync", lambda tensors: dense(tensors, ctx, "parameters"), overlap=False)]


@register_scheme
class LocalAdaAlter(_Periodic):
    """Local AdaAlter: average the parameters and the AdaGrad accumulators every ``period`` steps."""

    name = "local-adaalter"
    summary = "Local AdaAlter: every H steps average parameters and accumulators (2 b N)"

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        def sync(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            return [Communication("parameters+accumulators", "all-reduce", 2 * dense_bytes(tensors, ctx))]

        return [Phase("local", lambda tensors: [], overlap=False), Phase("sync", sync, overlap=False)]


@register_scheme
class CSER(_Periodic):
    """CSER: a shared random block of 1/R1 of every tensor averaged each step, 1/R2 every H-th step."""

    name = "cser"
    summary = "CSER error reset: average a random 1/R1 block each step, 1/R2 every H steps"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("r1", "integer", 8, "each step averages a block of 1/R1 of every tensor", minimum=1),
        Param("r2", "integer", 4, "every H-th step the block is 1/R2 (the error reset)", minimum=1),
        Param("period", "integer", 2, "H: steps between error resets", minimum=1),
    )

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        def block(ratio: int) -> Phase:
            def comms(tensors: Sequence[Tensor]) -> list[Communication]:
                if not tensors:
                    return []
                return [Communication(f"1/{ratio} blocks", "all-reduce",
                                      codec_bytes("block", tensors, fraction=1.0 / ratio,
                                                  value_dtype=ctx.value_dtype))]

            return Phase(f"block 1/{ratio}", comms, overlap=False,
                         compute_flops=lambda ts: float(sum(math.ceil(t.numel / ratio) for t in ts)))

        return [block(self.params["r1"]), block(self.params["r2"])]
