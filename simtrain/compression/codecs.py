"""Real gradient codecs: every compression scheme encodes a NumPy array into ``bytes`` and decodes it back.

The traffic model charges exactly :func:`payload_bytes` bytes for a tensor, and for every input
``len(make_codec(name, **params).encode(x)) == payload_bytes(name, x.shape, **params)``, so
:func:`payload_bytes` is the single source of truth for message sizes.

Conventions
-----------
* Input is read as float32 (C order); ``decode`` returns float32 in the input's shape (``lowrank-factor``
  returns the factor's gradient instead, see below). All multi-byte fields are little-endian. Only ``none``
  with fp32 values is lossless.
* ``value_dtype`` (``"fp32"``, ``"fp16"`` or ``"bf16"``) sets the width ``b`` (4 or 2 bytes) of the values a
  format carries. bf16 is the upper half of a float32 with round-to-nearest-even (NaN stays a quiet NaN).
* Counts of selected entries use ``k = max(1, ceil(ρ·n))`` (at most ``n``; 0 for an empty tensor), where the
  product is taken with ``ρ`` read as the decimal it prints as, so ``ρ = 0.07, n = 100`` selects exactly 7.
* Indices (``topk``, ``mstopk``) are uint32 for ``index_bytes=4`` (the default; needs ``n ≤ 2**32``) and uint64 for
  ``index_bytes=8``; they are sent sorted ascending, all indices first, then all values. ``topk`` is exact (a
  radix select); ties at the k-th magnitude go to the lowest indices, and NaN counts as the largest magnitude.
* ``state`` is a per-tensor dict the caller keeps between steps. Codecs read ``state["step"]`` and
  ``state["key"]`` (an int or str naming the tensor; default 0 for both) to seed a generator that every worker
  shares: ``randomk`` indices, ``block`` offsets, ``qsgd``/``dithering`` rounding and ``powersgd``'s first Q.
  Codecs never advance ``step``: the caller does, after decoding. ``powersgd`` stores its warm-start
  ``state["Q"]`` (n2 × r, as sent). ``qsgd`` and ``dithering`` expect finite input.
* ``lowrank-factor`` encodes the gradient of one factor of a low-rank weight from the dense gradient ``G``
  (m × n2): with ``W ≈ A·B`` (``state["A"]``: m × r, ``state["B"]``: r × n2), ``dA = G·Bᵀ`` and ``dB = Aᵀ·G``; with
  ``W = U·S·Vᵀ`` and only ``S`` trained (``state["U"]``: m × r, ``state["V"]``: n2 × r), ``dS = Uᵀ·G·V``. Missing
  factors are built from a truncated SVD of ``state["weight"]`` if given, else of ``G`` (``A = U√Σ``, ``B = √Σ·Vᵀ``;
  ``U``, ``V``, ``S = Σ``) and stored in ``state``. Its ``decode`` returns the factor's gradient in the factor's
  shape (m × r, r × n2 or r × r), not a dense tensor, so it cannot be wrapped in :class:`ErrorFeedback`.
* Every codec is deterministic given its parameters, the input and ``state``.

Formats (``n`` elements, 2-D view ``m × n2`` with ``m = shape[0]``)

================  ==================================  ======================================================
name              payload bytes                       content
================  ==================================  ======================================================
none              n·b                                 values
fp16 / bf16       2n                                  values
topk / mstopk     k·(index_bytes + b)                 indices, then values
randomk           k·b                                 values at shared random indices
qsgd              4 + n·w  (w = 1 if s ≤ 127 else 2)  fp32 L2 norm, signed levels
signsgd           ceil(n/8)                           sign bits (bit i of byte j is element 8j+i; 1 = x ≥ 0)
onebit            8·ceil(n/64) + 4                    sign bits in uint64 words, fp32 scale = mean |x|
dithering         4 + n·w  (w = 1 if s < 128 else 2)  fp32 max |x|, signed levels
powersgd          (m + n2)·r·b                        P (m × r), then Q (n2 × r)
block             ceil(fraction·n)·b                  a contiguous block at a shared random offset
lowrank-factor    A: m·r·b, B: r·n2·b, S: r·r·b       the gradient of one low-rank factor
================  ==================================  ======================================================

Examples
--------
>>> import numpy as np
>>> x = np.array([0.1, -3.0, 0.2, 2.0], dtype=np.float32)
>>> codec = make_codec("topk", density=0.5)
>>> payload = codec.encode(x)
>>> len(payload) == payload_bytes("topk", x.shape, density=0.5) == 16
True
>>> codec.decode(payload, x.shape).tolist()
[0.0, -3.0, 0.0, 2.0]
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.params import Param
from simtrain.registry import Registry, format_spec, make, param_error

__all__ = ["CODECS", "CODEC_TYPES", "Codec", "CodecType", "ErrorFeedback", "make_codec", "payload_bytes"]

CODECS: tuple[str, ...] = (
    "none",
    "fp16",
    "bf16",
    "topk",
    "mstopk",
    "randomk",
    "qsgd",
    "signsgd",
    "onebit",
    "dithering",
    "powersgd",
    "block",
    "lowrank-factor",
)

_VALUE_DTYPES = ("fp32", "fp16", "bf16")
_VALUE_WIDTH = {"fp32": 4, "fp16": 2, "bf16": 2}
_MAX_LEVELS = 32767  # int16

# --------------------------------------------------------------------------------------------- parameters

_VALUE_DTYPE = Param("value_dtype", "choice", "fp32", "width of the values sent", choices=_VALUE_DTYPES)
_SEED = Param("seed", "integer", 0, "seed of the randomness every worker shares")
_DENSITY = Param("density", "number", 0.01, "fraction ρ of the values sent", minimum=0, exclusive_minimum=True,
                 maximum=1)
_INDEX_BYTES = Param("index_bytes", "integer", 4, "bytes per index: 4 (uint32) or 8 (uint64)", minimum=4, maximum=8,
                     unit="B")
_LEVELS = Param("levels", "integer", 127, "quantisation levels s (int8 up to 127, else int16)", minimum=1,
                maximum=_MAX_LEVELS)
_RANK = Param("rank", "integer", 4, "rank r (at most min(m, n) of the 2-D view)", minimum=1)

# Parameters each codec accepts (declared once: type, bounds, default, help).
_PARAMETERS: dict[str, tuple[Param, ...]] = {
    "none": (_VALUE_DTYPE,),
    "fp16": (),
    "bf16": (),
    "topk": (_DENSITY, _VALUE_DTYPE, _INDEX_BYTES),
    "mstopk": (_DENSITY, Param("rounds", "integer", 20, "threshold bisection rounds", minimum=1,
                               maximum=1000), _VALUE_DTYPE, _INDEX_BYTES),
    "randomk": (_DENSITY, _SEED, _VALUE_DTYPE),
    "qsgd": (_LEVELS, _SEED),
    "signsgd": (),
    "onebit": (),
    "dithering": (_LEVELS, _SEED),
    "powersgd": (_RANK, _SEED, _VALUE_DTYPE),
    "block": (Param("fraction", "number", 0.01, "fraction of every tensor in the shared random block", minimum=0,
                    exclusive_minimum=True, maximum=1), _SEED, _VALUE_DTYPE),
    "lowrank-factor": (Param("factor", "choice", "A", "the factor whose gradient is sent", choices=("A", "B", "S")),
                       _RANK, _VALUE_DTYPE),
}


def _param_error(codec: str, param: str, message: str, value: Any, allowed: str | None = None) -> ConfigError:
    return param_error("codec", codec, param, message, value, allowed=allowed)


# --------------------------------------------------------------------------------------------- helpers


def _shape(shape: Sequence[int] | int) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    out = []
    for d in dims:
        if isinstance(d, bool | np.bool_) or not isinstance(d, int | np.integer) or d < 0:
            raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")
        out.append(int(d))
    return tuple(out)


def _count(fraction: float, n: int) -> int:
    """``max(1, ceil(fraction·n))`` capped at ``n``, with ``fraction`` read as the decimal it prints as."""
    if n == 0:
        return 0
    return min(n, max(1, math.ceil(Fraction(repr(float(fraction))) * n)))


def _view_2d(codec: str, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ConfigError(f"codec {codec!r} needs a tensor with at least 2 dimensions", key="shape", value=shape,
                          allowed="a shape (d0, d1, ...) viewed as d0 x prod(d1, ...)")
    return shape[0], math.prod(shape[1:])


def _check_rank(codec: str, rank: int, m: int, n2: int) -> None:
    if rank > min(m, n2):
        raise _param_error(codec, "rank", f"exceeds min(m, n) = {min(m, n2)} of the {m} x {n2} 2-D view", rank,
                           allowed=f"1 <= rank <= {min(m, n2)}")


def _seed_word(value: Any, what: str) -> int:
    if isinstance(value, bool | np.bool_):
        value = int(value)
    if isinstance(value, int | np.integer):
        return int(value) % 2**64
    if isinstance(value, str):
        return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little")
    raise TypeError(f"state[{what!r}] must be an int or a str, got {type(value).__name__}")


def _shared_rng(seed: int, state: dict[str, Any] | None) -> np.random.Generator:
    """The generator every worker builds from (seed, step, key): same draws everywhere, nothing sent."""
    st = state if state is not None else {}
    words = [_seed_word(seed, "seed"), _seed_word(st.get("step", 0), "step"), _seed_word(st.get("key", 0), "key")]
    return np.random.default_rng(words)


def _bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest, ties to even) and return the 16-bit patterns."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = u >> 16
    r &= 1
    r += 0x7FFF
    r += u  # wraps only for NaN patterns, fixed below
    r >>= 16
    bits = r.astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    if nan.any():
        bits[nan] = ((u[nan] >> 16) | 0x0040).astype(np.uint16)
    return bits


def _from_bf16_bits(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _pack_values(values: np.ndarray, value_dtype: str) -> bytes:
    if value_dtype == "fp32":
        return np.ascontiguousarray(values, dtype="<f4").tobytes()
    if value_dtype == "fp16":
        with np.errstate(over="ignore"):
            return np.ascontiguousarray(values, dtype="<f2").tobytes()
    return _bf16_bits(values).astype("<u2", copy=False).tobytes()


def _unpack_values(payload: bytes, offset: int, count: int, value_dtype: str) -> np.ndarray:
    if value_dtype == "fp32":
        return np.frombuffer(payload, dtype="<f4", count=count, offset=offset).astype(np.float32)
    if value_dtype == "fp16":
        return np.frombuffer(payload, dtype="<f2", count=count, offset=offset).astype(np.float32)
    return _from_bf16_bits(np.frombuffer(payload, dtype="<u2", count=count, offset=offset))


def _abs_stats(x: np.ndarray) -> tuple[float, float, float]:
    from simtrain.compression import _codec_kernels

    return _codec_kernels.abs_stats(x)


def _quantize(x: np.ndarray, u: np.ndarray, scale: float, levels: int, out_dtype: Any) -> np.ndarray:
    from simtrain.compression import _codec_kernels

    return _codec_kernels.quantize(x, u, scale, levels, out_dtype)


# --------------------------------------------------------------------------------------------- base classes


class Codec:
    """A real codec: ``encode`` turns an array into ``bytes``, ``decode`` turns them back.

    Build one with :func:`make_codec`. Subclasses implement ``_size``, ``_encode`` and ``_decode``.

    Attributes
    ----------
    name : str
        The codec's name (one of :data:`CODECS`).
    lossless : bool
        True when ``decode(encode(x))`` reproduces float32 ``x`` bit for bit (only ``none`` with fp32 values).
    params : dict
        The resolved parameters, defaults included.

    Examples
    --------
    >>> import numpy as np
    >>> codec = make_codec("none")
    >>> codec.lossless, codec.params
    (True, {'value_dtype': 'fp32'})
    >>> codec.decode(codec.encode(np.arange(3.0)), (3,)).tolist()
    [0.0, 1.0, 2.0]
    """

    lossless: bool = False

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.name = name
        self.params = params

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"make_codec({self.name!r}{', ' if args else ''}{args})"

    def get_params(self) -> dict[str, Any]:
        """The parameters, defaults included (``make_codec(name, **get_params())`` builds the same codec).

        Examples
        --------
        >>> make_codec("qsgd", levels=15).get_params()
        {'levels': 15, 'seed': 0}
        """
        return dict(self.params)

    def describe(self) -> str:
        """``name:key=value,...`` with the parameters that differ from their defaults.

        Examples
        --------
        >>> make_codec("topk", density=0.1).describe()
        'topk:density=0.1'
        """
        defaults = {p.name: p.default for p in _PARAMETERS.get(self.name, ())}
        return format_spec(self.name, {k: v for k, v in self.params.items() if v != defaults.get(k)})

    def payload_bytes(self, shape: Sequence[int]) -> int:
        """Exact size of the payload for a tensor of ``shape``.

        Raises :class:`~simtrain.errors.ConfigError` when the codec cannot encode that shape (e.g. a rank larger
        than the 2-D view allows).

        Examples
        --------
        >>> make_codec("onebit").payload_bytes((10, 10))
        20
        """
        shp = _shape(shape)
        return self._size(math.prod(shp), shp)

    def encode(self, x: np.ndarray, state: dict[str, Any] | None = None) -> bytes:
        """Encode ``x`` (read as float32) into a payload of exactly ``payload_bytes(x.shape)`` bytes.

        Parameters
        ----------
        x : numpy.ndarray
            The tensor.
        state : dict, optional
            Per-tensor state kept by the caller between steps (``step``, ``key``, warm-start data).

        Examples
        --------
        >>> import numpy as np
        >>> make_codec("signsgd").encode(np.array([1.0, -2.0, 3.0]))
        b'\\x05'
        """
        arr = np.ascontiguousarray(x, dtype=np.float32)
        shp = arr.shape
        self._size(arr.size, shp)  # validates the shape against the parameters
        return self._encode(arr.reshape(-1), shp, state)

    def decode(self, payload: bytes, shape: Sequence[int], state: dict[str, Any] | None = None) -> np.ndarray:
        """Decode a payload of a tensor of ``shape`` into a float32 array of that shape.

        Parameters
        ----------
        payload : bytes
            What :meth:`encode` returned.
        shape : tuple of int
            The shape of the encoded tensor.
        state : dict, optional
            The same state that was passed to :meth:`encode` (codecs with shared randomness need ``step``/``key``).

        Returns
        -------
        numpy.ndarray
            Float32 array of ``shape``; for ``lowrank-factor`` the factor's gradient in the factor's shape.

        Examples
        --------
        >>> import numpy as np
        >>> codec = make_codec("signsgd")
        >>> codec.decode(codec.encode(np.array([1.0, -2.0, 3.0])), (3,)).tolist()
        [1.0, -1.0, 1.0]
        """
        shp = _shape(shape)
        n = math.prod(shp)
        expected = self._size(n, shp)
        if len(payload) != expected:
            raise ValueError(f"{self.name} payload for shape {shp} must have {expected} bytes, got {len(payload)}")
        return self._decode(bytes(payload), n, shp, state).reshape(self._decoded_shape(shp))

    def _decoded_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        raise NotImplementedError

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        raise NotImplementedError

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        raise NotImplementedError


class _ValueCodec(Codec):
    """Codecs whose values have width ``value_dtype``."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.value_dtype: str = params.get("value_dtype", name if name in ("fp16", "bf16") else "fp32")
        self.width = _VALUE_WIDTH[self.value_dtype]


