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

For curves from ``simtrain train`` the scheme is rebuilt with what the run found: Cuttlefish's switch epoch and
ranks (``ranks.yaml``), OIALR's last ranks, and OIALR's warm-up and rank-update period rescaled from the training
run's steps per epoch to the cluster's.

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

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simtrain.compression import SchemeContext, make_scheme, steps_per_phase
from simtrain.compression.traffic import traffic
from simtrain.errors import ConfigError
from simtrain.model import ModelSpec, load_model
from simtrain.registry import format_spec, parse_spec

__all__ = ["Curve", "TimeToAccuracy", "plot_time_to_accuracy", "read_curves", "time_to_accuracy"]

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
    train_steps_per_epoch: int | None = None   # the training run's, for rescaling step-counted parameters


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
    phase_step_times_s: dict[str, float] = field(default_factory=dict)
    epoch_reached: int | None = None
    time_to_target_s: float | None = None
    bytes_to_target: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def _model(name: str) -> ModelSpec:
    from simtrain.lowrank.nets import MODELS, model_spec

    return model_spec(name) if name in MODELS else load_model(name)


def _positive_int(value: Any, source: str, key: str) -> int:
    try:
        out = int(str(value).strip())
    except ValueError:
        raise ConfigError("must be a positive integer", source=source, key=key, value=value) from None
    if out < 1:
        raise ConfigError("must be a positive integer", source=source, key=key, value=value)
    return out


def _read_csv(path: Path) -> Curve:
    meta: dict[str, str] = {}
    lines = path.read_text().splitlines()
    body = []
    for line in lines:
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    rows = list(csv.DictReader(body))
    if not rows or not {"epoch", "test_accuracy"} <= set(rows[0]):
        raise ConfigError("needs columns epoch,test_accuracy", source=str(path), key="columns",
                          value=",".join(rows[0]) if rows else "")
    for key in _META:
        if key in rows[0]:
            meta[key] = rows[0][key]
        if key not in meta:
            raise ConfigError(f"needs the run's {key} (a column or a '# {key}: value' line)", source=str(path),
                              key=key)
    acc: list[float] = []
    for i, row in enumerate(rows):
        if _positive_int(row["epoch"], str(path), f"epoch (row {i + 1})") != i + 1:
            raise ConfigError("epochs must be 1, 2, 3, ... in order", source=str(path), key="epoch",
                              value=row["epoch"])
        try:
            fraction = float(row["test_accuracy"])
        except ValueError:
            fraction = math.nan
        if not 0 <= fraction <= 1:
            raise ConfigError("must be a fraction in [0, 1]", source=str(path), key=f"test_accuracy (row {i + 1})",
                              value=row["test_accuracy"])
        acc.append(fraction)
    return Curve(path.stem, meta["model"], meta["scheme"],
                 _positive_int(meta["batch_per_worker"], str(path), "batch_per_worker"),
                 _positive_int(meta["samples_per_epoch"], str(path), "samples_per_epoch"), acc, str(path))


def _read_train(path: Path) -> Curve:
    data = json.loads(path.read_text())
    name, params = parse_spec(data["scheme"], key="scheme")
    folder = path.parent
    epochs = data["epochs"]
    if name == "cuttlefish":
        params["switch_epoch"] = data.get("switch_epoch") if data.get("switch_epoch") is not None else len(epochs)
    if name in ("cuttlefish", "oialr") and (folder / "ranks.yaml").exists():
        params = {k: v for k, v in params.items() if k not in ("rank", "rank_fraction")}
        params["rank_profile"] = str(folder / "ranks.yaml")
    return Curve(folder.name, data["model"], format_spec(name, params), int(data["batch_per_worker"]),
                 int(data["samples_per_epoch"]), [float(e["test_accuracy"]) for e in epochs], str(path),
                 int(data["steps_per_epoch"]))


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
    found = sorted(root.glob("**/curve.json")) + sorted(root.glob("**/*.csv")) if root.is_dir() else []
    if not found:
        raise ConfigError("no curve.json or *.csv found", source=str(root), key="curves", value=str(root))
    return [_read_train(p) if p.suffix == ".json" else _read_csv(p) for p in found]


def _scheme_on_cluster(curve: Curve, steps_per_epoch: int) -> str:
    """OIALR's step-counted warm-up and period rescaled from the training run's epochs to the cluster's."""
    name, params = parse_spec(curve.scheme, key="scheme")
    if name == "oialr" and curve.train_steps_per_epoch:
        scale = steps_per_epoch / curve.train_steps_per_epoch
        for key in ("warmup", "stability_frequency"):
            if key in params:
                params[key] = max(1 if key == "stability_frequency" else 0, round(params[key] * scale))
    return format_spec(name, params)


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
    out = []
    for curve in curves:
        model = _model(curve.model)
        spe = curve.samples_per_epoch // (gpus * curve.batch_per_worker)
        if spe < 1:
            raise ConfigError(f"an epoch of {curve.samples_per_epoch} samples is less than one step of {gpus} GPUs "
                              f"x {curve.batch_per_worker}", source=curve.source, key="gpus", value=gpus)
        spec = _scheme_on_cluster(curve, spe)
        scheme = make_scheme(spec)
        epochs = len(curve.accuracy)
        dense = simulate(model, topology, gpus=gpus, batch=curve.batch_per_worker, scheme="none", **simulate_params)
        report = simulate(model, topology, gpus=gpus, batch=curve.batch_per_worker, scheme=spec, **simulate_params)
        traffic_report = traffic(spec, model, gpus=gpus, batch=curve.batch_per_worker,
                                 samples_per_epoch=curve.samples_per_epoch, epochs=epochs, topology=topology)
        ctx = SchemeContext(model, gpus, traffic_report.gpus_per_node, traffic_report.dtype, spe)
        phases = scheme.phases(ctx)
        times = {p.name: report.phase_step_times_s.get(p.name, dense.step_time_s) for p in phases}
        payload = {p.name: p.payload_bytes_per_step for p in traffic_report.phases}
        t = b = 0.0
        times_cum, bytes_cum = [], []
        for e in range(epochs):
            before = steps_per_phase(scheme.run(ctx, e * spe), len(phases))
            after = steps_per_phase(scheme.run(ctx, (e + 1) * spe), len(phases))
            for phase, n0, n1 in zip(phases, before, after):
                t += (n1 - n0) * times[phase.name]
                b += (n1 - n0) * payload[phase.name]
            times_cum.append(t)
            bytes_cum.append(b)
        reached = next((e for e in range(epochs) if curve.accuracy[e] >= target), None)
        out.append(TimeToAccuracy(
            curve.name, scheme.describe(), list(range(1, epochs + 1)), list(curve.accuracy), times_cum, bytes_cum,
            spe, times, None if reached is None else reached + 1,
            None if reached is None else times_cum[reached], None if reached is None else bytes_cum[reached]))
    return out


def plot_time_to_accuracy(results: list[TimeToAccuracy], path: str | Path, title: str = "",
                          target: float | None = None) -> Path:
    """Accuracy against simulated wall-clock and against payload sent per GPU, one line per curve."""
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
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
