"""Time to accuracy: curves priced epoch by epoch on a cluster, the phases each epoch is in."""

from __future__ import annotations

import json

import pytest

from simtrain.compression.traffic import traffic
from simtrain.errors import ConfigError
from simtrain.lowrank.tta import plot_time_to_accuracy, read_curves, time_to_accuracy
from simtrain.training import simulate

HEAD = "# model: resnet18-cifar\n# batch_per_worker: 128\n# samples_per_epoch: 50000\n"


def write(folder, name: str, scheme: str, acc: list[float]) -> None:
    rows = "".join(f"{i + 1},{a}\n" for i, a in enumerate(acc))
    (folder / f"{name}.csv").write_text(HEAD + f"# scheme: {scheme}\nepoch,test_accuracy\n" + rows)


def test_epochs_priced_phase_by_phase(tmp_path) -> None:
    write(tmp_path, "dense", "none", [0.5, 0.8, 0.91, 0.93])
    write(tmp_path, "cf", "cuttlefish:switch_epoch=2,rank_fraction=0.1", [0.5, 0.7, 0.85, 0.92])
    cf, dense = time_to_accuracy(read_curves(tmp_path), "torus-2d", gpus=16, target=0.9)
    spe = 50000 // (16 * 128)
    base = simulate("resnet18-cifar", "torus-2d", gpus=16, batch=128).step_time_s
    low = simulate("resnet18-cifar", "torus-2d", gpus=16, batch=128,
                   scheme="cuttlefish:switch_epoch=2,rank_fraction=0.1").step_time_s
    assert dense.time_s == pytest.approx([base * spe * e for e in (1, 2, 3, 4)])
    assert cf.time_s == pytest.approx([base * spe, 2 * base * spe, 2 * base * spe + low * spe,
                                       2 * base * spe + 2 * low * spe])
    assert dense.epoch_reached == 3 and cf.epoch_reached == 4 and cf.time_to_target_s == cf.time_s[3]
    t = traffic("cuttlefish:switch_epoch=2,rank_fraction=0.1", "resnet18-cifar", gpus=16, batch=128,
                samples_per_epoch=50000, epochs=4, topology="torus-2d")
    assert cf.bytes_per_gpu[-1] == pytest.approx(t.payload_bytes_per_run_per_gpu)
    png = plot_time_to_accuracy([cf, dense], tmp_path / "tta.png", target=0.9)
    assert png.stat().st_size > 10_000


def test_curves_from_simtrain_train(tmp_path) -> None:
    from simtrain.lowrank.train import train

    train("cnn-digits", "cuttlefish:switch_epoch=1,rank_fraction=0.25", workers=4, batch=250, epochs=2,
          out=tmp_path / "cf")
    (curve,) = read_curves(tmp_path)
    assert curve.model == "cnn-digits" and "switch_epoch=1" in curve.scheme and "ranks.yaml" in curve.scheme
    (r,) = time_to_accuracy([curve], "torus-2d", gpus=4, target=0.99)
    assert r.steps_per_epoch == 3000 // (4 * 250) and len(r.time_s) == 2
    saved = json.loads((tmp_path / "cf" / "curve.json").read_text())
    assert r.bytes_per_gpu[-1] == pytest.approx(sum(e["bytes_sent"] for e in saved["epochs"]))


def test_bad_curves(tmp_path) -> None:
    (tmp_path / "bad.csv").write_text("epoch,accuracy\n1,0.5\n")
    with pytest.raises(ConfigError):
        read_curves(tmp_path)
    (tmp_path / "bad.csv").write_text(HEAD + "epoch,test_accuracy\n1,0.5\n")
    with pytest.raises(ConfigError) as err:
        read_curves(tmp_path)
    assert err.value.key == "scheme"
    (tmp_path / "bad.csv").write_text(HEAD + "# scheme: none\nepoch,test_accuracy\n1,50\n")
    with pytest.raises(ConfigError):
        read_curves(tmp_path)