# --------------------------------------------------------------------------------------------- dense formats


class _Raw(_ValueCodec):
    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.lossless = name == "none" and self.value_dtype == "fp32"

    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        return n * self.width

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        return _pack_values(x, self.value_dtype)

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        return _unpack_values(payload, 0, n, self.value_dtype)


# --------------------------------------------------------------------------------------------- sparse formats


class _TopK(_ValueCodec):
    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.index_bytes: int = params["index_bytes"]
        if self.index_bytes not in (4, 8):
            raise _param_error(name, "index_bytes", "must be 4 or 8", self.index_bytes)
        self.index_dtype = "<u4" if self.index_bytes == 4 else "<u8"

    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        if self.index_bytes == 4 and n > 2**32:
            raise _param_error(self.name, "index_bytes", f"4-byte indices cannot address {n} elements",
                               self.index_bytes, allowed="index_bytes=8 for tensors over 2**32 elements")
        return _count(self.params["density"], n) * (self.index_bytes + self.width)

    def _select(self, x: np.ndarray, k: int) -> np.ndarray:
        """Ascending indices of the ``k`` entries of ``x`` largest in magnitude (``0 < k < n``).

        Exact; ties at the k-th magnitude go to the lowest indices. A radix select (numba) rather than
        ``np.argpartition``, which slows down twentyfold on tensors with many equal values (mostly zeros).
        """
        from simtrain.compression import _codec_kernels as kern

        return kern.topk_indices(x, k)

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        n = x.size
        k = _count(self.params["density"], n)
        idx = np.arange(n) if k == n else self._select(x, k)
        return idx.astype(self.index_dtype).tobytes() + _pack_values(x[idx], self.value_dtype)

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        k = _count(self.params["density"], n)
        idx = np.frombuffer(payload, dtype=self.index_dtype, count=k)
        out = np.zeros(n, dtype=np.float32)
        out[idx] = _unpack_values(payload, k * self.index_bytes, k, self.value_dtype)
        return out


