"""Numba kernels behind the codecs, each with a NumPy twin that the tests compare it against.

The codecs import this module lazily (importing numba costs about half a second), so only a process that
actually encodes with ``topk``, ``mstopk``, ``qsgd``, ``dithering`` or ``onebit`` pays for it. Kernels are
compiled with ``cache=True``; the first call in a fresh environment compiles them (a second or two).

Every kernel works on a flat, contiguous float32 array, runs on one core and is deterministic: the random numbers
of the stochastic rounding come in as an argument (drawn by the caller from a seeded NumPy ``Generator``), so the
kernel and its twin give identical results (``abs_stats`` up to the float64 summation order).

Examples
--------
>>> import numpy as np
>>> x = np.array([0.5, -1.0, 0.25], dtype=np.float32)
>>> u = np.zeros(3, dtype=np.float32)
>>> quantize(x, u, 2.0, 127, np.int8).tolist() == quantize_numpy(x, u, 2.0, 127, np.int8).tolist()
True
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = [
    "abs_stats",
    "abs_stats_numpy",
    "count_above",
    "count_above_numpy",
    "quantize",
    "quantize_numpy",
    "select_above",
    "select_above_numpy",
    "topk_indices",
    "topk_indices_numpy",
]

_LANES = 8  # independent accumulators: breaks the add dependency chain so the loop runs at memory speed


@numba.njit(cache=True, nogil=True)
def _abs_stats_kernel(x: Any) -> Any:  # pragma: no cover - compiled
    n = x.size
    s1 = np.zeros(_LANES, dtype=np.float64)
    s2 = np.zeros(_LANES, dtype=np.float64)
    mx = np.zeros(_LANES, dtype=np.float64)
    body = n - n % _LANES
    for i in range(0, body, _LANES):
        for j in range(_LANES):
            a = abs(np.float64(x[i + j]))
            s1[j] += a
            s2[j] += a * a
            if a > mx[j]:
                mx[j] = a
    for i in range(body, n):
        a = abs(np.float64(x[i]))
        s1[0] += a
        s2[0] += a * a
        if a > mx[0]:
            mx[0] = a
    return s1.sum(), s2.sum(), mx.max()


@numba.njit(cache=True, nogil=True)
def _topk_kernel(bits: Any, k: Any, out: Any) -> Any:  # pragma: no cover - compiled
    # Radix select on the magnitude bits (sign cleared): a float32's |x| orders like its bits as an integer.
    n = bits.size
    high = np.zeros(32768, dtype=np.int64)
    for i in range(n):
        high[(bits[i] & 0x7FFFFFFF) >> 16] += 1
    remaining = k
    top = 32767
    while high[top] < remaining:
        remaining -= high[top]
        top -= 1
    low = np.zeros(65536, dtype=np.int64)
    for i in range(n):
        key = bits[i] & 0x7FFFFFFF
        if (key >> 16) == top:
            low[key & 0xFFFF] += 1
    bottom = 65535
    while low[bottom] < remaining:
        remaining -= low[bottom]
        bottom -= 1
    threshold = (top << 16) | bottom
    j = 0
    for i in range(n):
        key = bits[i] & 0x7FFFFFFF
        if key > threshold:
            out[j] = i
            j += 1
        elif key == threshold and remaining > 0:
            out[j] = i
            j += 1
            remaining -= 1
    return j


@numba.njit(cache=True, nogil=True)
def _count_above_kernel(x: Any, threshold: Any) -> Any:  # pragma: no cover - compiled
    count = 0
    for i in range(x.size):
        if abs(x[i]) > threshold:
            count += 1
    return count


@numba.njit(cache=True, nogil=True)
def _select_above_kernel(x: Any, threshold: Any, idx: Any, vals: Any) -> Any:  # pragma: no cover - compiled
    j = 0
    limit = idx.size
    for i in range(x.size):
        a = abs(x[i])
        if a > threshold:
            if j < limit:
                idx[j] = i
                vals[j] = a
            j += 1
    return j


@numba.njit(cache=True, nogil=True)
def _quantize_kernel(x: Any, u: Any, scale: Any, levels: Any, out: Any) -> None:  # pragma: no cover - compiled
    top = np.float32(levels)
    one = np.float32(1.0)
    for i in range(x.size):
        v = abs(x[i]) * scale
        f = np.floor(v)
        if u[i] < v - f:
            f += one
        if f > top:
            f = top
        q = int(f)
        out[i] = -q if x[i] < 0 else q


def abs_stats(x: np.ndarray) -> tuple[float, float, float]:
    """Return ``(sum |x|, sum x², max |x|)`` of a float32 array, accumulated in float64 in one pass.

    Parameters
    ----------
    x : numpy.ndarray
        Finite float32 values (any shape; read as a flat array).

    Returns
    -------
    tuple of float
        The sum of absolute values, the sum of squares and the largest absolute value (0 for an empty array).

    Examples
    --------
    >>> import numpy as np
    >>> abs_stats(np.array([3.0, -4.0], dtype=np.float32))
    (7.0, 25.0, 4.0)
    """
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    s1, s2, mx = _abs_stats_kernel(flat)
    return float(s1), float(s2), float(mx)


def abs_stats_numpy(x: np.ndarray) -> tuple[float, float, float]:
    """NumPy twin of :func:`abs_stats` (same values up to the float64 summation order).

    Examples
    --------
    >>> import numpy as np
    >>> abs_stats_numpy(np.array([3.0, -4.0], dtype=np.float32))
    (7.0, 25.0, 4.0)
    """
    a = np.abs(np.asarray(x, dtype=np.float64).reshape(-1))
    if a.size == 0:
        return 0.0, 0.0, 0.0
    return float(a.sum()), float(np.dot(a, a)), float(a.max())


def topk_indices(x: np.ndarray, k: int) -> np.ndarray:
    """Ascending indices of the ``k`` elements of largest magnitude; ties at the k-th magnitude go to the lowest
    indices, NaN counts as larger than infinity.

    An exact radix select on the float32 bit patterns (three passes, no sort), immune to the slowdown
    ``np.argpartition`` shows on many equal values (e.g. a gradient that is mostly zeros).

    Parameters
    ----------
    x : numpy.ndarray
        Float32 values, read as a flat array.
    k : int
        How many to select, ``0 <= k <= x.size``.

    Examples
    --------
    >>> import numpy as np
    >>> topk_indices(np.array([1.0, -3.0, 0.0, 2.0, -2.0], dtype=np.float32), 3).tolist()
    [1, 3, 4]
    """
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if not 0 <= k <= flat.size:
        raise ValueError(f"k must be in 0..{flat.size}, got {k}")
    out = np.empty(k, dtype=np.int64)
    if k:
        _topk_kernel(flat.view(np.uint32), int(k), out)
    return out


def topk_indices_numpy(x: np.ndarray, k: int) -> np.ndarray:
    """NumPy twin of :func:`topk_indices` (a stable full sort: slow, for tests).

    Examples
    --------
    >>> import numpy as np
    >>> topk_indices_numpy(np.array([1.0, -3.0, 0.0, 2.0, -2.0], dtype=np.float32), 3).tolist()
    [1, 3, 4]
    """
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    keys = (flat.view(np.uint32) & np.uint32(0x7FFFFFFF)).astype(np.int64)
    return np.sort(np.argsort(-keys, kind="stable")[:k])


def count_above(x: np.ndarray, threshold: float) -> int:
    """Number of elements with ``|x| > threshold`` (compared in float32), without a temporary array.

    Examples
    --------
    >>> import numpy as np
    >>> count_above(np.array([0.5, -2.0, 1.0], dtype=np.float32), 0.75)
    2
    """
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    return int(_count_above_kernel(flat, np.float32(threshold)))


def count_above_numpy(x: np.ndarray, threshold: float) -> int:
    """NumPy twin of :func:`count_above`.

    Examples
    --------
    >>> import numpy as np
    >>> count_above_numpy(np.array([0.5, -2.0, 1.0], dtype=np.float32), 0.75)
    2
    """
    return int(np.count_nonzero(np.abs(np.asarray(x, dtype=np.float32)) > np.float32(threshold)))


def select_above(x: np.ndarray, threshold: float, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ascending, int64) and magnitudes (float32) of the elements with ``|x| > threshold``.

    Parameters
    ----------
    x : numpy.ndarray
        Float32 values, read as a flat array.
    threshold : float
        Compared in float32.
    count : int, optional
        The number of such elements when already known (from :func:`count_above`); saves a pass.

    Examples
    --------
    >>> import numpy as np
    >>> idx, vals = select_above(np.array([0.5, -2.0, 1.0], dtype=np.float32), 0.75)
    >>> idx.tolist(), vals.tolist()
    ([1, 2], [2.0, 1.0])
    """
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    t = np.float32(threshold)
    size = int(_count_above_kernel(flat, t)) if count is None else int(count)
    idx = np.empty(size, dtype=np.int64)
    vals = np.empty(size, dtype=np.float32)
    found = int(_select_above_kernel(flat, t, idx, vals))
    if found != size:
        raise ValueError(f"count {size} does not match the {found} elements above {threshold}")
    return idx, vals


