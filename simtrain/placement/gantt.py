"""Gantt chart of a simulated step: one row of ops per device, and below it the transfers it receives.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from simtrain.placement import OpGraph, make_devices, place
>>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 0.1, (0, 2): 0.1})
>>> ax = plot_gantt(place(g, make_devices(2), "m-etf"))
>>> ax.get_xlabel(), len(ax.get_yticks())
('time (ms)', 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simtrain.placement.plan import Plan

__all__ = ["plot_gantt"]

_KIND_COLOURS = {"forward": "tab:blue", "backward": "tab:orange", "update": "tab:green", "op": "tab:blue"}


def plot_gantt(plan: Plan, ax: Any = None, title: str = "") -> Any:
    """Draw ``plan``'s simulated step (ops coloured by kind; transfers in grey); returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    sim = plan.simulation
    m = plan.devices.count
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.0 + 0.8 * m))
    scale = 1e3
    kinds = np.array(plan.graph.kind)
    for d in range(m):
        y = 2 * (m - 1 - d) + 1
        on = sim.device == d
        for kind in sorted(set(kinds[on].tolist())):
            mask = on & (kinds == kind)
            bars = np.column_stack([sim.start[mask] * scale, (sim.end[mask] - sim.start[mask]) * scale])
            ax.broken_barh(bars.tolist(), (y - 0.4, 0.8), facecolors=_KIND_COLOURS.get(kind, "tab:blue"),
                           edgecolors="white", linewidth=0.2)
        if len(sim.transfers):
            into = sim.transfers[sim.transfers[:, 2] == d]
            bars = np.column_stack([into[:, 3] * scale, (into[:, 4] - into[:, 3]) * scale])
            ax.broken_barh(bars.tolist(), (y - 1 - 0.3, 0.6), facecolors="grey", alpha=0.5)
    ax.set_yticks([2 * (m - 1 - d) + off for d in range(m) for off in (1, 0)])
    ax.set_yticklabels([label for d in range(m) for label in (f"device {d}", f"→ {d}")], fontsize=8)
    ax.set_xlabel("time (ms)")
    ax.set_xlim(0, max(sim.makespan_s * scale, 1e-9) * 1.01)
    present = [k for k in ("forward", "backward", "update", "op") if k in set(plan.graph.kind)]
    handles = [Patch(color=_KIND_COLOURS[k], label=k) for k in present]
    handles.append(Patch(color="grey", alpha=0.5, label="transfer in"))
    # beside the chart, never over it: bars run to the right edge on every row
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False)
    ax.set_title(title or f"{plan.graph.name}: {plan.algorithm} on {m} devices, step "
                          f"{sim.makespan_s * scale:.4g} ms ({sim.engine})")
    ax.grid(True, axis="x", alpha=0.3)
    return ax
