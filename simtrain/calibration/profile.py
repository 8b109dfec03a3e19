"""Calibration profiles: the measured GEMM table, the fitted step parameters, the raw samples and provenance, as
JSON.

A profile is versioned (``format: simtrain-compute-profile``, ``version: 2``) and loaded strictly: a wrong format
or version, a missing key or a non-positive parameter is a one-line error naming the file and key. Version 1 (a
closed-form roofline per GEMM) is refused with a request to re-run ``simtrain calibrate``.

Examples
--------
>>> from simtrain.calibration.bench import Shape, measure
>>> from simtrain.calibration.gemm_table import measure_gemm_table
>>> table = measure_gemm_table("numpy", "cpu", "fp64", [1, 8, 64], batch_s=1e-5, repeats=1)
>>> samples = [measure("numpy", "cpu", Shape(k, m, 64, 8, b, "fp64"), repeats=3, warmup=1)
...            for k in ("dense", "lowrank", "oialr") for m in (48, 96) for b in (4, 16)]
>>> profile = Profile.from_samples(samples, {"fp64": table})
>>> profile.predict(Shape("lowrank", 96, 64, 8, 16, "fp64")) > 0
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simtrain.calibration.bench import _ITEMSIZE, Sample, Shape
from simtrain.calibration.codec_times import CodecTimes
from simtrain.calibration.fit import PARAMS, fit_step_params, relative_errors, step_time
from simtrain.calibration.gemm_table import GemmTable
from simtrain.errors import ConfigError
from simtrain.inputs import check_keys, load_json
from simtrain.params import REQUIRED, Param, read_params
from simtrain.units import MIN_BANDWIDTH_BPS

__all__ = ["FORMAT", "VERSION", "Profile", "load_profile"]

FORMAT = "simtrain-compute-profile"
VERSION = 2
#: A profile's top-level keys (``model`` is the cost model in words; it and ``codecs``, ``samples``,
#: ``provenance`` and ``fit_error`` are optional).
_KEYS = ("format", "version", "backend", "device", "model", "params", "gemm", "samples", "provenance", "fit_error",
         "codecs")
#: The fitted parameters of a dtype and their ranges: a fixed cost of at most an hour a step, and a rate no slower
#: than the bandwidth floor every other rate has (simtrain.units.MIN_BANDWIDTH_BPS), so no step time overflows.
_FITTED = (Param("step_overhead_s", "number", REQUIRED, "seconds of fixed cost per step", minimum=0.0,
                 maximum=3600.0),
           Param("elementwise_Bps", "number", REQUIRED, "bytes per second of element-wise kernels",
                 minimum=MIN_BANDWIDTH_BPS, maximum=1e18))
assert tuple(p.name for p in _FITTED) == PARAMS   # the fit's parameters, in its order

#: Which GEMM layout each pass of a layer's product uses (see :func:`simtrain.calibration.fit.step_gemms`).
LAYER_LAYOUTS = {"forward": "nt", "input-gradient": "nn", "weight-gradient": "tn"}


@dataclass
class Profile:
    """Per dtype: a measured GEMM table and the fitted step parameters (:mod:`simtrain.calibration.fit`), for one
    backend and device."""

    backend: str
    device: str
    params: dict[str, dict[str, float]]
    tables: dict[str, GemmTable]
    samples: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    fit_error: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = ""
    #: Measured encode/decode times of the compression codecs (``None``: not measured; schemes are then priced
    #: analytically). See :mod:`simtrain.calibration.codec_times`.
    codecs: CodecTimes | None = None

    @property
    def dtypes(self) -> list[str]:
        """Calibrated dtypes."""
        return sorted(self.params)

    @classmethod
    def from_samples(cls, samples: Sequence[Sample], tables: dict[str, GemmTable],
                     provenance: dict[str, Any] | None = None, codecs: CodecTimes | None = None) -> Profile:
        """Fit the step parameters of every dtype to measured samples, given each dtype's GEMM table (and, if
        measured, the codecs' times)."""
        if not samples:
            raise ConfigError("no samples to fit", key="samples")
        by_dtype: dict[str, list[Sample]] = {}
        for sample in samples:
            by_dtype.setdefault(sample.dtype, []).append(sample)
        params, errors = {}, {}
        for dtype, group in by_dtype.items():
            if dtype not in tables:
                raise ConfigError("no GEMM table measured for this dtype", key="tables", value=dtype)
            rows = [(s.kind, s.m, s.n, s.r, s.batch) for s in group]
            times = [s.median_s for s in group]
            fitted = fit_step_params(tables[dtype], rows, times, _ITEMSIZE[dtype])
            params[dtype] = fitted
            errs = np.abs(relative_errors(tables[dtype], fitted, rows, times, _ITEMSIZE[dtype]))
            errors[dtype] = {"median_abs_rel_error": float(np.median(errs)), "max_abs_rel_error": float(errs.max()),
                             "within_15_percent": float(np.mean(errs <= 0.15))}
        first = samples[0]
        return cls(first.backend, first.device, params, {d: tables[d] for d in params},
                   [s.to_dict() for s in samples], dict(provenance or {}), errors, codecs=codecs)

    # -- prediction ---------------------------------------------------------------------------------------------
    def _params(self, dtype: str) -> dict[str, float]:
        if dtype not in self.params:
            raise ConfigError(f"the profile {self.source or '(in memory)'} has no {dtype} calibration",
                              key="dtype", value=dtype, choices=self.dtypes)
        return self.params[dtype]

    def predict(self, shape: Shape) -> float:
        """Predicted seconds of one training step of ``shape``."""
        return step_time(self.tables[shape.dtype], self._params(shape.dtype), shape.kind, shape.m, shape.n, shape.r,
                         shape.batch, _ITEMSIZE[shape.dtype])

    def gemm_time(self, rows: int, cols: int, inner: int, dtype: str, layout: str = "nn") -> float:
        """Predicted seconds of one GEMM (rows × inner) · (inner × cols) in ``layout`` (``nn``, ``nt``, ``tn``)."""
        self._params(dtype)
        return self.tables[dtype].seconds(rows, cols, inner, layout)

    def memory_time(self, nbytes: float, dtype: str, kernels: int = 1) -> float:
        """Predicted seconds of element-wise work moving ``nbytes`` in ``kernels`` kernels (the fitted per-step
        cost for each, plus the bytes at the fitted element-wise bandwidth)."""
        params = self._params(dtype)
        return kernels * params["step_overhead_s"] + nbytes / params["elementwise_Bps"]

    # -- files -------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        codecs = {} if self.codecs is None else {"codecs": self.codecs.to_dict()}
        return {"format": FORMAT, "version": VERSION, "backend": self.backend, "device": self.device,
                "model": "step = sum over its GEMMs of 2*rows*cols*inner / rate, the rate interpolated log-linearly in "
                         "log2 of the dimensions from the measured gemm table of its layout (nn: a.b, nt: a.bT, "
                         "tn: aT.b; null: not measured, filled with the running maximum; a kernel's loop path has "
                         "its own tables under loop, chosen by its rule), + step_overhead_s + element-wise bytes / "
                         "elementwise_Bps",
                "params": self.params, "gemm": {d: t.to_dict() for d, t in self.tables.items()},
                "fit_error": self.fit_error, "provenance": self.provenance, **codecs, "samples": self.samples}

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the profile (an existing file is kept unless ``force``); atomically via a temporary file."""
        path = Path(path)
        if path.exists() and not force:
            raise ConfigError("refusing to overwrite an existing file", key="path", value=str(path),
                              allowed="a new path, or force=True")
        # the GEMM grids one row per line (readable, a quarter of the size); only they are compacted, so no string
        # elsewhere in the document is touched
        doc = self.to_dict()
        grids = json.dumps(doc.pop("gemm"), indent=1)
        grids = re.sub(r"\[\s+([-+0-9.eE,\snul]+?)\s+\]",
                       lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", grids)
        doc["gemm"] = "@GEMM@"
        text = json.dumps(doc, indent=1).replace('"@GEMM@"', grids)
        from simtrain.outputs import write_text

        return write_text(path, text + "\n", make_parents=True)


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
    data = load_json(path, source=source, unique_keys=True)   # a regular file, bounded (simtrain.inputs)
    if not isinstance(data, dict):
        raise ConfigError("a profile must be a JSON object", source=source)
    check_keys(data, _KEYS, source)
    if data.get("format") != FORMAT:
        raise ConfigError("not a simtrain compute profile", source=source, key="format", value=data.get("format"),
                          allowed=FORMAT)
    if data.get("version") != VERSION:
        raise ConfigError("unsupported profile version", source=source, key="version", value=data.get("version"),
                          allowed=f"{VERSION} (re-run simtrain calibrate)")
    for key in ("backend", "device", "params", "gemm"):
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
        checked[dtype] = {k: float(v) for k, v in read_params(_FITTED, values, source=source,
                                                                  path=f"params.{dtype}").items()}
    gemm = data["gemm"]
    if not isinstance(gemm, dict):
        raise ConfigError("must map dtypes to GEMM tables", source=source, key="gemm")
    tables = {}
    for dtype in gemm:
        if dtype not in checked:
            raise ConfigError("a GEMM table for a dtype without fitted parameters", source=source, key=f"gemm.{dtype}",
                              allowed=f"tables for the dtypes under params: {', '.join(checked)}")
    for dtype in checked:
        if dtype not in gemm:
            raise ConfigError("no GEMM table for a calibrated dtype", source=source, key=f"gemm.{dtype}")
        tables[dtype] = GemmTable.from_dict(gemm[dtype], source, f"gemm.{dtype}")
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
    codecs = CodecTimes.from_dict(data["codecs"], source) if data.get("codecs") is not None else None
    return Profile(data["backend"], data["device"], checked, tables, list(samples), dict(extra[0]), dict(extra[1]),
                   source, codecs)

