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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simtrain import units
from simtrain.compression import Phase, Scheme, SchemeContext, make_scheme, steps_per_phase
from simtrain.compression.base import Communication
from simtrain.compute import OPTIMIZER_STATES, ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.hardware import get_device
from simtrain.model import DTYPE_BYTES, ModelSpec, Tensor, load_model
from simtrain.network import ENGINES, NetworkOptions, evaluate, schedule_traffic
from simtrain.network.perturb import Perturbations
from simtrain.topology import Cluster, load_topology
from simtrain.training.report import BucketTiming, StepReport, StepTimeline

__all__ = ["CommJob", "memory_per_gpu", "simulate"]

DTYPES = ("fp32", "fp16", "bf16")


def memory_per_gpu(model: ModelSpec, batch: int, dtype: str = "fp32", optimizer: str = "momentum") -> dict[str, float]:
    """Bytes one GPU holds for training: weights, gradients, fp32 master copy, optimizer state, activations.

    With fp16/bf16 (mixed precision) weights and gradients are half precision and an fp32 master copy is kept;
    optimizer states are fp32.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> m = memory_per_gpu(load_model("resnet50"), 32, "fp32", "momentum")
    >>> m["weights"] == m["gradients"] == m["optimizer_state"] == 25_557_032 * 4
    True
    """
    width = DTYPE_BYTES[dtype]
    params = model.num_params
    parts = {
        "weights": params * width,
        "gradients": params * width,
        "master_weights": params * 4 if width < 4 else 0,
        "optimizer_state": params * 4 * OPTIMIZER_STATES[optimizer],
        "activations": model.activation_bytes(batch, dtype),
    }
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

    def max_link_utilization(self, step_time: float) -> float:
        """Busiest link's bytes over what it could carry in the step."""
        if self.link_bytes is None or self.link_capacity is None or step_time <= 0:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            utilization = np.where(self.link_capacity > 0, self.link_bytes / (self.link_capacity * step_time), 0)
        return float(utilization.max()) if utilization.size else 0.0


def step_cache(cluster: Cluster, name: str) -> dict[Any, Any]:
    """A cache that lives as long as ``cluster``: schedule templates, and the engine's routes and rates of their
    flows (keyed by the ids of the templates' arrays, which the templates keep alive)."""
    caches: dict[str, dict[Any, Any]] = cluster.__dict__.setdefault("_step_caches", {})
    return caches.setdefault(name, {})


def _traffic(jobs: Sequence[CommJob], cluster: Cluster) -> tuple[float, dict[str, float], np.ndarray]:
    """Bytes sent per GPU, per link class and per link, of all jobs (the schedules' own accounting)."""
    by_class = dict.fromkeys(cluster.class_names, 0.0)
    link_bytes = np.zeros(cluster.num_links)
    total = 0.0
    routes = step_cache(cluster, "routes")
    for job in jobs:
        traffic = schedule_traffic(job.schedule, cluster, routes)
        total += job.schedule.bytes_sent / cluster.num_gpus
        link_bytes += traffic.link_bytes
        for name, value in traffic.bytes_by_class.items():
            by_class[name] += value / cluster.num_gpus
    return total, by_class, link_bytes


def _timings(jobs: Sequence[CommJob], starts: Sequence[float], ends: Sequence[float]) -> list[BucketTiming]:
    """Per-bucket timing (a bucket's jobs merged) of the jobs that overlap backward."""
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
            out[job.bucket] = BucketTiming(job.bucket, size, job.ready, start, end, job.layers)
    return [out[k] for k in sorted(out)]


