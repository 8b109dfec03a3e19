"""Low-rank training: AB-training, OIALR, Cuttlefish.

They shrink what data parallelism communicates by training factorised weights. Ranks are a parameter:
``rank=R`` (absolute, clamped to each layer's full rank), ``rank_fraction=F`` (of each layer's full rank
min(m, n)), or ``rank_profile=FILE`` (a YAML/JSON mapping of tensor name to rank, for instance one measured by a
real training run). The singular-value rules the papers use need real weights, so the traffic model takes the
ranks as given. Layers are the weights of ``conv2d`` and ``linear`` layers, viewed as m × n = C_out × C_in·kh·kw.

AB-training (Coquelin et al., arXiv 2405.01067; schedule as in its reference code)
    Warm-up of full-rank data-parallel steps; then cycles of ``sync_every`` steps: AB steps in which groups of
    ``group_size`` ranks (default: a node) all-reduce one factor (half the groups A: r·m per layer, half B:
    r·n) plus the 1-D and always-full-rank tensors, inside the group; one world sync of both factors; and
    ``rebound`` full-rank steps. The first and last weight layers stay full rank.
OIALR (Coquelin et al., arXiv 2401.08505)
    Full-rank warm-up, then W = U·S·Vᵀ with only S (k × k) trained and all-reduced; every
    ``stability_frequency`` steps a rank update broadcasts U, S, Vᵀ of the updated layers
    (b·k(m + n + k) each). Eligible: matrices with min(m, n) > max(m, n)/10; the last layer stays full rank.
Cuttlefish (Wang et al., MLSys 2023)
    Full rank until ``switch_epoch``, then factorised layers all-reduce r(m + n); the first ``keep_first`` weight
    layers, 1 × 1 convolutions (unless ``pointwise``) and the last layer stay full rank. The authors' code keeps
    the first K blocks: ``keep_first=7`` on ``resnet18-cifar`` factorises exactly its ten CIFAR layers
    (``docs/lowrank.md``, "Cuttlefish's model-size reduction").

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext, steps_per_phase
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet50"), num_gpus=16, gpus_per_node=4)
>>> ab = make_scheme("ab-training:rank_fraction=0.1,warmup=9300,sync_every=3000,rebound=300")
>>> steps_per_phase(ab.run(ctx, 45000), 3)     # full-rank, AB, sync steps
[12600, 32388, 12]
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from simtrain.compression._common import dense, dense_bytes
from simtrain.compression.base import (
    Block,
    Communication,
    Phase,
    RankChoice,
    Scheme,
    SchemeContext,
    Segment,
    warmup_then,
)
from simtrain.compression.registry import register_scheme
from simtrain.errors import ConfigError
from simtrain.model.spec import ModelSpec, Tensor
from simtrain.params import Param

__all__ = ["OIALR", "ABTraining", "Cuttlefish", "weight_matrices"]


def weight_matrices(model: ModelSpec) -> list[Tensor]:
    """The weights of the model's conv2d and linear layers, in forward order."""
    return [t for layer in model.layers if layer.kind in ("conv2d", "linear") for t in layer.tensors
            if t.name.endswith(".weight") and t.matrix_shape is not None]


def _shape(tensor: Tensor) -> tuple[int, int]:
    shape = tensor.matrix_shape
    assert shape is not None
    return shape


