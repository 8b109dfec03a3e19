"""The README's own-model, own-trace and nccl-tests examples (``shell-session`` blocks) print exactly what they show.

They read files shipped in the repository (tests/data), so they run from the repository root; the other console
examples run anywhere (tests/test_cli.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import simtrain.cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [block.split("```")[0] for block in text.split("```shell-session\n")[1:]]


def test_the_readme_has_the_three_workflows():
    commands = [b.split("\n")[0] for b in _blocks()]
    assert any("--model module:" in c for c in commands)
    assert any("import-trace" in c for c in commands)
    assert any("--compare" in c for c in commands)


@pytest.mark.parametrize("block", _blocks(), ids=lambda b: b.split("\n")[0][:70])
def test_readme_workflow_prints_what_it_shows(capsys, monkeypatch, block):
    pytest.importorskip("torch")
    monkeypatch.chdir(ROOT)
    command, *expected = block.strip("\n").split("\n")
    assert command.startswith("$ simtrain ")
    capsys.readouterr()
    code = simtrain.cli.main(command[len("$ simtrain "):].split())
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.strip("\n").split("\n") == expected
