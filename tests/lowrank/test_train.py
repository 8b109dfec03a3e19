"""Real low-rank training: the model's tensors, exact gradients, bytes equal to the traffic model's, learning."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simtrain.compression.traffic import traffic
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.lowrank import data
from simtrain.lowrank.nets import Backend, Net, model_spec
from simtrain.lowrank.ranks import write_profile
from simtrain.lowrank.train import train

# 3 steps per epoch: whole epochs stay cheap; priced by a roofline (no timing of this machine's kernels)
FULL = {"workers": 4, "batch": 250, "compute": ComputeModel.roofline("cpu")}


def test_data_is_deterministic_and_balanced() -> None:
    x, y, xt, yt = data.digits()
    assert x.shape == (data.TRAIN, 16, 16) and xt.shape == (data.TEST, 16, 16)
    assert np.bincount(np.concatenate([y, yt])).tolist() == [400] * 10
    img = data.render(3, np.random.default_rng(5))
    assert np.array_equal(img, data.render(3, np.random.default_rng(5)))
    assert not np.array_equal(img, data.render(3, np.random.default_rng(6)))


@pytest.mark.parametrize("model", ["cnn-digits", "transformer-digits"])
def test_net_trains_exactly_the_spec_tensors(model: str) -> None:
    net = Net(model, Backend("numba"), seed=0)
    spec = {t.name: t.numel for t in model_spec(model).tensors}
    assert {k: v.size for k, v in net.params.dense.items()} == spec


@pytest.mark.parametrize("model", ["cnn-digits", "transformer-digits"])
@pytest.mark.parametrize("kind", ["dense", "AB", "USV"])
def test_gradients_match_finite_differences(model: str, kind: str) -> None:
    net = Net(model, Backend("numba"), seed=1)
    p = net.params
    rng = np.random.default_rng(0)
    p.dense = {k: v.astype(np.float64) + (0 if k.endswith(".weight") else rng.normal(0, 0.1, v.shape))
               for k, v in p.dense.items()}
    if kind != "dense":
        for name in net.weight_names[1:-1]:
            u, s, vt = np.linalg.svd(p.dense.pop(name), full_matrices=False)
            r = max(1, len(s) // 2)
            p.factors[name] = ({"A": u[:, :r] * np.sqrt(s[:r]), "B": np.sqrt(s[:r])[:, None] * vt[:r]}
                               if kind == "AB" else {"U": u[:, :r], "S": np.diag(s[:r]), "V": vt[:r].T})
    x, y = rng.normal(size=(3, 16, 16)), np.array([1, 5, 7])
    _, grads = net.loss_and_grads(x, y)
    assert set(grads) == set(p.trained())
    for key in p.trained():
        arr = p.get(key)
        for _ in range(2):
            idx = tuple(int(rng.integers(0, s)) for s in arr.shape)
            old = arr[idx]
            arr[idx] = old + 1e-6
            up = net.loss_and_grads(x, y)[0]
            arr[idx] = old - 1e-6
            down = net.loss_and_grads(x, y)[0]
            arr[idx] = old
            assert (up - down) / 2e-6 == pytest.approx(grads[key][idx], rel=1e-4, abs=1e-7), key


def test_bytes_equal_the_traffic_model_cuttlefish(tmp_path) -> None:
    spec = model_spec("cnn-digits")
    profile = write_profile({"conv2.weight": 5, "conv3.weight": 9, "fc1.weight": 17}, tmp_path / "ranks.yaml")
    scheme = f"cuttlefish:switch_epoch=1,rank_profile={profile}"
    r = train("cnn-digits", scheme, epochs=3, **FULL)
    assert r.switch_epoch == 1 and r.epochs[1].ranks == {"conv2.weight": 5, "conv3.weight": 9, "fc1.weight": 17}
    sent = [e.bytes_sent for e in r.epochs]
    assert sent == [e.bytes_model for e in r.epochs] and sent[1] < sent[0]
    model = traffic(scheme, spec, gpus=4, batch=250, samples_per_epoch=data.TRAIN, epochs=3)
    assert sum(sent) == model.payload_bytes_per_run_per_gpu


def test_bytes_equal_the_traffic_model_oialr_fixed_rank(tmp_path) -> None:
    profile = write_profile({"conv2.weight": 8, "fc1.weight": 20}, tmp_path / "ranks.yaml")
    scheme = f"oialr:warmup=2,stability_frequency=2,rank_profile={profile}"
    r = train("cnn-digits", scheme, epochs=3, oialr_cutoff=0, **FULL)
    assert [e.bytes_sent for e in r.epochs] == [e.bytes_model for e in r.epochs]
    model = traffic(scheme, model_spec("cnn-digits"), gpus=4, batch=250, samples_per_epoch=data.TRAIN, epochs=3)
    assert sum(e.bytes_sent for e in r.epochs) == model.payload_bytes_per_run_per_gpu


def test_oialr_prunes_and_still_counts_exactly() -> None:
    r = train("cnn-digits", "oialr:warmup=3,stability_frequency=2", epochs=3, oialr_cutoff=0.9, **FULL)
    assert [e.bytes_sent for e in r.epochs] == [e.bytes_model for e in r.epochs]
    last = r.epochs[-1].ranks
    shapes = {t.name: t.matrix_shape for t in model_spec("cnn-digits").tensors}
    assert last and all(k < min(shapes[n]) for n, k in last.items())


def test_seeded_runs_repeat_and_save_spectra(tmp_path) -> None:
    a = train("cnn-digits", "none", workers=2, epochs=2, batch=32, max_steps=3, out=tmp_path)
    b = train("cnn-digits", "none", workers=2, epochs=2, batch=32, max_steps=3)
    timed = {"compute_measured_s", "compute_wall_s", "compute_predicted_s", "codec_measured_s", "codec_predicted_s"}
    strip = [{k: v for k, v in vars(e).items() if k not in timed} for e in a.epochs]
    assert strip == [{k: v for k, v in vars(e).items() if k not in timed} for e in b.epochs]
    saved = np.load(tmp_path / "spectra.npz")
    assert sorted(saved.files)[0] == "epoch_000/conv1.weight" and len(saved.files) == 2 * 5 + 5
    assert saved["shape/conv2.weight"].tolist() == [32, 144]
    assert json.loads((tmp_path / "curve.json").read_text())["epochs"][1]["epoch"] == 2


def test_cuttlefish_switches_from_the_data() -> None:
    from simtrain.lowrank.ranks import CuttlefishTracker

    r = train("cnn-digits", "cuttlefish", epochs=4, tracker=CuttlefishTracker(1, 1, 1e9, 2, scaled=False), **FULL)
    assert r.switch_epoch == 2      # an always-converged test switches as soon as min_epochs allow
    assert r.epochs[1].ranks == {} and set(r.epochs[2].ranks) == {"conv2.weight", "conv3.weight", "fc1.weight"}
    stable = r.epochs[1].stable_ranks
    assert all(r.epochs[2].ranks[n] == -(-stable[n] // 1) for n in r.epochs[2].ranks)   # ceil of the stable rank
    assert r.epochs[2].bytes_sent < r.epochs[1].bytes_sent
    # scaled stable ranks of a barely trained CNN are close to full rank: factors would not be smaller, W stays
    early = train("cnn-digits", "cuttlefish", epochs=3, tracker=CuttlefishTracker(1, 1, 1e9, 2), **FULL)
    assert early.switch_epoch == 2 and early.epochs[2].ranks == {}
    assert early.epochs[2].bytes_sent == early.epochs[1].bytes_sent
    assert r.to_dict()["switch_epoch"] == 2 and "switch_epoch" not in train(
        "cnn-digits", "none", workers=2, epochs=1, max_steps=1).to_dict()


def test_learns_a_short_seeded_run() -> None:
    r = train("cnn-digits", "none", workers=2, epochs=2, batch=32, max_steps=30)
    assert r.epochs[-1].test_accuracy > 0.6 and r.epochs[-1].loss < r.epochs[0].loss


@pytest.mark.parametrize("kwargs, key", [({"model": "mlp"}, "model"), ({"scheme": "randomk"}, "scheme"),
                                         ({"scheme": "ab-training:group_size=1", "workers": 3}, "group_size"),
                                         ({"workers": 0}, "workers"), ({"batch": 4000}, "batch"),
                                         ({"optimizer": "rmsprop"}, "optimizer")])
def test_bad_input(kwargs: dict, key: str) -> None:
    args = {"model": "cnn-digits", "scheme": "none", "epochs": 1} | kwargs
    with pytest.raises(ConfigError) as err:
        train(args.pop("model"), args.pop("scheme"), **args)
    assert err.value.key == key


def test_torch_backend_matches_numba() -> None:
    pytest.importorskip("torch")
    x, y, _, _ = data.digits()
    a = Net("cnn-digits", Backend("numba"), seed=0).loss_and_grads(x[:8], y[:8])
    b = Net("cnn-digits", Backend("torch"), seed=0).loss_and_grads(x[:8], y[:8])
    assert a[0] == pytest.approx(b[0], rel=1e-5)
    assert all(np.allclose(a[1][k], b[1][k], rtol=1e-3, atol=1e-5) for k in a[1])


def test_cli_json(capsys) -> None:
    from simtrain.cli import main

    assert main(["train", "--model", "cnn-digits", "--scheme", "cuttlefish", "--workers", "2", "--epochs", "1",
                 "--max-steps", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["epochs"][0]) >= {"epoch", "test_accuracy", "loss", "bytes_sent", "ranks", "stable_ranks",
                                     "compute_measured_s", "compute_predicted_s"}
    assert "switch_epoch" in out
    assert main(["train", "--model", "cnn-digits", "--scheme", "signsgd", "--epochs", "1"]) == 2


def test_bytes_equal_the_traffic_model_ab_training(tmp_path) -> None:
    profile = write_profile({"conv2.weight": 5, "conv3.weight": 9, "fc1.weight": 17}, tmp_path / "ranks.yaml")
    scheme = f"ab-training:warmup=2,sync_every=3,rebound=1,group_size=2,rank_profile={profile}"
    r = train("cnn-digits", scheme, epochs=3, **FULL)
    assert [e.steps_per_phase for e in r.epochs] == [{"full-rank": 2, "ab": 1}, {"sync": 1, "full-rank": 1, "ab": 1},
                                                     {"sync": 1, "full-rank": 1, "ab": 1}]
    sent = [e.bytes_sent for e in r.epochs]
    assert sent == [e.bytes_model for e in r.epochs] and sent[1] < sent[0]
    model = traffic(scheme, model_spec("cnn-digits"), gpus=4, batch=250, samples_per_epoch=data.TRAIN, epochs=3)
    assert sum(sent) == model.payload_bytes_per_run_per_gpu


def test_ab_training_ranks_from_the_data(monkeypatch) -> None:
    # full inner dimension when first leaving the warm-up (as its code does), its rule at every re-entry, on the
    # spectrum of the rebuilt W
    from simtrain.lowrank import ranks as rank_rules
    from simtrain.lowrank import train as training

    seen: list[np.ndarray] = []

    def rule(spectrum: np.ndarray, cutoff: float = 0.15) -> int:
        seen.append(spectrum)
        return 3 if rank_rules.ab_training_rank(spectrum, cutoff) >= 3 else 1

    monkeypatch.setattr(training, "ab_training_rank", rule)
    r = train("cnn-digits", "ab-training:warmup=1,sync_every=2,rebound=0", epochs=2, **FULL)
    assert r.epochs[0].ranks == {"conv2.weight": 32, "conv3.weight": 64, "fc1.weight": 128}
    assert r.epochs[1].ranks == {"conv2.weight": 3, "conv3.weight": 3, "fc1.weight": 3}
    assert [len(s) for s in seen] == [32, 64, 128] * 2     # re-entries at steps 3 and 5, never at the first
    assert [e.bytes_sent for e in r.epochs] == [e.bytes_model for e in r.epochs]


@pytest.mark.parametrize("scheme", ["powersgd:rank=2,start_iter=4", "topk:density=0.05", "qsgd", "onebit"])
def test_bytes_equal_the_traffic_model_codecs(scheme: str) -> None:
    r = train("cnn-digits", scheme, epochs=2, **FULL)
    sent = [e.bytes_sent for e in r.epochs]
    assert sent == [e.bytes_model for e in r.epochs]
    model = traffic(scheme, model_spec("cnn-digits"), gpus=4, batch=250, samples_per_epoch=data.TRAIN, epochs=2)
    assert sum(sent) == model.payload_bytes_per_run_per_gpu < 2 * 3 * 57482 * 4


@pytest.mark.parametrize("scheme", ["powersgd:rank=4", "ab-training:warmup=10,sync_every=10,rebound=2"])
def test_compressed_schemes_learn_a_short_seeded_run(scheme: str) -> None:
    r = train("cnn-digits", scheme, workers=2, epochs=2, batch=32, max_steps=30, compute=FULL["compute"])
    assert r.epochs[-1].test_accuracy > 0.5 and r.epochs[-1].loss < r.epochs[0].loss


def test_pass_costs_time_the_products_the_pass_calls() -> None:
    from simtrain.lowrank.compute import PassCosts

    real = Backend("numba")
    called: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    def recording(layout: str):
        op = getattr(real, layout)

        def record(a, b):
            called.append((layout, a.shape, b.shape))
            return op(a, b)
        return record

    for layout in ("nt", "nn", "tn"):
        setattr(real, layout, recording(layout))
    net = Net("transformer-digits", real, seed=0)
    x, y, _, _ = data.digits()
    net.loss_and_grads(x[:4], y[:4])
    costs = PassCosts(repeats=1, batch_s=1e-6)
    as_calibrated = {"nt": lambda a, b: (a[0], b[0], a[1]), "nn": lambda a, b: (a[0], b[1], a[1]),
                     "tn": lambda a, b: (a[1], b[1], a[0])}
    assert costs.gemms(net, x[:4], y[:4]) == [(lay, *as_calibrated[lay](a, b)) for lay, a, b in called]
    assert net.backend is real
    gemm, other = costs.parts(net, x[:4], y[:4])
    assert gemm > 0 and other > 0


def test_warm_up_schemes_report_their_switch_and_warn_past_the_end() -> None:
    cheap = {"workers": 2, "batch": 32, "max_steps": 1, "compute": FULL["compute"]}    # 46 steps per epoch
    r = train("cnn-digits", "oialr:warmup=46,stability_frequency=46", epochs=2, **cheap)
    assert r.switch_epoch == 1 and r.to_dict()["switch_epoch"] == 1
    assert r.epochs[0].ranks == {} and r.epochs[1].ranks
    with pytest.warns(UserWarning, match="warmup=100 steps lasts the whole 46-step run"):
        train("cnn-digits", "ab-training:warmup=100", epochs=1, **cheap)


def test_codec_work_is_measured_and_priced_on_this_machine() -> None:
    r = train("cnn-digits", "powersgd:rank=2", workers=2, epochs=1, batch=32, max_steps=2)
    e = r.epochs[0]
    assert e.codec_measured_s > 0 and e.codec_predicted_s > 0 and e.compute_predicted_s > 0
    assert "calibrated here" in r.compute_model


def test_a_diverging_run_stops_with_one_error_naming_the_learning_rate() -> None:
    """A learning rate that blows the loss up stops the run at the first non-finite loss (before NaN weights reach
    an SVD), as a ConfigError naming ``lr``; an infinite rate is refused before training."""
    with pytest.raises(ConfigError, match="diverged at epoch 1") as info:
        train("cnn-digits", "none", workers=2, epochs=1, max_steps=3, lr=1e9)
    assert info.value.key == "lr"
    with pytest.raises(ConfigError, match="positive finite"):
        train("cnn-digits", "none", workers=2, epochs=1, max_steps=3, lr=float("inf"))
