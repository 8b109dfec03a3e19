"""The worked example of docs/parallelism.md is what the command prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from simtrain.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "parallelism.md"


def test_worked_example_matches_the_command(capsys) -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"checked by tests/parallel/test_docs_example.py.*?```\n(.*?)```", text, re.S)
    assert block is not None
    lines = block.group(1).splitlines()
    command = lines[0]
    assert command.startswith("$ simtrain ")
    assert main(shlex.split(command)[2:]) == 0
    assert capsys.readouterr().out.splitlines() == lines[1:]
