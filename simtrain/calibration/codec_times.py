"""Measured codec kernels: how long the compression schemes' encode and decode take, timed on the real codecs.

A scheme's compute in the training step (top-k's selection, QSGD's quantisation, BytePS's compress and
decompress) is priced from these times when the compute profile carries them, and analytically otherwise (the
scheme's FLOPs and a few passes over the gradient at the large-GEMM rate and the streaming bandwidth, see
:meth:`simtrain.compute.ComputeModel.codec_time`).

``simtrain calibrate`` on the CPU times :data:`MEASURED_CODECS` (the codecs of :mod:`simtrain.compression.codecs`,
numpy and numba) on float32 standard-normal gradients of :data:`SIZES` elements and stores them in the profile
under ``codecs``; a profile may carry a table measured elsewhere (a GPU implementation's timings) in the same
format::

    "codecs": {"topk": {"params": {"density": 0.01}, "elements": [65536, 1048576, 4194304],
                        "encode_s": [...], "decode_s": [...], "device": "cpu"}, ...}

Between measured sizes the time is interpolated linearly in log(elements)-log(seconds); above the largest it grows
in proportion to the elements (a streaming kernel); below the smallest it stays at the smallest's time (a floor:
the call's fixed cost).

Examples
--------
>>> times = measure_codec_times(["fp16"], sizes=(1024, 4096), repeats=1)
>>> times.seconds("fp16", 2048) > 0
True
>>> times.seconds("topk", 2048) is None          # not measured: the caller prices it analytically
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrain.errors import ConfigError

__all__ = ["MEASURED_CODECS", "SIZES", "CodecTimes", "measure_codec_times", "scheme_codec"]

#: The codecs a calibration times (the element-wise and selection codecs whose time depends on the element count
#: alone; PowerSGD and the low-rank factors depend on the matrix shape and stay analytical).
MEASURED_CODECS: tuple[str, ...] = ("fp16", "bf16", "topk", "mstopk", "randomk", "qsgd", "signsgd", "onebit",
                                    "dithering")
#: Gradient sizes (elements) timed per codec: a small layer, a large layer, a 16 MiB bucket.
SIZES: tuple[int, ...] = (1 << 16, 1 << 20, 1 << 22)
#: Parameters the codecs are timed with (their defaults otherwise): the sparse codecs at 1 % density.
TIMED_PARAMS: dict[str, dict[str, Any]] = {"topk": {"density": 0.01}, "mstopk": {"density": 0.01},
                                          "randomk": {"density": 0.01}}


@dataclass(frozen=True)
class _Entry:
    params: dict[str, Any]
    elements: tuple[int, ...]
    encode_s: tuple[float, ...]
    decode_s: tuple[float, ...]
    device: str


@dataclass(frozen=True)
class CodecTimes:
    """Measured encode and decode seconds per codec at a few gradient sizes."""

    entries: dict[str, _Entry] = field(default_factory=dict)

    def __contains__(self, codec: object) -> bool:
        return codec in self.entries

    @property
    def codecs(self) -> list[str]:
        """The measured codecs."""
        return sorted(self.entries)

    def seconds(self, codec: str, elements: float, part: str = "both") -> float | None:
        """Seconds to ``encode``, ``decode`` or ``both`` a gradient of ``elements`` values; ``None`` if ``codec``
        was not measured.

        Examples
        --------
        >>> t = CodecTimes.from_dict({"fp16": {"params": {}, "elements": [100, 10000], "encode_s": [1e-6, 1e-4],
        ...                                    "decode_s": [1e-6, 1e-4]}})
        >>> round(t.seconds("fp16", 1000, "encode") * 1e6, 6)       # log-log between the measured sizes
        10.0
        >>> round(t.seconds("fp16", 20000) * 1e6, 6), t.seconds("fp16", 1) * 1e6   # linear above, a floor below
        (400.0, 2.0)
        """
        entry = self.entries.get(codec)
        if entry is None:
            return None
        if part == "both":
            return _interpolate(entry.elements, entry.encode_s, elements) + \
                _interpolate(entry.elements, entry.decode_s, elements)
        if part not in ("encode", "decode"):
            raise ValueError("part must be encode, decode or both")
        return _interpolate(entry.elements, entry.encode_s if part == "encode" else entry.decode_s, elements)

    def to_dict(self) -> dict[str, Any]:
        """The profile's ``codecs`` section."""
        return {name: {"params": dict(e.params), "elements": list(e.elements), "encode_s": list(e.encode_s),
                       "decode_s": list(e.decode_s), "device": e.device} for name, e in sorted(self.entries.items())}

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None, key: str = "codecs") -> CodecTimes:
        """Read a profile's ``codecs`` section; a bad entry is a :class:`ConfigError` naming file and key.

        Examples
        --------
        >>> CodecTimes.from_dict({"topk": {"elements": [10], "encode_s": [0], "decode_s": [1e-6]}})
        Traceback (most recent call last):
        ...
        simtrain.errors.ConfigError: codecs.topk.encode_s: must be positive, finite seconds, one per size (got [0])
        """
        from simtrain.compression.codecs import CODECS

        if not isinstance(data, Mapping):
            raise ConfigError("must map codec names to measured times", source=source, key=key)
        entries = {}
        for name, value in data.items():
            where = f"{key}.{name}"
            if name not in CODECS:
                raise ConfigError("unknown codec", source=source, key=where, value=name, choices=list(CODECS))
            if not isinstance(value, Mapping):
                raise ConfigError("must be a mapping with elements, encode_s and decode_s", source=source, key=where)
            sizes = value.get("elements")
            integers = isinstance(sizes, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in sizes)
            if not integers or not sizes or sizes[0] < 1 or sizes != sorted(set(sizes)):
                raise ConfigError("must be increasing positive integers", source=source, key=f"{where}.elements",
                                  value=sizes)
            columns = []
            for part in ("encode_s", "decode_s"):
                times = value.get(part)
                if not isinstance(times, list) or len(times) != len(sizes) or any(
                        isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0
                        for t in times):
                    raise ConfigError("must be positive, finite seconds, one per size", source=source,
                                      key=f"{where}.{part}", value=times)
                columns.append(tuple(float(t) for t in times))
            params = value.get("params", {})
            if not isinstance(params, Mapping):
                raise ConfigError("must be a mapping", source=source, key=f"{where}.params", value=params)
            device = value.get("device", "cpu")
            if not isinstance(device, str) or not device:
                raise ConfigError("must be a non-empty string", source=source, key=f"{where}.device", value=device)
            entries[str(name)] = _Entry(dict(params), tuple(sizes), columns[0], columns[1], device)
        return cls(entries)


