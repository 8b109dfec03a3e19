"""Counts are bounded in the library too, not only on the command line; long measurements say their cost first."""

from __future__ import annotations

import pytest

import simtrain
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


@pytest.mark.parametrize(("call", "key"), [
    (lambda c: simtrain.collective_time("all-reduce", None, c), "size"),
    (lambda c: simtrain.collective_time("all-reduce", True, c), "size"),
    (lambda c: simtrain.collective_time("all-reduce", [1], c), "size"),
    (lambda c: simtrain.collective_time("all-reduce", "1 MiB", "torus-2d"), "cluster"),
    (lambda c: simtrain.build_schedule("all-reduce", "1 MiB", None), "cluster"),
], ids=["size-none", "size-bool", "size-list", "cluster-a-name", "cluster-none"])
def test_collectives_name_a_wrong_argument(call, key):
    from simtrain.topology import load_topology

    with pytest.raises(ConfigError) as info:
        call(load_topology("torus-2d", gpus=4))
    assert info.value.key == key


@pytest.mark.parametrize("extra", [{"network": [1]}, {"topology_overrides": 5}, {"algorithm_params": [1]},
                                   {"perturbations": 5}], ids=lambda e: next(iter(e)))
def test_a_run_names_a_python_field_of_the_wrong_type(extra):
    # before, construction accepted them and simulate() raised a TypeError or AttributeError deep inside
    from simtrain.run import TrainingRun

    with pytest.raises(ConfigError) as info:
        TrainingRun(model="resnet18-cifar", topology="torus-2d", gpus=4, batch=8, **extra)
    assert info.value.key == next(iter(extra))


def test_a_run_takes_perturbations_as_a_mapping():
    from simtrain.run import TrainingRun

    mapping = {"stragglers": [{"rank": 0, "factor": 2.0}]}
    run = TrainingRun(model="resnet18-cifar", topology="torus-2d", gpus=4, batch=8, engine="des", perturbations=mapping)
    clean = TrainingRun(model="resnet18-cifar", topology="torus-2d", gpus=4, batch=8, engine="des")
    assert simtrain.simulate(run).step_time_s > simtrain.simulate(clean).step_time_s
