"""Memory-constrained list scheduling: the engine of m-ETF and m-SCT (placement and schedule decided together).

Repeatedly, among the ready ops and the devices they may use (their co-location group's device once it is
placed), pick the pair whose op can **start** earliest, ties broken by topological rank then device id, and
start it there if it fits in memory (:class:`~simtrain.placement.memory.MemoryTracker`); an op that does not fit
waits on that device until memory there is freed. An op is ready on device ``d`` when each input tensor has
arrived: at its producer's end on the producer's device, plus the contention-free transfer time elsewhere
(docs/references.md, "m-ETF list scheduling"; the channel contention of Baechi's TF simulator is left to the DES
replay).

With ``favourite`` (m-SCT), a device that just ran ``u`` whose favourite child ``f`` is ready, and on which ``f``
can start no later than anywhere else, waits for ``f``: it runs another op only if that op is *urgent* (its
latest start over the devices it may use is no later; Hanen–Munier's deliberate idling).

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> from simtrain.placement.devices import make_devices
>>> g = OpGraph.from_edges([1, 3, 3, 1, 3, 1], {(0, 1): 1, (0, 4): 1, (1, 2): 1, (2, 3): 1, (4, 5): 1, (5, 3): 1})
>>> list_schedule(g, make_devices(2)).makespan_s
8.0
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simtrain import units
from simtrain.errors import InfeasibleError
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.placement.memory import MemoryTracker

__all__ = ["Schedule", "list_schedule"]

_INF = float("inf")


@dataclass(frozen=True)
class Schedule:
    """A placement with the start and end time of every op, and each device's peak memory."""

    device: np.ndarray
    start: np.ndarray
    end: np.ndarray
    peak_memory_bytes: np.ndarray

    @property
    def makespan_s(self) -> float:
        """Latest end time."""
        return float(self.end.max()) if len(self.end) else 0.0


