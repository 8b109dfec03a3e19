"""Calibration profiles: fitted compute-model parameters, the raw samples they came from, and provenance, as JSON.

A profile is versioned (``format: simtrain-compute-profile``, ``version: 1``) and loaded strictly: a wrong format
or version, a missing key or a non-positive parameter is a one-line error naming the file and key.

Examples
--------
>>> from simtrain.calibration.bench import Shape, measure
>>> samples = [measure("numpy", "cpu", Shape(k, m, 64, 8, b, "fp64"), repeats=3, warmup=1)
...            for k in ("dense", "lowrank", "oialr") for m in (48, 96) for b in (4, 16)]
>>> profile = Profile.from_samples(samples, bandwidth_Bps={"fp64": 1e10})
>>> profile.predict(Shape("lowrank", 96, 64, 8, 16, "fp64")) > 0
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simtrain.calibration.bench import _ITEMSIZE, Sample, Shape
from simtrain.calibration.fit import PARAMS, fit_params, gemm_time, relative_errors, step_time
from simtrain.errors import ConfigError

__all__ = ["FORMAT", "VERSION", "Profile", "load_profile"]

FORMAT = "simtrain-compute-profile"
VERSION = 1


@dataclass
class Profile:
    """Fitted parameters per dtype (see :mod:`simtrain.calibration.fit`) for one backend and device."""

    backend: str
    device: str
    params: dict[str, dict[str, float]]
    skinny: int = 32
    loop_work: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    fit_error: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = ""

    @property
    def dtypes(self) -> list[str]:
        """Calibrated dtypes."""
        return sorted(self.params)

    @classmethod
    def from_samples(cls, samples: Sequence[Sample], bandwidth_Bps: dict[str, float] | None = None,
                     provenance: dict[str, Any] | None = None) -> Profile:
        """Fit one parameter set per dtype to measured samples."""
        if not samples:
            raise ConfigError("no samples to fit", key="calibrate")
        skinny, loop_work = _loop_rule(samples[0].backend)
        by_dtype: dict[str, list[Sample]] = {}
        for sample in samples:
            by_dtype.setdefault(sample.dtype, []).append(sample)
        params, errors = {}, {}
        for dtype, group in by_dtype.items():
            rows = [(s.kind, s.m, s.n, s.r, s.batch) for s in group]
            times = [s.median_s for s in group]
            fitted = fit_params(rows, times, _ITEMSIZE[dtype], (bandwidth_Bps or {}).get(dtype), skinny, loop_work)
            params[dtype] = fitted
            errs = np.abs(relative_errors(fitted, rows, times, _ITEMSIZE[dtype], skinny, loop_work))
            errors[dtype] = {"median_abs_rel_error": float(np.median(errs)), "max_abs_rel_error": float(errs.max()),
                             "within_15_percent": float(np.mean(errs <= 0.15))}
        first = samples[0]
        return cls(first.backend, first.device, params, skinny, loop_work, [s.to_dict() for s in samples],
                   dict(provenance or {}), errors)

    # -- prediction ---------------------------------------------------------------------------------------------
    def _params(self, dtype: str) -> dict[str, float]:
        if dtype not in self.params:
            raise ConfigError(f"the profile {self.source or '(in memory)'} has no {dtype} calibration",
                              key="--dtype", value=dtype, choices=self.dtypes)
        return self.params[dtype]

    def predict(self, shape: Shape) -> float:
        """Predicted seconds of one training step of ``shape``."""
        return step_time(self._params(shape.dtype), shape.kind, shape.m, shape.n, shape.r, shape.batch,
                         _ITEMSIZE[shape.dtype], self.skinny, self.loop_work)

    def gemm_time(self, rows: int, cols: int, inner: int, dtype: str, itemsize: int) -> float:
        """Predicted seconds of one GEMM (rows × inner) · (inner × cols)."""
        return gemm_time(self._params(dtype), rows, cols, inner, itemsize)

    def memory_time(self, nbytes: float, dtype: str) -> float:
        """Predicted seconds of a memory-bound kernel moving ``nbytes`` (one kernel launch)."""
        params = self._params(dtype)
        return params["call_overhead_s"] + nbytes / params["elementwise_Bps"]

    # -- files -------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return {"format": FORMAT, "version": VERSION, "backend": self.backend, "device": self.device,
                "model": "per GEMM: call_overhead_s + max(F / (peak_flops * d/(d+half_dim)), Q / bandwidth_Bps), or "
                         "F / loop_flops for products the kernel loops over (skinny, loop_work); element-wise work: "
                         "Q / elementwise_Bps",
                "skinny": self.skinny, "loop_work": self.loop_work,
                "params": self.params, "fit_error": self.fit_error, "provenance": self.provenance,
                "samples": self.samples}

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the profile (an existing file is kept unless ``force``); atomically via a temporary file."""
        path = Path(path)
        if path.exists() and not force:
            raise ConfigError("refusing to overwrite an existing file", source="<cli>", key="--out", value=str(path),
                              allowed="a new path, or add --force")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        temporary.replace(path)
        return path


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile; every problem is a ConfigError naming the file and key.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    ...     _ = f.write('{"format": "simtrain-compute-profile", "version": 0}')
    >>> try:
    ...     load_profile(f.name)
    ... except Exception as e:
    ...     print(type(e).__name__, "version" in str(e))
    ConfigError True
    >>> os.unlink(f.name)
    """
    path = Path(path)
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", source=source, key="--profile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", source=source) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON: {exc.msg}", source=source, key=f"line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise ConfigError("a profile must be a JSON object", source=source)
    if data.get("format") != FORMAT:
        raise ConfigError("not a simtrain compute profile", source=source, key="format", value=data.get("format"),
                          allowed=FORMAT)
    if data.get("version") != VERSION:
        raise ConfigError("unsupported profile version", source=source, key="version", value=data.get("version"),
                          allowed=f"{VERSION} (re-run simtrain calibrate)")
    for key in ("backend", "device", "params"):
        if key not in data:
            raise ConfigError("missing required key", source=source, key=key)
    params = data["params"]
    if not isinstance(params, dict) or not params:
        raise ConfigError("must map dtypes to fitted parameters", source=source, key="params")
    checked: dict[str, dict[str, float]] = {}
    for dtype, values in params.items():
        if dtype not in _ITEMSIZE:
            raise ConfigError("unknown dtype", source=source, key=f"params.{dtype}", value=dtype, choices=_ITEMSIZE)
        if not isinstance(values, dict):
            raise ConfigError("must be a mapping of parameters", source=source, key=f"params.{dtype}")
        checked[dtype] = {}
        for name in PARAMS:
            value = values.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0 or (value == 0 and name != "half_dim"):
                raise ConfigError("must be a positive number", source=source, key=f"params.{dtype}.{name}",
                                  value=value)
            checked[dtype][name] = float(value)
    rule = []
    for key, default in (("skinny", 32), ("loop_work", 0)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError("must be a non-negative integer", source=source, key=key, value=value)
        rule.append(value)
    for key in ("backend", "device"):
        if not isinstance(data[key], str) or not data[key]:
            raise ConfigError("must be a non-empty string", source=source, key=key, value=data[key])
    samples = data.get("samples", [])
    if not isinstance(samples, list):
        raise ConfigError("must be a list of measured samples", source=source, key="samples",
                          value=type(samples).__name__)
    extra = []
    for key in ("provenance", "fit_error"):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError("must be a JSON object", source=source, key=key, value=type(value).__name__)
        extra.append(value)
    return Profile(data["backend"], data["device"], checked, rule[0], rule[1], list(samples), dict(extra[0]),
                   dict(extra[1]), source)


def _loop_rule(backend: str) -> tuple[int, int]:
    """The (skinny, loop_work) rule of a backend's kernels: only numba runs small products as loops."""
    if backend == "numba":
        from simtrain.calibration import _kernels_numba

        return _kernels_numba.SKINNY, _kernels_numba.LOOP_WORK
    return 32, 0