class _LowRank(Scheme):
    """Shared rank parameters."""

    rank_params: ClassVar[tuple[Param, ...]] = (
        Param("rank", "integer", None, "absolute rank of every factorised layer (clamped to its full rank)",
              minimum=1),
        Param("rank_fraction", "number", None, "rank as a fraction of each layer's full rank (default 0.25)",
              minimum=0, exclusive_minimum=True, maximum=1),
        Param("rank_profile", "string", None, "YAML/JSON file mapping tensor names to ranks"),
    )
    default_fraction = 0.25

    def validate(self) -> None:
        given = [k for k in ("rank", "rank_fraction", "rank_profile") if self.params[k] is not None]
        if len(given) > 1:
            raise self._error(given[1], "give only one of rank, rank_fraction and rank_profile", self.params[given[1]])

    def with_ranks(self, profile: dict[str, int]) -> _LowRank:
        """This scheme with its ranks given as a mapping (tensor name → rank), as a ``rank_profile`` file would.

        What real training uses when ranks come from the data and change during the run (OIALR's pruning);
        the mapping replaces ``rank``, ``rank_fraction`` and ``rank_profile`` and is checked against the model
        like a profile file.

        Examples
        --------
        >>> from simtrain.compression import make_scheme
        >>> make_scheme("oialr").with_ranks({"fc1.weight": 3}).describe()
        'oialr'
        """
        out = copy.copy(self)
        out._rank_map = dict(profile)
        return out

    _rank_map: dict[str, int] | None = None

    def ranks(self, ctx: SchemeContext, tensors: Sequence[Tensor]) -> tuple[RankChoice, list[Tensor]]:
        """The rank rule, checked against the model, and the layers it factorises (with a profile: the layers
        the profile names; the others stay full rank)."""
        if self._rank_map is not None:
            profile = _check_profile(self._rank_map, ctx.model, "ranks")
            return RankChoice(profile=profile), [t for t in tensors if t.name in profile]
        if self.params["rank_profile"] is not None:
            profile = _read_profile(self.params["rank_profile"], ctx.model, self.name)
            return RankChoice(profile=profile), [t for t in tensors if t.name in profile]
        if self.params["rank"] is not None:
            full = [min(_shape(t)) for t in tensors]
            if full and self.params["rank"] > max(full):
                raise self._error("rank", f"exceeds min(m, n) of every factorised layer of {ctx.model.name}",
                                  self.params["rank"], allowed=f"at most {max(full)}")
            return RankChoice(rank=self.params["rank"]), list(tensors)
        fraction = self.params["rank_fraction"]
        return RankChoice(fraction=self.default_fraction if fraction is None else fraction), list(tensors)


def _read_profile(path: Any, model: ModelSpec, scheme: str) -> dict[str, int]:
    from simtrain.config import load_yaml

    if not str(path).strip():   # an empty value would read the current folder
        raise ConfigError("is empty: give a rank profile's path, or leave it out", key=f"{scheme}:rank_profile",
                          value=str(path))
    data = load_yaml(Path(str(path)), key=f"{scheme}:rank_profile")
    if not isinstance(data, dict):
        raise ConfigError("a rank profile must map tensor names to ranks", source=str(path), value=type(data).__name__)
    return _check_profile(data, model, str(path))


def _check_profile(data: dict[Any, Any], model: ModelSpec, path: str) -> dict[str, int]:
    """A profile's tensor names and ranks checked against ``model`` (errors name ``path``, the profile's source)."""
    shapes = {t.name: t.matrix_shape for t in model.tensors}
    if not data:   # a profile of no tensor factorises nothing: the scheme would silently be dense training
        raise ConfigError(f"names no tensor of {model.name}", source=str(path), key="rank profile",
                          choices=[n for n, s in shapes.items() if s is not None])
    profile = {}
    for name, rank in data.items():
        if name not in shapes:
            raise ConfigError(f"no such tensor in {model.name}", source=str(path), key=str(name), value=name,
                              choices=[n for n, s in shapes.items() if s is not None])
        shape = shapes[name]
        if shape is None:
            raise ConfigError("a 1-D tensor has no rank", source=str(path), key=str(name), value=rank)
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= min(shape):
            raise ConfigError(f"rank must be an integer in [1, min(m, n) = {min(shape)}]", source=str(path),
                              key=str(name), value=rank)
        profile[str(name)] = rank
    return profile