class _MSTopK(_TopK):
    """MSTopK-style selection: bisection on a magnitude threshold, then trim or fill to exactly ``k``.

    The bracket starts at [mean |x|, max |x|]; each round counts the entries above its midpoint and keeps the
    half whose lower end still has at least ``k`` entries above it. The midpoint is the geometric mean of the ends
    (bisection of log |x|), so heavy-tailed gradients or a single outlier take a few rounds instead of twenty
    (arithmetic when the lower end is 0). Counting runs over the whole tensor (a numba pass, no temporary) until at
    most n/8 entries lie above the lower end; from then on only those candidates are kept and searched. The
    candidates above the final lower end are trimmed to the ``k`` largest; when even mean |x| has fewer than
    ``k`` entries above it, they are all taken and filled with the next largest (together: the exact top-k).
    No full sort; ties at the k-th magnitude go to the lowest indices.
    """

    def _select(self, x: np.ndarray, k: int) -> np.ndarray:
        from simtrain.compression import _codec_kernels as kern

        n = x.size
        sum_abs, _, max_abs = kern.abs_stats(x)
        lo, hi = np.float32(sum_abs / n), np.float32(max_abs)
        above = kern.count_above(x, lo)
        if not above >= k:  # fill: all entries above the mean, then the next largest of the rest
            return kern.topk_indices(x, k)
        idx: np.ndarray | None = None
        vals = np.zeros(0, dtype=np.float32)
        for _ in range(self.params["rounds"]):
            if above == k:
                break
            mid = np.float32(math.sqrt(float(lo) * float(hi)) if lo > 0 else (float(lo) + float(hi)) / 2)
            if not lo < mid < hi:
                break
            count = kern.count_above(x, mid) if idx is None else int(np.count_nonzero(vals > mid))
            if count < k:
                hi = mid
                continue
            lo, above = mid, count
            if idx is None:
                if above <= n // 8:
                    idx, vals = kern.select_above(x, lo, above)
            else:
                keep = vals > lo
                idx, vals = idx[keep], vals[keep]
        if idx is None:
            idx, vals = kern.select_above(x, lo, above)
        if idx.size > k:  # trim: keep the k largest candidates (idx stays ascending)
            return idx[kern.topk_indices(vals, k)]
        return idx


