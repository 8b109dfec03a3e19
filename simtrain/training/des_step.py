"""The data-parallel step's communication in the DES.

Every GPU has a compute stream (forward, then backward layer by layer, stretched by its straggler factor) and a
communication stream. A bucket's all-reduce starts on a GPU when backward has produced the bucket there and the
GPU's previous all-reduce is through; all buckets' flows share one :class:`~simtrain.network.des.FlowNetwork`, so
overlap and contention between buckets, stragglers and degraded links are simulated rather than assumed.

Examples
--------
>>> from simtrain.training import simulate
>>> clean = simulate("resnet50", "torus-2d", gpus=16, batch=32, engine="des")
>>> analytical = simulate("resnet50", "torus-2d", gpus=16, batch=32)
>>> abs(clean.step_time_s - analytical.step_time_s) / analytical.step_time_s < 1e-6
True
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import simpy

from simtrain.network import NetworkOptions, schedule_traffic
from simtrain.network.des import CollectiveRun, FlowNetwork
from simtrain.network.perturb import Perturbations
from simtrain.topology import Cluster
from simtrain.training.report import BucketTiming

__all__ = ["comm_des"]


class _Stream:
    """Launches bucket b on a rank once the bucket is ready there and bucket b-1 has finished there."""

    def __init__(self, num_buckets: int, num_ranks: int) -> None:
        self.runs: list[CollectiveRun] = []
        self.arrived = np.zeros((num_buckets, num_ranks), dtype=bool)
        self.previous_done = np.zeros((num_buckets, num_ranks), dtype=bool)
        if num_buckets:
            self.previous_done[0] = True

    def arrive(self, bucket: int, ranks: np.ndarray, _event: Any = None) -> None:
        self.arrived[bucket, ranks] = True
        self._launch(bucket, ranks)

    def finished(self, bucket: int, ranks: np.ndarray) -> None:
        if bucket + 1 < len(self.runs):
            self.previous_done[bucket + 1, ranks] = True
            self._launch(bucket + 1, ranks)

    def _launch(self, bucket: int, ranks: np.ndarray) -> None:
        go = ranks[self.arrived[bucket, ranks] & self.previous_done[bucket, ranks]]
        if go.size:
            self.runs[bucket].mark_ready(go)


def comm_des(buckets: list[tuple[int, float, list[str]]], template: Any, cluster: Cluster, ready: np.ndarray,
             forward_time: float, factors: np.ndarray, network: NetworkOptions | None, *,
             perturbations: Perturbations | None = None, store_and_forward: bool = False,
             record_loads: bool = False) -> Any:
    """Simulate the step's bucket all-reduces; returns a ``CommOutcome`` (see ``data_parallel``).

    ``ready[b]`` is when bucket b is ready on an unperturbed GPU; a GPU with straggler factor f reaches every
    compute milestone f times later.
    """
    from simtrain.training.data_parallel import CommOutcome

    sim_cluster, capacity = (perturbations.apply(cluster) if perturbations is not None
                             else (cluster, cluster.link_bandwidth_Bps))
    env = simpy.Environment()
    flow_network = FlowNetwork(env, sim_cluster, store_and_forward=store_and_forward, capacity=capacity,
                               record_loads=record_loads)
    schedules = [template.resized(size) for _, size, _ in buckets]
    stream = _Stream(len(schedules), cluster.num_gpus)
    runs = stream.runs
    for index, schedule in enumerate(schedules):
        runs.append(CollectiveRun(flow_network, schedule, network, start_all=False,
                                  on_rank_done=functools.partial(stream.finished, index),
                                  label=f"bucket {index}"))
    for index in range(len(runs)):
        arrival = ready[index] * factors  # the bucket's gradients exist on each GPU at these times
        for when in np.unique(arrival):
            ranks = np.flatnonzero(arrival == when)
            event = env.timeout(float(when))
            event.callbacks.append(functools.partial(stream.arrive, index, ranks))
    if runs:
        env.run(until=simpy.AllOf(env, [run.done for run in runs]))
    starts = np.array([run.start_time for run in runs]) if runs else np.zeros((0, cluster.num_gpus))
    ends = np.array([run.finish_time for run in runs]) if runs else np.zeros((0, cluster.num_gpus))
    timings = [BucketTiming(i, size, float(ready[i]), float(starts[i].min()), float(ends[i].max()), tuple(names))
               for i, (_, size, names) in enumerate(buckets)]
    comm_end = ends[-1] if runs else np.zeros(cluster.num_gpus)
    comm_time = float(sum(ends[i].max() - starts[i].min() for i in range(len(runs))))
    by_class = dict.fromkeys(cluster.class_names, 0.0)
    total_bytes = 0.0
    for schedule in schedules:
        traffic = schedule_traffic(schedule, sim_cluster)
        for name, value in traffic.bytes_by_class.items():
            by_class[name] += value / schedule.num_ranks
        total_bytes += schedule.bytes_sent / schedule.num_ranks
    return CommOutcome(timings, comm_end, comm_time, total_bytes, by_class, flow_network.link_bytes,
                       capacity, starts, ends, flow_network.load_history)
