"""Traffic of a scheme over a whole run: payload and wire bytes per step, per epoch and per run.

Two conventions (research/compression.md §0):

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

from simtrain.compression.base import Block, Communication, Phase, Scheme, SchemeContext, steps_per_phase
from simtrain.compression.registry import make_scheme
from simtrain.errors import ConfigError
from simtrain.model import ModelSpec, load_model
from simtrain.topology import Cluster, load_topology

__all__ = ["PhaseTraffic", "TrafficReport", "comm_schedule", "comm_sizes", "contributors", "rank_groups", "traffic"]


def rank_groups(group: str, num_gpus: int, gpus_per_node: int) -> list[np.ndarray]:
    """The disjoint rank groups a communication's ``group`` names.

    Examples
    --------
    >>> [g.tolist() for g in rank_groups("peers", 8, 4)]
    [[0, 4], [1, 5], [2, 6], [3, 7]]
    """
    ranks = np.arange(num_gpus)
    g = max(1, gpus_per_node)
    if group == "world":
        return [ranks]
    if group == "node":
        return [ranks[i:i + g] for i in range(0, num_gpus, g)]
    if group == "peers":
        return [ranks[local::g] for local in range(g)]
    if group == "leaders":
        return [ranks[::g]]
    size = int(group.split(":", 1)[1])
    if num_gpus % size:
        raise ConfigError(f"groups of {size} must divide the {num_gpus} GPUs", key="group_size", value=size)
    return [ranks[i:i + size] for i in range(0, num_gpus, size)]


def contributors(comm: Communication, group_size: int) -> int:
    """Members of one group that contribute ``comm``'s message: the root of a broadcast, everyone otherwise.

    Examples
    --------
    >>> bases, grads = Communication("U, S, V", "broadcast", 100.0), Communication("g", "all-reduce", 1.0)
    >>> contributors(bases, 8), contributors(grads, 8)
    (1, 8)
    """
    return 1 if comm.op == "broadcast" else group_size


def _node_local(group: str, gpus_per_node: int) -> bool:
    if group == "node":
        return True
    if group.startswith("groups:"):
        size = int(group.split(":", 1)[1])
        return size <= gpus_per_node and gpus_per_node % size == 0
    return False


_ALGORITHM_FOR = {"all-to-all": "direct", "push-pull": "ps"}


def comm_sizes(comm: Communication, num_gpus: int, gpus_per_node: int) -> tuple[list[np.ndarray], list[float]]:
    """The rank groups of ``comm`` and the collective size (nccl-tests convention) on each.

    Examples
    --------
    >>> c = Communication("values+indices", "all-gather", 100.0, "node")
    >>> groups, sizes = comm_sizes(c, 8, 4)
    >>> len(groups), sizes
    (2, [400.0, 400.0])
    """
    groups = rank_groups(comm.group, num_gpus, gpus_per_node)
    if comm.group_payloads:
        payloads = [comm.group_payloads[i % len(comm.group_payloads)] for i in range(len(groups))]
    else:
        payloads = [comm.payload_bytes] * len(groups)
    return groups, [max(comm.collective_size(len(g)) * p / comm.payload_bytes if comm.payload_bytes else p, 1e-9)
                    for g, p in zip(groups, payloads)]


def comm_schedule(comm: Communication, cluster: Cluster, gpus_per_node: int, algorithm: str = "ring") -> Any:
    """The Schedule that carries ``comm`` on ``cluster`` (grouped over its rank groups).

    ``algorithm`` applies where it can: a multidim-ring is defined on the cluster's whole grid, so sub-groups
    (a node, the node leaders) run a ring instead; broadcasts and reduces use a ring unless ``algorithm`` has one,
    and so does any operation ``algorithm`` does not implement (the all-gather of top-k under ``hierarchical``).
    """
    from simtrain.collectives import build_grouped_schedule

    groups, sizes = comm_sizes(comm, cluster.num_gpus, gpus_per_node)
    size_of_group = len(groups[0])
    op: str = comm.op
    params: dict[str, Any] = {}
    if comm.op == "push-pull":
        op = "all-reduce"
        params = {"servers": comm.servers or size_of_group,
                  "pull_ratio": (comm.pull_bytes / comm.payload_bytes) if comm.pull_bytes and comm.payload_bytes
                  else 1.0}
    name = _ALGORITHM_FOR.get(comm.op, algorithm)
    if name == "multidim-ring" and size_of_group != cluster.num_gpus:
        name = "ring"   # the torus grid spans the whole cluster; a sub-group's ring is what an implementation runs
    if comm.op in ("broadcast", "reduce") and name not in ("ring", "halving-doubling", "hierarchical", "direct"):
        name = "ring"
    from simtrain.collectives import ALGORITHMS

    if op not in ALGORITHMS.get(name).operations:
        name = "ring"   # e.g. the all-gather of top-k under hierarchical all-reduce: what NCCL would run
    return build_grouped_schedule(op, sizes, cluster, name, groups, **params)


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
        if not _node_local(comm.group, ctx.gpus_per_node):
            payload += comm.payload_bytes * participants / ctx.num_gpus
        if len(groups[0]) < 2:
            continue
        schedule = comm_schedule(comm, network, ctx.gpus_per_node, algorithm)
        wire += schedule.bytes_sent / ctx.num_gpus
        if cluster is not None:
            for name, value in schedule_traffic(schedule, cluster).bytes_by_class.items():
                by_class[name] = by_class.get(name, 0.0) + value / ctx.num_gpus
    return PhaseTraffic(phase.name, steps, payload, wire, by_class, comms)


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
    algorithm: str = "ring",
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
        Collective algorithm for all-reduce, all-gather and reduce-scatter.
    steady : bool
        Follow the scheme's steady schedule (its period repeated) instead of the run from step 0, so warm-ups
        are left out: what curves of a scheme's parameters compare.

    Examples
    --------
    >>> t = traffic("local-sgd:period=4", "resnet50", gpus=8, batch=32, samples_per_epoch=1_281_167)
    >>> round(t.reduction_factor, 3)
    4.0
    """
    spec = model if isinstance(model, ModelSpec) else load_model(model)
    the_scheme = make_scheme(scheme)
    for key, value in (("--gpus", gpus), ("--batch", batch), ("--samples-per-epoch", samples_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError("must be a positive integer", source="<cli>", key=key, value=value)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or not epochs > 0 or not np.isfinite(epochs):
        raise ConfigError("must be a positive number", source="<cli>", key="--epochs", value=epochs)
    cluster = None
    if topology is not None:
        cluster = topology if isinstance(topology, Cluster) else load_topology(topology, gpus=gpus)
        if cluster.num_gpus != gpus:
            raise ConfigError(f"the topology has {cluster.num_gpus} GPUs", source="<cli>", key="--gpus", value=gpus)
        gpus_per_node = gpus_per_node or cluster.gpus_per_node
    gpus_per_node = gpus_per_node or 1
    if gpus % gpus_per_node:
        raise ConfigError(f"must divide the {gpus} GPUs", source="<cli>", key="--gpus-per-node", value=gpus_per_node)
    steps_per_epoch = samples_per_epoch // (gpus * batch)
    if steps_per_epoch < 1:
        raise ConfigError(f"an epoch of {samples_per_epoch} samples is less than one step of {gpus} x {batch}",
                          source="<cli>", key="--samples-per-epoch", value=samples_per_epoch)
    total_steps = round(epochs * steps_per_epoch)
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