class _RandomK(_ValueCodec):
    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        return _count(self.params["density"], n) * self.width

    def _indices(self, n: int, state: dict[str, Any] | None) -> np.ndarray:
        k = _count(self.params["density"], n)
        if k == n:
            return np.arange(n)
        rng = _shared_rng(self.params["seed"], state)
        return np.sort(rng.choice(n, size=k, replace=False, shuffle=False))

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        return _pack_values(x[self._indices(x.size, state)], self.value_dtype)

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        idx = self._indices(n, state)
        out = np.zeros(n, dtype=np.float32)
        out[idx] = _unpack_values(payload, 0, idx.size, self.value_dtype)
        return out


class _Block(_ValueCodec):
    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        return _count(self.params["fraction"], n) * self.width

    def _offset(self, n: int, length: int, state: dict[str, Any] | None) -> int:
        return int(_shared_rng(self.params["seed"], state).integers(0, n - length + 1))

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        length = _count(self.params["fraction"], x.size)
        start = self._offset(x.size, length, state)
        return _pack_values(x[start : start + length], self.value_dtype)

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        length = _count(self.params["fraction"], n)
        start = self._offset(n, length, state)
        out = np.zeros(n, dtype=np.float32)
        out[start : start + length] = _unpack_values(payload, 0, length, self.value_dtype)
        return out


