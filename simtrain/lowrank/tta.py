"""Time to accuracy: a run's accuracy-per-epoch curve joined with simulated step times on a cluster.

A curve is what ``simtrain train --out DIR`` writes (``DIR/curve.json``, with ``DIR/ranks.yaml`` for low-rank
schemes), or a CSV file with columns ``epoch,test_accuracy`` and the run's ``model``, ``scheme``,
``batch_per_worker`` and ``samples_per_epoch`` given either as further (constant) columns or as comment lines
``# key: value`` before the header.

Each epoch of a curve is priced on the cluster: ``steps = samples_per_epoch // (gpus × batch_per_worker)`` steps,
each in the phase the scheme's schedule (``scheme.run``) puts it in. A phase's step time is the simulator's
(:func:`simtrain.training.simulate`): the full-rank phase of every scheme is plain data parallelism (scheme
``none``), the others come from the scheme's own period. Bytes per epoch are the traffic model's payload per GPU
(:func:`simtrain.compression.traffic.traffic`), phase by phase. The accuracy after each epoch is the curve's: the
statistical efficiency per epoch is assumed to carry over to the cluster's batch (say so when it does not).

The curve was measured at the training run's steps per epoch and workers; the cluster has its own. Every scheme
parameter declared with ``unit="steps"`` (:class:`~simtrain.params.Param`: AB-training's ``warmup``,
``sync_every`` and ``rebound``, OIALR's ``warmup`` and ``stability_frequency``, PowerSGD's ``start_iter`` …) is
rescaled to the same fraction of an epoch on the cluster (rounded to the nearest step; a positive count stays at
least 1), and every one declared with ``unit="ranks"`` (AB-training's ``group_size``) to the same fraction of the
workers (AB-training keeps its number of groups), so each epoch is in the phases it was in when the curve was
measured. A training run's steps per epoch and workers are in its ``curve.json``; a CSV gives them with an optional
``workers`` key (without it the scheme's parameters are taken as meant for the cluster).

For curves from ``simtrain train`` the scheme is rebuilt with what the run found: the switch epoch of a scheme that
declares ``switch_epoch`` (Cuttlefish) and, for every scheme that declares ``rank_profile`` (Cuttlefish, OIALR,
AB-training), the ranks it found: each epoch's low-rank steps are priced at the ranks the run recorded at that
epoch's end (OIALR's pruning, AB-training's first cycle at the full inner dimension and its rank rule after), the
last ones (``ranks.yaml``) where an epoch recorded none.

A curve is input, checked as every input is: each file is read through :mod:`simtrain.inputs` (a FIFO, a device
or a file over its size is refused before a byte is read), its counts are bounded (:mod:`simtrain.limits`), and a
value that is wrong, a model or scheme the registries do not know included, is one
:class:`~simtrain.errors.ConfigError` naming the curve's file and column. A curve names its model by catalog name
or YAML file: a ``module:`` model would run Python from a data file.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> _ = open(os.path.join(d, "dense.csv"), "w").write(
...     "# model: resnet18-cifar\\n# scheme: none\\n# batch_per_worker: 128\\n# samples_per_epoch: 50000\\n"
...     "epoch,test_accuracy\\n1,0.5\\n2,0.8\\n3,0.92\\n")
>>> [c.name for c in read_curves(d)]
['dense']
>>> r = time_to_accuracy(read_curves(d), "torus-2d", gpus=16, target=0.9)[0]
>>> r.epoch_reached, r.time_to_target_s > 0
(3, True)
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from simtrain.compression import SchemeContext, make_scheme, steps_per_phase
from simtrain.compression.base import Scheme
from simtrain.compression.traffic import TrafficReport, traffic
from simtrain.config import Section
from simtrain.errors import ConfigError, suggest
from simtrain.inputs import decimal, digits, first_repeat, load_json, read_text
from simtrain.limits import MAX_BATCH, MAX_GPUS, MAX_RANK_SETS, MAX_SAMPLES_PER_EPOCH, MAX_TRAIN_EPOCHS, check_count
from simtrain.model import ModelSpec, load_model
from simtrain.outputs import FIGURE_SUFFIXES
from simtrain.registry import format_spec, parse_spec

__all__ = ["Curve", "TimeToAccuracy", "plot_time_to_accuracy", "read_curves", "scheme_on_cluster", "time_to_accuracy"]

_META = ("model", "scheme", "batch_per_worker", "samples_per_epoch")


@dataclass
class Curve:
    """One run's accuracy per epoch and what it ran."""

    name: str
    model: str
    scheme: str
    batch_per_worker: int
    samples_per_epoch: int
    accuracy: list[float]
    source: str = ""
    #: The training run's data-parallel workers (None: not known; then no parameter is rescaled by workers).
    workers: int | None = None
    #: The ranks the run recorded at the end of each epoch (``simtrain train``: layer -> rank; empty before a switch)
    epoch_ranks: list[dict[str, int]] | None = None

    @property
    def train_steps_per_epoch(self) -> int | None:
        """The training run's steps per epoch (None when its workers are not known)."""
        return None if self.workers is None else self.samples_per_epoch // (self.workers * self.batch_per_worker)


