"""The data-parallel training step: forward, backward with bucketed gradient communication overlapped, update.

Layers run forward in order, then backward in reverse. Gradients are grouped into buckets of ``bucket_size``
(25 MiB by default, as PyTorch DDP) in reverse layer order; a bucket is ready when the backward of its earliest
layer finishes. Its communication, whatever the scheme says it is (one all-reduce for plain data parallelism,
two for PowerSGD, an all-gather for top-k, an in-node all-reduce for AB-training …), runs on a communication
stream that overlaps the rest of backward, after the bucket's compression compute. Model averaging (local SGD,
CSER) runs after the update. So::

    step = forward + max(backward end, last bucket's end) + update [+ model averaging]

A step-dependent scheme has several kinds of step (phases); each is simulated, and the report gives the mean over
one period of the scheme's schedule with every phase's step time. Every collective comes from the same Schedules
and engines as ``simtrain collective``.

Examples
--------
>>> r = simulate("resnet50", "abci", gpus=1024, batch=32, dtype="fp16", algorithm="multidim-ring")
>>> r.num_gpus, r.global_batch
(1024, 32768)
>>> 0 < r.scaling_efficiency <= 1
True
>>> p = simulate("resnet50", "cloud-25g", gpus=64, batch=32, scheme="powersgd:rank=4")
>>> p.step_time_s < simulate("resnet50", "cloud-25g", gpus=64, batch=32).step_time_s
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from simtrain import units
from simtrain.collectives.base import spec_chunks
from simtrain.collectives.schedule import build_template
from simtrain.compression import Phase, Scheme, SchemeContext, make_scheme, steps_per_phase
from simtrain.compression.base import Communication
from simtrain.compute import (
    FP8_COPY_BYTES,
    OPTIMIZER_STATES,
    ComputeModel,
    cast_elements,
    fp8_gemm_share,
    gradient_dtype,
    held_gradient_width,
    parameter_width,
)
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.hardware import get_device
from simtrain.model import DTYPE_BYTES, ModelSpec, Tensor
from simtrain.network import NetworkCache, NetworkOptions, evaluate, template_traffic
from simtrain.network.perturb import Perturbations
from simtrain.run import DTYPES, TrainingRun
from simtrain.topology import Cluster
from simtrain.training.framework import (
    buffer_sync_seconds,
    copy_seconds,
    fill_buckets,
    framework_costs,
    make_framework,
    plan_groups,
)
from simtrain.training.overlap import collective_share, compute_ends
from simtrain.training.overlap import compute_end as shared_compute_end
from simtrain.training.report import BucketTiming, StepReport, StepTimeline
from simtrain.training.run_cache import RunCache, default_cache
from simtrain.training.variability import draw_factors, expected_slowest, priced_spread, stretched

__all__ = ["DTYPES", "CommJob", "ResolvedRun", "StepPlan", "copies_back", "memory_per_gpu", "micro_batching", "plan",
           "report", "resolve", "run_plan", "simulate"]


def memory_per_gpu(model: ModelSpec, batch: int, dtype: str = "fp32", optimizer: str = "momentum",
                   scheme: Any = None, num_gpus: int = 1, gpus_per_node: int = 1,
                   autocast: bool = False, reduce_dtype: str = "auto") -> dict[str, float]:
    """Bytes one GPU holds for training: weights, gradients, fp32 master copy, optimizer state, activations, and
    the communication scheme's own state.

    With fp16/bf16 (mixed precision) weights and gradients are half precision and an fp32 master copy is kept;
    under ``autocast`` the weights and gradients are fp32 (no master copy), and ``weights`` holds besides them the
    half copies autocast makes of the GEMM weights, which autograd keeps for backward
    (:func:`~simtrain.compute.cast_elements`); ``gradients`` are held at
    :func:`~simtrain.compute.held_gradient_width` (an fp32 accumulation buffer under ``reduce_dtype`` ``fp32``);
    optimizer states are fp32 (per parameter, plus NovoGrad's one per layer). ``scheme`` (a spec or a Scheme)
    adds ``scheme_state``: what :meth:`~simtrain.compression.base.Scheme.state_bytes` says it holds in its steady
    phase (error-feedback residuals, factors with their gradients and optimizer state, less the dense state of
    factorised layers). A scheme that starts with full-rank steps needs dense memory first, so a saving (negative
    state) does not lower the peak then; ``total`` is the peak.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> m = memory_per_gpu(load_model("resnet50"), 32, "fp32", "momentum")
    >>> m["weights"] == m["gradients"] == m["optimizer_state"] == 25_557_032 * 4
    True
    >>> vgg = load_model("vgg16")
    >>> base = memory_per_gpu(vgg, 32, "fp32", "adam")["total"]
    >>> memory_per_gpu(vgg, 32, "fp32", "adam", "powersgd:rank=4")["total"] > base
    True
    >>> memory_per_gpu(vgg, 32, "fp32", "adam", "oialr:warmup=0")["total"] < base
    True
    >>> amp = memory_per_gpu(vgg, 32, "fp16", "adam", autocast=True)
    >>> amp["gradients"] == 4 * vgg.num_params and amp["master_weights"] == 0
    True
    """
    from simtrain.optimizers import state_bytes

    width = parameter_width(dtype, autocast)
    grads = held_gradient_width(dtype, autocast, reduce_dtype)
    params = model.num_params
    layers = sum(1 for layer in model.layers if layer.tensors)
    # at fp8, Transformer Engine keeps each FP8 GEMM weight's fp8 copy and its transpose beside the bf16 weight
    fp8_copies = FP8_COPY_BYTES * fp8_gemm_share(model.layers) * params if dtype == "fp8" else 0.0
    # under autocast, the half copies of the GEMM weights that autograd saves for backward
    cast_copies = DTYPE_BYTES[dtype] * sum(cast_elements(layer) for layer in model.layers) if autocast else 0
    parts = {
        "weights": params * width + fp8_copies + cast_copies,
        "gradients": params * grads,
        "master_weights": params * 4 if width < 4 else 0,
        "optimizer_state": params * 4 * OPTIMIZER_STATES[optimizer] + state_bytes(optimizer, 0, layers),
        "activations": model.activation_bytes(batch, dtype),
    }
    if scheme is not None:
        from simtrain.compression import SchemeContext, make_scheme

        the = make_scheme(scheme)
        ctx = SchemeContext(model, num_gpus=num_gpus, gpus_per_node=gpus_per_node,
                            dtype=gradient_dtype(dtype, autocast, reduce_dtype))   # the step's gradients
        state = float(sum(the.state_bytes(ctx, optimizer).values()))
        parts["scheme_state"] = max(0.0, state) if the.starts_dense(ctx) else state
    parts["total"] = sum(parts.values())
    return {k: float(v) for k, v in parts.items()}


@dataclass
class CommJob:
    """One collective on a GPU's communication stream.

    ``ready`` is when an unperturbed GPU has the data (from the start of the step) and ``delay`` the compression
    compute before it; jobs with ``after_update`` start once backward, the earlier jobs and the update are done.
    """

    label: str
    schedule: Any
    bucket: int
    ready: float = 0.0
    delay: float = 0.0
    after_update: bool = False
    layers: tuple[str, ...] = ()
    key: Any = None  # the schedule's template key: with its size, what decides its time
    launch_s: float = 0.0  # stream time before the data moves (the framework's launch; simtrain.training.framework)
    #: compute-stream seconds of copying its bucket's reduced gradients back once it is done (DDP's
    #: ``finalize_backward``; set on a bucket's last job, 0 otherwise)
    copy_out_s: float = 0.0
    group: Any = None  # the ranks of its first group (a grouped collective: each group is one NCCL communicator)


def arrivals(jobs: Sequence[CommJob], factors: np.ndarray) -> np.ndarray:
    """When each overlapped job's data is there on each rank (rows: jobs, columns: ranks slowed by ``factors``):
    its bucket's gradients, then its compression compute (``delay``), which runs on the GPU after the compression of
    the buckets before it (one GPU runs one bucket's codec at a time); ``nan`` for jobs after the update.

    Examples
    --------
    >>> jobs = [CommJob("a", None, 0, ready=1.0, delay=2.0), CommJob("b", None, 1, ready=1.5, delay=2.0)]
    >>> arrivals(jobs, np.ones(1)).ravel().tolist()   # the second codec waits for the first
    [3.0, 5.0]
    """
    out = np.full((len(jobs), len(factors)), np.nan)
    codec = np.zeros(len(factors))  # when each rank's GPU is through the codecs so far
    for index, job in enumerate(jobs):
        if job.after_update:
            continue
        at = job.ready * factors
        if job.delay > 0:
            at = codec = np.maximum(at, codec) + job.delay * factors
        out[index] = at
    return out


@dataclass
class CommOutcome:
    """The communication stream of one step: per-bucket timings, per-rank ends, bytes and link loads."""

    buckets: list[BucketTiming]
    comm_end: np.ndarray  # per rank (or one value for all): end of the stream, from the start of the step
    comm_time: float
    bytes_per_gpu: float
    bytes_by_class: dict[str, float]
    link_bytes: np.ndarray | None = None
    link_capacity: np.ndarray | None = None
    bucket_start: np.ndarray | None = None  # buckets x ranks (DES)
    bucket_end: np.ndarray | None = None
    load_history: list[tuple[float, np.ndarray, np.ndarray]] | None = None
    finish: np.ndarray | None = None  # per-rank end of the step when model averaging ends it
    phases: list[list[tuple[int, int, str, float, float]]] | None = None  # DES, traced: per bucket (rank, chunk, ...)
    #: per job and rank (analytical: one column for all): when each collective started and ended on the rank
    job_start: np.ndarray | None = None
    job_end: np.ndarray | None = None
    #: compute seconds the overlapped collectives took by holding SMs, on the rank that ends the step last
    shared_s: float = 0.0
    #: that rank's compute-speed factor (a straggler's > 1)
    last_factor: float = 1.0

    def max_link_utilization(self, step_time: float) -> float:
        """Busiest link's bytes over what it could carry in the step."""
        if self.link_bytes is None or self.link_capacity is None or step_time <= 0:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            utilization = np.where(self.link_capacity > 0, self.link_bytes / (self.link_capacity * step_time), 0)
        return float(utilization.max()) if utilization.size else 0.0


def _traffic(jobs: Sequence[CommJob], cluster: Cluster, cache: NetworkCache | None = None,
             counted: Mapping[tuple[Any, float], Any] | None = None) -> tuple[float, dict[str, float], np.ndarray]:
    """Bytes sent per GPU, per link class and per link, of all jobs (the schedules' own accounting); a job's
    schedule is known by its template key and size, so each is counted once (``counted``: results that already
    carry their bytes, by that key)."""
    by_class = dict.fromkeys(cluster.class_names, 0.0)
    link_bytes = np.zeros(cluster.num_links)
    total = 0.0
    cache = NetworkCache.for_cluster(cluster, cache)
    for job in jobs:
        traffic = None if job.key is None or counted is None else counted.get((job.key, job.schedule.size_bytes))
        if traffic is None:
            traffic = template_traffic(job.schedule, cache, job.key)
        total += job.schedule.bytes_sent / cluster.num_gpus
        link_bytes += traffic.link_bytes
        for name, value in traffic.bytes_by_class.items():
            by_class[name] += value / cluster.num_gpus
    return total, by_class, link_bytes


def _timings(jobs: Sequence[CommJob], starts: Sequence[float], ends: Sequence[float],
             factor: float = 1.0) -> list[BucketTiming]:
    """Per-bucket timing (a bucket's jobs merged) of the jobs that overlap backward; a bucket is ready when the
    fastest GPU (compute stretched by ``factor``) has its gradients."""
    out: dict[int, BucketTiming] = {}
    for job, start, end in zip(jobs, starts, ends):
        if job.after_update:
            continue
        size = float(job.schedule.size_bytes)
        if job.bucket in out:
            first = out[job.bucket]
            out[job.bucket] = replace(first, size_bytes=first.size_bytes + size, start_s=min(first.start_s, start),
                                      end_s=max(first.end_s, end))
        else:
            out[job.bucket] = BucketTiming(job.bucket, size, job.ready * factor, start, end, job.layers)
    return [out[k] for k in sorted(out)]


def _comm_analytical(jobs: Sequence[CommJob], cluster: Cluster, network: NetworkOptions | None,
                     compute_end: float, update: float, cache: NetworkCache,
                     shares: np.ndarray | None = None, factor: float = 1.0) -> CommOutcome:
    """Jobs run one after another on the stream, each as soon as it is ready and the stream is free; with
    ``shares`` (each job's share of the GPU while it runs, :mod:`simtrain.training.overlap`) a job's data is ready
    when the compute before it is done at the rate the earlier jobs left it. ``factor`` stretches every GPU's
    compute (``compute_end``, ``update``, the jobs' readiness and codecs) as the DES's straggler factors do."""
    results: dict[tuple[Any, float], Any] = {}
    clock = 0.0
    overlap_end = 0.0
    starts, ends = [], []
    comm_time = 0.0
    arrive = arrivals(jobs, np.array([factor]))[:, 0]
    compute_end, update = compute_end * factor, update * factor
    busy: list[tuple[float, float, float]] = []   # the overlapped jobs so far: (start, end, share)
    sharing = shares is not None and bool((shares > 0).any())
    for index, job in enumerate(jobs):
        key = (job.key, job.schedule.size_bytes)
        result = results.get(key)
        if result is None:
            result = results[key] = evaluate(job.schedule, cluster, network, cache)
        if job.after_update:
            delay = job.delay * factor
            earliest = max(compute_end, overlap_end) + update + delay if clock <= overlap_end else clock + delay
        else:
            earliest = float(arrive[index])
            if sharing:
                earliest = shared_compute_end(earliest, busy)
        start = max(earliest, clock) + job.launch_s
        clock = start + result.time_s
        if not job.after_update:
            overlap_end = clock
            if sharing:
                assert shares is not None
                busy.append((start, clock, float(shares[index])))
        comm_time += result.time_s
        starts.append(start)
        ends.append(clock)
    total, by_class, link_bytes = _traffic(jobs, cluster, cache, results)
    post = any(job.after_update for job in jobs)
    finish = np.array([clock]) if post else None
    return CommOutcome(_timings(jobs, starts, ends, factor), np.array([overlap_end]), comm_time, total, by_class,
                       link_bytes, cluster.link_bandwidth_Bps, finish=finish,
                       job_start=np.array(starts, dtype=float)[:, None], job_end=np.array(ends, dtype=float)[:, None])


def _buckets(model: ModelSpec, bucket_bytes: float, width: int) -> list[tuple[int, list[Tensor], list[str]]]:
    """(index of the earliest layer, tensors, layer names) of each layer-granular bucket (the ``ideal`` framework's)."""
    return fill_buckets(model, [bucket_bytes], width, per_tensor=False)


class _Schedules:
    """Schedules of a step's communications: templates (in the cluster's :class:`NetworkCache`, keyed by what
    decides their shape) resized to each communication's bytes."""

    def __init__(self, cluster: Cluster, cache: NetworkCache, algorithm: str, algorithm_params: Mapping[str, Any],
                 chunks: int) -> None:
        self.cluster = cluster
        self.cache = cache
        self.algorithm = algorithm
        self.algorithm_params = dict(algorithm_params)
        self.chunks = chunks
        from simtrain.registry import format_spec

        # the algorithm with its parameters (in key order), as comm_schedule reads it and as the templates' key
        self.spec = format_spec(algorithm, dict(sorted(self.algorithm_params.items())))
        self.base = (self.spec, chunks, cluster.gpus_per_node)

    def get(self, comm: Communication) -> tuple[Any, Any]:
        """The template key and the schedule of ``comm``."""
        return self.get_with_group(comm)[:2]

    def get_with_group(self, comm: Communication) -> tuple[Any, Any, np.ndarray]:
        """The template key and the schedule of ``comm``, and its first rank group (the ranks NCCL's channels of
        one communicator follow: :func:`~simtrain.collectives.nccl.collective_ctas`)."""
        from simtrain.collectives import build_schedule
        from simtrain.collectives.groups import comm_schedule, comm_sizes

        groups, sizes = comm_sizes(comm, self.cluster.num_gpus, self.cluster.gpus_per_node)
        payload = comm.payload_bytes
        shares = tuple(p / payload for p in comm.group_payloads) if comm.group_payloads else None
        pull = comm.pull_bytes / payload if comm.pull_bytes else None
        key = (*self.base, comm.op, comm.group, shares, pull, comm.servers)
        if comm.op == "all-reduce" and comm.group == "world":
            # the user's algorithm, parameters and chunking for the plain gradient all-reduce
            def build(size: float) -> Any:
                return build_schedule("all-reduce", size, self.cluster, self.algorithm, chunks=self.chunks,
                                      cache=self.cache, **self.algorithm_params)
            first = float(sum(sizes))
        else:
            def build(size: float) -> Any:   # the communication with a payload of ``size``
                canonical = replace(comm, payload_bytes=size, pull_bytes=None if pull is None else pull * size,
                                    group_payloads=None if shares is None else tuple(s * size for s in shares))
                # the algorithm with its parameters: auto's NCCL_ALGO/NCCL_PROTO restrictions apply to every
                # collective NCCL runs, a scheme's all-gathers and group reductions too
                return comm_schedule(canonical, self.cluster, self.cluster.gpus_per_node, self.spec, self.cache)
            first = payload
        template = self.cache.get("template", key, lambda: build_template(build, self.algorithm, first))
        return key, template.resized(float(sum(sizes))), groups[0]


def _phase_jobs(phase: Phase, buckets: Sequence[tuple[int, list[Tensor], list[str]]], ready: np.ndarray,
                model: ModelSpec, schedules: _Schedules, compute: ComputeModel, width: int,
                codec: tuple[str | None, int] = (None, 0)) -> list[CommJob]:
    jobs: list[CommJob] = []

    def delay(tensors: Sequence[Tensor]) -> float:
        return phase.codec_seconds(tensors, compute, width, codec)

    if phase.overlap:
        for index, (_first, tensors, names) in enumerate(buckets):
            wait = delay(tensors)
            for comm in phase.comms(tensors):
                if comm.payload_bytes <= 0:
                    continue
                key, schedule, group = schedules.get_with_group(comm)
                jobs.append(CommJob(comm.label, schedule, index, float(ready[index]), wait, key=key,
                                    layers=tuple(names), group=group))
                wait = 0.0
    else:
        tensors = model.tensors
        wait = delay(tensors)
        for comm in phase.comms(tensors):
            if comm.payload_bytes <= 0:
                continue
            key, schedule = schedules.get(comm)
            jobs.append(CommJob(comm.label, schedule, -1, 0.0, wait, key=key, after_update=True))
            wait = 0.0
    return jobs


@dataclass(frozen=True)
class ResolvedRun:
    """A :class:`~simtrain.run.TrainingRun` with its names turned into objects (stage 1 of :func:`simulate`)."""

    run: TrainingRun
    model: ModelSpec
    cluster: Cluster
    scheme: Scheme
    compute: ComputeModel
    compute_config: dict[str, Any]
    device: Any
    network: NetworkOptions
    algorithm: str
    algorithm_params: dict[str, Any]
    chunks: int
    perturbations: Perturbations | None
    cache: NetworkCache
    #: every GPU's compute stretch: the expected slowest of the run's GPUs (simtrain.training.variability)
    slowest: float = 1.0


@dataclass
class StepPlan:
    """What one step computes and communicates (stage 2): per-layer times, buckets, and each phase's jobs."""

    forward: list[float]
    backward: list[float]
    update_time: float
    buckets: list[tuple[int, list[Tensor], list[str]]]
    memory: dict[str, float]
    phases: list[tuple[Phase, int, list[CommJob]]]
    factors: np.ndarray
    batch: int = 0          # samples per GPU per forward/backward (the micro-batch under accumulation)
    accumulation: int = 1   # forward/backward passes per optimizer step (gradient accumulation)
    #: phase name → (forward, backward) per layer, for phases that run factorised layers (the others: dense)
    phase_compute: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    #: phase name → optimizer step seconds, for phases that train other parameters than W (factors)
    phase_update: dict[str, float] = field(default_factory=dict)
    #: compute-stream seconds of the framework's copies of each layer's gradients into their buckets, in the last
    #: backward of the step (DDP without gradient_as_bucket_view, zeros otherwise; the copies back are the jobs'
    #: ``copy_out_s``)
    copy_in: list[float] = field(default_factory=list)
    #: compute-stream seconds of DDP's broadcast of the module buffers before the step's first forward (0: no
    #: buffers, broadcast_buffers=false, or a framework that does not broadcast them)
    buffer_sync: float = 0.0
    #: one GPU that DDP wraps all the same (``ddp:one_gpu=wrapped``): its reducer runs with no collective to wait for
    alone: bool = False

    def drawn_entry(self) -> int:
        """The entry of :attr:`phases` the report draws its buckets, timeline and trace from: the first of the largest
        count (a scheme's main phase, Horovod's first alignment)."""
        counts = [count for _, count, _ in self.phases]
        return counts.index(max(counts)) if counts else -1

    def wraps(self, phase: Phase, jobs: Sequence[CommJob]) -> bool:
        """Whether DDP's reducer runs in ``phase`` (with these ``jobs``): it reduces the gradients as backward
        produces them, on more GPUs through a job, on one GPU that DDP wraps all the same through none (a phase of
        local steps, or one that averages the model after its update, has no gradient buckets to fill and no DDP
        forward to sync, on one GPU as on many)."""
        if self.alone:
            return phase.overlap
        return any(not job.after_update for job in jobs)

    def copies_in(self, phase: Phase, jobs: Sequence[CommJob]) -> float:
        """Seconds of copies into the buckets in ``phase`` (none where DDP does not wrap it)."""
        return float(sum(self.copy_in)) if self.wraps(phase, jobs) else 0.0

    def syncs_before(self, phase: Phase, jobs: Sequence[CommJob]) -> float:
        """Seconds of the buffer broadcast before the first forward of ``phase``."""
        return self.buffer_sync if self.wraps(phase, jobs) else 0.0

    def copies_back_alone(self, phase: Phase, jobs: Sequence[CommJob]) -> float:
        """Seconds of the copies back after backward on one GPU that DDP wraps (more GPUs: the jobs'
        ``copy_out_s``): every gradient's, which read and write what the copies in did."""
        return float(sum(self.copy_in)) if self.alone and self.wraps(phase, jobs) else 0.0

    def compute_of(self, phase: str) -> tuple[float, float]:
        """Forward and backward compute of one pass in ``phase``."""
        forward, backward = self.phase_compute.get(phase, (self.forward, self.backward))
        return sum(forward), sum(backward)

    def update_of(self, phase: str) -> float:
        """Optimizer step seconds in ``phase`` (priced on the parameters it trains)."""
        return self.phase_update.get(phase, self.update_time)

    @property
    def forward_time(self) -> float:
        """Forward compute of one step."""
        return sum(self.forward)

    @property
    def backward_time(self) -> float:
        """Backward compute of one step."""
        return sum(self.backward)


def resolve(run: TrainingRun, cache: RunCache | None = None) -> ResolvedRun:
    """Stage 1: load the model and cluster, build the scheme, the compute model and the network options.

    Examples
    --------
    >>> r = resolve(TrainingRun("resnet50", "torus-2d", gpus=16))
    >>> r.cluster.num_gpus, r.compute_config["model"]
    (16, 'roofline')
    """
    from simtrain.registry import merge_spec_params

    cache = cache or RunCache()
    spec = run.model if isinstance(run.model, ModelSpec) else cache.model(run.model)
    cluster = (run.topology if isinstance(run.topology, Cluster)
               else cache.cluster(run.topology, run.gpus, run.topology_overrides))
    if run.gpus is not None and cluster.num_gpus != run.gpus:
        raise ConfigError(f"the given cluster has {cluster.num_gpus} GPUs", key="gpus", value=run.gpus)
    scheme = make_scheme(run.scheme)
    device = get_device(cluster.device)
    if run.compute is not None:
        compute = run.compute
        compute_config = {"model": "given", "device": device.name, **_compute_fields(compute)}
    elif run.profile is not None:
        compute, path, fingerprint = cache.profile(run.profile, cluster.device)
        if run.autocast:   # the cached profile's model, with autocast's casts priced at its measured bandwidth
            compute = replace(compute, autocast=True)
        compute_config = {"model": "profile", "profile": run.profile, "profile_path": str(path),
                          "profile_sha256": fingerprint, "device": device.name,
                          "backend": compute.profile.backend, "profile_device": compute.profile.device,
                          "autocast": compute.autocast}
    else:
        compute = ComputeModel.roofline(device, memory_format=run.memory_format, autocast=run.autocast)
        compute_config = {"model": "roofline", "device": device.name, **_compute_fields(compute)}
    network = run.network if isinstance(run.network, NetworkOptions) else \
        NetworkOptions.from_mapping(run.network)
    name, params = merge_spec_params(run.algorithm, run.algorithm_params)
    chunks = spec_chunks(params, run.chunks, run.algorithm)
    perturbations = _perturbations(run, cluster)
    if run.engine == "analytical" and perturbations is not None:
        raise ConfigError("perturbations are simulated by the DES", key="engine", value=run.engine, allowed="des")
    slowest = expected_slowest(priced_spread(run.gpu_spread, run.compute_jitter), cluster.num_gpus)
    return ResolvedRun(run, spec, cluster, scheme, compute, compute_config, device, network, name, params, chunks,
                       perturbations, cache.network(cluster), slowest)


def _memory_remedy(memory: dict[str, float], capacity: float) -> str:
    """What to change when a data-parallel replica does not fit: the batch where the activations are the excess,
    sharding where the model's own state alone (parameters, gradients, optimizer state) is more than the device.

    >>> _memory_remedy({"parameters": 1e9, "activations": 5e9, "total": 6e9}, 4e9)
    'lower the batch per GPU or use another device'
    >>> _memory_remedy({"parameters": 5e9, "activations": 1e9, "total": 6e9}, 4e9)[:44]
    'the model state alone needs 4.657 GiB: shard'
    """
    state = memory["total"] - memory.get("activations", 0.0)
    if state <= capacity:
        return "lower the batch per GPU or use another device"
    return (f"the model state alone needs {units.format_size(state)}: shard it (--parallel dp=N --zero 1-3), split "
            "the model (--parallel tp=...,pp=...; `simtrain parallelize` finds a plan that fits) or use another "
            "device")


def plan(resolved: ResolvedRun) -> StepPlan:
    """Stage 2: compute times per layer, gradient buckets, memory, and the communication jobs of every phase.

    Examples
    --------
    >>> p = plan(resolve(TrainingRun("resnet50", "torus-2d", gpus=16)))
    >>> len(p.buckets), len(p.phases)       # DDP's 1 MiB first bucket, then 25 MiB ones
    (5, 1)
    """
    run, spec, cluster, compute = resolved.run, resolved.model, resolved.cluster, resolved.compute
    gradients = gradient_dtype(run.dtype, compute.autocast, run.reduce_dtype)
    width = DTYPE_BYTES[gradients]   # the gradients' width: what the buckets carry
    batch, accumulation = micro_batching(run, cluster.num_gpus)
    memory = memory_per_gpu(spec, batch, run.dtype, run.optimizer, resolved.scheme, cluster.num_gpus,
                            cluster.gpus_per_node, compute.autocast, run.reduce_dtype)
    if run.check_memory and memory["total"] > resolved.device.memory_bytes:
        parts = ", ".join(f"{k.replace('_', ' ')} {units.format_size(v)}" for k, v in memory.items()
                          if k != "total" and v)
        raise InfeasibleError(
            f"{spec.name} at batch {batch} per GPU in {run.dtype} with {run.optimizer} needs "
            f"{units.format_size(memory['total'])} per GPU ({parts}) but the {resolved.device.name} has "
            f"{units.format_size(resolved.device.memory_bytes)}: short by "
            f"{units.format_size(memory['total'] - resolved.device.memory_bytes)}; "
            + _memory_remedy(memory, resolved.device.memory_bytes)
        )
    forward, backward = _layer_times(spec, None, compute, batch, run.dtype)
    fp8_share = fp8_gemm_share(spec.layers) if run.dtype == "fp8" else 1.0   # read only at fp8
    tensors = spec.tensors
    update_time = compute.update_time(spec.num_params, run.dtype, run.optimizer, fp8_share, run.optimizer_impl,
                                      len(tensors), run.clip_grad, run.reduce_dtype)
    # the framework groups the gradients and prices each collective's launch (simtrain.training.framework)
    framework = make_framework(run.framework)
    schedules = _Schedules(cluster, resolved.cache, resolved.algorithm, resolved.algorithm_params, resolved.chunks)
    # one GPU runs the framework only where the script wraps it all the same (ddp:one_gpu=wrapped)
    alone = cluster.num_gpus == 1 and framework.wraps_one_gpu()
    wrapped = cluster.num_gpus > 1 or alone
    # DDP's copies of each layer's gradients into their buckets, in the autograd hook of the last backward (none
    # under no_sync, on one GPU that DDP does not wrap, or with gradient_as_bucket_view)
    copying = wrapped and framework.copies_gradients()
    copy_in = [copy_seconds(layer.tensors, width, compute) if copying else 0.0 for layer in spec.layers]
    # DDP's broadcast of the module buffers before the step's first forward (the later micro-batches' forwards
    # under no_sync follow a forward without gradient sync, so they skip it)
    sync = 0.0
    if wrapped and framework.syncs_buffers() and spec.buffers:
        sync = buffer_sync_seconds(spec.buffers, compute, functools.partial(_broadcast_seconds, resolved))

    def grouped(forward: list[float], backward: list[float], variant: Any) -> tuple[Any, np.ndarray, Any]:
        if cluster.num_gpus == 1:
            return [], np.zeros(0), []
        # backward runs in reverse: the end time of each layer's backward (and its copies), from the start of
        # backward
        done_at = list(np.cumsum([b + c for b, c in zip(backward, copy_in)][::-1])[::-1])
        buckets, ready, groups = plan_groups(variant, spec, run.bucket_size, width, sync + sum(forward), done_at)
        # with accumulation, the gradients are reduced during the last micro-batch's backward (DDP's no_sync
        # before it)
        return buckets, ready + (accumulation - 1) * (sum(forward) + sum(backward)), groups

    # the framework's equally likely states against the step (Horovod's loop phases): each a step of its own, the
    # report's means over all of them (each variant carries its phase's count of steps)
    variants = framework.variants() if cluster.num_gpus > 1 else [framework]
    dense = [grouped(forward, backward, variant) for variant in variants]
    buckets = dense[0][0]

    from simtrain.calibration.codec_times import scheme_codec  # here: the calibration package is not light

    # the scheme's codec timing, once for every phase and variant (one GPU plans no jobs)
    codec = scheme_codec(resolved.scheme) if cluster.num_gpus > 1 else (None, 0)

    # a scheme compresses the gradients at their own precision: fp32 under autocast
    ctx = SchemeContext(spec, cluster.num_gpus, cluster.gpus_per_node, gradients)
    phases = resolved.scheme.phases(ctx)
    counts = steps_per_phase([_as_block(resolved.scheme.period(ctx))], len(phases))
    planned = []
    phase_compute: dict[str, tuple[list[float], list[float]]] = {}
    phase_update: dict[str, float] = {}
    for phase, count in zip(phases, counts):
        if count == 0:
            continue
        if phase.trained_params is not None:   # the optimizer updates the factors it holds, not W
            # an unfused update's kernels counted per model tensor (a factorised weight's two factors as one)
            phase_update[phase.name] = compute.update_time(phase.updated_params(tensors), run.dtype,
                                                           run.optimizer, fp8_share, run.optimizer_impl, len(tensors),
                                                           run.clip_grad, run.reduce_dtype)
        if phase.factorised:   # factor GEMMs instead of the dense ones: other compute, other bucket start times
            phase_compute[phase.name] = _layer_times(spec, phase.factorised, compute, batch, run.dtype)
        for variant, grouping in zip(variants, dense):
            phase_buckets, phase_ready, phase_groups = (grouped(*phase_compute[phase.name], variant)
                                                        if phase.factorised else grouping)
            jobs = (_phase_jobs(phase, phase_buckets, phase_ready, spec, schedules, compute, width, codec)
                    if cluster.num_gpus > 1 else [])
            variant.apply(jobs, phase_groups, compute, width)
            if copying:
                _mark_copies_out(jobs, phase_buckets, compute, width)
            planned.append((phase, count, jobs))
    perturbations = resolved.perturbations
    given = (perturbations.straggler_factors(cluster.num_gpus) if perturbations is not None
             else np.ones(1 if run.engine == "analytical" else cluster.num_gpus))
    factors = stretched(resolved.slowest, given)
    return StepPlan(forward, backward, update_time, buckets, memory, planned, factors, batch, accumulation,
                    phase_compute, phase_update, copy_in, sync, alone)


def _broadcast_seconds(resolved: ResolvedRun, nbytes: float) -> float:
    """Seconds NCCL takes to broadcast ``nbytes`` from rank 0 to every GPU of the run, by NCCL's own tuning model
    (``latency + size / bandwidth`` of its fastest algorithm and protocol: :meth:`NcclTuner.predict
    <simtrain.collectives.nccl.NcclTuner.predict>`); 0 on one GPU.

    DDP broadcasts its buffers with NCCL whatever algorithm the run gives its gradients, and a few hundred KB take
    NCCL's latency: its ring broadcast's hops, one per rank. The closed form prices that without building and
    evaluating a chain of thousands of steps at every point of a study."""
    cluster = resolved.cluster
    if cluster.num_gpus == 1:
        return 0.0
    from simtrain.collectives.nccl import NcclTuner

    tuner = resolved.cache.get("tuner", ("broadcast", "world"), lambda: NcclTuner(
        "broadcast", cluster, [np.arange(cluster.num_gpus)], [1.0], resolved.cache))
    return float(tuner.predict(tuner.choose(nbytes), nbytes))


def _mark_copies_out(jobs: Sequence[CommJob], buckets: Sequence[tuple[int, list[Tensor], list[str]]],
                     compute: ComputeModel, width: int) -> None:
    """Set the copy of each bucket's reduced gradients back into ``.grad`` on the bucket's last job (the one
    DDP's ``finalize_backward`` waits for before copying)."""
    last = {job.bucket: index for index, job in enumerate(jobs) if not job.after_update and job.bucket >= 0}
    for bucket, index in last.items():
        if bucket < len(buckets):
            jobs[index].copy_out_s = copy_seconds(buckets[bucket][1], width, compute)


def _layer_times(spec: ModelSpec, factorised: Mapping[str, tuple[str, int]] | None, compute: ComputeModel,
                 batch: int, dtype: str) -> tuple[list[float], list[float]]:
    """Forward and backward seconds per layer; the weights named in ``factorised`` run as their factor GEMMs
    (:func:`simtrain.lowrank.compute.layer_time`)."""
    if not factorised:
        return ([compute.layer_time(layer, batch, "forward", dtype) for layer in spec.layers],
                [compute.layer_time(layer, batch, "backward", dtype) for layer in spec.layers])
    from simtrain.lowrank.compute import layer_time

    forward, backward = [], []
    for layer in spec.layers:
        how = next((factorised[t.name] for t in layer.tensors if t.name in factorised), None)
        forward.append(layer_time(compute, layer, how, batch, "forward", dtype))
        backward.append(layer_time(compute, layer, how, batch, "backward", dtype))
    return forward, backward


def micro_batching(run: TrainingRun, num_gpus: int) -> tuple[int, int]:
    """Samples per GPU per forward/backward, and forward/backward passes per step (gradient accumulation).

    ``batch`` alone: one pass of ``batch``. ``micro_batch`` (and optionally ``global_batch``, default
    ``micro_batch × GPUs``): passes of ``micro_batch`` until the global batch is reached. ``global_batch`` alone:
    one pass of ``global_batch / GPUs``.

    Examples
    --------
    >>> micro_batching(TrainingRun("resnet50", "abci", micro_batch=8, global_batch=1024), 64)
    (8, 2)
    >>> micro_batching(TrainingRun("resnet50", "abci", micro_batch=8, global_batch=1000), 64)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: global_batch: must be a multiple of micro_batch × GPUs = 8 × 64 = 512 (got 1000)
    """
    if run.micro_batch is None and run.global_batch is None:
        return run.batch, 1
    micro = run.micro_batch
    if micro is None:
        assert run.global_batch is not None
        micro = run.global_batch // num_gpus
        if micro * num_gpus != run.global_batch:
            raise ConfigError(f"must be a multiple of the {num_gpus} GPUs", key="global_batch",
                              value=run.global_batch)
        return micro, 1
    total = run.global_batch if run.global_batch is not None else micro * num_gpus
    if total % (micro * num_gpus):
        raise ConfigError(f"must be a multiple of micro_batch × GPUs = {micro} × {num_gpus} = {micro * num_gpus}",
                          key="global_batch", value=total)
    return micro, total // (micro * num_gpus)


def run_plan(resolved: ResolvedRun, step: StepPlan, record_loads: bool = False,
             record_phases: bool | Sequence[int] = False) -> list[tuple[Phase, int, CommOutcome, float]]:
    """Stage 3: run every phase's communication on the engine; each phase's outcome and step time."""
    run, cluster = resolved.run, resolved.cluster
    factors = step.factors
    outcomes: list[tuple[Phase, int, CommOutcome, float]] = []
    # only the entry the report draws its buckets, timeline and trace from records its collectives' phases
    drawn = step.drawn_entry()
    for index, (phase, count, jobs) in enumerate(step.phases):
        forward_time, backward_time = step.compute_of(phase.name)
        update_time = step.update_of(phase.name)
        # the passes before the last one (gradient accumulation) come before the last forward
        forward_time += (step.accumulation - 1) * (forward_time + backward_time)
        forward_time += step.syncs_before(phase, jobs)   # DDP's buffer broadcast, before the first forward
        backward_time += step.copies_in(phase, jobs)   # the last backward copies its gradients into the buckets
        shares = _job_shares(jobs, cluster, resolved.network, resolved.cache)
        if run.engine == "analytical":
            comm = _comm_analytical(jobs, cluster, resolved.network, forward_time + backward_time, update_time,
                                    resolved.cache, shares, float(factors[0]))
        else:
            from simtrain.training.des_step import comm_des

            comm = comm_des(jobs, cluster, forward_time, backward_time, update_time, factors, resolved.network,
                            perturbations=resolved.perturbations, store_and_forward=run.store_and_forward,
                            record_loads=record_loads, cache=resolved.cache,
                            record_phases=record_phases if index == drawn else False,
                            shares=shares)
        work = (forward_time + backward_time) * factors
        compute_end = work
        if (shares > 0).any() and comm.job_start is not None and comm.job_end is not None:
            width = len(work)
            compute_end = compute_ends(work, np.broadcast_to(comm.job_start, (len(jobs), width)),
                                       np.broadcast_to(comm.job_end, (len(jobs), width)), shares)
        shared = compute_end - work
        compute_end = (copies_back(jobs, compute_end, comm.job_end, factors)
                       + step.copies_back_alone(phase, jobs) * factors)
        finish = np.maximum(compute_end, comm.comm_end) + update_time * factors
        if comm.finish is not None:
            finish = np.maximum(finish, comm.finish)
        # the rank that ends the step (of those that end it together, the slowest computing): what sharing cost
        # it, and its speed
        ending = np.flatnonzero(finish >= finish.max() * (1 - 1e-12))
        last = int(ending[np.argmax(factors[ending])])
        comm.shared_s = float(shared[last])
        comm.last_factor = float(factors[last])
        outcomes.append((phase, count, comm, float(finish.max())))
    return outcomes


def copies_back(jobs: Sequence[CommJob], compute_end: np.ndarray, job_end: np.ndarray | None,
                factors: np.ndarray) -> np.ndarray:
    """When each rank's compute stream is done copying the reduced gradients back (DDP's ``finalize_backward``:
    once backward has ended, bucket by bucket in order, each copy after its bucket's collective), from
    ``compute_end`` (per rank) and the jobs' ends (``job_end``: jobs x ranks, or one column for all); the copies
    stretch with each rank's compute ``factors``. ``compute_end`` itself where no job copies.

    Examples
    --------
    >>> from types import SimpleNamespace as J
    >>> jobs = [J(copy_out_s=0.001), J(copy_out_s=0.0), J(copy_out_s=0.002)]
    >>> copies_back(jobs, np.array([0.010]), np.array([[0.004], [0.011], [0.015]]), np.ones(1))
    array([0.017])
    """
    copies = [index for index, job in enumerate(jobs) if job.copy_out_s > 0]
    if not copies or job_end is None:
        return compute_end
    ends = np.broadcast_to(job_end, (len(jobs), len(compute_end)))
    clock = np.asarray(compute_end, dtype=float)
    for index in copies:
        clock = np.maximum(clock, ends[index]) + jobs[index].copy_out_s * factors
    return clock


def _job_shares(jobs: Sequence[CommJob], cluster: Cluster, network: NetworkOptions,
                cache: NetworkCache) -> np.ndarray:
    """Each job's share of a GPU while it runs (:func:`~simtrain.training.overlap.collective_share`; 0 for jobs
    after the update, which overlap no compute)."""
    return np.array([0.0 if job.after_update else collective_share(job.schedule, cluster, network, job.group, cache)
                     for job in jobs])


def report(resolved: ResolvedRun, step: StepPlan, outcomes: Sequence[tuple[Phase, int, CommOutcome, float]],
           clean_step_time_s: float | None = None) -> StepReport:
    """Stage 4: the step report (means over the scheme's period) with the configuration that ran."""
    run, spec, cluster, device = resolved.run, resolved.model, resolved.cluster, resolved.device
    passes = step.accumulation
    batch = step.batch or run.batch
    period = sum(count for _, count, _, _ in outcomes)
    # compute is a mean over the period too where a phase runs factorised layers
    forward_time = passes * sum(count * step.compute_of(p.name)[0] for p, count, _, _ in outcomes) / period
    backward_time = passes * sum(count * step.compute_of(p.name)[1] for p, count, _, _ in outcomes) / period
    update_time = sum(count * step.update_of(p.name) for p, count, _, _ in outcomes) / period
    step_time = sum(count * t for _, count, _, t in outcomes) / period
    drawn = step.drawn_entry()
    main_phase, _, main, main_step = outcomes[drawn]
    main_jobs = step.phases[drawn][2]
    main_forward, main_backward = step.phase_compute.get(main_phase.name, (step.forward, step.backward))
    single = forward_time + backward_time + update_time
    # the compute of the rank that ends the step, against which its sharing cost and exposed communication count
    ending_compute = single * sum(count * c.last_factor for _, count, c, _ in outcomes) / period
    # compute the overlapped collectives took by holding SMs on the rank that ends the step (mean over the period)
    shared = sum(count * c.shared_s for _, count, c, _ in outcomes) / period
    # the framework's gradient copies on the compute stream (DDP's, into the buckets and back), on the rank that ends
    # the step
    copies = sum(count * c.last_factor * (step.copies_in(phase, jobs) + sum(job.copy_out_s for job in jobs)
                                          + step.copies_back_alone(phase, jobs))
                 for (phase, count, c, _), (_, _, jobs) in zip(outcomes, step.phases)) / period
    # DDP's buffer broadcast before the first forward, on the rank that ends the step
    sync = sum(count * c.last_factor * step.syncs_before(phase, jobs)
               for (phase, count, c, _), (_, _, jobs) in zip(outcomes, step.phases)) / period
    # what is left of the step is exposed communication; a float's remainder (1e-9 of the step) is none
    exposed = step_time - ending_compute - shared - copies - sync
    exposed = exposed if exposed > 1e-9 * step_time else 0.0
    by_class: dict[str, float] = dict.fromkeys(cluster.class_names, 0.0)
    for _, count, comm, _ in outcomes:
        for name, value in comm.bytes_by_class.items():
            by_class[name] += count * value / period
    config = run.to_dict()
    config.update({
        "model": spec.name, "model_source": spec.source, "topology": cluster.name, "topology_source": cluster.source,
        "gpus": cluster.num_gpus, "algorithm": resolved.algorithm, "algorithm_params": dict(resolved.algorithm_params),
        "chunks": resolved.chunks, "bucket_size_bytes": run.bucket_size,
        "scheme": resolved.scheme.describe(), "scheme_params": resolved.scheme.get_params(),
        "network": dataclasses.asdict(resolved.network),
        "perturbations": resolved.perturbations.describe() if resolved.perturbations is not None else None,
        "compute": resolved.compute_config,
        "collectives_chosen": _chosen(step),
    })
    # the last forward of the step ends after DDP's buffer broadcast and the passes before it (accumulation)
    busiest_phase, _, busiest = step.phases[step.drawn_entry()] if step.phases else (None, 0, [])
    forward_end = 0.0
    if busiest_phase is not None:
        one_forward, one_backward = step.compute_of(busiest_phase.name)
        forward_end = (step.syncs_before(busiest_phase, busiest) + (passes - 1) * (one_forward + one_backward)
                       + one_forward)
    # the framework's costs over the busiest phase's entries (one per variant of the framework), their mean
    entries = [jobs for phase, _, jobs in step.phases if phase is busiest_phase] or [busiest]
    each = [framework_costs(jobs, forward_end, float(step.factors.min())) for jobs in entries]
    costs: dict[str, Any] = {key: sum(c[key] for c in each) / len(each) for key in each[0]}
    return StepReport(
        model=spec.name,
        topology=cluster.name,
        num_gpus=cluster.num_gpus,
        device=device.name,
        dtype=run.dtype,
        batch_per_gpu=batch,
        global_batch=batch * passes * cluster.num_gpus,
        algorithm=resolved.algorithm,
        engine=run.engine,
        step_time_s=step_time,
        forward_time_s=forward_time,
        backward_time_s=backward_time,
        update_time_s=update_time,
        compute_time_s=single,
        comm_time_s=sum(count * c.comm_time for _, count, c, _ in outcomes) / period,
        exposed_comm_time_s=exposed,
        shared_compute_time_s=shared,
        slowest_gpu_factor=resolved.slowest,
        slowest_gpu_wait_s=ending_compute - single,
        bytes_per_gpu=sum(count * c.bytes_per_gpu for _, count, c, _ in outcomes) / period,
        bytes_per_gpu_by_class=by_class,
        num_buckets=len(step.buckets),
        bucket_size_bytes=run.bucket_size,
        throughput_samples_per_s=batch * passes * cluster.num_gpus / step_time,
        single_gpu_step_time_s=single,
        scaling_efficiency=single / step_time,
        memory_per_gpu_bytes=step.memory["total"],
        memory_capacity_bytes=device.memory_bytes,
        params=spec.num_params,
        buckets=main.buckets,
        clean_step_time_s=clean_step_time_s,
        max_link_utilization=main.max_link_utilization(main_step),
        timeline=StepTimeline([layer.name for layer in spec.layers], main_forward, main_backward,
                              step.update_of(main_phase.name),
                              step.factors, main, cluster,
                              copy_in_s=step.copy_in if step.copies_in(main_phase, main_jobs) else [],
                              copy_out_s={job.bucket: job.copy_out_s for job in main_jobs if job.copy_out_s > 0}
                              | ({-1: back} if (back := step.copies_back_alone(main_phase, main_jobs)) > 0
                                 else {}),
                              buffer_sync_s=step.syncs_before(main_phase, main_jobs)),
        scheme=resolved.scheme.describe(),
        phase_step_times_s=_phase_means(outcomes),
        phase_steps_per_period={phase.name: count for phase, count, _, _ in outcomes},
        framework=make_framework(run.framework).describe(),
        bucket_copy_s=copies,
        buffer_sync_s=sync,
        config=config,
        **costs,
    )


def _phase_means(outcomes: Sequence[tuple[Phase, int, CommOutcome, float]]) -> dict[str, float]:
    """Each phase's step time: the mean over its entries (a framework's variants plan a phase once each)."""
    totals: dict[str, list[float]] = {}
    for phase, _, _, seconds in outcomes:
        totals.setdefault(phase.name, []).append(seconds)
    return {name: sum(times) / len(times) for name, times in totals.items()}


def _chosen(step: StepPlan) -> list[dict[str, Any]]:
    """What ``--algorithm auto`` chose for the step's collectives (NCCL's algorithm and protocol per size)."""
    from simtrain.collectives.nccl import choices

    return choices(job.schedule for _, _, jobs in step.phases for job in jobs)


def simulate(run: TrainingRun | str | ModelSpec, topology: str | Cluster | None = None, *,
             cache: RunCache | None = None, record_loads: bool = False, record_phases: bool | Sequence[int] = False,
             **params: Any) -> StepReport:
    """Simulate one data-parallel training step (the mean over a period for step-dependent schemes).

    The step runs in four stages, each a function of its own: :func:`resolve` (names to objects),
    :func:`plan` (compute times, buckets, communication jobs), :func:`run_plan` (the network engine) and
    :func:`report`.

    Parameters
    ----------
    run : TrainingRun, or the model
        The run; or, as a convenience, the model (catalog name, YAML path or ModelSpec) with ``topology`` and the
        other parameters of :class:`~simtrain.run.TrainingRun` as keywords.
    topology : str or Cluster, optional
        With a model as ``run``: the cluster (catalog name, YAML path or a Cluster).
    cache : RunCache, optional
        Clusters, compute profiles and network templates shared with other runs (default: this process's
        :func:`~simtrain.training.run_cache.default_cache`); it never changes an answer.
    record_loads : bool
        DES only: keep the link loads over time (for traces).
    record_phases : bool or sequence of int
        DES only: record these GPUs' collective phases in each bucket (``True``: the trace's default ranks).
    **params
        With a model as ``run``: the parameters of :class:`~simtrain.run.TrainingRun` (``gpus``, ``batch``,
        ``algorithm``, ``scheme``, ``engine``, ``bucket_size``, ``profile`` or ``compute``, ``network``,
        ``perturbations``, ``algorithm_params`` …).

    Returns
    -------
    StepReport

    Examples
    --------
    >>> r = simulate("bert-base", "dgx-h100", gpus=64, batch=16, dtype="bf16")
    >>> r.exposed_comm_time_s >= 0
    True
    >>> simulate(TrainingRun("bert-base", "dgx-h100", gpus=64, batch=16, dtype="bf16")).step_time_s == r.step_time_s
    True
    """
    if cache is not None and not isinstance(cache, RunCache):
        raise ConfigError("must be a RunCache (simtrain.training.run_cache), or None for this process's default",
                          key="cache", value=cache)
    if isinstance(run, TrainingRun):
        if topology is not None or params:
            raise TypeError("simulate(run) takes a TrainingRun alone; change it with run.replace(...)")
    else:
        unknown = [name for name in params if name not in _RUN_FIELDS]
        if unknown:   # named as a run's parameter, with the closest one, not as TrainingRun.__init__'s TypeError
            raise ConfigError("unknown parameter", key="simulate", value=unknown[0],
                              choices=[*_RUN_FIELDS, "cache", "record_loads", "record_phases"])
        run = TrainingRun(run, topology, **params)
    cache = cache or default_cache()
    resolved = resolve(run, cache)
    if run.parallel is not None:   # tensor/pipeline/context/expert parallelism: simtrain.parallel
        from simtrain.parallel.step import simulate_hybrid

        clean = None
        if resolved.perturbations is not None:
            clean = simulate(_clean(run), cache=cache).step_time_s
        return _run_length(_finite(simulate_hybrid(resolved, clean)), resolved)
    step = plan(resolved)
    outcomes = run_plan(resolved, step, record_loads, record_phases)
    clean = None
    if resolved.perturbations is not None:
        clean = simulate(_clean(run), cache=cache).step_time_s
    return _run_length(_finite(report(resolved, step, outcomes, clean)), resolved)


#: What :func:`simulate` takes as keywords besides its own: :class:`TrainingRun`'s fields but the model and cluster.
_RUN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainingRun) if f.name not in ("model", "topology"))