def _comm_analytical(jobs: Sequence[CommJob], cluster: Cluster, network: NetworkOptions | None,
                     compute_end: float, update: float) -> CommOutcome:
    """Jobs run one after another on the stream, each as soon as it is ready and the stream is free."""
    results: dict[tuple[int, float], Any] = {}
    flow_cache: dict[tuple[int, int], Any] = step_cache(cluster, "flows")
    clock = 0.0
    overlap_end = 0.0
    starts, ends = [], []
    comm_time = 0.0
    for job in jobs:
        key = (id(job.schedule.patterns[0].src) if job.schedule.patterns else 0, job.schedule.size_bytes)
        result = results.get(key)
        if result is None:
            result = results[key] = evaluate(job.schedule, cluster, network, flow_cache)
        if job.after_update:
            earliest = max(compute_end, overlap_end) + update if clock <= overlap_end else clock
        else:
            earliest = job.ready
        start = max(earliest + job.delay, clock)
        clock = start + result.time_s
        if not job.after_update:
            overlap_end = clock
        comm_time += result.time_s
        starts.append(start)
        ends.append(clock)
    total, by_class, link_bytes = _traffic(jobs, cluster)
    post = any(job.after_update for job in jobs)
    finish = np.array([clock]) if post else None
    return CommOutcome(_timings(jobs, starts, ends), np.array([overlap_end]), comm_time, total, by_class,
                       link_bytes, cluster.link_bandwidth_Bps, finish=finish)


def _buckets(model: ModelSpec, bucket_bytes: float, width: int) -> list[tuple[int, list[Tensor], list[str]]]:
    """(index of the earliest layer, tensors, layer names) of each bucket, in the order backward fills them."""
    buckets: list[tuple[int, list[Tensor], list[str]]] = []
    size = 0.0
    tensors: list[Tensor] = []
    names: list[str] = []
    for index in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[index]
        if not layer.num_params:
            continue
        size += layer.num_params * width
        tensors.extend(layer.tensors)
        names.append(layer.name)
        if size >= bucket_bytes:
            buckets.append((index, tensors, names))
            size, tensors, names = 0.0, [], []
    if tensors:
        first = min(i for i, layer in enumerate(model.layers) if layer.num_params)
        buckets.append((first, tensors, names))
    return buckets


class _Schedules:
    """Schedules of communications, built once per kind and resized (so the engines' caches are shared)."""

    def __init__(self, cluster: Cluster, gpus_per_node: int, algorithm: str, algorithm_params: dict[str, Any],
                 chunks: int) -> None:
        self.cluster = cluster
        self.gpus_per_node = gpus_per_node
        self.algorithm = algorithm
        self.algorithm_params = algorithm_params
        self.chunks = chunks
        # kept on the cluster, so a sweep over batch sizes, dtypes or schemes on one cluster builds each template
        # (and routes its flows) once; the arrays stay alive with the cluster, so id()-keyed engine caches hold
        key = (algorithm, repr(sorted(algorithm_params.items())), chunks, gpus_per_node)
        self.templates: dict[tuple[Any, ...], Any] = step_cache(cluster, "templates").setdefault(key, {})

    def get(self, comm: Communication) -> Any:
        """The schedule of ``comm``: a cached template of its kind, resized to its bytes."""
        from simtrain.collectives import build_schedule
        from simtrain.compression.traffic import comm_schedule, comm_sizes

        _, sizes = comm_sizes(comm, self.cluster.num_gpus, self.gpus_per_node)
        ratios = tuple(round(size / sizes[0], 9) for size in sizes) if sizes[0] else None
        key = (comm.op, comm.group, ratios, comm.pull_bytes / comm.payload_bytes if comm.pull_bytes else None,
               comm.servers)
        template = self.templates.get(key)
        if template is None:
            if comm.op == "all-reduce" and comm.group == "world":
                # the user's algorithm, parameters and chunking for the plain gradient all-reduce
                template = build_schedule("all-reduce", sizes[0], self.cluster, self.algorithm, chunks=self.chunks,
                                          **self.algorithm_params)
            else:
                template = comm_schedule(comm, self.cluster, self.gpus_per_node, self.algorithm)
            self.templates[key] = template
        return template.resized(float(sum(sizes)))


