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
from simtrain.calibration.fit import PARAMS, fit_params, step_time
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


def test_fit_recovers_known_parameters_exactly():
    truth = {"call_overhead_s": 3e-6, "peak_flops": 8e10, "half_dim": 16.0, "bandwidth_Bps": 1.2e10,
             "loop_flops": 3e9, "elementwise_Bps": 7e9}
    shapes = [(s.kind, s.m, s.n, s.r, s.batch) for s in fit_shapes(["fp32"], quick=False)]
    times = [step_time(truth, *s, itemsize=4, loop_work=nb.LOOP_WORK) for s in shapes]
    fitted = fit_params(shapes, times, 4, bandwidth_Bps=1.2e10, loop_work=nb.LOOP_WORK)
    for name in PARAMS:
        assert fitted[name] == pytest.approx(truth[name], rel=1e-6), name
    # without loops (numpy, torch) the loop rate is not fitted and equals the peak
    no_loop = fit_params(shapes, [step_time(truth, *s, itemsize=4) for s in shapes], 4, bandwidth_Bps=1.2e10)
    assert no_loop["loop_flops"] == pytest.approx(no_loop["peak_flops"])
    with pytest.raises(ConfigError, match="at least as many shapes"):
        fit_params(shapes[:2], times[:2], 4)


def test_held_out_shapes_are_not_fit_shapes():
    held = set(check_shapes(["fp32"]))
    assert held and not held & set(fit_shapes(["fp32"])) and not held & set(fit_shapes(["fp32"], quick=True))


def _small_profile(tmp_path):
    samples = [measure("numba", "cpu", Shape(k, m, 64, 8, b, "fp32"), repeats=3, warmup=1)
               for k in ("dense", "lowrank", "oialr") for m in (48, 96) for b in (4, 16)]
    profile = Profile.from_samples(samples, {"fp32": 1e10}, {"note": "test"})
    return profile.save(tmp_path / "p.json")


def test_profile_round_trip_and_strict_loading(tmp_path):
    path = _small_profile(tmp_path)
    loaded = load_profile(path)
    assert loaded.backend == "numba" and loaded.dtypes == ["fp32"] and loaded.loop_work == nb.LOOP_WORK
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and len(data["samples"]) == 12 and data["provenance"] == {"note": "test"}
    with pytest.raises(ConfigError, match="overwrite"):
        loaded.save(path)
    bad = tmp_path / "bad.json"
    for mutation, match in [({"version": 99}, "version"), ({"format": "x"}, "not a simtrain"),
                            ({"params": {"fp32": {"peak_flops": -1}}}, "positive")]:
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
    assert with_profile.forward_time_s > 0 and with_profile.backward_time_s > with_profile.forward_time_s
    with pytest.raises(ConfigError, match="no fp16 calibration"):
        simulate("resnet18-cifar", "torus-2d", gpus=4, batch=32, compute=compute, dtype="fp16")


def test_calibrate_cli_quick_then_check(capsys, tmp_path, monkeypatch):
    from simtrain import calibration
    from simtrain.calibration import bench
    from simtrain.cli import main

    # a small grid keeps this test fast; the command is the same
    monkeypatch.setattr(bench, "fit_shapes", lambda dtypes, quick=False: [
        Shape(k, m, 64, 4, b, d) for d in dtypes for k in ("dense", "lowrank", "oialr") for m in (48, 96)
        for b in (4, 16)])
    monkeypatch.setattr(bench, "check_shapes", lambda dtypes, quick=False: [Shape("lowrank", 72, 64, 4, 8, "fp32")])
    out = tmp_path / "cpu.json"
    assert main(["calibrate", "--backend", "numba", "--quick", "--repeats", "3", "--out", str(out)]) == 0
    assert load_profile(out).provenance["backend"] == "numba"
    assert main(["calibrate", "--check", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["held_out_shapes"] == 1 and 0 <= data["within_15_percent"] <= 1
    assert calibration is not None
