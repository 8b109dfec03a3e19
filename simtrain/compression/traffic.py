"""Traffic of a scheme over a whole run: payload and wire bytes per step, per epoch and per run.

Two conventions (docs/references.md, "Byte accounting of compressed traffic"):

* **payload**: the message a worker contributes to the collectives between workers, what papers report as data
  sent (PowerSGD's 1023 MiB per epoch for ResNet-18). Aggregation inside a node (hierarchical schemes'
  NVLink reduce, AB-training's in-node groups) is not payload; it shows in the wire bytes of the intra-node class.
  Collectives that only some GPUs join (node leaders) count their payload averaged over all GPUs; a broadcast's
  message is contributed by its root alone.
* **wire**: the bytes each GPU actually sends, from the collective's Schedule, the same one the engines evaluate:
  on the topology when one is given (then also per link class), otherwise on an ideal switch.

Steps per epoch are ``floor(samples / (gpus × batch))``. The run is followed phase by phase: each kind of step is
evaluated once and multiplied by its exact number of steps.

Examples
--------
>>> t = traffic("powersgd:rank=1", "resnet18-cifar", gpus=16, batch=128, samples_per_epoch=50000)
>>> round(t.to_dict()["baseline_payload_bytes_per_epoch_per_gpu"] / 2**20, 1), round(t.reduction_factor, 1)
(1023.0, 243.3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrain.collectives.groups import comm_schedule, node_local, rank_groups
from simtrain.compression.base import Block, Communication, Phase, Scheme, SchemeContext, steps_per_phase
from simtrain.compression.registry import make_scheme
from simtrain.errors import ConfigError
from simtrain.limits import MAX_EPOCHS, MAX_GPUS, MAX_SAMPLES_PER_EPOCH
from simtrain.model import ModelSpec, load_model
from simtrain.topology import Cluster, load_topology

__all__ = ["PhaseTraffic", "TrafficReport", "contributors", "traffic"]


def contributors(comm: Communication, group_size: int) -> int:
    """Members of one group that contribute ``comm``'s message: the root of a broadcast, everyone otherwise.

    Examples
    --------
    >>> bases, grads = Communication("U, S, V", "broadcast", 100.0), Communication("g", "all-reduce", 1.0)
    >>> contributors(bases, 8), contributors(grads, 8)
    (1, 8)
    """
    return 1 if comm.op == "broadcast" else group_size


@dataclass
class PhaseTraffic:
    """One kind of step: how many steps of the run, and what each sends."""

    name: str
    steps: float  # whole in a run; a share of the run in steady mode
    payload_bytes_per_step: float
    wire_bytes_per_step: float
    wire_bytes_per_step_by_class: dict[str, float]
    communications: list[Communication] = field(default_factory=list)


@dataclass
class TrafficReport:
    """Traffic of a scheme over a run, per GPU, with the uncompressed baseline."""

    scheme: str
    model: str
    num_gpus: int
    gpus_per_node: int
    batch_per_gpu: int
    dtype: str
    steps_per_epoch: int
    epochs: float
    total_steps: int
    topology: str | None
    phases: list[PhaseTraffic]
    baseline: list[PhaseTraffic]

    @staticmethod
    def _total(phases: list[PhaseTraffic], attribute: str) -> float:
        return float(sum(p.steps * getattr(p, attribute) for p in phases))

    @property
    def payload_bytes_per_run_per_gpu(self) -> float:
        """Payload over the whole run."""
        return self._total(self.phases, "payload_bytes_per_step")

    @property
    def wire_bytes_per_run_per_gpu(self) -> float:
        """Bytes sent over the whole run."""
        return self._total(self.phases, "wire_bytes_per_step")

    @property
    def baseline_payload_bytes_per_run_per_gpu(self) -> float:
        """Uncompressed data parallelism's payload over the run."""
        return self._total(self.baseline, "payload_bytes_per_step")

    @property
    def baseline_wire_bytes_per_run_per_gpu(self) -> float:
        """Uncompressed data parallelism's bytes sent over the run."""
        return self._total(self.baseline, "wire_bytes_per_step")

    def _by_class(self, phases: list[PhaseTraffic]) -> dict[str, float]:
        out: dict[str, float] = {}
        for phase in phases:
            for name, value in phase.wire_bytes_per_step_by_class.items():
                out[name] = out.get(name, 0.0) + phase.steps * value
        return out

    @property
    def reduction_factor(self) -> float:
        """Baseline payload over the scheme's payload."""
        payload = self.payload_bytes_per_run_per_gpu
        return self.baseline_payload_bytes_per_run_per_gpu / payload if payload > 0 else float("inf")

    @property
    def reduction_percent(self) -> float:
        """Payload saved against the baseline, in %."""
        base = self.baseline_payload_bytes_per_run_per_gpu
        return 100.0 * (1 - self.payload_bytes_per_run_per_gpu / base) if base else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (names carry units)."""
        epochs = self.epochs
        steps = self.total_steps
        data: dict[str, Any] = {
            "scheme": self.scheme, "model": self.model, "gpus": self.num_gpus, "gpus_per_node": self.gpus_per_node,
            "batch_per_gpu": self.batch_per_gpu, "dtype": self.dtype, "steps_per_epoch": self.steps_per_epoch,
            "epochs": epochs, "steps": steps, "topology": self.topology,
            "payload_bytes_per_step_per_gpu": self.payload_bytes_per_run_per_gpu / steps if steps else 0.0,
            "payload_bytes_per_epoch_per_gpu": self.payload_bytes_per_run_per_gpu / epochs if epochs else 0.0,
            "payload_bytes_per_run_per_gpu": self.payload_bytes_per_run_per_gpu,
            "wire_bytes_per_step_per_gpu": self.wire_bytes_per_run_per_gpu / steps if steps else 0.0,
            "wire_bytes_per_epoch_per_gpu": self.wire_bytes_per_run_per_gpu / epochs if epochs else 0.0,
            "wire_bytes_per_run_per_gpu": self.wire_bytes_per_run_per_gpu,
            "baseline_payload_bytes_per_epoch_per_gpu":
                self.baseline_payload_bytes_per_run_per_gpu / epochs if epochs else 0.0,
            "baseline_payload_bytes_per_run_per_gpu": self.baseline_payload_bytes_per_run_per_gpu,
            "baseline_wire_bytes_per_epoch_per_gpu":
                self.baseline_wire_bytes_per_run_per_gpu / epochs if epochs else 0.0,
            "reduction_factor": self.reduction_factor,
            "reduction_percent": self.reduction_percent,
            "phases": [{"phase": p.name, "steps": p.steps, "payload_bytes_per_step_per_gpu": p.payload_bytes_per_step,
                        "wire_bytes_per_step_per_gpu": p.wire_bytes_per_step,
                        "communications": [{"label": c.label, "op": c.op, "group": c.group,
                                            "payload_bytes": c.payload_bytes} for c in p.communications]}
                       for p in self.phases],
        }
        if self.topology is not None:
            scheme_classes, base_classes = self._by_class(self.phases), self._by_class(self.baseline)
            for name, value in scheme_classes.items():
                data[f"wire_bytes_per_epoch_per_gpu_{name}"] = value / epochs if epochs else 0.0
                base = base_classes.get(name, 0.0)
                data[f"baseline_wire_bytes_per_epoch_per_gpu_{name}"] = base / epochs if epochs else 0.0
                data[f"reduction_percent_{name}"] = 100.0 * (1 - value / base) if base else 0.0
        return data


def _phase_traffic(phase: Phase, steps: float, ctx: SchemeContext, cluster: Cluster | None,
                   algorithm: str) -> PhaseTraffic:
    from simtrain.network import schedule_traffic
    from simtrain.topology import switch

    comms = phase.comms(ctx.model.tensors)
    payload = 0.0
    wire = 0.0
    by_class: dict[str, float] = {}
    network = cluster if cluster is not None else switch(ctx.num_gpus, 1e9)
    for comm in comms:
        groups = rank_groups(comm.group, ctx.num_gpus, ctx.gpus_per_node)
        participants = sum(contributors(comm, len(g)) for g in groups)
        if not node_local(comm.group, ctx.gpus_per_node):
            payload += comm.payload_bytes * participants / ctx.num_gpus
        if len(groups[0]) < 2:
            continue
        schedule = comm_schedule(comm, network, ctx.gpus_per_node, algorithm)
        wire += schedule.bytes_sent / ctx.num_gpus
        if cluster is not None:
            for name, value in schedule_traffic(schedule, cluster).bytes_by_class.items():
                by_class[name] = by_class.get(name, 0.0) + value / ctx.num_gpus
    return PhaseTraffic(phase.name, steps, payload, wire, by_class, comms)


def epoch_steps(samples_per_epoch: int, step_samples: int, step: str = "") -> int:
    """Whole steps in an epoch of ``samples_per_epoch`` samples at ``step_samples`` a step (drop-last, as
    ``simtrain traffic`` and a study count them); a :class:`ConfigError` when the epoch is shorter than one step
    (``step`` says what a step is made of).

    Examples
    --------
    >>> epoch_steps(50_000, 1024)
    48
    """
    steps = int(samples_per_epoch) // int(step_samples)
    if steps < 1:
        raise ConfigError(f"an epoch of {samples_per_epoch} samples is less than one step of "
                          f"{step or f'{step_samples} samples'}", key="samples_per_epoch", value=samples_per_epoch)
    return steps


def warmup_warning(scheme: Scheme, model: ModelSpec, gpus: int, gpus_per_node: int, dtype: str,
                   samples_per_epoch: int, epochs: float, global_batch: int) -> str | None:
    """What ``simtrain traffic`` warns when ``scheme``'s dense warm-up (or the steps before its switch) lasts the
    whole run of ``epochs`` epochs of ``samples_per_epoch`` samples at ``global_batch`` a step (None when it does
    not): ``simulate`` reports it, a study's ``warmup_past_end`` column records it.

    Examples
    --------
    >>> from simtrain.compression import make_scheme
    >>> warmup_warning(make_scheme("ab-training"), load_model("vgg16-cifar"), 8, 4, "fp32", 50_000, 30, 1024)
    'ab-training: warmup=9300 full-rank steps last the whole run of 1440 steps: nothing is compressed'
    """
    steps_per_epoch = epoch_steps(samples_per_epoch, global_batch)
    ctx = SchemeContext(model, gpus, gpus_per_node, dtype, steps_per_epoch)
    return scheme.past_end(ctx, run_steps(epochs, steps_per_epoch))


def run_steps(epochs: float, steps_per_epoch: int) -> int:
    """A run's steps, ``epochs`` x ``steps_per_epoch`` rounded; a :class:`ConfigError` for a run of no step (a typo
    in epochs: it sends nothing, compresses nothing).

    Examples
    --------
    >>> run_steps(1.5, 48)
    72
    """
    total = round(float(epochs) * steps_per_epoch)
    if total < 1:
        raise ConfigError(f"{epochs:g} epochs of {steps_per_epoch} steps are less than one step", key="epochs",
                          value=epochs)
    return total


def traffic(
    scheme: str | Scheme,
    model: str | ModelSpec,
    *,
    gpus: int,
    batch: int,
    samples_per_epoch: int,
    epochs: float = 1,
    dtype: str = "fp32",
    topology: str | Cluster | None = None,
    gpus_per_node: int | None = None,
    algorithm: str = "auto",
    steady: bool = False,
) -> TrafficReport:
    """Traffic of ``scheme`` training ``model`` on ``gpus`` workers, against uncompressed data parallelism.

    Parameters
    ----------
    scheme : str or Scheme
        ``NAME:key=value,...`` or a Scheme.
    model : str or ModelSpec
    gpus, batch : int
        Workers and samples per worker per step.
    samples_per_epoch : int
        Samples in one epoch (steps per epoch = floor(samples / (gpus × batch))).
    epochs : float
        Length of the run.
    dtype : str
        Gradient precision of the uncompressed values.
    topology : str or Cluster, optional
        When given, wire bytes come from the schedules on it, per link class.
    gpus_per_node : int, optional
        Node size for in-node groups (default: the topology's, else 1).
    algorithm : str
        Collective algorithm for all-reduce, all-gather and reduce-scatter (auto: what NCCL would pick, as in a
        training run).
    steady : bool
        Follow the scheme's steady schedule (its period repeated) instead of the run from step 0, so warm-ups
        are left out: what curves of a scheme's parameters compare.

    Examples
    --------
    >>> t = traffic("local-sgd:period=4", "resnet50", gpus=8, batch=32, samples_per_epoch=1_281_167)
    >>> round(t.reduction_factor, 3)
    4.0
    """
    from simtrain.run import DTYPES

    if dtype not in DTYPES:   # simulate's precisions: fp64 has no training recipe here
        raise ConfigError("unknown gradient precision", key="dtype", value=dtype, choices=DTYPES)
    spec = model if isinstance(model, ModelSpec) else load_model(model)
    the_scheme = make_scheme(scheme)
    for key, value in (("gpus", gpus), ("batch", batch), ("samples_per_epoch", samples_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError("must be a positive integer", key=key, value=value)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or not epochs > 0 or not np.isfinite(epochs):
        raise ConfigError("must be a positive number", key="epochs", value=epochs)
    bounds: tuple[tuple[str, float, float], ...] = (("epochs", epochs, MAX_EPOCHS), ("gpus", gpus, MAX_GPUS),
                                                  ("samples_per_epoch", samples_per_epoch, MAX_SAMPLES_PER_EPOCH))
    for key, given, bound in bounds:
        if given > bound:   # bounds of simtrain.limits, before anything is allocated
            raise ConfigError(f"must be at most {bound:,}", key=key, value=given)
    cluster = None
    if topology is not None:
        cluster = topology if isinstance(topology, Cluster) else load_topology(topology, gpus=gpus)
        if cluster.num_gpus != gpus:
            raise ConfigError(f"the topology has {cluster.num_gpus} GPUs", key="gpus", value=gpus)
        if gpus_per_node is not None and gpus_per_node != cluster.gpus_per_node:
            # the scheme's in-node groups would span the topology's nodes, and its collectives then run on them
            raise ConfigError(f"contradicts the topology, whose nodes hold {cluster.gpus_per_node} GPUs",
                              key="gpus_per_node", value=gpus_per_node,
                              allowed=f"{cluster.gpus_per_node}, or leave it out with a topology")
        gpus_per_node = gpus_per_node or cluster.gpus_per_node
    gpus_per_node = gpus_per_node or 1
    if gpus % gpus_per_node:
        raise ConfigError(f"must divide the {gpus} GPUs", key="gpus_per_node", value=gpus_per_node)
    steps_per_epoch = epoch_steps(samples_per_epoch, gpus * batch, f"{gpus} x {batch}")
    total_steps = run_steps(epochs, steps_per_epoch)
    ctx = SchemeContext(spec, gpus, gpus_per_node, dtype, steps_per_epoch)

    def evaluate(s: Scheme) -> list[PhaseTraffic]:
        phases = s.phases(ctx)
        if steady:  # every phase in its share of one period, over the whole run
            per_period = steps_per_phase([Block(tuple(s.period(ctx)))], len(phases))
            length = sum(per_period)
            counts: list[float] = [total_steps * c / length for c in per_period]
        else:
            counts = [float(c) for c in steps_per_phase(s.run(ctx, total_steps), len(phases))]
        return [_phase_traffic(phase, count, ctx, cluster, algorithm) for phase, count in zip(phases, counts)]

    return TrafficReport(
        scheme=the_scheme.describe(), model=spec.name, num_gpus=gpus, gpus_per_node=gpus_per_node,
        batch_per_gpu=batch, dtype=dtype, steps_per_epoch=steps_per_epoch, epochs=float(epochs),
        total_steps=total_steps, topology=cluster.name if cluster is not None else None,
        phases=evaluate(the_scheme), baseline=evaluate(make_scheme("none")),
    )
