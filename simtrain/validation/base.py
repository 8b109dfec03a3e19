"""Reproduction cases, their registry, and the runner that turns them into rows.

A :class:`Case` pairs one published measurement (with its unit, its source and the evidence tag the research
notes give it) with a function that computes the same quantity through simtrain's public API, under assumptions
the case states. :func:`run_cases` evaluates cases and returns one :class:`ValidationRow` per case.

Examples
--------
>>> case = Case(name="doc-example", source="a paper, Table 1", quantity="bytes per step", published=100.0,
...             unit="B", tag="[C]", assumptions="none", method="arithmetic", compute=lambda: 90.0)
>>> row = evaluate(case)
>>> row.simulated, round(row.rel_error, 3)
(90.0, -0.1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from simtrain.registry import Registry

__all__ = ["CASES", "ROLES", "Case", "ValidationRow", "evaluate", "median_abs_error", "median_effect_error",
           "register_case", "run_cases"]

ROLES = ("fit", "test")
"""``fit``: the measurement set a constant somewhere in simtrain; ``test``: held out, never used to set anything."""


@dataclass(frozen=True)
class Case:
    """One published measurement and how simtrain reproduces it.

    Attributes
    ----------
    name : str
        Registry name (``simtrain validate --case NAME``).
    source : str
        Paper or benchmark, with the table, figure or file the number comes from.
    quantity : str
        What is compared, in words (the unit is in ``unit``).
    published : float
        The published figure, in ``unit``.
    unit : str
        Unit of ``published`` and of the simulated figure.
    tag : str
        Evidence tag of the published figure ([M], [M2], [V], [C], [code], [data]; ``docs/references.md``,
        "Evidence tags").
    assumptions : str
        Every setting the case chooses (batch, GPUs, precision, algorithm, ...), stated, not hidden in defaults.
    method : str
        The public API call(s) that compute the simulated figure.
    compute : callable
        Returns the simulated figure, in ``unit``.
    gap : str
        Why the case misses by more than 25 % and what would close the gap (empty when it does not).
    role : str
        ``fit`` or ``test`` (:data:`ROLES`).
    fit_note : str
        For a ``fit`` case: which constant the measurement set, and where.
    effect_zero : float or None
        For a ratio case, the value that means "no effect" (1.0 for a speed-up, 100.0 for a scaling efficiency in
        %); None for an absolute figure.
    command : str
        The ``simtrain`` command line(s) that compute the simulated figure (``;`` between several).
    source_id : str
        A short key naming the independent source (one paper, one benchmark page, one issue thread), so sources
        can be counted.
    """

    name: str
    source: str
    quantity: str
    published: float
    unit: str
    tag: str
    assumptions: str
    method: str
    compute: Callable[[], float]
    gap: str = ""
    role: str = "test"
    fit_note: str = ""
    effect_zero: float | None = None
    command: str = ""
    source_id: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"validation case {self.name!r}: role {self.role!r} is not one of {ROLES}")
        if self.role == "fit" and not self.fit_note:
            raise ValueError(f"validation case {self.name!r}: a fit case must say which constant it set (fit_note)")


@dataclass(frozen=True)
class ValidationRow:
    """The outcome of one case: published and simulated figure and the relative error ``simulated/published - 1``.

    ``effect_error`` is, for a ratio case, ``(simulated - effect_zero) / (published - effect_zero) - 1`` (None
    otherwise): how far the simulated effect (the gain, the loss against linear scaling) is from the measured one.
    """

    name: str
    source: str
    quantity: str
    published: float
    simulated: float
    unit: str
    rel_error: float
    tag: str
    assumptions: str
    method: str
    gap: str
    role: str = "test"
    fit_note: str = ""
    effect_zero: float | None = None
    command: str = ""
    source_id: str = ""

    @property
    def effect_error(self) -> float | None:
        """Relative error of the effect (ratio cases only; None otherwise or when the published effect is 0).

        Examples
        --------
        >>> row = evaluate(Case("e", "s", "q", 1.25, "x", "[V]", "", "", lambda: 1.05, effect_zero=1.0))
        >>> round(row.rel_error, 3), round(row.effect_error, 3)
        (-0.16, -0.8)
        """
        if self.effect_zero is None or self.published == self.effect_zero or not math.isfinite(self.simulated):
            return None
        return (self.simulated - self.effect_zero) / (self.published - self.effect_zero) - 1.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping of the row's fields.

        Examples
        --------
        >>> doc = evaluate(CASES.get("powersgd-sgd-payload")).to_dict()
        >>> doc["role"], doc["effect_error"], "assumptions" in doc
        ('fit', None, True)
        """
        doc = asdict(self)
        doc["effect_error"] = self.effect_error
        return doc