# --------------------------------------------------------------------------------------------- quantisers


class _Stochastic(Codec):
    """``qsgd`` (scale = L2 norm) and ``dithering`` (scale = max |x|): fp32 scale, then signed levels."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__(name, params)
        self.levels: int = params["levels"]
        self.level_dtype = "<i1" if self.levels <= 127 else "<i2"
        self.level_width = 1 if self.levels <= 127 else 2

    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        return 4 + n * self.level_width

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        _, sum_sq, max_abs = _abs_stats(x)
        scale = np.float32(math.sqrt(sum_sq) if self.name == "qsgd" else max_abs)
        head = np.array([scale], dtype="<f4").tobytes()
        if not scale > 0 or not math.isfinite(float(scale)):
            return head + bytes(x.size * self.level_width)
        u = _shared_rng(self.params["seed"], state).random(x.size, dtype=np.float32)
        q = _quantize(x, u, float(np.float32(self.levels) / scale), self.levels, self.level_dtype)
        return head + q.tobytes()

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        scale = np.frombuffer(payload, dtype="<f4", count=1)[0]
        q = np.frombuffer(payload, dtype=self.level_dtype, count=n, offset=4)
        return q.astype(np.float32) * np.float32(scale / np.float32(self.levels))


class _SignSGD(Codec):
    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        return -(-n // 8)

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        return np.packbits(x >= 0, bitorder="little").tobytes()

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), count=n, bitorder="little")
        return bits.astype(np.float32) * np.float32(2) - np.float32(1)


class _OneBit(Codec):
    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        return 8 * -(-n // 64) + 4

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        n = x.size
        words = 8 * -(-n // 64)
        sum_abs, _, _ = _abs_stats(x)
        bits = np.packbits(x >= 0, bitorder="little").tobytes()
        scale = np.array([sum_abs / n if n else 0.0], dtype="<f4").tobytes()
        return bits + bytes(words - len(bits)) + scale

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        words = 8 * -(-n // 64)
        scale = np.frombuffer(payload, dtype="<f4", count=1, offset=words)[0]
        bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8, count=words), count=n, bitorder="little")
        signs = bits.astype(np.float32) * np.float32(2) - np.float32(1)
        return signs * np.float32(scale)


# --------------------------------------------------------------------------------------------- low rank


class _PowerSGD(_ValueCodec):
    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        m, n2 = _view_2d(self.name, shape)
        rank = self.params["rank"]
        _check_rank(self.name, rank, m, n2)
        return (m + n2) * rank * self.width

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        m, n2 = _view_2d(self.name, shape)
        rank = self.params["rank"]
        matrix = x.reshape(m, n2).astype(np.float64)
        q = state.get("Q") if state is not None else None
        if q is None or np.shape(q) != (n2, rank):
            q = _shared_rng(self.params["seed"], state).standard_normal((n2, rank))
        p = matrix @ np.asarray(q, dtype=np.float64)
        p, _ = np.linalg.qr(p)
        q = matrix.T @ p
        p_bytes = _pack_values(p.astype(np.float32), self.value_dtype)
        q_bytes = _pack_values(q.astype(np.float32), self.value_dtype)
        if state is not None:
            state["Q"] = _unpack_values(q_bytes, 0, n2 * rank, self.value_dtype).reshape(n2, rank)
        return p_bytes + q_bytes

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        m, n2 = _view_2d(self.name, shape)
        rank = self.params["rank"]
        p = _unpack_values(payload, 0, m * rank, self.value_dtype).reshape(m, rank)
        q = _unpack_values(payload, m * rank * self.width, n2 * rank, self.value_dtype).reshape(n2, rank)
        return (p.astype(np.float64) @ q.T.astype(np.float64)).astype(np.float32)


class _LowRankFactor(_ValueCodec):
    """The gradient of one factor of a low-rank weight; ``decode`` returns that factor's gradient."""

    def _factor_shape(self, shape: tuple[int, ...]) -> tuple[int, int]:
        m, n2 = _view_2d(self.name, shape)
        rank = self.params["rank"]
        _check_rank(self.name, rank, m, n2)
        return {"A": (m, rank), "B": (rank, n2), "S": (rank, rank)}[self.params["factor"]]

    def _size(self, n: int, shape: tuple[int, ...]) -> int:
        rows, cols = self._factor_shape(shape)
        return rows * cols * self.width

    def _decoded_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return self._factor_shape(shape)

    def _factors(self, grad: np.ndarray, state: dict[str, Any] | None) -> dict[str, np.ndarray]:
        m, n2 = grad.shape
        rank = self.params["rank"]
        names = ("U", "V") if self.params["factor"] == "S" else ("A", "B")
        wanted = {"A": (m, rank), "B": (rank, n2), "U": (m, rank), "V": (n2, rank)}
        st = state if state is not None else {}
        if all(st.get(k) is not None for k in names):
            found = {k: np.asarray(st[k], dtype=np.float64) for k in names}
            for k, arr in found.items():
                if arr.shape != wanted[k]:
                    raise ValueError(f"state[{k!r}] has shape {arr.shape}, expected {wanted[k]} for rank {rank}")
            return found
        source = st.get("weight")
        base = grad if source is None else np.asarray(source, dtype=np.float64).reshape(m, n2)
        u, s, vt = np.linalg.svd(base, full_matrices=False)
        u, s, vt = u[:, :rank], s[:rank], vt[:rank]
        if names == ("A", "B"):
            root = np.sqrt(s)
            built = {"A": u * root, "B": root[:, None] * vt}
        else:
            built = {"U": u, "V": vt.T, "S": np.diag(s)}
        if state is not None:
            state.update(built)
        return built

    def _encode(self, x: np.ndarray, shape: tuple[int, ...], state: dict[str, Any] | None) -> bytes:
        m, n2 = _view_2d(self.name, shape)
        grad = x.reshape(m, n2).astype(np.float64)
        f = self._factors(grad, state)
        factor = self.params["factor"]
        if factor == "A":
            out = grad @ f["B"].T
        elif factor == "B":
            out = f["A"].T @ grad
        else:
            out = f["U"].T @ grad @ f["V"]
        return _pack_values(out.astype(np.float32), self.value_dtype)

    def _decode(self, payload: bytes, n: int, shape: tuple[int, ...], state: dict[str, Any] | None) -> np.ndarray:
        rows, cols = self._factor_shape(shape)
        return _unpack_values(payload, 0, rows * cols, self.value_dtype)


