"""The search for the best plan: every valid plan, those that fit in memory, pruned by a lower bound, simulated.

The space (:func:`candidates`): tensor parallelism inside a node (divisors of the GPUs per node that divide the
heads), pipeline degrees that divide the layers, context parallelism up to the GPUs per node for sequences of
4,096 tokens or more, expert parallelism dividing the experts and ``dp · cp`` (MoE models), data parallelism for
the rest; micro-batches of 1, 2, 4 and 8 that divide the batch per pipeline; the 1F1B, GPipe and interleaved
(``chunks=2``) schedules; no, selective or full recomputation; ZeRO 0-3; sequence parallelism on or off under TP;
and two rank orders (Megatron's ``tp-cp-dp-pp``, and ``tp-cp-pp-dp`` with pipeline neighbours adjacent). ZeRO
1-3 also come with hybrid sharding over the data-parallel ranks of one node (``zero_shard_size``: when a node holds
more than one but not all of a ``dp · cp`` group, and without EP), and ZeRO-3 with and without re-sharding after
forward (``zero_reshard``): a ZeRO-1/2 plan counts twice where a node-sized shard group exists, a ZeRO-3 plan up to
four times.

Then (:func:`search`):

1. plans that do not fit in the device's memory are dropped (:func:`~simtrain.parallel.memory.memory_per_gpu`);
2. each survivor gets a lower bound on its step time: its busiest stage's compute for all micro-batches
   (forward, backward and recomputation at the compute model's rates, no communication and no bubble) plus its
   optimizer step, from per-layer times computed once per (tp, cp, sequence parallelism, micro-batch);
3. plans are simulated (the analytical engine, :func:`~simtrain.parallel.step.step_time`) in order of their lower
   bound, until the next bound exceeds the ``top``-th best step time found: no plan left can enter the top.

Examples
--------
>>> result = search("gpt:layers=8,hidden=1024,heads=16,seq=1024,vocab=32000", "dgx-a100", gpus=16,
...                 global_batch=32, dtype="bf16", top=3)
>>> len(result.best), result.space > result.simulated
(3, True)
>>> result.best[0]["step_time_s"] <= result.best[1]["step_time_s"]
True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from simtrain.compute import ComputeModel, gradient_dtype
from simtrain.errors import ConfigError
from simtrain.hardware import get_device
from simtrain.limits import MAX_PIPELINE_SLOTS, MAX_SEARCH_GPUS, check_count
from simtrain.model.decoder import DecoderConfig, DecoderSpec, block_layers, is_core_attention
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import memory_per_gpu
from simtrain.parallel.plan import (
    ZERO_IMPL_STAGE,
    ParallelPlan,
    check_zero_impl,
    divisors,
    make_plan,
    parse_schedule,
    pipeline_slots,
)
from simtrain.parallel.step import plan_codec, scheme_context, scheme_phases, step_time, trains_factor_gemms

__all__ = ["SearchResult", "candidates", "search"]

MICRO_BATCHES = (1, 2, 4, 8)
SCHEDULES = ("1f1b", "gpipe", "interleaved:chunks=2")
RECOMPUTE = ("none", "selective", "full")
RANK_ORDERS = ("tp-cp-dp-pp", "tp-cp-pp-dp")


def _plan_with(c: Any, n: int, keys: dict[str, Any], zero_impl: str, tp_overlap: str = "none") -> ParallelPlan:
    """The candidate's plan, with ``zero_impl`` where it applies: plans of its ZeRO stage that it prices (the other
    stages, and plans it refuses, such as allreduce-gather's hybrid-sharded, pipelined or accumulating ones, stay
    ``flat``); every plan with ``tp_overlap``."""
    if keys["zero"] == ZERO_IMPL_STAGE.get(zero_impl):
        try:
            return make_plan(c, n, **keys, zero_impl=zero_impl, tp_overlap=tp_overlap)
        except ConfigError as error:
            if error.key != "zero_impl":   # a fault of the candidate itself, not of the implementation
                raise
    return make_plan(c, n, **keys, zero_impl="flat", tp_overlap=tp_overlap)


@dataclass
class SearchResult:
    """The best plans, and how much of the space each stage of the search kept.

    Attributes
    ----------
    best : list of dict
        The best plans, fastest first: the plan's keys, step time, throughput, MFU, memory, bubble, exposed
        communication and ``why`` (what its time goes to).
    space : int
        Valid plans considered.
    fit : int
        Of those, plans that fit in memory.
    simulated : int
        Plans simulated before the lower bound ruled out the rest.
    """

    best: list[dict[str, Any]]
    space: int
    fit: int
    simulated: int
    infeasible_example: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"space": self.space, "fit_in_memory": self.fit, "simulated": self.simulated, "best": self.best,
                "config": self.config}

    def run_params(self, rank: int = 0) -> dict[str, Any]:
        """The run parameters of the ``rank``-th best plan (0: the fastest), as :func:`simtrain.training.simulate`
        and :class:`~simtrain.run.TrainingRun` take them: the search's own (model, cluster, batch, precision,
        optimizer, algorithm, spread) and the plan's keys.

        Examples
        --------
        >>> result = search("gpt:layers=2,hidden=64,heads=4,seq=64,vocab=100", "dgx-a100", gpus=8, global_batch=8,
        ...                 top=1)
        >>> from simtrain.run import TrainingRun
        >>> from simtrain.training import simulate
        >>> simulate(TrainingRun(**result.run_params())).step_time_s == result.best[0]["step_time_s"]
        True
        """
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < len(self.best):
            raise ConfigError(f"must be an index of the {len(self.best)} plans found, 0 the fastest", key="rank",
                              value=rank)
        row = self.best[rank]
        search = {k: self.config[k] for k in _SEARCH_PARAMS if self.config.get(k) is not None}
        plan = {k: row[k] for k in _PLAN_PARAMS}
        if row["zero_shard_size"]:
            plan["zero_shard_size"] = row["zero_shard_size"]
        if row["scheme"] != "none":
            plan["scheme"] = row["scheme"]
        return {**search, **plan}


#: The run parameters a search takes (its ``config``) and those each plan sets (a row of ``best``).
_SEARCH_PARAMS = ("model", "topology", "gpus", "global_batch", "dtype", "optimizer", "optimizer_impl", "autocast",
                  "clip_grad", "reduce_dtype", "algorithm", "gpu_spread", "profile")
_PLAN_PARAMS = ("parallel", "micro_batch", "pipeline_schedule", "recompute", "zero", "sequence_parallel",
                "rank_order", "zero_reshard", "zero_impl", "tp_overlap")


def candidates(c: DecoderConfig, num_gpus: int, gpus_per_node: int, global_batch: int) -> Iterator[dict[str, Any]]:
    """Every valid plan's keys (the arguments of :func:`~simtrain.parallel.plan.make_plan`).

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> c = load_model("gpt:layers=4,hidden=256,heads=4,seq=256,vocab=100").config
    >>> sum(1 for _ in candidates(c, 8, 8, 16)) > 100
    True
    """
    node_shards: dict[tuple[int, int, int, str], int | None] = {}
    tps = [t for t in divisors(gpus_per_node) if c.heads % t == 0 and c.kv_heads % t == 0 and num_gpus % t == 0]
    for tp in tps:
        for pp in divisors(c.layers):
            if num_gpus % (tp * pp):
                continue
            cps = [k for k in divisors(min(gpus_per_node, num_gpus // (tp * pp)))
                   if (k == 1 or c.seq >= 4096) and c.seq % k == 0 and (num_gpus // (tp * pp)) % k == 0]
            for cp in cps:
                dp = num_gpus // (tp * pp * cp)
                eps = [e for e in divisors(dp * cp) if c.experts % e == 0] if c.experts else [1]
                for ep, micro, schedule, recompute, zero, sp, order in itertools.product(
                        eps, MICRO_BATCHES, SCHEDULES, RECOMPUTE, range(4), (False, True), RANK_ORDERS):
                    if global_batch % (micro * dp) or (sp and tp == 1) or (pp == 1 and schedule != "1f1b"):
                        continue
                    if (sp and (c.seq // cp) % tp) or (zero and dp * cp == 1):
                        continue
                    if schedule.startswith("interleaved") and (c.layers % (2 * pp) or
                                                               (global_batch // (micro * dp)) % pp):
                        continue
                    if order != RANK_ORDERS[0] and pp == 1:
                        continue
                    if pipeline_slots(global_batch, micro, dp, pp, parse_schedule(schedule)[1]) > MAX_PIPELINE_SLOTS:
                        continue   # a step of more slots than simtrain lists (simtrain.limits)
                    keys = {"parallel": f"tp={tp},pp={pp},dp={dp},cp={cp},ep={ep}", "micro_batch": micro,
                            "global_batch": global_batch, "pipeline_schedule": schedule, "recompute": recompute,
                            "zero": zero, "sequence_parallel": sp, "rank_order": order}
                    if (tp, pp, cp, order) not in node_shards:
                        node_shards[(tp, pp, cp, order)] = _node_shard(tp, pp, dp, cp, order, gpus_per_node)
                    node = node_shards[(tp, pp, cp, order)]
                    for shard in (None, node) if zero and ep == 1 and node else (None,):
                        for reshard in (True, False) if zero == 3 else (True,):
                            yield {**keys, "zero_shard_size": shard, "zero_reshard": reshard}


def _node_shard(tp: int, pp: int, dp: int, cp: int, order: str, gpus_per_node: int) -> int | None:
    """Members of a ``dp · cp`` group on one node, when that is more than one and fewer than all of them."""
    row = ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, rank_order=tuple(order.split("-"))).groups("dpcp")[0]
    nodes = row // gpus_per_node
    count = int((nodes == nodes[0]).sum())
    # a shard group must be a run of consecutive members that one node holds
    return count if 1 < count < dp * cp and (dp * cp) % count == 0 and len(set(nodes[:count])) == 1 else None


class _Bounds:
    """Per-layer compute and TP times by (tp, cp, sequence parallelism, micro-batch), for the lower bound."""

    def __init__(self, c: DecoderConfig, compute: ComputeModel, dtype: str, optimizer: str, cluster: Any,
                 network_cache: Any, algorithm: str, params: dict[str, Any]) -> None:
        self.c, self.compute, self.dtype, self.optimizer = c, compute, dtype, optimizer
        self.cluster, self.network_cache, self.algorithm, self.params = cluster, network_cache, algorithm, params
        self.layers: dict[tuple[Any, ...], tuple[float, float, float, float]] = {}

    def tp_pass(self, tp: int, cp: int, sp: bool, micro: int) -> float:
        """Seconds of one layer's TP collectives in one pass (they are never overlapped)."""
        if tp == 1:
            return 0.0
        from simtrain.model.spec import DTYPE_BYTES
        from simtrain.parallel.costs import Comms

        n = self.cluster.num_gpus
        comms = Comms(self.cluster, ParallelPlan(tp=tp, pp=1, dp=n // tp), self.network_cache, None, "analytical",
                      self.algorithm, self.params)
        activation = micro * self.c.seq // cp * self.c.hidden * DTYPE_BYTES[self.dtype]
        if sp:
            return 2 * (comms.time("all-gather", "tp", activation) + comms.time("reduce-scatter", "tp", activation))
        return 2 * comms.time("all-reduce", "tp", activation)

    def layer(self, tp: int, cp: int, sp: bool, micro: int, moe: bool) -> tuple[float, float, float, float]:
        key = (tp, cp, sp, micro, moe)
        if key not in self.layers:
            c = self.c
            index = next(i for i in range(c.layers) if c.is_moe(i) == moe)
            layers = block_layers(c, index, tp, cp, sp)
            f = sum(self.compute.layer_time(layer, micro, "forward", self.dtype) for layer in layers)
            b = sum(self.compute.layer_time(layer, micro, "backward", self.dtype) for layer in layers)
            core = sum(self.compute.layer_time(layer, micro, "forward", self.dtype) for layer in layers
                       if is_core_attention(layer))
            self.layers[key] = (f, b, core, self.tp_pass(tp, cp, sp, micro))
        return self.layers[key]

    def bound(self, plan: ParallelPlan) -> float:
        """A time no plan can beat: the busiest stage's compute and TP communication for all micro-batches, plus
        the fill and drain of the pipeline (the first micro-batch's forward through the other stages' chunks before
        the last stage starts, and the last backward back through them), plus the optimizer step."""
        c = self.c
        stage_work = []
        for stage in range(plan.pp) if c.experts or plan.uneven else (0,):
            total = 0.0
            for index in plan.stage_layers(stage):
                f, b, core, tp = self.layer(plan.tp, plan.cp, plan.sequence_parallel, plan.micro_batch,
                                            c.is_moe(index))
                extra = f + tp if plan.recompute == "full" else core if plan.recompute == "selective" else 0.0
                # asynchronous TP communication may hide all of the backward's collectives
                total += f + b + (2 if plan.tp_overlap == "none" else 1) * tp + extra
            stage_work.append(total)
        busiest, lightest = max(stage_work), min(stage_work)
        fill_drain = (plan.pp - 1) * lightest / plan.chunks
        return busiest * plan.num_micro_batches + fill_drain


def search(model: str | DecoderSpec, topology: str, *, gpus: int | None = None, global_batch: int,
           dtype: str = "bf16", optimizer: str = "adam", top: int = 5, profile: str | None = None,
           algorithm: str = "auto", scheme: str | None = None, cache: Any = None,
           progress: Callable[[int, int], None] | None = None, gpu_spread: float | None = None,
           optimizer_impl: str = "fused", autocast: bool = False, clip_grad: bool = False,
           reduce_dtype: str = "auto", zero_impl: str = "flat", tp_overlap: str = "none") -> SearchResult:
    """The ``top`` fastest plans for ``model`` on ``topology`` at ``global_batch`` (see the module doc).

    Every plan's stages compute as the slowest of the cluster's GPUs does under ``gpu_spread`` (the run parameter:
    unset, the measured default; :mod:`simtrain.training.variability`), as ``simulate`` prices them.

    ``optimizer_impl`` is the optimizer step's code, ``autocast`` PyTorch's AMP (fp32 parameters and gradients, the
    weights cast each forward), ``clip_grad`` the gradients' clipping by their global norm and ``reduce_dtype`` the
    dtype the gradients are reduced in, as a run's
    (:mod:`simtrain.optimizers`, :class:`~simtrain.run.TrainingRun`). ``zero_impl`` is how the plans of the ZeRO
    stage it applies to hold the states (:data:`~simtrain.parallel.plan.ZERO_IMPL_STAGE`: ``fsdp2``, FSDP2's copies,
    for the ZeRO-3 plans; ``owner-broadcast``, whole tensors per owner, for the ZeRO-1 plans; ``allreduce-gather``,
    DeepSpeed's stage 2, for the ZeRO-2 plans it prices); the other plans stay ``flat``. ``tp_overlap`` is how every
    plan's tensor-parallel collectives meet the GEMMs (:data:`~simtrain.run.TP_OVERLAPS`).

    ``scheme`` (``NAME:key=value``) adds, to every plan it applies to (ZeRO-0, no expert parallelism, more than one
    data-parallel rank), the same plan with that compression scheme on its data-parallel dimension.

    Raises :class:`~simtrain.errors.InfeasibleError` when no plan fits in memory.
    """
    from simtrain.errors import InfeasibleError

    # the run's parameters are checked as a run's are (a public function: the CLI's checks do not reach a caller
    # from Python), and the search's own
    from simtrain.params import Param, read_params
    from simtrain.registry import parse_spec
    from simtrain.run import RUN_PARAMS
    from simtrain.training.run_cache import RunCache, default_cache

    given = {"gpus": gpus, "global_batch": global_batch, "dtype": dtype, "optimizer": optimizer, "profile": profile,
             "algorithm": algorithm, "scheme": scheme, "gpu_spread": gpu_spread, "optimizer_impl": optimizer_impl,
             "autocast": autocast, "clip_grad": clip_grad, "reduce_dtype": reduce_dtype, "zero_impl": zero_impl,
             "tp_overlap": tp_overlap}
    unset = ("gpus", "global_batch", "profile", "scheme", "gpu_spread")   # None: not given, as in a run
    for key, value in given.items():
        if value is None and key not in unset:
            raise ConfigError("must be given (None is no value)", key=key, value=value)
    checked = read_params([p for p in RUN_PARAMS if p.name in given], {k: v for k, v in given.items() if v is not None},
                          numbers_are_si=True)
    gpus, global_batch, gpu_spread = checked["gpus"], checked["global_batch"], checked["gpu_spread"]
    dtype, optimizer, optimizer_impl, reduce_dtype = (checked[k] for k in ("dtype", "optimizer", "optimizer_impl",
                                                                           "reduce_dtype"))
    autocast, clip_grad, zero_impl, tp_overlap = (checked[k] for k in ("autocast", "clip_grad", "zero_impl",
                                                                       "tp_overlap"))
    if global_batch is None:
        raise ConfigError("is required: the samples per optimizer step to plan for", key="global_batch")
    top = read_params([Param("top", "integer", 5, minimum=1)], {"top": top})["top"]
    if cache is not None and not isinstance(cache, RunCache):
        raise ConfigError("must be a RunCache (simtrain.training.run_cache) or None", key="cache", value=cache)
    if progress is not None and not callable(progress):
        raise ConfigError("must be a callable (done, total) or None", key="progress", value=progress)
    cache = cache or default_cache()
    spec = model if isinstance(model, DecoderSpec) else cache.model(model)
    if not isinstance(spec, DecoderSpec) or spec.config is None:
        raise ConfigError("the plan search needs a decoder model (gpt:... or a catalog LLM)", key="model",
                          value=getattr(spec, "name", model))
    from simtrain.run import check_combination

    check_zero_impl(zero_impl)   # plans of other ZeRO stages run flat, so make_plan would not see a bad value there
    # (every plan takes ``tp_overlap``: make_plan refuses a bad one at the first candidate)

    check_combination(0.0, False, "analytical", dtype=dtype, autocast=autocast)   # a run's rule: a half dtype
    if gpus is not None:   # before the cluster is built: the search's memory grows with the GPUs it spans
        check_count(gpus, MAX_SEARCH_GPUS, key="gpus")
    c = spec.config
    cluster = cache.cluster(topology, gpus, ())
    network_cache = cache.network(cluster)
    device = get_device(cluster.device)
    if profile is not None:
        compute, _, _ = cache.profile(profile, cluster.device)
        compute = replace(compute, autocast=autocast) if autocast else compute
    else:
        compute = ComputeModel.roofline(device, autocast=autocast)
    gradients = gradient_dtype(dtype, autocast, reduce_dtype)   # what a scheme compresses
    name, params = parse_spec(algorithm, key="algorithm")
    from simtrain.compression import make_scheme

    compression = make_scheme(scheme) if scheme is not None and scheme != "none" else None
    codec = plan_codec(compression)
    n = check_count(cluster.num_gpus, MAX_SEARCH_GPUS, key="gpus")   # a topology's own size, when gpus is None
    from simtrain.training.variability import expected_slowest, priced_spread

    slowest = expected_slowest(priced_spread(gpu_spread, 0.0), n)
    factorising = compression is not None and trains_factor_gemms(compression, spec, n, cluster.gpus_per_node,
                                                                   gradients)
    bounds = _Bounds(c, compute, dtype, optimizer, cluster, network_cache, name, params)
    if pipeline_slots(global_batch, max(MICRO_BATCHES), n, 1, 1) > MAX_PIPELINE_SLOTS:   # no plan can be listed
        raise ConfigError(f"gives more than {MAX_PIPELINE_SLOTS} micro-batches per pipeline on {n} GPUs at every "
                          f"micro-batch up to {max(MICRO_BATCHES)} (simtrain.limits.MAX_PIPELINE_SLOTS)",
                          key="global_batch", value=global_batch)
    space = 0
    feasible: list[tuple[float, int, ParallelPlan, dict[str, Any], dict[str, Any]]] = []
    memory_seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    example = ""
    for keys in candidates(c, n, cluster.gpus_per_node, global_batch):
        space += 1
        plan = _plan_with(c, n, keys, zero_impl, tp_overlap)
        memory_key = (keys["parallel"], plan.micro_batch, keys["pipeline_schedule"], plan.recompute, plan.zero,
                      plan.sequence_parallel, plan.zero_group, plan.zero_reshard, plan.zero_impl)
        memory = memory_seen.get(memory_key)
        if memory is None:
            memory = memory_seen[memory_key] = memory_per_gpu(c, plan, dtype, optimizer, autocast=autocast,
                                                              reduce_dtype=reduce_dtype)
        if memory["total"] > device.memory_bytes:
            example = example or keys["parallel"]
        else:
            feasible.append((bounds.bound(plan), space, plan, keys, memory))
        if compression is not None and plan.zero == 0 and plan.ep == 1 and plan.dp * plan.cp > 1 and \
                (plan.tp == 1 or not factorising):   # factor GEMMs are simulated with tp 1 (scheme_phases)
            space += 1
            # the same plan holding the scheme's state too (error feedback, factors; less the dense state of the
            # layers a factorising scheme replaces), at the same stage or another
            scheme_key = (*memory_key, keys["rank_order"], "scheme")
            with_scheme = memory_seen.get(scheme_key)
            if with_scheme is None:
                with_scheme = memory_seen[scheme_key] = memory_per_gpu(
                    c, plan, dtype, optimizer, scheme=compression,
                    scheme_context=scheme_context(plan, spec, cluster.gpus_per_node, gradients), autocast=autocast,
                    reduce_dtype=reduce_dtype)
            if with_scheme["total"] > device.memory_bytes:
                example = example or f"{keys['parallel']} with {compression.describe()}"
            else:
                feasible.append((bounds.bound(plan), space, plan, {**keys, "scheme": compression.describe()},
                                 with_scheme))
    if not feasible:
        raise InfeasibleError(f"no plan of {spec.name} fits in the {device.name}'s "
                              f"{device.memory_bytes / 2**30:.0f} GiB on {n} GPUs at global batch {global_batch} "
                              f"({space} plans considered)")
    feasible.sort(key=lambda item: (item[0], item[1]))
    best: list[tuple[float, int, dict[str, Any]]] = []
    simulated = 0
    timelines: dict[Any, Any] = {}   # plans that differ only in their data-parallel reduction share a pipeline
    for bound, index, plan, keys, memory in feasible:
        if len(best) >= top and bound >= best[-1][0]:
            break   # sorted by bound: no plan left can enter the top
        simulated += 1
        if progress is not None:   # (plans simulated, plans that fit: the most there can be)
            progress(simulated, len(feasible))
        phases = scheme_phases(compression, plan, spec, cluster.gpus_per_node, gradients) if "scheme" in keys \
            else [(None, 1)]
        runs = []
        for phase, count in phases:
            costs = StageCosts.build(c, plan, cluster, compute, dtype, optimizer, cache=network_cache,
                                     algorithm=name, algorithm_params=params, phase=phase, codec=codec,
                                     optimizer_impl=optimizer_impl, clip_grad=clip_grad, reduce_dtype=reduce_dtype)
            runs.append((count, costs, step_time(costs.stretched([slowest] * plan.pp), plan, timelines=timelines)))
        _, costs, step = max(runs, key=lambda r: r[0])
        row = _row(c, plan, keys, memory, costs, step, device, dtype, n)
        mean = sum(count * s.step_time_s for count, _, s in runs) / sum(count for count, _, _ in runs)
        row.update(step_time_s=mean, tokens_per_s=plan.global_batch * c.seq / mean,
                   mfu=costs.model_flops / (mean * n * device.peak_flops(dtype)), scheme=keys.get("scheme", "none"))
        best.append((mean, index, row))
        best.sort(key=lambda item: (item[0], item[1]))
        del best[top:]
    return SearchResult([row for _, _, row in best], space, len(feasible), simulated, example,
                        {"model": spec.name, "topology": cluster.name, "gpus": n, "global_batch": global_batch,
                         "dtype": dtype, "optimizer": optimizer, "optimizer_impl": optimizer_impl, "autocast": autocast,
                         "clip_grad": clip_grad, "reduce_dtype": reduce_dtype, "zero_impl": zero_impl,
                         "tp_overlap": tp_overlap,
                         "algorithm": algorithm,
                         "gpu_spread": gpu_spread, "profile": profile, "device": device.name})


def _row(c: DecoderConfig, plan: ParallelPlan, keys: dict[str, Any], memory: dict[str, Any], costs: StageCosts,
         step: Any, device: Any, dtype: str, n: int) -> dict[str, Any]:
    t = step.step_time_s
    m = plan.num_micro_batches
    bubble = step.timeline.bubble_fraction
    exposed_tp = costs.exposed["tp"] + costs.exposed["cp"] + costs.exposed["ep"]
    tails = [max(0.0, step.dp_end[s] - step.timeline.last_backward(s)[1]) + costs.dp_after_update[s]
             for s in range(plan.pp)]
    exposed_dp = max(tails) + costs.exposed["dp"]
    shares = {"pipeline bubble": bubble * t, "exposed TP/CP/EP communication": exposed_tp,
              "exposed DP communication": exposed_dp}
    biggest = max(shares, key=lambda k: shares[k])
    # the first stage's own compute: its micro-batches' forward and backward less the communication exposed in them
    # (the shares above overlap, a DP tail can run in the bubble: the rest of the step is not compute)
    compute_s = m * sum(map(sum, (costs.forward[0], costs.backward[0]))) - exposed_tp - costs.exposed["dp"] + \
        costs.update[0]
    why = (f"compute {100 * compute_s / t:.0f} % of the step; {biggest} "
           f"{100 * shares[biggest] / t:.0f} %; memory {memory['total'] / 2**30:.1f} GiB of "
           f"{device.memory_bytes / 2**30:.0f}")
    return {
        **{k: keys[k] for k in ("parallel", "micro_batch", "pipeline_schedule", "recompute", "zero",
                                "sequence_parallel", "rank_order")},
        "zero_shard_size": plan.zero_group if plan.hybrid else None, "zero_reshard": plan.zero_reshard,
        "zero_impl": plan.zero_impl, "tp_overlap": plan.tp_overlap, "num_micro_batches": m,
        "step_time_s": t,
        "tokens_per_s": plan.global_batch * c.seq / t,
        "mfu": costs.model_flops / (t * n * device.peak_flops(dtype)),
        "memory_per_gpu_bytes": float(memory["total"]),
        "bubble_fraction": bubble,
        "exposed_tp_s": exposed_tp,
        "exposed_dp_s": exposed_dp,
        "why": why,
    }
