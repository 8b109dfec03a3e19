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

__all__ = ["CASES", "Case", "ValidationRow", "evaluate", "median_abs_error", "register_case", "run_cases"]


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


@dataclass(frozen=True)
class ValidationRow:
    """The outcome of one case: published and simulated figure and the relative error ``simulated/published - 1``."""

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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping of the row's fields.

        Examples
        --------
        >>> sorted(evaluate(CASES.get("powersgd-sgd-payload")).to_dict())[:4]
        ['assumptions', 'gap', 'method', 'name']
        """
        return asdict(self)


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
                         assumptions=case.assumptions, method=case.method, gap=case.gap)


def run_cases(names: Iterable[str] | None = None) -> list[ValidationRow]:
    """Run the named cases (all registered cases, in registration order, by default).

    An unknown name raises :class:`~simtrain.errors.ConfigError` naming ``--case`` with the closest valid name.

    Examples
    --------
    >>> [r.name for r in run_cases(["ab-training-traffic-reduction"])]
    ['ab-training-traffic-reduction']
    """
    from simtrain.validation import cases as _cases  # noqa: F401  (registers the built-in cases)

    if names is None:
        plugins = [n for n in CASES.names() if n not in _ORDER]  # entry-point cases go last
        selected = [CASES.get(n) for n in [*_ORDER, *plugins]]
    else:
        selected = [CASES.get(n) for n in names]
    return [evaluate(c) for c in selected]


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
