"""Real data-parallel training on digits: the bytes really sent equal the simulator's count, and it learns."""

from __future__ import annotations

import math

import pytest

from simtrain.calibration.realtrain import (
    RealTrainResult,
    digits_mlp,
    real_train,
    simulated_message_bytes,
    simulated_phase_bytes,
)
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError

WORKERS, BATCH, EPOCHS = 4, 16, 2  # 3000 // 64 = 46 steps per epoch

# small warm-ups and periods so that every phase of every scheme occurs in 44 steps
SPECS = [
    ("none", "exact"),
    ("powersgd:rank=2,start_iter=3", "exact"),
    ("powersgd:rank=3,start_iter=2", "codec"),
    ("ab-training:rank=8,warmup=4,sync_every=6,rebound=2,keep_first=false", "exact"),
    ("ab-training:rank=8,warmup=3,sync_every=5,rebound=1,keep_first=false,keep_last=false,group_size=1", "exact"),
    ("oialr:rank=8,warmup=4,stability_frequency=5", "exact"),
]


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], RealTrainResult]:
    return {(spec, protocol): real_train(spec, workers=WORKERS, batch=BATCH, epochs=EPOCHS,
                                         powersgd_protocol=protocol) for spec, protocol in SPECS}


@pytest.mark.parametrize(("spec", "protocol"), SPECS)
def test_bytes_really_sent_equal_the_simulated_count(runs, spec, protocol):
    r = runs[spec, protocol]
    assert r.steps == EPOCHS * (3000 // (WORKERS * BATCH)) == 92
    assert all(steps > 0 for steps in r.steps_per_phase.values()), r.steps_per_phase
    assert isinstance(r.message_bytes_total, int)
    assert r.message_bytes_total == r.message_bytes_per_worker * WORKERS
    assert r.message_bytes_per_worker == simulated_message_bytes(spec, WORKERS, BATCH, r.steps)
    assert r.message_bytes_per_worker_per_phase == simulated_phase_bytes(spec, WORKERS, BATCH, r.steps)
    assert all(value > 0 for value in r.message_bytes_per_worker_per_phase.values())


@pytest.mark.parametrize("workers", [2, 3, 6])
def test_ab_training_groups_for_other_worker_counts(workers):
    spec = "ab-training:rank=4,warmup=2,sync_every=4,rebound=1,keep_first=false"
    r = real_train(spec, workers=workers, batch=16, epochs=1)
    assert r.gpus_per_node == max(1, workers // 2)
    assert r.steps_per_phase["ab"] > 0 and r.steps_per_phase["sync"] > 0
    assert r.message_bytes_per_worker == simulated_message_bytes(spec, workers, 16, r.steps)
    assert r.message_bytes_per_worker_per_phase == simulated_phase_bytes(spec, workers, 16, r.steps)


def test_ab_phase_bytes_alternate_a_and_b_groups(runs):
    # fc1 (64 x 64) factorised at rank 8: A groups send 64*8 values, B groups 8*64, plus the other 4810 - 4096
    r = runs["ab-training:rank=8,warmup=4,sync_every=6,rebound=2,keep_first=false", "exact"]
    rest = 64 + 640 + 10
    per_step = (2 * (64 * 8 + rest) + 2 * (8 * 64 + rest)) * 4 / WORKERS
    assert r.message_bytes_per_worker_per_phase["ab"] == r.steps_per_phase["ab"] * per_step
    assert r.message_bytes_per_worker_per_phase["sync"] == r.steps_per_phase["sync"] * (2 * 64 * 8 + rest) * 4
    assert r.ranks == {"fc1.weight": 8}


def test_oialr_rank_update_broadcasts_u_s_v(runs):
    r = runs["oialr:rank=8,warmup=4,stability_frequency=5", "exact"]
    rest = 64 + 640 + 10  # fc2 (the last layer) stays full rank
    low = (8 * 8 + rest) * 4
    assert r.message_bytes_per_worker_per_phase["low-rank"] == r.steps_per_phase["low-rank"] * low
    bases = 8 * (64 + 64 + 8) * 4  # worker 0 alone broadcasts U, S, V: averaged over the workers
    assert r.message_bytes_per_worker_per_phase["rank update"] == r.steps_per_phase["rank update"] * (
        low + bases / WORKERS)


def test_none_learns_digits():
    r = real_train("none", workers=4, batch=32, epochs=3, lr=0.1, seed=0)
    assert len(r.accuracy_per_epoch) == len(r.loss_per_epoch) == 3
    assert r.accuracy_per_epoch[-1] >= 0.85
    assert r.loss_per_epoch[-1] < r.loss_per_epoch[0]


def test_low_rank_schemes_learn(runs):
    for key, r in runs.items():
        assert r.accuracy_per_epoch[-1] > 0.3, key  # chance is 0.1
        assert r.loss_per_epoch[-1] < r.loss_per_epoch[0], key


def test_powersgd_bytes_smaller_by_the_shape_factor():
    model = digits_mlp()
    dense_values = sum(t.numel for t in model.tensors)
    rank = 2
    psgd_values = sum(rank * sum(t.shape) if len(t.shape) == 2 else t.numel for t in model.tensors)
    assert (dense_values, psgd_values) == (4810, 478)  # 2·(64+64) + 2·(10+64) + 64 + 10
    none = real_train("none", workers=WORKERS, batch=BATCH, epochs=1)
    psgd = real_train(f"powersgd:rank={rank}", workers=WORKERS, batch=BATCH, epochs=1)
    assert none.message_bytes_per_worker == none.steps * dense_values * 4
    assert psgd.message_bytes_per_worker == psgd.steps * psgd_values * 4
    assert math.isclose(none.message_bytes_per_worker / psgd.message_bytes_per_worker, 4810 / 478)


def test_compute_times_are_measured_and_predicted():
    r = real_train("none", workers=2, batch=64, epochs=1, compute=ComputeModel.roofline("cpu"))
    assert 0 < r.measured_compute_s_per_step < math.inf
    assert 0 < r.predicted_compute_s_per_step < math.inf
    assert r.predicted_compute_dtype == "fp64"
    gpu = real_train("none", workers=2, batch=64, epochs=1, compute=ComputeModel.roofline("h100"))
    assert gpu.predicted_compute_dtype == "fp32"  # the H100 model has no fp64 rate
    assert 0 < gpu.predicted_compute_s_per_step < r.predicted_compute_s_per_step


@pytest.mark.parametrize("spec", ["none", "ab-training:rank=8,warmup=4,sync_every=6,rebound=2,keep_first=false"])
def test_same_seed_same_run(spec):
    a = real_train(spec, workers=WORKERS, batch=BATCH, epochs=EPOCHS, seed=3)
    b = real_train(spec, workers=WORKERS, batch=BATCH, epochs=EPOCHS, seed=3)
    c = real_train(spec, workers=WORKERS, batch=BATCH, epochs=EPOCHS, seed=4)
    assert a.accuracy_per_epoch == b.accuracy_per_epoch
    assert a.loss_per_epoch == b.loss_per_epoch
    assert a.loss_per_epoch != c.loss_per_epoch


def test_to_dict_round_trips_the_fields(runs):
    r = runs["powersgd:rank=2,start_iter=3", "exact"]
    d = r.to_dict()
    assert d["scheme"] == "powersgd:rank=2,start_iter=3"
    assert d["workers"] == WORKERS and d["batch_per_worker"] == BATCH and d["epochs"] == EPOCHS
    assert d["steps_per_phase"] == {"dense": 3, "compressed": 89}
    assert d["ranks"] == {"fc1.weight": 2, "fc2.weight": 2}
    assert RealTrainResult(**d) == r


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"scheme": "topk"}, "scheme"),
    ({"scheme": "ab-training:sync_mode=only-b,keep_first=false"}, "sync_mode"),
    ({"workers": 0}, "workers"),
    ({"batch": 1000}, "batch"),
    ({"lr": -1.0}, "lr"),
    ({"momentum": 1.0}, "momentum"),
    ({"powersgd_protocol": "allgather"}, "powersgd_protocol"),
])
def test_bad_arguments_are_config_errors(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        real_train(**{"epochs": 1, **kwargs})
