"""The rank rules on constructed matrices whose spectra are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simtrain.compression.traffic import traffic
from simtrain.errors import ConfigError
from simtrain.lowrank.nets import model_spec
from simtrain.lowrank.ranks import (
    CuttlefishTracker,
    ab_training_rank,
    alds_allocate,
    layer_error,
    oialr_prune,
    profile_from_spectra,
    scaled_stable_rank,
    stable_rank,
    write_profile,
)


def matrix(sigma, m: int, n: int, seed: int = 0) -> np.ndarray:
    """A random m x n matrix with singular values ``sigma`` (the rest zero)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(m, m)))
    v, _ = np.linalg.qr(rng.normal(size=(n, n)))
    s = np.zeros(min(m, n))
    s[:len(sigma)] = sigma
    return (u[:, :len(s)] * s) @ v[:, :len(s)].T


def svals(w: np.ndarray) -> np.ndarray:
    return np.linalg.svd(w, compute_uv=False)


def test_stable_rank_of_a_known_spectrum() -> None:
    w = matrix([5.0, 3.0, 4.0], 20, 30)
    assert stable_rank(svals(w)) == pytest.approx((25 + 9 + 16) / 25)
    assert stable_rank(svals(matrix([2.0] * 6, 12, 8))) == pytest.approx(6)
    assert scaled_stable_rank(svals(w), xi=3.0) == 6                  # ceil(3 x 2)


def test_cuttlefish_switches_when_every_layer_has_converged() -> None:
    # layer a decays to a fixed spectrum by epoch 4, layer b by epoch 7; then both stay
    def spectra(epoch: int) -> dict[str, np.ndarray]:
        a = [4.0, 2.0, 2.0 * max(0.0, 1 - epoch / 4) + 0.5, 0.5]
        b = [3.0] + [3.0 * max(0.1, 1 - epoch / 7)] * 5
        return {"a": svals(matrix(a, 8, 8)), "b": svals(matrix(b, 10, 6, 1))}

    t = CuttlefishTracker(window=1, lookback=2, threshold=1e-6, min_epochs=1)
    t.initialise(spectra(0))
    epochs = [e for e in range(12) if not t.observe(spectra(e), e)]
    # b's stable rank stops moving at epoch 7 (6.3 / 7 = 0.9 -> floor 0.1 at epoch 7); 2 unchanged derivatives
    # (epochs 8 and 9 against 7 and 8) settle it at epoch 9; the switch is the next epoch
    assert t.switch_epoch == 10 and epochs[-1] == 8
    ranks = t.ranks()
    assert ranks["b"] == scaled_stable_rank(spectra(9)["b"], t.xi["b"])
    assert t.xi["a"] == pytest.approx(8 / stable_rank(spectra(0)["a"]))


def test_cuttlefish_relaxes_the_threshold_for_the_last_layers() -> None:
    t = CuttlefishTracker(window=1, lookback=1, threshold=0.1, min_epochs=1)
    t.observe({"a": np.array([1.0, 1.0]), "b": np.array([1.0, 0.0])}, 0)
    t.observe({"a": np.array([1.0, 1.0]), "b": np.array([1.0, 0.6])}, 1)  # b moves 0.36 <= 5 x 0.1
    assert t.converged() == {"a": True, "b": True} and t.switch_epoch == 2


def test_oialr_prunes_small_values_at_most_half_at_once() -> None:
    w = matrix([10, 8, 6, 0.5, 0.4, 0.3, 0.2, 0.1], 8, 8)
    s = svals(w)
    assert oialr_prune(s, n=8, cutoff=0.1) == 4          # 3 above 1.0, at most half (4) dropped
    assert oialr_prune(s[:4], n=8, cutoff=0.1) == 3      # then down to the 3
    assert oialr_prune(s[:3], n=1000, cutoff=0.99) == 3   # the 1 % floor (10) is capped by k
    assert oialr_prune([1.0, 1e-3], n=400, cutoff=0.5) == 2  # floor: 1 % of 400 = 4, capped by k = 2


def test_ab_training_keeps_values_above_the_cutoff_max_over_workers() -> None:
    w1, w2 = matrix([1.0, 0.5, 0.1, 0.05], 6, 6), matrix([1.0, 0.2, 0.16, 0.14], 6, 6, 3)
    assert ab_training_rank(svals(w1)) == 2 and ab_training_rank(svals(w2)) == 3
    assert ab_training_rank([svals(w1), svals(w2)]) == 3


def brute_force(spectra, shapes, limit, norm):
    names = list(spectra)
    best = None
    for ranks in itertools.product(*[range(1, len(spectra[n]) + 1) for n in names]):
        if sum(r * sum(shapes[n]) for r, n in zip(ranks, names)) > limit:
            continue
        err = max(layer_error(spectra[n], r, norm) for r, n in zip(ranks, names))
        if best is None or err < best - 1e-15:
            best = err
    return best


@pytest.mark.parametrize("norm", ["spectral", "frobenius"])
@pytest.mark.parametrize("seed", range(6))
def test_alds_minimises_the_largest_error_under_the_budget(norm: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shapes = {"a": (6, 5), "b": (4, 7), "c": (5, 5)}
    spectra = {n: svals(matrix(np.sort(rng.gamma(1.0, size=min(s)))[::-1], *s, seed)) for n, s in shapes.items()}
    limit = float(rng.integers(30, 120))
    ranks = alds_allocate(spectra, shapes, limit, norm)
    assert sum(r * sum(shapes[n]) for n, r in ranks.items()) <= limit
    worst = max(layer_error(spectra[n], r, norm) for n, r in ranks.items())
    assert worst == pytest.approx(brute_force(spectra, shapes, limit, norm))


def test_alds_known_case_and_bad_budget() -> None:
    spectra = {"a": np.array([1.0, 0.5, 0.1, 0.01]), "b": np.array([1.0, 0.9, 0.8, 0.7])}
    shapes = {"a": (4, 4), "b": (4, 4)}
    assert alds_allocate(spectra, shapes, 0.5) == {"a": 1, "b": 1}          # 16 of 32 parameters: rank 1 each
    assert alds_allocate(spectra, shapes, 40) == {"a": 1, "b": 4}
    with pytest.raises(ConfigError):
        alds_allocate(spectra, shapes, 10)


def test_alds_profile_is_what_traffic_reads(tmp_path) -> None:
    from simtrain.lowrank.train import train

    train("cnn-digits", "none", workers=2, epochs=1, batch=32, max_steps=2, out=tmp_path)
    ranks = profile_from_spectra(tmp_path / "spectra.npz", 0.3, layers=["conv2.weight", "conv3.weight",
                                                                         "fc1.weight"])
    spec = model_spec("cnn-digits")
    shapes = {t.name: t.matrix_shape for t in spec.tensors}
    assert sum(r * sum(shapes[n]) for n, r in ranks.items()) <= 0.3 * sum(
        shapes[n][0] * shapes[n][1] for n in ranks)
    path = write_profile(ranks, tmp_path / "alds.yaml")
    t = traffic(f"cuttlefish:switch_epoch=0,rank_profile={path}", spec, gpus=4, batch=32, samples_per_epoch=3000)
    rest = spec.num_params - sum(shapes[n][0] * shapes[n][1] for n in ranks)
    per_step = 4 * (rest + sum(r * sum(shapes[n]) for n, r in ranks.items()))
    assert t.payload_bytes_per_run_per_gpu == per_step * t.total_steps
    with pytest.raises(ConfigError):
        profile_from_spectra(tmp_path / "spectra.npz", 0.3, epoch=5)
