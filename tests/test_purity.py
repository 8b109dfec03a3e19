"""A result is a pure function of its inputs: no cache keyed by ``id()``, no state kept in a cluster, no dependence
on which points ran before in the process, on the sweep backend, or on an interruption and resume."""

from __future__ import annotations

import gc
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simtrain.collectives import build_schedule
from simtrain.network import NetworkCache, evaluate
from simtrain.study import load_study, run_point, run_study
from simtrain.topology import load_topology, torus
from simtrain.training.run_cache import RunCache


def test_a_reused_id_never_serves_another_schedules_routes():
    """The case that once gave a multidim-ring a ring's routes: build a ring schedule, evaluate it, drop it, then
    build and evaluate a multidim-ring schedule with the same cache. CPython reuses the freed arrays' ids."""
    cluster = torus([8, 8], "50 GiB/s", "1 us")
    cache = NetworkCache(cluster)
    truth = evaluate(build_schedule("all-reduce", "1 GiB", cluster, "multidim-ring"), cluster).time_s
    for _ in range(200):
        ring = build_schedule("all-reduce", "1 GiB", cluster, "ring")
        evaluate(ring, cluster, cache=cache)
        del ring
        gc.collect()
        multidim = build_schedule("all-reduce", "1 GiB", cluster, "multidim-ring")
        assert evaluate(multidim, cluster, cache=cache).time_s == truth


def test_a_cache_of_another_cluster_is_refused():
    a, b = torus([4, 4], "50 GiB/s"), torus([4, 4], "50 GiB/s")
    with pytest.raises(ValueError, match="another cluster"):
        evaluate(build_schedule("all-reduce", "1 MiB", b, "ring"), b, cache=NetworkCache(a))


def test_clusters_are_immutable():
    cluster = load_topology("torus-2d", gpus=16)
    with pytest.raises(AttributeError):
        cluster.gpus_per_node = 2  # type: ignore[misc]
    with pytest.raises(ValueError):
        cluster.link_bandwidth_Bps[0] = 1.0


def test_a_file_edited_between_two_runs_is_read_again(tmp_path):
    """The default cache keys topology and model files by content: a run after an edit in the same process gives
    what a fresh process would."""
    from simtrain.training import simulate

    topology = tmp_path / "mesh.yaml"
    model = tmp_path / "mlp.yaml"

    def write(bandwidth: str, width: int) -> None:
        topology.write_text(f"name: mesh\nkind: fully_connected\ndevice: a100\ngpus: 8\nbandwidth: {bandwidth}\n")
        model.write_text("name: mlp\nsample: node\ninput: {vector: 1024}\nlayers:\n"
                         f"  - {{kind: linear, out: {width}}}\n  - {{kind: linear, out: 10}}\n")

    def step(cache=None) -> float:
        return simulate(str(model), str(topology), gpus=8, batch=32, cache=cache).step_time_s

    write("64 GB/s", 1024)
    fast = step()
    write("1 GB/s", 1024)
    assert step() == step(RunCache()) > fast           # the slower links, not the cached cluster
    write("1 GB/s", 65536)
    assert step() == step(RunCache())                  # the wider model, not the cached one


def test_files_of_one_name_in_two_folders_are_two_files(tmp_path, monkeypatch):
    """Caches key a file by its absolute path and content (simtrain.digest), not by the path as typed and its time:
    ``m.yaml`` and ``dev.yaml`` in two folders, with equal sizes and times (as ``tar x`` and ``cp -p`` leave them),
    give each folder's own model and device, and a device file rewritten with its time put back is read again
    (helper audit 44: each gave the first folder's before)."""
    from simtrain.hardware import load_device
    from simtrain.model import load_model
    from simtrain.training import simulate

    device = Path(__file__).resolve().parents[1] / "devices"
    folders = {"a": ("resnet50", "h100"), "b": ("vgg16", "a100")}
    for folder, (model, gpu) in folders.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.yaml").write_text((Path(__file__).resolve().parents[1] / "models" / f"{model}.yaml")
                                                   .read_text())
        (tmp_path / folder / "dev.yaml").write_text((device / f"{gpu}.yaml").read_text())
        for name in ("m.yaml", "dev.yaml"):
            os.utime(tmp_path / folder / name, ns=(1_000_000_000, 1_000_000_000))
    seen = {}
    for folder, (model, gpu) in folders.items():
        monkeypatch.chdir(tmp_path / folder)
        report = simulate("m.yaml", "dgx-h100", gpus=8, batch=32, topology_overrides={"device": "dev.yaml"})
        seen[folder] = (load_model("m.yaml").num_params, load_device("dev.yaml").name, report.step_time_s)
        assert seen[folder][:2] == (load_model(model).num_params, load_device(device / f"{gpu}.yaml").name)
        fresh = simulate("m.yaml", "dgx-h100", gpus=8, batch=32, topology_overrides={"device": "dev.yaml"},
                         cache=RunCache())
        assert report.step_time_s == fresh.step_time_s
    assert seen["a"] != seen["b"]
    # one byte of the same size changed, the time put back
    text = (tmp_path / "a" / "dev.yaml").read_text()
    bandwidth = load_device(tmp_path / "a" / "dev.yaml").memory_bandwidth_Bps
    number = re.search(r"memory_bandwidth:\s*([0-9])", text)
    assert number is not None
    digit = "1" if number.group(1) != "1" else "2"
    edited = text[: number.start(1)] + digit + text[number.end(1):]
    (tmp_path / "a" / "dev.yaml").write_text(edited)
    os.utime(tmp_path / "a" / "dev.yaml", ns=(1_000_000_000, 1_000_000_000))
    assert load_device(tmp_path / "a" / "dev.yaml").memory_bandwidth_Bps != bandwidth


