"""numba kernels against their NumPy twin; the fit on synthetic timings; profiles; simulate with a profile."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.calibration import _kernels_numba as nb
from simtrain.calibration import kernels_numpy as ref
from simtrain.calibration.bench import Shape, check_shapes, fit_shapes, measure
from simtrain.calibration.fit import PARAMS, fit_step_params, relative_errors, step_time
from simtrain.calibration.gemm_table import LAYOUTS, GemmTable, measure_gemm_table
from simtrain.calibration.profile import FORMAT, Profile, load_profile
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.training import simulate


def _inputs(kind, m, n, r, b, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, n)).astype(dtype)
    t = rng.standard_normal((b, m)).astype(dtype)
    if kind == "dense":
        params = (rng.standard_normal((m, n)).astype(dtype),)
    elif kind == "lowrank":
        params = (rng.standard_normal((m, r)).astype(dtype), rng.standard_normal((r, n)).astype(dtype))
    else:
        params = (np.linalg.qr(rng.standard_normal((m, r)))[0].astype(dtype), rng.standard_normal((r, r)).astype(dtype),
                  np.linalg.qr(rng.standard_normal((n, r)))[0].astype(dtype))
    return x, t, params


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["dense", "lowrank", "oialr"]), m=st.integers(1, 70), n=st.integers(1, 70),
       r=st.integers(1, 40), b=st.integers(1, 40), seed=st.integers(0, 10**6))
def test_numba_matches_numpy_in_float64(kind, m, n, r, b, seed):
    r = min(r, m, n)
    x, t, params = _inputs(kind, m, n, r, b, np.float64, seed)
    expected = ref.step(kind, x, t, params, 0.05)
    got = getattr(nb, f"{kind}_step")(x, t, *[p.copy() for p in params], 0.05)  # numba updates in place
    for e, g in zip(expected, got):
        scale = float(np.max(np.abs(e))) if isinstance(e, np.ndarray) and e.size else abs(float(e))
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12 * max(scale, 1.0))


@pytest.mark.parametrize("kind", ["dense", "lowrank", "oialr"])
@pytest.mark.parametrize(("m", "n", "r", "b"), [(300, 200, 40, 64), (64, 48, 4, 8), (33, 129, 1, 1)])
def test_numba_matches_numpy_in_float32(kind, m, n, r, b):
    x, t, params = _inputs(kind, m, n, r, b, np.float32, 3)
    expected = ref.step(kind, *(a.astype(np.float64) for a in (x, t)), tuple(p.astype(np.float64) for p in params),
                        0.01)
    got = getattr(nb, f"{kind}_step")(x, t, *[p.copy() for p in params], np.float32(0.01))
    for e, g in zip(expected, got):
        scale = float(np.max(np.abs(e))) if isinstance(e, np.ndarray) else abs(float(e))
        np.testing.assert_allclose(np.asarray(g, dtype=np.float64), e, rtol=1e-4, atol=1e-4 * scale)


def _synthetic_table(dims=(1, 4, 16, 64, 256, 1024, 4096)):
    # log(rate) linear in log-dimensions: trilinear interpolation in log space reproduces it exactly
    return GemmTable.from_function(list(dims), lambda r, c, k: 3e10 * (r * c) ** 0.15 * k ** 0.2)


def test_gemm_table_interpolates_log_linear_rates_exactly_and_clamps_outside():
    table = _synthetic_table()
    for rows, cols, inner in [(3, 5, 7), (100, 2000, 33), (1, 1, 1), (4096, 1, 4096)]:
        expected = 2 * rows * cols * inner / (3e10 * (rows * cols) ** 0.15 * inner ** 0.2)
        assert table.seconds(rows, cols, inner, "nt") == pytest.approx(expected, rel=1e-12)
    # beyond the grid the edge's rate holds (large products run at the plateau)
    edge = table.rate(4096, 64, 64, "nn")
    assert table.rate(100_000, 64, 64, "nn") == pytest.approx(edge, rel=1e-12)
    assert table.seconds(0, 5, 5) == 0.0


def test_gemm_table_fills_unmeasured_points_with_the_running_maximum():
    dims = [1, 2, 4]
    grid = np.array([[[1e9 * (i + j + k + 1) for k in range(3)] for j in range(3)] for i in range(3)])
    grid[2, 2, 2] = np.nan  # above a FLOP cap
    table = GemmTable(tuple(dims), {layout: grid.copy() for layout in LAYOUTS})
    assert table.rate(4, 4, 4) == pytest.approx(1e9 * 6)  # the largest of its measured smaller neighbours
    round_trip = GemmTable.from_dict(json.loads(json.dumps(table.to_dict())), "t.json", "gemm.fp32")
    assert round_trip.seconds(3, 3, 3) == pytest.approx(table.seconds(3, 3, 3), rel=1e-3)
    doc = table.to_dict()
    doc["nn"][0][0][1] = "1e9"  # a string is not a rate, even one NumPy would convert
    with pytest.raises(ConfigError, match=r"gemm\.fp32\.nn: rates must be numbers"):
        GemmTable.from_dict(doc, "t.json", "gemm.fp32")


def test_the_kernels_loop_rule_picks_the_loop_table():
    dims = [1, 4, 16, 64]
    blas = _synthetic_table(dims)
    loops = {layout: np.full((4, 4, 4), 1e8) for layout in LAYOUTS}
    table = GemmTable(blas.dims, blas.rates, loops, (nb.SKINNY, nb.LOOP_WORK))
    for layout, shape in [("nn", (8, 4, 16)), ("tn", (4, 4, 64)), ("nt", (16, 2, 64))]:
        assert nb.uses_loop(layout, *shape)
        assert table.rate(*shape, layout) == pytest.approx(1e8)
    assert not nb.uses_loop("nn", 8, 64, 64)
    assert table.rate(8, 64, 64, "nn") == pytest.approx(blas.rate(8, 64, 64, "nn"))
    again = GemmTable.from_dict(json.loads(json.dumps(table.to_dict())), "t.json", "gemm.fp32")
    assert again.loop_rule == table.loop_rule and again.rate(8, 4, 16, "nn") == pytest.approx(1e8, rel=1e-3)


def test_fit_recovers_known_parameters_exactly():
    table = _synthetic_table()
    truth = {"step_overhead_s": 3e-6, "elementwise_Bps": 7e9}
    shapes = [(s.kind, s.m, s.n, s.r, s.batch) for s in fit_shapes(["fp32"], quick=False)]
    times = [step_time(table, truth, *s, itemsize=4) for s in shapes]
    fitted = fit_step_params(table, shapes, times, 4)
    for name in PARAMS:
        assert fitted[name] == pytest.approx(truth[name], rel=1e-9), name
    assert np.abs(relative_errors(table, fitted, shapes, times, 4)).max() < 1e-9
    # a measurement with no element-wise cost at all: the bandwidth is reported as the cap, never infinite
    free = fit_step_params(table, shapes, [step_time(table, {**truth, "elementwise_Bps": 1e30}, *s, itemsize=4)
                                           for s in shapes], 4)
    assert np.isfinite(free["elementwise_Bps"]) and free["step_overhead_s"] == pytest.approx(3e-6, rel=1e-6)
    with pytest.raises(ConfigError, match="at least as many shapes"):
        fit_step_params(table, shapes[:1], times[:1], 4)


def test_measured_gemm_table_times_the_kernels_products():
    table = measure_gemm_table("numba", "cpu", "fp32", [1, 16, 64], batch_s=1e-5, repeats=1)
    # the BLAS path everywhere, the loop path where its work is within 8x of the rule's limit (not 64^3)
    assert table.measured_points == 3 * 27 + 3 * 26
    assert table.loop_rule == (nb.SKINNY, nb.LOOP_WORK)
    # every layout and point measured; a 64-cube product takes longer than a 1-cube one
    assert all(np.isfinite(rate).all() for rate in table.rates.values())
    assert table.seconds(64, 64, 64, "tn") > table.seconds(1, 1, 1, "tn")


def test_held_out_shapes_are_not_fit_shapes():
    held = set(check_shapes(["fp32"]))
    assert held and not held & set(fit_shapes(["fp32"])) and not held & set(fit_shapes(["fp32"], quick=True))


def _small_profile(tmp_path):
    samples = [measure("numba", "cpu", Shape(k, m, 64, 8, b, "fp32"), repeats=3, warmup=1)
               for k in ("dense", "lowrank", "oialr") for m in (48, 96) for b in (4, 16)]
    table = measure_gemm_table("numba", "cpu", "fp32", [1, 8, 64], batch_s=1e-5, repeats=1)
    profile = Profile.from_samples(samples, {"fp32": table}, {"note": "test"})
    return profile.save(tmp_path / "p.json")


def _scaled(grid, factor):
    """A rate grid (nested lists, nulls kept) times ``factor``."""
    if isinstance(grid, list):
        return [_scaled(g, factor) for g in grid]
    return None if grid is None else grid * factor


def test_profile_round_trip_and_strict_loading(tmp_path):
    path = _small_profile(tmp_path)
    loaded = load_profile(path)
    assert loaded.backend == "numba" and loaded.dtypes == ["fp32"] and loaded.tables["fp32"].dims == (1, 8, 64)
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and len(data["samples"]) == 12 and data["provenance"] == {"note": "test"}
    # the compact writer touches the GEMM grids only: strings elsewhere keep their brackets and spaces
    loaded.provenance = {"note": "[ 1, 2 ]  x"}
    again = loaded.save(tmp_path / "q.json")
    assert load_profile(again).provenance == {"note": "[ 1, 2 ]  x"}
    with pytest.raises(ConfigError, match="overwrite"):
        loaded.save(path)
    bad = tmp_path / "bad.json"
    for mutation, match in [({"version": 99}, "version"), ({"format": "x"}, "not a simtrain"),
                            ({"version": 1}, "re-run simtrain calibrate"),
                            ({"params": {"fp32": {"step_overhead_s": 0, "elementwise_Bps": -1}}}, "at least 0.125"),
                            ({"gemm": {}}, "gemm.fp32"),
                            ({"gemm": {"fp32": {**data["gemm"]["fp32"], "dims": [1, 8, 8]}}}, "increasing"),
                            ({"gemm": {"fp32": {**data["gemm"]["fp32"], "nn": [[[1.0]]]}}}, "3 x 3 x 3"),
                            # rates below 1 FLOP/s overflow a step's time; dimensions past 2^40 overflow a float
                            ({"gemm": {"fp32": {**data["gemm"]["fp32"], "nn": _scaled(data["gemm"]["fp32"]["nn"],
                                                                                      1e-300)}}}, "at least 1 FLOP/s"),
                            ({"gemm": {"fp32": {**data["gemm"]["fp32"], "dims": [1, 8, 10**999]}}}, "from 1 to")]:
        bad.write_text(json.dumps({**data, **mutation}))
        with pytest.raises(ConfigError, match=match):
            load_profile(bad)
    bad.write_text('{"format": ')
    with pytest.raises(ConfigError, match="malformed JSON"):
        load_profile(bad)


def test_simulate_uses_a_profile(tmp_path):
    path = _small_profile(tmp_path)
    compute = ComputeModel.from_profile(path)
    with_profile = simulate("resnet18-cifar", "torus-2d", gpus=4, batch=32, compute=compute)
    roofline = simulate("resnet18-cifar", "torus-2d", gpus=4, batch=32)
    assert with_profile.forward_time_s != roofline.forward_time_s
    assert with_profile.forward_time_s > 0 and with_profile.backward_time_s > 0
    with pytest.raises(ConfigError, match="no fp16 calibration"):
        simulate("resnet18-cifar", "torus-2d", gpus=4, batch=32, compute=compute, dtype="fp16")


def test_calibrate_cli_quick_then_check(capsys, tmp_path, monkeypatch):
    from simtrain import calibration
    from simtrain.calibration import bench, gemm_table
    from simtrain.cli import main

    # a small grid keeps this test fast; the command is the same
    monkeypatch.setattr(bench, "fit_shapes", lambda dtypes, quick=False: [
        Shape(k, m, 64, 4, b, d) for d in dtypes for k in ("dense", "lowrank", "oialr") for m in (48, 96)
        for b in (4, 16)])
    monkeypatch.setattr(bench, "check_shapes", lambda dtypes, quick=False: [Shape("lowrank", 72, 64, 4, 8, "fp32")])
    monkeypatch.setattr(gemm_table, "grid_dims", lambda quick=False, largest=4096: [1, 16, 128])
    monkeypatch.setattr(calibration.pipeline, "CODEC_SIZES", {True: (256, 4096), False: (256, 4096)})
    out = tmp_path / "cpu.json"
    assert main(["calibrate", "--backend", "numba", "--quick", "--repeats", "3", "--out", str(out)]) == 0
    profile = load_profile(out)
    assert profile.provenance["backend"] == "numba" and profile.provenance["threads"] == 1
    assert profile.tables["fp32"].dims == (1, 16, 128)
    # on the CPU the codecs are timed too, at the sizes asked for
    assert profile.codecs is not None and profile.codecs.to_dict()["topk"]["elements"] == [256, 4096]
    assert main(["calibrate", "--check", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["held_out_shapes"] == 1 and 0 <= data["within_15_percent"] <= 1 and data["threads"] == 1
    assert calibration is not None


def test_the_report_says_a_profile_times_the_compute_and_where_it_was_measured(capsys):
    """A CPU profile on an H100 cluster prices the steps at the CPU's speed, as asked, but the report's header says
    so (hostile report 13, A3); a run without a profile prints no such line."""
    from simtrain.cli import main

    argv = ["simulate", "--model", "resnet18-cifar", "--topology", "dgx-h100", "--gpus", "8", "--batch", "8"]
    assert main([*argv, "--profile", "cpu-numba"]) == 0
    assert "compute timed by profile cpu-numba, measured on cpu, not the cluster's h100" in capsys.readouterr().out
    assert main(argv) == 0
    assert "profile" not in capsys.readouterr().out