def _factorised_layers(scheme: Any, ctx: SchemeContext, optimizer: str) -> tuple[list[tuple[int, int, int]],
                                                                                tuple[int, int, int]]:
    """(rank, rows, columns) of each layer ``scheme`` factorises, and the widths of a weight, a gradient and the
    optimizer state per element."""
    ranks, factorised = scheme.ranks(ctx, scheme.factorised(ctx.model))
    factorised = ctx.held_of(factorised)   # chosen on the whole model, counted as this GPU holds them
    layers = [(int(ranks.rank_of(t)), int(_shape(t)[0]), int(_shape(t)[1])) for t in factorised]
    return layers, _widths(ctx, optimizer)


def _widths(ctx: SchemeContext, optimizer: str) -> tuple[int, int, int]:
    """Bytes per value of weights (with an fp32 master copy under mixed precision), gradients and optimizer state."""
    from simtrain.optimizers import get_optimizer

    w = ctx.value_bytes
    return w + (4 if w < 4 else 0), w, 4 * get_optimizer(optimizer).states


def _split(model: ModelSpec, factorised: list[Tensor]) -> tuple[set[str], list[Tensor]]:
    names = {t.name for t in factorised}
    return names, [t for t in model.tensors if t.name not in names]


def _trained(names: set[str], per_layer: Any) -> Any:
    """``Phase.trained_params``: ``per_layer(tensor)`` parameters for each factorised weight in ``names``, every
    value of the other tensors (the optimizer updates what the model holds in the phase, not W)."""
    def trained(tensors: Sequence[Tensor]) -> float:
        return float(sum(per_layer(t) if t.name in names else t.numel for t in tensors))
    return trained


class _Warmed(_LowRank):
    """A low-rank scheme that runs ``warmup`` full-rank steps, then repeats its cycle: its :meth:`period`, which
    each subclass defines."""

    def starts_dense(self, ctx: SchemeContext) -> bool:
        return bool(self.params["warmup"] > 0)

    def dense_steps(self, ctx: SchemeContext) -> tuple[str, int] | None:
        return "warmup", self.params["warmup"]

    def run(self, ctx: SchemeContext, total_steps: int) -> list[Block]:
        return warmup_then(0, self.params["warmup"], self.period(ctx), total_steps)