_CLASSES: dict[str, type[Codec]] = {
    "none": _Raw,
    "fp16": _Raw,
    "bf16": _Raw,
    "topk": _TopK,
    "mstopk": _MSTopK,
    "randomk": _RandomK,
    "qsgd": _Stochastic,
    "signsgd": _SignSGD,
    "onebit": _OneBit,
    "dithering": _Stochastic,
    "powersgd": _PowerSGD,
    "block": _Block,
    "lowrank-factor": _LowRankFactor,
}


# --------------------------------------------------------------------------------------------- public API


class CodecType:
    """A registered codec: its name, the class that implements it, and its parameters (declared once).

    Calling it with validated parameters builds the codec; use :func:`make_codec` to validate them.

    Examples
    --------
    >>> [p.name for p in CODEC_TYPES.get("topk").parameters]
    ['density', 'value_dtype', 'index_bytes']
    """

    def __init__(self, name: str, cls: type[Codec], parameters: tuple[Param, ...], summary: str = "") -> None:
        self.name = name
        self.cls = cls
        self.parameters = parameters
        self.summary = summary

    def __call__(self, **params: Any) -> Codec:
        return self.cls(self.name, params)

    def __repr__(self) -> str:
        return f"CodecType({self.name!r})"


#: The codecs, by name (entry-point group ``simtrain.codecs``); :func:`make_codec` builds one.
CODEC_TYPES: Registry[CodecType] = Registry("codec", "simtrain.codecs", "codec")
for _name in CODECS:
    CODEC_TYPES.register(_name, CodecType(_name, _CLASSES[_name], _PARAMETERS[_name]))


