"""Hostile report 14, the tools' findings: ``place --graph`` bounds, ``place --latency/--bandwidth``, ``calibrate``'s
flags and its measurement log, ``train``'s divergence line and ``traffic --dtype``.

Each refused command must exit with status 2 and print exactly one ``error:`` line naming the key or flag and the
value (``cli_checks.one_error_line``).
"""

from __future__ import annotations

import errno
import json
import math
from pathlib import Path

import pytest
from cli_checks import one_error_line

from simtrain.cli import main


def _graph(path: Path, *, compute: float = 1e-3, edge_bytes: int | float = 1000, persistent: int | float = 0,
           comm: float | None = None) -> Path:
    """A 4-op chain in the Baechi GNMT schema (as /tmp/hostile14/g/gen.py writes them)."""
    nodes = [{"id": i, "name": f"op{i}", "compute_time_s": compute, "output_bytes": [1000], "temporary_bytes": 0,
              "persistent_bytes": persistent if i == 0 else 0} for i in range(4)]
    edges = []
    for i in range(3):
        edge: dict = {"src": i, "dst": i + 1, "bytes": edge_bytes if i == 0 else 1000}
        if comm is not None:
            edge["comm_time_s"] = comm
        edges.append(edge)
    path.write_text(json.dumps({"name": "t", "nodes": nodes, "edges": edges}), encoding="utf-8")
    return path


