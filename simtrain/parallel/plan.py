"""A model-parallel plan: tensor (TP), pipeline (PP), data (DP), context (CP) and expert (EP) degrees, the
micro-batching, the pipeline schedule, recomputation and ZeRO stage, and where each rank sits on the cluster.

The rules (checked by :func:`make_plan`, each as one error naming the key):

* ``tp · pp · cp · dp`` = the GPU count; ``dp`` left out is ``GPUs / (tp · pp · cp)``;
* ``tp`` divides the heads and the key/value heads; ``pp · V`` (V model chunks per stage under the interleaved
  schedule) divides the layers; ``cp`` divides the sequence (``cp · tp`` with sequence parallelism);
* expert parallelism is carved out of ``dp · cp`` as in Megatron-core: ``ep`` divides ``dp · cp`` and the experts,
  and the expert layers' data parallelism is ``dp · cp / ep``; ``ep > 1`` on a dense model is an error;
* expert tensor parallelism ``etp`` (Megatron-core's ``--expert-tensor-parallel-size``, "MoE parallel folding";
  default ``tp``) shards the experts over ``etp`` ranks instead of the TP group: the expert layers then have their
  own layout over each pipeline stage's ``tp · cp · dp`` ranks, ``etp`` innermost, then ``ep``, then the expert
  data parallelism ``tp · cp · dp / (etp · ep)`` (Megatron-core's expert ``RankGenerator``: the rank order with
  ``tp`` read as ``etp``, ``cp`` as 1 and ``ep`` just inside ``dp``). ``etp · ep`` divides ``tp · cp · dp``,
  ``etp`` divides the experts' inner width, ``etp ≠ tp`` needs a MoE model, ``pp`` outermost in the rank order
  (Megatron-core keeps the pipeline groups of both layouts only then), sequence parallelism when ``tp > 1``
  (Megatron-core refuses MoE with TP and no sequence parallelism in training) and no hybrid sharding;
* distributing the saved activations (Megatron's ``--distribute-saved-activations``, metaseq's
  ``--distribute-checkpointed-activations``) needs full recomputation, ``tp > 1`` and no sequence parallelism (as
  Megatron-LM checks);
* the global batch is a multiple of ``micro_batch · dp``; the interleaved schedule needs a multiple of ``pp``
  micro-batches (as Megatron-LM does);
* an uneven pipeline layout (``first=K,last=K``: the first and the last model chunk hold K layers, as Megatron's
  ``--decoder-first/last-pipeline-num-layers`` and Llama 3's "one layer fewer on the first and last stages") splits
  the other layers evenly over the other ``pp · V − 1`` or ``pp · V − 2`` chunks, which must divide them;
* hybrid sharding (``zero_shard_size`` S: PyTorch's HSDP, DeepSpeed's MiCS, Megatron-core's distributed-optimizer
  instances) needs ZeRO 1-3, S dividing ``dp · cp`` and no expert parallelism; keeping ZeRO-3's gathered parameters
  from forward to backward (``zero_reshard`` false: FSDP's ``reshard_after_forward=False``) needs ZeRO-3.

Ranks map to GPUs in ``rank_order``, innermost first: Megatron's ``tp-cp-dp-pp`` puts a TP group on consecutive
GPUs (inside a node), then context, data and pipeline.

Examples
--------
>>> from simtrain.model import load_model
>>> plan = make_plan(load_model("gpt3-175b").config, 1024, "tp=8,pp=16", micro_batch=1, global_batch=1536)
>>> plan.dp, plan.num_micro_batches
(8, 192)
>>> plan.groups("tp")[1].tolist()
[8, 9, 10, 11, 12, 13, 14, 15]
>>> plan.groups("pp")[0][:3].tolist()
[0, 64, 128]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrain import units
from simtrain.errors import ConfigError
from simtrain.inputs import digits
from simtrain.limits import MAX_PIPELINE_SLOTS
from simtrain.registry import parse_spec

__all__ = ["DIMENSIONS", "ZERO_IMPL_STAGE", "ParallelPlan", "check_zero_impl", "chunk_sizes", "make_plan",
           "parse_degrees", "parse_layout", "parse_rank_order", "parse_recompute", "parse_schedule", "pipeline_slots"]

#: The plan's dimensions (expert parallelism is carved out of dp × cp, so it is not one of them).
DIMENSIONS = ("tp", "cp", "dp", "pp")
SCHEDULES = ("1f1b", "gpipe", "interleaved")
RECOMPUTE = ("none", "selective", "full")


def _items(text: str | None, key: str, what: str, allowed: str) -> list[str]:
    """The comma-separated items of a ``k=v,k=v`` flag, spaces dropped; an empty one among others ('tp=2,,pp=2',
    'tp=2,', ',') is an item left out by mistake, refused naming ``key``."""
    items = str(text or "").replace(" ", "").split(",")
    if len(items) > 1 and not all(items):
        raise ConfigError(f"an empty {what} between commas", key=key, value=text, allowed=allowed)
    return [item for item in items if item]


def parse_degrees(text: str) -> dict[str, int | None]:
    """``tp=T,pp=P[,dp=D][,cp=C][,ep=E][,etp=X]`` → the degrees (``dp`` and ``etp`` None when left out).

    Examples
    --------
    >>> parse_degrees("tp=8,pp=2")
    {'tp': 8, 'pp': 2, 'dp': None, 'cp': 1, 'ep': 1, 'etp': None}
    >>> parse_degrees("tp=8,sp=2")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: parallel: unknown degree 'sp': 'tp=8,sp=2'; allowed: cp, dp, ep, etp, pp, tp
    """
    out: dict[str, int | None] = {"tp": 1, "pp": 1, "dp": None, "cp": 1, "ep": 1, "etp": None}
    given: set[str] = set()
    for item in _items(text, "parallel", "degree", "tp=T,pp=P[,dp=D][,cp=C][,ep=E][,etp=X]"):
        key, sep, value = item.partition("=")
        if key not in out:
            raise ConfigError(f"unknown degree {key!r}", key="parallel", value=text, choices=sorted(out))
        if key in given:   # tp=4,pp=2,tp=2 is a typo, not tp=2
            raise ConfigError(f"degree {key!r} given twice", key="parallel", value=text)
        given.add(key)
        if not sep or not digits(value) or int(value) < 1:
            raise ConfigError(f"{key} must be a positive integer", key="parallel", value=text)
        out[key] = int(value)
    return out


def pipeline_slots(global_batch: int, micro_batch: int, dp: int, pp: int, chunks: int) -> int:
    """Slots a step's pipeline schedule lists: micro-batches per pipeline x stages x model chunks per stage
    (bounded by :data:`simtrain.limits.MAX_PIPELINE_SLOTS`).

    Examples
    --------
    >>> pipeline_slots(1536, 1, 8, 16, 2)
    6144
    """
    return global_batch // (micro_batch * dp) * pp * chunks


def parse_schedule(text: str) -> tuple[str, int]:
    """The pipeline schedule and its model chunks per stage.

    Examples
    --------
    >>> parse_schedule("interleaved:chunks=2"), parse_schedule("1f1b")
    (('interleaved', 2), ('1f1b', 1))
    """
    name, params = parse_spec(str(text), key="pipeline_schedule")
    if name not in SCHEDULES:
        raise ConfigError("unknown pipeline schedule", key="pipeline_schedule", value=text, choices=SCHEDULES)
    if name == "interleaved" and "chunks" not in params:   # V is the schedule's choice, never a silent default
        raise ConfigError("needs its model chunks per stage: interleaved:chunks=V", key="pipeline_schedule",
                          value=text, allowed="interleaved:chunks=V, V an integer >= 1")
    chunks = params.pop("chunks", 1)
    if name == "interleaved" and not params and (isinstance(chunks, bool) or not isinstance(chunks, int)
                                                 or chunks < 1):
        raise ConfigError("interleaved's chunks (model chunks per stage) must be an integer >= 1",
                          key="pipeline_schedule", value=text)
    if params:
        raise ConfigError(f"unknown parameter {sorted(params)[0]!r}: only interleaved takes one, chunks=V",
                          key="pipeline_schedule", value=text)
    if name != "interleaved" and chunks != 1:
        raise ConfigError("only interleaved takes a parameter, chunks=V (an integer >= 1)",
                          key="pipeline_schedule", value=text)
    return name, chunks


def parse_recompute(text: str) -> tuple[str, int | None]:
    """Activation recomputation: ``none``, ``selective``, ``full`` or ``full:layers=N`` (N layers per stage).

    Examples
    --------
    >>> parse_recompute("full:layers=2"), parse_recompute("selective")
    (('full', 2), ('selective', None))
    """
    name, params = parse_spec(str(text), key="recompute")
    if name not in RECOMPUTE:
        raise ConfigError("unknown recomputation", key="recompute", value=text, choices=RECOMPUTE)
    layers = params.pop("layers", None)
    if params or (layers is not None and (name != "full" or isinstance(layers, bool) or not isinstance(layers, int)
                                          or layers < 0)):
        raise ConfigError("only full takes a parameter, layers=N (an integer >= 0)", key="recompute", value=text)
    return name, layers


def parse_layout(text: str | None) -> dict[str, int]:
    """An uneven pipeline layout ``first=K[,last=K]``: the layers of the first and/or the last model chunk.

    Examples
    --------
    >>> parse_layout("first=7,last=7"), parse_layout(None)
    ({'first': 7, 'last': 7}, {})
    >>> parse_layout("first=0")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: pipeline_layout: first must be a positive integer (got 'first=0'); allowed: \
