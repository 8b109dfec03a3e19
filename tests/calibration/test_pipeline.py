"""calibrate_profile and check_profile: the calibration pipeline a Python user calls (and simtrain calibrate runs).

No test asserts a measured time: only shapes, sanity, and what follows from the profile alone.
"""

from __future__ import annotations

import json

import pytest

from simtrain.calibration import ProfileCheck, bench, calibrate_profile, check_profile, gemm_table, load_profile
from simtrain.calibration.bench import Shape
from simtrain.catalog import resolve
from simtrain.errors import ConfigError


@pytest.fixture
def small_grids(monkeypatch):
    """A small grid and few shapes keep the pipeline fast; it runs the same steps."""
    monkeypatch.setattr(bench, "fit_shapes", lambda dtypes, quick=False: [
        Shape(k, m, 64, 4, b, d) for d in dtypes for k in ("dense", "lowrank", "oialr") for m in (48, 96)
        for b in (4, 16)])
    monkeypatch.setattr(gemm_table, "grid_dims", lambda quick=False, largest=4096: [1, 16, 128])


def test_calibrate_profile_measures_fits_and_reports_progress(small_grids, tmp_path):
    seen: list[tuple[int, int, str]] = []
    profile = calibrate_profile("numba", "cpu", ["fp32"], quick=True, repeats=3,
                                progress=lambda done, total, label: seen.append((done, total, label)))
    assert profile.backend == "numba" and profile.dtypes == ["fp32"] and len(profile.samples) == 12
    assert profile.provenance["threads"] == 1 and profile.tables["fp32"].dims == (1, 16, 128)
    assert all(isinstance(label, str) for _, _, label in seen)
    assert any(label.startswith("GEMM table fp32") for _, _, label in seen) and seen[-1][0] == seen[-1][1]
    # not written until asked; then round-trips
    path = profile.save(tmp_path / "p.json")
    assert load_profile(path).params == profile.params


@pytest.mark.parametrize(("kwargs", "key", "fragment"), [
    ({"backend": "nmba"}, "backend", "unknown backend"),
    ({"device": "tpu"}, "device", "unknown device"),
    ({"backend": "numpy", "device": "cuda"}, "device", "runs on the cpu"),
    ({"dtypes": ["fp16"]}, "dtypes", "does not run"),
    ({"dtypes": []}, "dtypes", "at least one"),
    ({"repeats": 0}, "repeats", "positive"),
    ({"threads": 0}, "threads", "positive"),
])
def test_calibrate_profile_errors_name_the_python_parameter(kwargs, key, fragment):
    with pytest.raises(ConfigError) as info:
        calibrate_profile(**kwargs)
    assert info.value.source is None and info.value.key == key and fragment in info.value.message


def test_dtypes_may_be_a_comma_separated_string():
    from simtrain.calibration.pipeline import check_backend

    assert check_backend("numpy", "cpu", "fp32, fp64") == ["fp32", "fp64"]


def test_check_profile_by_name_with_chosen_shapes():
    shapes = [Shape("dense", 192, 320, 0, 16, "fp32"), Shape("lowrank", 192, 320, 4, 16, "fp32")]
    check = check_profile("cpu-numba", shapes=shapes, repeats=2)
    profile = load_profile(resolve("profiles", "cpu-numba"))
    assert isinstance(check, ProfileCheck) and check.threads == profile.provenance["threads"] == 1
    assert (check.backend, check.device) == ("numba", "cpu") and check.source.endswith("cpu-numba.json")
    frame = check.to_frame()
    assert list(frame.columns) == ["shape", "measured_s", "predicted_s", "rel_error"]
    assert list(frame["shape"]) == [s.describe() for s in shapes]
    # predictions follow from the profile alone; measurements are only sane
    assert list(frame["predicted_s"]) == [profile.predict(s) for s in shapes]
    assert (frame["measured_s"] > 0).all()
    assert frame["rel_error"].tolist() == pytest.approx(
        ((frame["predicted_s"] - frame["measured_s"]) / frame["measured_s"]).tolist())
    doc = json.loads(json.dumps(check.to_dict()))
    assert doc["held_out_shapes"] == 2 and doc["threads"] == 1 and 0 <= doc["within_15_percent"] <= 1


def test_check_profile_threads_and_default_shapes(monkeypatch):
    monkeypatch.setattr(bench, "check_shapes", lambda dtypes, quick=False: [Shape("oialr", 64, 48, 4, 8, "fp64")])
    check = check_profile("cpu-numba", threads=2, quick=True, repeats=2)
    assert check.threads == 2 and [r["shape"] for r in check.rows] == ["oialr 64x48 r=4 b=8 fp64"]


def test_check_profile_refuses_what_it_cannot_measure(tmp_path):
    with pytest.raises(ConfigError) as info:
        check_profile("cpu-numba", shapes=[Shape("dense", 8, 8, 0, 8, "fp16")])
    assert info.value.key == "shapes" and info.value.value == "fp16"
    with pytest.raises(ConfigError, match="repeats"):
        check_profile("cpu-numba", repeats=0)
    # a profile file whose backend cannot run here: the error names the file and its key
    doc = json.loads(resolve("profiles", "cpu-numba").read_text())
    bad = tmp_path / "tpu.json"
    bad.write_text(json.dumps({**doc, "device": "tpu"}))
    with pytest.raises(ConfigError) as info:
        check_profile(bad)
    assert info.value.source == str(bad) and info.value.key == "device"


def test_profile_check_share_and_count():
    rows = [{"shape": f"dense {i}x1 b=1 fp32", "measured_s": 1.0, "predicted_s": p, "rel_error": p - 1.0}
            for i, p in enumerate([1.0, 1.1, 1.5, 0.9])]
    check = ProfileCheck(rows, threads=1, backend="numba", device="cpu")
    assert check.within == 3 and check.within_15_percent == 0.75
    assert ProfileCheck([], 1, "numba", "cpu").within_15_percent == 0.0


def test_profile_check_plot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [{"shape": "dense 8x8 b=8 fp32", "measured_s": 1e-4, "predicted_s": 1.1e-4, "rel_error": 0.1},
            {"shape": "lowrank 8x8 r=2 b=8 fp32", "measured_s": 2e-5, "predicted_s": 4e-5, "rel_error": 1.0}]
    ax = ProfileCheck(rows, 1, "numba", "cpu").plot()
    assert "1 of 2 held-out shapes within 15 %" in ax.get_title()
    assert sorted(t.get_text() for t in ax.get_legend().get_texts())[:2] == ["dense", "lowrank"]
    plt.close(ax.figure)
