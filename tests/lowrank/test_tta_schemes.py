"""Time to accuracy for every scheme ``simtrain train`` runs: a real (tiny) run of each, priced on a cluster.

Each run: 2 workers x 250 samples, 6 steps per epoch, 2 epochs, seeded; the schemes with a dense start end it after
the first epoch. On 2 GPUs (the training run's steps per epoch) the priced epochs must have exactly the phases the
run had; on 4 GPUs (3 steps per epoch) the step-counted parameters are rescaled so that each epoch keeps its phases.
"""

from __future__ import annotations

import json
import warnings

import pytest

from simtrain.errors import ConfigError
from simtrain.lowrank.tta import read_curves, scheme_on_cluster, time_to_accuracy

#: folder -> scheme given to ``train`` (step counts at the run's 6 steps per epoch: one epoch of warm-up)
SCHEMES = {
    "none": "none",
    "cuttlefish": "cuttlefish:switch_epoch=1,rank_fraction=0.25",
    "oialr": "oialr:warmup=6,stability_frequency=6",
    "ab-training": "ab-training:warmup=6,sync_every=6,rebound=1",
    "powersgd": "powersgd:rank=2,start_iter=6",
    "topk": "topk",
    "mstopk": "mstopk",
    "qsgd": "qsgd",
    "onebit": "onebit",
}
#: the phase of each scheme's dense start
WARMUP_PHASE = {"cuttlefish": "full-rank", "oialr": "full-rank", "ab-training": "full-rank", "powersgd": "dense"}
HEAD = "# model: resnet18-cifar\n# batch_per_worker: 128\n# samples_per_epoch: 50000\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from simtrain.compute import ComputeModel
    from simtrain.lowrank.train import train

    root = tmp_path_factory.mktemp("curves")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for folder, scheme in SCHEMES.items():
            train("cnn-digits", scheme, workers=2, batch=250, epochs=2, seed=0,
                  compute=ComputeModel.roofline("cpu"), out=root / folder)
    curves = read_curves(root)
    saved = {c.name: json.loads((root / c.name / "curve.json").read_text()) for c in curves}
    return curves, saved


def test_every_scheme_read_back(runs) -> None:
    curves, _ = runs
    assert sorted(c.name for c in curves) == sorted(SCHEMES)
    by_name = {c.name: c for c in curves}
    for name in ("cuttlefish", "oialr", "ab-training"):   # the run's last ranks, whatever scheme produced them
        assert "rank_profile=" in by_name[name].scheme and "rank_fraction" not in by_name[name].scheme
    assert all(c.workers == 2 and c.train_steps_per_epoch == 6 for c in curves)


def test_same_steps_per_epoch_same_phases_and_bytes(runs) -> None:
    curves, saved = runs
    results = time_to_accuracy(curves, "torus-2d", gpus=2, target=0.99)
    dense_epoch = next(r for r in results if r.name == "none").time_s[0]
    for r in results:
        run = saved[r.name]
        assert r.steps_per_epoch == run["steps_per_epoch"] == 6
        assert r.steps_per_phase == [e["steps_per_phase"] for e in run["epochs"]], r.name
        times = [r.time_s[0]] + [b - a for a, b in zip(r.time_s, r.time_s[1:])]
        for epoch, steps in zip(times, r.steps_per_phase):
            assert epoch == pytest.approx(sum(n * r.phase_step_times_s[p] for p, n in steps.items()))
        if r.name in WARMUP_PHASE:   # the warm-up epoch is dense data parallelism, step for step
            assert r.steps_per_phase[0] == {WARMUP_PHASE[r.name]: 6}
            assert r.time_s[0] == pytest.approx(dense_epoch)
            assert r.time_s[1] - r.time_s[0] != pytest.approx(dense_epoch)
        sent = [e["bytes_sent"] for e in run["epochs"]]
        priced = [r.bytes_per_gpu[0], r.bytes_per_gpu[1] - r.bytes_per_gpu[0]]
        if r.name in ("ab-training", "oialr"):
            # ab-training: a group of one worker all-reduces nothing over the network (traffic's payload), while
            # the training run counts what that worker encodes; oialr: its steps before the epoch's rank update
            # ran at full rank, priced at the run's last (pruned) ranks. Only the warm-up epoch compares exactly.
            assert priced[0] == sent[0] and priced[1] < sent[1], r.name
        else:
            assert priced == pytest.approx(sent), r.name


