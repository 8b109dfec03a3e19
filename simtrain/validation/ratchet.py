"""The validation ratchet: each case's recorded error, and the check that no case gets worse.

CI used to gate the median error over all cases; a median rewards easy cases and punishes honest hard ones. The
ratchet instead records every case's ``|error|`` in a committed JSON file (``simtrain/validation/ratchet.json``)
and fails only when a case's ``|error|`` grows beyond its recorded value by more than a tolerance (1 percentage
point by default). A case absent from the file enters at its measured error and passes; a case whose figure is no
longer finite fails. Medians (over ``test`` cases, over ``fit`` cases, and of the effect in ratio cases) are
recorded for the record, never gated. ``simtrain validate --record`` rewrites the file, so after a model change
the new errors are re-recorded with one command and the diff of the file shows which cases moved.

Examples
--------
>>> from simtrain.validation.base import Case, evaluate
>>> rows = [evaluate(Case("a", "s", "q", 10.0, "x", "[M]", "", "", lambda: 11.0))]
>>> doc = ratchet_document(rows)
>>> round(doc["cases"]["a"]["abs_error"], 4)
0.1
>>> worse = [evaluate(Case("a", "s", "q", 10.0, "x", "[M]", "", "", lambda: 12.0))]
>>> [v.name for v in check_ratchet(worse, doc)]
['a']
>>> check_ratchet(rows, doc)
[]
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError
from simtrain.validation.base import ValidationRow, median_abs_error, median_effect_error

__all__ = ["DEFAULT_RATCHET", "DEFAULT_TOLERANCE", "RatchetEntry", "check_ratchet", "load_ratchet",
           "ratchet_document", "ratchet_entries", "summary", "write_ratchet"]

DEFAULT_RATCHET = Path(__file__).with_name("ratchet.json")
"""The committed ratchet file (in a source checkout; pass a path where the package is installed elsewhere)."""

DEFAULT_TOLERANCE = 0.01
"""How far (as a fraction: 0.01 = 1 percentage point) a case's ``|error|`` may grow before the check fails."""

_DIGITS = 6  # recorded errors are rounded so the file diffs cleanly


def _rounded(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, _DIGITS)


def summary(rows: Sequence[ValidationRow]) -> dict[str, Any]:
    """Counts and medians of a run: over ``test`` and ``fit`` cases, and of the effect in ratio cases.

    Examples
    --------
    >>> from simtrain.validation.base import Case, evaluate
    >>> rows = [evaluate(Case(n, "s", "q", 1.0, "x", "[M]", "", "", lambda: 1.2, role=r, fit_note="k"))
    ...         for n, r in (("a", "test"), ("b", "fit"))]
    >>> s = summary(rows)
    >>> s["cases"], s["test_cases"], round(s["median_abs_error_test"], 3)
    (2, 1, 0.2)
    """
    test = [r for r in rows if r.role == "test"]
    fit = [r for r in rows if r.role == "fit"]
    ratio = [r for r in rows if r.effect_error is not None]

    def med(value: float) -> float | None:
        return _rounded(value)

    return {
        "cases": len(rows),
        "test_cases": len(test),
        "fit_cases": len(fit),
        "ratio_cases": len(ratio),
        "sources": len({r.source_id for r in rows}),
        "median_abs_error_test": med(median_abs_error(test)),
        "median_abs_error_fit": med(median_abs_error(fit)),
        "median_abs_error_all": med(median_abs_error(rows)),
        "median_abs_effect_error": med(median_effect_error(ratio)),
        "median_abs_effect_error_test": med(median_effect_error([r for r in ratio if r.role == "test"])),
    }


