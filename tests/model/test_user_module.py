"""``--model module:PATH.py[:FACTORY]``: the user's own PyTorch model in every command, and its bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

import simtrain
from simtrain.errors import ConfigError
from simtrain.model import load_model

NET = """
import torch
from torch import nn

def build():
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(32, 10))
    return net, torch.randn(2, 3, 32, 32)

def as_mapping():
    net, x = build()
    return {"module": net, "example_input": x, "name": "mapped"}

def seq_first():
    return nn.LSTM(8, 16), torch.randn(5, 3, 8), 1

def broken():
    raise RuntimeError("no GPU here")

def wrong():
    return 42
"""


@pytest.fixture(scope="module")
def net_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("user") / "mynet.py"
    path.write_text(NET)
    return path


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simtrain", *argv], capture_output=True, text=True, timeout=300)


def test_factory_forms(net_file):
    spec = load_model(f"module:{net_file}:build")
    assert spec.name == "mynet" and spec.num_params == 3 * 32 * 9 + 32 + 32 * 10 + 10
    assert load_model(f"module:{net_file}:as_mapping").name == "mapped"
    lstm = load_model(f"module:{net_file}:seq_first")
    assert lstm.forward_macs == 5 * 4 * 16 * (8 + 16)


@pytest.mark.parametrize("factory,needle", [("broken", "RuntimeError: no GPU here"), ("wrong", "must return"),
                                            ("missing", "has no function 'missing'"), ("1bad", "function name")])
def test_bad_factories_are_one_clear_error(net_file, factory, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        load_model(f"module:{net_file}:{factory}")
    assert str(net_file) in str(err.value) or "function name" in needle


def test_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_model(f"module:{tmp_path / 'none.py'}")
    with pytest.raises(ConfigError, match="regular file"):
        (tmp_path / "dir.py").mkdir()
        load_model(f"module:{tmp_path / 'dir.py'}")
    with pytest.raises(ConfigError, match=r"module:PATH\.py"):
        load_model("module:net.txt")


def test_simulate_traffic_and_place_take_it(net_file):
    ref = f"module:{net_file}:build"
    report = simtrain.simulate(ref, "dgx-h100", gpus=16, batch=64)
    assert report.step_time_s > 0
    out = run_cli("simulate", "--model", ref, "--topology", "dgx-h100", "--gpus", "16", "--batch", "64", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["step_time_s"] == pytest.approx(report.step_time_s)
    out = run_cli("traffic", "--model", ref, "--scheme", "powersgd:rank=2", "--gpus", "8", "--batch", "32",
                  "--samples-per-epoch", "50000", "--json")
    assert out.returncode == 0, out.stderr
    out = run_cli("place", "--model", ref, "--devices", "2", "--algorithm", "m-etf", "--json")
    assert out.returncode == 0, out.stderr


def test_cli_bad_reference_is_one_line(net_file):
    out = run_cli("simulate", "--model", f"module:{net_file}:broken", "--topology", "dgx-h100")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error:") and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_a_study_sweeps_it(net_file, tmp_path):
    from simtrain.study import run_point, study_from_dict

    study = study_from_dict({"name": "own", "base": {"model": f"module:{net_file}:build", "topology": "dgx-h100"},
                             "sweep": {"grid": {"gpus": [8, 16]}}})
    assert len(study.points) == 2
    rows = [run_point(p, seed=i) for i, p in enumerate(study.points)]
    assert all(r["status"] == "ok" for r in rows), rows
    with pytest.raises(ConfigError, match="file not found"):
        study_from_dict({"name": "own", "base": {"model": f"module:{tmp_path / 'x.py'}", "topology": "dgx-h100"}})