@dataclass
class TimeToAccuracy:
    """A curve on a cluster: simulated time and bytes per epoch, and when the target is reached."""

    name: str
    scheme: str
    epochs: list[int]
    accuracy: list[float]
    time_s: list[float]           # cumulative wall-clock after each epoch
    bytes_per_gpu: list[float]    # cumulative payload per GPU after each epoch
    steps_per_epoch: int
    #: each phase's step time in the last epoch (low-rank phases at that epoch's ranks)
    phase_step_times_s: dict[str, float] = field(default_factory=dict)
    #: per epoch, the steps of each phase on the cluster
    steps_per_phase: list[dict[str, int]] = field(default_factory=list)
    epoch_reached: int | None = None
    time_to_target_s: float | None = None
    bytes_to_target: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def _model(name: str) -> ModelSpec:
    from simtrain.lowrank.nets import MODELS, model_spec
    from simtrain.model.user_module import is_module_reference

    if is_module_reference(name):   # a curve is data: a folder of curves from elsewhere must not run Python
        raise ConfigError("a curve names its model by catalog name or YAML file, not a Python module", key="model",
                          value=name)
    return model_spec(name) if name in MODELS else load_model(name)


@contextlib.contextmanager
def _naming(source: str | None, column: str, unnamed: tuple[str | None, ...] = (None,)) -> Iterator[None]:
    """Errors inside name the curve's file and column: the registries that refuse a model or a scheme know neither.

    Only errors whose source is in ``unnamed`` are renamed: one that already names a file of its own (a model's
    YAML file, a rank profile) is left as it is.

    Examples
    --------
    >>> with _naming("a.csv", "scheme"):
    ...     make_scheme("bogus")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: a.csv: scheme: unknown scheme: 'bogus'; allowed: ...
    """
    try:
        yield
    except ConfigError as exc:
        if exc.source not in unnamed:
            raise
        named = exc.with_context(None, None if (exc.key or "").startswith(column) else column)
        raise ConfigError(named.message, source=source, key=named.key, value=named.value, choices=named.choices,
                          allowed=named.allowed) from None


