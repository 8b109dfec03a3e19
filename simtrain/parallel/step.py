"""One training step of a decoder under a model-parallel plan, with either engine, and its report.

:func:`simulate_hybrid` is what :func:`simtrain.training.simulate` runs when a run has ``parallel``: it validates
the plan, checks memory, prices the stages (:class:`~simtrain.parallel.costs.StageCosts`), runs the pipeline
(:mod:`simtrain.parallel.pipeline`) and the data-parallel gradient reductions, and reports. Identical ranks are
evaluated once: one pipeline replica's stages stand for all ``tp · cp · dp`` replicas, whose communications are
nevertheless the collectives of every group at once.

FLOPs, as the report counts them (``docs/parallelism.md``): model FLOPs per step = 3 × the forward FLOPs of every
layer (2 × multiply-adds, attention's two matmuls over the whole sequence, the output head) × global batch; for a
GPT this is Narayanan et al. 2021's ``72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h))``. Hardware FLOPs add the forward FLOPs
that recomputation runs again (Megatron-LM's "achieved teraFLOP/s per GPU" counts them: with full recomputation
its factor 96 instead of 72). ``mfu`` and ``hfu`` divide by the dtype's dense peak of the device.

Examples
--------
>>> from simtrain.run import TrainingRun
>>> from simtrain.training import simulate
>>> r = simulate(TrainingRun("gpt:layers=8,hidden=1024,heads=16,seq=1024,vocab=32000", "dgx-a100", gpus=16,
...                          parallel="tp=4,pp=2", micro_batch=1, global_batch=32, dtype="bf16", optimizer="adam"))
>>> sorted(r.parallel["exposed_comm_s"])
['cp', 'dp', 'ep', 'pp', 'tp']
>>> 0 < r.parallel["mfu"] < 1
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from simtrain import units
from simtrain.compute import gradient_dtype
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.limits import MAX_DES_PIPELINE_SLOTS, MAX_PIPELINE_SLOTS
from simtrain.model.decoder import DecoderSpec
from simtrain.parallel.costs import CATEGORIES, StageCosts
from simtrain.parallel.memory import CATEGORIES as MEMORY_CATEGORIES
from simtrain.parallel.memory import SCHEME_STATE, memory_per_gpu
from simtrain.parallel.pipeline import Timeline, run_analytical, run_des
from simtrain.parallel.plan import ParallelPlan, make_plan, pipeline_slots
from simtrain.training.overlap import compute_end
from simtrain.training.variability import stretched

__all__ = ["HybridStep", "pipeline_trace", "plan_codec", "plan_of", "scheme_context", "scheme_phases",
           "simulate_hybrid", "step_time", "trains_factor_gemms", "write_pipeline_trace"]


@dataclasses.dataclass
class HybridStep:
    """The outcome of one step: the timeline, per-stage ends of the gradient reductions and of the step."""

    timeline: Timeline
    dp_end: list[float]
    stage_end: list[float]
    step_time_s: float
    #: per stage, the end of its last backward once the gradient reductions overlapping it have held their SMs
    backward_end: list[float] = dataclasses.field(default_factory=list)

    @property
    def shared_s(self) -> float:
        """Seconds the gradient reductions added to the last backward of the stage that ends the step by holding
        SMs."""
        if not self.backward_end:
            return 0.0
        last = int(np.argmax(self.stage_end))
        return self.backward_end[last] - self.timeline.last_backward(last)[1]


def plan_of(run: Any, spec: Any, num_gpus: int) -> ParallelPlan:
    """The validated plan of a run with ``parallel`` on a decoder model."""
    if not isinstance(spec, DecoderSpec) or spec.config is None:
        raise ConfigError("model parallelism needs a decoder model (gpt:layers=..,hidden=.. or a catalog LLM such "
                          "as gpt3-175b)", key="model", value=spec.name)
    return make_plan(spec.config, num_gpus, run.parallel, micro_batch=run.micro_batch,
                     global_batch=run.global_batch, pipeline_schedule=run.pipeline_schedule,
                     recompute=run.recompute, zero=run.zero, sequence_parallel=run.sequence_parallel,
                     rank_order=run.rank_order, overlap_dp=run.overlap_dp, pipeline_layout=run.pipeline_layout,
                     overlap_pp=run.overlap_pp, zero_reshard=run.zero_reshard, zero_impl=run.zero_impl,
                     zero_shard_size=run.zero_shard_size, dp_bucket_size=run.dp_bucket_size,
                     dp_bucket_rule=run.dp_bucket_rule,
                     distribute_saved_activations=run.distribute_saved_activations, tp_overlap=run.tp_overlap)


def _stage_factors(plan: ParallelPlan, factors: np.ndarray) -> list[float]:
    """A stage's compute stretch: its slowest GPU's (every replica waits for it at the data-parallel reduction)."""
    if factors.size == 1:
        return [float(factors[0])] * plan.pp
    pp = plan.groups("pp")
    return [float(factors[pp[:, s]].max()) for s in range(plan.pp)]


def step_time(costs: StageCosts, plan: ParallelPlan, engine: str = "analytical", perturbations: Any = None,
              store_and_forward: bool = False,
              timelines: dict[Any, Timeline] | None = None) -> HybridStep:
    """Run the pipeline and the gradient reductions; the step ends when every stage has updated.

    ``costs`` as the step's GPUs run them (slower GPUs' stages stretched: :meth:`StageCosts.stretched`).
    ``timelines`` (analytical engine) keeps pipeline timelines by what decides them (the durations, the schedule,
    the micro-batches), so plans that differ only in their gradient reduction share one run.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> from simtrain.topology import load_topology
    >>> from simtrain.compute import ComputeModel
    >>> c = load_model("gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000").config
    >>> cluster = load_topology("dgx-a100", gpus=16)
    >>> plan = make_plan(c, 16, "tp=4,pp=2", micro_batch=1, global_batch=8)
    >>> costs = StageCosts.build(c, plan, cluster, ComputeModel.roofline("a100"), "bf16", "adam")
    >>> a, d = step_time(costs, plan), step_time(costs, plan, "des")
    >>> abs(a.step_time_s - d.step_time_s) < 1e-9 * a.step_time_s
    True
    """
    m = plan.num_micro_batches
    if engine == "des":
        buckets = costs.dp_buckets
        if not plan.overlap_dp:   # every reduction waits for the end of the last backward
            buckets = [[bucket._replace(ready=costs.backward[s][0]) for bucket in stage]
                       for s, stage in enumerate(costs.dp_buckets)]
        timeline, dp_end, dp_busy = run_des(costs.forward, costs.backward, plan.schedule, m, costs.comms,
                                            costs.p2p_bytes, buckets, perturbations, store_and_forward,
                                            blocking=not plan.overlap_pp)
    else:
        key = (tuple(map(tuple, costs.forward)), tuple(map(tuple, costs.backward)), tuple(costs.p2p_forward),
               tuple(costs.p2p_backward), plan.schedule, m, not plan.overlap_pp)
        known = timelines.get(key) if timelines is not None else None
        if known is None:
            known = run_analytical(costs.forward, costs.backward, costs.p2p_forward, costs.p2p_backward,
                                   plan.schedule, m, blocking=not plan.overlap_pp)
            if timelines is not None:
                timelines[key] = known
        timeline = known
        dp_end = []
        dp_busy = []
        for s in range(plan.pp):
            start, end = timeline.last_backward(s)
            clock = coded = start if plan.overlap_dp else end
            busy: list[tuple[float, float, float]] = []
            for bucket in costs.dp_buckets[s]:
                # a bucket is ready when the backward before it is done at the rate the earlier buckets left it;
                # its codec runs after the codecs before it, its collectives after its codec and the stream's last
                ready = compute_end(bucket.ready, busy, start) if plan.overlap_dp else end
                coded = max(ready, coded) + bucket.codec
                begin = max(clock, coded) + bucket.before   # the stream's own kernels first, then the collectives
                clock = begin + bucket.seconds
                busy.append((begin, clock, bucket.share))
                clock += bucket.after
            dp_end.append(clock)
            dp_busy.append(busy)
    stage_end, backward_end = [], []
    for s in range(plan.pp):
        start, end = timeline.last_backward(s)
        # the reductions that overlap the last backward hold SMs its compute would use (simtrain.training.overlap)
        backward_end.append(compute_end(end - start, dp_busy[s], start))
        stage_end.append(max(backward_end[s], dp_end[s]) + costs.update[s] + costs.dp_after_update[s])
    return HybridStep(timeline, dp_end, stage_end, max(stage_end), backward_end)


def simulate_hybrid(resolved: Any, clean_step_time_s: float | None = None) -> Any:
    """The :class:`~simtrain.training.report.StepReport` of a resolved run with ``parallel`` (see module doc)."""
    from simtrain.training.report import StepReport

    run, spec, cluster, device = resolved.run, resolved.model, resolved.cluster, resolved.device
    plan = plan_of(run, spec, cluster.num_gpus)
    if run.engine == "des":
        slots = pipeline_slots(plan.global_batch, plan.micro_batch, plan.dp, plan.pp, plan.chunks)
        if slots > MAX_DES_PIPELINE_SLOTS:
            raise ConfigError(f"gives {slots} slots of micro-batch x stage x model chunk; the DES simulates each "
                              f"(about 0.5 ms apiece), at most {MAX_DES_PIPELINE_SLOTS} "
                              "(simtrain.limits.MAX_DES_PIPELINE_SLOTS)", key="global_batch", value=plan.global_batch,
                              allowed=f"at most {MAX_DES_PIPELINE_SLOTS} slots with engine des, or engine analytical "
                                      f"(up to {MAX_PIPELINE_SLOTS})")
    config = spec.config
    autocast = resolved.compute.autocast
    gradients = gradient_dtype(run.dtype, autocast, run.reduce_dtype)   # what a scheme compresses
    phases = scheme_phases(resolved.scheme, plan, spec, resolved.cluster.gpus_per_node, gradients)
    scheme = resolved.scheme if phases[0][0] is not None else None
    codec = plan_codec(scheme)
    memory = memory_per_gpu(config, plan, run.dtype, run.optimizer, scheme=scheme,
                            scheme_context=scheme_context(plan, spec, cluster.gpus_per_node, gradients),
                            autocast=autocast, reduce_dtype=run.reduce_dtype)
    capacity = device.memory_bytes
    if run.check_memory and memory["total"] > capacity:
        parts = ", ".join(f"{k} {units.format_size(memory[k])}" for k in _memory_keys(memory) if memory[k])
        raise InfeasibleError(
            f"{spec.name} with {plan.describe()}, micro-batch {plan.micro_batch}, {run.dtype}, {run.optimizer}, "
            f"ZeRO-{plan.zero}, recompute {run.recompute} needs {units.format_size(memory['total'])} per GPU on "
            f"stage {memory['stage']} ({parts}) but the {device.name} has {units.format_size(capacity)}: short by "
            f"{units.format_size(memory['total'] - capacity)}; shard more (tp, pp, zero), recompute, or lower "
            "the micro-batch")
    perturbations = resolved.perturbations
    factors = _stage_factors(plan, stretched(resolved.slowest, perturbations.straggler_factors(cluster.num_gpus)
                                             if perturbations else np.ones(1)))
    outcomes = []
    for phase, count in phases:
        costs = StageCosts.build(config, plan, cluster, resolved.compute, run.dtype, run.optimizer,
                                 cache=resolved.cache, options=resolved.network, engine=run.engine,
                                 algorithm=resolved.algorithm, algorithm_params=resolved.algorithm_params,
                                 phase=phase, codec=codec, optimizer_impl=run.optimizer_impl,
                                 clip_grad=run.clip_grad, reduce_dtype=run.reduce_dtype)
        # the stages' compute as their slowest GPUs run it; the communication exposed in them as it is
        slow = costs.stretched(factors)
        outcomes.append((phase, count, costs, step_time(slow, plan, run.engine, perturbations,
                                                        run.store_and_forward), slow))
    _, _, costs, step, slow = max(outcomes, key=lambda o: o[1])
    report = _report(resolved, plan, memory, costs, step, clean_step_time_s, StepReport, slow)
    if phases[0][0] is not None:   # a scheme's phases: the mean over its period, each phase's step
        period = sum(count for _, count, _, _, _ in outcomes)
        report.step_time_s = sum(count * step.step_time_s for _, count, _, step, _ in outcomes) / period
        report.phase_step_times_s = {phase.name: step.step_time_s for phase, _, _, step, _ in outcomes}
        report.phase_steps_per_period = {phase.name: count for phase, count, _, _, _ in outcomes}
        report.scheme = resolved.scheme.describe()
    return report


def scheme_phases(scheme: Any, plan: ParallelPlan, spec: Any, gpus_per_node: int,
                  dtype: str) -> list[tuple[Any, int]]:
    """A compression scheme's phases and their steps per period on the plan's data-parallel dimension
    (``[(None, 1)]`` without a scheme).

    Examples
    --------
    >>> from simtrain.compression import make_scheme
    >>> from simtrain.model import load_model
    >>> spec = load_model("gpt:layers=2,hidden=64,heads=4,seq=64,vocab=100")
    >>> plan = make_plan(spec.config, 16, "tp=2")
    >>> [(p.name, n) for p, n in scheme_phases(make_scheme("powersgd:rank=2"), plan, spec, 8, "bf16")]
    [('compressed', 1)]
    """
    from simtrain.compression import steps_per_phase
    from simtrain.compression.base import Block

    if scheme.describe() == "none":
        return [(None, 1)]
    if plan.zero or plan.ep > 1 or plan.folded:
        raise ConfigError("a compression scheme on the data-parallel dimension needs zero 0 and no expert "
                          "(or expert tensor) parallelism", key="scheme", value=scheme.describe())
    ctx = scheme_context(plan, spec, gpus_per_node, dtype)
    phases = scheme.phases(ctx)
    counts = steps_per_phase([Block(tuple(scheme.period(ctx)))], len(phases))
    out = [(phase, count) for phase, count in zip(phases, counts) if count]
    if any(not phase.overlap for phase, _ in out):
        raise ConfigError("model-averaging schemes (communication after the update) are not simulated with a "
                          "model-parallel plan", key="scheme", value=scheme.describe())
    if plan.tp > 1 and any(phase.factorised for phase, _ in out):
        # a factor pair W = A·B split over a TP group shares one factor, whose gradient the group would have to
        # reduce: TP traffic the plan does not price
        raise ConfigError("a scheme that trains factorised layers (factor GEMMs) is simulated with tp 1 only (its "
                          "factors would add tensor-parallel communication)", key="scheme", value=scheme.describe(),
                          allowed="tp=1 (pipeline, context and data parallelism)")
    return out


def scheme_context(plan: ParallelPlan, spec: Any, gpus_per_node: int, dtype: str) -> Any:
    """The :class:`~simtrain.compression.SchemeContext` of a scheme on the plan's data-parallel dimension: the whole
    model on ``dp · cp`` ranks, as many per node as a node holds of one data-parallel group."""
    from simtrain.compression import SchemeContext
    from simtrain.parallel.costs import _dp_per_node

    return SchemeContext(spec, plan.dp * plan.cp, _dp_per_node(plan, gpus_per_node), dtype)


def _memory_keys(memory: dict[str, Any]) -> list[str]:
    """The categories of a memory breakdown (a scheme's state when there is one)."""
    return [k for k in (*MEMORY_CATEGORIES, SCHEME_STATE) if k in memory]


def plan_codec(scheme: Any) -> tuple[str | None, int]:
    """The codec a plan's compression scheme runs per step (:func:`~simtrain.calibration.codec_times.scheme_codec`);
    ``(None, 0)`` without a scheme, without importing the calibration package, which is not light.

    Examples
    --------
    >>> from simtrain.compression import make_scheme
    >>> plan_codec(None), plan_codec(make_scheme("topk"))
    ((None, 0), ('topk', 1))
    """
    if scheme is None:
        return None, 0
    from simtrain.calibration.codec_times import scheme_codec

    return scheme_codec(scheme)


def trains_factor_gemms(scheme: Any, spec: Any, num_gpus: int, gpus_per_node: int, dtype: str) -> bool:
    """Whether a phase of ``scheme`` runs layers as factor GEMMs (``Phase.factorised``): such a scheme is simulated
    with ``tp`` 1 only (:func:`scheme_phases`). A scheme whose phases cannot be built here answers False (building
    them for a plan raises the reason).

    Examples
    --------
    >>> from simtrain.compression import make_scheme
    >>> from simtrain.model import load_model
    >>> spec = load_model("gpt:layers=2,hidden=64,heads=4,seq=64,vocab=100")
    >>> [trains_factor_gemms(make_scheme(s), spec, 8, 8, "bf16") for s in ("cuttlefish", "oialr", "powersgd")]
    [True, False, False]
    """
    from simtrain.compression import SchemeContext

    try:
        return any(phase.factorised for phase in scheme.phases(SchemeContext(spec, num_gpus, gpus_per_node, dtype)))
    except ConfigError:
        return False


def _report(resolved: Any, plan: ParallelPlan, memory: dict[str, Any], costs: StageCosts, step: HybridStep,
            clean: float | None, report_type: Any, slow: StageCosts) -> Any:
    """The report of a plan's step: ``costs`` as the typical GPU runs them, ``slow`` as the step ran them (its
    slowest GPUs' compute, :meth:`StageCosts.stretched`)."""
    run, spec, cluster, device = resolved.run, resolved.model, resolved.cluster, resolved.device
    m = plan.num_micro_batches
    t = step.step_time_s
    n = cluster.num_gpus
    peak = device.peak_flops(run.dtype)
    # the same stages (as the step's slowest GPUs and stragglers ran them) without the sends
    no_p2p = run_analytical(slow.forward, slow.backward, [0.0] * plan.pp, [0.0] * plan.pp, plan.schedule, m)
    exposed = {key: 0.0 for key in CATEGORIES}
    exposed.update({k: costs.exposed[k] for k in ("tp", "cp", "ep")})
    exposed["pp"] = max(0.0, step.timeline.end - no_p2p.end)   # what the sends add to the pipeline
    tails = []
    for s in range(plan.pp):
        # beyond the last backward, as the reductions' SMs stretched it (that stretch is shared_compute_time_s)
        tails.append(max(0.0, step.dp_end[s] - step.backward_end[s]) + costs.dp_after_update[s])
    exposed["dp"] = max(tails) + costs.exposed["dp"]
    # the first stage's compute alone: the TP/CP/EP/ZeRO-3 communication its passes expose is in ``exposed``
    forward = m * sum(costs.forward_compute[0])
    backward = m * sum(costs.backward_compute[0])
    busy = forward + backward + costs.update[0]
    tokens = plan.global_batch * spec.config.seq
    parallel = {
        "plan": plan.describe(),
        "tp": plan.tp, "pp": plan.pp, "dp": plan.dp, "cp": plan.cp, "ep": plan.ep, "etp": plan.expert_tp,
        "expert_dp": plan.expert_dp, "distribute_saved_activations": plan.distribute_saved_activations,
        "tp_overlap": plan.tp_overlap, "overlap_pp": plan.overlap_pp,
        "micro_batch": plan.micro_batch, "num_micro_batches": m,
        "pipeline_schedule": run.pipeline_schedule, "pipeline_layout": run.pipeline_layout,
        "recompute": run.recompute, "zero": plan.zero, "zero_reshard": plan.zero_reshard, "zero_impl": plan.zero_impl,
        # the first stage's FSDP2 copies over the step (in its compute; 0 under flat)
        "zero_copy_s": m * costs.copies[0] if costs.copies else 0.0,
        "zero_shard_size": plan.zero_group,
        "sequence_parallel": plan.sequence_parallel, "rank_order": "-".join(plan.rank_order),
        "tokens_per_s": tokens / t,
        "tflops_per_gpu": costs.model_flops / t / n / 1e12,
        "hw_tflops_per_gpu": costs.hardware_flops / t / n / 1e12,
        "mfu": costs.model_flops / (t * n * peak),
        "hfu": costs.hardware_flops / (t * n * peak),
        "bubble_fraction": step.timeline.bubble_fraction,
        "exposed_comm_s": exposed,
        "memory_by_category_bytes": {k: float(memory[k]) for k in _memory_keys(memory)},
        "memory_stage": memory["stage"],
        "model_flops_per_step": costs.model_flops,
        "hardware_flops_per_step": costs.hardware_flops,
        "pipeline": step.timeline,
    }
    config = run.to_dict()
    config["batch"] = None   # the batch is micro_batch and global_batch
    config.update({"model": spec.name, "model_source": spec.source, "topology": cluster.name,
                   "topology_source": cluster.source, "gpus": n, "algorithm": resolved.algorithm,
                   "algorithm_params": dict(resolved.algorithm_params),
                   "network": dataclasses.asdict(resolved.network),
                   "perturbations": resolved.perturbations.describe() if resolved.perturbations is not None
                   else None, "compute": resolved.compute_config})
    return report_type(
        model=spec.name, topology=cluster.name, num_gpus=n, device=device.name, dtype=run.dtype,
        batch_per_gpu=plan.micro_batch, global_batch=plan.global_batch, algorithm=resolved.algorithm,
        engine=run.engine, step_time_s=t, forward_time_s=forward, backward_time_s=backward,
        update_time_s=costs.update[0], compute_time_s=busy, comm_time_s=sum(exposed.values()),
        exposed_comm_time_s=sum(exposed.values()), bytes_per_gpu=costs.comms.bytes_per_gpu,
        bytes_per_gpu_by_class=dict(costs.comms.bytes_by_class), num_buckets=len(costs.dp_buckets[0]),
        bucket_size_bytes=run.bucket_size, throughput_samples_per_s=plan.global_batch / t,
        single_gpu_step_time_s=busy * n, scaling_efficiency=busy / t,
        memory_per_gpu_bytes=float(memory["total"]), memory_capacity_bytes=device.memory_bytes,
        params=spec.num_params, clean_step_time_s=clean, config=config, parallel=parallel,
        shared_compute_time_s=step.shared_s, slowest_gpu_factor=resolved.slowest,
    )


def pipeline_trace(report: Any) -> dict[str, Any]:
    """A Chrome/Perfetto trace of a model-parallel step: one row per pipeline stage with every forward and
    backward of every micro-batch (model chunk ``c`` of the interleaved schedule shown as ``F3.c1``).

    Examples
    --------
    >>> from simtrain.training import simulate
    >>> r = simulate("gpt:layers=4,hidden=256,heads=4,seq=128,vocab=100", "dgx-a100", gpus=8, parallel="tp=2,pp=2",
    ...              micro_batch=1, global_batch=8, dtype="bf16")
    >>> events = pipeline_trace(r)["traceEvents"]
    >>> sum(e["ph"] == "X" and e["name"].startswith("F") for e in events)    # 2 stages x 4 micro-batches
    8
    """
    timeline = report.parallel["pipeline"]
    events: list[dict[str, Any]] = []
    for stage, ops in enumerate(timeline.ops):
        events.append({"ph": "M", "pid": stage, "name": "process_name", "args": {"name": f"stage {stage}"}})
        for kind, chunk, micro, start, end in ops:
            name = f"{kind}{micro}" + (f".c{chunk}" if len(timeline.ops) and report.parallel["pipeline_schedule"]
                                       .startswith("interleaved") else "")
            events.append({"ph": "X", "pid": stage, "tid": 0, "name": name,
                           "cat": "forward" if kind == "F" else "backward", "ts": start * 1e6,
                           "dur": (end - start) * 1e6})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_pipeline_trace(report: Any, path: Any) -> None:
    """Write :func:`pipeline_trace` as JSON to ``path``, whole or not at all (:func:`simtrain.outputs.write_text`)."""
    import json

    from simtrain.outputs import write_text

    write_text(path, json.dumps(pipeline_trace(report)))
