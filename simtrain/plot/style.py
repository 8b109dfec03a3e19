"""Shared conventions of simtrain's figures: series styles, GPU-count axes, legends that do not cover data.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> _, ax = plt.subplots()
>>> log_if_wide(ax, [8, 16, 4096], "x", base=2); ax.get_xscale()
'log'
>>> len({(s["color"], s["marker"]) for s in map(series_style, range(20))})
20
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["COLOURS", "MARKERS", "device_label", "gpu_axis", "legend_outside", "log_if_wide", "log_values",
           "series_style", "ticks_at"]

#: Tableau's ten colours (matplotlib's default cycle), distinct in print and for common colour-vision deficiencies.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
#: Seven markers: seven is coprime to ten colours, so (colour, marker) repeats only after 70 series.
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def series_style(index: int) -> dict[str, str]:
    """Colour and marker of the ``index``-th series: no two of the first 70 series share both.

    Examples
    --------
    >>> series_style(0), series_style(10)
    ({'color': '#1f77b4', 'marker': 'o'}, {'color': '#1f77b4', 'marker': 'D'})
    """
    return {"color": COLOURS[index % len(COLOURS)], "marker": MARKERS[index % len(MARKERS)]}


def log_if_wide(ax: Any, values: Iterable[Any], axis: str, base: float = 10) -> None:
    """Use a log scale on ``axis`` ('x' or 'y') when the positive ``values`` span a factor of 20 or more."""
    positive = [float(v) for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v) > 0]
    if positive and max(positive) / min(positive) >= 20:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=base)
        if base != 10:   # 8, 16, 4096 rather than 2^3, 2^4, 2^12
            from matplotlib.ticker import ScalarFormatter

            (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(ScalarFormatter())


def gpu_axis(ax: Any, counts: Iterable[Any], axis: str = "x") -> None:
    """A GPU-count axis as every scaling figure draws it: log base 2 whatever the span (so figures of different
    studies compare), ticks at the counts themselves (up to 12 of them, else at powers of two), plain numbers.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> _, ax = plt.subplots()
    >>> gpu_axis(ax, [4, 8, 16])
    >>> ax.get_xscale(), [int(t) for t in ax.get_xticks()]
    ('log', [4, 8, 16])
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

    values = sorted({int(float(v)) for v in counts if isinstance(v, numbers.Real) and float(v) > 0})
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2)
    target.set_major_locator(FixedLocator(values) if 0 < len(values) <= 12 else LogLocator(base=2))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 else f"{v:g}"))
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


def ticks_at(ax: Any, values: Iterable[Any], axis: str = "x") -> None:
    """Major ticks at the swept ``values`` themselves (up to 12 of them), written plainly (``0.001``, ``32``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> _, ax = plt.subplots()
    >>> ax.set_xscale("log"); ticks_at(ax, [1, 4, 32])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['1', '4', '32']
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    numbers_ = sorted({float(v) for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool)})
    if not 0 < len(numbers_) <= 12:
        return
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(numbers_))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


def log_values(ax: Any, axis: str = "y") -> None:
    """A log-10 value axis labelled in plain numbers (0.2, 0.5, 1, 2, 5, 10 …, not 2×10⁻¹).

    Within a span of less than 1000× the ticks sit at 1, 2 and 5 of each decade, so every value between two labelled
    ticks can be read off; wider spans keep one labelled tick per decade.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> _, ax = plt.subplots()
    >>> _ = ax.plot([1, 2], [0.13, 1.0]); log_values(ax)
    >>> ax.figure.canvas.draw(); [t.get_text() for t in ax.get_yticklabels() if t.get_text()][:3]
    ['0.1', '0.2', '0.5']
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    low, high = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    narrow = low > 0 and high / low < 1000
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def legend_outside(ax: Any, fontsize: float = 7, **kwargs: Any) -> Any:
    """A legend beside the axes (right of it), so that it never covers lines or bars; returns it.

    Pair it with a figure on ``layout="constrained"`` (or ``bbox_inches="tight"`` when saving) so it fits.
    """
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=fontsize,
                     frameon=False, **kwargs)


def device_label(name: str) -> str:
    """How a figure names a catalog device: its catalog name in capitals (``a100`` → ``A100``).

    Examples
    --------
    >>> device_label("v100"), device_label("cpu")
    ('V100', 'CPU')
    """
    return str(name).upper()
