"""m-ETF: memory-constrained Earliest-Time-First list scheduling (Baechi; Hwang et al. 1989).

Placement and schedule are decided together: each ready op goes where it can start earliest among the devices
where it fits in memory (:func:`~simtrain.placement.listsched.list_schedule`).

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> from simtrain.placement.devices import make_devices
>>> g = OpGraph.from_edges([1, 3, 3, 1, 3, 1], {(0, 1): 1, (0, 4): 1, (1, 2): 1, (2, 3): 1, (4, 5): 1, (5, 3): 1},
...                        memory_bytes=[1, 2, 2, 1, 1, 1])
>>> MEtf().place(g, make_devices(2, [4.0, 4.0]), memory_model="held").makespan_s   # the paper's example
9.0
"""

from __future__ import annotations

from simtrain.placement.base import Placement, Placer, register_placer
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.placement.listsched import list_schedule

__all__ = ["MEtf"]


@register_placer
class MEtf(Placer):
    """m-ETF (see the module docstring); parameters: the shared options of :class:`Placer`."""

    name = "m-etf"

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        schedule = list_schedule(graph, devices, memory_model=memory_model)
        return Placement(schedule.device, schedule.start, schedule.end,
                         {"peak_memory_bytes": schedule.peak_memory_bytes.tolist()})
