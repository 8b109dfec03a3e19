"""Simulate one training step of a placed graph on simtrain's network model.

Each device runs its ops one at a time in a fixed order (the placer's schedule order, else topological order); an
op starts when the device is free, every input tensor is on the device, and (``release``) not before a given time.
When an op ends, each output tensor goes once to every other device that has consumers of it (caching).

``analytical``
    A transfer takes the route's latency plus bytes over its bottleneck bandwidth; transfers never contend.
    Replaying a list scheduler's schedule with ``release=start`` reproduces it exactly.
``des``
    Transfers are flows of a :class:`~simtrain.network.des.FlowNetwork` on the devices' cluster: concurrent
    transfers share links max-min fairly (contention), so a step can only get slower than ``analytical``.

Tensors with a fixed transfer time (``comm_s`` in the graph) take that time in both engines. Memory is replayed
with :func:`~simtrain.placement.memory.replay_memory`.

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> from simtrain.placement.devices import make_devices
>>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 0.5})
>>> simulate_plan(g, make_devices(2), np.array([0, 1])).makespan_s
2.5
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from simtrain.errors import ConfigError
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.placement.memory import replay_memory

__all__ = ["ENGINES", "DeadlockError", "StepSimulation", "simulate_plan"]

#: Simulation engines.
ENGINES = ("analytical", "des")


class DeadlockError(RuntimeError):
    """The per-device orders given wait on each other: no op can start and some have not run."""


@dataclass(frozen=True)
class StepSimulation:
    """The simulated step.

    Attributes
    ----------
    engine : str
    device, start, end : ndarray
        Per op: device and simulated start and end (s).
    transfers : ndarray, shape (k, 5)
        One row per transfer: tensor id, source device, destination device, start (s), arrival (s).
    peak_memory_bytes : ndarray
        Per device.
    """

    engine: str
    device: np.ndarray
    start: np.ndarray
    end: np.ndarray
    transfers: np.ndarray
    peak_memory_bytes: np.ndarray
    busy_s: np.ndarray
    bytes_sent: float

    @property
    def makespan_s(self) -> float:
        """The step time: the latest end of an op."""
        return float(self.end.max()) if len(self.end) else 0.0


def simulate_plan(graph: OpGraph, devices: Devices, device: np.ndarray, *, start: np.ndarray | None = None,
                  release: np.ndarray | None = None, engine: str = "analytical",
                  memory_model: str = "live") -> StepSimulation:
    """Simulate ``graph`` placed by ``device`` (op → device id) on ``devices``.

    Parameters
    ----------
    start : ndarray, optional
        A schedule whose order each device follows (default: topological order).
    release : ndarray, optional
        Earliest start of each op (a placer's schedule, to replay it exactly).
    engine : {'analytical', 'des'}
    memory_model : {'live', 'held'}

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> from simtrain.placement.devices import make_devices
    >>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 0.5, (0, 2): 0.5})
    >>> sim = simulate_plan(g, make_devices(2), np.array([0, 0, 1]), engine="des")
    >>> sim.makespan_s, sim.busy_s.tolist()
    (2.5, [2.0, 1.0])
    """
    if engine not in ENGINES:
        raise ConfigError("unknown engine", key="engine", value=engine, choices=ENGINES)
    device = np.asarray(device, dtype=np.int64)
    if device.shape != (graph.num_ops,) or (graph.num_ops and (device.min() < 0 or device.max() >= devices.count)):
        raise ConfigError(f"a placement must give every op a device in 0..{devices.count - 1}", key="placement")
    run = _Replay(graph, devices, device, start, release, engine)
    run.go()
    if run.done < graph.num_ops:  # only an order that is not topological can do this (pipeline schedules)
        raise DeadlockError(f"the per-device orders deadlock: {run.done} of {graph.num_ops} ops ran")
    memory = replay_memory(graph, device, run.start, run.end, devices.memory_bytes, memory_model)
    busy = np.bincount(device, weights=graph.compute_s, minlength=devices.count)
    transfers = np.array(run.transfers, dtype=np.float64).reshape(-1, 5)
    sent = float(graph.tensor_bytes[transfers[:, 0].astype(np.int64)].sum()) if len(transfers) else 0.0
    return StepSimulation(engine, device, run.start, run.end, transfers, memory.peak.copy(), busy, sent)


class _Replay:
    """The step as simpy events (ops on devices; transfers as timeouts or network flows)."""

    def __init__(self, graph: OpGraph, devices: Devices, device: np.ndarray, start: np.ndarray | None,
                 release: np.ndarray | None, engine: str) -> None:
        self.graph = graph
        self.devices = devices
        self.env = simpy.Environment()
        self.engine = engine
        self.net: Any = None
        if engine == "des":
            from simtrain.network.des import FlowNetwork

            self.net = FlowNetwork(self.env, devices.cluster)
        n, m = graph.num_ops, devices.count
        key = graph.topo_rank if start is None else np.lexsort((graph.topo_rank, np.asarray(start)))
        order = np.argsort(key, kind="stable") if start is None else key
        self.dev = device.tolist()
        self.seq: list[list[int]] = [[] for _ in range(m)]
        for v in order.tolist():
            self.seq[self.dev[v]].append(v)
        self.idx = [0] * m
        self.busy = [False] * m
        self.waiting = [False] * m
        self.missing = [len(ts) for ts in graph.in_tensors]
        self.release = None if release is None else np.asarray(release, dtype=np.float64).tolist()
        self.start = np.zeros(n)
        self.end = np.zeros(n)
        self.done = 0
        self.p = graph.compute_s.tolist()
        self.times = devices.tensor_times(graph.tensor_bytes, graph.tensor_comm_s)
        self.fixed = ~np.isnan(graph.tensor_comm_s)
        self.transfers: list[tuple[float, float, float, float, float]] = []
        consumers_on: list[dict[int, list[int]]] = []
        for cons in graph.tensor_consumers:
            where: dict[int, list[int]] = {}
            for c in cons:
                where.setdefault(self.dev[c], []).append(c)
            consumers_on.append(where)
        self.consumers_on = consumers_on

    def go(self) -> None:
        for d in range(self.devices.count):
            self.try_start(d)
        self.env.run()

    def _wake(self, d: int, _event: Any = None) -> None:
        self.waiting[d] = False
        self.try_start(d)

    def try_start(self, d: int) -> None:
        if self.busy[d] or self.idx[d] >= len(self.seq[d]):
            return
        v = self.seq[d][self.idx[d]]
        if self.missing[v]:
            return
        now = self.env.now
        if self.release is not None and self.release[v] > now:
            if not self.waiting[d]:
                self.waiting[d] = True
                self.env.timeout(self.release[v] - now).callbacks.append(functools.partial(self._wake, d))
            return
        self.busy[d] = True
        self.idx[d] += 1
        self.start[v] = now
        self.env.timeout(self.p[v]).callbacks.append(functools.partial(self.finish, v))

    def finish(self, v: int, _event: Any = None) -> None:
        now = self.env.now
        d = self.dev[v]
        self.end[v] = now
        self.busy[d] = False
        self.done += 1
        flows: list[tuple[int, int]] = []
        for t in self.graph.out_tensors[v]:
            for dd in self.consumers_on[t]:
                if dd == d:
                    self.arrive(t, d)
                elif self.engine == "analytical" or self.fixed[t]:
                    delay = float(self.times[t, d, dd])
                    self.env.timeout(delay).callbacks.append(functools.partial(self._timed, t, d, dd, now))
                else:
                    flows.append((t, dd))
        if flows:
            dst = np.array([f[1] for f in flows], dtype=np.int64)
            routes = self.devices.cluster.routes(np.full(len(flows), d, dtype=np.int64), dst)
            nbytes = self.graph.tensor_bytes[[f[0] for f in flows]]
            self.net.send(routes, nbytes, functools.partial(self._delivered, flows, d, now))
        self.try_start(d)

    def _timed(self, t: int, src: int, dst: int, sent: float, _event: Any = None) -> None:
        self.transfers.append((t, src, dst, sent, self.env.now))
        self.arrive(t, dst)

    def _delivered(self, flows: list[tuple[int, int]], src: int, sent: float, indices: np.ndarray) -> None:
        for i in indices.tolist():
            t, dst = flows[i]
            self.transfers.append((t, src, dst, sent, self.env.now))
            self.arrive(t, dst)

    def arrive(self, t: int, d: int) -> None:
        for c in self.consumers_on[t][d]:
            self.missing[c] -= 1
        self.try_start(d)
