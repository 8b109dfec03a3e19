"""Hostile curves and outputs for ``simtrain time-to-accuracy``: each run ends with exit status 2 and one line
``error: …`` that names the curve's file and column (or the flag), with no traceback, no hang and nothing written.

The cases are the ones a fuzzer found: undecodable bytes, JSON that is not a curve, integers past any bound, models
and schemes the registries do not know, a FIFO or ``/dev/zero`` among the curves, and ``--plot`` paths the other
commands refuse. Most run in-process through :func:`simtrain.cli.main`; the FIFO and ``/dev/zero`` run as real
subprocesses under a timeout and ``resource.setrlimit``, so that a regression hangs or fills memory in the child,
not in the test run.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import one_error_line

from simtrain.cli import main
from simtrain.errors import ConfigError
from simtrain.lowrank.tta import plot_time_to_accuracy

HEADER = "epoch,test_accuracy,model,scheme,batch_per_worker,samples_per_epoch\n"
GOOD = HEADER + "1,0.7,resnet18-cifar,none,128,50000\n2,0.93,resnet18-cifar,none,128,50000\n"
COMMAND = "time-to-accuracy --curves {curves} --topology torus-2d --gpus 16 --target 0.9"


def _row(model: str = "resnet18-cifar", scheme: str = "none", samples: str = "50000") -> str:
    return HEADER + f"1,0.7,{model},{scheme},128,{samples}\n"


def _train_curve(ranks: dict[str, int]) -> str:
    """A ``simtrain train`` curve.json of Cuttlefish on cnn-digits whose second epoch recorded ``ranks``."""
    return json.dumps({
        "model": "cnn-digits", "scheme": "cuttlefish:rank_fraction=0.25,switch_epoch=1", "workers": 4,
        "batch_per_worker": 25, "samples_per_epoch": 3000, "steps_per_epoch": 30, "switch_epoch": 1,
        "epochs": [{"test_accuracy": 0.5, "ranks": {}}, {"test_accuracy": 0.6, "ranks": ranks}]})


# file name -> (content, the fragments the error line must hold besides the file's path)
FILES: dict[str, tuple[str | bytes, list[str]]] = {
    "a.csv": (b"\xff\xfe\x00", ["not UTF-8"]),
    "curve.json": ("{}", ["scheme", "missing required key"]),
    "run/curve.json": ("not json", ["malformed JSON"]),
    "list/curve.json": ("[1]", ["expected a mapping"]),
    "huge.csv": (_row(samples="1" + "0" * 4000), ["samples_per_epoch", "must be at most"]),
    "model.csv": (_row(model="nosuchmodel"), ["model", "unknown model", "nosuchmodel"]),
    # a curve is data: a module: model would import and run a Python file named by someone else's folder
    "module.csv": (_row(model="module:m.py"), ["model", "not a Python module"]),
    "scheme.csv": (_row(scheme="bogus:x=1"), ["scheme", "unknown scheme", "bogus"]),
    "model-file.csv": (_row(model="nodir/m.yaml"), ["model", "file not found", "nodir/m.yaml"]),
    "short-row.csv": (GOOD + "3,0.95\n", ["row 3", "has 2 cells"]),
    "ranks/curve.json": (_train_curve({"nosuch.weight": 3}), ["epochs[1].ranks", "no such tensor"]),
    # one curve is one run: a row of another model or batch (a concatenated file) was priced as the first row's
    "two-models.csv": (GOOD.replace("2,0.93,resnet18-cifar", "2,0.93,resnet50"),
                       ["model (row 2)", "differs from row 1", "resnet50"]),
    "two-batches.csv": (GOOD.replace("0.93,resnet18-cifar,none,128", "0.93,resnet18-cifar,none,64"),
                        ["batch_per_worker (row 2)", "differs from row 1"]),
}


def _refused(capsys: pytest.CaptureFixture[str], argv: str, out: Path, fragments: list[str]) -> str:
    """Run ``simtrain ARGV`` in-process: one error line, and nothing written under ``out``."""
    code = main(shlex.split(argv))
    stdout, stderr = capsys.readouterr()
    line = one_error_line(code, stdout, stderr, fragments)
    assert sorted(out.rglob("*")) == [], "output written despite the error"
    return line


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """A curves folder and an empty output folder."""
    curves, out = tmp_path / "curves", tmp_path / "out"
    curves.mkdir()
    out.mkdir()
    return curves, out


@pytest.mark.parametrize(("name", "content", "fragments"), [(n, c, f) for n, (c, f) in FILES.items()],
                         ids=list(FILES))
def test_bad_curve_names_its_file(capsys, folders, name, content, fragments):
    curves, out = folders
    path = curves / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    argv = COMMAND.format(curves=curves) + f" --plot {out / 'tta.png'}"
    line = _refused(capsys, argv, out, fragments)
    assert str(path) in line, line


@pytest.mark.parametrize(("plot", "fragments"), [
    ("x.txt", ["--plot", "must end in .png, .svg or .pdf", "x.txt"]),
    ("adir", ["--plot", "must end in .png, .svg or .pdf", "adir"]),
    ("/dev/null/x.png", ["--plot", "/dev/null", "not a folder"]),
], ids=["bad-suffix", "no-suffix", "under-a-file"])
def test_bad_plot_path_refused(capsys, folders, plot, fragments):
    curves, out = folders
    (curves / "a.csv").write_text(GOOD)
    _refused(capsys, COMMAND.format(curves=curves) + f" --plot {out / plot}", out, fragments)


def test_plot_path_checked_before_the_curves(capsys, folders):
    """A bad --plot is refused before any curve is read or priced, as the other commands refuse theirs."""
    _, out = folders
    _refused(capsys, COMMAND.format(curves=out / "missing") + f" --plot {out / 'x.txt'}", out, ["--plot"])


def test_gpus_bounded(capsys, folders):
    curves, out = folders
    (curves / "a.csv").write_text(GOOD)
    _refused(capsys, COMMAND.format(curves=curves).replace("--gpus 16", "--gpus 300000"), out,
             ["--gpus", "at most 262144"])


def test_good_curves_still_plot(capsys, folders):
    curves, out = folders
    (curves / "a.csv").write_text(GOOD)
    assert main(shlex.split(COMMAND.format(curves=curves) + f" --plot {out / 'tta.svg'}")) == 0
    assert "epoch 2" in capsys.readouterr().out
    assert [p.name for p in out.iterdir()] == ["tta.svg"]


def test_library_plot_refuses_a_bad_suffix(tmp_path):
    with pytest.raises(ConfigError, match=r"\.png, \.svg or \.pdf"):
        plot_time_to_accuracy([], tmp_path / "tta.txt")
    assert list(tmp_path.iterdir()) == []


def _limits() -> None:   # runs in the child before exec: a regression fails instead of filling the machine
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


def _special(curves: Path, kind: str) -> None:
    if kind == "fifo":   # POSIX, as this module's `resource` and the other FIFO tests
        os.mkfifo(curves / "a.csv")
    else:
        (curves / "a.csv").symlink_to("/dev/zero")


@pytest.mark.subprocess
@pytest.mark.parametrize(("kind", "fragment"), [("fifo", "a FIFO"), ("dev-zero", "a character device")])
def test_special_file_among_curves(folders, kind, fragment):
    curves, out = folders
    _special(curves, kind)
    argv = shlex.split(COMMAND.format(curves=curves) + f" --plot {out / 'tta.png'}")
    proc = subprocess.run([sys.executable, "-m", "simtrain", *argv], capture_output=True, text=True, timeout=120,
                          check=False, preexec_fn=_limits, stdin=subprocess.DEVNULL)
    line = one_error_line(proc.returncode, proc.stdout, proc.stderr, [fragment])
    assert str(curves / "a.csv") in line
    assert sorted(out.rglob("*")) == []