def test_rescaled_to_the_cluster(runs) -> None:
    curves, saved = runs
    results = {r.name: r for r in time_to_accuracy(curves, "torus-2d", gpus=4, target=0.99)}
    assert {r.steps_per_epoch for r in results.values()} == {3}
    ab = results["ab-training"].scheme
    assert "warmup=3" in ab and "sync_every=3" in ab and "rebound=1" in ab and "group_size=2" in ab
    assert "warmup=3" in results["oialr"].scheme and "stability_frequency=3" in results["oialr"].scheme
    assert results["powersgd"].scheme == "powersgd:rank=2,start_iter=3"
    for name, r in results.items():
        run = saved[name]["epochs"]
        assert [set(s) for s in r.steps_per_phase] == [set(e["steps_per_phase"]) for e in run], name
        assert all(sum(s.values()) == 3 for s in r.steps_per_phase)
        if name in WARMUP_PHASE:
            assert r.steps_per_phase[0] == {WARMUP_PHASE[name]: 3}


def test_published_curve_with_workers(tmp_path) -> None:
    # 8 workers x 128 = 48 steps per epoch when measured; 16 GPUs: 24. Warm-up 2 epochs, a 1-epoch cycle.
    (tmp_path / "ab.csv").write_text(HEAD + "# scheme: ab-training:warmup=96,sync_every=48,rebound=4,group_size=4\n"
                                     "# workers: 8\nepoch,test_accuracy\n1,0.3\n2,0.5\n3,0.7\n4,0.8\n")
    (curve,) = read_curves(tmp_path)
    assert curve.workers == 8 and curve.train_steps_per_epoch == 48
    assert scheme_on_cluster(curve, 16, 24) == "ab-training:warmup=48,sync_every=24,rebound=2,group_size=8"
    (r,) = time_to_accuracy([curve], "torus-2d", gpus=16, target=0.75)
    assert r.steps_per_phase[:2] == [{"full-rank": 24}, {"full-rank": 24}]
    assert r.steps_per_phase[2:] == [{"full-rank": 2, "ab": 21, "sync": 1}] * 2
    assert r.epoch_reached == 4
    # without workers the parameters are the cluster's as given
    (tmp_path / "ab.csv").write_text(HEAD + "# scheme: ab-training:warmup=96,sync_every=48,rebound=4\n"
                                     "epoch,test_accuracy\n1,0.3\n2,0.5\n3,0.7\n4,0.8\n")
    (r,) = time_to_accuracy(read_curves(tmp_path), "torus-2d", gpus=16, target=0.75)
    assert "warmup=96" in r.scheme and r.steps_per_phase == [{"full-rank": 24}] * 4


def test_rescaling_that_cannot_hold(tmp_path) -> None:
    (tmp_path / "ab.csv").write_text(HEAD + "# scheme: ab-training:warmup=0,sync_every=2,rebound=1,group_size=1\n"
                                     "# workers: 8\nepoch,test_accuracy\n1,0.3\n")
    (curve,) = read_curves(tmp_path)
    with pytest.raises(ConfigError) as err:    # 1 of 8 workers is 1.5 of 12 GPUs
        scheme_on_cluster(curve, 12, 32)
    assert err.value.key == "gpus"
    with pytest.raises(ConfigError) as err:    # 2 and 1 steps at 48 steps/epoch are 1 and 1 at 24
        scheme_on_cluster(curve, 16, 24)
    assert "rebound" in str(err.value.key) and "once rescaled" in str(err.value)
    (tmp_path / "ab.csv").write_text(HEAD + "# scheme: none\n# workers: 0\nepoch,test_accuracy\n1,0.3\n")
    with pytest.raises(ConfigError) as err:
        read_curves(tmp_path)
    assert err.value.key == "workers"


def test_each_epoch_at_its_own_ranks() -> None:
    from simtrain.compression import make_scheme
    from simtrain.compression.traffic import traffic
    from simtrain.lowrank.nets import model_spec
    from simtrain.lowrank.tta import Curve

    big = {"conv2.weight": 16, "conv3.weight": 32, "fc1.weight": 64}
    small = {"conv2.weight": 4, "conv3.weight": 8, "fc1.weight": 16}
    curve = Curve("oialr", "cnn-digits", "oialr:warmup=6,stability_frequency=6", 250, 3000, [0.3, 0.5, 0.6],
                  workers=2, epoch_ranks=[{}, big, small])
    (r,) = time_to_accuracy([curve], "torus-2d", gpus=2, target=0.99)
    per_epoch = [r.bytes_per_gpu[0]] + [b - a for a, b in zip(r.bytes_per_gpu, r.bytes_per_gpu[1:])]
    for ranks, priced in ((big, per_epoch[1]), (small, per_epoch[2])):
        t = traffic(make_scheme(r.scheme).with_ranks(ranks), model_spec("cnn-digits"), gpus=2, batch=250,
                    samples_per_epoch=3000, epochs=3, topology="torus-2d")
        step = {p.name: p.payload_bytes_per_step for p in t.phases}
        assert priced == pytest.approx(5 * step["low-rank"] + step["rank update"])
    assert per_epoch[1] > per_epoch[2]