first=K,last=K (either may be left out)
    """
    out: dict[str, int] = {}
    allowed = "first=K,last=K (either may be left out)"
    for item in _items(text, "pipeline_layout", "key", allowed):
        key, sep, value = item.partition("=")
        if key not in ("first", "last") or key in out:
            raise ConfigError(f"unknown or repeated key {key!r}", key="pipeline_layout", value=text, allowed=allowed)
        if not sep or not digits(value) or int(value) < 1:
            raise ConfigError(f"{key} must be a positive integer", key="pipeline_layout", value=text,
                              allowed=allowed)
        out[key] = int(value)
    return out


def _layout_hint(layers: int, total: int) -> str | None:
    """An even split's alternative, for the message that refuses it: a divisor of the layers for pp·V, or the
    uneven layout nearest an even one (the first and last chunks given, the rest even).

    Examples
    --------
    >>> _layout_hint(126, 16)
    'a pp·V that divides 126, or --pipeline-layout first=7,last=7 (the other 14 chunks 8 layers each)'
    """
    best = None
    if total > 2:
        for edge in range(1, layers // 2 + 1):
            rest = layers - 2 * edge
            if rest > 0 and rest % (total - 2) == 0 and (best is None or abs(edge - layers / total)
                                                         < abs(best - layers / total)):
                best = edge
    if best is None:
        return f"a pp·V that divides {layers}"
    return (f"a pp·V that divides {layers}, or --pipeline-layout first={best},last={best} (the other {total - 2} "
            f"chunks {(layers - 2 * best) // (total - 2)} layers each)")


def chunk_sizes(layers: int, stages: int, chunks: int, layout: str | None = None) -> tuple[int, ...]:
    """Layers of each model chunk in pipeline order (chunk ``v·pp + s`` is stage s's chunk v): even, or with the
    first and/or last chunk as ``layout`` says and the rest split evenly. A ConfigError names what does not divide.

    Examples
    --------
    >>> chunk_sizes(126, 16, 1, "first=7,last=7")[:3], chunk_sizes(8, 2, 2)
    ((7, 8, 8), (2, 2, 2, 2))
    >>> sizes = chunk_sizes(126, 16, 2, "first=3,last=3")
    >>> sizes[0], sizes[1], sizes[-1], len(sizes)
    (3, 4, 3, 32)
    """
    total = stages * chunks
    fixed = parse_layout(layout)
    if not fixed:
        if layers % total:
            raise ConfigError(f"pp·V = {total} must divide the {layers} layers", key="parallel",
                              value=f"pp={stages}")
        return (layers // total,) * total
    rest_chunks = total - len(fixed)
    rest = layers - sum(fixed.values())
    if rest_chunks == 0:   # two chunks, both given
        if rest:
            raise ConfigError(f"first + last must be the {layers} layers when pp·V = 2", key="pipeline_layout",
                              value=layout)
        return (fixed["first"], fixed["last"])
    if rest_chunks >= 1 and rest < rest_chunks:   # the other chunks need a layer each
        given = " + ".join(key for key in ("first", "last") if key in fixed)
        others = "the other model chunk" if rest_chunks == 1 else f"each of the other {rest_chunks} model chunks"
        raise ConfigError(f"{given}: at most {layers - rest_chunks} of the {layers} layers, leaving a layer to "
                          f"{others} (pp·V = {total})", key="pipeline_layout", value=layout)
    if rest_chunks < 1 or rest % rest_chunks:
        raise ConfigError(f"the other {rest_chunks} model chunks (pp·V = {total}) must split the other {rest} of "
                          f"the {layers} layers evenly", key="pipeline_layout", value=layout)
    sizes = [rest // rest_chunks] * total
    if "first" in fixed:
        sizes[0] = fixed["first"]
    if "last" in fixed:
        sizes[-1] = fixed["last"]
    return tuple(sizes)


def parse_rank_order(text: str) -> tuple[str, ...]:
    """The plan's dimensions, innermost first.

    Examples
    --------
    >>> parse_rank_order("tp-dp-cp-pp")
    ('tp', 'dp', 'cp', 'pp')
    """
    order = tuple(str(text).split("-"))
    if sorted(order) != sorted(DIMENSIONS):
        raise ConfigError("must name tp, cp, dp and pp once each, innermost first", key="rank_order", value=text,
                          allowed="e.g. tp-cp-dp-pp")
    return order


@dataclass(frozen=True)
class ParallelPlan:
    """A validated plan on a number of GPUs.

    Attributes
    ----------
    tp, pp, dp, cp, ep : int
        Degrees; ``ep`` is carved out of ``dp · cp``.
    etp : int
        Expert tensor parallelism (0: ``tp``, the experts split as the dense layers are; see :attr:`expert_tp`).
    micro_batch, global_batch : int
        Samples per micro-batch (per pipeline) and per optimizer step.
    schedule : str
        ``1f1b``, ``gpipe`` or ``interleaved``; ``chunks`` its model chunks per stage (V).
    recompute : str
        ``none``, ``selective`` or ``full``; ``recompute_layers``: with ``full``, how many layers of a stage
        (None: all).
    layout : tuple of int
        Layers of each model chunk in pipeline order (chunk ``v·pp + s`` is stage s's chunk v); empty: ``L/(pp·V)``
        each.
    zero : int
        ZeRO stage on the data-parallel dimension.
    sequence_parallel : bool
        Megatron sequence parallelism.
    zero_reshard : bool
        ZeRO-3: free the gathered parameters after each layer's forward (gather them again for backward); False
        keeps them until backward.
    zero_impl : str
        How ZeRO holds the states (:data:`simtrain.run.ZERO_IMPLS`): ``flat`` copies nothing; ``fsdp2`` (ZeRO-3)
        copies each all-gather's output out into the parameters and each reduce-scatter's input in from the
        gradients; ``owner-broadcast`` (ZeRO-1) deals whole tensors out to owners, all-reduces the gradients and
        broadcasts each owner's update (:mod:`simtrain.parallel.owners`); ``allreduce-gather`` (ZeRO-2)
        all-reduces every gradient bucket whole, each rank keeping its partition, and all-gathers the updated
        partitions (DeepSpeed's stage 2 without ``contiguous_gradients``).
    shard_size : int
        ZeRO's shard group: this many consecutive members of each ``dp · cp`` group shard the states, the groups
        replicate them (0: the whole ``dp · cp`` group).
    rank_order : tuple of str
        Dimensions, innermost first.
    distribute_saved_activations : bool
        Full recomputation: each layer's saved input is split over the TP group and all-gathered before the layer
        is recomputed.
    tp_overlap : str
        ``none``: every tensor-parallel collective on the critical path; ``async``: a column-parallel layer's
        backward collectives overlap its own GEMMs (Megatron-LM's asynchronous tensor-parallel communication).
    """

    tp: int
    pp: int
    dp: int
    cp: int = 1
    ep: int = 1
    micro_batch: int = 1
    global_batch: int = 1
    schedule: str = "1f1b"
    chunks: int = 1
    recompute: str = "none"
    recompute_layers: int | None = None
    zero: int = 0
    sequence_parallel: bool = False
    rank_order: tuple[str, ...] = ("tp", "cp", "dp", "pp")
    overlap_dp: bool = True
    overlap_pp: bool = False
    layers_per_stage: int = 1
    layout: tuple[int, ...] = ()
    zero_reshard: bool = True
    zero_impl: str = "flat"
    shard_size: int = 0
    dp_bucket: float = 0.0   # bytes of a data-parallel reduction bucket (0: one per layer)
    dp_bucket_rule: str = "at-least"   # how a bucket closes (simtrain.run.DP_BUCKET_RULES)
    etp: int = 0
    distribute_saved_activations: bool = False
    tp_overlap: str = "none"
    _strides: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _groups: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        stride = 1
        for dim in self.rank_order:
            self._strides[dim] = stride
            stride *= self.degree(dim)

    @property
    def num_gpus(self) -> int:
        """GPUs the plan uses."""
        return self.tp * self.pp * self.cp * self.dp

    @property
    def num_micro_batches(self) -> int:
        """Micro-batches each pipeline runs per step."""
        return self.global_batch // (self.micro_batch * self.dp)

    @property
    def reduces_whole_gradients(self) -> bool:
        """Whether the data-parallel gradients are all-reduced whole rather than reduce-scattered: no ZeRO, or a
        ZeRO implementation that keeps them whole (``owner-broadcast``) or all-reduces and keeps a partition
        (``allreduce-gather``)."""
        return self.zero == 0 or self.zero_impl in ("owner-broadcast", "allreduce-gather")

    @property
    def zero_group(self) -> int:
        """Ranks a ZeRO shard of the dense states spans: ``zero_shard_size``, else ``dp · cp``."""
        return self.shard_size or self.dp * self.cp

    @property
    def hybrid(self) -> bool:
        """Whether ZeRO shards within groups smaller than ``dp · cp`` and replicates across them."""
        return 0 < self.shard_size < self.dp * self.cp

    @property
    def expert_tp(self) -> int:
        """Tensor parallelism of the expert layers: ``etp``, or ``tp`` when not set."""
        return self.etp or self.tp

    @property
    def folded(self) -> bool:
        """Whether the expert layers have their own layout (``etp ≠ tp``: Megatron-core's MoE parallel folding)."""
        return self.expert_tp != self.tp

    @property
    def expert_dp(self) -> int:
        """Data parallelism of the expert layers: ``tp · cp · dp / (etp · ep)`` (``dp · cp / ep`` when
        ``etp = tp``)."""
        return self.tp * self.dp * self.cp // (self.expert_tp * self.ep)

    def chunk_layers(self, stage: int, chunk: int = 0) -> range:
        """The transformer layers of ``stage``'s model chunk ``chunk`` (consecutive, in forward order).

        Examples
        --------
        >>> plan = ParallelPlan(tp=1, pp=4, dp=1, layers_per_stage=2, layout=(1, 2, 3, 2))
        >>> [list(plan.chunk_layers(s)) for s in range(4)]
        [[0], [1, 2], [3, 4, 5], [6, 7]]
        """
        sizes = self.layout or (self.layers_per_stage // self.chunks,) * (self.pp * self.chunks)
        index = chunk * self.pp + stage
        first = sum(sizes[:index])
        return range(first, first + sizes[index])

    def stage_layers(self, stage: int) -> list[int]:
        """Every transformer layer ``stage`` holds, chunk by chunk."""
        return [i for chunk in range(self.chunks) for i in self.chunk_layers(stage, chunk)]

    @property
    def uneven(self) -> bool:
        """Whether the stages hold different numbers of layers."""
        return len(set(self.layout)) > 1

    def degree(self, dim: str) -> int:
        """The degree of a dimension."""
        return int(getattr(self, dim))

    def describe(self) -> str:
        """``tp=..,pp=..,dp=..[,cp=..][,ep=..][,etp=..]`` (``etp`` when it differs from ``tp``)."""
        extra = "".join(f",{d}={self.degree(d)}" for d in ("cp", "ep") if self.degree(d) > 1)
        return f"tp={self.tp},pp={self.pp},dp={self.dp}{extra}" + (f",etp={self.expert_tp}" if self.folded else "")

    def rank(self, **coords: int) -> int:
        """The GPU of the rank at these coordinates (missing ones 0).

        Examples
        --------
        >>> ParallelPlan(tp=2, pp=2, dp=2).rank(tp=1, pp=1)
        5
        """
        return sum(coords.get(d, 0) * self._strides[d] for d in DIMENSIONS)

    def groups(self, dim: str) -> np.ndarray:
        """The disjoint groups of dimension ``dim`` (``tp``, ``cp``, ``dp``, ``pp``; ``dpcp`` for the gradient
        reduction of dense layers over data and context parallelism, ``etp``, ``ep`` and ``edp`` for the expert
        layers' tensor-, expert- and data-parallel groups, ``shard`` and ``replica`` for hybrid sharding's shard
        groups of :attr:`zero_group` consecutive ``dpcp`` members and the groups across them), one row per group,
        members in order.

        Examples
        --------
        >>> ParallelPlan(tp=2, pp=1, dp=4, ep=2).groups("ep").tolist()
        [[0, 2], [4, 6], [1, 3], [5, 7]]
        >>> folded = ParallelPlan(tp=2, pp=1, dp=4, ep=4, etp=1)    # experts unsplit, EP over consecutive ranks
        >>> folded.groups("ep").tolist(), folded.groups("edp").tolist()
        ([[0, 1, 2, 3], [4, 5, 6, 7]], [[0, 4], [1, 5], [2, 6], [3, 7]])
        >>> ParallelPlan(tp=1, pp=1, dp=8, zero=3, shard_size=4).groups("replica").tolist()
        [[0, 4], [1, 5], [2, 6], [3, 7]]
        """
        known = self._groups.get(dim)
        if known is None:
            known = self._groups[dim] = self._make_groups(dim)
            known.flags.writeable = False
        return known

    def _make_groups(self, dim: str) -> np.ndarray:
        if dim == "etp" and not self.folded:
            return self._make_groups("tp")
        if self.folded and dim in ("etp", "ep", "edp"):
            return self._expert_groups(dim)
        return _ordered_groups({d: self.degree(d) for d in self.rank_order}, self.rank_order, dim) \
            if dim in DIMENSIONS else self._carved_groups(dim)

    def _expert_groups(self, dim: str) -> np.ndarray:
        """Megatron-core's expert layout (``etp ≠ tp``): the rank order with ``tp`` read as ``etp``, ``cp`` left
        out and ``ep`` just inside ``dp``, as ``initialize_model_parallel`` builds its expert ``RankGenerator``."""
        order: list[str] = []
        for d in self.rank_order:
            if d == "dp":
                order += ["ep", "edp"]
            elif d != "cp":
                order.append("etp" if d == "tp" else d)
        sizes = {"etp": self.expert_tp, "ep": self.ep, "edp": self.expert_dp, "pp": self.pp}
        return _ordered_groups(sizes, tuple(order), dim)

    def _carved_groups(self, dim: str) -> np.ndarray:
        ranks = np.arange(self.num_gpus).reshape([self.degree(d) for d in reversed(self.rank_order)])
        axes = {d: len(self.rank_order) - 1 - i for i, d in enumerate(self.rank_order)}
        if dim not in ("dpcp", "ep", "edp", "shard", "replica"):
            raise ValueError(f"unknown group {dim!r}")
        # data × context members of each (tp, pp) position, ordered by rank; EP takes consecutive runs of them
        inner = [d for d in self.rank_order if d in ("cp", "dp")]
        moved = np.moveaxis(ranks, [axes[d] for d in reversed(inner)], [-2, -1])
        combined = moved.reshape(-1, self.dp * self.cp)
        if dim == "dpcp":
            return combined
        # a shard group, like an EP group, is a consecutive run of dp × cp members; its complement strides over them
        size = self.zero_group if dim in ("shard", "replica") else self.ep
        split = combined.reshape(combined.shape[0], self.dp * self.cp // size, size)
        if dim in ("ep", "shard"):
            return split.reshape(-1, size)
        return np.swapaxes(split, 1, 2).reshape(-1, self.dp * self.cp // size)

    def stage_ranks(self, stage: int) -> np.ndarray:
        """Every GPU of pipeline stage ``stage`` in rank order."""
        return np.sort(self.groups("pp")[:, stage])


def _ordered_groups(sizes: dict[str, int], order: tuple[str, ...], dim: str) -> np.ndarray:
    """The groups of ``dim`` when ranks are numbered over dimensions of ``sizes`` in ``order``, innermost first
    (Megatron's ``generate_masked_orthogonal_rank_groups`` for one dimension)."""
    ranks = np.arange(math.prod(sizes.values())).reshape([sizes[d] for d in reversed(order)])
    moved = np.moveaxis(ranks, len(order) - 1 - order.index(dim), -1)
    return moved.reshape(-1, sizes[dim])


#: The ZeRO stage each ``zero_impl`` other than ``flat`` implements (``make_plan`` refuses it at any other stage; the
#: plan search applies it to that stage's plans).
ZERO_IMPL_STAGE = {"fsdp2": 3, "owner-broadcast": 1, "allreduce-gather": 2}
#: Why each implementation needs its stage, as the refusal says.
_ZERO_IMPL_WHY = {
    "fsdp2": "FSDP2 shards the parameters: its copies are those of ZeRO-3's gathers and reduce-scatters",
    "owner-broadcast": "owners broadcast the parameters they updated from ZeRO-1's sharded optimizer states; the "
                       "gradients stay whole",
    "allreduce-gather": "DeepSpeed's stage 2 without contiguous_gradients all-reduces its gradient buckets whole and "
                        "keeps each rank's partition of them",
}


def check_zero_impl(zero_impl: str) -> None:
    """Refuse a ``zero_impl`` that is not one of :data:`simtrain.run.ZERO_IMPLS` (a plan's, or a search's setting).

    Examples
    --------
    >>> check_zero_impl("fsdp2")
    >>> check_zero_impl("zero3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: zero_impl: unknown value: 'zero3'; allowed: allreduce-gather, flat, fsdp2, ...
    """
    from simtrain.run import ZERO_IMPLS

    if zero_impl not in ZERO_IMPLS:
        raise ConfigError("unknown value", key="zero_impl", value=zero_impl, choices=list(ZERO_IMPLS))


def make_plan(config: Any, num_gpus: int, parallel: str, *, micro_batch: int | None = None,
              global_batch: int | None = None, pipeline_schedule: str = "1f1b", recompute: str = "none",
              zero: int = 0, sequence_parallel: bool = False, rank_order: str = "tp-cp-dp-pp",
              overlap_dp: bool = True, pipeline_layout: str | None = None, overlap_pp: bool = False,
              zero_reshard: bool = True, zero_shard_size: int | None = None, dp_bucket_size: float | None = None,
              dp_bucket_rule: str | None = None, distribute_saved_activations: bool = False,
              zero_impl: str = "flat", tp_overlap: str = "none") -> ParallelPlan:
    """Validate a plan for a decoder (:class:`~simtrain.model.decoder.DecoderConfig`) on ``num_gpus`` GPUs.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> make_plan(load_model("gpt3-175b").config, 1000, "tp=8,pp=16", micro_batch=1, global_batch=1536)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: parallel: tp·pp·cp = 128 must divide the 1000 GPUs (got 'tp=8,pp=16')
    """
    d = parse_degrees(parallel)
    tp, pp, cp, ep = int(d["tp"] or 1), int(d["pp"] or 1), int(d["cp"] or 1), int(d["ep"] or 1)
    etp = int(d["etp"] or tp)
    inner = tp * pp * cp
    if d["dp"] is None:
        if num_gpus % inner:
            raise ConfigError(f"tp·pp·cp = {inner} must divide the {num_gpus} GPUs", key="parallel", value=parallel)
        dp = num_gpus // inner
    else:
        dp = int(d["dp"])
        if inner * dp != num_gpus:
            raise ConfigError(f"tp·pp·cp·dp = {inner * dp} must equal the {num_gpus} GPUs", key="parallel",
                              value=parallel)
    schedule, chunks = parse_schedule(pipeline_schedule)
    if schedule == "interleaved" and pp == 1:
        raise ConfigError("the interleaved schedule needs pp > 1", key="pipeline_schedule", value=pipeline_schedule)
    recompute_name, recompute_layers = parse_recompute(recompute)
    if config.heads % tp or config.kv_heads % tp:
        bad = config.heads if config.heads % tp else config.kv_heads
        raise ConfigError(f"tp = {tp} must divide the heads ({config.heads}) and key/value heads "
                          f"({config.kv_heads}); it does not divide {bad}", key="parallel", value=parallel)
    if pipeline_layout and pp * chunks < 2:
        raise ConfigError("an uneven layout needs more than one model chunk (pp > 1)", key="pipeline_layout",
                          value=pipeline_layout)
    if not pipeline_layout and config.layers % (pp * chunks):
        # with V model chunks per stage the interleaved schedule's V is as much at fault as pp
        key, value = ("parallel", parallel) if chunks == 1 else ("pipeline_schedule", f"interleaved:chunks={chunks}")
        raise ConfigError(f"pp·V = {pp * chunks} must divide the {config.layers} layers", key=key, value=value,
                          allowed=_layout_hint(config.layers, pp * chunks))
    sizes = chunk_sizes(config.layers, pp, chunks, pipeline_layout)
    stage_counts = [sum(sizes[v * pp + s] for v in range(chunks)) for s in range(pp)]
    split = cp * (tp if sequence_parallel else 1)
    if config.seq % split:
        raise ConfigError(f"cp{'·tp' if sequence_parallel else ''} = {split} must divide the sequence "
                          f"({config.seq} tokens)", key="parallel", value=parallel)
    if ep > 1 and not config.experts:
        raise ConfigError("expert parallelism needs a mixture-of-experts model (experts=E); this one is "
                          "dense", key="parallel", value=parallel)
    if etp != tp:
        _check_folding(config, parallel, tp, cp, dp, ep, etp, sequence_parallel, rank_order, pp)
    elif ep > 1 and ((dp * cp) % ep or config.experts % ep):
        raise ConfigError(f"ep = {ep} must divide dp·cp = {dp * cp} and the {config.experts} experts",
                          key="parallel", value=parallel)
    if sequence_parallel and tp == 1:   # it splits the TP group's activations: with one rank it changes nothing
        raise ConfigError("splits the activations over the tensor-parallel group, and this plan has tp = 1",
                          key="sequence_parallel", value=True, allowed="tp > 1, or leave it off")
    if distribute_saved_activations and (recompute_name != "full" or tp == 1 or sequence_parallel):
        raise ConfigError("needs full recomputation, tp > 1 and no sequence parallelism (the saved layer inputs "
                          f"are split over the TP group), where the run has recompute {recompute}, tp = {tp} and "
                          f"sequence_parallel {sequence_parallel}", key="distribute_saved_activations", value=True)
    if not zero_reshard and zero != 3:
        raise ConfigError(f"false needs zero 3, where the run has zero {zero} (only ZeRO-3 re-shards parameters "
                          "after forward)", key="zero_reshard", value=zero_reshard)
    from simtrain.run import DP_BUCKET_RULES, TP_OVERLAPS

    check_zero_impl(zero_impl)
    if tp_overlap not in TP_OVERLAPS:
        raise ConfigError("unknown value", key="tp_overlap", value=tp_overlap, choices=list(TP_OVERLAPS))
    stage = ZERO_IMPL_STAGE.get(zero_impl)
    if stage is not None and zero != stage:
        raise ConfigError(f"needs zero {stage}, where the run has zero {zero} ({_ZERO_IMPL_WHY[zero_impl]})",
                          key="zero_impl", value=zero_impl)
    if zero_impl == "allreduce-gather" and zero_shard_size is not None and zero_shard_size < dp * cp:
        raise ConfigError(f"shards over the whole dp·cp group, and the run's zero_shard_size is {zero_shard_size} "
                          f"of {dp * cp} (DeepSpeed's stage 2 has no hybrid sharding)", key="zero_impl",
                          value=zero_impl)
    if zero_impl == "allreduce-gather" and (pp > 1 or config.experts):
        raise ConfigError(f"is priced for dense models without pipeline stages, and this run has pp = {pp} and "
                          f"{config.experts} experts (DeepSpeed's pipeline engine runs ZeRO stages below 2 only; "
                          "its stage 2 of that time has no experts)", key="zero_impl", value=zero_impl)
    if zero_impl == "owner-broadcast" and config.experts:
        raise ConfigError(f"is priced for dense models, and this one has {config.experts} experts (the owners "
                          "of expert weights, sharded over their own groups, are not modelled)", key="zero_impl",
                          value=zero_impl)

    if dp_bucket_rule is not None and dp_bucket_rule not in DP_BUCKET_RULES:
        raise ConfigError("unknown bucket rule", key="dp_bucket_rule", value=dp_bucket_rule,
                          choices=list(DP_BUCKET_RULES))
    if dp_bucket_size is not None and zero == 3 and zero_shard_size is None:
        # ZeRO-3 reduce-scatters each layer's gradients as the layer's own step (an FSDP unit): no bucket to size.
        # Hybrid sharding with one replica (zero_shard_size = dp·cp) keeps it, as dp·cp = 1 does: its replicas'
        # all-reduce has no one to reduce with, and a sweep over GPU counts keeps one command
        raise ConfigError("is not read under zero 3 without hybrid sharding, which reduce-scatters each "
                          "layer's gradients in its own backward", key="dp_bucket_size",
                          value=units.format_size(dp_bucket_size),
                          allowed="zero 0-2, or zero 3 with a zero_shard_size (its replicas' all-reduce is "
                                  "bucketed)")
    if zero_shard_size is not None:
        if zero < 1:
            raise ConfigError(f"hybrid sharding needs zero 1, 2 or 3, where the run has zero {zero}",
                              key="zero_shard_size", value=zero_shard_size)
        if zero_shard_size < 1 or (dp * cp) % zero_shard_size:
            raise ConfigError(f"must divide dp·cp = {dp * cp}", key="zero_shard_size", value=zero_shard_size)
        if ep > 1 or etp != tp:
            raise ConfigError("hybrid sharding with expert parallelism is not modelled (ep = 1 and etp = tp only)",
                              key="zero_shard_size", value=zero_shard_size)
    micro = micro_batch or 1
    total = global_batch if global_batch is not None else micro * dp
    if total % (micro * dp):
        raise ConfigError(f"must be a multiple of micro_batch × dp = {micro} × {dp} = {micro * dp}",
                          key="global_batch", value=total)
    count = total // (micro * dp)
    slots = pipeline_slots(total, micro, dp, pp, chunks)
    if slots > MAX_PIPELINE_SLOTS:   # every slot is listed by the step's schedule: bound it first
        raise ConfigError(f"gives {count} micro-batches per pipeline, {slots} slots of micro-batch x stage x model "
                          f"chunk; at most {MAX_PIPELINE_SLOTS} (simtrain.limits)", key="global_batch", value=total)
    if schedule == "interleaved" and count % pp:
        raise ConfigError(f"the interleaved schedule needs a multiple of pp = {pp} micro-batches per pipeline; "
                          f"global_batch / (micro_batch × dp) = {count}", key="global_batch", value=total)
    if recompute_layers is not None and recompute_layers > max(stage_counts):
        raise ConfigError(f"at most the {max(stage_counts)} layers of a stage", key="recompute", value=recompute)
    if zero_impl == "allreduce-gather" and count > 1:   # with pp = 1, more micro-batches are accumulation
        raise ConfigError(f"is priced with one reduction a step, and this run accumulates {count} micro-batches "
                          "(DeepSpeed's stage 2 reduces in its gradient hooks after every micro-batch's backward)",
                          key="zero_impl", value=zero_impl)
    return ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, micro_batch=micro, global_batch=total,
                        schedule=schedule, chunks=chunks, recompute=recompute_name,
                        recompute_layers=recompute_layers, zero=zero, sequence_parallel=sequence_parallel,
                        rank_order=parse_rank_order(rank_order), overlap_dp=overlap_dp, overlap_pp=overlap_pp,
                        layers_per_stage=max(stage_counts), layout=sizes if pipeline_layout else (),
                        zero_reshard=zero_reshard, zero_impl=zero_impl,
                        shard_size=0 if zero_shard_size in (None, dp * cp) else int(zero_shard_size),
                        # at dp·cp = 1 there is no reduction to merge (a sweep's one-replica row keeps the size)
                        dp_bucket=float(dp_bucket_size or 0.0) if dp * cp > 1 else 0.0,
                        dp_bucket_rule=dp_bucket_rule or "at-least",
                        etp=etp, distribute_saved_activations=distribute_saved_activations, tp_overlap=tp_overlap)


def _check_folding(config: Any, parallel: str, tp: int, cp: int, dp: int, ep: int, etp: int, sequence_parallel: bool,
                   rank_order: str, pp: int) -> None:
    """The rules of expert tensor parallelism ``etp ≠ tp`` (one error each, naming what breaks)."""
    if not config.experts:
        raise ConfigError(f"etp = {etp} differs from tp = {tp}: expert tensor parallelism needs a mixture-of-experts "
                          "model (experts=E); this one is dense", key="parallel", value=parallel)
    stage = tp * cp * dp
    if stage % (etp * ep):
        raise ConfigError(f"etp·ep = {etp * ep} must divide a stage's tp·cp·dp = {stage} ranks", key="parallel",
                          value=parallel)
    if config.experts % ep:
        raise ConfigError(f"ep = {ep} must divide the {config.experts} experts", key="parallel", value=parallel)
    if config.moe_ffn % etp:
        raise ConfigError(f"etp = {etp} must divide the experts' inner width ({config.moe_ffn})", key="parallel",
                          value=parallel)
    if tp > 1 and not sequence_parallel:
        raise ConfigError(f"etp = {etp} differs from tp = {tp}: needs sequence parallelism (Megatron-core refuses "
                          "MoE layers with tensor parallelism and no sequence parallelism in training)",
                          key="parallel", value=parallel)
    if pp > 1 and parse_rank_order(rank_order)[-1] != "pp":
        raise ConfigError(f"etp = {etp} differs from tp = {tp}: needs pp outermost (Megatron-core's expert layout "
                          "keeps the pipeline groups of the dense layout only then)", key="rank_order",
                          value=rank_order)


def divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending.

    Examples
    --------
    >>> divisors(12)
    [1, 2, 3, 4, 6, 12]
    """
    small = [k for k in range(1, math.isqrt(n) + 1) if n % k == 0]
    return sorted(set(small + [n // k for k in small]))
