"""Baseline placements: everything on one device, round-robin, and an expert-style contiguous split.

All three assign whole co-location groups (at their first member in topological order) and ignore memory;
:func:`~simtrain.placement.api.place` rejects a baseline placement whose simulated peak exceeds a limit.

* ``single``: every op on device 0 (the single-device time is the sum of compute).
* ``round-robin``: the k-th group in topological order on device ``k mod devices``.
* ``expert``: contiguous segments of the topological order with about equal compute per device, as a person
  splitting a model into pipeline stages by layer cost would (groups weigh their total compute).

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> from simtrain.placement.devices import make_devices
>>> g = OpGraph.from_edges([1, 1, 1, 1], {(0, 1): 0, (1, 2): 0, (2, 3): 0})
>>> Expert().place(g, make_devices(2)).device.tolist()
[0, 0, 1, 1]
>>> RoundRobin().place(g, make_devices(2)).device.tolist()
[0, 1, 0, 1]
"""

from __future__ import annotations

import numpy as np

from simtrain.placement.base import Placement, Placer, register_placer
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph

__all__ = ["Expert", "RoundRobin", "Single"]


def _groups_in_order(graph: OpGraph) -> list[int]:
    seen: set[int] = set()
    out = []
    for v in graph.topo_order.tolist():
        g = int(graph.group[v])
        if g not in seen:
            seen.add(g)
            out.append(g)
    return out


@register_placer
class Single(Placer):
    """Every op on device 0."""

    name = "single"

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        return Placement(np.zeros(graph.num_ops, dtype=np.int64))


@register_placer
class RoundRobin(Placer):
    """Groups in topological order dealt to the devices in turn."""

    name = "round-robin"

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        group_device = np.zeros(graph.num_groups, dtype=np.int64)
        for k, g in enumerate(_groups_in_order(graph)):
            group_device[g] = k % devices.count
        return Placement(group_device[graph.group])


@register_placer
class Expert(Placer):
    """Contiguous topological segments balanced by compute."""

    name = "expert"

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        weight = np.bincount(graph.group, weights=graph.compute_s, minlength=graph.num_groups)
        total = float(weight.sum())
        share = total / devices.count if total > 0 else 1.0
        group_device = np.zeros(graph.num_groups, dtype=np.int64)
        done = 0.0
        for g in _groups_in_order(graph):
            middle = done + weight[g] / 2
            group_device[g] = min(devices.count - 1, int(middle // share)) if total > 0 else 0
            done += weight[g]
        return Placement(group_device[graph.group])