@register_scheme
class ABTraining(_Warmed):
    """AB-training: in-group training of alternating factors, periodic world sync, full-rank rebound."""

    name = "ab-training"
    summary = "AB-training: factors trained in node groups, periodic world sync, full-rank warm-up/rebound"
    parameters: ClassVar[tuple[Param, ...]] = (
        *_LowRank.rank_params,
        Param("warmup", "integer", 9300, "full-rank steps before AB training", minimum=0,
              unit="steps"),
        Param("sync_every", "integer", 3000, "steps per cycle (AB steps, one world sync, the rebound)", minimum=1,
              unit="steps"),
        Param("rebound", "integer", 300, "full-rank steps at the end of every cycle (< sync_every)", minimum=0,
              unit="steps"),
        Param("group_size", "integer", None, "ranks per AB group (default: a node)", minimum=1, unit="ranks"),
        Param("sync_mode", "choice", "with-stale", "what the AB steps all-reduce", choices=("with-stale", "only-b")),
        Param("keep_first", "boolean", True, "the first weight layer stays full rank"),
        Param("keep_last", "boolean", True, "the last weight layer stays full rank"),
    )

    def validate(self) -> None:
        super().validate()
        if self.params["rebound"] >= self.params["sync_every"]:
            raise self._error("rebound", "must be smaller than sync_every", self.params["rebound"])

    def factorised(self, model: ModelSpec) -> list[Tensor]:
        """Weight matrices AB-training factorises."""
        weights = weight_matrices(model)
        if self.params["keep_first"] and weights:
            weights = weights[1:]
        if self.params["keep_last"] and weights:
            weights = weights[:-1]
        return weights

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        ranks, factorised = self.ranks(ctx, self.factorised(ctx.model))
        names, _ = _split(ctx.model, factorised)
        b = ctx.value_bytes
        group = self.params["group_size"] or ctx.gpus_per_node
        if ctx.num_gpus % group:
            raise self._error("group_size", f"must divide the {ctx.num_gpus} GPUs", group)
        group_name = "world" if group == ctx.num_gpus else f"groups:{group}"

        def parts(tensors: Sequence[Tensor]) -> tuple[float, float, float]:
            a = sum(ranks.rank_of(t) * _shape(t)[0] for t in tensors if t.name in names) * b
            bb = sum(ranks.rank_of(t) * _shape(t)[1] for t in tensors if t.name in names) * b
            rest = dense_bytes([t for t in tensors if t.name not in names], ctx)
            return float(a), float(bb), rest

        def ab(tensors: Sequence[Tensor]) -> list[Communication]:
            a, bb, rest = parts(tensors)
            if not (a or bb or rest):
                return []
            if self.params["sync_mode"] == "only-b":
                return [Communication("B factors", "all-reduce", bb + rest)]
            return [Communication("A or B factors", "all-reduce", (a + bb) / 2 + rest, group_name,
                                  group_payloads=(a + rest, bb + rest))]

        def sync(tensors: Sequence[Tensor]) -> list[Communication]:
            a, bb, rest = parts(tensors)
            return [Communication("A and B factors", "all-reduce", a + bb + rest)] if (a or bb or rest) else []

        def flops(tensors: Sequence[Tensor]) -> float:
            # the forward pass rebuilds W = A·B every step
            return float(sum(2 * _shape(t)[0] * _shape(t)[1] * ranks.rank_of(t) for t in tensors if t.name in names))

        # a group trains one factor (only-b: B, r·n; otherwise A or B, priced as the larger); W is rebuilt
        only_b = self.params["sync_mode"] == "only-b"
        trained = _trained(names, lambda t: ranks.rank_of(t) * (_shape(t)[1] if only_b else max(_shape(t))))
        return [Phase("full-rank", lambda tensors: dense(tensors, ctx)),
                Phase("ab", ab, compute_flops=flops, trained_params=trained),
                Phase("sync", sync, overlap=False, trained_params=trained)]

    def state_bytes(self, ctx: SchemeContext, optimizer: str = "momentum") -> dict[str, float]:
        """W stays (rebuilt from A·B, trained in the rebound); A and B are added, with the gradient and optimizer
        state of the factor a group trains (B under ``only-b``; otherwise the larger of A and B).

        Examples
        --------
        >>> from simtrain.compression import make_scheme
        >>> from simtrain.model import load_model
        >>> ctx = SchemeContext(load_model("vgg16-cifar"), num_gpus=8, gpus_per_node=4)
        >>> sorted(make_scheme("ab-training").state_bytes(ctx, "adam"))
        ['factor gradients', 'factor optimizer state', 'factors A, B']
        """
        ranks, factorised = self.ranks(ctx, self.factorised(ctx.model))
        factorised = ctx.held_of(factorised)
        weight, grad, state = _widths(ctx, optimizer)
        both = sum(ranks.rank_of(t) * sum(_shape(t)) for t in factorised)
        # only-b: every group trains B (r·n); otherwise a group trains A or B (the larger counted)
        trained = sum(ranks.rank_of(t) * (_shape(t)[1] if self.params["sync_mode"] == "only-b" else max(_shape(t)))
                      for t in factorised)
        return {"factors A, B": float(both * weight), "factor gradients": float(trained * grad),
                "factor optimizer state": float(trained * state)}

    def period(self, ctx: SchemeContext) -> list[Segment]:
        t, f = self.params["sync_every"], self.params["rebound"]
        return [Segment(1, t - f - 1), Segment(2, 1), Segment(0, f)]


