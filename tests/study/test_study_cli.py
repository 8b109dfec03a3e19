"""simtrain sweep, simtrain quickstart and the results plots, in-process."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from simtrain.cli import main

STUDY = {"name": "cli-study", "base": {"model": "resnet50", "topology": "cloud-25g", "gpus": 64,
                                       "algorithm": "hierarchical"},
         "sweep": {"grid": {"topology.nic_bandwidth": ["10 Gbit/s", "25 Gbit/s", "100 Gbit/s"],
                            "scheme": ["none", "powersgd:rank=4"]}}}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def study_file(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(json.dumps(STUDY))
    return path


def test_sweep_writes_table_and_figures(capsys, tmp_path, study_file):
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "sweep", study_file, "--out", out, "--workers", "1", "--plot",
                            "bandwidth,breakdown", "--quiet")
    assert code == 0, err
    assert "cli-study: 6 points" in stdout and err == ""
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 6 and (table["status"] == "ok").all()
    assert (out / "bandwidth.png").stat().st_size > 10_000 and (out / "breakdown.png").exists()
    # more bandwidth, shorter steps
    dense = table[table["scheme"] == "none"].sort_values("topology.nic_bandwidth", key=lambda s: s.str.len())
    assert dense["step_time_s"].is_monotonic_decreasing
    # the same command again resumes: nothing left to run, the same table
    code, stdout, _ = run(capsys, "sweep", study_file, "--out", out, "--workers", "1", "--quiet")
    assert code == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), table)


@pytest.mark.parametrize("kind", ["scaling", "breakdown", "traffic", "bandwidth"])
def test_plot_kinds_from_results(capsys, tmp_path, study_file, kind):
    out = tmp_path / "out"
    assert run(capsys, "sweep", study_file, "--out", out, "--workers", "1", "--quiet")[0] == 0
    figure = tmp_path / f"{kind}.svg"
    code, _stdout, err = run(capsys, "plot", kind, "--results", out, "--out", figure)
    assert code == 0, err
    assert figure.read_text().startswith("<?xml")


def test_quickstart_runs_the_shipped_study(capsys, tmp_path):
    out = tmp_path / "qs"
    code, stdout, err = run(capsys, "quickstart", "--out", out, "--quiet")
    assert code == 0, err
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 180 and (table["status"] == "ok").all()
    for name in ("scaling.png", "breakdown.png", "traffic.png"):
        assert (out / name).stat().st_size > 20_000
    assert "at 4096 GPUs:" in stdout
    big = table[table["gpus"] == 4096].set_index(["model", "topology", "scheme"])
    # the cloud is the worst place to scale plain data parallelism; AB-training hides most of its exposed
    # communication (DDP's broadcast of ResNet-50's BatchNorm buffers, NCCL's ring latency over 4,096 GPUs, stays:
    # no scheme compresses it)
    plain = big.loc[("resnet50", "cloud-25g", "none")]
    assert plain["scaling_efficiency"] < big.loc[("resnet50", "abci", "none"), "scaling_efficiency"]
    ab = big.loc[("resnet50", "cloud-25g", "ab-training")]
    assert ab["scaling_efficiency"] > plain["scaling_efficiency"]
    assert ab["exposed_comm_time_s"] < 0.5 * plain["exposed_comm_time_s"]
    assert ab["buffer_sync_s"] == pytest.approx(plain["buffer_sync_s"], rel=0.05) and plain["buffer_sync_s"] > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["sweep", "nope.yaml", "--out", "o"], "error: nope.yaml: study: file not found"),
    (["sweep", "quickstrat", "--out", "o"], "error: <cli>: study: unknown study: 'quickstrat' "
                                            "(did you mean 'quickstart'?)"),
    (["sweep", "quickstart", "--out", "o", "--plot", "scalin"], "error: <cli>: --plot: unknown plot of results: "
                                                                 "'scalin' (did you mean 'scaling'?)"),
    (["plot", "scaling", "--out", "x.png"], "error: <cli>: --results: plot scaling draws a study's results"),
    (["plot", "scaling", "--results", "missing", "--out", "x.png"], "error: <cli>: --results: no results table"),
])
def test_bad_sweep_input_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(message), err
    assert err.count("\n") == 1


def test_bad_study_file_is_one_line(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: b\nbase: {model: resnet50, topology: abci}\nsweep:\n  grid:\n    gpus: [8, -1]\n")
    code, _out, err = run(capsys, "sweep", path, "--out", tmp_path / "o")
    assert code == 2
    assert err == f"error: {path}: sweep.grid.gpus[1]: must be at least 1 (got -1)\n"
    assert not (tmp_path / "o").exists()   # nothing ran, nothing written
