"""The malformed-input corpus (``tests/bad_inputs/``) through every command that reads it.

``tests/bad_inputs/expected.yaml`` lists each file, the commands that read it and the fragments its error must
contain. Every run must end with exit status 2 and exactly one line ``error: …`` on stderr that names the file
(and the key), with no traceback and no output file left behind. Commands run in-process through
:func:`simtrain.cli.main`; two run in a real subprocess.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_checks import one_error_line

from simtrain.cli import main

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))


def _cases() -> list[tuple[str, str]]:
    cases = []
    for rel, meta in EXPECTED["inputs"].items():
        kind = rel.split("/", 1)[0]
        for template in meta.get("commands", EXPECTED["commands"][kind]):
            cases.append((rel, template))
    return cases


CASES = _cases()


def _argv(template: str, file: Path | None, out: Path) -> list[str]:
    return [part.format(file=file, out=out) for part in shlex.split(template)]


def _nothing_written(out: Path) -> None:
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert left == [], f"output written despite the error: {left}"


def test_the_corpus_is_complete():
    """At least 60 inputs, every file listed and every listed file present, every kind of input covered."""
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.name != "expected.yaml"}
    assert on_disk == set(EXPECTED["inputs"])
    assert len(on_disk) >= 60
    kinds = {rel.split("/", 1)[0] for rel in on_disk}
    assert {"topologies", "models", "studies", "perturbations", "graphs", "profiles"} <= kinds
    commands = {shlex.split(t)[0] for t in EXPECTED["commands"].values() for t in t} | {
        shlex.split(a["argv"])[0] for a in EXPECTED["arguments"]}
    assert {"simulate", "collective", "sweep", "place", "calibrate", "traffic", "plot", "validate"} <= commands


@pytest.mark.parametrize(("rel", "template"), CASES, ids=[f"{r}::{t.split(' --')[0]}" for r, t in CASES])
def test_bad_input_gives_one_error_line(capsys, tmp_path, rel, template):
    file = CORPUS / rel
    out = tmp_path / "out"
    out.mkdir()
    code = main(_argv(template, file, out))
    stdout, stderr = capsys.readouterr()
    line = one_error_line(code, stdout, stderr, EXPECTED["inputs"][rel]["expect"])
    assert str(file) in line, f"the message does not name the file: {line}"
    _nothing_written(out)


@pytest.mark.parametrize("case", EXPECTED["arguments"], ids=lambda c: c["argv"][:60])
def test_bad_arguments_give_one_error_line(capsys, tmp_path, case):
    out = tmp_path / "out"
    out.mkdir()
    code = main(_argv(case["argv"], None, out))
    stdout, stderr = capsys.readouterr()
    one_error_line(code, stdout, stderr, case["expect"])
    _nothing_written(out)


@pytest.mark.subprocess
@pytest.mark.parametrize(("rel", "template"), [
    ("topologies/yaml_syntax_error.yaml", "collective --op all-reduce --size 1MiB --topology {file}"),
    ("graphs/truncated.json.gz", "place --graph {file} --devices 2 --out {out}/plan.json"),
])
def test_bad_input_in_a_real_process(tmp_path, rel, template):
    file = CORPUS / rel
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "simtrain", *_argv(template, file, out)], capture_output=True,
                          text=True, timeout=120, check=False)
    line = one_error_line(proc.returncode, proc.stdout, proc.stderr, EXPECTED["inputs"][rel]["expect"])
    assert str(file) in line
    _nothing_written(out)
