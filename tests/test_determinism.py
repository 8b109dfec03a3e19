"""Determinism: the same configuration and seed give bit-identical reports, run after run and process after
process (sweep backends are compared in tests/study)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from simtrain.cli import main
from simtrain.network.perturb import Perturbations
from simtrain.study.point import run_point
from simtrain.topology import load_topology
from simtrain.training import simulate


def _report(engine: str, perturbed: bool, scheme: str = "none") -> dict:
    # a fresh cluster and fresh perturbations each time: nothing cached survives between the two runs
    cluster = load_topology("abci", gpus=8)
    perturbations = Perturbations.parse(stragglers=["3:1.7"], degraded=["node0.nic0:0.5"],
                                        failed=["node1.nic1"], background=["node0.nic1:1GB/s"]) if perturbed else None
    report = simulate("resnet18-cifar", cluster, batch=16, algorithm="hierarchical", engine=engine,
                      perturbations=perturbations, scheme=scheme)
    return report.to_dict()


def _identical(a: object, b: object) -> None:
    # JSON text compares floats bit for bit (repr round-trips) and keeps NaN comparable
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize(("engine", "perturbed", "scheme"), [
    ("analytical", False, "none"),
    ("analytical", False, "powersgd:rank=4"),
    ("des", False, "none"),
    ("des", True, "none"),
    ("des", True, "powersgd:rank=4"),
])
def test_step_report_is_bit_identical_across_runs(engine, perturbed, scheme):
    first, second = _report(engine, perturbed, scheme), _report(engine, perturbed, scheme)
    _identical(first, second)
    assert first["step_time_s"] > 0


def test_perturbations_change_the_report():
    """The determinism above is not that of a run that ignores its perturbations."""
    assert _report("des", True)["step_time_s"] != _report("des", False)["step_time_s"]


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_seeded_jitter_is_reproducible_and_seed_dependent(engine):
    point = {"model": "resnet18-cifar", "topology": "torus-2d", "gpus": 8, "engine": "des",
             "compute_jitter": 0.2} if engine == "des" else {"model": "resnet18-cifar", "topology": "torus-2d",
                                                             "gpus": 8}
    a, b, other = run_point(point, seed=11), run_point(point, seed=11), run_point(point, seed=12)
    _identical(a, b)
    assert a["status"] == "ok"
    if engine == "des":
        assert other["step_time_s"] != a["step_time_s"]   # the seed drives the jitter
    else:
        assert other["step_time_s"] == a["step_time_s"]   # nothing random in the analytical step


def test_validate_json_is_identical_across_runs(capsys):
    outputs = []
    for _ in range(2):
        assert main(["validate", "--json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert len(json.loads(outputs[0])["cases"]) >= 5


def test_simulate_json_is_identical_across_in_process_runs(capsys):
    argv = ["simulate", "--model", "resnet18-cifar", "--topology", "torus-2d", "--gpus", "8", "--engine", "des",
            "--straggler", "1:1.5", "--degrade", "gpu0->gpu1:0.5", "--json"]
    outputs = []
    for _ in range(2):
        assert main(argv) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


@pytest.mark.subprocess
def test_simulate_json_is_identical_across_processes_and_hash_seeds():
    """Two processes with different string-hash seeds (set and dict orders) print the same bytes."""
    argv = [sys.executable, "-m", "simtrain", "simulate", "--model", "resnet18-cifar", "--topology", "abci",
            "--gpus", "8", "--algorithm", "hierarchical", "--engine", "des", "--straggler", "3:1.7",
            "--fail-link", "node1.nic1", "--json"]
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=True)
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1] and outputs[0].startswith("{")
