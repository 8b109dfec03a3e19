"""Plots. Functions take and return a matplotlib ``Axes``; matplotlib is imported on first use.

Examples
--------
>>> from simtrain.plot import link_heatmap
>>> callable(link_heatmap)
True
"""

from simtrain.plot.links import link_heatmap, link_utilization

__all__ = ["link_heatmap", "link_utilization"]
