"""A digits-like data set generated deterministically: 16 × 16 grey images of the ten digits, drawn as strokes.

scikit-learn's digits are not a dependency, so the real training of :mod:`simtrain.lowrank.train` draws its own.
Each digit is a few pen strokes (polylines and arcs) in a unit box. A sample applies a random affine map (rotation
±15°, scale 0.8–1.1 per axis, shear ±0.25, shift ±1.5 pixels), a random pen width (0.9–1.7 pixels) and a
random stroke wobble, renders the strokes by distance to sampled pen points, and adds Gaussian pixel noise
(σ = 0.15). Classes are balanced; the generator's seed is fixed, so every call returns the same arrays.

Examples
--------
>>> x_train, y_train, x_test, y_test = digits()
>>> x_train.shape, x_test.shape, sorted(set(y_test.tolist())) == list(range(10))
((3000, 16, 16), (1000, 16, 16), True)
>>> bool(abs(float(x_train.mean())) < 1e-6)          # standardised with the training set's statistics
True
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

__all__ = ["IMAGE", "TEST", "TRAIN", "digits", "render"]

IMAGE = 16
TRAIN = 3000
TEST = 1000
_SEED = 20230516


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 24) -> np.ndarray:
    t = np.radians(np.linspace(start, stop, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*points: tuple[float, float], n: int = 12) -> np.ndarray:
    out = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        t = np.linspace(0.0, 1.0, n)[:, None]
        out.append((1 - t) * np.array([x0, y0]) + t * np.array([x1, y1]))
    return np.concatenate(out)


# Pen strokes of each digit in a unit box (x right, y down); angles in degrees, clockwise from +x (y is down).
_STROKES: dict[int, list[np.ndarray]] = {
    0: [_arc(0.5, 0.5, 0.3, 0.42, 0, 360, 40)],
    1: [_line((0.35, 0.25), (0.55, 0.08), (0.55, 0.92))],
    2: [_arc(0.5, 0.32, 0.28, 0.24, 180, 380), _line((0.76, 0.42), (0.22, 0.92), (0.8, 0.92))],
    3: [_arc(0.48, 0.3, 0.26, 0.22, 200, 450), _arc(0.48, 0.71, 0.3, 0.22, 270, 520)],
    4: [_line((0.62, 0.92), (0.62, 0.08), (0.18, 0.65), (0.85, 0.65))],
    5: [_line((0.78, 0.08), (0.28, 0.08), (0.25, 0.45)), _arc(0.48, 0.66, 0.3, 0.26, 225, 500)],
    6: [_arc(0.62, 0.5, 0.38, 0.42, 230, 160), _arc(0.5, 0.7, 0.26, 0.22, 0, 360, 32)],
    7: [_line((0.2, 0.08), (0.8, 0.08), (0.38, 0.92))],
    8: [_arc(0.5, 0.28, 0.22, 0.2, 0, 360, 30), _arc(0.5, 0.7, 0.28, 0.22, 0, 360, 32)],
    9: [_arc(0.5, 0.32, 0.26, 0.22, 0, 360, 32), _line((0.76, 0.32), (0.7, 0.92))],
}


def render(digit: int, rng: np.random.Generator, size: int = IMAGE) -> np.ndarray:
    """One randomly distorted image of ``digit``, values in [0, 1] before noise.

    Examples
    --------
    >>> img = render(7, np.random.default_rng(0))
    >>> img.shape, bool(img.max() > 0.5)
    ((16, 16), True)
    """
    pts = np.concatenate(_STROKES[digit]) - 0.5
    pts = pts + rng.normal(0.0, 0.015, size=pts.shape)  # the hand's wobble
    angle = np.radians(rng.uniform(-15, 15))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(-0.25, 0.25)], [0.0, 1.0]])
    scale = np.diag(rng.uniform(0.8, 1.1, size=2))
    pts = pts @ (rot @ shear @ scale).T
    pts = (pts * (size - 4) + (size - 1) / 2 + rng.uniform(-1.5, 1.5, size=2))
    width = rng.uniform(0.9, 1.7)
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="xy"), axis=-1).reshape(-1, 2)
    dist = np.sqrt(((grid[:, None, :] - pts[None, :, :]) ** 2).sum(axis=-1)).min(axis=1)
    return np.clip(1.0 - (dist - width / 2), 0.0, 1.0).reshape(size, size)


@functools.lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The data set: ``(x_train, y_train, x_test, y_test)``, float32 images standardised, read-only.

    ``TRAIN`` training and ``TEST`` test images (balanced classes in a fixed shuffled order), standardised by the
    training set's overall mean and standard deviation.
    """
    rng = np.random.default_rng(_SEED)
    n = TRAIN + TEST
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = np.stack([render(int(d), rng) for d in labels])
    images = images + rng.normal(0.0, 0.15, size=images.shape)
    mean, std = images[:TRAIN].mean(), images[:TRAIN].std()
    images = ((images - mean) / std).astype(np.float32)
    out = (images[:TRAIN], labels[:TRAIN].astype(np.int64), images[TRAIN:], labels[TRAIN:].astype(np.int64))
    for arr in out:
        arr.setflags(write=False)
    return out
