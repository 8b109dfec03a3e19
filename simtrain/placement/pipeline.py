"""A placed model run as a pipeline: the batch split into micro-batches that flow through the devices.

A placement alone can only lose to one device: one sample batch visits the devices in turn, and each waits for the
others. Split the batch into ``M`` micro-batches and the devices work on different micro-batches at once (GPipe,
Huang et al. 2019; PipeDream's 1F1B, Narayanan et al. 2019), so a placement of a model that does not fit on one
device can approach ``1/N`` of its step time.

How the step is built and simulated:

- the model's training graph is built at the micro-batch size (compute times from the ``ComputeModel`` at that
  batch, activations at that batch) and placed once by the chosen placer;
- the graph is **unrolled**: every forward and backward op (and plain op) gets one copy per micro-batch, each copy
  on its op's device, with its own tensors; an update op runs once, after every micro-batch's copy of the ops it
  reads (gradient accumulation). Persistent bytes (weights, gradients, optimizer state) belong to the first copy
  only, so they are counted once;
- each device runs its copies in the pipeline schedule's order, and :func:`~simtrain.placement.simulate.simulate_plan`
  runs the step in either engine (``analytical``: contention-free transfers; ``des``: flows sharing links) and
  replays memory, which now holds the activations of every micro-batch in flight;
- ``gpipe``: every micro-batch's forward, then every micro-batch's backward; ``1f1b`` (PipeDream-Flush): the
  device at pipeline position ``s`` of ``D`` (devices ordered by their first forward op) runs ``D - s`` forwards
  (the warm-up), then one backward for each further forward, so at most ``D - s`` micro-batches' activations are in
  flight there. The GPipe order is a topological order of the unrolled graph, so it cannot deadlock; the 1F1B order
  cannot on a placement whose stages are contiguous, and a placement that sends the layers back and forth between
  devices, on which it could, runs with one warm-up depth for every device (a topological order again);
- the placer places the micro-batch graph with its activations counted once per micro-batch in flight (all ``M``
  with ``gpipe``, ``min(M, N)`` with ``1f1b``), so that the placement leaves room for the pipeline.

The plan reports the speed-up over one device (the whole batch on one device, compute only: no transfers) and over
data parallelism on the same devices (each device the whole model at ``batch / N``, plus a ring all-reduce of the
gradients over the devices' routes, not overlapped with backward; ``None`` with the reason when a replica does not
fit in one device's memory).

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 0.0})
>>> unrolled, origin, micro = unroll(g, 3)
>>> unrolled.num_ops, origin.tolist(), micro.tolist()
(6, [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2])
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.placement.devices import Devices
from simtrain.placement.graph import GraphBuilder, OpGraph
from simtrain.placement.simulate import DeadlockError, StepSimulation, simulate_plan

__all__ = ["PIPELINE_SCHEDULES", "PipelineResult", "pipeline_order", "place_pipelined", "simulate_pipeline", "unroll"]

#: Orders in which each device runs its micro-batches.
PIPELINE_SCHEDULES = ("gpipe", "1f1b")


def unroll(graph: OpGraph, micro_batches: int) -> tuple[OpGraph, np.ndarray, np.ndarray]:
    """The step of ``micro_batches`` micro-batches: per op, one copy per micro-batch (update ops: one).

    Returns the unrolled graph, each op's original op and its micro-batch (``-1`` for an update op).

    Examples
    --------
    >>> from simtrain.placement.graph import GraphBuilder
    >>> b = GraphBuilder("layer")
    >>> f = b.add_op("f", 1.0, persistent_bytes=8, kind="forward", group="L")
    >>> u = b.add_op("u", 0.5, persistent_bytes=8, kind="update", group="L")
    >>> b.add_edge(f, u, [b.add_tensor(f, 0.0)])
    >>> g, origin, micro = unroll(b.build(), 2)
    >>> g.op_names, g.persistent_bytes.tolist(), micro.tolist()
    (('f#0', 'f#1', 'u'), [8.0, 0.0, 8.0], [0, 1, -1])
    """
    if isinstance(micro_batches, bool) or not isinstance(micro_batches, (int, np.integer)) or micro_batches < 1:
        raise ConfigError("must be a positive integer", key="micro_batches", value=micro_batches)
    m = int(micro_batches)
    b = GraphBuilder(f"{graph.name}" if m == 1 else f"{graph.name} x{m} micro-batches", graph.source)
    once = [k == "update" for k in graph.kind]
    copies: list[list[int]] = []
    origin: list[int] = []
    micro: list[int] = []
    for v, name in enumerate(graph.op_names):
        group = graph.group_names[graph.group[v]]
        n_copies = 1 if once[v] else m
        ids = []
        for k in range(n_copies):
            label = name if once[v] else f"{name}#{k}"
            ids.append(b.add_op(label, float(graph.compute_s[v]),
                                persistent_bytes=float(graph.persistent_bytes[v]) if k == 0 else 0.0,
                                temporary_bytes=float(graph.temporary_bytes[v]), kind=graph.kind[v], group=group))
            origin.append(v)
            micro.append(-1 if once[v] else k)
        copies.append(ids)
    # Tensors: one per copy of the producer; edges from copy k to copy k, and from every copy into an update op.
    tensor_copies: list[list[int]] = []
    comm = graph.tensor_comm_s.tolist()
    for t, producer in enumerate(graph.tensor_producer.tolist()):
        fixed = None if math.isnan(comm[t]) else comm[t]
        tensor_copies.append([b.add_tensor(c, float(graph.tensor_bytes[t]), comm_s=fixed,
                                           name=f"{graph.tensor_names[t]}#{k}")
                              for k, c in enumerate(copies[producer])])
    for e in range(graph.num_edges):
        src, dst = int(graph.edge_src[e]), int(graph.edge_dst[e])
        tensors = graph.edge_tensors[graph.edge_offsets[e]:graph.edge_offsets[e + 1]].tolist()
        for k_src, c_src in enumerate(copies[src]):
            targets = copies[dst] if len(copies[src]) == 1 else (
                [copies[dst][0]] if len(copies[dst]) == 1 else [copies[dst][k_src]])
            for c_dst in targets:
                b.add_edge(c_src, c_dst, [tensor_copies[t][k_src] for t in tensors])
    return b.build(info=dict(graph.info)), np.array(origin, dtype=np.int64), np.array(micro, dtype=np.int64)


def pipeline_order(graph: OpGraph, micro: np.ndarray, schedule: str, depth: int | np.ndarray) -> np.ndarray:
    """A sort key per op of an unrolled graph: each device runs its ops in increasing key (see module docstring).

    ``depth`` is the 1F1B warm-up (forwards before the first backward), one for all ops or one per op.

    Examples
    --------
    >>> from simtrain.placement.graph import GraphBuilder
    >>> b = GraphBuilder("layer")
    >>> f = b.add_op("f", 1.0, kind="forward", group="L")
    >>> w = b.add_op("b", 1.0, kind="backward", group="L")
    >>> b.add_edge(f, w, [b.add_tensor(f, 1.0)])
    >>> g, _, micro = unroll(b.build(), 3)
    >>> [g.op_names[v] for v in np.argsort(pipeline_order(g, micro, "gpipe", 2), kind="stable")]
    ['f#0', 'f#1', 'f#2', 'b#0', 'b#1', 'b#2']
    >>> [g.op_names[v] for v in np.argsort(pipeline_order(g, micro, "1f1b", 2), kind="stable")]
    ['f#0', 'f#1', 'b#0', 'f#2', 'b#1', 'b#2']
    """
    if schedule not in PIPELINE_SCHEDULES:
        raise ConfigError("unknown pipeline schedule", key="pipeline_schedule", value=schedule,
                          choices=PIPELINE_SCHEDULES)
    backward = np.array([k == "backward" for k in graph.kind])
    update = np.array([k == "update" for k in graph.kind])
    m = int(micro.max()) + 1 if len(micro) else 1
    if schedule == "gpipe":
        slot = np.where(backward, m + micro, micro).astype(np.float64)
    else:   # forward k at slot k; backward k right after forward k + depth - 1 (after all forwards at the end)
        slot = np.where(backward, np.minimum(micro + depth - 1, m - 1) + 0.5, micro).astype(np.float64)
    slot = np.where(update, 2.0 * m + 1, slot)
    # Ties (one micro-batch's ops in one phase) follow the unrolled graph's topological order.
    rank = graph.topo_rank.astype(np.float64) / max(graph.num_ops, 1)
    return slot + 0.25 * rank


@dataclass(frozen=True)
class PipelineResult:
    """A pipelined step of a placed model, and what it is worth against one device and data parallelism."""

    simulation: StepSimulation
    graph: OpGraph
    device: np.ndarray
    micro_batches: int
    schedule: str
    one_device_s: float
    data_parallel_s: float | None
    data_parallel_note: str
    #: Micro-batch of each op of ``graph`` (``-1``: an update op, run once).
    micro: np.ndarray | None = None

    @property
    def step_time_s(self) -> float:
        """The pipelined step time."""
        return self.simulation.makespan_s

    def summary(self) -> dict[str, Any]:
        """The JSON-ready figures."""
        step = self.step_time_s
        dp = self.data_parallel_s
        return {"micro_batches": self.micro_batches, "pipeline_schedule": self.schedule,
                "pipelined_step_time_s": step, "one_device_step_time_s": self.one_device_s,
                "speedup_vs_one_device": self.one_device_s / step if step > 0 else None,
                "data_parallel_step_time_s": dp,
                "speedup_vs_data_parallel": dp / step if dp is not None and step > 0 else None,
                "data_parallel_note": self.data_parallel_note,
                "peak_memory_bytes": self.simulation.peak_memory_bytes.tolist()}


def simulate_pipeline(micro_graph: OpGraph, device: np.ndarray, devices: Devices, micro_batches: int, *,
                      schedule: str = "gpipe", engine: str = "analytical", memory_model: str = "live",
                      full_graph: OpGraph | None = None, replica_graph: OpGraph | None = None) -> PipelineResult:
    """Run a placement of ``micro_graph`` (one micro-batch) over ``micro_batches`` micro-batches.

    ``full_graph`` (the whole batch's graph) gives the one-device step (default: ``micro_batches`` times the
    micro-batch's compute); ``replica_graph`` (the graph at ``batch / devices``) the data-parallel comparison.

    Raises
    ------
    InfeasibleError
        When the micro-batches in flight do not fit in a device's memory.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> from simtrain.placement.devices import make_devices
    >>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 0.0})
    >>> r = simulate_pipeline(g, np.array([0, 1]), make_devices(2), 4)
    >>> r.step_time_s, r.one_device_s        # 4 micro-batches through two stages: 5 slots instead of 8
    (5.0, 8.0)
    """
    unrolled, origin, micro = unroll(micro_graph, micro_batches)
    placed = np.asarray(device, dtype=np.int64)[origin]
    used = np.unique(placed)
    # Pipeline position of each device: by the topological rank of its first forward (or plain) op.
    first = {int(d): min((int(r) for r, k, dd in zip(unrolled.topo_rank, unrolled.kind, placed)
                          if dd == d and k != "backward" and k != "update"), default=unrolled.num_ops)
             for d in used.tolist()}
    position = {d: i for i, d in enumerate(sorted(first, key=first.__getitem__))}
    warmup = np.array([len(used) - position[int(d)] for d in placed])
    try:
        sim = simulate_plan(unrolled, devices, placed, start=pipeline_order(unrolled, micro, schedule, warmup),
                            engine=engine, memory_model=memory_model)
    except DeadlockError:   # stages that are not contiguous: one warm-up depth for all (a topological order)
        sim = simulate_plan(unrolled, devices, placed, start=pipeline_order(unrolled, micro, schedule, len(used)),
                            engine=engine, memory_model=memory_model)
    from simtrain.placement.api import check_peaks

    check_peaks(sim.peak_memory_bytes, devices, f"with {micro_batches} micro-batches ({schedule}) the pipeline",
                "; use fewer micro-batches in flight (1f1b) or smaller micro-batches")
    one = float(full_graph.compute_s.sum()) if full_graph is not None else float(unrolled.compute_s.sum())
    dp, note = _data_parallel(replica_graph, devices, memory_model)
    return PipelineResult(sim, unrolled, placed, int(micro_batches), schedule, one, dp, note, micro)


def _data_parallel(replica: OpGraph | None, devices: Devices, memory_model: str) -> tuple[float | None, str]:
    """Step of data parallelism on ``devices``: a replica's compute, then a ring all-reduce of its gradients."""
    if replica is None:
        return None, "no replica graph (a graph file has no batch to split)"
    n = devices.count
    alone = simulate_plan(replica, devices, np.zeros(replica.num_ops, dtype=np.int64), memory_model=memory_model)
    need = float(alone.peak_memory_bytes[0])
    smallest = float(devices.memory_bytes.min())
    if need > smallest:
        from simtrain import units

        return None, (f"a replica needs {units.format_size(need)} at batch / {n}, more than a device's "
                      f"{units.format_size(smallest)}")
    gradients = float(sum(b for b, k in zip(replica.persistent_bytes.tolist(), replica.kind) if k == "backward"))
    ring = 0.0
    if n > 1 and gradients > 0:   # the collective engine's ring all-reduce over the devices (their cluster's GPUs)
        from simtrain.collectives import collective_time

        ring = collective_time("all-reduce", f"{gradients} B", devices.cluster, "ring", ranks=list(range(n))).time_s
    return float(replica.compute_s.sum()) + ring, "replica compute + ring all-reduce of the gradients"