def _phase_jobs(phase: Phase, buckets: Sequence[tuple[int, list[Tensor], list[str]]], ready: np.ndarray,
                model: ModelSpec, schedules: _Schedules, compute: ComputeModel, width: int) -> list[CommJob]:
    jobs: list[CommJob] = []

    def delay(tensors: Sequence[Tensor]) -> float:
        if phase.compute_flops is None:
            return 0.0
        flops = phase.compute_flops(tensors)
        if not flops:
            return 0.0
        nbytes = 3.0 * width * sum(t.numel for t in tensors)  # a few passes over the gradient
        return compute.kernel_time(flops, nbytes, "fp32")

    if phase.overlap:
        for index, (_first, tensors, names) in enumerate(buckets):
            wait = delay(tensors)
            for comm in phase.comms(tensors):
                if comm.payload_bytes <= 0:
                    continue
                jobs.append(CommJob(comm.label, schedules.get(comm), index, float(ready[index]), wait,
                                    layers=tuple(names)))
                wait = 0.0
    else:
        tensors = model.tensors
        wait = delay(tensors)
        for comm in phase.comms(tensors):
            if comm.payload_bytes <= 0:
                continue
            jobs.append(CommJob(comm.label, schedules.get(comm), -1, 0.0, wait, after_update=True))
            wait = 0.0
    return jobs


