"""Make a compute profile, and check one against fresh measurements: what ``simtrain calibrate`` runs.

:func:`calibrate_profile` measures a GEMM table per dtype and whole training steps on the fit shapes, and fits a
:class:`~simtrain.calibration.profile.Profile`. :func:`check_profile` measures held-out shapes (none of them in the
fit) and compares them with the profile's predictions, as a :class:`ProfileCheck`. Both pin every BLAS library
(and torch) to ``threads`` threads while they measure (:func:`~simtrain.calibration.bench.blas_threads`).

A calibration takes minutes; given a ``checkpoint`` file it saves every GEMM table and every step shape as soon as
it is measured (:class:`MeasurementLog`), so an interrupted run resumes where it stopped when run again with the
same arguments on the same machine.

Examples
--------
>>> check = check_profile("cpu-numba", shapes=[Shape("dense", 128, 64, 0, 8, "fp32")], repeats=3)
>>> len(check.rows), check.threads
(1, 1)
>>> sorted(check.rows[0])
['measured_s', 'predicted_s', 'rel_error', 'shape']
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from simtrain.calibration import bench, gemm_table
from simtrain.calibration.bench import Shape
from simtrain.calibration.codec_times import SIZES, measure_codec_times
from simtrain.calibration.profile import Profile, load_profile
from simtrain.errors import ConfigError, Interrupted, OutputError
from simtrain.inputs import first_repeat
from simtrain.limits import MAX_REPEATS, MAX_THREADS, check_count

#: Gradient sizes the codecs are timed at: the full set, or the two smaller ones for a quick profile.
CODEC_SIZES = {False: SIZES, True: SIZES[:2]}

__all__ = ["BACKEND_DTYPES", "DEVICES", "MeasurementLog", "ProfileCheck", "calibrate_profile", "check_backend",
           "check_profile"]

#: The dtypes each backend runs.
BACKEND_DTYPES: dict[str, tuple[str, ...]] = {"numpy": ("fp32", "fp64"), "numba": ("fp32", "fp64"),
                                              "torch": ("fp32", "fp64", "fp16", "bf16")}
DEVICES = ("cpu", "cuda")
#: A prediction within this relative error of the measurement counts as accurate.
TOLERANCE = 0.15

Progress = Callable[[int, int, str], None]


def check_backend(backend: str, device: str, dtypes: Sequence[str] | str, *, source: str | None = None,
                  keys: tuple[str, str, str] = ("backend", "device", "dtypes")) -> list[str]:
    """Check that ``backend`` runs on ``device`` in every dtype (and that torch and a GPU are there when asked for);
    returns the dtypes as a list. A comma-separated string of dtypes is split.

    Errors name ``keys`` (the parameters, or a file's keys with ``source``).

    Examples
    --------
    >>> check_backend("numba", "cpu", "fp32,fp64")
    ['fp32', 'fp64']
    >>> check_backend("numba", "cpu", ["fp16"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: dtypes: the numba backend does not run: 'fp16' ...; allowed: fp32, fp64
    """
    backend_key, device_key, dtypes_key = keys
    if backend not in BACKEND_DTYPES:
        raise ConfigError("unknown backend", source=source, key=backend_key, value=backend, choices=BACKEND_DTYPES)
    if device not in DEVICES:
        raise ConfigError("unknown device", source=source, key=device_key, value=device, choices=DEVICES)
    names = [d.strip() for d in dtypes.split(",")] if isinstance(dtypes, str) else [str(d).strip() for d in dtypes]
    names = [d for d in names if d]
    if not names:
        raise ConfigError("name at least one dtype", source=source, key=dtypes_key, value=dtypes,
                          choices=BACKEND_DTYPES[backend])
    for dtype in names:
        if dtype not in BACKEND_DTYPES[backend]:
            raise ConfigError(f"the {backend} backend does not run", source=source, key=dtypes_key, value=dtype,
                              choices=BACKEND_DTYPES[backend])
    twice = first_repeat(names)
    if twice is not None:   # a typo: each dtype is measured once, so a repeat would be silently dropped or re-timed
        raise ConfigError("names a dtype twice", source=source, key=dtypes_key, value=twice,
                          allowed="each dtype once")
    if backend != "torch" and device != "cpu":
        raise ConfigError(f"the {backend} backend runs on the cpu", source=source, key=device_key, value=device,
                          choices=["cpu"])
    if backend == "torch":
        from simtrain.calibration.kernels_torch import cuda_available, torch_available

        if not torch_available():
            raise ConfigError("the torch backend needs torch", source=source, key=backend_key, value="torch",
                              allowed="pip install 'simtrain[torch]'")
        if device == "cuda" and not cuda_available():
            raise ConfigError("no CUDA GPU is visible", source=source, key=device_key, value="cuda", choices=["cpu"])
    return names


def _positive(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError("must be a positive integer", key=key, value=value)
    return value


#: The GEMM table a calibration measures: products up to this many FLOPs, each timed in batches of this length.
_TABLE_MAX_FLOPS = 2.0**29
_TABLE_BATCH_S = {True: 2e-4, False: 3e-4}


def _shape_progress(progress: Progress | None) -> Callable[[int, int, Shape], None] | None:
    if progress is None:
        return None

    def report(done: int, total: int, shape: Shape) -> None:
        progress(done, total, shape.describe())

    return report


#: Timed products of an unfinished GEMM table between two saves of the measurement log.
PRODUCTS_PER_SAVE = 200


class MeasurementLog:
    """What a calibration has measured so far, on disk: every GEMM table and every step shape is saved (atomically,
    :mod:`simtrain.outputs`) as soon as it is measured, so an interrupted calibration resumes from them.

    A log belongs to one ``identity`` (the calibration's arguments and the machine's provenance, less the date);
    a file of another identity, or one that cannot be read, is ignored and replaced.

    Parameters
    ----------
    path : path
        The log file.
    identity : dict
        JSON-ready description of the calibration.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "p.json.partial")
    >>> log = MeasurementLog(path, {"backend": "numpy"})
    >>> sample = bench.measure("numpy", "cpu", Shape("dense", 16, 16, 0, 2, "fp64"), repeats=2, warmup=1)
    >>> log.add_sample(0, sample)
    >>> MeasurementLog(path, {"backend": "numpy"}).sample(0, sample.shape) == sample
    True
    >>> MeasurementLog(path, {"backend": "numba"}).count
    0
    """

    def __init__(self, path: str | Path, identity: dict[str, Any]) -> None:
        self.path = Path(path)
        self.identity = json.loads(json.dumps(identity, default=str))   # as it reads back from the file
        self.tables: dict[str, dict[str, Any]] = {}
        self.samples: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, float]] = {}   # per dtype: products of an unfinished table, timed so far
        self._unsaved = 0
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if (isinstance(doc, dict) and doc.get("identity") == self.identity and isinstance(doc.get("tables"), dict)
                and isinstance(doc.get("samples"), dict)):
            self.tables, self.samples = doc["tables"], doc["samples"]
            products = doc.get("products")
            if isinstance(products, dict):
                self.products = {d: {k: float(v) for k, v in kv.items() if isinstance(v, (int, float)) and v > 0}
                                 for d, kv in products.items() if isinstance(kv, dict)}

    @property
    def count(self) -> int:
        """Measurements on disk (GEMM tables, products of an unfinished table, and step shapes)."""
        return len(self.tables) + sum(len(p) for p in self.products.values()) + len(self.samples)

    def _save(self) -> None:
        from simtrain.outputs import write_text

        write_text(self.path, json.dumps({"identity": self.identity, "tables": self.tables,
                                          "samples": self.samples, "products": self.products}), make_parents=True)
        self._unsaved = 0

    def add_product(self, dtype: str, key: str, seconds: float) -> None:
        """Record one timed product of an unfinished table; saved every :data:`PRODUCTS_PER_SAVE` products (and with
        the next table or sample), so an interruption loses at most that many."""
        self.products.setdefault(dtype, {})[key] = float(seconds)
        self._unsaved += 1
        if self._unsaved >= PRODUCTS_PER_SAVE:
            self._save()

    def flush(self) -> None:
        """Save what is not saved yet (an interrupted calibration keeps every product it timed)."""
        if self._unsaved:
            self._save()

    def table(self, dtype: str) -> gemm_table.GemmTable | None:
        """The saved GEMM table of ``dtype``, or ``None``."""
        doc = self.tables.get(dtype)
        if not isinstance(doc, dict):
            return None
        try:
            def grids(data: dict[str, Any]) -> dict[str, Any]:
                return {layout: np.asarray(rate, dtype=np.float64) for layout, rate in data.items()}
            loop = doc.get("loop_rates")
            rule = doc.get("loop_rule")
            return gemm_table.GemmTable(tuple(int(d) for d in doc["dims"]), grids(doc["rates"]),
                                        grids(loop) if loop is not None else None,
                                        (int(rule[0]), int(rule[1])) if rule is not None else None)
        except (KeyError, TypeError, ValueError, IndexError):
            return None

    def add_table(self, dtype: str, table: gemm_table.GemmTable) -> None:
        """Save the GEMM table of ``dtype`` (exact rates: a resumed fit equals an uninterrupted one); its loose
        products are no longer needed."""
        self.products.pop(dtype, None)
        self.tables[dtype] = {"dims": list(table.dims), "rates": {k: v.tolist() for k, v in table.rates.items()},
                              "loop_rates": ({k: v.tolist() for k, v in table.loop_rates.items()}
                                             if table.loop_rates is not None else None),
                              "loop_rule": list(table.loop_rule) if table.loop_rule is not None else None}
        self._save()

    def sample(self, index: int, shape: Shape) -> bench.Sample | None:
        """The saved sample of the ``index``-th shape, if it is of ``shape``."""
        doc = self.samples.get(str(index))
        try:
            sample = bench.Sample(**{f.name: doc[f.name] for f in fields(bench.Sample)})   # type: ignore[index]
        except (KeyError, TypeError):
            return None
        return sample if sample.shape == shape else None

    def add_sample(self, index: int, sample: bench.Sample) -> None:
        """Save the sample of the ``index``-th shape."""
        self.samples[str(index)] = sample.to_dict()
        self._save()

    def remove(self) -> None:
        """Delete the file (the calibration it served is saved)."""
        self.path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Delete the file after a save failed (best effort: the failure is what gets reported)."""
        with contextlib.suppress(OSError):
            self.remove()


@dataclass(frozen=True)
class CalibrationCost:
    """What a calibration will measure, known before it starts: GEMM products per dtype, step shapes and their
    timed repeats, and a lower bound on the time (every product's timed batches and every step's repeats, at
    nothing but their minimum duration: compiling, warm-up and slow shapes come on top)."""

    dtypes: int
    products_per_dtype: int
    step_shapes: int
    repeats: int
    lower_bound_s: float

    def describe(self) -> str:
        """One line for the user before the measuring starts.

        Examples
        --------
        >>> print(CalibrationCost(2, 100, 10, 15, 42.0).describe())
        calibrate: 2 dtype(s): 100 GEMM products each, then 10 training-step shapes x 15 repeats; at least 42 s
        """
        from simtrain import units

        return (f"calibrate: {self.dtypes} dtype(s): {self.products_per_dtype} GEMM products each, then "
                f"{self.step_shapes} training-step shapes x {self.repeats} repeats; at least "
                f"{units.format_time(self.lower_bound_s)}")


def calibration_cost(dtypes: Sequence[str] | str = ("fp32",), *, quick: bool = False,
                     repeats: int = 15) -> CalibrationCost:
    """The size of :func:`calibrate_profile`'s work, from the same grids it measures (nothing is run).

    Examples
    --------
    >>> cost = calibration_cost(["fp32"], quick=True, repeats=3)
    >>> cost.products_per_dtype > 0 and cost.step_shapes > 0 and cost.lower_bound_s > 0
    True
    """
    names = [d.strip() for d in dtypes.split(",")] if isinstance(dtypes, str) else list(dtypes)
    dims = gemm_table.grid_dims(quick)
    n = len(dims)
    points = sum(1 for i in range(n) for j in range(n) for k in range(n)
                 if 2.0 * dims[i] * dims[j] * dims[k] <= _TABLE_MAX_FLOPS)
    products = 3 * points                        # three layouts per grid point
    batch_s = _TABLE_BATCH_S[quick]
    shapes = bench.fit_shapes(names, quick=quick)
    per_dtype = products * 3 * batch_s           # three timed batches of at least batch_s each
    lower = len(names) * per_dtype + len(shapes) * repeats * 1e-4
    return CalibrationCost(len(names), products, len(shapes), repeats, lower)


def calibrate_profile(backend: str = "numba", device: str = "cpu", dtypes: Sequence[str] | str = ("fp32",), *,
                      quick: bool = False, repeats: int = 15, threads: int = 1,
                      progress: Progress | None = None, checkpoint: str | Path | None = None,
                      codecs: bool | None = None) -> Profile:
    """Measure and fit a compute profile of ``backend`` on ``device``.

    Per dtype it measures the GEMM table (every product layout on a grid of shapes), then times whole training
    steps on :func:`~simtrain.calibration.bench.fit_shapes` and fits the per-step overhead and the element-wise
    bandwidth to them; every measurement runs under ``threads`` BLAS threads.

    Parameters
    ----------
    backend : str
        ``numba``, ``numpy`` or ``torch``.
    device : str
        ``cpu``, or ``cuda`` (torch only).
    dtypes : sequence of str, or a comma-separated str
        ``fp32``, ``fp64`` (and ``fp16``, ``bf16`` with torch).
    quick : bool
        Fewer shapes and a coarser grid (under 2 minutes on a laptop-class CPU): a smoke-test profile.
    repeats : int
        Timed steps per shape (at least).
    threads : int
        BLAS (and torch CPU) threads while measuring.
    progress : callable, optional
        ``progress(done, total, label)``, called as the measurements go.
    checkpoint : path, optional
        A :class:`MeasurementLog` file: measurements already in it (from an interrupted run with the same
        arguments on this machine) are reused, and each new one is added as it finishes. Ctrl-C raises
        :class:`~simtrain.errors.Interrupted` saying how many are saved. A save that fails (an
        :class:`~simtrain.errors.OutputError`, e.g. a full disk) removes the file. The caller removes the file once
        the profile is saved.
    codecs : bool, optional
        Also time the compression codecs' encode and decode (:mod:`simtrain.calibration.codec_times`), which the
        step then uses for the schemes' compute. Default: on the CPU only (the codecs are numpy/numba kernels, so
        their times describe a CPU, not a GPU).

    Returns
    -------
    Profile
        Not saved: call :meth:`Profile.save`.

    Examples
    --------
    >>> profile = calibrate_profile("numba", dtypes=["fp32"], quick=True, repeats=3)  # doctest: +SKIP
    >>> profile.save("profiles/my-cpu.json")  # doctest: +SKIP
    >>> calibrate_profile("numba", dtypes=["fp16"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: dtypes: the numba backend does not run: 'fp16' ...; allowed: fp32, fp64
    """
    names = check_backend(backend, device, dtypes)
    repeats = check_count(_positive(repeats, "repeats"), MAX_REPEATS, key="repeats")   # a huge count runs for ever
    threads = _positive(threads, "threads")
    if backend == "torch":
        import torch  # noqa: F401  (imported before pinning threads, so the pin reaches it)
    provenance = bench.provenance(backend, device, threads)
    log = None
    if checkpoint is not None:
        machine = {k: v for k, v in provenance.items() if k != "date"}
        log = MeasurementLog(checkpoint, {"dtypes": names, "quick": quick, "repeats": repeats, **machine})
    try:
        with bench.blas_threads(threads):
            tables = {}
            for dtype in names:
                def table_progress(done: int, total: int, dtype: str = dtype) -> None:
                    if progress is not None:
                        progress(done, total, f"GEMM table {dtype}")
                table = log.table(dtype) if log is not None else None
                if table is None:
                    table = gemm_table.measure_gemm_table(
                        backend, device, dtype, gemm_table.grid_dims(quick), max_flops=_TABLE_MAX_FLOPS,
                        batch_s=_TABLE_BATCH_S[quick], repeats=3, progress=table_progress,
                        known=log.products.get(dtype) if log is not None else None,
                        record=functools.partial(log.add_product, dtype) if log is not None else None)
                    if log is not None:
                        log.add_table(dtype, table)
                tables[dtype] = table
            shapes = bench.fit_shapes(names, quick=quick)
            samples = []
            report = _shape_progress(progress)
            for index, shape in enumerate(shapes):   # bench.sweep's loop, saving each shape as it finishes
                if report is not None:
                    report(index, len(shapes), shape)
                sample = log.sample(index, shape) if log is not None else None
                if sample is None:
                    sample = bench.measure(backend, device, shape, repeats=repeats, warmup=3, seed=index,
                                           min_time_s=0.05)
                    if log is not None:
                        log.add_sample(index, sample)
                samples.append(sample)
            if report is not None and shapes:
                report(len(shapes), len(shapes), shapes[-1])
            codec_times = None
            if codecs if codecs is not None else device == "cpu":
                if progress is not None:
                    progress(0, 1, "codecs")
                codec_times = measure_codec_times(sizes=CODEC_SIZES[quick], repeats=5)
                if progress is not None:
                    progress(1, 1, "codecs")
    except OutputError:
        if log is not None:   # a save that failed (a full disk): no measurement log is left behind
            log.discard()
        raise
    except KeyboardInterrupt:
        if log is not None:
            try:
                log.flush()   # every product timed so far, not only the last saved batch
            except OutputError:
                log.discard()
                raise
        if log is None or not log.count:
            raise
        raise Interrupted(f"{log.count} measurements saved in {log.path}; the same command resumes from them") \
            from None
    return Profile.from_samples(samples, tables, provenance, codec_times)


@dataclass(frozen=True)
class ProfileCheck:
    """A profile's predictions against fresh measurements of held-out shapes.

    Attributes
    ----------
    rows : list of dict
        One per shape: ``shape`` (its description), ``measured_s`` (median), ``predicted_s``, ``rel_error``
        ((predicted − measured) / measured).
    threads : int
        BLAS threads the shapes were measured with.
    backend, device : str
        What was measured.
    source : str
        The profile's file ("" for one in memory).
    """

    rows: list[dict[str, Any]]
    threads: int
    backend: str
    device: str
    source: str = ""

    @property
    def within(self) -> int:
        """Shapes predicted within 15 %."""
        return sum(abs(row["rel_error"]) <= TOLERANCE for row in self.rows)

    @property
    def within_15_percent(self) -> float:
        """The share of shapes predicted within 15 % (0 with no shapes)."""
        return self.within / len(self.rows) if self.rows else 0.0

    def to_frame(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (columns shape, measured_s, predicted_s, rel_error)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["shape", "measured_s", "predicted_s", "rel_error"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: threads, held_out_shapes, within_15_percent, rows."""
        return {"threads": self.threads, "held_out_shapes": len(self.rows),
                "within_15_percent": self.within_15_percent, "rows": [dict(r) for r in self.rows]}

    def plot(self, ax: Any = None) -> Any:
        """Predicted against measured, log-log, with the ±15 % band; returns the Axes."""
        from simtrain.plot.calibration import plot_predicted_vs_measured

        return plot_predicted_vs_measured([r["measured_s"] for r in self.rows], [r["predicted_s"] for r in self.rows],
                                          [r["shape"].split()[0] for r in self.rows], ax,
                                          f"{self.backend} on {self.device}: {self.within} of {len(self.rows)} "
                                          f"held-out shapes within 15 %")


def check_profile(profile: Profile | str | Path, *, threads: int | None = None, quick: bool = False,
                  repeats: int = 15, progress: Progress | None = None,
                  shapes: Sequence[Shape] | None = None) -> ProfileCheck:
    """Measure held-out shapes now and compare them with ``profile``'s predictions.

    Parameters
    ----------
    profile : Profile, or str or path
        A profile, or one to load: a name in ``profiles/`` or a JSON path.
    threads : int, optional
        BLAS threads while measuring (default: the profile's own, recorded in its provenance, else 1).
    quick : bool
        Fewer held-out shapes.
    repeats : int
        Timed steps per shape (at least).
    progress : callable, optional
        ``progress(done, total, label)`` before each shape.
    shapes : sequence of Shape, optional
        Measure these instead of :func:`~simtrain.calibration.bench.check_shapes` (in the profile's dtypes).

    Returns
    -------
    ProfileCheck

    Examples
    --------
    >>> check = check_profile("cpu-numba", shapes=[Shape("lowrank", 192, 320, 4, 16, "fp32")], repeats=3)
    >>> check.to_frame().columns.tolist()
    ['shape', 'measured_s', 'predicted_s', 'rel_error']
    >>> 0 <= check.within_15_percent <= 1
    True
    """
    if not isinstance(profile, Profile):
        from simtrain.catalog import resolve

        profile = load_profile(resolve("profiles", profile))
    source = profile.source or None
    file_keys = ("backend", "device", "params") if source else ("profile.backend", "profile.device", "profile.dtypes")
    check_backend(profile.backend, profile.device, profile.dtypes, source=source, keys=file_keys)
    if threads is None:
        recorded = profile.provenance.get("threads", 1)
        # the profile's own count, held to --threads' bound (BLAS would clamp it silently); a malformed one is not
        # read as 1 and then reported as the profile's
        if isinstance(recorded, bool) or not isinstance(recorded, int) or not 1 <= recorded <= MAX_THREADS:
            raise ConfigError(f"must be an integer from 1 to {MAX_THREADS}", source=source,
                              key="provenance.threads", value=recorded)
        threads = recorded
    threads = check_count(_positive(threads, "threads"), MAX_THREADS, key="threads")
    repeats = check_count(_positive(repeats, "repeats"), MAX_REPEATS, key="repeats")   # a huge count runs for ever
    chosen = list(shapes) if shapes is not None else bench.check_shapes(profile.dtypes, quick=quick)
    for shape in chosen:
        if shape.dtype not in profile.dtypes:
            raise ConfigError("the profile has no calibration of this dtype", key="shapes", value=shape.dtype,
                              choices=profile.dtypes)
    if profile.backend == "torch":
        import torch  # noqa: F401  (imported before pinning threads, so the pin reaches it)
    with bench.blas_threads(threads):
        samples = bench.sweep(profile.backend, profile.device, chosen, repeats=repeats,
                              progress=_shape_progress(progress))
    rows = []
    for sample in samples:
        predicted = profile.predict(sample.shape)
        error = (predicted - sample.median_s) / sample.median_s if sample.median_s > 0 else math.inf
        rows.append({"shape": sample.shape.describe(), "measured_s": sample.median_s, "predicted_s": predicted,
                     "rel_error": error})
    return ProfileCheck(rows, threads, profile.backend, profile.device, profile.source)
