"""A blind probe's registered rows as validation cases: one row of a probe's results, one held-out case.

A probe (a helper session that registers each published figure's ``simtrain`` command before it runs any) leaves
rows: the figure and the page's words, the command (its kind and parameters), the ``--json`` field that gives the
figure and its scale, the assumptions, the probe's confidence and its reason, a declared deviation where a
registered command was refused, and its reading of a row beyond 25 %. :func:`register_probe_rows` makes each a case
the same way, so a probe's module holds only its data (:mod:`simtrain.validation.probe24`, ``probe25``).

Examples
--------
>>> from simtrain.validation import CASES
>>> "held-out probe 25's confidence: medium (" in CASES.get("nccl1469-h100-128gpu-allreduce-8B-time").assumptions
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from simtrain.validation.command import Command
from simtrain.validation.heldout import _case, _value

__all__ = ["register_probe_rows"]


def register_probe_rows(probe: int, rows: Iterable[Mapping[str, Any]]) -> None:
    """Register each row of probe number ``probe`` as a held-out case.

    Each row has ``name``, ``source_id``, ``document`` (what the document is), ``page`` (its address), ``kind`` and
    ``params`` (the command), ``key`` and ``scale`` (the ``--json`` field and its factor to the published unit),
    ``published``, ``unit``, ``quantity``, ``quote`` (the page's words), ``assumptions``, ``confidence`` and
    ``reason``, and optionally ``deviation`` (a declared change to a refused command), ``stated`` (what a later
    reading of the source's code states in the command, and why) and ``gap`` (the probe's reading of a miss, which
    the case says is not closed).
    """
    for row in rows:
        cmd = Command(row["kind"], row["params"])
        deviation = f"; declared deviation: {row['deviation']}" if row.get("deviation") else ""
        deviation += f"; {row['stated']}" if row.get("stated") else ""
        gap = row.get("gap") or ""
        _case(row["name"], row["source_id"], f"{row['document']}, {row['page']}: '{row['quote']}'",
              row["quantity"], row["published"], row["unit"], "[M]",
              f"{row['assumptions']}; held-out probe {probe}'s confidence: {row['confidence']} ({row['reason']})"
              f"{deviation}", [cmd], _value(cmd, row["key"], row["scale"]),
              gap=f"{gap.rstrip('.')}; not closed" if gap else "")
