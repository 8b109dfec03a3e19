"""m-TOPO: fill devices in topological order up to a memory cap (Baechi).

Ops (whole co-location groups at their first member) are taken in Kahn topological order and put on device 0
until the next one does not fit, then on device 1, and so on; a device is never revisited, so each device gets a
contiguous segment (a pipeline split). An op's memory here is static: persistent + outputs + temporary, plus
tensors it receives from other devices. ``uniform`` (default, Baechi's ``with_cap``) caps every device at
``floor(total / devices) + largest op`` (the ops' own static bytes, as Baechi) so memory spreads evenly; the
real limit, received tensors included, is always checked too. m-TOPO
ignores compute time and communication.

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> from simtrain.placement.devices import make_devices
>>> g = OpGraph.from_edges([1, 1, 1, 1], {(0, 1): 0, (1, 2): 0, (2, 3): 0}, memory_bytes=[4, 4, 4, 4])
>>> MTopo().place(g, make_devices(2, "1 KiB")).device.tolist()    # cap 8 + 4 = 12: three ops, then one
[0, 0, 0, 1]
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from simtrain import units
from simtrain.errors import InfeasibleError
from simtrain.params import Param
from simtrain.placement.base import SHARED_PARAMETERS, Placement, Placer, register_placer
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph

__all__ = ["MTopo"]


@register_placer
class MTopo(Placer):
    """m-TOPO; ``uniform``: cap each device at total/devices + largest op (else fill to the real limit)."""

    name = "m-topo"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("uniform", "boolean", True, "cap each device at total/devices + the largest op"), *SHARED_PARAMETERS)
    uniform: bool

    def _place(self, graph: OpGraph, devices: Devices, memory_model: str) -> Placement:
        m = devices.count
        static = graph.persistent_bytes + graph.output_bytes + graph.temporary_bytes
        cap = np.floor(static.sum() / m) + (static.max() if graph.num_ops else 0.0) if self.uniform else np.inf
        limit = devices.memory_bytes.tolist()
        static_l = static.tolist()
        device = [-1] * graph.num_ops
        used = [0.0] * m  # static bytes charged, received tensors included (checked against the limit)
        own = [0.0] * m  # static bytes of the ops themselves (checked against the cap, as Baechi does)
        producer = graph.tensor_producer.tolist()
        tbytes = graph.tensor_bytes.tolist()
        consumers = graph.tensor_consumers
        in_tensors = graph.in_tensors
        out_tensors = graph.out_tensors
        resident: list[set[int]] = [set() for _ in range(graph.num_tensors)]
        members = graph.group_members
        group = graph.group.tolist()
        order = graph.topo_order.tolist()
        i, d = 0, 0
        while i < len(order) and d < m:
            v = order[i]
            if device[v] >= 0:
                i += 1
                continue
            unit = members[group[v]]
            unit_bytes = sum(static_l[w] for w in unit)
            extra: dict[int, float] = {d: unit_bytes}  # bytes charged to each device by placing the unit on d
            copies: set[tuple[int, int]] = set()
            for w in unit:
                for t in in_tensors[w]:  # inputs already placed elsewhere arrive on d
                    src = device[producer[t]]
                    if src >= 0 and src != d and d not in resident[t] and (t, d) not in copies:
                        copies.add((t, d))
                        extra[d] += tbytes[t]
                for t in out_tensors[w]:  # outputs read by ops already placed elsewhere arrive there
                    for c in consumers[t]:
                        dc = device[c]
                        if dc >= 0 and dc != d and dc not in resident[t] and (t, dc) not in copies:
                            copies.add((t, dc))
                            extra[dc] = extra.get(dc, 0.0) + tbytes[t]
            fits = own[d] + unit_bytes <= cap and all(used[k] + b <= limit[k] for k, b in extra.items())
            if fits:
                for w in unit:
                    device[w] = d
                for k, b in extra.items():
                    used[k] += b
                own[d] += unit_bytes
                for t, dd in copies:
                    resident[t].add(dd)
                i += 1
            else:
                d += 1
        placed = np.asarray(device, dtype=np.int64)
        left = int((placed < 0).sum())
        if left:
            v = order[i]
            last = m - 1   # the failed attempt of the loop's last turn: ``extra`` and ``unit_bytes`` are its
            why = [f"device {k} would hold {units.format_size(used[k] + b)} of {units.format_size(limit[k])}"
                   + ("" if k == last else " (copies of its outputs, read by ops already there)")
                   for k, b in sorted(extra.items()) if used[k] + b > limit[k]]
            if own[last] + unit_bytes > cap:
                why.append(f"the uniform cap per device ({units.format_size(float(cap))}; uniform=false lifts it) "
                           f"would be passed")
            raise InfeasibleError(
                f"m-topo: {left} of {graph.num_ops} ops cannot be placed: op {graph.op_names[v]!r} (with its "
                f"co-location group, {units.format_size(unit_bytes)}) does not fit on the last device, "
                f"device {last}: {'; '.join(why)}")
        return Placement(placed, info={"cap_bytes": float(cap) if self.uniform else None, "static_bytes": used})