def _rows_by_point(points, order, cache):
    return {i: json.dumps(run_point(points[i], seed=i, index=i, cache=cache), sort_keys=True) for i in order}


def test_quickstart_points_do_not_depend_on_what_ran_before():
    """Every quickstart point (13 models × schemes × clusters × sizes share templates) gives the same row whether
    it runs first in a fresh process cache or after any other points, in shuffled orders."""
    points = load_study("quickstart").points
    reference = _rows_by_point(points, range(len(points)), RunCache())
    for seed in (1, 2):
        order = list(range(len(points)))
        random.Random(seed).shuffle(order)
        assert _rows_by_point(points, order, RunCache()) == reference
    # and each point alone, in a cache that has seen nothing else
    for i in random.Random(3).sample(range(len(points)), 12):
        assert _rows_by_point(points, [i], RunCache())[i] == reference[i]


def _sweep(tmp_path: Path, name: str, **kwargs) -> bytes:
    out = tmp_path / name
    run_study(load_study("quickstart"), out, **kwargs)
    return (out / "results.csv").read_bytes()


@pytest.mark.slow
def test_quickstart_table_is_byte_identical_across_backends_and_resumes(tmp_path):
    serial = _sweep(tmp_path, "serial", backend="serial", chunk_size=7)
    assert _sweep(tmp_path, "pool", backend="pool", workers=2, chunk_size=11) == serial
    pytest.importorskip("distributed")
    assert _sweep(tmp_path, "dask", backend="dask", scheduler="local", workers=2, chunk_size=13) == serial

    # resumed: drop every other finished chunk and the table, then run again (the rest run in a new order)
    out = tmp_path / "serial"
    for chunk in sorted((out / "chunks").glob("chunk-*.json"))[::2]:
        chunk.unlink()
    (out / "results.csv").unlink()
    run_study(load_study("quickstart"), out, backend="serial")
    assert (out / "results.csv").read_bytes() == serial


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_killed_sweep_resumes_to_the_same_table(tmp_path):
    reference = _sweep(tmp_path, "reference", backend="serial")
    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "simtrain", "sweep", "quickstart", "--out", str(out), "--workers", "1",
            "--chunk-size", "5", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out / "chunks").glob("chunk-*.json"))) >= 3:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    subprocess.run(argv, check=True, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert (out / "results.csv").read_bytes() == reference


def test_points_under_nccls_costs_do_not_depend_on_what_ran_before():
    """With network.protocol nccl (overlapped collectives holding SMs, NCCL's thread blocks worked out and cached
    per cluster and per tuner) a point's row is the same after any other points as alone."""
    points = [{**point, "network.protocol": "nccl"} for point in load_study("quickstart").points[::5]]
    reference = _rows_by_point(points, range(len(points)), RunCache())
    order = list(range(len(points)))
    random.Random(4).shuffle(order)
    assert _rows_by_point(points, order, RunCache()) == reference
    for i in random.Random(5).sample(range(len(points)), 4):
        assert _rows_by_point(points, [i], RunCache())[i] == reference[i]
    rows = [json.loads(row) for row in reference.values()]
    assert all(row["status"] == "ok" for row in rows)
    assert any(row["shared_compute_time_s"] > 0 for row in rows)
