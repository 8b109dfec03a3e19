"""Safe arithmetic for derived columns: names of row columns, numbers, + - * / ** %, parentheses, and a few
functions. Parsed with :mod:`ast`; anything else (attribute access, calls to other names, subscripts, lambdas …)
is rejected, so a study file can never run code.

Examples
--------
>>> expression = compile_expression("throughput_samples_per_s / num_gpus", "study.yaml", "derived.per_gpu")
>>> expression({"throughput_samples_per_s": 1000.0, "num_gpus": 8})
125.0
>>> compile_expression("__import__('os')", "s.yaml", "derived.bad")
Traceback (most recent call last):
...
simtrain.errors.ConfigError: s.yaml: derived.bad: only arithmetic on column names is allowed (got "__import__('os')")
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Collection, Mapping
from typing import Any

from simtrain.errors import ConfigError, suggest

__all__ = ["FUNCTIONS", "MAX_EXPRESSION_CHARS", "compile_expression"]

#: The longest derived-column expression (a longer one is refused before it is parsed).
MAX_EXPRESSION_CHARS = 1000

FUNCTIONS: dict[str, Callable[..., float]] = {"log": math.log, "log2": math.log2, "log10": math.log10,
                                              "sqrt": math.sqrt, "exp": math.exp, "abs": abs, "min": min, "max": max}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
#: How many arguments each function takes (at least, at most).
_ARITY: dict[str, tuple[int, int]] = {"log": (1, 2), "log2": (1, 1), "log10": (1, 1), "sqrt": (1, 1), "exp": (1, 1),
                                      "abs": (1, 1), "min": (2, 64), "max": (2, 64)}


def compile_expression(text: str, source: str, key: str,
                       columns: Collection[str] | None = None) -> Callable[[Mapping[str, Any]], float]:
    """Check ``text`` and return a function of a row that evaluates it.

    With ``columns`` (the table's, known before any point runs), a name that is none of them and a function given
    the wrong number of arguments are refused here, not recorded as every row's error.

    The function computes in floating point, so its work is bounded whatever the expression (``9 ** 9 ** 9 ** 9``
    overflows at once instead of computing an integer of billions of digits); a result that overflows or is not
    finite raises :class:`OverflowError`, which a study records as the point's error.

    Examples
    --------
    >>> compile_expression("9 ** 9 ** 9 ** 9", "s.yaml", "derived.big")({})
    Traceback (most recent call last):
    ...
    OverflowError: the result is not a finite number
    >>> compile_expression("step_time / 2", "s.yaml", "derived.half", columns=["step_time_s"])
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: s.yaml: derived.half: no column 'step_time' in the table (did you mean \
'step_time_s'?) (got 'step_time / 2')
    >>> compile_expression("1e308 * 10", "s.yaml", "derived.big")({})
    Traceback (most recent call last):
    ...
    OverflowError: the result is not a finite number
    """
    def refuse(why: str = "only arithmetic on column names is allowed") -> ConfigError:
        return ConfigError(why, source=source, key=key, value=text)

    if len(str(text)) > MAX_EXPRESSION_CHARS:
        raise refuse(f"an expression may have at most {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(str(text), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):   # ValueError: a NUL byte
        raise refuse() from None

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            check(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            if not _finite(node.value):
                raise refuse("a number in the expression is too large for a float")
        elif isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise refuse()
            if columns is not None and node.id not in columns:
                hint = suggest(node.id, sorted(columns))
                raise refuse(f"no column {node.id!r} in the table" + (f" (did you mean {hint!r}?)" if hint else ""))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                and not node.keywords:
            low, high = _ARITY[node.func.id]
            if not low <= len(node.args) <= high:
                raise refuse(f"{node.func.id} takes " + (f"{low}" if low == high else f"{low} to {high}")
                             + f" arguments, not {len(node.args)}")
            for argument in node.args:
                check(argument)
        else:
            raise refuse()

    try:
        check(tree)
    except RecursionError:
        raise refuse("the expression is nested too deeply") from None

    def evaluate(node: ast.AST, row: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Expression):
            return evaluate(node.body, row)
        if isinstance(node, ast.BinOp):
            try:
                value = _BINARY[type(node.op)](evaluate(node.left, row), evaluate(node.right, row))
            except OverflowError:   # float ** float past the range: say so, not errno 34's tuple
                raise OverflowError("the result is not a finite number") from None
            return _finite_result(value)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](evaluate(node.operand, row))
        if isinstance(node, ast.Constant):
            return float(node.value)  # type: ignore[arg-type]  # checked above: an int or a float
        if isinstance(node, ast.Name):
            if node.id not in row:
                raise KeyError(f"no column {node.id!r}")
            value = row[node.id]
            if value is None or isinstance(value, str):   # an empty column (mfu of a data-parallel row) or text
                raise ValueError(f"column {node.id!r} holds no number for this point (got {value!r})")
            return float(value)   # floats: bounded work (an int ** int may take hours)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        args = [evaluate(a, row) for a in node.args]
        try:
            return _finite_result(FUNCTIONS[node.func.id](*args))
        except ValueError:   # math's "math domain error": say which function and what it was given
            shown = ", ".join(f"{a:g}" for a in args)
            raise ValueError(f"{node.func.id}({shown}) is not defined") from None

    def run(row: Mapping[str, Any]) -> float:
        return float(evaluate(tree, row))

    return run


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:   # an integer beyond the float range
        return False


def _finite_result(value: Any) -> Any:
    if isinstance(value, complex):   # (-8) ** 0.5
        raise ValueError("the result is not a real number")
    if not _finite(value):   # 1e308 * 10
        raise OverflowError("the result is not a finite number")
    return value