def make_codec(name: str | tuple[str, dict[str, Any]], *, key: str = "codec", **params: Any) -> Codec:
    """Build the codec ``name`` (or ``NAME:k=v,...``) with ``params`` (unset parameters take their defaults).

    Parameters
    ----------
    name : str or (str, dict)
        One of :data:`CODECS`, optionally with parameters (``"topk:density=0.1"``).
    key : str
        The role the codec was given as, for errors (``codec``).
    **params
        The codec's parameters (see the module docstring), validated by their declarations: an integral float
        is an integer, a string is not a number.

    Returns
    -------
    Codec

    Raises
    ------
    simtrain.errors.ConfigError
        Unknown codec (key ``codec``) or parameter, or a parameter of the wrong type or out of range (key
        ``codec NAME:PARAM``).

    Examples
    --------
    >>> make_codec("qsgd", levels=15)
    make_codec('qsgd', levels=15, seed=0)
    >>> make_codec("topk", density=0)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: codec topk:density: must be greater than 0 (got 0)
    """
    codec: Codec = make(CODEC_TYPES, name, key=key, **params)
    return codec


def payload_bytes(name: str, shape: Sequence[int], **params: Any) -> int:
    """Exact number of bytes ``make_codec(name, **params).encode(x)`` returns for any ``x`` of ``shape``.

    Parameters
    ----------
    name : str
        One of :data:`CODECS`.
    shape : tuple of int
        The tensor's shape (the 2-D view ``(d0, prod(d1, ...))`` matters for ``powersgd`` and ``lowrank-factor``).
    **params
        The codec's parameters.

    Returns
    -------
    int

    Examples
    --------
    >>> payload_bytes("topk", (1000,), density=0.01)
    80
    >>> payload_bytes("powersgd", (64, 3, 3, 3), rank=2, value_dtype="fp16")
    364
    """
    return make_codec(name, **params).payload_bytes(shape)


