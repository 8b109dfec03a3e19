"""Same-SKU GPU speed spread: a synchronous step waits for its slowest GPU.

GPUs of one SKU do not run at one speed: under the power cap each settles at its own clock, so the same kernel takes
a few per cent longer on some than on others, persistently (in V100 SGEMM times the spread between GPUs is sixteen
times a GPU's run-to-run noise). A data-parallel step ends when the last gradient reduction does, and every GPU's
reduction waits for the slowest GPU's backward, so N GPUs run at the speed of the slowest of N: per-GPU throughput
falls with N even where communication is hidden. docs/compute-model.md ("Same-SKU spread") gives the sources.

A GPU's compute time is its typical GPU's times a factor drawn log-normally with mean 1 and coefficient of variation
``cv`` (the run's ``gpu_spread``, or ``compute_jitter`` for the DES's draws). :func:`expected_slowest` is the factor
both engines stretch every GPU's compute by when the spread is priced at its expectation; :func:`draw_factors` draws
one cluster's GPUs for the DES.

Examples
--------
>>> round(expected_slowest(0.02, 8), 4)          # 8 GPUs wait for the slowest: 2.8 % longer compute
1.0287
>>> expected_slowest(0.02, 1), expected_slowest(0.0, 4096)
(1.0, 1.0)
>>> draw_factors(0.02, 4, seed=0).round(3).tolist()
[1.002, 0.997, 1.013, 1.002]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DEFAULT_GPU_SPREAD", "draw_factors", "expected_slowest", "priced_spread", "stretched"]

#: Coefficient of variation of same-SKU GPUs' training speed: the per-GPU ResNet-50 iteration times of 213 A100s
#: (TACC Lonestar6, two faulty nodes left out) and the SGEMM times of 392 V100s (TACC Longhorn) published with
#: Sinha et al.'s variability study (hal-uw/blox-pal, aggregated_data/): 2.1 % and 2.0 % (docs/compute-model.md).
DEFAULT_GPU_SPREAD = 0.02

# the standard-normal grid of expected_slowest: the largest of MAX_GPUS (2^18) normals lies near 4.5, well inside;
# steps of 0.05 agree with steps of 0.0025 to 1e-12 (the integrand is smooth)
_Z = np.linspace(-8.0, 9.0, 341)
# log of the normal density and of its distribution function on the grid (math.erfc: scipy.special is a heavy
# import for one function, and Φ(-8) = 6e-16 is far from underflow)
_LOG_PDF = -0.5 * _Z * _Z - 0.5 * math.log(2 * math.pi)
_LOG_CDF = np.log([0.5 * math.erfc(-z / math.sqrt(2)) for z in _Z])


def priced_spread(gpu_spread: float | None, compute_jitter: float) -> float:
    """The spread a run prices at its expectation: ``gpu_spread``, or when unset :data:`DEFAULT_GPU_SPREAD`, none
    where ``compute_jitter`` draws each GPU's speed instead (the DES).

    Parameters
    ----------
    gpu_spread : float or None
        The run's ``gpu_spread`` (None: unset).
    compute_jitter : float
        The run's ``compute_jitter`` (0: no draws).

    Returns
    -------
    float
        The coefficient of variation to take at its expected slowest (:func:`expected_slowest`).

    Examples
    --------
    >>> priced_spread(None, 0.0), priced_spread(None, 0.05), priced_spread(0.0, 0.0)
    (0.02, 0.0, 0.0)
    """
    if gpu_spread is not None:
        return float(gpu_spread)
    return 0.0 if compute_jitter > 0 else DEFAULT_GPU_SPREAD


def stretched(slowest: float, factors: np.ndarray) -> np.ndarray:
    """Each GPU's compute factor: the expected slowest of the spread (``slowest``) for every GPU, a straggler's own
    factor (against the typical GPU, as a perturbations file gives it) where it is slower still.

    Parameters
    ----------
    slowest : float
        The spread's expected slowest (:func:`expected_slowest`; 1: none priced).
    factors : numpy.ndarray
        Each GPU's given or drawn factor (stragglers, ``compute_jitter``), 1 where none.

    Returns
    -------
    numpy.ndarray
        Each GPU's factor, the larger of the two where a spread is priced, else ``factors`` as they are.

    Examples
    --------
    >>> stretched(1.05, np.array([1.0, 1.2, 0.9])).tolist()
    [1.05, 1.2, 1.05]
    >>> stretched(1.0, np.array([0.98, 1.03])).tolist()    # no spread priced: the factors as drawn or given
    [0.98, 1.03]
    """
    return np.maximum(slowest, factors) if slowest > 1 else factors


def _sigma(cv: float) -> float:
    """The log-normal's sigma for a mean-1 factor of coefficient of variation ``cv``."""
    return math.sqrt(math.log1p(cv * cv))


def expected_slowest(cv: float, n: int) -> float:
    """Expected factor of the slowest of ``n`` GPUs whose speed factors are log-normal, mean 1, spread ``cv``.

    ``E[max X_i] = ∫ x · d(F(x)^n)``, integrated over the normal variable z of ``X = exp(σz − σ²/2)`` on a fixed
    grid (``F(x)^n`` in logs, so that ``n`` up to simtrain's GPU bound stays exact): a pure function of its two
    numbers, about 30 µs.

    Parameters
    ----------
    cv : float
        Coefficient of variation of a GPU's compute-time factor, 0 to 1.
    n : int
        GPUs that wait for each other every step.

    Returns
    -------
    float
        ``E[max of n factors]``: 1 for one GPU or no spread, growing as ``1 + cv · E[max of n standard normals]``
        for a small spread.

    Examples
    --------
    >>> [round(expected_slowest(0.02, n), 3) for n in (2, 8, 64, 1024)]
    [1.011, 1.029, 1.048, 1.067]
    """
    if cv <= 0 or n <= 1:
        return 1.0
    sigma = _sigma(cv)
    # the density of the largest of n standard normals, n φ(z) Φ(z)^(n-1), in logs; on the uniform grid the
    # trapezoid rule's step cancels in the ratio
    weights = np.exp(math.log(n) + _LOG_PDF + (n - 1) * _LOG_CDF)
    values = weights * np.exp(sigma * _Z - 0.5 * sigma * sigma)
    return float(_trapezoid(values) / _trapezoid(weights))


def _trapezoid(y: np.ndarray) -> float:
    """The trapezoid rule's sum on a uniform grid, in units of the step."""
    return float(y.sum() - 0.5 * (y[0] + y[-1]))


def draw_factors(cv: float, n: int, seed: int) -> np.ndarray:
    """Each of ``n`` GPUs' compute-time factor, drawn log-normally (mean 1, spread ``cv``) from ``seed``.

    Parameters
    ----------
    cv : float
        Coefficient of variation, above 0.
    n : int
        GPUs.
    seed : int
        Seed of the draw (``numpy.random.default_rng``).

    Returns
    -------
    numpy.ndarray
        ``n`` factors: a GPU's compute time over the typical GPU's.

    Examples
    --------
    >>> f = draw_factors(0.1, 100_000, seed=1)
    >>> round(float(f.mean()), 2), round(float(f.std() / f.mean()), 2)
    (1.0, 0.1)
    """
    sigma = _sigma(cv)
    return np.random.default_rng(seed).lognormal(-sigma * sigma / 2, sigma, n)
