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

from typing import Any

from simtrain import units
from simtrain.collectives import build_schedule
from simtrain.compute import OPTIMIZER_STATES, ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.hardware import get_device
from simtrain.model import DTYPE_BYTES, ModelSpec, load_model
from simtrain.network import ENGINES, NetworkOptions, evaluate
from simtrain.topology import Cluster, load_topology
from simtrain.training.report import BucketTiming, StepReport

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

    timings: list[BucketTiming] = []
    by_class: dict[str, float] = dict.fromkeys(cluster.class_names, 0.0)
    total_bytes = comm_time = 0.0
    comm_end = 0.0
    if cluster.num_gpus > 1:
        results: dict[float, Any] = {}
        flow_cache: dict[tuple[int, int], Any] = {}
        template = None
        for i, (first_layer, size, names) in enumerate(_buckets(spec, bucket_bytes, width)):
            result = results.get(size)
            if result is None:
                if template is None:
                    template = build_schedule("all-reduce", size, cluster, algorithm, chunks=chunks,
                                              **(algorithm_params or {}))
                result = results[size] = evaluate(template.resized(size), cluster, network, flow_cache)
            ready = done_at[first_layer]
            start = max(ready, comm_end)
            comm_end = start + result.time_s
            comm_time += result.time_s
            total_bytes += result.bytes_per_gpu
            for name, value in result.bytes_by_class.items():
                by_class[name] += value / result.num_ranks
            timings.append(BucketTiming(i, size, ready, forward_time + start, forward_time + comm_end,
                                        tuple(names)))
    exposed = max(0.0, comm_end - backward_time)
    step = forward_time + backward_time + exposed + update_time
    single = forward_time + backward_time + update_time
    throughput = batch * cluster.num_gpus / step
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
        comm_time_s=comm_time,
        exposed_comm_time_s=exposed,
        bytes_per_gpu=total_bytes,
        bytes_per_gpu_by_class=by_class,
        num_buckets=len(timings),
        bucket_size_bytes=bucket_bytes,
        throughput_samples_per_s=throughput,
        single_gpu_step_time_s=single,
        scaling_efficiency=single / step,
        memory_per_gpu_bytes=memory["total"],
        memory_capacity_bytes=device.memory_bytes,
        params=spec.num_params,
        buckets=timings,
        config={
            "model": spec.name, "model_source": spec.source, "topology": cluster.name,
            "topology_source": cluster.source, "gpus": cluster.num_gpus, "batch": batch, "dtype": dtype,
            "algorithm": algorithm, "algorithm_params": dict(algorithm_params or {}), "engine": engine,
            "bucket_size_bytes": bucket_bytes, "optimizer": optimizer, "chunks": chunks,
            "compute": {"model": "roofline", "device": device.name,
                        "compute_efficiency": compute.compute_efficiency,
                        "memory_efficiency": compute.memory_efficiency,
                        "kernel_overhead_s": compute.kernel_overhead_s},
        },
    )