class ErrorFeedback:
    """Error feedback around a codec: each tensor's compression error is added back at its next step.

    ``encode(key, x)`` compresses ``x + residual[key]`` and stores
    ``residual[key] = (x + residual[key]) - decode(payload)``, so the sum of the decoded outputs over ``T`` steps
    differs from the sum of the inputs by exactly the last residual.

    Parameters
    ----------
    codec : Codec
        The wrapped codec; it must decode to the tensor's shape (``lowrank-factor`` does not).

    Examples
    --------
    >>> import numpy as np
    >>> ef = ErrorFeedback(make_codec("topk", density=0.5))
    >>> x = np.array([1.0, 0.75], dtype=np.float32)
    >>> ef.decode(ef.encode("w", x), x.shape).tolist()
    [1.0, 0.0]
    >>> ef.residual["w"].tolist()
    [0.0, 0.75]
    >>> ef.decode(ef.encode("w", x), x.shape).tolist()  # 0.75 + 0.75 now beats 1.0
    [0.0, 1.5]
    """

    def __init__(self, codec: Codec) -> None:
        if codec.name == "lowrank-factor":
            raise ConfigError("error feedback needs a codec that decodes to the tensor's shape", key="codec",
                              value=codec.name, allowed="any codec but lowrank-factor")
        self.codec = codec
        self.residual: dict[str, np.ndarray] = {}

    def encode(self, key: str, x: np.ndarray, state: dict[str, Any] | None = None) -> bytes:
        """Compress ``x + residual[key]`` and keep the new residual.

        Parameters
        ----------
        key : str
            The tensor's name (one residual per key).
        x : numpy.ndarray
            The tensor (read as float32).
        state : dict, optional
            Passed to the codec's ``encode`` and ``decode``.

        Examples
        --------
        >>> import numpy as np
        >>> ef = ErrorFeedback(make_codec("onebit"))
        >>> len(ef.encode("w", np.array([2.0, -1.0], dtype=np.float32)))
        12
        >>> ef.residual["w"].tolist()
        [0.5, 0.5]
        """
        arr = np.asarray(x, dtype=np.float32)
        previous = self.residual.get(key)
        if previous is not None and previous.shape != arr.shape:
            raise ValueError(f"tensor {key!r} changed shape from {previous.shape} to {arr.shape}")
        corrected = arr + previous if previous is not None else arr.copy()
        payload = self.codec.encode(corrected, state)
        self.residual[key] = corrected - self.codec.decode(payload, corrected.shape, state)
        return payload

    def decode(self, payload: bytes, shape: Sequence[int], state: dict[str, Any] | None = None) -> np.ndarray:
        """Decode with the wrapped codec.

        Examples
        --------
        >>> import numpy as np
        >>> ef = ErrorFeedback(make_codec("fp16"))
        >>> ef.decode(ef.encode("b", np.array([0.5])), (1,)).tolist()
        [0.5]
        """
        return self.codec.decode(payload, shape, state)