def _clean(run: TrainingRun) -> TrainingRun:
    """The run without its perturbations, against which they are reported: the same GPUs, or, where
    ``compute_jitter`` drew each GPU's speed, identical GPUs."""
    spread = 0.0 if run.compute_jitter > 0 else run.gpu_spread
    return run.replace(perturbations=None, compute_jitter=0.0, gpu_spread=spread, check_memory=False)


def _run_length(result: Any, resolved: Any) -> Any:
    """``result`` with the run's length read: an epoch shorter than one step is refused, and a scheme whose dense
    warm-up lasts the whole run gets ``traffic``'s warning (as a study's ``warmup_past_end`` column records)."""
    run = resolved.run
    if run.samples_per_epoch is None or run.epochs is None:
        return result
    from simtrain.compression.traffic import warmup_warning

    cluster = resolved.cluster
    result.warmup_warning = warmup_warning(resolved.scheme, resolved.model, cluster.num_gpus, cluster.gpus_per_node,
                                           run.dtype, int(run.samples_per_epoch), float(run.epochs),
                                           int(result.global_batch))
    return result


def _finite(result: Any) -> Any:
    """``result`` if its step time is a finite number; else a :class:`ConfigError`: every input is bounded
    so that sums stay finite (docs/limits.md), and a step of inf or NaN seconds is never reported as an answer."""
    if not math.isfinite(result.step_time_s):
        raise ConfigError("the inputs give a step time that is not a finite number; an input is far out of scale "
                          "(a rate near zero, a time near the bounds)", key="step_time", value=result.step_time_s,
                          allowed="inputs within docs/limits.md's bounds whose step takes a finite time")
    return result


def _compute_fields(compute: ComputeModel) -> dict[str, Any]:
    return {"compute_efficiency": compute.compute_efficiency, "memory_efficiency": compute.memory_efficiency,
            "kernel_overhead_s": compute.kernel_overhead_s, "memory_format": compute.memory_format,
            "autocast": compute.autocast}


def _perturbations(run: TrainingRun, cluster: Cluster) -> Perturbations | None:
    """The run's perturbations: from a file or an object, plus per-GPU compute jitter drawn from the seed."""
    given = run.perturbations
    if isinstance(given, str):
        from simtrain.config import load_yaml

        given = Perturbations.from_dict(load_yaml(given), source=given)
    combined = Perturbations()
    if given is not None:
        combined.merge(given)
    if run.compute_jitter > 0:
        for rank, factor in enumerate(draw_factors(run.compute_jitter, cluster.num_gpus, run.seed)):
            combined.stragglers.setdefault(rank, float(factor))
    return None if combined.empty else combined


def _as_block(segments: Sequence[Any]) -> Any:
    from simtrain.compression.base import Block

    return Block(tuple(segments))
