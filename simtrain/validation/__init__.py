"""Reproduction cases: published measurements, simtrain's figure for each, and the error (``simtrain validate``).

Each case names its source, the published figure with its unit and evidence tag, the assumptions it makes and the
public API call that computes simtrain's figure. :func:`run_cases` runs them; :func:`validation_markdown` renders
``docs/validation.md``.

Examples
--------
>>> from simtrain.validation import run_cases
>>> row = run_cases(["powersgd-rank2-payload"])[0]
>>> row.published, round(row.simulated, 2)
(7.5, 7.53)
"""

from __future__ import annotations

from simtrain.validation import cases as _cases  # noqa: F401  (registers the built-in cases)
from simtrain.validation import gemm_tables as _gemm_tables  # noqa: F401  (registers the GEMM-table cases)
from simtrain.validation import heldout as _heldout  # noqa: F401  (registers the held-out cases)
from simtrain.validation import layer_tables as _layer_tables  # noqa: F401  (registers DeepBench's layer cases)
from simtrain.validation import lowrank_cases as _lowrank  # noqa: F401  (registers the low-rank training cases)
from simtrain.validation import probe23 as _probe23  # noqa: F401  (registers held-out probe 23's cases)
from simtrain.validation import probe24 as _probe24  # noqa: F401  (registers held-out probe 24's cases)
from simtrain.validation import probe25 as _probe25  # noqa: F401  (registers held-out probe 25's cases)
from simtrain.validation import probe26 as _probe26  # noqa: F401  (registers held-out probe 26's cases)
from simtrain.validation import probe27 as _probe27  # noqa: F401  (registers held-out probe 27's cases)
from simtrain.validation import probe28 as _probe28  # noqa: F401  (registers held-out probe 28's cases)
from simtrain.validation.base import (
    CASES,
    Case,
    ValidationRow,
    evaluate,
    median_abs_error,
    median_effect_error,
    register_case,
    run_cases,
)
from simtrain.validation.report import validation_markdown

__all__ = ["CASES", "Case", "ValidationRow", "evaluate", "median_abs_error", "median_effect_error",
           "register_case", "run_cases", "validation_markdown"]