@register_scheme
class OIALR(_Warmed):
    """OIALR: full-rank warm-up, then only S of U·S·Vᵀ is trained; periodic rank updates broadcast the bases."""

    name = "oialr"
    summary = "OIALR: after warm-up only S (k x k) is all-reduced; periodic broadcast of U, S, V"
    parameters: ClassVar[tuple[Param, ...]] = (
        *_LowRank.rank_params,
        Param("warmup", "integer", 10000, "full-rank steps before only S is trained", minimum=0,
              unit="steps"),
        Param("stability_frequency", "integer", 500, "steps between rank updates", minimum=1, unit="steps"),
        Param("keep_last", "boolean", True, "the last weight layer stays full rank"),
    )

    def factorised(self, model: ModelSpec) -> list[Tensor]:
        """Weight matrices OIALR converts (not too skinny; the last layer kept)."""
        weights = [t for t in weight_matrices(model) if min(_shape(t)) > max(_shape(t)) / 10]
        last = weight_matrices(model)[-1:] if self.params["keep_last"] else []
        return [t for t in weights if t not in last]

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        ranks, factorised = self.ranks(ctx, self.factorised(ctx.model))
        names, _ = _split(ctx.model, factorised)
        b = ctx.value_bytes

        def lowrank(tensors: Sequence[Tensor]) -> list[Communication]:
            s = float(sum(ranks.rank_of(t) ** 2 for t in tensors if t.name in names) * b)
            rest = [t for t in tensors if t.name not in names]
            out = [Communication("S matrices", "all-reduce", s)] if s else []
            return out + dense(rest, ctx, "full-rank tensors")

        def stability(tensors: Sequence[Tensor]) -> list[Communication]:
            bases = float(sum(ranks.rank_of(t) * (sum(_shape(t)) + ranks.rank_of(t))
                              for t in tensors if t.name in names) * b)
            return lowrank(tensors) + ([Communication("U, S, V of updated layers", "broadcast", bases)]
                                       if bases else [])

        def flops(tensors: Sequence[Tensor]) -> float:
            # U·S·Vᵀ is materialised for the forward pass
            total = 0.0
            for t in tensors:
                if t.name in names:
                    (m, n), k = _shape(t), ranks.rank_of(t)
                    total += 2.0 * m * k * k + 2.0 * m * k * n
            return total

        def svd_flops(tensors: Sequence[Tensor]) -> float:
            return flops(tensors) + float(sum(10 * ranks.rank_of(t) ** 3 for t in tensors if t.name in names))

        # only S (k × k) is trained; U and V are frozen
        trained = _trained(names, lambda t: ranks.rank_of(t) ** 2)
        return [Phase("full-rank", lambda tensors: dense(tensors, ctx)),
                Phase("low-rank", lowrank, compute_flops=flops, trained_params=trained),
                Phase("rank update", stability, compute_flops=svd_flops, trained_params=trained)]

    def state_bytes(self, ctx: SchemeContext, optimizer: str = "momentum") -> dict[str, float]:
        """Converted layers hold frozen U, V and the trained S (its gradient and optimizer state) instead of W.

        Examples
        --------
        >>> from simtrain.compression import make_scheme
        >>> from simtrain.model import load_model
        >>> ctx = SchemeContext(load_model("vgg16-cifar"), num_gpus=8)
        >>> sum(make_scheme("oialr").state_bytes(ctx, "adam").values()) < 0
        True
        """
        layers, (weight, grad, state) = _factorised_layers(self, ctx, optimizer)
        bases = sum(r * (m + n) for r, m, n in layers)
        s = sum(r * r for r, _, _ in layers)
        dense = sum(m * n for _, m, n in layers)
        return {"bases U, V": float(bases * weight), "S": float(s * weight), "S gradients": float(s * grad),
                "S optimizer state": float(s * state),
                "converted layers' dense state": -float(dense * (weight + grad + state))}

    def period(self, ctx: SchemeContext) -> list[Segment]:
        f = self.params["stability_frequency"]
        return [Segment(1, f - 1), Segment(2, 1)] if f > 1 else [Segment(2, 1)]


