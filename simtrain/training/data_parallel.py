"""The data-parallel training step: forward, backward with bucketed gradient all-reduce overlapped, update.

Layers run forward in order, then backward in reverse. Gradients are grouped into buckets of ``bucket_size``
(25 MiB by default, as PyTorch DDP) in reverse layer order; a bucket is ready when the backward of its earliest
layer finishes, and buckets are all-reduced one after another on a communication stream that overlaps the
rest of backward. The optimizer update starts when backward and the last all-reduce are done::

    step = forward + max(backward end, last all-reduce end) + update

The collective time of each bucket comes from the same Schedule and engine as ``simtrain collective``.

Examples
--------
>>> r = simulate("resnet50", "abci", gpus=1024, batch=32, dtype="fp16", algorithm="multidim-ring")
>>> r.num_gpus, r.global_batch
(1024, 32768)
>>> 0 < r.scaling_efficiency <= 1
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain import units
from simtrain.collectives import build_schedule
from simtrain.compute import OPTIMIZER_STATES, ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.hardware import get_device
from simtrain.model import DTYPE_BYTES, ModelSpec, load_model
from simtrain.network import ENGINES, NetworkOptions, evaluate
from simtrain.network.perturb import Perturbations
from simtrain.topology import Cluster, load_topology
from simtrain.training.report import BucketTiming, StepReport, StepTimeline

__all__ = ["memory_per_gpu", "simulate"]

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
class CommOutcome:
    """The communication stream of one step: per-bucket timings, per-rank end, bytes and link loads."""

    buckets: list[BucketTiming]
    comm_end: np.ndarray  # per rank (or one value for all), from the start of the step
    comm_time: float
    bytes_per_gpu: float
    bytes_by_class: dict[str, float]
    link_bytes: np.ndarray | None = None
    link_capacity: np.ndarray | None = None
    bucket_start: np.ndarray | None = None  # buckets x ranks (DES)
    bucket_end: np.ndarray | None = None
    load_history: list[tuple[float, np.ndarray, np.ndarray]] | None = None

    def max_link_utilization(self, step_time: float) -> float:
        """Busiest link's bytes over what it could carry in the step."""
        if self.link_bytes is None or self.link_capacity is None or step_time <= 0:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            utilization = np.where(self.link_capacity > 0, self.link_bytes / (self.link_capacity * step_time), 0)
        return float(utilization.max()) if utilization.size else 0.0


def _comm_analytical(buckets: list[tuple[int, float, list[str]]], template: Any, cluster: Cluster,
                     ready: np.ndarray, network: NetworkOptions | None) -> CommOutcome:
    """Buckets all-reduced one after another, each as soon as it is ready and the stream is free."""
    timings: list[BucketTiming] = []
    by_class: dict[str, float] = dict.fromkeys(cluster.class_names, 0.0)
    link_bytes = np.zeros(cluster.num_links)
    total_bytes = comm_time = comm_end = 0.0
    results: dict[float, Any] = {}
    flow_cache: dict[tuple[int, int], Any] = {}
    for i, (_first, size, names) in enumerate(buckets):
        result = results.get(size)
        if result is None:
            result = results[size] = evaluate(template.resized(size), cluster, network, flow_cache)
        start = max(float(ready[i]), comm_end)
        comm_end = start + result.time_s
        comm_time += result.time_s
        total_bytes += result.bytes_per_gpu
        if result.link_bytes is not None:
            link_bytes += result.link_bytes
        for name, value in result.bytes_by_class.items():
            by_class[name] += value / result.num_ranks
        timings.append(BucketTiming(i, size, float(ready[i]), start, comm_end, tuple(names)))
    return CommOutcome(timings, np.array([comm_end]), comm_time, total_bytes, by_class, link_bytes,
                       cluster.link_bandwidth_Bps)


