"""Type checkers see the names ``simtrain`` loads lazily: ``simtrain.simulate`` checks, a misspelling does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import simtrain

api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[dev]')")


def _mypy(tmp_path: Path, snippets: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Type-check each snippet (one module per key) in one mypy run; the error lines per module."""
    for name, code in snippets.items():
        (tmp_path / f"{name}.py").write_text(code, encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")  # not the project's settings (they ignore missing imports)
    root = Path(simtrain.__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():  # a checkout: an editable install's import hook is invisible to mypy
        monkeypatch.setenv("MYPYPATH", str(root))
    stdout, stderr, _status = api.run([
        "--config-file", str(config), "--cache-dir", str(tmp_path / ".mypy_cache"),
        "--follow-imports=silent",  # simtrain's own modules are checked by `mypy simtrain`, not here
        "--python-executable", sys.executable,
        *(str(tmp_path / f"{name}.py") for name in snippets),
    ])
    assert "error: Cannot find implementation or library stub" not in stdout, stdout + stderr
    return {name: [line for line in stdout.splitlines() if line.startswith(str(tmp_path / f"{name}.py"))
                   and ": error:" in line] for name in snippets}


def test_lazy_names_are_typed_and_misspellings_are_errors(tmp_path, monkeypatch):
    errors = _mypy(tmp_path, {
        "uses_simulate": "import simtrain\n\nsimtrain.simulate\nsimtrain.load_topology\nsimtrain.ConfigError\n",
        "uses_simulatee": "import simtrain\n\nsimtrain.simulatee\n",
    }, monkeypatch)
    assert errors["uses_simulate"] == []
    assert len(errors["uses_simulatee"]) == 1
    assert "[attr-defined]" in errors["uses_simulatee"][0]


def test_every_lazy_name_is_declared_for_type_checkers():
    """The TYPE_CHECKING imports and the runtime table list the same names."""
    import ast

    tree = ast.parse(Path(simtrain.__file__).read_text(encoding="utf-8"))
    declared = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.If)
                and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                for stmt in node.body if isinstance(stmt, ast.ImportFrom) for alias in stmt.names}
    assert declared == set(simtrain._LAZY)


def test_import_simtrain_stays_light():
    """The TYPE_CHECKING imports cost nothing at runtime: no heavy dependency is imported by ``import simtrain``."""
    code = "import sys, simtrain; print(sorted(m for m in ('numpy', 'scipy', 'pandas', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
