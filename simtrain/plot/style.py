"""Shared axis conventions of simtrain's figures.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> _, ax = plt.subplots()
>>> log_if_wide(ax, [8, 16, 4096], "x", base=2); ax.get_xscale()
'log'
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["log_if_wide"]


def log_if_wide(ax: Any, values: Iterable[Any], axis: str, base: float = 10) -> None:
    """Use a log scale on ``axis`` ('x' or 'y') when the positive ``values`` span a factor of 20 or more."""
    positive = [float(v) for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v) > 0]
    if positive and max(positive) / min(positive) >= 20:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)
        if base != 10:   # 8, 16, 4096 rather than 2^3, 2^4, 2^12
            from matplotlib.ticker import ScalarFormatter

            (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(ScalarFormatter())