def _interpolate(sizes: Sequence[int], times: Sequence[float], elements: float) -> float:
    if elements <= sizes[0]:
        return times[0]                       # a floor: the call's fixed cost
    if elements >= sizes[-1]:
        return times[-1] * elements / sizes[-1]   # a streaming kernel: time in proportion to the elements
    for (n0, t0), (n1, t1) in zip(zip(sizes, times), zip(sizes[1:], times[1:])):
        if elements <= n1:
            w = math.log(elements / n0) / math.log(n1 / n0)
            return math.exp((1 - w) * math.log(t0) + w * math.log(t1))
    return times[-1]   # unreachable: elements < sizes[-1] lies in some interval


def _best(fn: Any, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_codec_times(codecs: Sequence[str] = MEASURED_CODECS, sizes: Sequence[int] = SIZES, repeats: int = 3,
                        seed: int = 0) -> CodecTimes:
    """Time the real codecs' encode and decode on float32 standard-normal gradients, best of ``repeats`` after
    one untimed call (numba's compilation, caches).

    Examples
    --------
    >>> t = measure_codec_times(["qsgd"], sizes=(512,), repeats=1)
    >>> t.codecs, t.to_dict()["qsgd"]["elements"]
    (['qsgd'], [512])
    """
    from simtrain.compression.codecs import make_codec

    rng = np.random.default_rng(seed)
    entries = {}
    for name in codecs:
        params = TIMED_PARAMS.get(name, {})
        codec = make_codec(name, **params)
        encode, decode = [], []
        for size in sizes:
            x = rng.standard_normal(int(size)).astype(np.float32)
            state = {"step": 1, "key": "bucket"}
            payload = codec.encode(x, state)
            codec.decode(payload, x.shape, state)
            encode.append(_best(lambda c=codec, d=x, s=state: c.encode(d, s), repeats))
            decode.append(_best(lambda c=codec, p=payload, d=x, s=state: c.decode(p, d.shape, s), repeats))
        entries[name] = _Entry(dict(params), tuple(int(s) for s in sizes),
                               tuple(max(t, 1e-9) for t in encode), tuple(max(t, 1e-9) for t in decode), "cpu")
    return CodecTimes(entries)


def scheme_codec(scheme: Any) -> tuple[str | None, int]:
    """The codec a scheme runs per step and how many times it encodes and decodes a gradient: ``(None, 0)`` for a
    scheme without a measured codec (its compute stays analytical).

    BytePS-Compress compresses and decompresses twice per step (the push to the server and the pull back).

    Examples
    --------
    >>> from simtrain.compression import make_scheme
    >>> scheme_codec(make_scheme("topk")), scheme_codec(make_scheme("byteps-compress:compressor=topk"))
    (('topk', 1), ('topk', 2))
    >>> scheme_codec(make_scheme("powersgd"))
    (None, 0)
    """
    name = getattr(scheme, "name", "")
    if name == "byteps-compress":
        return str(scheme.params["compressor"]), 2
    codec = getattr(scheme, "codec", "") or name
    return (codec, 1) if codec in MEASURED_CODECS else (None, 0)