def ratchet_document(rows: Sequence[ValidationRow], tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """The JSON document ``--record`` writes: every case's role and errors, the tolerance and the medians.

    Examples
    --------
    >>> from simtrain.validation.base import Case, evaluate
    >>> doc = ratchet_document([evaluate(Case("a", "s", "q", 2.0, "x", "[M]", "", "", lambda: 1.0))])
    >>> doc["cases"]["a"]["rel_error"], doc["tolerance"]
    (-0.5, 0.01)
    """
    cases = {}
    for r in rows:
        rel = _rounded(r.rel_error)
        cases[r.name] = {"role": r.role, "rel_error": rel, "abs_error": None if rel is None else abs(rel),
                         "effect_error": _rounded(r.effect_error)}
    return {"tolerance": tolerance, "summary": summary(rows), "cases": cases}


@dataclass(frozen=True)
class RatchetEntry:
    """One case against the ratchet: its recorded and measured ``|error|`` and the verdict.

    ``status`` is ``ok``, ``better`` (improved by more than the tolerance: re-record to lock it in), ``new``
    (not in the file: enters at its measured error), or ``worse`` (grew beyond the tolerance, or not finite).
    """

    name: str
    recorded: float | None
    measured: float | None
    status: str


def ratchet_entries(rows: Iterable[ValidationRow], document: Mapping[str, Any],
                    tolerance: float | None = None) -> list[RatchetEntry]:
    """Compare each row's ``|error|`` with the recorded one.

    ``tolerance`` defaults to the file's own (``tolerance`` key), else :data:`DEFAULT_TOLERANCE`.

    Examples
    --------
    >>> from simtrain.validation.base import Case, evaluate
    >>> doc = {"cases": {"a": {"abs_error": 0.10}}}
    >>> rows = [evaluate(Case(n, "s", "q", 1.0, "x", "[M]", "", "", lambda: v)) for n, v in (("a", 1.105), ("b", 3.0))]
    >>> [(e.name, e.status) for e in ratchet_entries(rows, doc)]
    [('a', 'ok'), ('b', 'new')]
    """
    tol = float(document.get("tolerance", DEFAULT_TOLERANCE) if tolerance is None else tolerance)
    recorded_cases = document.get("cases", {})
    out = []
    for r in rows:
        measured = abs(r.rel_error) if math.isfinite(r.rel_error) else None
        entry = recorded_cases.get(r.name)
        if entry is None:
            status = "worse" if measured is None else "new"
            out.append(RatchetEntry(r.name, None, measured, status))
            continue
        recorded = entry.get("abs_error")
        if measured is None:
            status = "worse"
        elif recorded is None:  # recorded as not finite: anything finite is an improvement
            status = "better"
        elif measured > recorded + tol:
            status = "worse"
        elif measured < recorded - tol:
            status = "better"
        else:
            status = "ok"
        out.append(RatchetEntry(r.name, recorded, measured, status))
    return out


def check_ratchet(rows: Iterable[ValidationRow], document: Mapping[str, Any],
                  tolerance: float | None = None) -> list[RatchetEntry]:
    """The cases whose ``|error|`` grew beyond their recorded value by more than the tolerance (empty: pass).

    Examples
    --------
    >>> from simtrain.validation.base import Case, evaluate
    >>> rows = [evaluate(Case("a", "s", "q", 1.0, "x", "[M]", "", "", lambda: 1.3))]
    >>> [e.status for e in check_ratchet(rows, {"cases": {"a": {"abs_error": 0.25}}})]
    ['worse']
    """
    return [e for e in ratchet_entries(rows, document, tolerance) if e.status == "worse"]


def load_ratchet(path: str | Path = DEFAULT_RATCHET) -> dict[str, Any]:
    """Read and check a ratchet file; a missing, unreadable or malformed one is a
    :class:`~simtrain.errors.ConfigError` naming the file and the key.

    The file is read through :func:`simtrain.inputs.load_json` (a regular file of bounded size); ``tolerance``,
    when present, is a finite number of at least 0, and every case's ``abs_error`` a finite number of at least 0 or
    ``null`` (recorded as not finite).

    Examples
    --------
    >>> load_ratchet("/nonexistent/ratchet.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: ...
    """
    from simtrain.inputs import check_keys, load_json

    source = str(path)
    if not Path(path).exists():
        raise ConfigError("no ratchet file (record one with `simtrain validate --record`)", key="--ratchet",
                          value=source)
    doc = load_json(path, key="--ratchet", unique_keys=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), dict):
        raise ConfigError("a ratchet file is a JSON object with a 'cases' object", source=source, key="cases")
    check_keys(doc, ("tolerance", "summary", "cases"), source)
    if not isinstance(doc.get("summary", {}), dict):
        raise ConfigError("must be an object (the medians --record wrote)", source=source, key="summary",
                          value=doc["summary"])
    if "tolerance" in doc:
        _check_error_value(doc["tolerance"], source, "tolerance", none_ok=False)
        if doc["tolerance"] > 1:   # a check that could never fail
            raise ConfigError("must be at most 1 (100 percentage points; the default is 0.01)", source=source,
                              key="tolerance", value=doc["tolerance"])
    for name, entry in doc["cases"].items():
        if not isinstance(entry, dict) or "abs_error" not in entry:   # without it the case would count as new
            raise ConfigError("must be an object with an 'abs_error'", source=source, key=f"cases.{name}",
                              value=entry)
        check_keys(entry, ("abs_error", "rel_error", "effect_error", "role"), source, f"cases.{name}.")
        if entry.get("role", "test") not in ("fit", "test"):
            raise ConfigError("unknown role", source=source, key=f"cases.{name}.role", value=entry["role"],
                              choices=("fit", "test"))
        _check_error_value(entry.get("abs_error"), source, f"cases.{name}.abs_error", none_ok=True)
    return doc



def _check_error_value(value: Any, source: str, key: str, *, none_ok: bool) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError("must be a finite number of at least 0" + (" or null" if none_ok else ""), source=source,
                          key=key, value=value)


def write_ratchet(rows: Sequence[ValidationRow], path: str | Path = DEFAULT_RATCHET,
                  tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """Record every row's error in ``path`` (sorted keys, one case per line group) and return the document.

    Examples
    --------
    >>> import tempfile, os
    >>> from simtrain.validation.base import Case, evaluate
    >>> rows = [evaluate(Case("a", "s", "q", 4.0, "x", "[M]", "", "", lambda: 5.0))]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     doc = write_ratchet(rows, os.path.join(d, "r.json"))
    ...     load_ratchet(os.path.join(d, "r.json")) == doc
    True
    """
    from simtrain.outputs import write_text

    doc = ratchet_document(rows, tolerance)
    write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n", make_parents=True)   # whole or not at all
    return doc
