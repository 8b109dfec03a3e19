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
from collections.abc import Callable, Mapping
from typing import Any

from simtrain.errors import ConfigError

__all__ = ["FUNCTIONS", "compile_expression"]

FUNCTIONS: dict[str, Callable[..., float]] = {"log": math.log, "log2": math.log2, "log10": math.log10,
                                              "sqrt": math.sqrt, "exp": math.exp, "abs": abs, "min": min, "max": max}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def compile_expression(text: str, source: str, key: str) -> Callable[[Mapping[str, Any]], float]:
    """Check ``text`` and return a function of a row that evaluates it."""
    def refuse() -> ConfigError:
        return ConfigError("only arithmetic on column names is allowed", source=source, key=key, value=text)

    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError:
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
            pass
        elif isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise refuse()
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                and not node.keywords:
            for argument in node.args:
                check(argument)
        else:
            raise refuse()

    check(tree)

    def evaluate(node: ast.AST, row: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Expression):
            return evaluate(node.body, row)
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](evaluate(node.left, row), evaluate(node.right, row))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](evaluate(node.operand, row))
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in row:
                raise KeyError(f"no column {node.id!r}")
            return row[node.id]
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return FUNCTIONS[node.func.id](*(evaluate(a, row) for a in node.args))

    def run(row: Mapping[str, Any]) -> float:
        return float(evaluate(tree, row))

    return run
