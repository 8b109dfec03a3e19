"""Per-device memory under Baechi's two memory models, tracked as ops start (placers) or replayed (simulation).

On a device, memory is its **base** (persistent bytes of every co-location group placed there: weights,
gradients, optimizer state; resident for the whole step, so placing a group raises the device's memory at all
times, including its peak so far) plus its **live** tensors, plus the running op's temporary bytes.

``live`` (default; Baechi TF)
    An op's outputs are allocated when it starts and freed when all their consumers have run. A tensor received
    from another device is allocated on the receiver when its first consumer there starts, and freed when its
    consumers there have run and every consumer of the tensor has started.
``held`` (BaechiPyTorch's training model)
    Nothing is freed during the step: every output and every received tensor stays (activations kept).

**Reservations** (Baechi's memory-constrained placers reserve a co-location group's memory when its first member
is placed): a group placed on a device also reserves there the largest transient need of its members that have
not run yet, where a member's transient need is its outputs, its temporary bytes and every input tensor produced
outside the group (an upper bound on what it may receive). A backward op therefore always finds room on the device
its forward op chose, however full the forward pass has made that device: without this, a greedy placer fills a
device with the forward pass's activations and its weights, and the backward ops that would free them cannot
start (the deadlock a 1.3-billion-parameter model on four 16 GiB GPUs hit). A reservation shrinks to the largest
need among the members still to run and ends with the group's last member.

An op ``v`` of group ``g`` fits on device ``d`` at time ``t`` when ``base + new group bytes + live + new inputs +
outputs(v) + temporary(v) + reservations of other groups + what g still reserves after v <= limit`` and ``peak so
far + new group bytes <= limit``. The same :class:`MemoryTracker` is used
by the placers while they schedule and by the simulator to replay a schedule, so a plan's simulated peak is the
peak the placer checked.

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> g = OpGraph.from_edges([1, 1], {(0, 1): 0.0}, memory_bytes=[3, 2], edge_bytes={(0, 1): 5})
>>> mem = MemoryTracker(g, [10, 10], "live")
>>> mem.fits(0, 0), mem.commit(0, 0, 0.0, 1.0), mem.fits(1, 1)   # op 1 on device 1 must receive 5 B
(True, None, True)
>>> mem.commit(1, 1, 1.0, 2.0); mem.peak.tolist()
[8.0, 7.0]
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from simtrain.errors import ConfigError
from simtrain.placement.graph import OpGraph

__all__ = ["MEMORY_MODELS", "MemoryTracker", "replay_memory"]

#: The memory models.
MEMORY_MODELS = ("live", "held")


class MemoryTracker:
    """Memory of every device as ops are committed in start-time order (see the module docstring).

    Parameters
    ----------
    graph : OpGraph
    limits : sequence of float
        Memory limit per device (``inf`` for none).
    model : {'live', 'held'}
    """

    def __init__(self, graph: OpGraph, limits: Sequence[float] | np.ndarray, model: str = "live", *,
                 reserve: bool = True) -> None:
        if model not in MEMORY_MODELS:
            raise ConfigError("unknown memory model", key="memory_model", value=model, choices=MEMORY_MODELS)
        self.graph = graph
        self.model = model
        self.reserve = reserve   # keep the reservations placers check (a replay of a schedule needs none)
        self.limits = np.asarray(limits, dtype=np.float64)
        m = len(self.limits)
        self.base = np.zeros(m)
        self.live = np.zeros(m)
        self.peak = np.zeros(m)
        self.group_device = np.full(graph.num_groups, -1, dtype=np.int64)
        self.device = np.full(graph.num_ops, -1, dtype=np.int64)
        self._group_bytes = graph.group_persistent_bytes.tolist()
        self._tbytes = graph.tensor_bytes.tolist()
        self._producer = graph.tensor_producer.tolist()
        self._in = graph.in_tensors
        self._out = graph.out_tensors
        self._out_bytes = graph.output_bytes.tolist()
        self._temp = graph.temporary_bytes.tolist()
        self._group = graph.group.tolist()
        self._left = [len(c) for c in graph.tensor_consumers]
        self._copies: list[dict[int, float]] = [{} for _ in range(graph.num_tensors)]  # device -> last end there
        self._max_end = [0.0] * graph.num_tensors
        self._frees: list[tuple[float, int, float]] = []
        self.now = 0.0
        self.reserved = np.zeros(m)
        self._ran = [False] * graph.num_ops
        self._members = graph.group_members
        self._external = [[t for t in ins if self._group[self._producer[t]] != self._group[v]]
                          for v, ins in enumerate(self._in)]
        self._consumers = graph.tensor_consumers
        self._held = [0.0] * graph.num_groups  # what each placed group reserves now
        self._holding: list[dict[int, float]] = [{} for _ in range(m)]  # per device: group -> its reservation
        # per device, the reservations as a max-heap of (-bytes, group); an entry no longer in ``_holding`` with that
        # value is stale and skipped (a reservation changes on every commit near it: no re-sort per change)
        self._heaps: list[list[tuple[float, int]]] = [[] for _ in range(m)]

    def _reservation(self, g: int, d: int, v: int = -1) -> float:
        """What ``g``'s members yet to run (``v`` excepted) may still need on ``d``: under ``live`` the largest of
        their transient needs (they run one at a time and free what they read), under ``held`` their sum."""
        most = total = 0.0
        ran, device, copies, tbytes, producer = self._ran, self.device, self._copies, self._tbytes, self._producer
        arriving = self._in[v] if v >= 0 else ()   # v brings these to d itself
        for u in self._members[g]:
            if u == v or ran[u]:
                continue
            need = self._out_bytes[u] + self._temp[u]
            for t in self._external[u]:
                if device[producer[t]] != d and d not in copies[t] and t not in arriving:
                    need += tbytes[t]
            most = max(most, need)
            total += need
        return total if self.model == "held" else most

    def _update_reservation(self, g: int, d: int) -> None:
        now = self._reservation(g, d)
        holding = self._holding[d]
        before = holding.get(g, 0.0)
        self._held[g] = now
        if now == before:
            return
        if now > 0:
            holding[g] = now
            if self.model != "held":
                heapq.heappush(self._heaps[d], (-now, g))
        else:
            holding.pop(g, None)
        if self.model == "held":   # nothing is freed: every member's outputs stay, so reservations add up
            self.reserved[d] += now - before
        else:                      # ops run one at a time and free what they read: the largest one suffices
            self.reserved[d] = self._largest(d)[0]

    def _largest(self, d: int, besides: int = -1) -> tuple[float, int]:
        """The largest reservation on ``d`` (of a group other than ``besides``) and its group (``-1``: none)."""
        heap, holding = self._heaps[d], self._holding[d]
        while heap and holding.get(heap[0][1]) != -heap[0][0]:   # drop stale entries
            heapq.heappop(heap)
        if not heap:
            return 0.0, -1
        if heap[0][1] != besides:
            return -heap[0][0], heap[0][1]
        top = heapq.heappop(heap)   # look under it, then put it back
        second = self._largest(d)
        heapq.heappush(heap, top)
        return second

    def _reserved_besides(self, g: int, d: int) -> float:
        """What device ``d`` reserves for groups other than ``g``."""
        if self.model == "held":
            return float(self.reserved[d] - self._holding[d].get(g, 0.0))
        return self._largest(d, besides=g)[0]

    # -- queries ------------------------------------------------------------------------------------------------
    def next_free_time(self) -> float:
        """Time of the earliest pending free (``inf`` if none)."""
        return self._frees[0][0] if self._frees else float("inf")

    def incoming_bytes(self, v: int, d: int) -> float:
        """Bytes of ``v``'s inputs that would newly arrive on ``d`` (not produced there, not yet resident)."""
        total = 0.0
        device = self.device
        for t in self._in[v]:
            p = self._producer[t]
            if device[p] != d and d not in self._copies[t]:
                total += self._tbytes[t]
        return total

    def need(self, v: int, d: int) -> tuple[float, float]:
        """(memory on ``d`` while ``v`` runs, peak so far after placing ``v``'s group) if ``v`` started now."""
        g = self._group[v]
        new_group = self._group_bytes[g] if self.group_device[g] < 0 else 0.0
        if self.group_device[g] < 0:   # v places its group: it must leave every reservation standing, and its own
            mine, others = self._reservation(g, d, v), self._reserved_besides(g, d)
            reserved = others + mine if self.model == "held" else max(others, mine)
        elif self.model == "held":     # v draws on its group's reservation; the others' stay (nothing is freed)
            reserved = self._reserved_besides(g, d) + self._reservation(g, d, v)
        else:                          # v draws on its group's reservation and frees what it reads
            reserved = 0.0
        running = (self.base[d] + new_group + self.live[d] + self.incoming_bytes(v, d) + self._out_bytes[v]
                   + self._temp[v] + reserved)
        return running, self.peak[d] + new_group

    def fits(self, v: int, d: int) -> bool:
        """Whether ``v`` may start on ``d`` now without exceeding the limit (see module docstring)."""
        running, peak = self.need(v, d)
        limit = self.limits[d]
        return bool(running <= limit and peak <= limit)

    def shortfall(self, v: int, d: int) -> float:
        """Bytes by which ``v`` misses fitting on ``d`` now (0 if it fits)."""
        running, peak = self.need(v, d)
        return float(max(running, peak) - self.limits[d]) if not self.fits(v, d) else 0.0

    # -- updates --------------------------------------------------------------------------------------------
    def advance(self, t: float) -> list[int]:
        """Apply the frees due by time ``t``; returns the devices whose memory went down."""
        self.now = max(self.now, t)
        touched: list[int] = []
        frees = self._frees
        while frees and frees[0][0] <= t:
            _, d, nbytes = heapq.heappop(frees)
            self.live[d] -= nbytes
            if not touched or touched[-1] != d:
                touched.append(d)
        return touched

    def commit(self, v: int, d: int, start: float, end: float) -> None:
        """Record that ``v`` runs on ``d`` over ``[start, end]`` (start times must not decrease)."""
        self.now = max(self.now, start)
        g = self._group[v]
        if self.group_device[g] < 0:
            self.group_device[g] = d
            self.base[d] += self._group_bytes[g]
            self.peak[d] += self._group_bytes[g]
        elif self.group_device[g] != d:
            raise ValueError(f"op {self.graph.op_names[v]!r} leaves its co-location group's device")
        self.device[v] = d
        self._ran[v] = True
        live = self.model == "live"
        added = self._out_bytes[v]
        for t in self._in[v]:
            p = self._producer[t]
            copies = self._copies[t]
            if self.device[p] != d:
                if d not in copies:
                    added += self._tbytes[t]
                    copies[d] = end
                else:
                    copies[d] = max(copies[d], end)
            self._max_end[t] = max(self._max_end[t], end)
            self._left[t] -= 1
            if live and self._left[t] == 0:
                heapq.heappush(self._frees, (self._max_end[t], int(self.device[p]), self._tbytes[t]))
                for dev, last in copies.items():
                    heapq.heappush(self._frees, (max(last, start), dev, self._tbytes[t]))
        self.live[d] += added
        self.peak[d] = max(self.peak[d], self.base[d] + self.live[d] + self._temp[v])
        if self.reserve:   # reservations shrink as inputs become resident here (``live`` counts them from now on)
            touched = {g}
            held = self._held
            for t in (*self._out[v], *self._in[v]):
                for c in self._consumers[t]:
                    h = self._group[c]
                    # a reservation never grows once made: one at zero stays there
                    if h not in touched and held[h] > 0 and self.group_device[h] == d:
                        touched.add(h)
            for h in touched:
                self._update_reservation(h, d)
        if live:
            for t in self._out[v]:
                if self._left[t] == 0 and self._tbytes[t]:
                    heapq.heappush(self._frees, (end, d, self._tbytes[t]))


def replay_memory(graph: OpGraph, device: np.ndarray, start: np.ndarray, end: np.ndarray,
                  limits: Sequence[float] | np.ndarray, model: str = "live") -> MemoryTracker:
    """Replay a schedule's memory: ops in (start, end, topological) order, frees applied as they fall due.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> g = OpGraph.from_edges([1, 1], {(0, 1): 0.0}, memory_bytes=[3, 2], edge_bytes={(0, 1): 5})
    >>> replay_memory(g, np.array([0, 0]), np.array([0.0, 1.0]), np.array([1.0, 2.0]), [10.0]).peak.tolist()
    [10.0]
    """
    tracker = MemoryTracker(graph, limits, model, reserve=False)
    order = np.lexsort((graph.topo_rank, end, start))
    dev, st, en = device.tolist(), start.tolist(), end.tolist()
    for v in order.tolist():
        tracker.advance(st[v])
        tracker.commit(v, dev[v], st[v], en[v])
    return tracker
