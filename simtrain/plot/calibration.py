"""Predicted against measured kernel times, from a calibration check.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> ax = plot_predicted_vs_measured([1e-4, 2e-4], [1.1e-4, 1.8e-4], ["a", "b"])
>>> ax.get_xlabel()
'measured time per shape (s)'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_predicted_vs_measured"]


def plot_predicted_vs_measured(measured: Sequence[float], predicted: Sequence[float], kinds: Sequence[str],
                               ax: Any = None, title: str = "") -> Any:
    """Log-log scatter of predicted against measured times, the diagonal and a ±15 % band; returns the Axes."""
    import matplotlib.pyplot as plt

    from simtrain.plot.style import legend_outside, series_style

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    measured_a, predicted_a = np.asarray(measured), np.asarray(predicted)
    for index, kind in enumerate(sorted(set(kinds))):
        mask = np.array([k == kind for k in kinds])
        style = series_style(index)
        ax.scatter(measured_a[mask], predicted_a[mask], label=kind, s=22, c=style["color"], marker=style["marker"])
    low, high = float(min(measured_a.min(), predicted_a.min())) * 0.8, float(max(measured_a.max(),
                                                                                 predicted_a.max())) * 1.25
    line = np.array([low, high])
    ax.plot(line, line, "k-", lw=1, label="predicted = measured")
    ax.fill_between(line, line * 0.85, line * 1.15, color="grey", alpha=0.2, label="±15 %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("measured time per shape (s)")
    ax.set_ylabel("predicted time per shape (s)")
    within = float(np.mean(np.abs(predicted_a - measured_a) / measured_a <= 0.15))
    ax.set_title(title or f"{100 * within:.0f} % of shapes within 15 %")
    legend_outside(ax, fontsize=8)   # beside the axes: points can fall anywhere off the diagonal
    ax.grid(True, which="both", alpha=0.3)
    return ax