def simulate(
    model: str | ModelSpec,
    topology: str | Cluster,
    *,
    gpus: int | None = None,
    batch: int = 32,
    algorithm: str = "ring",
    dtype: str = "fp32",
    engine: str = "analytical",
    bucket_size: Any = "25 MiB",
    optimizer: str = "momentum",
    chunks: int = 1,
    compute: ComputeModel | None = None,
    network: NetworkOptions | None = None,
    algorithm_params: dict[str, Any] | None = None,
    check_memory: bool = True,
    perturbations: Perturbations | None = None,
    store_and_forward: bool = False,
    record_loads: bool = False,
    scheme: str | Scheme | None = None,
) -> StepReport:
    """Simulate one data-parallel training step (the mean over a period for step-dependent schemes).

    Parameters
    ----------
    model : str or ModelSpec
        Catalog name, YAML path, or a ModelSpec.
    topology : str or Cluster
        Catalog name, YAML path, or a Cluster.
    gpus : int, optional
        GPU count to instantiate a topology family at.
    batch : int
        Samples per GPU.
    algorithm : str
        Algorithm of the all-reduces (and all-gathers, reduce-scatters) of the gradient buckets.
    dtype : {'fp32', 'fp16', 'bf16'}
        Compute and gradient precision.
    engine : str
        Network engine.
    bucket_size : str or float
        Gradient bucket size.
    optimizer : {'sgd', 'momentum', 'adam'}
        Optimizer (decides optimizer-state memory and update time).
    chunks : int
        Chunks per bucket all-reduce.
    compute : ComputeModel, optional
        Defaults to the roofline of the cluster's device.
    network : NetworkOptions, optional
        Per-step network charges.
    check_memory : bool
        Raise :class:`InfeasibleError` when the step does not fit in GPU memory.
    perturbations : Perturbations, optional
        Stragglers, degraded/failed links, background traffic (``engine='des'``); the report then also carries
        the clean step time.
    store_and_forward : bool
        DES only: serialise every hop.
    record_loads : bool
        DES only: keep the link loads over time (for traces).
    scheme : str or Scheme, optional
        Communication-reduction scheme (``NAME:key=value``); default plain data parallelism.

    Returns
    -------
    StepReport

    Examples
    --------
    >>> r = simulate("bert-base", "dgx-h100", gpus=64, batch=16, dtype="bf16")
    >>> r.exposed_comm_time_s >= 0
    True
    """
    spec = model if isinstance(model, ModelSpec) else load_model(model)
    cluster = topology if isinstance(topology, Cluster) else load_topology(topology, gpus=gpus)
    if gpus is not None and cluster.num_gpus != gpus:
        raise ConfigError(f"the given cluster has {cluster.num_gpus} GPUs", key="--gpus", value=gpus)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError("must be a positive integer", source="<cli>", key="--batch", value=batch)
    if dtype not in DTYPES:
        raise ConfigError("unknown dtype", source="<cli>", key="--dtype", value=dtype, choices=DTYPES)
    if optimizer not in OPTIMIZER_STATES:
        raise ConfigError("unknown optimizer", source="<cli>", key="--optimizer", value=optimizer,
                          choices=list(OPTIMIZER_STATES))
    if engine not in ENGINES:
        raise ConfigError("unknown engine", source="<cli>", key="--engine", value=engine, choices=ENGINES)
    bucket_bytes = units.parse_size(bucket_size) if isinstance(bucket_size, str) else float(bucket_size)
    if not bucket_bytes > 0:
        raise ConfigError("must be a positive size", source="<cli>", key="--bucket-size", value=bucket_size)
    the_scheme = make_scheme(scheme or "none")
    device = get_device(cluster.device)
    compute = compute or ComputeModel.roofline(device)
    width = DTYPE_BYTES[dtype]

    memory = memory_per_gpu(spec, batch, dtype, optimizer)
    if check_memory and memory["total"] > device.memory_bytes:
        parts = ", ".join(f"{k.replace('_', ' ')} {units.format_size(v)}" for k, v in memory.items()
                          if k != "total" and v)
        raise InfeasibleError(
            f"{spec.name} at batch {batch} per GPU in {dtype} with {optimizer} needs "
            f"{units.format_size(memory['total'])} per GPU ({parts}) but a {device.name} has "
            f"{units.format_size(device.memory_bytes)}: short by "
            f"{units.format_size(memory['total'] - device.memory_bytes)}; lower --batch or use another device"
        )
    perturbed = perturbations is not None and not perturbations.empty
    if engine == "analytical" and perturbed:
        raise ConfigError("perturbations are simulated by the DES", source="<cli>", key="--engine",
                          value=engine, allowed="des")

    forward = [compute.layer_time(layer, batch, "forward", dtype) for layer in spec.layers]
    backward = [compute.layer_time(layer, batch, "backward", dtype) for layer in spec.layers]
    forward_time = sum(forward)
    backward_time = sum(backward)
    update_time = compute.update_time(spec.num_params, dtype, optimizer)
    # backward runs in reverse: the end time of each layer's backward, measured from the start of backward
    done_at = [0.0] * len(spec.layers)
    clock = 0.0
    for index in range(len(spec.layers) - 1, -1, -1):
        clock += backward[index]
        done_at[index] = clock
    buckets = _buckets(spec, bucket_bytes, width) if cluster.num_gpus > 1 else []
    ready = np.array([forward_time + done_at[first] for first, _, _ in buckets])

    ctx = SchemeContext(spec, cluster.num_gpus, cluster.gpus_per_node, dtype)
    phases = the_scheme.phases(ctx)
    counts = steps_per_phase([_as_block(the_scheme.period(ctx))], len(phases))
    schedules = _Schedules(cluster, cluster.gpus_per_node, algorithm, dict(algorithm_params or {}), chunks)
    factors = (perturbations.straggler_factors(cluster.num_gpus) if perturbed and perturbations
               else np.ones(1 if engine == "analytical" else cluster.num_gpus))

    outcomes: list[tuple[Phase, int, CommOutcome, float]] = []
    for phase, count in zip(phases, counts):
        if count == 0:
            continue
        jobs = _phase_jobs(phase, buckets, ready, spec, schedules, compute, width) if cluster.num_gpus > 1 else []
        if engine == "analytical":
            comm = _comm_analytical(jobs, cluster, network, forward_time + backward_time, update_time)
        else:
            from simtrain.training.des_step import comm_des

            comm = comm_des(jobs, cluster, forward_time, backward_time, update_time, factors, network,
                            perturbations=perturbations if perturbed else None, store_and_forward=store_and_forward,
                            record_loads=record_loads)
        compute_end = (forward_time + backward_time) * factors
        finish = np.maximum(compute_end, comm.comm_end) + update_time * factors
        if comm.finish is not None:
            finish = np.maximum(finish, comm.finish)
        outcomes.append((phase, count, comm, float(finish.max())))

    period = sum(count for _, count, _, _ in outcomes)
    step = sum(count * t for _, count, _, t in outcomes) / period
    _, _, main, main_step = max(outcomes, key=lambda o: o[1])
    single = forward_time + backward_time + update_time
    slowest_compute = float(((forward_time + backward_time + update_time) * factors).max())
    exposed = max(0.0, step - slowest_compute)
    by_class: dict[str, float] = dict.fromkeys(cluster.class_names, 0.0)
    for _, count, comm, _ in outcomes:
        for name, value in comm.bytes_by_class.items():
            by_class[name] += count * value / period
    clean_step = None
    if perturbed:
        clean_step = simulate(spec, cluster, batch=batch, algorithm=algorithm, dtype=dtype, engine=engine,
                              bucket_size=bucket_bytes, optimizer=optimizer, chunks=chunks, compute=compute,
                              network=network, algorithm_params=algorithm_params, check_memory=False,
                              store_and_forward=store_and_forward, scheme=the_scheme).step_time_s
    return StepReport(
        model=spec.name,
        topology=cluster.name,
        num_gpus=cluster.num_gpus,
        device=device.name,
        dtype=dtype,
        batch_per_gpu=batch,
        global_batch=batch * cluster.num_gpus,
        algorithm=algorithm,
        engine=engine,
        step_time_s=step,
        forward_time_s=forward_time,
        backward_time_s=backward_time,
        update_time_s=update_time,
        compute_time_s=single,
        comm_time_s=sum(count * c.comm_time for _, count, c, _ in outcomes) / period,
        exposed_comm_time_s=exposed,
        bytes_per_gpu=sum(count * c.bytes_per_gpu for _, count, c, _ in outcomes) / period,
        bytes_per_gpu_by_class=by_class,
        num_buckets=len(buckets),
        bucket_size_bytes=bucket_bytes,
        throughput_samples_per_s=batch * cluster.num_gpus / step,
        single_gpu_step_time_s=single,
        scaling_efficiency=single / step,
        memory_per_gpu_bytes=memory["total"],
        memory_capacity_bytes=device.memory_bytes,
        params=spec.num_params,
        buckets=main.buckets,
        clean_step_time_s=clean_step,
        max_link_utilization=main.max_link_utilization(main_step),
        timeline=StepTimeline([layer.name for layer in spec.layers], forward, backward, update_time, factors, main,
                              cluster),
        scheme=the_scheme.describe(),
        phase_step_times_s={phase.name: t for phase, _, _, t in outcomes},
        phase_steps_per_period={phase.name: count for phase, count, _, _ in outcomes},
        config={
            "model": spec.name, "model_source": spec.source, "topology": cluster.name,
            "topology_source": cluster.source, "gpus": cluster.num_gpus, "batch": batch, "dtype": dtype,
            "algorithm": algorithm, "algorithm_params": dict(algorithm_params or {}), "engine": engine,
            "bucket_size_bytes": bucket_bytes, "optimizer": optimizer, "chunks": chunks,
            "scheme": the_scheme.describe(), "scheme_params": the_scheme.get_params(),
            "store_and_forward": store_and_forward,
            "perturbations": perturbations.describe() if perturbed and perturbations else None,
            "compute": {"model": "roofline", "device": device.name,
                        "compute_efficiency": compute.compute_efficiency,
                        "memory_efficiency": compute.memory_efficiency,
                        "kernel_overhead_s": compute.kernel_overhead_s},
        },
    )


def _as_block(segments: Sequence[Any]) -> Any:
    from simtrain.compression.base import Block

    return Block(tuple(segments))