def list_schedule(graph: OpGraph, devices: Devices, *, memory_model: str = "live",
                  favourite: Sequence[int] | None = None) -> Schedule:
    """Schedule ``graph`` on ``devices`` by earliest start time under memory limits (see module docstring).

    Raises
    ------
    InfeasibleError
        If some ops can never start within the memory limits; the message names one and its shortfall.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> from simtrain.placement.devices import make_devices
    >>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 5.0})
    >>> list_schedule(g, make_devices(2)).device.tolist()     # the transfer costs more than waiting
    [0, 0]
    """
    n, m = graph.num_ops, devices.count
    mem = MemoryTracker(graph, devices.memory_bytes, memory_model)
    times = devices.tensor_times(graph.tensor_bytes, graph.tensor_comm_s)
    p = graph.compute_s.tolist()
    topo = graph.topo_rank.tolist()
    group = graph.group.tolist()
    group_arr = graph.group
    producer = graph.tensor_producer.tolist()
    in_tensors = graph.in_tensors
    succs = graph.succs
    group_device = mem.group_device
    npred = [len(ps) for ps in graph.preds]
    ready_time = np.full((n, m), _INF)
    free = [0.0] * m
    free_np = np.zeros(m)
    avail: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    pend: list[list[tuple[float, int, int]]] = [[] for _ in range(m)]
    blocked: list[list[int]] = [[] for _ in range(m)]
    scheduled = [False] * n
    device = np.full(n, -1, dtype=np.int64)
    dev = [-1] * n
    start = np.zeros(n)
    end = np.zeros(n)
    end_l = [0.0] * n
    last_op = [-1] * m
    no_reserve = [-2] * m
    ready: set[int] = set()
    fav = list(favourite) if favourite is not None else None
    device_ids = np.arange(m)

    def make_ready(v: int) -> None:
        r = np.zeros(m)
        for t in in_tensors[v]:
            u = producer[t]
            np.maximum(r, end_l[u] + times[t, dev[u]], out=r)
        ready_time[v] = r
        gd = int(group_device[group[v]])
        rl = r.tolist()
        for d in ([gd] if gd >= 0 else range(m)):
            heapq.heappush(pend[d], (rl[d], topo[v], v))
        ready.add(v)

    def invalid(v: int, d: int) -> bool:
        if scheduled[v]:
            return True
        gd = group_device[group[v]]
        return bool(gd >= 0 and gd != d)

    def etf_candidate(d: int) -> tuple[float, int, int, int, int] | None:
        f = free[d]
        pe, av = pend[d], avail[d]
        while pe and pe[0][0] <= f:
            _, tp, v = heapq.heappop(pe)
            heapq.heappush(av, (tp, v))
        while av:
            tp, v = av[0]
            if invalid(v, d):
                heapq.heappop(av)
                continue
            return (f, 1, tp, v, 0)
        while pe:
            r, tp, v = pe[0]
            if invalid(v, d):
                heapq.heappop(pe)
                continue
            return (r, 1, tp, v, 1)
        return None

    def sct_candidate(d: int) -> tuple[float, int, int, int, int] | None:
        assert fav is not None
        u = last_op[d]
        if u < 0 or no_reserve[d] == u:
            return etf_candidate(d)
        f = fav[u]
        if f < 0 or scheduled[f] or f not in ready:
            return etf_candidate(d)
        gd = int(group_device[group[f]])
        if gd >= 0 and gd != d:
            return etf_candidate(d)
        if gd < 0:
            starts = np.maximum(ready_time[f], free_np)
            if starts[d] > starts.min():
                return etf_candidate(d)
        t_f = max(float(ready_time[f, d]), free[d])
        best: tuple[float, int, int, int, int] = (t_f, 1, topo[f], f, 3)
        others = np.fromiter((v for v in ready if v != f), dtype=np.int64)
        if others.size:
            gdev = group_device[group_arr[others]]
            allowed = (gdev < 0)[:, None] | (gdev[:, None] == device_ids[None, :])
            urgent = np.where(allowed, np.maximum(ready_time[others], free_np), -_INF).max(axis=1)
            ok = allowed[:, d] & (urgent <= t_f)
            if ok.any():
                cand = others[ok]
                ut = urgent[ok]
                low = ut.min()
                tied = cand[ut == low]
                v = int(min(tied.tolist(), key=lambda x: topo[x]))
                best = (float(low), 0, topo[v], v, 2)
        return best

    candidate = sct_candidate if fav is not None else etf_candidate
    remaining = n
    for v in range(n):
        if npred[v] == 0:
            make_ready(v)
    while remaining:
        best: tuple[float, int, int, int, int] | None = None
        best_d = -1
        for d in range(m):
            c = candidate(d)
            if c is not None and (best is None or c[:3] < best[:3]):
                best, best_d = c, d
        t_free = mem.next_free_time()
        if best is None and t_free == _INF:
            break
        if best is None or t_free <= best[0]:
            for d in mem.advance(t_free):
                for v in blocked[d]:
                    if not invalid(v, d):
                        heapq.heappush(pend[d], (max(float(ready_time[v, d]), t_free), topo[v], v))
                blocked[d] = []
            continue
        t, _, _, v, source = best
        d = best_d
        if not mem.fits(v, d):
            if source >= 2:  # a reserved device's pick: fall back to plain ETF on this device
                no_reserve[d] = last_op[d]
            elif source == 0:
                heapq.heappop(avail[d])
                blocked[d].append(v)
            else:
                heapq.heappop(pend[d])
                blocked[d].append(v)
            continue
        e = t + p[v]
        mem.commit(v, d, t, e)
        scheduled[v] = True
        ready.discard(v)
        remaining -= 1
        start[v], end[v], end_l[v] = t, e, e
        device[v], dev[v] = d, d
        free[d] = e
        free_np[d] = e
        last_op[d] = v
        for w in succs[v]:
            npred[w] -= 1
            if npred[w] == 0:
                make_ready(w)
    if remaining:
        error = _infeasible(graph, mem, [v for v in range(n) if not scheduled[v]], ready, devices)
        error.group_device = mem.group_device.copy()  # the groups it had committed (-1: not placed)
        raise error
    return Schedule(device, start, end, mem.peak.copy())


def _infeasible(graph: OpGraph, mem: MemoryTracker, left: list[int], ready: set[int],
                devices: Devices) -> InfeasibleError:
    stuck = min(ready, key=lambda v: graph.topo_rank[v]) if ready else left[0]
    gaps = [mem.shortfall(stuck, d) for d in range(devices.count)]
    d = int(np.argmin(gaps))
    bound = int(mem.group_device[mem._group[stuck]])
    if bound >= 0:   # its co-location group already lives on one device: that is where it must fit
        running, peak = mem.need(stuck, bound)
        return InfeasibleError(
            f"{len(left)} of {graph.num_ops} ops cannot be placed within the memory limits: op "
            f"{graph.op_names[stuck]!r} must join its co-location group on device {bound} and needs "
            f"{units.format_size(max(running, peak))} there, short by "
            f"{units.format_size(max(running, peak) - devices.memory_bytes[bound])} "
            f"(limit {units.format_size(devices.memory_bytes[bound])})")
    return InfeasibleError(
        f"{len(left)} of {graph.num_ops} ops cannot be placed within the memory limits: op "
        f"{graph.op_names[stuck]!r} is short by {units.format_size(gaps[d])} even on the emptiest device "
        f"(device {d}, limit {units.format_size(devices.memory_bytes[d])})")
