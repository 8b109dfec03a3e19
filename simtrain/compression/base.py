"""The scheme contract: what a communication-reduction scheme communicates, step by step.

A scheme is a plugin with the scikit-learn contract: ``__init__`` only stores keyword parameters (declared once
as :class:`~simtrain.params.Param` in ``parameters`` and validated against them), ``get_params`` round-trips
them, and the work is in methods. Given a :class:`SchemeContext` (model, GPUs, GPUs per node, gradient
precision) it returns

* its **phases**: each phase is one kind of step (a dense warm-up step, a low-rank step, a periodic sync …) and
  says, for any set of tensors, which collectives carry them (:class:`Communication`: operation, group of ranks,
  payload bytes from the real codec's ``payload_bytes``) and what extra compute compression costs;
* its **run**: the phases over the steps of a run, exactly, as blocks of segments with a repeat count (a
  periodic schedule is one period repeated, plus the warm-up before it and the part-period after it), so a
  500,000-step run costs as much as a period.

Examples
--------
>>> from simtrain.compression import make_scheme, SchemeContext
>>> from simtrain.model import load_model
>>> ctx = SchemeContext(load_model("resnet18-cifar"), num_gpus=16)
>>> scheme = make_scheme("local-sgd:period=4")
>>> names = [p.name for p in scheme.phases(ctx)]
>>> [([(names[s.phase], s.steps) for s in b.segments], b.times) for b in scheme.run(ctx, 10)]
[([('local', 3), ('sync', 1)], 2), ([('local', 2)], 1)]
>>> steps_per_phase(scheme.run(ctx, 10), 2)
[8, 2]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from simtrain.errors import ConfigError
from simtrain.inputs import digits
from simtrain.model.spec import DTYPE_BYTES, ModelSpec, Tensor
from simtrain.params import Param
from simtrain.registry import format_spec, param_error, read_plugin_params

__all__ = ["GROUPS", "Block", "Communication", "Phase", "RankChoice", "Scheme", "SchemeContext", "Segment",
           "repeat_period", "steps_per_phase"]

#: Rank groups a communication can run over.
GROUPS = ("world", "node", "peers", "leaders")


@dataclass(frozen=True)
class SchemeContext:
    """What a scheme needs to know about the training job.

    Attributes
    ----------
    model : ModelSpec
    num_gpus : int
        Data-parallel workers.
    gpus_per_node : int
        GPUs per node (groups for in-node communication).
    dtype : str
        Gradient precision (``fp32``, ``fp16``, ``bf16``): the width of uncompressed values.
    steps_per_epoch : int, optional
        For schemes whose schedule is in epochs (Cuttlefish's switch).
    held : tuple of Tensor, optional
        The gradient tensors one GPU holds when it is not the whole model: a pipeline stage's, in the shapes one GPU
        of its tensor-parallel group holds (:mod:`simtrain.parallel.memory`). A scheme chooses its tensors on
        ``model`` and keeps state (:meth:`Scheme.state_bytes`) for those of them it holds (:meth:`held_of`).
    """

    model: ModelSpec
    num_gpus: int
    gpus_per_node: int = 1
    dtype: str = "fp32"
    steps_per_epoch: int | None = None
    held: tuple[Tensor, ...] | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPE_BYTES:   # one error here, not a KeyError wherever the width is looked up
            raise ConfigError("unknown gradient precision", key="dtype", value=self.dtype,
                              choices=sorted(DTYPE_BYTES))

    @property
    def held_tensors(self) -> list[Tensor]:
        """The gradient tensors one GPU holds: ``held``, or the whole model's."""
        return list(self.model.tensors if self.held is None else self.held)

    def held_of(self, tensors: Sequence[Tensor]) -> list[Tensor]:
        """``tensors`` of the whole model (a scheme's choice) as this GPU holds them: those it holds (by name), in
        the shapes it holds them.

        Examples
        --------
        >>> from simtrain.model import load_model
        >>> spec = load_model("gpt:layers=2,hidden=64,heads=4,seq=64,vocab=100")
        >>> up = [t for t in spec.tensors if t.name == "layers.1.mlp.up.weight"]
        >>> ctx = SchemeContext(spec, 4, held=(Tensor("layers.1.mlp.up.weight", (128, 64)),))
        >>> [t.shape for t in SchemeContext(spec, 4).held_of(up)], [t.shape for t in ctx.held_of(up)]
        ([(256, 64)], [(128, 64)])
        """
        if self.held is None:
            return list(tensors)
        names = {t.name for t in tensors}
        return [t for t in self.held if t.name in names]

    @property
    def value_bytes(self) -> int:
        """Bytes per uncompressed gradient value."""
        return DTYPE_BYTES[self.dtype]

    @property
    def value_dtype(self) -> str:
        """The codec value type matching the gradient precision."""
        return self.dtype

    @property
    def num_nodes(self) -> int:
        """Nodes (groups of ``gpus_per_node`` consecutive ranks)."""
        return max(1, self.num_gpus // max(1, self.gpus_per_node))


@dataclass(frozen=True)
class Communication:
    """One collective of a step.

    Attributes
    ----------
    label : str
        What travels (``"gradients"``, ``"P factors"``, ``"values+indices"`` …).
    op : str
        ``all-reduce``, ``all-gather``, ``reduce-scatter``, ``broadcast``, ``all-to-all`` or ``push-pull``
        (parameter-server push then pull).
    payload_bytes : float
        The message one worker contributes (what papers call data sent per worker). For ``all-gather`` each
        worker contributes this and receives everyone's; for ``push-pull`` this is what is pushed.
    group : str
        ``world`` (all ranks), ``node`` (each node's GPUs), ``peers`` (GPUs of the same local rank across
        nodes), ``leaders`` (the first GPU of every node) or ``groups:K`` (consecutive groups of K ranks).
    pull_bytes : float, optional
        ``push-pull``: bytes pulled back (two-way compression); default the pushed bytes.
    group_payloads : tuple of float, optional
        Different payloads for alternating groups (AB-training's A and B groups); ``payload_bytes`` is then
        their mean.
    servers : int, optional
        ``push-pull``: parameter servers (default: one co-located with every member of the group; 1 is a star
        around the group's first rank).
    """

    label: str
    op: str
    payload_bytes: float
    group: str = "world"
    pull_bytes: float | None = None
    group_payloads: tuple[float, ...] | None = None
    servers: int | None = None

    def __post_init__(self) -> None:
        if self.group not in GROUPS and not (self.group.startswith("groups:") and digits(self.group[7:])):
            raise ValueError(f"unknown group {self.group!r}")

    def collective_size(self, group_size: int) -> float:
        """The collective's size in the nccl-tests convention (the full buffer)."""
        if self.op == "all-gather":
            return self.payload_bytes * group_size
        return self.payload_bytes


@dataclass(frozen=True)
class Phase:
    """One kind of step.

    Attributes
    ----------
    name : str
        ``dense``, ``compressed``, ``local``, ``sync`` …
    comms : callable
        ``comms(tensors) -> list[Communication]`` for a set of gradient tensors (a bucket, or the whole model).
    overlap : bool
        Whether the communication overlaps backward bucket by bucket (gradient schemes), or runs after the
        update (model averaging: local SGD, CSER, sub-network exchange).
    compute_flops : callable, optional
        ``compute_flops(tensors) -> FLOPs`` of compression work (selection, QR, encode/decode) for the tensors.
    factorised : mapping, optional
        Weight tensor name → ``("AB", r)`` or ``("USV", k)``: layers whose forward and backward run as factor
        GEMMs in this phase (:func:`simtrain.lowrank.compute.layer_time`); the others run dense.
    trained_params : callable, optional
        ``trained_params(tensors) -> parameters`` the optimizer updates for the tensors in this phase (factorised
        layers: their trained factors, not W); None: every value of the tensors.
    """

    name: str
    comms: Callable[[Sequence[Tensor]], list[Communication]]
    overlap: bool = True
    compute_flops: Callable[[Sequence[Tensor]], float] | None = None
    factorised: Mapping[str, tuple[str, int]] | None = None
    trained_params: Callable[[Sequence[Tensor]], float] | None = None

    def payload_bytes(self, tensors: Sequence[Tensor]) -> float:
        """Bytes one worker contributes in this step for ``tensors``."""
        return float(sum(c.payload_bytes for c in self.comms(tensors)))

    def codec_seconds(self, tensors: Sequence[Tensor], compute: Any, width: int,
                      codec: tuple[str | None, int] = (None, 0)) -> float:
        """Seconds of this phase's compression compute (selection, QR, encode and decode) on ``tensors`` on one
        GPU: ``codec`` (a codec and its encodes and decodes per step,
        :func:`simtrain.calibration.codec_times.scheme_codec`) at the profile's measured times where ``compute``
        (a :class:`~simtrain.compute.ComputeModel`) has them, else :attr:`compute_flops` against a few passes over
        the gradient at ``width`` bytes a value (:meth:`~simtrain.compute.ComputeModel.codec_time`). The
        data-parallel step and a model-parallel plan both price a bucket's codec here.

        Examples
        --------
        >>> from simtrain.compute import ComputeModel
        >>> from simtrain.model.spec import Tensor
        >>> w = [Tensor("fc.weight", (1024, 1024))]
        >>> cm = ComputeModel.roofline("a100")
        >>> Phase("dense", lambda ts: []).codec_seconds(w, cm, 4)
        0.0
        >>> topk = Phase("compressed", lambda ts: [], compute_flops=lambda ts: 10.0 * sum(t.numel for t in ts))
        >>> topk.codec_seconds(w, cm, 4) == cm.kernel_time(10.0 * 2**20, 3.0 * 4 * 2**20, "fp32")
        True
        """
        if self.compute_flops is None:
            return 0.0
        flops = self.compute_flops(tensors)
        if not flops:
            return 0.0
        elements = sum(t.numel for t in tensors)
        # the analytical fallback reads a few passes over the gradient
        return float(compute.codec_time(codec[0], codec[1], elements, flops, 3.0 * width * elements))

    def updated_params(self, tensors: Sequence[Tensor]) -> int:
        """Parameters the optimizer step updates for ``tensors`` in this phase (what its update is priced on).

        Examples
        --------
        >>> from simtrain.model.spec import Tensor
        >>> w = [Tensor("fc.weight", (64, 32))]
        >>> Phase("dense", lambda ts: []).updated_params(w)
        2048
        >>> Phase("low-rank", lambda ts: [], trained_params=lambda ts: 4 * (64 + 32)).updated_params(w)
        384
        """
        if self.trained_params is None:
            return sum(t.numel for t in tensors)
        return round(self.trained_params(tensors))


@dataclass(frozen=True)
class Segment:
    """``steps`` consecutive steps of phase number ``phase``."""

    phase: int
    steps: int


@dataclass(frozen=True)
class Block:
    """``segments`` in order, the whole repeated ``times`` times."""

    segments: tuple[Segment, ...]
    times: int = 1

    @property
    def steps(self) -> int:
        """Steps the block covers."""
        return self.times * sum(s.steps for s in self.segments)


def steps_per_phase(blocks: Sequence[Block], num_phases: int) -> list[int]:
    """How many steps of the run each phase takes."""
    counts = [0] * num_phases
    for block in blocks:
        for segment in block.segments:
            counts[segment.phase] += block.times * segment.steps
    return counts


class Scheme:
    """Base class of communication-reduction schemes.

    Subclasses declare ``name``, ``parameters`` (a tuple of :class:`~simtrain.params.Param`: type, bounds,
    default, help) and implement :meth:`phases` and, for step-dependent schemes, :meth:`run`. ``__init__``
    validates the parameters through :func:`~simtrain.registry.read_plugin_params` (errors keyed
    ``scheme NAME:PARAM``); :meth:`validate` adds the checks between parameters that a Param cannot express.
    ``param_spec`` (parameter → default) is derived from ``parameters``.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    param_spec: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "param_spec" in vars(cls) and "parameters" not in vars(cls):
            # a plugin written against the old contract (defaults only): any value, checked by its validate()
            cls.parameters = tuple(Param(k, "any", v) for k, v in cls.param_spec.items())
        cls.param_spec = {p.name: p.default for p in cls.parameters}

    def __init__(self, **params: Any) -> None:
        self.params = read_plugin_params(self.parameters, params, role="scheme", name=self.name)
        self.validate()

    # -- the scikit-learn contract ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The parameters, defaults included."""
        return dict(self.params)

    def describe(self) -> str:
        """``name:key=value,...`` with the parameters that differ from their defaults."""
        return format_spec(self.name, {k: v for k, v in self.params.items() if v != self.param_spec.get(k)})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    def validate(self) -> None:
        """Check what the parameters' declarations cannot (one against another); raise :meth:`_error`."""

    def _error(self, key: str, message: str, value: Any, allowed: str | None = None) -> ConfigError:
        """A ConfigError about parameter ``key`` of this scheme (key ``scheme NAME:KEY``)."""
        return param_error("scheme", self.name, key, message, value, allowed=allowed)

    # -- the work ---------------------------------------------------------------------------------------------
    def phases(self, ctx: SchemeContext) -> list[Phase]:  # pragma: no cover - abstract
        """The kinds of step this scheme has."""
        raise NotImplementedError

    def run(self, ctx: SchemeContext, total_steps: int) -> list[Block]:
        """Phases over a run of ``total_steps`` steps (default: phase 0 every step)."""
        return [Block((Segment(0, total_steps),))] if total_steps > 0 else []

    def period(self, ctx: SchemeContext) -> list[Segment]:
        """One full period of the steady schedule (what ``simulate`` averages over)."""
        return [Segment(0, 1)]

    def state_bytes(self, ctx: SchemeContext, optimizer: str = "momentum") -> dict[str, float]:
        """Bytes per GPU the scheme holds in its steady phase beyond dense data parallelism's weights, gradients
        and optimizer state, by component (error feedback, factors, their gradients and optimizer state, …), for
        the tensors the GPU holds (``ctx.held_tensors``); negative entries are dense state it no longer holds
        (factorised layers). Default: nothing."""
        return {}

    def starts_dense(self, ctx: SchemeContext) -> bool:
        """Whether the run begins with full-rank dense steps (then dense memory is a floor of the peak)."""
        return False

    def dense_steps(self, ctx: SchemeContext) -> tuple[str, int] | None:
        """The parameter that sets the uncompressed steps a run starts with, and their number (None: no such
        start). A run no longer than this compresses nothing, which ``simtrain traffic`` warns about."""
        return None

    def past_end(self, ctx: SchemeContext, total_steps: int) -> str | None:
        """A warning when the dense start lasts the whole run of ``total_steps`` steps (None otherwise).

        Examples
        --------
        >>> from simtrain.compression import make_scheme
        >>> from simtrain.model import load_model
        >>> ctx = SchemeContext(load_model("vgg16-cifar"), num_gpus=8, steps_per_epoch=48)
        >>> make_scheme("ab-training").past_end(ctx, 300 * 48) is None
        True
        >>> make_scheme("ab-training").past_end(ctx, 100 * 48)
        'ab-training: warmup=9300 full-rank steps last the whole run of 4800 steps: nothing is compressed'
        """
        start = self.dense_steps(ctx)
        if start is None or start[1] < total_steps:
            return None
        return (f"{self.describe()}: {start[0]}={self.params[start[0]]} full-rank steps last the whole run of "
                f"{total_steps} steps: nothing is compressed")


def repeat_period(pattern: Sequence[Segment], total_steps: int) -> list[Block]:
    """``pattern`` repeated over ``total_steps`` steps, the last period cut short.

    Examples
    --------
    >>> repeat_period([Segment(0, 3), Segment(1, 1)], 6)
    [Block(segments=(Segment(phase=0, steps=3), Segment(phase=1, steps=1)), times=1), \
Block(segments=(Segment(phase=0, steps=2),), times=1)]
    """
    length = sum(s.steps for s in pattern)
    if total_steps <= 0 or length <= 0:
        return []
    full, tail = divmod(total_steps, length)
    blocks = [Block(tuple(pattern), full)] if full else []
    rest: list[Segment] = []
    for segment in pattern:
        if tail <= 0:
            break
        take = min(tail, segment.steps)
        rest.append(Segment(segment.phase, take))
        tail -= take
    if rest:
        blocks.append(Block(tuple(rest)))
    return blocks


def warmup_then(warmup_phase: int, warmup_steps: int, pattern: Sequence[Segment], total_steps: int) -> list[Block]:
    """``warmup_steps`` of one phase, then ``pattern`` repeated until ``total_steps``.

    Examples
    --------
    >>> warmup_then(0, 2, [Segment(1, 3)], 4)
    [Block(segments=(Segment(phase=0, steps=2),), times=1), Block(segments=(Segment(phase=1, steps=2),), times=1)]
    """
    head = min(warmup_steps, total_steps)
    blocks = [Block((Segment(warmup_phase, head),))] if head > 0 else []
    return blocks + repeat_period(pattern, total_steps - head)


@dataclass
class RankChoice:
    """How a low-rank scheme picks each layer's rank: absolute, a fraction of full rank, or a per-layer profile."""

    rank: int | None = None
    fraction: float | None = None
    profile: dict[str, int] = field(default_factory=dict)

    def rank_of(self, tensor: Tensor) -> int:
        """The rank for ``tensor`` (clamped to its full rank min(m, n))."""
        shape = tensor.matrix_shape
        assert shape is not None
        full = min(shape)
        if tensor.name in self.profile:
            return max(1, min(full, self.profile[tensor.name]))
        if self.rank is not None:
            return max(1, min(full, self.rank))
        assert self.fraction is not None
        return max(1, min(full, math.ceil(self.fraction * full)))
