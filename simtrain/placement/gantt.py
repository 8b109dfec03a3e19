"""Gantt chart of a simulated step: one row of ops per device, and below it the transfers it receives.

The title names what ran where: the graph, the placer, the devices (their type when the op times come from a
device's compute model, else "op times from the graph"), their memory limit and the link between them, and the
engine. A pipelined step (``pipeline=``, from :func:`~simtrain.placement.pipeline.place_pipelined`) draws every
micro-batch's copy of the ops, alternate micro-batches in a lighter shade.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from simtrain.placement import OpGraph, make_devices, place
>>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 0.1, (0, 2): 0.1})
>>> ax = plot_gantt(place(g, make_devices(2), "m-etf"), device="v100")
>>> ax.get_xlabel(), len(ax.get_yticks())
('time (ms)', 4)
>>> print(ax.get_title())
graph: m-etf on 2 × V100 (memory unlimited), step 2.1 s (analytical)
switch: 134 µs + bytes / 5.701 GB/s between devices
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simtrain import units
from simtrain.placement.plan import Plan

__all__ = ["gantt_title", "plot_gantt"]

_KIND_COLOURS = {"forward": "tab:blue", "backward": "tab:orange", "update": "tab:green", "op": "tab:blue"}


def gantt_title(plan: Plan, device: str | None = None, pipeline: Any = None) -> str:
    """The chart's two-line title: graph, placer, devices (type, memory), step and engine; then the link.

    ``device`` is the hardware catalog name whose compute model timed the ops (``None``: the graph's own times).

    Examples
    --------
    >>> from simtrain.placement import OpGraph, make_devices, place
    >>> plan = place(OpGraph.from_edges([1e-3, 1e-3], {(0, 1): 0.0}), make_devices(2, "4 GiB"), "single")
    >>> print(gantt_title(plan))
    graph: single on 2 devices (op times from the graph; 4 GiB each), step 2 ms (analytical)
    switch: 134 µs + bytes / 5.701 GB/s between devices
    """
    m = plan.devices.count
    limits = plan.devices.memory_bytes
    if not np.isfinite(limits).any():
        memory = "memory unlimited"
    elif np.ptp(limits) == 0:
        memory = f"{units.format_size(float(limits[0]))} each"
    else:
        memory = "memory " + ", ".join("unlimited" if not np.isfinite(b) else units.format_size(float(b))
                                       for b in limits)
    if device:
        from simtrain.hardware import get_device

        what = f"{m} × {get_device(device).name.upper()} ({memory})"
    else:
        what = f"{m} devices (op times from the graph; {memory})"
    sim = pipeline.simulation if pipeline is not None else plan.simulation
    step = f"step {units.format_time(sim.makespan_s)} ({sim.engine})"
    if pipeline is not None:
        step = (f"{pipeline.micro_batches} micro-batches ({pipeline.schedule}), {step}, "
                f"{pipeline.one_device_s / sim.makespan_s:.2f}× one device")
    info = plan.devices.describe()
    cluster = plan.devices.cluster
    if m < 2:
        link = f"{info['topology']}: one device, no transfers"
    elif plan.devices.homogeneous:
        link = (f"{info['topology']}: {units.format_time(info['route_latency_s']).replace('us', 'µs')} + bytes / "
                f"{units.format_bandwidth(info['route_bandwidth_Bps'])} between devices")
    else:
        link = (f"{info['topology']} ({cluster.device.upper()} GPUs {', '.join(map(str, range(m)))}): routes up to "
                f"{units.format_time(info['route_latency_s']).replace('us', 'µs')} + bytes / "
                f"{units.format_bandwidth(info['route_bandwidth_Bps'])} at the slowest")
    return f"{plan.graph.name}: {plan.algorithm} on {what}, {step}\n{link}"


def plot_gantt(plan: Plan, ax: Any = None, title: str = "", *, device: str | None = None,
               pipeline: Any = None) -> Any:
    """Draw ``plan``'s simulated step (ops coloured by kind; transfers in grey); returns the Axes.

    ``device``: the hardware catalog name that timed the ops, named in the title (see :func:`gantt_title`).
    ``pipeline``: a :class:`~simtrain.placement.pipeline.PipelineResult` of this placement, drawn instead of the
    single micro-batch's step: every micro-batch's copies, odd micro-batches lighter.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    sim = pipeline.simulation if pipeline is not None else plan.simulation
    graph = pipeline.graph if pipeline is not None else plan.graph
    micro = (np.maximum(pipeline.micro, 0) if pipeline is not None and pipeline.micro is not None
             else np.zeros(graph.num_ops, dtype=np.int64))
    m = plan.devices.count
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.3 + 0.8 * m))
    scale = 1e3
    kinds = np.array(graph.kind)
    for d in range(m):
        y = 2 * (m - 1 - d) + 1
        on = sim.device == d
        for kind in sorted(set(kinds[on].tolist())):
            for odd in (0, 1):
                mask = on & (kinds == kind) & (micro % 2 == odd)
                if not mask.any():
                    continue
                bars = np.column_stack([sim.start[mask] * scale, (sim.end[mask] - sim.start[mask]) * scale])
                colour = _KIND_COLOURS.get(kind, "tab:blue")
                # a pipeline's ops are many and thin: white edges would wash the colours out, so none there, and
                # odd micro-batches get a solid lighter tint (not transparency) that stays distinct
                ax.broken_barh(bars.tolist(), (y - 0.4, 0.8), facecolors=_tint(colour) if odd else colour,
                               edgecolors="white", linewidth=0.0 if pipeline is not None else 0.2)
        if len(sim.transfers):
            into = sim.transfers[sim.transfers[:, 2] == d]
            bars = np.column_stack([into[:, 3] * scale, (into[:, 4] - into[:, 3]) * scale])
            ax.broken_barh(bars.tolist(), (y - 1 - 0.3, 0.6), facecolors="grey", alpha=0.5)
    ax.set_yticks([2 * (m - 1 - d) + off for d in range(m) for off in (1, 0)])
    ax.set_yticklabels([label for d in range(m) for label in (f"device {d}", f"→ {d}")], fontsize=8)
    ax.set_xlabel("time (ms)")
    ax.set_xlim(0, max(sim.makespan_s * scale, 1e-9) * 1.01)
    present = [k for k in ("forward", "backward", "update", "op") if k in set(graph.kind)]
    handles = [Patch(color=_KIND_COLOURS[k], label=k) for k in present]
    if pipeline is not None and pipeline.micro_batches > 1:
        handles += [Patch(color=_tint(_KIND_COLOURS[k]), label=f"{k}, odd micro-batch")
                    for k in present if k in ("forward", "backward", "op")]
    handles.append(Patch(color="grey", alpha=0.5, label="transfer in"))
    # beside the chart, never over it: bars run to the right edge on every row
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False)
    ax.set_title(title or gantt_title(plan, device, pipeline), fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    return ax



def _tint(colour: str) -> tuple[float, float, float]:
    """``colour`` mixed half-way with white: the odd micro-batches' shade."""
    from matplotlib.colors import to_rgb

    return tuple(0.5 + 0.5 * c for c in to_rgb(colour))  # type: ignore[return-value]