CASES: Registry[Case] = Registry("validation case", "simtrain.validation_cases", "--case")
_ORDER: list[str] = []  # registration order, which is the order of the table


def register_case(case: Case) -> Case:
    """Add ``case`` to :data:`CASES` under its name and return it.

    Examples
    --------
    >>> "sony-abci-scaling-1088" in CASES.names()
    True
    """
    if case.name not in _ORDER:
        _ORDER.append(case.name)
    CASES.register(case.name, case)
    return case


def evaluate(case: Case) -> ValidationRow:
    """Run one case.

    Examples
    --------
    >>> row = evaluate(CASES.get("powersgd-sgd-payload"))
    >>> row.unit, round(row.simulated)
    ('MiB', 1023)
    """
    simulated = float(case.compute())
    rel = simulated / case.published - 1.0 if case.published else math.nan
    return ValidationRow(name=case.name, source=case.source, quantity=case.quantity, published=case.published,
                         simulated=simulated, unit=case.unit, rel_error=rel, tag=case.tag,
                         assumptions=case.assumptions, method=case.method, gap=case.gap, role=case.role,
                         fit_note=case.fit_note, effect_zero=case.effect_zero, command=case.command,
                         source_id=case.source_id or case.source)


def run_cases(names: Iterable[str] | None = None,
              progress: Callable[[int, int, str], None] | None = None) -> list[ValidationRow]:
    """Run the named cases (all registered cases, in registration order, by default).

    ``progress(done, total, name)`` is called after each case (``simtrain validate``'s progress bar).

    An unknown name raises :class:`~simtrain.errors.ConfigError` naming ``--case`` with the closest valid name.

    Examples
    --------
    >>> [r.name for r in run_cases(["ab-training-traffic-reduction"])]
    ['ab-training-traffic-reduction']
    """
    from simtrain.validation import cases as _cases  # noqa: F401  (registers the built-in cases)
    from simtrain.validation import heldout as _heldout  # noqa: F401  (registers the held-out cases)

    if names is None:
        plugins = [n for n in CASES.names() if n not in _ORDER]  # entry-point cases go last
        selected = [CASES.get(n) for n in [*_ORDER, *plugins]]
    else:
        selected = [CASES.get(n) for n in names]
    rows = []
    for case in selected:
        rows.append(evaluate(case))
        if progress is not None:
            progress(len(rows), len(selected), case.name)
    return rows


def median_abs_error(rows: Iterable[ValidationRow]) -> float:
    """Median of ``|rel_error|`` over the rows (NaN when there are none).

    Examples
    --------
    >>> rows = [evaluate(Case("a", "s", "q", 1.0, "x", "[C]", "", "", lambda: v)) for v in (1.1, 0.7, 1.0)]
    >>> round(median_abs_error(rows), 3)
    0.1
    """
    errors = sorted(abs(r.rel_error) for r in rows)
    if not errors:
        return math.nan
    mid = len(errors) // 2
    return errors[mid] if len(errors) % 2 else (errors[mid - 1] + errors[mid]) / 2


def median_effect_error(rows: Iterable[ValidationRow]) -> float:
    """Median of ``|effect_error|`` over the ratio cases among the rows (NaN when there are none).

    Examples
    --------
    >>> rows = [evaluate(Case("a", "s", "q", 1.2, "x", "[C]", "", "", lambda: v, effect_zero=1.0))
    ...         for v in (1.1, 1.3, 1.2)]
    >>> round(median_effect_error(rows), 3)
    0.5
    """
    errors = sorted(abs(e) for r in rows if (e := r.effect_error) is not None)
    if not errors:
        return math.nan
    mid = len(errors) // 2
    return errors[mid] if len(errors) % 2 else (errors[mid - 1] + errors[mid]) / 2
