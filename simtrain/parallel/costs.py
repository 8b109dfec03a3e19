"""What one pipeline stage computes and communicates per micro-batch under a plan, priced by the compute model and
the network engines.

Compute: every transformer layer's forward and backward on one GPU is :meth:`ComputeModel.layer_time` of the
layers :func:`~simtrain.model.decoder.block_layers` gives for the plan (heads and MLP split by TP, tokens by CP,
norms by TP under sequence parallelism), at the micro-batch. Full recomputation adds the layer's forward (and its TP
communication) to its backward, selective recomputation the attention matmuls' forward.

Communication: each is a collective :class:`~simtrain.collectives.schedule.Schedule` on the plan's real rank groups
(every group of the cluster at once, :func:`~simtrain.collectives.base.build_grouped_schedule`), evaluated by the
run's engine, templates built once per (operation, group, algorithm) and resized. The overlaps modelled:

* TP: two all-reduces per layer forward and two backward (sequence parallelism: an all-gather and a
  reduce-scatter each), on the critical path (Megatron-LM's default, no TP overlap);
* CP: ring attention's key/value all-gather (backward: all-gather and the gradients' reduce-scatter) overlaps the
  attention matmuls; only what exceeds them is exposed;
* EP: the token dispatch and combine all-to-alls, two per MoE layer forward and two backward, exposed;
* expert tensor parallelism ``etp ≠ tp`` (Megatron-core's alltoall dispatcher): a MoE layer keeps its tokens
  sequence-parallel, so only the attention's (and shared experts') TP collectives remain; the experts' ``etp``
  ranks all-gather the tokens the all-to-all brought (backward: reduce-scatter) and reduce-scatter their output
  (backward: all-gather), exposed and counted as TP; the all-to-alls and the expert gradients' reduction run on
  the expert layout's groups (:meth:`~simtrain.parallel.plan.ParallelPlan.groups`);
* distributed saved activations: a fully recomputed layer's input is all-gathered over TP before its
  recomputation, exposed;
* ZeRO-3: each layer's parameter all-gather is prefetched behind the previous layer's compute (backward: the
  all-gather and the gradient reduce-scatter), exposed beyond it; the first layer of each model chunk's forward and
  of its backward has no layer before it to hide behind, so its gather is exposed whole, every micro-batch (FSDP and
  DeepSpeed prefetch within a pass, and re-shard after it); without re-sharding after forward (``zero_reshard``
  false) backward gathers nothing: only its reduce-scatter, exposed beyond the layer's backward; under
  ``zero_impl`` ``fsdp2`` each gather's output is copied out into the parameters and each reduce-scatter's input
  copied in from the gradients, bandwidth-bound kernels added to the layer's compute;
* hybrid sharding (``zero_shard_size`` S): ZeRO's gathers and reduce-scatters run on the shard groups (S
  consecutive data-parallel ranks), and each layer's gradient shard (1/S of it) is all-reduced across the replica
  groups as the last micro-batch's backward produces it, overlapping the rest of that backward (ZeRO-3: once per
  step, as FSDP2's ``set_requires_all_reduce`` lets gradient accumulation do; ZeRO-1/2: after the bucket's
  reduce-scatter);
* PP: one point-to-point send of the activations (``1/tp`` of them, Megatron's scatter-gather) per micro-batch
  and stage boundary, forward and backward, simulated by the pipeline (:mod:`simtrain.parallel.pipeline`);
* DP: the gradient reduction (all-reduce, or reduce-scatter under ZeRO-1/2) of each layer as its last micro-batch's
  backward produces it, overlapping the rest of that backward; ZeRO-1/2's parameter all-gather after the update
  (not overlapped).

A compression scheme's phase on the DP dimension replaces the gradient reduction by its communications; a phase
that runs layers as factor GEMMs (``Phase.factorised``, Cuttlefish after its switch) prices their forward and
backward as the data-parallel step does (:func:`simtrain.lowrank.compute.layer_time`), and every phase's optimizer
step is priced on the parameters it trains (``Phase.updated_params``: the factors, not W).

Examples
--------
>>> from simtrain.model import load_model
>>> from simtrain.parallel.plan import make_plan
>>> from simtrain.topology import load_topology
>>> from simtrain.compute import ComputeModel
>>> c = load_model("gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000").config
>>> cluster = load_topology("dgx-a100", gpus=16)
>>> plan = make_plan(c, 16, "tp=4,pp=2", micro_batch=1, global_batch=8)
>>> costs = StageCosts.build(c, plan, cluster, ComputeModel.roofline("a100"), "bf16", "adam")
>>> costs.forward[0][0] > 0 and costs.exposed["tp"] > 0
True
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from simtrain.collectives.base import build_grouped_schedule
from simtrain.collectives.schedule import TEMPLATE_BYTES, Schedule, StepPattern, build_template
from simtrain.compute import ComputeModel, gradient_dtype, parameter_width
from simtrain.errors import ConfigError
from simtrain.model.decoder import DecoderConfig, block_layers, embedding_layers, head_layers, is_core_attention
from simtrain.model.spec import DTYPE_BYTES, Tensor
from simtrain.network import NetworkCache, NetworkOptions, evaluate, template_traffic
from simtrain.parallel.memory import edge_params, fp8_share, stage_tensors
from simtrain.parallel.owners import owner_shares
from simtrain.parallel.plan import ParallelPlan
from simtrain.topology import Cluster
from simtrain.training.overlap import collective_share, overlapped
from simtrain.units import format_size

__all__ = ["CATEGORIES", "Comms", "DpBucket", "StageCosts", "expert_block"]

#: Communication classes of the report's ``exposed_comm_s``.
CATEGORIES = ("tp", "pp", "dp", "cp", "ep")
#: A decoder layer's column-parallel linear layers (their input gradient is reduced over the TP group) and its
#: row-parallel ones (their output is), by the ends of their names (:func:`~simtrain.model.decoder.block_layers`).
TP_COLUMN_LAYERS = (".attention.qkv", ".mlp.up", ".mlp.gate")
TP_ROW_LAYERS = (".attention.out", ".mlp.down")


class DpBucket(NamedTuple):
    """One bucket of a pipeline stage's data-parallel gradient reduction (:attr:`StageCosts.dp_buckets`).

    A bucket's codec (a compression scheme's compute on it) runs on the GPU when the bucket is ready and the codecs
    before it are through, and its collectives when the codec is through and the stream is free, as in the
    data-parallel step (:func:`simtrain.training.data_parallel.arrivals`).
    """

    ready: float   #: seconds of compute into the last backward when its gradients are ready
    seconds: float   #: its collectives' time, one after another
    schedules: tuple[Schedule, ...]   #: those collectives
    share: float   #: the share of a GPU they hold while they run (:func:`~simtrain.training.overlap.collective_share`)
    codec: float = 0.0   #: a compression scheme's compute on it, before its collectives (s)
    #: kernels of its own on the communication stream, in series with its collectives (s): before them and after
    #: them (``zero_impl`` ``owner-broadcast``: the flatten into one buffer and the division by the group's size,
    #: then the copy back into the gradients)
    before: float = 0.0
    after: float = 0.0


class Comms:
    """Times of collectives on a plan's rank groups with one engine, templates and results memoised by content."""

    def __init__(self, cluster: Cluster, plan: ParallelPlan, cache: NetworkCache, options: NetworkOptions | None,
                 engine: str = "analytical", algorithm: str = "auto",
                 algorithm_params: Mapping[str, Any] | None = None) -> None:
        self.cluster = cluster
        self.plan = plan
        self.cache = cache
        self.options = options or NetworkOptions()
        self.engine = engine
        self.algorithm = algorithm
        self.algorithm_params = dict(algorithm_params or {})
        self._times: dict[Any, float] = {}
        self._reductions: dict[Any, tuple[float, tuple[Schedule, ...], float]] = {}
        self._rows: dict[Any, np.ndarray] = {}
        #: bytes per GPU by link class of everything :meth:`count` recorded
        self.bytes_by_class: dict[str, float] = dict.fromkeys(cluster.class_names, 0.0)
        self.bytes_per_gpu = 0.0

    def _plan_key(self) -> tuple[Any, ...]:
        p = self.plan
        return (p.tp, p.pp, p.dp, p.cp, p.ep, p.expert_tp, p.rank_order, p.shard_size)

    def schedule(self, op: str, dim: str, size_bytes: float, rows: np.ndarray | None = None) -> tuple[Any, Schedule]:
        """The key and Schedule of ``op`` of ``size_bytes`` (per group, nccl-tests convention) on every group of
        ``dim`` (or on the given group ``rows``)."""
        groups = self.plan.groups(dim) if rows is None else rows
        name = "direct" if op == "all-to-all" else self.algorithm
        params = {} if op == "all-to-all" else self.algorithm_params
        if name == "multidim-ring" and groups.shape[1] != self.cluster.num_gpus:
            name = "ring"
        key = ("parallel", op, dim, self._plan_key(), name, json.dumps(params, sort_keys=True, default=str),
                groups[:, 0].tobytes() if rows is not None else None)

        def build(size: float) -> Schedule:   # ``size`` bytes on each group
            return build_grouped_schedule(op, [size] * len(groups), self.cluster, name, list(groups),
                                          cache=self.cache, **params)

        template = self.cache.get("template", key, lambda: build_template(build, name, size_bytes))
        return key, template.resized(size_bytes * len(groups))

    def time(self, op: str, dim: str, size_bytes: float, rows: np.ndarray | None = None) -> float:
        """Seconds of ``op`` (``size_bytes`` per group) on the groups of ``dim``; 0 for groups of one rank."""
        groups = self.plan.groups(dim) if rows is None else rows
        if groups.shape[1] == 1 or size_bytes <= 0:
            return 0.0
        key, schedule = self.schedule(op, dim, size_bytes, rows)
        return self._timed(key, float(size_bytes), schedule)

    def share(self, op: str, dim: str, size_bytes: float, rows: np.ndarray | None = None) -> float:
        """The share of a GPU ``op`` on the groups of ``dim`` holds while it runs
        (:func:`~simtrain.training.overlap.collective_share`); 0 for groups of one rank."""
        groups = self.plan.groups(dim) if rows is None else rows
        if groups.shape[1] == 1 or size_bytes <= 0:
            return 0.0
        return collective_share(self.schedule(op, dim, size_bytes, rows)[1], self.cluster, self.options,
                                groups[0], self.cache)

    def _timed(self, key: Any, size_bytes: float, schedule: Schedule | Callable[[], Schedule]) -> float:
        """A schedule's time, kept in the cluster's cache under what decides it: its template key and size, the
        engine and the network options (so runs in one process share it); ``schedule`` may be a function that
        makes it, called only when the time is not known yet."""
        memo = (key, size_bytes, self.engine, self.options)
        if memo not in self._times:
            self._times[memo] = self.cache.get("parallel-time", memo, lambda: self.evaluate(
                schedule if isinstance(schedule, Schedule) else schedule()))
        return self._times[memo]

    def evaluate(self, schedule: Schedule) -> float:
        """Seconds of a schedule with the engine."""
        if self.engine == "des":
            from simtrain.network.des import simulate_collective

            return simulate_collective(schedule, self.cluster, self.options, cache=self.cache).time_s
        return evaluate(schedule, self.cluster, self.options, self.cache).time_s

    def count(self, op: str, dim: str, size_bytes: float, times: float, rows: np.ndarray | None = None) -> None:
        """Record ``times`` occurrences of a collective per step in the bytes per GPU."""
        groups = self.plan.groups(dim) if rows is None else rows
        if groups.shape[1] == 1 or size_bytes <= 0 or times <= 0:
            return
        key, schedule = self.schedule(op, dim, size_bytes, rows)
        self._add(key, schedule, times)

    def _add(self, key: Any, schedule: Schedule, times: float) -> None:
        """Add a schedule's bytes ``times`` over; ``key`` (its template key, or None) keeps its traffic cached."""
        traffic = template_traffic(schedule, self.cache, key)
        n = self.cluster.num_gpus
        self.bytes_per_gpu += times * schedule.bytes_sent / n
        for name, value in traffic.bytes_by_class.items():
            self.bytes_by_class[name] += times * value / n

    def reduction(self, op: str, stage: int, dense_bytes: float,
                  expert_bytes: float) -> tuple[float, tuple[Schedule, ...], float]:
        """Seconds, Schedules and share of a GPU (the most any of them holds while it runs,
        :func:`~simtrain.training.overlap.collective_share`) of one gradient bucket's reduction on pipeline stage
        ``stage``'s data-parallel groups: dense gradients over ``dp · cp``, expert gradients over ``dp · cp / ep``.
        Under hybrid sharding (expert parallelism excluded, so both kinds shard alike) ``reduce-scatter`` runs on
        the shard groups and is followed by the all-reduce of the shard across the replica groups; ``replica`` is
        that all-reduce alone (ZeRO-3, whose reduce-scatter runs every micro-batch)."""
        memo = ("reduction", op, stage, float(dense_bytes), float(expert_bytes))
        if memo in self._reductions:
            return self._reductions[memo]
        seconds = share = 0.0
        schedules: list[Schedule] = []
        steps = [(op, "dpcp", dense_bytes), (op, "edp", expert_bytes)]
        if self.plan.hybrid and op in ("reduce-scatter", "replica"):
            total = dense_bytes + expert_bytes
            steps = [("all-reduce", "replica", total / self.plan.zero_group)]
            if op == "reduce-scatter":
                steps.insert(0, ("reduce-scatter", "shard", total))
        for kind, dim, nbytes in steps:
            rows = self.stage_rows(dim, stage)
            if rows.shape[1] == 1 or nbytes <= 0:
                continue
            key, schedule = self.schedule(kind, dim, nbytes, rows)
            seconds += self._timed(key, float(nbytes), schedule)
            schedules.append(schedule)
            share = max(share, collective_share(schedule, self.cluster, self.options, rows[0], self.cache))
        self._reductions[memo] = (seconds, tuple(schedules), share)
        return self._reductions[memo]

    def compressed(self, phase: Any, stage: int, tensors: Sequence[Tensor], dp_per_node: int,
                   compute: ComputeModel, width: int,
                   codec: tuple[str | None, int] = (None, 0)) -> tuple[float, tuple[Schedule, ...], float, float]:
        """Seconds, Schedules and share of a GPU (as :meth:`reduction`) of a compression scheme's communications
        (``phase.comms``) for one bucket of gradient tensors on stage ``stage``'s data-parallel groups, and the
        seconds of its compression compute before them (:meth:`~simtrain.compression.base.Phase.codec_seconds`,
        ``codec`` as :func:`~simtrain.calibration.codec_times.scheme_codec` gives it). The scheme's
        groups (``world``, ``node``, ``peers``, ``leaders``, ``groups:K``) are taken inside each data-parallel
        group, with ``dp_per_node`` of its members per node."""
        from simtrain.collectives.groups import comm_sizes

        rows = self.stage_rows("dpcp", stage)
        seconds = share = 0.0
        schedules: list[Schedule] = []
        for comm in phase.comms(tensors):
            if comm.payload_bytes <= 0 or rows.shape[1] == 1:
                continue
            if comm.op == "push-pull":
                raise ConfigError("push-pull (parameter-server) schemes are not simulated with a model-parallel "
                                  "plan", key="scheme", value=comm.label)
            positions, sizes = comm_sizes(comm, rows.shape[1], dp_per_node)
            groups = [row[g] for row in rows for g in positions]
            all_sizes = [size for _ in rows for size in sizes]
            name = "direct" if comm.op == "all-to-all" else self.algorithm
            params = {} if comm.op == "all-to-all" else self.algorithm_params
            if name == "multidim-ring":
                name = "ring"
            key = ("parallel-scheme", comm.op, comm.group, stage, self._plan_key(), name,
                   json.dumps(params, sort_keys=True, default=str), tuple(all_sizes))
            schedule = self.cache.get("template", key, functools.partial(
                build_grouped_schedule, comm.op, all_sizes, self.cluster, name, groups, **params))
            seconds += self._timed(key, float(sum(all_sizes)), schedule)
            schedules.append(schedule)
            share = max(share, collective_share(schedule, self.cluster, self.options, groups[0], self.cache))
        return seconds, tuple(schedules), share, phase.codec_seconds(tensors, compute, width, codec)

    def stage_rows(self, dim: str, stage: int) -> np.ndarray:
        """The groups of ``dim`` that lie on pipeline stage ``stage``."""
        if (dim, stage) in self._rows:
            return self._rows[(dim, stage)]
        groups = self.plan.groups(dim)
        stage_of = (groups[:, 0] // self.plan.rank(pp=1)) % self.plan.pp if self.plan.pp > 1 else \
            np.zeros(len(groups), dtype=np.int64)
        rows = self._rows[(dim, stage)] = groups[stage_of == stage]
        return rows

    def p2p(self, stage: int, nbytes: float, backward: bool = False) -> Schedule:
        """Every GPU of pipeline stage ``stage`` sends ``nbytes`` to its peer of the next stage (backward: of the
        previous stage); the last stage's next is the first (interleaved chunks wrap around)."""
        pp = self.plan.groups("pp")
        source = pp[:, stage]
        target = pp[:, (stage - 1) % self.plan.pp] if backward else pp[:, (stage + 1) % self.plan.pp]
        key = self.p2p_key(stage, backward)

        def build() -> Schedule:
            pattern = StepPattern(source, target, TEMPLATE_BYTES, label="p2p")
            return Schedule("send", "p2p", TEMPLATE_BYTES * len(source), np.unique(np.concatenate([source, target])),
                            (pattern,))

        return self.cache.get("template", key, build).resized(nbytes * len(source))

    def p2p_key(self, stage: int, backward: bool) -> tuple[Any, ...]:
        """The template key of :meth:`p2p`."""
        return ("parallel-p2p", self._plan_key(), stage, backward)

    def p2p_time(self, stage: int, nbytes: float, backward: bool = False) -> float:
        """Seconds of :meth:`p2p` with the engine (memoised)."""
        if self.plan.pp == 1 or nbytes <= 0:
            return 0.0
        return self._timed(self.p2p_key(stage, backward), float(nbytes),
                           functools.partial(self.p2p, stage, nbytes, backward))


@dataclass
class StageCosts:
    """Per (stage, model chunk) durations of one micro-batch's forward and backward, and what makes them up.

    Attributes
    ----------
    forward, backward : list of list of float
        ``[stage][chunk]`` seconds per micro-batch, compute plus the exposed TP/CP/EP/ZeRO-3 communication.
    p2p_forward, p2p_backward : list of float
        Seconds of the activation (gradient) send from stage s to s+1 (s−1), per micro-batch.
    exposed : dict
        Per category, the exposed seconds of the first stage's forwards plus backwards over the step (every
        micro-batch's).
    dp_buckets : list of list of DpBucket
        Per stage, the gradient reductions of its last micro-batch's backward, in the order backward produces
        them: when each bucket is ready, its communication's seconds, Schedules (on the stage's data-parallel
        groups) and share of a GPU, and a compression scheme's codec seconds on it (:class:`DpBucket`).
    dp_after_update : list of float
        Per stage, communication after the optimizer step (ZeRO-1/2 parameter all-gather).
    update : list of float
        Per stage, the optimizer step.
    forward_compute, backward_compute : list of list of float
        The compute part of ``forward`` and ``backward`` (what a slower GPU stretches: :meth:`stretched`).
    dp_ready_compute : list of list of float
        The compute part of each ``dp_buckets`` entry's readiness.
    copies : list of float
        Per stage, the seconds of one micro-batch's forward and backward that ``zero_impl`` ``fsdp2``'s copies take
        (part of ``forward_compute`` and ``backward_compute``; 0 under ``flat``).
    owner_broadcasts : list of list of float
        Per stage under ``zero_impl`` ``owner-broadcast``, the bytes each owner broadcasts after the update, one
        broadcast per owner that owns anything (:mod:`simtrain.parallel.owners`); empty otherwise.
    """

    forward: list[list[float]]
    backward: list[list[float]]
    p2p_forward: list[float]
    p2p_backward: list[float]
    exposed: dict[str, float]
    dp_buckets: list[list[DpBucket]]
    dp_after_update: list[float]
    update: list[float]
    model_flops: float
    hardware_flops: float
    comms: Comms = field(repr=False)
    p2p_bytes: float = 0.0
    phase_bytes: Any = None
    forward_compute: list[list[float]] = field(default_factory=list)
    backward_compute: list[list[float]] = field(default_factory=list)
    dp_ready_compute: list[list[float]] = field(default_factory=list)
    copies: list[float] = field(default_factory=list)
    owner_broadcasts: list[list[float]] = field(default_factory=list)

    def stretched(self, factors: Sequence[float] | None) -> StageCosts:
        """These costs on GPUs whose compute takes ``factors[s]`` times as long on stage ``s`` (the slowest GPU of
        the spread, a straggler): forward, backward, the reductions' readiness and the update stretch in their
        compute parts; the communication exposed in them does not.

        Examples
        --------
        >>> from simtrain.model import load_model
        >>> from simtrain.parallel.plan import make_plan
        >>> from simtrain.topology import load_topology
        >>> c = load_model("gpt:layers=2,hidden=256,heads=8,seq=128,vocab=100").config
        >>> plan = make_plan(c, 8, "tp=8", micro_batch=1, global_batch=1)
        >>> costs = StageCosts.build(c, plan, load_topology("dgx-a100", gpus=8), ComputeModel.roofline("a100"),
        ...                          "bf16", "adam")
        >>> slow = costs.stretched([1.5])
        >>> extra = slow.forward[0][0] - costs.forward[0][0]
        >>> abs(extra - 0.5 * costs.forward_compute[0][0]) < 1e-15 < costs.forward[0][0] - costs.forward_compute[0][0]
        True
        """
        if factors is None or all(f == 1.0 for f in factors):
            return self
        if len(factors) != len(self.forward):
            raise ValueError(f"stretched: {len(factors)} factors for {len(self.forward)} stages")

        def longer(total: list[float], compute: list[float], factor: float) -> list[float]:
            return [t + (factor - 1.0) * part for t, part in zip(total, compute)]

        return replace(
            self,
            forward=[longer(f, fc, k) for f, fc, k in zip(self.forward, self.forward_compute, factors)],
            backward=[longer(b, bc, k) for b, bc, k in zip(self.backward, self.backward_compute, factors)],
            dp_buckets=[[bucket._replace(ready=bucket.ready + (k - 1.0) * part, codec=bucket.codec * k,
                                         before=bucket.before * k, after=bucket.after * k)
                         for bucket, part in zip(stage, compute)]
                        for stage, compute, k in zip(self.dp_buckets, self.dp_ready_compute, factors)],
            update=[u * k for u, k in zip(self.update, factors)])

    @classmethod
    def build(cls, c: DecoderConfig, plan: ParallelPlan, cluster: Cluster, compute: ComputeModel, dtype: str,
              optimizer: str, *, cache: NetworkCache | None = None, options: NetworkOptions | None = None,
              engine: str = "analytical", algorithm: str = "auto",
              algorithm_params: Mapping[str, Any] | None = None, phase: Any = None,
              codec: tuple[str | None, int] = (None, 0), optimizer_impl: str = "fused",
              clip_grad: bool = False, reduce_dtype: str = "auto") -> StageCosts:
        """Price every stage of ``plan`` for decoder ``c`` on ``cluster``; ``phase`` (a compression scheme's
        :class:`~simtrain.compression.base.Phase`) replaces the gradient reduction of the data-parallel groups,
        its compute priced at ``codec``'s measured times where the profile has them
        (:func:`~simtrain.calibration.codec_times.scheme_codec`); ``optimizer_impl`` is the optimizer step's code
        (:mod:`simtrain.optimizers`) and ``clip_grad`` whether it clips the gradients by their global norm first
        (:meth:`~simtrain.compute.ComputeModel.update_time`); ``reduce_dtype`` the dtype the data-parallel
        reductions carry the gradients in (:func:`~simtrain.compute.gradient_dtype`), the parameters' gathers keeping
        the parameters' own."""
        cache = NetworkCache.for_cluster(cluster, cache)
        comms = Comms(cluster, plan, cache, options, engine, algorithm, algorithm_params)
        width = DTYPE_BYTES[dtype]   # the activations'
        # the parameters' (fp32 under autocast): what ZeRO's gathers carry; and the gradients' (reduce_dtype): what
        # the data-parallel reductions carry
        param_width = parameter_width(dtype, compute.autocast)
        grad_width = DTYPE_BYTES[gradient_dtype(dtype, compute.autocast, reduce_dtype)]
        mb, tp, cp, sp = plan.micro_batch, plan.tp, plan.cp, plan.sequence_parallel
        m = plan.num_micro_batches
        tokens = mb * c.seq // cp
        activation = tokens * c.hidden * width          # one layer's output on one GPU of a TP group (whole)

        def time_of(layers: list[Any], phase: str) -> float:
            return sum(compute.layer_time(layer, mb, phase, dtype) for layer in layers)

        def fsdp2_copies(gathered: float, gradients: float) -> tuple[float, float]:
            """FSDP2's copies of a unit (seconds), memory-bound kernels on the compute's stream: its gather's
            output copied out into the parameters (split_with_sizes_copy: read and write the gathered bytes), and
            its reduce-scatter's input copied in from the gradients as autograd left them, at the parameters'
            width, into the reduction's (chunk_cat)."""
            return (compute.kernel_time(0.0, 2 * gathered, dtype),
                    compute.kernel_time(0.0, gathered + gradients, dtype))

        # TP: two collectives per layer per pass
        tp_gather = comms.time("all-gather", "tp", activation)
        tp_scatter = comms.time("reduce-scatter", "tp", activation)
        tp_reduce = comms.time("all-reduce", "tp", activation)
        if sp:
            tp_pass = 2 * (tp_gather + tp_scatter)
        else:
            tp_pass = 2 * tp_reduce
        tp_shares = {op: comms.share(op, "tp", activation) for op in ("all-gather", "reduce-scatter", "all-reduce")}

        def tp_async(layers: list[Any]) -> float:
            """What ``layers``' backward exposes of its TP collectives under ``tp_overlap async`` (Megatron-LM's
            LinearWithGradAccumulationAndAsyncCommunication, flash-attn's fused_dense): each column-parallel layer
            launches its input gradient's all-reduce (sequence parallel: reduce-scatter) before its weight-gradient
            GEMM and waits for it after, and under sequence parallelism all-gathers its saved input for that GEMM
            while its input-gradient GEMM runs; the two GEMMs, of equal multiply-adds, each taken as half the
            layer's backward. A row-parallel layer's backward all-gathers its output gradient first under sequence
            parallelism (exposed) and has no collective without it."""
            exposed_b = 0.0
            for layer in layers:
                if layer.name.endswith(TP_ROW_LAYERS) and sp:
                    exposed_b += tp_gather
                if not layer.name.endswith(TP_COLUMN_LAYERS):
                    continue
                half = compute.layer_time(layer, mb, "backward", dtype) / 2
                if sp:
                    exposed_b += overlapped(half, [(tp_gather, tp_shares["all-gather"])]) - half
                    exposed_b += overlapped(half, [(tp_scatter, tp_shares["reduce-scatter"])]) - half
                else:
                    exposed_b += overlapped(half, [(tp_reduce, tp_shares["all-reduce"])]) - half
            return exposed_b
        kv_bytes = 2 * mb * c.seq * c.kv_dim // tp * width   # the whole sequence's K and V on one TP rank
        cp_gather = comms.time("all-gather", "cp", kv_bytes)
        cp_scatter = comms.time("reduce-scatter", "cp", kv_bytes)
        cp_gather_share = comms.share("all-gather", "cp", kv_bytes)
        cp_scatter_share = comms.share("reduce-scatter", "cp", kv_bytes)
        dispatch = tokens // (tp if sp else 1) * c.hidden * width * max(1, c.top_k)
        ep_pass = 2 * comms.time("all-to-all", "ep", dispatch) if plan.ep > 1 else 0.0
        # expert tensor parallelism etp ≠ tp (Megatron-core's alltoall dispatcher): after the EP all-to-all the etp
        # ranks of an expert all-gather the tokens they received, and reduce-scatter the experts' output before the
        # all-to-all back; the MoE layer's tokens stay in the sequence-parallel layout (no TP collectives around it
        # but those of the shared experts)
        etp_gathered = dispatch * plan.expert_tp
        etp_pass = comms.time("all-gather", "etp", etp_gathered) + \
            comms.time("reduce-scatter", "etp", etp_gathered) if plan.folded else 0.0
        # a full recomputation with distributed saved activations all-gathers each layer's input first
        saved_gather = tp_gather if plan.distribute_saved_activations else 0.0

        sharded = plan.zero >= 3 and plan.dp * plan.cp > 1   # ZeRO-3 with ranks to shard over
        kinds: dict[bool, dict[str, float]] = {}
        for moe in sorted({c.is_moe(i) for i in range(c.layers)}):
            index = next(i for i in range(c.layers) if c.is_moe(i) == moe)
            layers = block_layers(c, index, tp, cp, sp)
            if moe and plan.folded:
                layers = expert_block(c, index, plan)
            core = [layer for layer in layers if is_core_attention(layer)]
            f, b = time_of(layers, "forward"), time_of(layers, "backward")
            core_f, core_b = time_of(core, "forward"), time_of(core, "backward")
            dense_count = sum(layer.num_params for layer in layers if ".experts." not in layer.name)
            expert_count = sum(layer.num_params for layer in layers if ".experts." in layer.name) / plan.ep
            weights, expert_weights = dense_count * param_width, expert_count * param_width
            grad_bytes, expert_grad_bytes = dense_count * grad_width, expert_count * grad_width
            z_f = z_b = z_f_first = z_b_first = copy_f = copy_b = 0.0
            if sharded:
                # the parameters gathered, the gradients reduce-scattered, each at its own width
                parts = ([("shard", weights + expert_weights, grad_bytes + expert_grad_bytes)] if plan.hybrid
                         else [("dpcp", weights, grad_bytes), ("edp", expert_weights, expert_grad_bytes)])
                gather = sum(comms.time("all-gather", dim, nbytes) for dim, nbytes, _ in parts)
                scatter = sum(comms.time("reduce-scatter", dim, nbytes) for dim, _, nbytes in parts)
                # while they run, the gathers and reduce-scatters hold SMs the layer's compute would use
                gather_share = max(comms.share("all-gather", dim, nbytes) for dim, nbytes, _ in parts)
                scatter_share = max(comms.share("reduce-scatter", dim, nbytes) for dim, _, nbytes in parts)
                # a pass's first layer: its gather waits for nothing to hide behind; without re-sharding after
                # forward, backward has its parameters already
                again = gather if plan.zero_reshard else 0.0
                if plan.zero_impl == "fsdp2":   # (a recomputed forward runs on backward's gather: no copy of its own)
                    out, into = fsdp2_copies(weights + expert_weights, grad_bytes + expert_grad_bytes)
                    copy_f, copy_b = out, (out if plan.zero_reshard else 0.0) + into
                busy_f, busy_b = f + copy_f, b + copy_b
                z_f = overlapped(busy_f, [(gather, gather_share)]) - busy_f
                z_b = overlapped(busy_b, [(again, gather_share), (scatter, scatter_share)]) - busy_b
                z_f_first, z_b_first = gather, again + overlapped(busy_b, [(scatter, scatter_share)]) - busy_b
            tp_f = tp_pass if not (moe and plan.folded) else (tp_pass if c.shared_experts else tp_pass / 2) + etp_pass
            tp_b, tp_extra = tp_f, (0.0, 0.0)
            if plan.tp_overlap == "async" and tp > 1:
                # the attention's projections, and a dense MLP's (a MoE layer's MLP collectives stay as they are)
                overlapping = [layer for layer in layers if ".attention." in layer.name or not moe]
                tp_b = tp_async(overlapping) + (tp_f - tp_pass / 2 if moe else 0.0)
                # the backward's collectives beyond the pattern's two a pass (_count_bytes): each overlapped column
                # layer reduces its own input gradient (a split gate and up: three), and under sequence parallelism
                # gathers its saved input again
                columns = sum(layer.name.endswith(TP_COLUMN_LAYERS) for layer in overlapping)
                pairs = 2 if not (moe and plan.folded and not c.shared_experts) else 1
                kept = (1 if not plan.folded or c.shared_experts else 0) if moe else 0   # a MoE MLP's own pair
                tp_extra = (float(columns + kept - pairs), float(columns if sp else 0))
            kinds[moe] = {
                "f": f, "b": b, "core_f": core_f,
                "tp": tp_f, "tp_b": tp_b, "tp_reductions": tp_extra[0], "tp_gathers": tp_extra[1],
                "cp_f": overlapped(core_f, [(cp_gather, cp_gather_share)]) - core_f,
                "cp_b": overlapped(core_b, [(cp_gather, cp_gather_share), (cp_scatter, cp_scatter_share)]) - core_b,
                "ep": ep_pass if moe else 0.0, "zf": z_f, "zb": z_b, "zf_first": z_f_first,
                "zb_first": z_b_first, "copy_f": copy_f, "copy_b": copy_b, "weights": weights,
                "expert_weights": expert_weights, "grads": grad_bytes, "expert_grads": expert_grad_bytes,
                "flops_f": sum(layer.forward_flops for layer in layers) * mb,
                "flops_core": sum(layer.forward_flops for layer in core) * mb,
            }

        factorised = phase.factorised if phase is not None else None
        block_times: dict[int, tuple[float, float]] = {}   # block index → (forward, backward) with factor GEMMs

        def compute_of(index: int, k: dict[str, float]) -> tuple[float, float]:
            """Forward and backward seconds of block ``index``'s layers (factor GEMMs where the phase says)."""
            if not factorised:
                return k["f"], k["b"]
            if index not in block_times:
                from simtrain.lowrank.compute import layer_time

                layers = block_layers(c, index, tp, cp, sp)
                how = [next((factorised[t.name] for t in layer.tensors if t.name in factorised), None)
                       for layer in layers]
                block_times[index] = (
                    sum(layer_time(compute, layer, h, mb, "forward", dtype) for layer, h in zip(layers, how)),
                    sum(layer_time(compute, layer, h, mb, "backward", dtype) for layer, h in zip(layers, how)))
            return block_times[index]

        full_layers = (plan.layers_per_stage if plan.recompute_layers is None else plan.recompute_layers) \
            if plan.recompute == "full" else 0
        embed = embedding_layers(c, tp, cp)
        head = head_layers(c, tp, cp)

        def edge_unit(count: int) -> tuple[float, float, float, float]:
            """ZeRO-3's root unit of a chunk's ``count`` edge parameters (the embedding, the final norm and the
            head): its gather at the forward's start and its gradients' reduce-scatter at the backward's end
            (seconds, exposed: nothing of the chunk is left to hide them), and FSDP2's copies (out of the gather;
            into the reduction). FSDP keeps the root's parameters gathered from forward to backward (FSDP1 does not
            free the root's, FSDP2 sets the root's reshard_after_forward to False): no gather in the backward."""
            if not sharded or not count:
                return 0.0, 0.0, 0.0, 0.0
            dim = "shard" if plan.hybrid else "dpcp"
            weights, grads = count * param_width, count * grad_width
            copy_f, copy_b = fsdp2_copies(weights, grads) if plan.zero_impl == "fsdp2" else (0.0, 0.0)
            return (comms.time("all-gather", dim, weights), comms.time("reduce-scatter", dim, grads), copy_f,
                    copy_b)

        forward: list[list[float]] = []
        backward: list[list[float]] = []
        forward_compute: list[list[float]] = []   # the same without the communication exposed in them
        backward_compute: list[list[float]] = []
        ready_compute: list[list[float]] = []
        exposed = dict.fromkeys(CATEGORIES, 0.0)
        dp_buckets: list[list[DpBucket]] = []
        dp_after: list[float] = []
        updates: list[float] = []
        copies: list[float] = []   # per stage: FSDP2's copies in one micro-batch's forward and backward
        owners = plan.zero_impl == "owner-broadcast"
        owner_bytes: list[list[float]] = []   # per stage, owner-broadcast: each owner's broadcast (bytes)
        from simtrain.parallel.memory import stage_params

        for stage in range(plan.pp):
            forward.append([])
            backward.append([])
            forward_compute.append([])
            backward_compute.append([])
            buckets: list[tuple[float, float, float, int]] = []   # (backward seconds, dense, expert bytes, chunk)
            compute_of_bucket: list[float] = []   # each entry's backward compute seconds
            stage_recomputed = 0
            copies.append(0.0)
            for chunk in range(plan.chunks):
                f_total = b_total = f_compute = b_compute = 0.0
                chunk_layers = plan.chunk_layers(stage, chunk)
                for index in chunk_layers:
                    k = kinds[c.is_moe(index)]
                    # ZeRO-3: the chunk's first layer opens the forward, its last layer opens the backward
                    zf = k["zf_first"] if index == chunk_layers[0] else k["zf"]
                    zb = k["zb_first"] if index == chunk_layers[-1] else k["zb"]
                    own_f, own_b = compute_of(index, k)
                    f = own_f + k["copy_f"] + k["tp"] + k["cp_f"] + k["ep"] + zf
                    b = own_b + k["copy_b"] + k["tp_b"] + k["cp_b"] + k["ep"] + zb
                    b_own = own_b + k["copy_b"]
                    again = 0.0   # communication a full recomputation runs again
                    if stage_recomputed < full_layers:
                        stage_recomputed += 1
                        b += saved_gather + own_f + k["tp"] + k["cp_f"] + k["ep"]
                        b_own += own_f
                        again = 1.0
                    elif plan.recompute == "selective":
                        b += k["core_f"]
                        b_own += k["core_f"]
                    copies[stage] += k["copy_f"] + k["copy_b"]
                    f_total += f
                    b_total += b
                    f_compute += own_f + k["copy_f"]
                    b_compute += b_own
                    buckets.append((b, k["grads"], k["expert_grads"], chunk))
                    compute_of_bucket.append(b_own)
                    if stage == 0:
                        exposed["tp"] += (1 + again) * k["tp"] + k["tp_b"] + again * saved_gather
                        exposed["cp"] += (1 + again) * k["cp_f"] + k["cp_b"]
                        exposed["ep"] += (2 + again) * k["ep"]
                        exposed["dp"] += zf + zb
                holds_embed, holds_head = stage == 0 and chunk == 0, stage == plan.pp - 1 and chunk == plan.chunks - 1
                edges = (embed if holds_embed else []) + (head if holds_head else [])
                edge_f, edge_b = time_of(edges, "forward"), time_of(edges, "backward")
                embed_count, head_count = edge_params(c, tp, plan.pp, stage)
                gather, scatter, copy_f, copy_b = edge_unit(embed_count * holds_embed + head_count * holds_head)
                edge_f, edge_b = edge_f + copy_f, edge_b + copy_b
                copies[stage] += copy_f + copy_b
                if stage == 0:
                    exposed["dp"] += gather + scatter
                forward[stage].append(f_total + edge_f + gather)
                backward[stage].append(b_total + edge_b + scatter)
                forward_compute[stage].append(f_compute + edge_f)
                backward_compute[stage].append(b_compute + edge_b)
            # DP: the last micro-batch's backward produces the layers' gradients in reverse order
            dense_params, expert_params = stage_params(c, plan, stage)
            # whole-tensor owners (owner-broadcast) keep every gradient whole: all-reduced over the data-parallel
            # group, whatever the ZeRO group; so does DeepSpeed's stage 2 without contiguous gradients
            # (allreduce-gather), whose ranks then keep their partitions of the reduced bucket
            op = "all-reduce" if plan.reduces_whole_gradients else "reduce-scatter"
            # each entry's readiness → its compute part (readiness grows with every layer's backward)
            compute_at: dict[float, float] = {0.0: 0.0}
            stage_buckets: list[DpBucket] = []
            layer_dense = sum(bucket[1] for bucket in buckets)
            # the backward opens with the head's (the last stage's last chunk): its gradients (the final norm's, an
            # untied head's, a tied head's copy of the embedding under pp > 1) are ready first, in the first bucket
            # (DDP and Megatron-LM bucket in reverse registration order, DeepSpeed and InternLM as hooks fire); the
            # embedding's are ready when the stage's backward ends
            # (not under ZeRO-3, whose root unit holds the edges: reduced once its last gradient is ready)
            last = stage == plan.pp - 1
            head_dense = 0.0 if sharded else edge_params(c, tp, plan.pp, stage)[1] * grad_width
            # with interleaving the head is in the last chunk, whose backward is done before chunk 0's begins
            head_b = time_of(head, "backward") if last and plan.chunks == 1 else 0.0
            # the rest of chunk 0's backward after its layers': the embedding's (under ZeRO-3 with the root unit's
            # copies and reduce-scatter, and the head's copies), and of it the compute
            embed_b = max(0.0, backward[stage][0] - sum(b for b, *_, chunk in buckets if chunk == 0) - head_b)
            embed_own = max(0.0, backward_compute[stage][0] - sum(
                own for (*_, chunk), own in zip(buckets, compute_of_bucket) if chunk == 0) - head_b)
            extra_dense = dense_params * grad_width - layer_dense - head_dense   # the embedding's
            ready = ready_own = head_b
            compute_at[ready] = ready_own
            if phase is not None and plan.dp_bucket:
                raise ConfigError("is not read with a compression scheme, whose communications go layer by layer",
                                  key="dp_bucket_size", value=format_size(plan.dp_bucket),
                                  allowed="no scheme, or leave it unset")
            if phase is not None:   # a compression scheme's communications, bucket by bucket (one layer each)
                dp_per_node = _dp_per_node(plan, cluster.gpus_per_node)
                tensors = [t for layer in head for t in layer.tensors] if stage == plan.pp - 1 else []
                if tensors:
                    stage_buckets.append(DpBucket(ready, *comms.compressed(phase, stage, tensors, dp_per_node,
                                                                           compute, grad_width, codec)))
                indices = plan.stage_layers(stage)   # the buckets' layers, in the order they were appended
                for position, ((b, _, _, chunk), b_own) in enumerate(zip(reversed(buckets),
                                                                         reversed(compute_of_bucket))):
                    ready += b if chunk == 0 else 0.0
                    ready_own += b_own if chunk == 0 else 0.0
                    compute_at[ready] = ready_own
                    index = indices[len(buckets) - 1 - position]
                    tensors = [t for layer in block_layers(c, index, tp, cp, sp) for t in layer.tensors]
                    stage_buckets.append(DpBucket(ready, *comms.compressed(phase, stage, tensors, dp_per_node,
                                                                           compute, grad_width, codec)))
                tensors = [t for layer in embed for t in layer.tensors] if stage == 0 else []
                if tensors:
                    ready, ready_own = ready + embed_b, ready_own + embed_own
                    compute_at[ready] = ready_own
                    stage_buckets.append(DpBucket(ready, *comms.compressed(phase, stage, tensors, dp_per_node,
                                                                           compute, grad_width, codec)))
            elif plan.zero < 3 or plan.hybrid:
                # the last operation is chunk 0's backward: the other chunks' gradients are ready when it starts
                op = "replica" if plan.zero >= 3 else op
                grads: list[tuple[float, float, float]] = []   # (ready, dense bytes, expert bytes), backward order
                if head_dense > 0:
                    grads.append((ready, head_dense, 0.0))
                for (b, dense_bytes, expert_bytes, chunk), b_own in zip(reversed(buckets), reversed(compute_of_bucket)):
                    ready += b if chunk == 0 else 0.0
                    ready_own += b_own if chunk == 0 else 0.0
                    compute_at[ready] = ready_own
                    grads.append((ready, dense_bytes, expert_bytes))
                if extra_dense > 0:
                    ready, ready_own = ready + embed_b, ready_own + embed_own
                    compute_at[ready] = ready_own
                    grads.append((ready, extra_dense, 0.0))
                # a bucket is sized by its reduction's operand: the gradients themselves, or under ZeRO-3's
                # hybrid sharding the shard each replica all-reduces (1/S of them)
                operand = 1.0 / plan.zero_group if plan.zero >= 3 else 1.0
                for at, dense_bytes, expert_bytes in merge_buckets(grads, plan.dp_bucket / operand,
                                                                   plan.dp_bucket_rule):
                    bucket = DpBucket(at, *comms.reduction(op, stage, dense_bytes, expert_bytes))
                    if owners:
                        # InternLM's HybridZeroOptimizer runs each bucket's copies on its communication stream
                        # (hybrid_zero_optim.py _reduce_and_copy at 20fe5ac2): torch.cat of the gradients into one
                        # buffer and its div_ by the group's size before the all-reduce, the copy back into the
                        # gradients after it; each reads and writes the bucket's bytes
                        copy = compute.kernel_time(0.0, 2.0 * (dense_bytes + expert_bytes), dtype)
                        bucket = bucket._replace(before=2.0 * copy, after=copy)
                    stage_buckets.append(bucket)
            dp_buckets.append(stage_buckets)
            ready_compute.append([compute_at[bucket.ready] for bucket in stage_buckets])
            after = 0.0
            if plan.zero in (1, 2) and plan.hybrid and not owners:
                after = comms.time("all-gather", "shard", (dense_params + expert_params) * param_width,
                                   comms.stage_rows("shard", stage))
            elif plan.zero in (1, 2) and not owners:
                after = comms.time("all-gather", "dpcp", dense_params * param_width) + \
                    comms.time("all-gather", "edp", expert_params * param_width)
            expert_dp = plan.zero_group if plan.hybrid else plan.expert_dp
            local = (dense_params / plan.zero_group if plan.zero >= 1 else dense_params) + \
                (expert_params / expert_dp if plan.zero >= 1 else expert_params)
            held: list[Any] = []
            if (phase is not None and phase.trained_params is not None) or optimizer_impl != "fused":
                held = list(stage_tensors(c, plan, stage))
            update_tensors = len(held)
            if owners:
                # every owner updates its whole tensors as one flat buffer; the broadcasts start when the last
                # (the largest) owner is through, and run one per owner, each of its flat parameters
                shares = owner_shares(c, plan, stage)
                local, update_tensors = max(shares, default=0), 1
                dim = "shard" if plan.hybrid else "dpcp"
                rows = comms.stage_rows(dim, stage)
                broadcasts = [float(e * param_width) for e in shares]
                after = sum(comms.time("broadcast", dim, nbytes, rows) for nbytes in broadcasts)
                owner_bytes.append(broadcasts)
            dp_after.append(after)
            if phase is not None and phase.trained_params is not None:
                # a scheme's phase trains its factors instead of the factorised weights (schemes run at ZeRO-0)
                local -= sum(t.numel for t in held) - phase.updated_params(held)
            # an unfused update launches its operators per tensor the stage holds (its shard of each, under ZeRO)
            updates.append(compute.update_time(int(local), dtype, optimizer,
                                               fp8_share(c) if dtype == "fp8" else 1.0, optimizer_impl,
                                               update_tensors, clip_grad, reduce_dtype))

        p2p_bytes = activation / tp
        p2p_forward = [comms.p2p_time(s, p2p_bytes) for s in range(plan.pp)]
        p2p_backward = [comms.p2p_time(s, p2p_bytes, backward=True) for s in range(plan.pp)]
        # scale the first stage's per-micro-batch exposure to the step
        for key in ("tp", "cp", "ep"):
            exposed[key] *= m
        exposed["dp"] *= m
        model_flops = 3.0 * _forward_flops(c) * plan.global_batch
        hardware_flops = model_flops + _recomputed_flops(c, plan, full_layers) * plan.global_batch
        costs = cls(forward, backward, p2p_forward, p2p_backward, exposed, dp_buckets, dp_after, updates,
                    model_flops, hardware_flops, comms, p2p_bytes, phase, forward_compute, backward_compute,
                    ready_compute, copies, owner_bytes)
        # the first stage's edge layers (its GPUs are the ones counted)
        edge_count = sum(edge_params(c, tp, plan.pp, 0))
        costs._count_bytes(c, plan, kinds, activation, kv_bytes, dispatch, width, min(full_layers, len(
            plan.stage_layers(0))), (edge_count * param_width, edge_count * grad_width))
        return costs

    def _count_bytes(self, c: DecoderConfig, plan: ParallelPlan, kinds: dict[bool, dict[str, float]],
                     activation: float, kv_bytes: float, dispatch: float, width: int, full_layers: int = 0,
                     edges: tuple[float, float] = (0.0, 0.0)) -> None:
        """Every collective's bytes, counted as often as a step runs it (on every GPU at once); ``edges`` the
        first stage's edge layers' (the embedding; the final norm and head where it is the last) parameter and
        gradient bytes, which the data-parallel reduction carries once a step and ZeRO-3's root unit gathers and
        reduce-scatters once a micro-batch."""
        comms, m = self.comms, plan.num_micro_batches
        edge_weights, edge_grads = edges
        once = 1 if plan.zero < 3 else m   # the edges' collectives a step: ZeRO-3's root unit's once a micro-batch
        stage_layers = plan.stage_layers(0)   # the first stage's GPUs
        per_gpu_layers = len(stage_layers)
        recompute = 2 if plan.recompute == "full" else 1
        passes = m * per_gpu_layers
        moe_layers = sum(c.is_moe(i) for i in stage_layers)
        # TP collectives per layer and pass: two, one in a folded MoE layer without shared experts
        tp_pairs = 2 * passes - (m * moe_layers if plan.folded and not c.shared_experts else 0)
        # asynchronous TP communication: each overlapped column layer's own backward collectives (the kinds'
        # reductions beyond the two a pass, and under sequence parallelism the saved inputs' gathers)
        reductions, gathers = (m * sum(kinds[c.is_moe(i)][key] for i in stage_layers)
                               for key in ("tp_reductions", "tp_gathers"))
        if plan.sequence_parallel:
            comms.count("all-gather", "tp", activation, tp_pairs * (1 + recompute) + gathers)
            comms.count("reduce-scatter", "tp", activation, tp_pairs * (1 + recompute) + reductions)
        else:
            comms.count("all-reduce", "tp", activation, tp_pairs * (1 + recompute) + reductions)
        comms.count("all-gather", "tp", activation, m * full_layers if plan.distribute_saved_activations else 0)
        if plan.folded:
            comms.count("all-gather", "etp", dispatch * plan.expert_tp, m * moe_layers * (1 + recompute))
            comms.count("reduce-scatter", "etp", dispatch * plan.expert_tp, m * moe_layers * (1 + recompute))
        comms.count("all-gather", "cp", kv_bytes, passes * 2)
        comms.count("reduce-scatter", "cp", kv_bytes, passes)
        if plan.ep > 1:
            comms.count("all-to-all", "ep", dispatch, 4 * m * moe_layers)
        if plan.pp > 1:
            for stage in range(plan.pp - 1):
                comms._add(comms.p2p_key(stage, False), comms.p2p(stage, self.p2p_bytes), m / plan.pp)
                comms._add(comms.p2p_key(stage + 1, True), comms.p2p(stage + 1, self.p2p_bytes, backward=True),
                           m / plan.pp)
        if self.phase_bytes is not None:   # a compression scheme: the schedules of its buckets
            for stage_buckets in self.dp_buckets:
                for bucket in stage_buckets:
                    for schedule in bucket.schedules:
                        comms._add(None, schedule, 1.0)
            return
        if plan.zero_impl == "owner-broadcast":   # dense models only (make_plan)
            # the transformer layers' gradients, as the flat implementations count theirs; the broadcasts are the
            # owners' whole shares (the embedding and head included)
            comms.count("all-reduce", "dpcp", kinds[False]["grads"], per_gpu_layers)
            comms.count("all-reduce", "dpcp", edge_grads, 1)
            for nbytes in self.owner_broadcasts[0]:
                comms.count("broadcast", "shard" if plan.hybrid else "dpcp", nbytes, 1)
            return
        if plan.hybrid:
            weights, grads = (sum(kinds[c.is_moe(i)][dense] + kinds[c.is_moe(i)][expert]
                                  for i in stage_layers) / per_gpu_layers
                              for dense, expert in (("weights", "expert_weights"), ("grads", "expert_grads")))
            scatters = per_gpu_layers if plan.zero < 3 else per_gpu_layers * m
            comms.count("reduce-scatter", "shard", grads, scatters)
            comms.count("all-reduce", "replica", grads / plan.zero_group, per_gpu_layers)
            gathers = 1 if plan.zero < 3 else (2 if plan.zero_reshard else 1) * m
            comms.count("all-gather", "shard", weights, per_gpu_layers * gathers)
            comms.count("reduce-scatter", "shard", edge_grads, once)
            comms.count("all-reduce", "replica", edge_grads / plan.zero_group, 1)
            comms.count("all-gather", "shard", edge_weights, once)
            return
        dense_kind = kinds[False] if False in kinds else kinds[True]
        op = "all-reduce" if plan.reduces_whole_gradients else "reduce-scatter"
        comms.count(op, "dpcp", dense_kind["grads"], per_gpu_layers if plan.zero < 3 else per_gpu_layers * m)
        comms.count(op, "dpcp", edge_grads, once)
        if True in kinds:
            comms.count(op, "edp", kinds[True]["expert_grads"], moe_layers if plan.zero < 3 else moe_layers * m)
        if plan.zero >= 1:   # the parameters gathered back, the experts' over their own data-parallel group
            gathers = 1 if plan.zero < 3 else (2 if plan.zero_reshard else 1) * m
            comms.count("all-gather", "dpcp", dense_kind["weights"], per_gpu_layers * gathers)
            comms.count("all-gather", "dpcp", edge_weights, once)
            if True in kinds:
                comms.count("all-gather", "edp", kinds[True]["expert_weights"], moe_layers * gathers)


def expert_block(c: DecoderConfig, index: int, plan: ParallelPlan) -> list[Any]:
    """MoE layer ``index`` as one GPU computes it under expert tensor parallelism ``etp ≠ tp``: the attention,
    norms and router as :func:`~simtrain.model.decoder.block_layers` gives them at ``tp``; the experts' GEMMs on the
    tokens the GPU's expert shard receives (``etp / tp`` of the sequence's ``s / cp`` per sample, times top-k:
    balanced routing, after the ETP all-gather) at an inner width of ``moe_ffn / etp``. Per GPU that is the same
    expert FLOPs as at ``tp``, in GEMMs of another shape.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> from simtrain.parallel.plan import ParallelPlan
    >>> c = load_model("gpt:layers=1,hidden=64,heads=4,seq=64,vocab=10,experts=4,top_k=2").config
    >>> up = {layer.name: layer for layer in expert_block(c, 0, ParallelPlan(tp=4, pp=1, dp=2, ep=4, etp=1,
    ...                                                                       sequence_parallel=True))}
    >>> up["layers.0.mlp.experts.up"].gemm       # (64 / 4 tokens x top-2, 4 x 64 wide, 64 deep)
    (32, 256, 64)
    """
    from dataclasses import replace

    tp, cp, sp, etp = plan.tp, plan.cp, plan.sequence_parallel, plan.expert_tp
    experts = {layer.name: layer for layer in block_layers(replace(c, seq=c.seq * etp // tp), index, etp, cp, sp)
               if ".experts." in layer.name}
    return [experts.get(layer.name, layer) for layer in block_layers(c, index, tp, cp, sp)]


def merge_buckets(layers: Sequence[tuple[float, float, float]], size: float,
                  rule: str = "at-least") -> list[tuple[float, float, float]]:
    """Layers' gradient reductions ``(ready, dense bytes, expert bytes)`` in backward order merged into buckets of
    ``size`` bytes, each starting when its last layer's gradients are ready; ``size`` 0 keeps one per layer.

    ``rule`` ``at-least``: a bucket closes with the layer that reaches ``size`` (Megatron-core's
    ``--ddp-bucket-size`` buffers, PyTorch DDP's ``bucket_cap_mb``); ``at-most``: it closes before the layer that
    would take it past ``size``, and a layer larger than ``size`` is left alone while the open bucket goes on filling
    (XLA's all-reduce combiner under ``--xla_gpu_all_reduce_combine_threshold_bytes``).

    Examples
    --------
    >>> merge_buckets([(1.0, 4.0, 0.0), (2.0, 4.0, 0.0), (3.0, 4.0, 1.0)], 6.0)
    [(2.0, 8.0, 0.0), (3.0, 4.0, 1.0)]
    >>> merge_buckets([(1.0, 4.0, 0.0), (2.0, 4.0, 0.0), (3.0, 4.0, 1.0)], 8.0, "at-most")
    [(2.0, 8.0, 0.0), (3.0, 4.0, 1.0)]
    >>> merge_buckets([(1.0, 4.0, 0.0), (2.0, 9.0, 0.0), (3.0, 1.0, 0.0)], 6.0, "at-most")
    [(2.0, 9.0, 0.0), (3.0, 5.0, 0.0)]
    >>> merge_buckets([(1.0, 4.0, 0.0)], 0.0)
    [(1.0, 4.0, 0.0)]
    """
    from simtrain.run import DP_BUCKET_RULES

    if rule not in DP_BUCKET_RULES:
        raise ValueError(f"merge_buckets: unknown rule {rule!r} ({', '.join(DP_BUCKET_RULES)})")
    if size <= 0:
        return list(layers)
    merged: list[tuple[float, float, float]] = []
    dense = expert = 0.0
    last = 0.0
    for ready, d, e in layers:
        if rule == "at-most" and d + e > size:
            merged.append((ready, d, e))   # too large to combine: alone, and the open bucket goes on
            continue
        if rule == "at-most" and dense + expert > 0 and dense + expert + d + e > size:
            merged.append((last, dense, expert))   # the next layer would pass the threshold
            dense = expert = 0.0
        dense, expert, last = dense + d, expert + e, ready
        if rule == "at-least" and dense + expert >= size:
            merged.append((ready, dense, expert))
            dense = expert = 0.0
    if dense + expert > 0 or not merged:
        merged.append((last if dense + expert > 0 else (layers[-1][0] if layers else 0.0), dense, expert))
    # in the order they start (a layer left alone may start before the bucket open around it)
    return sorted(merged, key=lambda bucket: bucket[0])


def _dp_per_node(plan: ParallelPlan, gpus_per_node: int) -> int:
    """Members of a data-parallel group that share a node (the scheme's ``node`` groups)."""
    row = plan.groups("dpcp")[0]
    nodes = row // gpus_per_node
    return int(np.sum(nodes == nodes[0]))


def _recomputed_flops(c: DecoderConfig, plan: ParallelPlan, full_layers: int) -> float:
    """Forward FLOPs of one sample that recomputation runs again: the first ``full_layers`` layers of each
    stage in full, or (selective) the attention matmuls of every other layer."""
    # (full, attention-only) forward FLOPs of a dense and of a MoE layer: every layer of a kind has the same
    kinds = {}
    for moe in {c.is_moe(i) for i in range(c.layers)}:
        layers = block_layers(c, next(i for i in range(c.layers) if c.is_moe(i) == moe))
        kinds[moe] = (sum(layer.forward_flops for layer in layers),
                      sum(layer.forward_flops for layer in layers if is_core_attention(layer)))
    total = 0.0
    for stage in range(plan.pp):
        for position, index in enumerate(plan.stage_layers(stage)):
            if position < full_layers:
                total += kinds[c.is_moe(index)][0]
            elif plan.recompute == "selective":
                total += kinds[c.is_moe(index)][1]
    return total


def _forward_flops(c: DecoderConfig) -> float:
    """Forward FLOPs of one sample (sequence) of the whole model: every layer's, the output head included."""
    total = sum(layer.forward_flops for layer in head_layers(c))
    kinds = {moe: sum(layer.forward_flops for layer in block_layers(c, next(i for i in range(c.layers)
                                                                            if c.is_moe(i) == moe)))
             for moe in {c.is_moe(i) for i in range(c.layers)}}
    return total + sum(kinds[c.is_moe(i)] for i in range(c.layers))
