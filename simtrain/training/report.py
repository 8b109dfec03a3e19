"""StepReport: the outcome of simulating one training step, with unit-carrying field names.

Examples
--------
>>> from simtrain.training import simulate
>>> report = simulate("resnet50", "abci", gpus=64, batch=32, dtype="fp16", algorithm="multidim-ring")
>>> row = report.to_row()
>>> sorted(k for k in row if k.startswith("bytes_per_gpu"))
['bytes_per_gpu', 'bytes_per_gpu_inter-node', 'bytes_per_gpu_intra-node']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["BucketTiming", "StepReport", "StepTimeline"]


@dataclass(frozen=True)
class BucketTiming:
    """One gradient bucket on the communication stream (times from the start of the step; in the DES, the
    earliest start and the latest end over ranks)."""

    index: int
    size_bytes: float
    ready_s: float
    start_s: float
    end_s: float
    layers: tuple[str, ...] = ()


@dataclass
class StepTimeline:
    """What happened when, for traces: per-layer compute times, per-rank slow-down, and the communication."""

    layer_names: list[str]
    forward_s: list[float]
    backward_s: list[float]
    update_s: float
    factors: Any  # per-rank compute slow-down (ndarray)
    comm: Any  # CommOutcome
    cluster: Any = field(default=None, repr=False)
    #: the framework's copies on the compute stream (DDP's): of each layer's gradients into their bucket, after the
    #: layer's backward (per layer; empty where none), and of each bucket's reduced gradients back into ``.grad``
    #: after its collective (bucket index → seconds; on one GPU that DDP wraps, index -1: all of them after
    #: backward)
    copy_in_s: list[float] = field(default_factory=list)
    copy_out_s: dict[int, float] = field(default_factory=dict)
    #: DDP's broadcast of the module buffers before the first forward (seconds; 0: none)
    buffer_sync_s: float = 0.0

    def link_name(self, link: int) -> str:
        """``src->dst`` node names of a link."""
        names = self.cluster.node_names
        return f"{names[int(self.cluster.link_src[link])]}->{names[int(self.cluster.link_dst[link])]}"

    def busiest_links(self, step_time_s: float, count: int = 10) -> list[dict[str, Any]]:
        """The most utilised links over the step (the order of ``max_link_utilization``: bytes over what the link
        could carry in the step, not bytes, since links differ in bandwidth), with their class and bytes."""
        comm = self.comm
        if comm is None or comm.link_bytes is None or self.cluster is None:
            return []
        link_bytes = np.asarray(comm.link_bytes, dtype=float)
        capacity = (np.asarray(comm.link_capacity, dtype=float) if comm.link_capacity is not None
                    else np.zeros_like(link_bytes))
        with np.errstate(divide="ignore", invalid="ignore"):
            utilization = np.where((capacity > 0) & (step_time_s > 0), link_bytes / (capacity * step_time_s), 0.0)
        # most utilised first; among equals (or without capacities) the most bytes; ties by link id, stable
        order = np.lexsort((np.arange(link_bytes.size), -link_bytes, -utilization))[:count]
        return [{"link": self.link_name(int(link)),
                 "link_class": self.cluster.class_names[int(self.cluster.link_class[link])],
                 "bytes": float(link_bytes[link]), "utilization": float(utilization[link])}
                for link in order[link_bytes[order] > 0]]


@dataclass
class StepReport:
    """One data-parallel training step.

    Times are seconds from the start of the step; bytes are per GPU. ``exposed_comm_time_s`` is communication
    not hidden behind backward; ``scaling_efficiency`` compares throughput with ``num_gpus`` times one GPU's.
    """

    model: str
    topology: str
    num_gpus: int
    device: str
    dtype: str
    batch_per_gpu: int
    global_batch: int
    algorithm: str
    engine: str
    step_time_s: float
    forward_time_s: float
    backward_time_s: float
    update_time_s: float
    compute_time_s: float
    comm_time_s: float
    exposed_comm_time_s: float
    bytes_per_gpu: float
    bytes_per_gpu_by_class: dict[str, float]
    num_buckets: int
    bucket_size_bytes: float
    throughput_samples_per_s: float
    single_gpu_step_time_s: float
    scaling_efficiency: float
    memory_per_gpu_bytes: float
    memory_capacity_bytes: float
    params: int
    buckets: list[BucketTiming] = field(default_factory=list, repr=False)
    clean_step_time_s: float | None = None
    max_link_utilization: float = 0.0
    scheme: str = "none"
    phase_step_times_s: dict[str, float] = field(default_factory=dict)
    phase_steps_per_period: dict[str, int] = field(default_factory=dict)
    framework: str = "ideal"   # the framework in the step and what it cost (simtrain.training.framework)
    launch_overhead_s: float = 0.0
    #: compute-stream seconds of the framework's gradient copies in one step, on the GPU that ends it (DDP without
    #: gradient_as_bucket_view: into the buckets during backward, back into .grad after each bucket's collective);
    #: part of the step, not of ``exposed_comm_time_s``
    bucket_copy_s: float = 0.0
    #: compute-stream seconds of DDP's broadcast of the module buffers before the step's first forward, on the GPU
    #: that ends the step (``broadcast_buffers``: the buffers' flatten, the NCCL broadcast the forward waits for,
    #: and their copies back); part of the step, not of ``exposed_comm_time_s``
    buffer_sync_s: float = 0.0
    #: compute seconds lost to overlapped collectives holding SMs (``network.protocol: nccl``;
    #: simtrain.training.overlap): part of the step, not of ``exposed_comm_time_s``
    shared_compute_time_s: float = 0.0
    #: every GPU's compute stretch: the expected slowest of the run's GPUs under ``gpu_spread``
    #: (simtrain.training.variability; 1: identical GPUs, or the DES's drawn ``compute_jitter``)
    slowest_gpu_factor: float = 1.0
    #: compute seconds the GPU that ends the step took beyond the typical GPU's (forward + backward + update): the
    #: spread's expected slowest, or a straggler; with it the data-parallel step is forward + backward + update +
    #: this + shared_compute_time_s + exposed_comm_time_s (0 for model-parallel plans, whose stages carry it)
    slowest_gpu_wait_s: float = 0.0
    first_bucket_wait_s: float = 0.0
    #: with the run's length (samples_per_epoch and epochs): what ``simtrain traffic`` warns when the scheme's dense
    #: warm-up lasts the whole run, else None
    warmup_warning: str | None = None
    timeline: Any = field(default=None, repr=False)
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    #: model-parallel runs (``parallel``): the plan, tokens_per_s, tflops_per_gpu, hw_tflops_per_gpu, mfu, hfu,
    #: bubble_fraction, exposed_comm_s (tp, pp, dp, cp, ep), memory_by_category_bytes and the pipeline timeline
    parallel: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def perturbation_cost_s(self) -> float | None:
        """Extra step time the perturbations cost against the clean step (DES runs with perturbations)."""
        return None if self.clean_step_time_s is None else self.step_time_s - self.clean_step_time_s

    @property
    def comm_fraction(self) -> float:
        """Share of the step spent in exposed communication."""
        return self.exposed_comm_time_s / self.step_time_s if self.step_time_s else 0.0

    def to_row(self) -> dict[str, Any]:
        """A flat mapping for one tidy table row (per-class bytes become ``bytes_per_gpu_<class>``)."""
        skip = ("buckets", "config", "bytes_per_gpu_by_class", "timeline", "phase_step_times_s",
                "phase_steps_per_period", "parallel")
        row = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in skip}
        if self.parallel is not None:   # model-parallel figures, flattened for a table
            for key, value in self.parallel.items():
                if key == "pipeline":
                    continue
                if isinstance(value, dict):
                    row.update({f"{key}_{name}": v for name, v in value.items()})
                else:
                    row[key] = value
        for name, value in self.bytes_per_gpu_by_class.items():
            row[f"bytes_per_gpu_{name}"] = value
        for name, value in self.phase_step_times_s.items():
            row[f"step_time_s_{name}"] = value
        row["comm_fraction"] = self.comm_fraction
        row["perturbation_cost_s"] = self.perturbation_cost_s
        return row

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: the row plus the buckets and the resolved config."""
        data = self.to_row()
        data["bytes_per_gpu_by_link_class"] = dict(self.bytes_per_gpu_by_class)
        data["phase_step_times_s"] = dict(self.phase_step_times_s)
        data["phase_steps_per_period"] = dict(self.phase_steps_per_period)
        data["buckets"] = [asdict(b) for b in self.buckets]
        data["busiest_links"] = self.timeline.busiest_links(self.step_time_s) if self.timeline is not None else []
        data["config"] = self.config
        if self.parallel is not None:
            data["bytes_per_gpu_by_class"] = dict(self.bytes_per_gpu_by_class)
            for key, value in self.parallel.items():
                if isinstance(value, dict):   # an object in JSON, not the row's flattened columns
                    for name in value:
                        data.pop(f"{key}_{name}", None)
                    data[key] = dict(value)
        return data
