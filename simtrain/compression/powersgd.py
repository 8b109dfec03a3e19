"""PowerSGD (Vogels, Karimireddy, Jaggi, NeurIPS 2019): rank-r power iteration with error feedback.

For every gradient matrix M (m×n, the 2-D view of a weight) with memory added: P = M·Q (Q warm-started),
all-reduce P, orthogonalise it, Q = Mᵀ·P, all-reduce Q, M̂ = P·Qᵀ. A matrix is compressed only when it pays
((m + n)·r·min_compression_rate < m·n, PyTorch's rule); 1-D tensors and the rest are all-reduced uncompressed.
Per step: two all-reduces of r·Σm and r·Σn values, plus one of the uncompressed tensors.

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet18-cifar"), num_gpus=16)
>>> phase = make_scheme("powersgd:rank=1").phases(ctx)[1]
>>> round(ctx.model.num_params * 4 / phase.payload_bytes(ctx.model.tensors), 1)   # the paper's 243x
243.3
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from simtrain.compression._common import dense
from simtrain.compression.base import Block, Communication, Phase, Scheme, SchemeContext, Segment
from simtrain.compression.registry import register_scheme
from simtrain.model.spec import Tensor
from simtrain.params import Param


def _matrix(tensor: Tensor) -> tuple[int, int]:
    shape = tensor.matrix_shape
    assert shape is not None
    return shape


@register_scheme
class PowerSGD(Scheme):
    """PowerSGD with rank ``rank``; plain all-reduce for the first ``start_iter`` steps."""

    name = "powersgd"
    summary = "PowerSGD rank-r power iteration: two all-reduces (P, Q) + uncompressed tensors"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("rank", "integer", 1, "rank r of the power iteration", minimum=1),
        Param("min_compression_rate", "number", 2.0, "compress a matrix only when (m + n)·r·rate < m·n",
              minimum=1),
        Param("start_iter", "integer", 0, "uncompressed all-reduce steps before PowerSGD starts", minimum=0,
              unit="steps"),
    )

    def dense_steps(self, ctx: SchemeContext) -> tuple[str, int] | None:
        return ("start_iter", self.params["start_iter"]) if self.params["start_iter"] else None

    def state_bytes(self, ctx: SchemeContext, optimizer: str = "momentum") -> dict[str, float]:
        """Error feedback keeps a residual of every compressed matrix; P and Q (and Q's warm start) persist.

        Examples
        --------
        >>> from simtrain.model import load_model
        >>> ctx = SchemeContext(load_model("resnet50"), num_gpus=8)
        >>> sorted(PowerSGD(rank=4).state_bytes(ctx))
        ['P and Q factors', 'error feedback residuals']
        """
        residual = factors = 0
        for t in ctx.held_tensors:
            if self.compressed(t):
                (m, n), r = t.matrix_shape, min(self.params["rank"], *t.matrix_shape)  # type: ignore[misc]
                residual += m * n
                factors += r * (m + n)
        return {"error feedback residuals": float(4 * residual), "P and Q factors": float(4 * factors)}

    def compressed(self, tensor: Tensor) -> bool:
        """Whether PowerSGD compresses this tensor."""
        shape = tensor.matrix_shape
        if shape is None:
            return False
        m, n = shape
        r = min(self.params["rank"], m, n)
        return (m + n) * r * self.params["min_compression_rate"] < m * n

    def check_model(self, ctx: SchemeContext) -> None:
        """A rank above every matrix's full rank is a mistake, not a no-op."""
        ranks = [min(t.matrix_shape) for t in ctx.model.tensors if t.matrix_shape is not None]
        if ranks and self.params["rank"] > max(ranks):
            raise self._error("rank", f"exceeds min(m, n) of every weight matrix of {ctx.model.name}",
                              self.params["rank"], allowed=f"at most {max(ranks)}")

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        self.check_model(ctx)
        b = ctx.value_bytes
        r = self.params["rank"]

        def comms(tensors: Sequence[Tensor]) -> list[Communication]:
            matrices = [t for t in tensors if self.compressed(t)]
            rest = [t for t in tensors if not self.compressed(t)]
            out = []
            if matrices:
                shapes = [_matrix(t) for t in matrices]
                p_values = sum(min(r, m, n) * m for m, n in shapes)
                q_values = sum(min(r, m, n) * n for m, n in shapes)
                out.append(Communication("P factors", "all-reduce", float(p_values * b)))
                out.append(Communication("Q factors", "all-reduce", float(q_values * b)))
            return out + dense(rest, ctx, "uncompressed tensors")

        def flops(tensors: Sequence[Tensor]) -> float:
            total = 0.0
            for t in tensors:
                if self.compressed(t):
                    m, n = _matrix(t)
                    k = min(r, m, n)
                    total += 4.0 * m * n * k + 2.0 * m * k * k  # M·Q, Mᵀ·P, QR of P
            return total

        return [Phase("dense", lambda tensors: dense(tensors, ctx)), Phase("compressed", comms, compute_flops=flops)]

    def run(self, ctx: SchemeContext, total_steps: int) -> list[Block]:
        start = min(self.params["start_iter"], total_steps)
        blocks = [Block((Segment(0, start),))] if start else []
        return blocks + ([Block((Segment(1, total_steps - start),))] if total_steps > start else [])

    def period(self, ctx: SchemeContext) -> list[Segment]:
        return [Segment(1, 1)]