def _buckets(model: ModelSpec, bucket_bytes: float, width: int) -> list[tuple[int, float, list[str]]]:
    """(index of the earliest layer, bytes, layer names) of each bucket, in the order backward fills them."""
    buckets: list[tuple[int, float, list[str]]] = []
    size, names = 0.0, []
    for index in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[index]
        if not layer.num_params:
            continue
        size += layer.num_params * width
        names.append(layer.name)
        if size >= bucket_bytes:
            buckets.append((index, size, names))
            size, names = 0.0, []
    if size:
        first = min(i for i, layer in enumerate(model.layers) if layer.num_params)
        buckets.append((first, size, names))
    return buckets


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
) -> StepReport:
    """Simulate one data-parallel training step.

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
        All-reduce algorithm for the gradient buckets.
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
    template = None
    if buckets:
        template = build_schedule("all-reduce", buckets[0][1], cluster, algorithm, chunks=chunks,
                                  **(algorithm_params or {}))
    # when each bucket's gradients are ready, from the start of the step (a straggler's compute is stretched)
    ready = np.array([forward_time + done_at[first] for first, _, _ in buckets])
    perturbed = perturbations is not None and not perturbations.empty
    if engine == "analytical":
        if perturbed:
            raise ConfigError("perturbations are simulated by the DES", source="<cli>", key="--engine",
                              value=engine, allowed="des")
        comm = _comm_analytical(buckets, template, cluster, ready, network)
        factors = np.ones(1)
    else:
        from simtrain.training.des_step import comm_des

        factors = (perturbations.straggler_factors(cluster.num_gpus) if perturbed and perturbations
                   else np.ones(cluster.num_gpus))
        comm = comm_des(buckets, template, cluster, ready, forward_time, factors, network,
                        perturbations=perturbations if perturbed else None, store_and_forward=store_and_forward,
                        record_loads=record_loads)
    compute_end = (forward_time + backward_time) * factors
    finish = np.maximum(compute_end, comm.comm_end) + update_time * factors
    step = float(finish.max())
    single = forward_time + backward_time + update_time
    exposed = max(0.0, step - float(((forward_time + backward_time + update_time) * factors).max()))
    throughput = batch * cluster.num_gpus / step
    clean_step = None
    if perturbed:
        clean_step = simulate(spec, cluster, batch=batch, algorithm=algorithm, dtype=dtype, engine=engine,
                              bucket_size=bucket_bytes, optimizer=optimizer, chunks=chunks, compute=compute,
                              network=network, algorithm_params=algorithm_params, check_memory=False,
                              store_and_forward=store_and_forward).step_time_s
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
        comm_time_s=comm.comm_time,
        exposed_comm_time_s=exposed,
        bytes_per_gpu=comm.bytes_per_gpu,
        bytes_per_gpu_by_class=comm.bytes_by_class,
        num_buckets=len(comm.buckets),
        bucket_size_bytes=bucket_bytes,
        throughput_samples_per_s=throughput,
        single_gpu_step_time_s=single,
        scaling_efficiency=single / step,
        memory_per_gpu_bytes=memory["total"],
        memory_capacity_bytes=device.memory_bytes,
        params=spec.num_params,
        buckets=comm.buckets,
        clean_step_time_s=clean_step,
        max_link_utilization=comm.max_link_utilization(step),
        timeline=StepTimeline([layer.name for layer in spec.layers], forward, backward, update_time, factors, comm,
                              cluster),
        config={
            "model": spec.name, "model_source": spec.source, "topology": cluster.name,
            "topology_source": cluster.source, "gpus": cluster.num_gpus, "batch": batch, "dtype": dtype,
            "algorithm": algorithm, "algorithm_params": dict(algorithm_params or {}), "engine": engine,
            "bucket_size_bytes": bucket_bytes, "optimizer": optimizer, "chunks": chunks,
            "store_and_forward": store_and_forward,
            "perturbations": perturbations.describe() if perturbed and perturbations else None,
            "compute": {"model": "roofline", "device": device.name,
                        "compute_efficiency": compute.compute_efficiency,
                        "memory_efficiency": compute.memory_efficiency,
                        "kernel_overhead_s": compute.kernel_overhead_s},
        },
    )