@register_scheme
class Cuttlefish(_LowRank):
    """Cuttlefish: full rank until the switch, then factorised layers all-reduce r(m + n)."""

    name = "cuttlefish"
    summary = "Cuttlefish: full rank until switch_epoch, then factorised layers (first/1x1/last kept)"
    parameters: ClassVar[tuple[Param, ...]] = (
        *_LowRank.rank_params,
        Param("switch_epoch", "integer", 20, "full-rank epochs before factorising", minimum=0),
        Param("keep_first", "integer", 1, "leading weight layers kept full rank", minimum=0),
        Param("pointwise", "boolean", False, "factorise 1x1 convolutions too (the authors' ImageNet ResNet-50 "
              "code factorises layer4's)"),
    )

    def factorised(self, model: ModelSpec) -> list[Tensor]:
        """Weight matrices Cuttlefish factorises."""
        layers = {t.name: layer for layer in model.layers for t in layer.tensors}
        weights = weight_matrices(model)
        kept = set(t.name for t in weights[: self.params["keep_first"]]) | {weights[-1].name} if weights else set()
        out = []
        for t in weights:
            layer = layers[t.name]
            pointwise = layer.kind == "conv2d" and len(t.shape) == 4 and t.shape[2] == t.shape[3] == 1
            if t.name not in kept and (self.params["pointwise"] or not pointwise):
                out.append(t)
        return out

    def phases(self, ctx: SchemeContext) -> list[Phase]:
        ranks, factorised = self.ranks(ctx, self.factorised(ctx.model))
        names, _ = _split(ctx.model, factorised)
        b = ctx.value_bytes

        def lowrank(tensors: Sequence[Tensor]) -> list[Communication]:
            factors = float(sum(ranks.rank_of(t) * sum(_shape(t)) for t in tensors if t.name in names) * b)
            rest = dense_bytes([t for t in tensors if t.name not in names], ctx)
            return [Communication("factors and full-rank tensors", "all-reduce", factors + rest)] \
                if factors + rest else []

        # after the switch each factorised layer runs as its two factor layers (a k×k convolution to r channels,
        # then a 1×1 one to C_out; Cuttlefish's decompose_weights), so its forward and backward shrink
        factors = {t.name: ("AB", int(ranks.rank_of(t))) for t in factorised}
        return [Phase("full-rank", lambda tensors: dense(tensors, ctx)),
                Phase("low-rank", lowrank, factorised=factors,
                      trained_params=_trained(names, lambda t: ranks.rank_of(t) * sum(_shape(t))))]

    def state_bytes(self, ctx: SchemeContext, optimizer: str = "momentum") -> dict[str, float]:
        """After the switch factorised layers hold A and B (trained: gradients and optimizer state) instead of W.

        Examples
        --------
        >>> from simtrain.compression import make_scheme
        >>> from simtrain.model import load_model
        >>> ctx = SchemeContext(load_model("vgg16-cifar"), num_gpus=8)
        >>> sum(make_scheme("cuttlefish").state_bytes(ctx, "adam").values()) < 0
        True
        """
        layers, (weight, grad, state) = _factorised_layers(self, ctx, optimizer)
        factors = sum(r * (m + n) for r, m, n in layers)
        dense = sum(m * n for _, m, n in layers)
        return {"factors A, B": float(factors * weight), "factor gradients": float(factors * grad),
                "factor optimizer state": float(factors * state),
                "factorised layers' dense state": -float(dense * (weight + grad + state))}

    def starts_dense(self, ctx: SchemeContext) -> bool:
        return bool(self.params["switch_epoch"] > 0)

    def dense_steps(self, ctx: SchemeContext) -> tuple[str, int] | None:
        if ctx.steps_per_epoch is None:
            return None
        return "switch_epoch", self.params["switch_epoch"] * ctx.steps_per_epoch

    def run(self, ctx: SchemeContext, total_steps: int) -> list[Block]:
        if ctx.steps_per_epoch is None:
            raise self._error("switch_epoch", "needs the number of steps per epoch", self.params["switch_epoch"],
                              allowed="give samples_per_epoch")
        switch = min(total_steps, self.params["switch_epoch"] * ctx.steps_per_epoch)
        return warmup_then(0, switch, [Segment(1, 1)], total_steps)

    def period(self, ctx: SchemeContext) -> list[Segment]:
        return [Segment(1, 1)]