def _positive_int(value: str, source: str, key: str, maximum: int) -> int:
    """A CSV cell as an integer from 1 to ``maximum`` (a bound of :mod:`simtrain.limits`).

    Examples
    --------
    >>> _positive_int(" 128 ", "a.csv", "batch_per_worker", MAX_BATCH)
    128
    >>> _positive_int("1" + "0" * 20, "a.csv", "batch_per_worker", MAX_BATCH)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: a.csv: batch_per_worker: must be at most 16777216 (got '100000000000000000000')
    """
    text = value.strip()
    body = text[1:] if text.startswith("+") else text
    # more digits than the bound has are refused unread (Python's int() refuses 4,300 digits with its own error)
    if digits(body, limit=len(body)) and len(body.lstrip("0")) > len(str(maximum)):
        raise ConfigError(f"must be at most {maximum}", source=source, key=key, value=text)
    # ASCII digits only: int() also reads other scripts' digits ('２' as 2) and '50_000'
    out = int(body) if digits(body) else 0
    if out < 1:
        raise ConfigError("must be a positive integer", source=source, key=key, value=value,
                          allowed=f"an integer from 1 to {maximum}")
    return check_count(out, maximum, key=key, source=source)


def _csv_rows(lines: list[str], source: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a CSV body, each row with as many cells as the header; at most
    :data:`~simtrain.limits.MAX_TRAIN_EPOCHS` rows, counted as they are read."""
    reader = csv.reader(lines)
    header: list[str] = []
    rows: list[dict[str, str]] = []
    try:
        header = next(reader, [])
        twice = first_repeat([cell.strip() for cell in header])
        if twice is not None:   # a row's mapping would keep the column's last cell, silently
            raise ConfigError("a column is named twice in the header", source=source, key="header", value=twice)
        for cells in reader:
            check_count(len(rows) + 1, MAX_TRAIN_EPOCHS, key="epochs", source=source)
            if len(cells) != len(header):
                raise ConfigError(f"has {len(cells)} cells where the header has {len(header)}", source=source,
                                  key=f"row {len(rows) + 1}", value=",".join(cells))
            rows.append(dict(zip(header, cells)))
    except csv.Error as exc:   # a field over csv's size limit, a stray quote
        raise ConfigError(f"malformed CSV: {exc}", source=source, key=f"row {len(rows) + 1}") from None
    return header, rows


def _comment_meta(lines: list[str], source: str) -> tuple[dict[str, str], list[str]]:
    """The run's ``# key: value`` lines and the CSV body. A key given twice, or close to a run key without being
    one (``# worker: 4``), is refused: either would be read as the other value, or as absent; other comments
    (free text, with or without a colon) are left alone."""
    meta: dict[str, str] = {}
    body = []
    known = (*_META, "workers")
    for number, line in enumerate(lines, start=1):
        if line.startswith("#"):
            key, colon, value = line[1:].partition(":")
            key = key.strip()
            if key in known:
                if key in meta:
                    raise ConfigError(f"given twice ('# {key}: {meta[key]}', then line {number})", source=source,
                                      key=key, value=value.strip())
                meta[key] = value.strip()
            elif colon and _close_to_run_key(key, known):
                raise ConfigError("unknown run key in a '# key: value' line", source=source, key=key,
                                  value=value.strip(), choices=known)
        elif line.strip():
            body.append(line)
    return meta, body


def _close_to_run_key(key: str, known: tuple[str, ...]) -> bool:
    """Whether a comment's key is a run key misspelt (``Model``, ``samples-per-epoch``, ``worker``, ``sheme``) rather
    than a comment of its own (``seed``, ``steps_per_epoch``, ``mode``): the same key but for case and '-', or at
    least 90 % alike.

    Examples
    --------
    >>> [_close_to_run_key(k, ("model", "workers")) for k in ("Model", "worker", "mode", "seed")]
    [True, True, False, False]
    """
    normal = key.lower().replace("-", "_").replace(" ", "_")
    return normal in known or suggest(normal, known, cutoff=0.9) is not None


def _accuracy(text: str, source: str, key: str) -> float:
    """A CSV cell as a fraction in [0, 1], in ASCII (float() also reads '0.9_2' and other scripts' digits)."""
    fraction = float(text) if decimal(text) else math.nan
    if not 0 <= fraction <= 1:
        raise ConfigError("must be a fraction in [0, 1]", source=source, key=key, value=text)
    return fraction


def _read_csv(path: Path) -> Curve:
    source = str(path)
    meta, body = _comment_meta(read_text(path, key="curves").splitlines(), source)
    header, rows = _csv_rows(body, source)
    if not {"epoch", "test_accuracy"} <= set(header):
        raise ConfigError("needs columns epoch,test_accuracy", source=source, key="columns",
                          value=",".join(header))
    if not rows:
        raise ConfigError("has no epochs: a header and no rows", source=source, key="epoch")
    for key in (*_META, "workers"):
        if key in rows[0]:
            if key in meta:   # a comment and a column: which one was meant is not for simtrain to guess
                raise ConfigError(f"given twice, as '# {key}: {meta[key]}' and as a column", source=source, key=key,
                                  value=rows[0][key])
            meta[key] = rows[0][key]
            for i, row in enumerate(rows[1:], start=2):   # one run's curve: a row that disagrees is another run's
                if row[key] != rows[0][key]:
                    raise ConfigError(f"differs from row 1 ({rows[0][key]!r}): one curve is one run", source=source,
                                      key=f"{key} (row {i})", value=row[key])
        if key not in meta and key != "workers":
            raise ConfigError(f"needs the run's {key} (a column or a '# {key}: value' line)", source=source,
                              key=key)
    acc: list[float] = []
    for i, row in enumerate(rows):
        if _positive_int(row["epoch"], source, f"epoch (row {i + 1})", MAX_TRAIN_EPOCHS) != i + 1:
            raise ConfigError("epochs must be 1, 2, 3, ... in order", source=source, key="epoch",
                              value=row["epoch"])
        acc.append(_accuracy(row["test_accuracy"], source, f"test_accuracy (row {i + 1})"))
    workers = _positive_int(meta["workers"], source, "workers", MAX_GPUS) if meta.get("workers") else None
    curve = Curve(path.stem, meta["model"], meta["scheme"],
                  _positive_int(meta["batch_per_worker"], source, "batch_per_worker", MAX_BATCH),
                  _positive_int(meta["samples_per_epoch"], source, "samples_per_epoch", MAX_SAMPLES_PER_EPOCH),
                  acc, source, workers)
    if curve.train_steps_per_epoch == 0:
        raise ConfigError(f"workers x batch_per_worker exceeds the {curve.samples_per_epoch} samples of an epoch",
                          source=source, key="workers", value=workers)
    return curve


def _epochs(data: Section) -> list[Section]:
    """A ``curve.json``'s epochs, at most :data:`~simtrain.limits.MAX_TRAIN_EPOCHS` (counted before each is read)."""
    raw = data.raw("epochs")
    if isinstance(raw, list):
        check_count(len(raw), MAX_TRAIN_EPOCHS, key="epochs", source=data.source)
    return data.sections("epochs")


def _epoch_ranks(epoch: Section) -> dict[str, int]:
    """The ranks an epoch recorded (layer -> positive integer; checked against the model when priced)."""
    ranks = epoch.section("ranks", None)
    return {} if ranks is None else {str(k): ranks.integer(str(k), minimum=1) for k in ranks.data}


def _check_train_keys(data: Section, epochs: list[Section]) -> None:
    """A ``curve.json``'s keys are those ``simtrain train`` writes (a misspelt ``tset_accuracy`` would be read as
    absent), and its epochs are numbered 1, 2, 3, ... as the CSV form's must be."""
    from dataclasses import fields

    from simtrain.inputs import check_keys
    from simtrain.lowrank.train import EpochRecord, TrainResult

    check_keys(dict(data.data), tuple(f.name for f in fields(TrainResult)), data.source)
    allowed = tuple(f.name for f in fields(EpochRecord))
    for i, epoch in enumerate(epochs):
        check_keys(dict(epoch.data), allowed, data.source, f"epochs[{i}].")
        if "epoch" in epoch and epoch.integer("epoch", minimum=0) != i + 1:
            raise epoch.error("epoch", "epochs must be 1, 2, 3, ... in order", value=epoch.data["epoch"])


def _check_whole_epochs(data: Section, epochs: list[Section], steps: int) -> None:
    """Every epoch ran its ``steps`` steps: a ``train --max-steps`` smoke run's epochs stop early, and an accuracy
    after a few steps priced as a whole epoch's is not a curve to price."""
    for i, epoch in enumerate(epochs):
        ran = epoch.section("steps_per_phase", None)
        if ran is None:
            continue
        total = sum(ran.integer(str(k), minimum=0) for k in ran.data)
        if total != steps:
            raise epoch.error("steps_per_phase", f"epoch {i + 1} ran {total} of its {steps} steps (a --max-steps "
                              "smoke run?): not a curve to price", value=dict(ran.data))


def _read_train(path: Path) -> Curve:
    source = str(path)
    # not a mapping ([1]): one error naming the file
    data = Section(load_json(path, key="curves", unique_keys=True), source)
    spec = data.string("scheme")
    with _naming(source, "scheme"):
        name, params = parse_spec(spec, key="scheme")
        declared = {p.name for p in make_scheme(spec).parameters}
    folder = path.parent
    epochs = _epochs(data)
    _check_train_keys(data, epochs)
    if "switch_epoch" in declared:   # the switch the run found (none: it never switched)
        params["switch_epoch"] = data.integer("switch_epoch", len(epochs), minimum=0)
    if "rank_profile" in declared and (folder / "ranks.yaml").exists():
        params = {k: v for k, v in params.items() if k not in ("rank", "rank_fraction")}
        params["rank_profile"] = str(folder / "ranks.yaml")
    with _naming(source, "scheme"):   # the switch epoch the file gave, checked by the scheme
        spec = format_spec(name, params)
        make_scheme(spec)
    curve = Curve(folder.name, data.string("model"), spec,
                  data.integer("batch_per_worker", minimum=1, maximum=MAX_BATCH),
                  data.integer("samples_per_epoch", minimum=1, maximum=MAX_SAMPLES_PER_EPOCH),
                  [e.number("test_accuracy", minimum=0, maximum=1) for e in epochs], source,
                  data.integer("workers", minimum=1, maximum=MAX_GPUS),
                  [_epoch_ranks(e) for e in epochs] if "rank_profile" in declared else None)
    steps = data.integer("steps_per_epoch", minimum=1)
    if curve.train_steps_per_epoch != steps:
        raise ConfigError(f"steps_per_epoch is not samples_per_epoch // (workers x batch_per_worker) = "
                          f"{curve.train_steps_per_epoch}", source=source, key="steps_per_epoch", value=steps)
    _check_whole_epochs(data, epochs, steps)
    if curve.epoch_ranks is not None:   # each distinct set of ranks is priced by a simulation of its own
        distinct = len({tuple(sorted(r.items())) for r in curve.epoch_ranks})
        if distinct > MAX_RANK_SETS:
            raise ConfigError(f"records {distinct:,} distinct sets of ranks; at most {MAX_RANK_SETS:,} (each is "
                              "priced by a simulation of its own: a run's ranks change a few dozen times)",
                              source=source, key="epochs")
    return curve


def read_curves(folder: str | Path) -> list[Curve]:
    """Every curve under ``folder``: ``*/curve.json`` (and ``curve.json``) from ``simtrain train``, ``*.csv``.

    Examples
    --------
    >>> read_curves("/nonexistent")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: /nonexistent: curves: no curve.json or *.csv found (got '/nonexistent')
    """
    root = Path(folder)
    if root.is_file():   # one curve's file where its folder belongs: say so, rather than that nothing was found
        raise ConfigError("is a file; give the folder that holds the curves (curve.json from simtrain train, or "
                          "*.csv)", source=str(root), key="curves", value=str(root), allowed=str(root.parent))
    found = sorted(root.glob("**/curve.json")) + sorted(root.glob("**/*.csv")) if root.is_dir() else []
    if not found:
        raise ConfigError("no curve.json or *.csv found", source=str(root), key="curves", value=str(root))
    return [_read_train(p) if p.suffix == ".json" else _read_csv(p) for p in found]


def _rescale_steps(value: int, cluster: int, train: int) -> int:
    """``value`` steps at ``train`` steps per epoch as steps at ``cluster`` steps per epoch: the same fraction of an
    epoch, rounded half up; a positive count stays at least one step (a phase the run had stays in the schedule).

    Examples
    --------
    >>> _rescale_steps(18, 3, 6), _rescale_steps(1, 3, 6), _rescale_steps(0, 3, 6), _rescale_steps(5, 12, 6)
    (9, 1, 0, 10)
    """
    return max(1 if value > 0 else 0, math.floor(Fraction(value * cluster, train) + Fraction(1, 2)))


def scheme_on_cluster(curve: Curve, gpus: int, steps_per_epoch: int) -> str:
    """The curve's scheme as the cluster runs it: every parameter declared in ``steps`` rescaled from the training
    run's steps per epoch to ``steps_per_epoch``, every one declared in ``ranks`` from its workers to ``gpus``.

    Parameters
    ----------
    curve : Curve
    gpus : int
        The cluster's data-parallel GPUs.
    steps_per_epoch : int
        The cluster's steps per epoch.

    Returns
    -------
    str
        The scheme spec (parameters that differ from their defaults).

    Examples
    --------
    >>> c = Curve("ab", "cnn-digits", "ab-training:warmup=18,sync_every=12,rebound=1,group_size=1", 250, 3000,
    ...           [0.5], workers=2)
    >>> scheme_on_cluster(c, 4, 3)    # 6 steps per epoch on 2 workers, 3 on 4 GPUs
    'ab-training:warmup=9,sync_every=6,rebound=1,group_size=2'
    """
    scheme = make_scheme(curve.scheme)
    train_spe = curve.train_steps_per_epoch
    params = scheme.get_params()
    rescaled = []
    for p in scheme.parameters:
        value = params.get(p.name)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if p.unit == "steps" and train_spe:
            params[p.name] = _rescale_steps(value, steps_per_epoch, train_spe)
            rescaled.append(f"{p.name} {value} -> {params[p.name]} steps")
        elif p.unit == "ranks" and curve.workers:
            ranks = Fraction(value * gpus, curve.workers)
            if ranks.denominator != 1:
                raise ConfigError(f"{p.name}={value} of {curve.workers} training workers is {float(ranks):g} of "
                                  f"{gpus} GPUs: choose GPUs that keep it whole", source=curve.source or None,
                                  key="gpus", value=gpus)
            params[p.name] = int(ranks)
            rescaled.append(f"{p.name} {value} -> {params[p.name]} ranks")
    try:
        out = make_scheme((scheme.name, params))
    except ConfigError as exc:
        raise ConfigError(f"{exc.message}, once rescaled from the training run's {train_spe} steps/epoch and "
                          f"{curve.workers} workers to the cluster's {steps_per_epoch} and {gpus} GPUs "
                          f"({', '.join(rescaled)})", source=curve.source or None,
                          key=exc.key, value=exc.value) from None
    return out.describe()


#: Step time and payload per GPU of each phase, and the traffic report they come from.
_Prices = tuple[dict[str, float], dict[str, float], TrafficReport]


def _prices(scheme: Scheme, curve: Curve, model: ModelSpec, topology: str, gpus: int, epochs: int,
            dense_step_s: float, simulate_params: dict[str, Any]) -> _Prices:
    """Step time and payload per GPU of each phase of ``scheme`` on the cluster, and its traffic report."""
    from simtrain.training import simulate

    report = simulate(model, topology, gpus=gpus, batch=curve.batch_per_worker, scheme=scheme, **simulate_params)
    sent = traffic(scheme, model, gpus=gpus, batch=curve.batch_per_worker, samples_per_epoch=curve.samples_per_epoch,
                   epochs=epochs, topology=topology)
    # a phase outside the steady period (a dense start) is plain data parallelism
    return ({p.name: report.phase_step_times_s.get(p.name, dense_step_s) for p in sent.phases},
            {p.name: p.payload_bytes_per_step for p in sent.phases}, sent)


def _curve_model(curve: Curve) -> ModelSpec:
    """The model a curve names; an unknown name, or a model file that cannot be read, names the curve's file."""
    source = curve.source or None
    try:
        with _naming(source, "model"):
            return _model(curve.model)
    except ConfigError as exc:
        # a spec the curve's column gives (``gpt:...``) is reported as "model SPEC": the column is what is wrong
        spec = exc.source == f"model {curve.model}"
        if source is None or (exc.source != curve.model and not spec) or (exc.key not in (None, "model")
                                                                           and not spec):
            raise   # an error inside a model file names that file, the one to fix
        # the model file the curve names cannot be read (missing, a FIFO): the curve's column is what is wrong
        message = f"{exc.key}: {exc.message}" if spec and exc.key else exc.message
        raise ConfigError(message, source=source, key="model", value=curve.model, allowed=exc.allowed) from None


def _on_cluster(curve: Curve, gpus: int) -> tuple[ModelSpec, int, str]:
    """A curve's model, its steps per epoch on ``gpus`` GPUs and its scheme there, each checked; an error names
    the curve's file and the column it is about."""
    source = curve.source or None
    model = _curve_model(curve)
    spe = curve.samples_per_epoch // (gpus * curve.batch_per_worker)
    if spe < 1:
        raise ConfigError(f"an epoch of {curve.samples_per_epoch} samples is less than one step of {gpus} GPUs "
                          f"x {curve.batch_per_worker}", source=source, key="gpus", value=gpus)
    with _naming(source, "scheme"):
        spec = scheme_on_cluster(curve, gpus, spe)
    return model, spe, spec


def time_to_accuracy(curves: list[Curve], topology: str, *, gpus: int, target: float,
                     **simulate_params: Any) -> list[TimeToAccuracy]:
    """Price every curve's epochs on ``topology`` with ``gpus`` GPUs and find when each reaches ``target``.

    Parameters
    ----------
    curves : list of Curve
    topology : str
        Catalog name or YAML path.
    gpus : int
    target : float
        Test accuracy to reach, a fraction.
    **simulate_params
        Further :class:`~simtrain.run.TrainingRun` parameters (``dtype``, ``algorithm``, ``engine`` …).

    Returns
    -------
    list of TimeToAccuracy
    """
    from simtrain.training import simulate

    if not 0 < target <= 1:
        raise ConfigError("must be a fraction in (0, 1]", key="target", value=target)
    # every curve's model and scheme checked before the first is simulated: a bad last file fails at once
    resolved = [_on_cluster(curve, gpus) for curve in curves]
    out = []
    for curve, (model, spe, spec) in zip(curves, resolved):
        scheme = make_scheme(spec)
        epochs = len(curve.accuracy)
        dense = simulate(model, topology, gpus=gpus, batch=curve.batch_per_worker, scheme="none", **simulate_params)

        # each epoch's low-rank steps at the ranks the run recorded for it (at its end); epochs without (a dense
        # start) at the scheme's own ranks, unused there
        by_ranks: dict[tuple[tuple[str, int], ...], _Prices] = {
            (): _prices(scheme, curve, model, topology, gpus, epochs, dense.step_time_s, simulate_params)}
        ctx = SchemeContext(model, gpus, by_ranks[()][2].gpus_per_node, by_ranks[()][2].dtype, spe)
        phases = scheme.phases(ctx)
        t = b = 0.0
        times_cum, bytes_cum, counts = [], [], []
        times: dict[str, float] = {}
        for e in range(epochs):
            with_ranks = getattr(scheme, "with_ranks", None)   # the low-rank schemes
            ranks = curve.epoch_ranks[e] if curve.epoch_ranks and with_ranks is not None else {}
            key = tuple(sorted(ranks.items()))
            if key not in by_ranks:
                # the recorded ranks checked against the model (a layer it lacks, a rank too big): errors that
                # simtrain.compression.lowrank gives the source "ranks", a mapping it did not read from a file
                with _naming(curve.source or None, f"epochs[{e}].ranks", unnamed=("ranks",)):
                    by_ranks[key] = _prices(with_ranks(ranks) if with_ranks is not None else scheme, curve, model,
                                            topology, gpus, epochs, dense.step_time_s, simulate_params)
            times, payload, _ = by_ranks[key]
            before = steps_per_phase(scheme.run(ctx, e * spe), len(phases))
            after = steps_per_phase(scheme.run(ctx, (e + 1) * spe), len(phases))
            counts.append({p.name: n1 - n0 for p, n0, n1 in zip(phases, before, after) if n1 > n0})
            for phase, n0, n1 in zip(phases, before, after):
                t += (n1 - n0) * times[phase.name]
                b += (n1 - n0) * payload[phase.name]
            times_cum.append(t)
            bytes_cum.append(b)
        reached = next((e for e in range(epochs) if curve.accuracy[e] >= target), None)
        out.append(TimeToAccuracy(
            curve.name, scheme.describe(), list(range(1, epochs + 1)), list(curve.accuracy), times_cum, bytes_cum,
            spe, times, counts, None if reached is None else reached + 1,
            None if reached is None else times_cum[reached], None if reached is None else bytes_cum[reached]))
    return out


def plot_time_to_accuracy(results: list[TimeToAccuracy], path: str | Path, title: str = "",
                          target: float | None = None) -> Path:
    """Accuracy against simulated wall-clock and against payload sent per GPU, one line per curve.

    Parameters
    ----------
    results : list of TimeToAccuracy
    path : str or Path
        The figure, PNG, SVG or PDF by its suffix (:data:`simtrain.outputs.FIGURE_SUFFIXES`); missing folders are
        created.
    title : str
    target : float, optional
        Drawn as a horizontal line.

    Returns
    -------
    Path
        ``path``, written whole or not at all (:func:`simtrain.outputs.write_bytes`).

    Examples
    --------
    >>> plot_time_to_accuracy([], "tta.txt")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: path: must end in .png, .svg or .pdf (got 'tta.txt')
    """
    from simtrain.outputs import figure_bytes, write_bytes

    out = Path(path)
    if out.suffix.lower() not in FIGURE_SUFFIXES:   # before drawing: matplotlib would refuse it with a ValueError
        raise ConfigError("must end in .png, .svg or .pdf", key="path", value=str(path))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for r in results:
        kind = r.scheme.split(":")[0]
        label = r.name if r.name == kind else f"{r.name} ({kind})"
        left.plot(r.time_s, r.accuracy, marker=".", label=label)
        right.plot([b / 2**20 for b in r.bytes_per_gpu], r.accuracy, marker=".", label=label)
    for ax in (left, right):
        if target is not None:
            ax.axhline(target, color="grey", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    left.set_xlabel("simulated wall-clock (s)")
    right.set_xlabel("payload sent per GPU (MiB)")
    left.set_ylabel("test accuracy")
    left.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    try:
        fig.tight_layout()
        data = figure_bytes(fig, out, dpi=120)   # rendered in memory: a failed write leaves no partial file
    finally:
        plt.close(fig)
    write_bytes(out, data, make_parents=True)
    return out