def _refused(capsys, argv: list[str], fragments: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    return one_error_line(code, captured.out, captured.err, fragments)


# -- B1 + C1: op times bounded as a workload's ------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["m-etf", "m-sct", "expert", "all"])
def test_op_graph_compute_time_past_the_workload_bound_is_refused(capsys, tmp_path, algorithm):
    """1e308 s per op overflowed when summed: m-sct and expert crashed, m-etf hung, others printed ``inf s``."""
    path = _graph(tmp_path / "huge.json", compute=1e308)
    _refused(capsys, ["place", "--graph", str(path), "--devices", "2", "--algorithm", algorithm],
             ["huge.json", "nodes[0].compute_time_s", "1e+308", "1e+09 s"])


def test_op_graph_fixed_edge_time_is_bounded_too(capsys, tmp_path):
    path = _graph(tmp_path / "comm.json", comm=1e300)
    _refused(capsys, ["place", "--graph", str(path), "--devices", "2"], ["edges[0].comm_time_s", "1e+300", "1e+09 s"])


def test_op_graph_at_the_time_bound_places_with_finite_steps(capsys, tmp_path):
    """Ops of 1e9 s (the bound) place with every placer, exact's MILP included (rescaled for HiGHS)."""
    path = _graph(tmp_path / "edge.json", compute=1e9, comm=1e9)
    assert main(["place", "--graph", str(path), "--devices", "2", "--algorithm", "all", "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [r["algorithm"] for r in rows] == ["single", "expert", "round-robin", "m-topo", "m-etf", "m-sct", "exact"]
    assert all("error" not in r and math.isfinite(r["step_time_s"]) for r in rows), rows


def test_a_non_finite_step_is_never_returned_by_the_library():
    from simtrain.errors import ConfigError
    from simtrain.placement.api import place
    from simtrain.placement.devices import make_devices
    from simtrain.placement.graph import OpGraph

    graph = OpGraph.from_edges([1e308, 1e308], {(0, 1): 0.0})   # built in Python, past the file reader's bound
    with pytest.raises(ConfigError, match="not a finite number") as info:
        place(graph, make_devices(2), "m-etf")
    assert info.value.key == "step_time"


# -- D2: --latency and --bandwidth named as typed --------------------------------------------------------------------
@pytest.mark.parametrize(("flag", "value", "fragments"), [
    ("--latency", "3s", ["--latency", "'3s'", "0 to 1 s"]),
    ("--latency", "2s", ["--latency", "'2s'", "0 to 1 s"]),   # was accepted: each of the switch's links took 1 s
    ("--bandwidth", "1.5PB/s", ["--bandwidth", "'1.5PB/s'", "at most 1 PB/s"]),
])
def test_place_switch_flags_are_named_with_the_value_typed(capsys, tmp_path, flag, value, fragments):
    path = _graph(tmp_path / "ok.json")
    line = _refused(capsys, ["place", "--graph", str(path), "--devices", "2", flag, value], fragments)
    assert "dimensions[0]" not in line and "1.5 s" not in line and "1500000000000000" not in line


def test_place_switch_flags_at_their_bounds_are_accepted(capsys, tmp_path):
    path = _graph(tmp_path / "ok.json")
    assert main(["place", "--graph", str(path), "--devices", "2", "--latency", "1s", "--bandwidth", "1PB/s"]) == 0
    assert "step time" in capsys.readouterr().out


# -- D3: integers past int64 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "key"), [
    ({"edge_bytes": 10 ** 30}, "edges[0].bytes"),
    ({"persistent": 10 ** 30}, "nodes[0].persistent_bytes"),
])
def test_op_graph_bytes_past_int64_name_key_value_and_range(capsys, tmp_path, kwargs, key):
    path = _graph(tmp_path / "big.json", **kwargs)
    line = _refused(capsys, ["place", "--graph", str(path), "--devices", "2"],
                    ["big.json", key, str(10 ** 30), "0 to 1125899906842624 bytes (1 PiB)"])
    assert "isfinite" not in line and "ufunc" not in line


# -- A8: calibrate's flags of the other mode --------------------------------------------------------------------------
def test_calibrate_plot_without_check_is_refused(capsys, tmp_path):
    _refused(capsys, ["calibrate", "--quick", "--out", str(tmp_path / "p.json"), "--plot", str(tmp_path / "x.png")],
             ["--plot", "x.png", "--check"])
    assert list(tmp_path.iterdir()) == []


def test_calibrate_out_with_check_is_refused(capsys, tmp_path):
    _refused(capsys, ["calibrate", "--check", "cpu-numba", "--out", str(tmp_path / "y.json")],
             ["--out", "y.json", "--check"])
    assert list(tmp_path.iterdir()) == []


# -- A12: no measurement log left after a failed write ---------------------------------------------------------------
@pytest.fixture
def small_calibration(monkeypatch):
    """A tiny grid, few shapes and small codec sizes: the same pipeline in about a second."""
    from simtrain import calibration
    from simtrain.calibration import bench, gemm_table
    from simtrain.calibration.bench import Shape

    monkeypatch.setattr(bench, "fit_shapes", lambda dtypes, quick=False: [
        Shape(k, m, 64, 4, 4, d) for d in dtypes for k in ("dense", "lowrank") for m in (48, 96)])
    monkeypatch.setattr(gemm_table, "grid_dims", lambda quick=False, largest=4096: [1, 16])
    monkeypatch.setattr(calibration.pipeline, "CODEC_SIZES", {True: (256,), False: (256,)})


@pytest.mark.parametrize("failing", ["checkpoint", "profile"])
def test_calibrate_out_on_a_full_disk_leaves_no_partial_file(capsys, tmp_path, monkeypatch, small_calibration,
                                                            failing):
    """ENOSPC on a save of the measurement log after one save succeeded, or on the profile itself."""
    import simtrain.outputs

    real_stage = simtrain.outputs._stage
    saved = []

    def stage(path: Path, data: bytes) -> Path:
        if data:   # not check_writable's empty probe
            if failing == "checkpoint" and path.name.endswith(".partial") and saved:
                raise OSError(errno.ENOSPC, "No space left on device")
            if failing == "profile" and path.name == "x.json":
                raise OSError(errno.ENOSPC, "No space left on device")
            saved.append(path.name)
        return real_stage(path, data)

    monkeypatch.setattr(simtrain.outputs, "_stage", stage)
    out = tmp_path / "x.json"
    _refused(capsys, ["calibrate", "--backend", "numpy", "--quick", "--repeats", "1", "--out", str(out)],
             ["No space left on device"])
    assert "x.json.partial" in saved   # a log was on disk before the failure ...
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # ... and nothing is left


# -- D7: a dtype given twice ------------------------------------------------------------------------------------------
def test_calibrate_dtypes_given_twice_is_refused(capsys, tmp_path):
    _refused(capsys, ["calibrate", "--dtypes", "fp32,fp32", "--out", str(tmp_path / "p.json")],
             ["--dtypes", "twice", "'fp32'"])
    assert list(tmp_path.iterdir()) == []


# -- D8: one line, no RuntimeWarning ----------------------------------------------------------------------------------
def test_train_divergence_prints_only_its_error_line(capsys):
    import warnings

    with warnings.catch_warnings(record=True) as caught:   # pytest would otherwise hold them back from stderr
        warnings.simplefilter("always")
        _refused(capsys, ["train", "--model", "cnn-digits", "--lr", "1e308", "--epochs", "1", "--max-steps", "3",
                          "--workers", "2"], ["--lr", "diverged", "1e+308"])
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


# -- D9: traffic's dtypes are simulate's ------------------------------------------------------------------------------
def test_traffic_accepts_exactly_the_dtypes_simulate_accepts(capsys):
    from simtrain.run import DTYPES

    line = _refused(capsys, ["traffic", "--model", "resnet18-cifar", "--gpus", "8", "--batch", "32",
                             "--samples-per-epoch", "1000", "--dtype", "fp64"], ["--dtype", "'fp64'"])
    assert f"allowed: {', '.join(sorted(DTYPES))}" in line
    for dtype in DTYPES:
        assert main(["traffic", "--model", "resnet18-cifar", "--gpus", "8", "--batch", "32",
                     "--samples-per-epoch", "1000", "--dtype", dtype, "--json"]) == 0
    capsys.readouterr()
