"""Progress on a terminal for every command that may run longer than a few seconds (tqdm).

A bar shows on stderr only when stderr is a terminal and the command was not asked to be ``--quiet``; anywhere
else (a pipe, a file, CI) it prints nothing, so logs and ``--json`` output stay clean. Work whose items cost
unequal amounts reports a weight per item (a study weighs each point by its estimated cost: see
:func:`point_weight`), so the ETA is the remaining weight at the rate weight has been done, not the remaining count.

Examples
--------
>>> import io
>>> bar = ProgressBar(4, "points", stream=io.StringIO())     # not a terminal: silent
>>> bar.update(2, weight=10.0); bar.update(2, weight=30.0); bar.close()
>>> bar.done, bar.done_weight
(4, 40.0)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["ProgressBar", "point_weight"]


class ProgressBar:
    """A progress bar over ``total`` items (optionally of ``total_weight`` in cost units).

    Parameters
    ----------
    total : int
        Items to do.
    unit : str
        What an item is (``points``, ``shapes``, ``epochs``).
    total_weight : float, optional
        Sum of the items' weights (default: one per item).
    done : int
        Items already done (a resumed study), with ``done_weight`` their weight.
    quiet : bool
        Never show.
    stream : file, optional
        Where to draw (default stderr); shown only when it is a terminal.
    """

    def __init__(self, total: int, unit: str = "items", *, total_weight: float | None = None, done: int = 0,
                 done_weight: float | None = None, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.total = total
        self.unit = unit
        self.total_weight = float(total if total_weight is None else total_weight)
        self.done = done
        self.done_weight = float(done if done_weight is None else done_weight)
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._open()

    def _open(self) -> None:
        shown = not self.quiet and getattr(self.stream, "isatty", lambda: False)() and self.total > 0
        if shown:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total_weight, initial=self.done_weight, file=self.stream, unit="",
                             bar_format="{l_bar}{bar}| {postfix} [{elapsed}<{remaining}]", leave=True)
            self._bar.set_postfix_str(self._count(), refresh=False)

    def _count(self) -> str:
        return f"{self.done}/{self.total} {self.unit}"

    def update(self, count: int = 1, weight: float | None = None, label: str | None = None) -> None:
        """``count`` more items done, of ``weight`` (default ``count``)."""
        self.done += count
        step = float(count if weight is None else weight)
        self.done_weight += step
        if self._bar is not None:
            if label is not None:
                self._bar.set_description_str(label[:40], refresh=False)
            self._bar.set_postfix_str(self._count(), refresh=False)
            self._bar.update(step)

    def callback(self, done: int, total: int, label: Any = None) -> None:
        """``progress(done, total, label)``, the form long library calls report in (calibration)."""
        if total != self.total or done < self.done:   # a new phase (a table, then shapes): start over for it
            self.close()
            self.total, self.total_weight, self.done, self.done_weight = total, float(total), 0, 0.0
            self._open()
        text = None if label is None else (label if isinstance(label, str) else label.describe())
        if done > self.done:
            self.update(done - self.done, label=text)

    def close(self) -> None:
        """Finish the bar's line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def point_weight(point: Mapping[str, Any]) -> float:
    """The estimated cost of a study point, in units of one analytical data-parallel point.

    The analytical engine's time barely grows with the GPU count (a step's patterns are evaluated once per
    symmetric group), so an analytical point weighs 1; the DES simulates every GPU's flows, so a DES point weighs
    its GPU count (at least 1), times its pipeline chunks. Only the ETA uses this.

    Examples
    --------
    >>> point_weight({"engine": "analytical", "gpus": 4096}), point_weight({"engine": "des", "gpus": 64, "chunks": 2})
    (1.0, 128.0)
    """
    if point.get("engine") != "des":
        return 1.0
    gpus = point.get("gpus") or 1
    chunks = point.get("chunks") or 1
    return float(max(int(gpus), 1) * max(int(chunks), 1))
