"""Counts are bounded in the library too, not only on the command line; long measurements say their cost first."""

from __future__ import annotations

import pytest

from simtrain.calibration.pipeline import calibration_cost
from simtrain.errors import ConfigError
from simtrain.limits import MAX_DEVICES, MAX_WORKERS
from simtrain.placement import make_devices
from simtrain.study import load_study, run_study


def test_make_devices_is_bounded():
    assert make_devices(MAX_DEVICES).count == MAX_DEVICES
    with pytest.raises(ConfigError, match=f"at most {MAX_DEVICES}"):
        make_devices(100_000)


@pytest.mark.parametrize("workers", [100_000, 0, -1, True])
def test_run_study_workers_are_checked_before_anything_starts(tmp_path, workers):
    out = tmp_path / "never"
    with pytest.raises(ConfigError, match="workers"):
        run_study(load_study("quickstart"), out, workers=workers)
    assert not out.exists()
    assert MAX_WORKERS == 256


def test_calibration_announces_its_size():
    quick, full = calibration_cost("fp32", quick=True, repeats=3), calibration_cost(["fp32", "fp64"], repeats=15)
    assert 0 < quick.products_per_dtype < full.products_per_dtype
    assert full.dtypes == 2 and full.step_shapes > quick.step_shapes
    assert 0 < quick.lower_bound_s < full.lower_bound_s
    assert full.describe().startswith("calibrate: 2 dtype(s):")