def place_pipelined(model: Any, devices: Devices, algorithm: str = "m-etf", *, batch: int, micro_batch: int,
                    compute: Any, dtype: str = "fp32", optimizer: str = "momentum", schedule: str = "gpipe",
                    engine: str = "analytical", memory_model: str = "live", optimizer_impl: str = "fused",
                    **params: Any) -> tuple[Any, PipelineResult]:
    """Place a model's micro-batch graph with ``algorithm`` and run the step pipelined over ``batch``
    (``optimizer_impl``: the update's code, as :func:`~simtrain.placement.build.graph_from_layers` takes it).

    Returns the placement's :class:`~simtrain.placement.plan.Plan` (one micro-batch) and the pipelined result.

    Examples
    --------
    >>> from simtrain.compute import ComputeModel
    >>> from simtrain.hardware import get_device
    >>> from simtrain.placement.devices import make_devices
    >>> plan, r = place_pipelined("resnet18-cifar", make_devices(2, "16 GiB"), "m-topo", batch=256, micro_batch=32,
    ...                           compute=ComputeModel.roofline(get_device("v100")))
    >>> r.micro_batches, r.step_time_s < r.one_device_s
    (8, True)
    """
    from simtrain.placement.api import place
    from simtrain.placement.build import graph_from_model

    for key, value in (("batch", batch), ("micro_batch", micro_batch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError("must be a positive integer", key=key, value=value)
    if batch % micro_batch:
        raise ConfigError(f"must divide the batch ({batch})", key="micro_batch", value=micro_batch)
    if schedule not in PIPELINE_SCHEDULES:
        raise ConfigError("unknown pipeline schedule", key="pipeline_schedule", value=schedule,
                          choices=PIPELINE_SCHEDULES)
    options = {"compute": compute, "dtype": dtype, "optimizer": optimizer, "optimizer_impl": optimizer_impl}
    micro_graph = graph_from_model(model, batch=micro_batch, **options)
    micro_batches = batch // micro_batch
    in_flight = micro_batches if schedule == "gpipe" else min(micro_batches, devices.count)
    # Place with each activation counted once per micro-batch in flight, so the placement leaves the pipeline room.
    sizing = dataclasses.replace(micro_graph, tensor_bytes=micro_graph.tensor_bytes * in_flight)
    plan = place(sizing, devices, algorithm, memory_model=memory_model, **params)
    full = graph_from_model(model, batch=batch, **options)
    replica = graph_from_model(model, batch=batch // devices.count, **options) if batch >= devices.count else None
    result = simulate_pipeline(micro_graph, plan.device, devices, micro_batches, schedule=schedule, engine=engine,
                               memory_model=memory_model, full_graph=full, replica_graph=replica)
    return plan, result
