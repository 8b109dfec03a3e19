"""Run one study point: a resolved configuration and its seed in, one flat result row out.

Clusters, compute profiles and schedule templates are shared through one explicit, content-keyed
:class:`~simtrain.training.run_cache.RunCache` per process, so a sweep over schemes or batch sizes builds each
topology instance once, and a point's row is the same whatever ran before it. A point that fails (it does not fit
in memory, a topology rejects an override) returns a row with ``status = "error"`` and the message; it never stops
the sweep. A model-parallel plan that does not fit is such a row, its message ``InfeasibleError: ...`` naming the
shortfall; a plan that fits fills the model-parallel columns (``tokens_per_s``, ``mfu``, ...).

Examples
--------
>>> row = run_point({"model": "resnet50", "topology": "torus-2d", "gpus": 16}, seed=1)
>>> row["status"], row["gpus"], round(row["scaling_efficiency"], 3) <= 1.0
('ok', 16, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from simtrain._version import __version__
from simtrain.errors import SimtrainError
from simtrain.run import TrainingRun
from simtrain.training.run_cache import RunCache, default_cache

__all__ = ["OUTPUT_COLUMNS", "PROCESS_CACHE", "build_cluster", "point_run", "run_point", "warmup_past_end"]

#: Result columns of a study table (besides the point's configuration keys and derived columns): name → meaning.
OUTPUT_COLUMNS: dict[str, str] = {
    "point": "index of the point in the study (0-based, grid order)",
    "seed": "the point's seed, derived from the study seed and the point's configuration (not its index)",
    "simtrain_version": "version of simtrain that computed the row",
    "status": "ok, or error when the point could not be simulated",
    "error": "the error message of a failed point (empty when ok)",
    "num_gpus": "GPUs simulated",
    "device": "GPU type of the topology",
    "params": "trainable parameters of the model",
    "global_batch": "samples per step over all GPUs",
    "step_time_s": "time of one training step, s (mean over a scheme's period)",
    "forward_time_s": "forward compute per step, s",
    "backward_time_s": "backward compute per step, s",
    "update_time_s": "optimizer update per step, s",
    "compute_time_s": "forward + backward + update, s",
    "comm_time_s": "time the gradient collectives take in total, s (overlapped with backward where possible)",
    "exposed_comm_time_s": "communication not hidden behind compute, s (what collectives cost the compute they "
                           "overlap is shared_compute_time_s)",
    "shared_compute_time_s": "compute time lost to overlapped collectives holding SMs (network.protocol nccl), s",
    "bucket_copy_s": "the framework's gradient copies on the compute stream (DDP's, into its buckets and back), s "
                     "(0 for other frameworks, one GPU that DDP does not wrap, and --parallel)",
    "buffer_sync_s": "DDP's broadcast of the model's buffers (BatchNorm's running statistics) before the first "
                     "forward, s: their flatten, the broadcast and their copies back (0 for models without buffers, "
                     "other frameworks, broadcast_buffers=false, one GPU that DDP does not wrap, and --parallel)",
    "slowest_gpu_factor": "every GPU's compute stretch: the expected slowest of the run's GPUs under gpu_spread (1: "
                          "identical GPUs)",
    "slowest_gpu_wait_s": "compute the GPU that ends the step took beyond the typical GPU's (the slowest of the "
                          "spread, or a straggler), s (0 with --parallel)",
    "comm_fraction": "exposed communication / step time",
    "throughput_samples_per_s": "samples per second over the cluster",
    "scaling_efficiency": "throughput / (GPUs × one GPU's throughput)",
    "bytes_per_gpu": "bytes each GPU sends per step (on the wire, mean over the period)",
    "memory_per_gpu_bytes": "GPU memory needed per GPU, bytes (with --parallel: at the stage that needs the most)",
    "tokens_per_s": "tokens per second over the cluster (--parallel runs; empty otherwise)",
    "tflops_per_gpu": "model TFLOP/s per GPU, recomputation excluded (--parallel runs; empty otherwise)",
    "hw_tflops_per_gpu": "hardware TFLOP/s per GPU, recomputation included (--parallel runs; empty otherwise)",
    "mfu": "model FLOPs utilization against the dtype's dense peak, in [0, 1] (--parallel runs; empty otherwise)",
    "hfu": "hardware FLOPs utilization (recomputation included), in [0, 1] (--parallel runs; empty otherwise)",
    "bubble_fraction": "a stage's mean idle share before the pipeline's end (--parallel runs; empty otherwise)",
    "max_link_utilization": "busiest link's busy fraction over the step",
    "warmup_past_end": "the scheme's warm-up or switch lasts the whole run of epochs × samples_per_epoch, so it never "
                       "compresses (as simtrain traffic warns); empty when the run's length is not given",
}
_REPORT_COLUMNS = [c for c in OUTPUT_COLUMNS
                   if c not in ("point", "seed", "simtrain_version", "status", "error", "warmup_past_end")]


#: The runs of a study in this process share clusters, profiles and network templates through one explicit cache
#: (a worker process has its own). Every entry is keyed by content, so it never changes a result.
PROCESS_CACHE = default_cache()


def build_cluster(point: Mapping[str, Any], cache: RunCache | None = None) -> Any:
    """The point's cluster (shared through ``cache``, by topology, GPU count and ``topology.`` overrides).

    Examples
    --------
    >>> build_cluster({"topology": "cloud-25g", "gpus": 64, "topology.nic_bandwidth": "10 Gbit/s"}).num_gpus
    64
    """
    overrides = sorted((k.split(".", 1)[1], v) for k, v in point.items()
                       if k.startswith("topology.") and v is not None)
    return (cache or PROCESS_CACHE).cluster(point["topology"], point.get("gpus"), overrides)


def point_run(point: Mapping[str, Any], seed: int) -> TrainingRun:
    """The run description of a resolved point, with its seed.

    Examples
    --------
    >>> point_run({"model": "resnet50", "topology": "torus-2d", "gpus": 16, "batch": 8}, seed=3).batch
    8
    """
    return TrainingRun.from_mapping({**{k: v for k, v in point.items() if v is not None}, "seed": seed})


def run_point(point: Mapping[str, Any], seed: int, index: int = 0,
              derived: Mapping[str, Callable[[Mapping[str, Any]], float]] | None = None,
              cache: RunCache | None = None) -> dict[str, Any]:
    """Simulate one point and return its row: configuration, results, seed, version, status.

    Parameters
    ----------
    point : mapping
        A resolved point (:attr:`Study.points`); missing keys take their defaults.
    seed : int
        The point's seed (drives ``compute_jitter``).
    index : int
        The point's index, recorded in the row.
    derived : mapping, optional
        Column name → function of the row (from :meth:`Study.derived_functions`).
    cache : RunCache, optional
        Shared clusters and templates (default: this process's :data:`PROCESS_CACHE`); never changes the row.

    Examples
    --------
    >>> run_point({"model": "resnet50", "topology": "torus-2d", "gpus": 16, "batch": 10**6}, seed=0)["status"]
    'error'
    """
    from simtrain.study.spec import POINT_KEYS
    from simtrain.training import simulate

    config = {k.name: point.get(k.name, None if k.required else k.default) for k in POINT_KEYS}
    config.update({k: v for k, v in point.items() if k not in config})
    row: dict[str, Any] = {"point": index, **config, "seed": seed, "simtrain_version": __version__,
                           "status": "ok", "error": ""}
    try:
        report = simulate(point_run(config, seed), cache=cache or PROCESS_CACHE)
        data = report.to_dict()
        # the model-parallel columns (tokens_per_s, mfu, ...) are empty for a plain data-parallel run
        row.update({column: data.get(column) for column in _REPORT_COLUMNS})
        row["warmup_past_end"] = warmup_past_end(config, data["global_batch"], cache or PROCESS_CACHE)
    except (SimtrainError, ValueError, ArithmeticError) as exc:   # a bad point is recorded, the sweep goes on
        row.update({"status": "error", "error": f"{type(exc).__name__}: {exc}"})
        row.update({column: None for column in [*_REPORT_COLUMNS, "warmup_past_end"]})
    for column, function in (derived or {}).items():
        try:
            row[column] = float(function(row)) if row["status"] == "ok" else None
        except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
            row[column] = None
            row["error"] = (row["error"] + "; " if row["error"] else "") + f"derived.{column}: {exc}"
    return row


def warmup_past_end(point: Mapping[str, Any], global_batch: int, cache: RunCache | None = None) -> bool | None:
    """Whether the point's scheme stays in its dense warm-up (or before its switch) for the whole run of
    ``epochs × samples_per_epoch`` samples at ``global_batch`` samples per step
    (:meth:`~simtrain.compression.Scheme.past_end`, what ``simtrain traffic`` warns about); ``None`` when the
    point does not give the run's length.

    Examples
    --------
    >>> p = {"model": "vgg16-cifar", "topology": "dgx-a100", "gpus": 8, "batch": 128, "scheme": "ab-training",
    ...      "samples_per_epoch": 50000, "epochs": 30}
    >>> [warmup_past_end({**p, "epochs": e}, 1024) for e in (30, 300, None)]
    [True, False, None]
    """
    from simtrain.compression import make_scheme
    from simtrain.compression.traffic import warmup_warning
    from simtrain.model import ModelSpec

    samples, epochs = point.get("samples_per_epoch"), point.get("epochs")
    if samples is None or epochs is None:
        return None
    run = point_run(point, 0)
    cache = cache or PROCESS_CACHE
    model = run.model if isinstance(run.model, ModelSpec) else cache.model(run.model)
    cluster = build_cluster(point, cache)
    return warmup_warning(make_scheme(run.scheme), model, cluster.num_gpus, cluster.gpus_per_node, run.dtype,
                          int(samples), float(epochs), global_batch) is not None