def select_above_numpy(x: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """NumPy twin of :func:`select_above`.

    Examples
    --------
    >>> import numpy as np
    >>> idx, vals = select_above_numpy(np.array([0.5, -2.0, 1.0], dtype=np.float32), 0.75)
    >>> idx.tolist(), vals.tolist()
    ([1, 2], [2.0, 1.0])
    """
    a = np.abs(np.asarray(x, dtype=np.float32).reshape(-1))
    idx = np.flatnonzero(a > np.float32(threshold))
    return idx, a[idx]


def quantize(x: np.ndarray, u: np.ndarray, scale: float, levels: int, out_dtype: Any) -> np.ndarray:
    """Stochastically round ``scale·|x|`` to an integer level in ``0..levels`` and attach the sign of ``x``.

    The level is ``floor(v) + (u < v - floor(v))`` with ``v = float32(|x|·scale)``, which equals ``v`` in
    expectation when ``u`` is uniform on [0, 1); it is clipped to ``levels``. All arithmetic is float32.

    Parameters
    ----------
    x : numpy.ndarray
        Float32 values, read as a flat array.
    u : numpy.ndarray
        Float32 uniform random numbers on [0, 1), one per element of ``x``.
    scale : float
        Multiplier (cast to float32), e.g. ``levels / norm``.
    levels : int
        The largest level.
    out_dtype : numpy dtype
        Signed integer type of the result, wide enough for ``levels`` (int8 or int16).

    Returns
    -------
    numpy.ndarray
        Flat array of signed levels.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.5, -1.0, 0.0], dtype=np.float32)
    >>> quantize(x, np.full(3, 0.9, dtype=np.float32), 3.0, 3, np.int8).tolist()
    [1, -3, 0]
    """
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    rand = np.ascontiguousarray(u, dtype=np.float32).reshape(-1)
    if rand.size != flat.size:
        raise ValueError(f"need one random number per element: got {rand.size} for {flat.size}")
    out = np.empty(flat.size, dtype=out_dtype)
    _quantize_kernel(flat, rand, np.float32(scale), int(levels), out)
    return out


def quantize_numpy(x: np.ndarray, u: np.ndarray, scale: float, levels: int, out_dtype: Any) -> np.ndarray:
    """NumPy twin of :func:`quantize` (bit-identical results).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.5, -1.0, 0.0], dtype=np.float32)
    >>> quantize_numpy(x, np.full(3, 0.9, dtype=np.float32), 3.0, 3, np.int8).tolist()
    [1, -3, 0]
    """
    flat = np.asarray(x, dtype=np.float32).reshape(-1)
    rand = np.asarray(u, dtype=np.float32).reshape(-1)
    v = np.abs(flat) * np.float32(scale)
    f = np.floor(v)
    f += rand < (v - f)
    np.minimum(f, np.float32(levels), out=f)
    q = f.astype(out_dtype)
    np.negative(q, out=q, where=flat < 0)
    return q
