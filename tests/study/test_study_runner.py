"""Running studies: identical results on every backend, resumable output, failures recorded, kill-safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from simtrain._version import __version__
from simtrain.errors import ConfigError
from simtrain.study import run_study, study_from_dict
from simtrain.study.store import ResultStore

STUDY = {
    "name": "runner-test",
    "seed": 11,
    "base": {"model": "resnet50", "topology": "torus-2d", "batch": 32},
    "sweep": {"grid": {"gpus": [4, 16, 64], "scheme": ["none", "powersgd:rank=4", "topk:density=0.01"]},
              "zip": {"algorithm": ["ring", "multidim-ring"], "bucket_size": ["25 MiB", "50 MiB"]}},
    "derived": {"per_gpu": "throughput_samples_per_s / num_gpus"},
}


def study(**changes):
    data = json.loads(json.dumps(STUDY))
    data.update(changes)
    return study_from_dict(data, source="runner.yaml")


@pytest.fixture(scope="module")
def serial_table(tmp_path_factory):
    return run_study(study(), tmp_path_factory.mktemp("serial"), backend="serial", chunk_size=5)


def test_one_row_per_point_with_config_seed_and_version(serial_table):
    s = study()
    assert list(serial_table["point"]) == list(range(len(s.points)))
    assert list(serial_table["seed"]) == s.seeds()
    assert set(serial_table["simtrain_version"]) == {__version__}
    for column in ("model", "topology", "gpus", "scheme", "algorithm", "bucket_size", "batch", "dtype"):
        assert list(serial_table[column]) == [p[column] for p in s.points]
    assert (serial_table["status"] == "ok").all()
    assert (serial_table["per_gpu"] == serial_table["throughput_samples_per_s"] / serial_table["num_gpus"]).all()


def test_rows_equal_direct_simulation(serial_table):
    from simtrain.training import simulate

    row = serial_table.iloc[7]
    report = simulate(row["model"], row["topology"], gpus=int(row["gpus"]), batch=int(row["batch"]),
                      algorithm=row["algorithm"], bucket_size=row["bucket_size"], scheme=row["scheme"])
    assert row["step_time_s"] == report.step_time_s and row["bytes_per_gpu"] == report.bytes_per_gpu


def test_pool_equals_serial_bit_for_bit(serial_table, tmp_path):
    table = run_study(study(), tmp_path, backend="pool", workers=2, chunk_size=3)
    pd.testing.assert_frame_equal(table, serial_table, check_exact=True)


def test_dask_local_cluster_equals_serial_bit_for_bit(serial_table, tmp_path):
    pytest.importorskip("distributed")
    table = run_study(study(), tmp_path, backend="dask", scheduler="local", workers=2, chunk_size=4)
    pd.testing.assert_frame_equal(table, serial_table, check_exact=True)


def test_seeds_drive_des_jitter_identically_on_every_backend(tmp_path):
    jitter = study(base={"model": "resnet18-cifar", "topology": "torus-2d", "engine": "des",
                         "compute_jitter": 0.2},
                   sweep={"grid": {"gpus": [4, 16]}}, derived={})
    a = run_study(jitter, tmp_path / "a", backend="serial", chunk_size=1)
    b = run_study(jitter, tmp_path / "b", backend="pool", workers=2, chunk_size=1)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    plain = run_study(study(base={"model": "resnet18-cifar", "topology": "torus-2d", "engine": "des"},
                            sweep={"grid": {"gpus": [4, 16]}}, derived={}), tmp_path / "c", backend="serial")
    assert (a["step_time_s"] > plain["step_time_s"]).all()   # the slowest of 4 or 16 jittered GPUs sets the step
    other_seed = run_study(study(seed=12, base={"model": "resnet18-cifar", "topology": "torus-2d", "engine": "des",
                                               "compute_jitter": 0.2}, sweep={"grid": {"gpus": [4, 16]}},
                                 derived={}), tmp_path / "d", backend="serial")
    assert (other_seed["step_time_s"] != a["step_time_s"]).all()


def test_rerun_skips_finished_chunks_and_completes_the_rest(serial_table, tmp_path):
    s = study()
    store = ResultStore(tmp_path, s.fingerprint, len(s.points), 5, s.name)
    first = run_study(s, tmp_path, backend="serial", chunk_size=5)
    chunk = store.chunk_path(1)
    stamp = store.chunk_path(0).stat().st_mtime_ns
    chunk.unlink()
    calls = []
    again = run_study(s, tmp_path, backend="serial", chunk_size=99, progress=lambda done, total: calls.append(done))
    assert calls == [len(s.points)]              # one chunk (the missing one) ran, with the folder's chunk size
    assert store.chunk_path(0).stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    pd.testing.assert_frame_equal(again, serial_table, check_exact=True)


def test_a_folder_of_another_study_is_refused_unless_forced(tmp_path):
    run_study(study(), tmp_path, backend="serial")
    other = study(seed=99)
    with pytest.raises(ConfigError, match=r"holds results of another study \('runner-test', 18 points"):
        run_study(other, tmp_path, backend="serial")
    table = run_study(other, tmp_path, backend="serial", force=True)
    assert set(table["seed"]) == set(other.seeds())
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no study"):
        run_study(other, tmp_path / "stranger", backend="serial")


def test_a_failing_point_records_its_error_and_the_sweep_goes_on(tmp_path):
    s = study(sweep={"grid": {"batch": [32, 100_000]}}, derived={"per_gpu": "throughput_samples_per_s / num_gpus"})
    table = run_study(s, tmp_path, backend="serial")
    assert list(table["status"]) == ["ok", "error"]
    assert "InfeasibleError" in table["error"][1] and "needs" in table["error"][1]
    assert pd.isna(table["step_time_s"][1]) and pd.isna(table["per_gpu"][1])
    on_disk = pd.read_csv(tmp_path / "results.csv", keep_default_na=False, na_values=[""])
    assert list(on_disk["status"]) == ["ok", "error"] and on_disk["error"].fillna("")[0] == ""


def test_parquet_matches_csv(serial_table, tmp_path):
    pytest.importorskip("pyarrow")
    table = run_study(study(), tmp_path, backend="serial")
    parquet = pd.read_parquet(tmp_path / "results.parquet")
    assert list(parquet.columns) == list(table.columns) and len(parquet) == len(table)
    assert (parquet["step_time_s"] == table["step_time_s"]).all()


def test_progress_bar_is_silent_off_a_terminal(tmp_path, capsys):
    run_study(study(), tmp_path, backend="serial", chunk_size=6, progress=True)
    assert capsys.readouterr().err == ""


def test_progress_bar_on_a_terminal_weighs_points_by_cost(tmp_path, monkeypatch):
    import io

    import simtrain.progress as progress_module

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(progress_module.sys, "stderr", screen)
    seen: list[tuple[int, float]] = []
    original = progress_module.ProgressBar.update

    def spy(self, count=1, weight=None, label=None):
        seen.append((count, weight))
        original(self, count, weight, label)

    monkeypatch.setattr(progress_module.ProgressBar, "update", spy)
    spec = {"name": "weights", "seed": 1, "base": {"model": "resnet18-cifar", "topology": "torus-2d", "engine": "des"},
            "sweep": {"grid": {"gpus": [4, 16, 64]}}}
    run_study(study_from_dict(spec), tmp_path, backend="serial", chunk_size=1, progress=True)
    assert "3/3 points" in screen.getvalue()
    assert [w for _, w in seen] == [4.0, 16.0, 64.0]   # a DES point weighs its GPU count


@pytest.mark.subprocess
def test_sigkill_halfway_then_resume_gives_the_complete_set(tmp_path):
    """Kill a serial sweep with SIGKILL after a few chunks; the folder holds only whole chunks, and re-running
    the same command completes the table with every point exactly once, equal to an uninterrupted run."""
    spec = {"name": "kill-test", "seed": 5, "base": {"model": "resnet18-cifar", "topology": "torus-2d",
                                                     "engine": "des", "gpus": 16},
            "sweep": {"grid": {"batch": list(range(8, 8 + 48))}}}
    path = tmp_path / "kill.yaml"
    path.write_text(json.dumps(spec))   # JSON is YAML
    out = tmp_path / "out"
    command = [sys.executable, "-m", "simtrain", "sweep", str(path), "--out", str(out), "--workers", "1",
               "--chunk-size", "2", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    chunks = out / "chunks"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if chunks.is_dir() and len([p for p in chunks.iterdir() if not p.name.startswith(".")]) >= 3:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the sweep finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = sorted(p.name for p in chunks.iterdir() if not p.name.startswith("."))
    assert 3 <= len(done) < 24
    for name in done:                          # whole chunks only: every file parses, with its 2 rows
        assert len(json.loads((chunks / name).read_text())) == 2
    assert not (out / "results.csv").exists()

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    table = pd.read_csv(out / "results.csv")
    assert list(table["point"]) == list(range(48)) and table["point"].is_unique
    assert (table["status"] == "ok").all()
    fresh = run_study(study_from_dict(spec, source=str(path)), tmp_path / "fresh", backend="serial")
    assert list(table["step_time_s"]) == list(fresh["step_time_s"])


@pytest.mark.parametrize("edit", [{"step_time_s": -5.0}, {"gpus": 9999}, {"seed": 1}, {"status": "fine"}],
                         ids=["negative-time", "other-gpus", "other-seed", "unknown-status"])
def test_an_edited_chunk_is_computed_again_not_trusted(serial_table, tmp_path, edit):
    # a resumed sweep read a saved chunk as it was: a step time of -5 entered the table, which plot --results
    # then refused; a chunk that is not its points' results is now recomputed
    s = study()
    run_study(s, tmp_path, backend="serial", chunk_size=5)
    store = ResultStore(tmp_path, s.fingerprint, len(s.points), 5, s.name)
    rows = store.read_chunk(1)
    rows[0].update(edit)
    store.chunk_path(1).write_text(json.dumps(rows))
    for name in ("results.csv", "results.parquet"):
        (tmp_path / name).unlink(missing_ok=True)
    again = run_study(s, tmp_path, backend="serial", chunk_size=5)
    pd.testing.assert_frame_equal(again, serial_table, check_exact=True)
