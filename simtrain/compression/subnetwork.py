"""Independent sub-network training: ResIST and GIST.

Workers train different sub-networks for several local iterations, then exchange them; only the exchange
communicates.

ResIST (Dun et al., UAI 2022; ``dunchen/ResIST_release``)
    The residual blocks of one section (``section``, default ``layer3``: the third section of a pre-activation
    ResNet-101) are partitioned among S sub-networks; every other tensor is shared. Every ``local_iters``
    steps: an all-reduce of the shared tensors, and an exchange of the partitioned blocks (each worker sends
    its 1/S of them and receives its new ones), modelled as an all-to-all of b·N_part/S per worker. Published on
    ``preact-resnet101-cifar``.
GIST (Wolfe et al., arXiv 2102.10424)
    The hidden dimensions of every layer of a GCN are split into m disjoint groups, giving m narrow sub-GCNs of
    full depth (input and output dimensions are not split). Every ``local_iters`` steps each worker sends its
    sub-GCN to rank 0 and receives the next one (a star, as in the reference code): b·params_sub each way, with
    params_sub = d0·d1/m for the first layer, d_{l-1}·d_l/m² inside, d_{L-1}·d_L/m for the last (plus split
    biases). Published on GCNs (``gcn-reddit``).

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("gcn-reddit"), num_gpus=4)
>>> sync = make_scheme("gist").phases(ctx)[1].comms(ctx.model.tensors)[0]
>>> sync.op, int(sync.payload_bytes / 4)       # 602x256/4 + 256x256/16 + 256x41/4 + split biases, fp32
('push-pull', 45417)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from simtrain.compression._common import dense_bytes
from simtrain.compression.base import Block, Communication, Phase, Scheme, SchemeContext, Segment, repeat_period
from simtrain.compression.registry import register_scheme
from simtrain.model.spec import Tensor
from simtrain.params import Param

SUBNETWORKS = Param("subnetworks", "integer", None, "sub-networks (default: one per worker)", minimum=1)


class _Rounds(Scheme):
    def _pattern(self) -> list[Segment]:
        rounds = self.params["local_iters"]
        return [Segment(0, rounds - 1), Segment(1, 1)] if rounds > 1 else [Segment(1, 1)]

    def run(self, ctx: SchemeContext, total_steps: int) -> list[Block]:
        return repeat_period(self._pattern(), total_steps)

    def period(self, ctx: SchemeContext) -> list[Segment]:
        return self._pattern()

    def subnetworks(self, ctx: SchemeContext) -> int:
        """Sub-networks (default: one per worker)."""
        return int(self.params["subnetworks"] or ctx.num_gpus)


@register_scheme
class ResIST(_Rounds):
    """ResIST: blocks of one section partitioned into S sub-ResNets, exchanged every ``local_iters`` steps."""

    name = "resist"
    summary = "ResIST: one ResNet section split among sub-networks; every l steps shared all-reduce + block exchange"
    parameters: ClassVar[tuple[Param, ...]] = (
        SUBNETWORKS,
        Param("local_iters", "integer", 50, "local steps between exchanges", minimum=1),
        Param("section", "string", "layer3", "tensor-name prefix of the partitioned section"),
    )

    def validate(self) -> None:
        if not self.params["section"]:
            raise self._error("section", "must be a tensor-name prefix such as layer3", self.params["section"])

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        prefix = self.params["section"] + "."
        if not any(t.name.startswith(prefix) for t in ctx.model.tensors):
            raise self._error("section", f"matches no tensor of {ctx.model.name}", self.params["section"],
                              allowed="a prefix of the model's tensor names, e.g. layer3")
        s = self.subnetworks(ctx)

        def exchange(tensors: Sequence[Tensor]) -> list[Communication]:
            shared = [t for t in tensors if not t.name.startswith(prefix)]
            part = [t for t in tensors if t.name.startswith(prefix)]
            out = []
            if shared:
                out.append(Communication("shared tensors", "all-reduce", dense_bytes(shared, ctx)))
            if part:
                out.append(Communication("partitioned blocks", "all-to-all", dense_bytes(part, ctx) / s))
            return out

        return [Phase("local", lambda tensors: [], overlap=False), Phase("exchange", exchange, overlap=False)]


@register_scheme
class GIST(_Rounds):
    """GIST: hidden dimensions split into m sub-GCNs, exchanged with rank 0 every ``local_iters`` steps."""

    name = "gist"
    summary = "GIST: hidden dimensions split into m narrow sub-GCNs; every zeta steps each is sent to and from rank 0"
    parameters: ClassVar[tuple[Param, ...]] = (
        SUBNETWORKS, Param("local_iters", "integer", 500, "local steps (zeta) between exchanges", minimum=1))

    def sub_params(self, ctx: SchemeContext, tensors: Sequence[Tensor]) -> float:
        """Parameters of one sub-network among ``tensors``."""
        m = self.subnetworks(ctx)
        linear = [layer for layer in ctx.model.layers if layer.kind == "linear" and layer.tensors]
        first, last = linear[0].name if linear else "", linear[-1].name if linear else ""
        names = {t.name for t in tensors}
        total = 0.0
        for layer in ctx.model.layers:
            for t in layer.tensors:
                if t.name not in names:
                    continue
                split_out = layer.name != last
                split_in = layer.name != first and layer.kind == "linear"
                if t.name.endswith(".bias") or len(t.shape) == 1:
                    total += math.ceil(t.numel / m) if split_out and layer.kind == "linear" else t.numel
                else:
                    total += t.numel / ((m if split_out else 1) * (m if split_in else 1))
        return total

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        # GIST splits the feature dimensions of a GCN's dense transforms; a convolution's or attention's weight
        # matrices have no such split in it (1-D weights, a norm's scale, follow their layer's features)
        other = sorted({layer.kind for layer in ctx.model.layers
                        if layer.kind != "linear" and any(len(t.shape) >= 2 for t in layer.tensors)})
        if other:
            raise self._error("model", f"{ctx.model.name} has {', '.join(other)} layers with weights; GIST splits "
                                       "the hidden features of a GCN's linear layers", ctx.model.name,
                              allowed="a model whose weighted layers are all linear (a GCN's dense transforms, "
                                      "e.g. gcn-reddit)")

        def exchange(tensors: Sequence[Tensor]) -> list[Communication]:
            if not tensors:
                return []
            payload = self.sub_params(ctx, tensors) * ctx.value_bytes
            return [Communication("sub-network", "push-pull", payload, servers=1)]

        return [Phase("local", lambda tensors: [], overlap=False), Phase("exchange", exchange, overlap=False)]
