"""Figures from a study's results table: scaling curves, step-time breakdowns, traffic and bandwidth curves.

Each function takes the table (``results.csv`` of ``simtrain sweep``, or the DataFrame of
:func:`~simtrain.study.run_study`) and an Axes, draws the rows whose ``status`` is ok, and returns the Axes. Lines
are the combinations of the configuration columns that vary in the table (besides the x axis and ``model``),
labelled ``key=value``.

Examples
--------
>>> import tempfile
>>> from simtrain.study import run_study, study_from_dict
>>> study = study_from_dict({"name": "s", "base": {"model": "resnet50", "topology": "abci",
...                          "algorithm": "hierarchical"}, "sweep": {"grid": {"gpus": [8, 64, 512],
...                          "scheme": ["none", "powersgd:rank=4"]}}})
>>> table = run_study(study, tempfile.mkdtemp(), backend="serial")
>>> ax = plot_scaling(table)
>>> len(ax.get_lines())      # two schemes, each with its linear-scaling reference, and the reference's legend entry
5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from simtrain.errors import ConfigError
from simtrain.plot.style import log_if_wide, log_values

__all__ = ["RESULT_PLOTS", "bandwidth_column", "figure_from_results", "plot_bandwidth_results", "plot_breakdown",
           "plot_scaling", "plot_traffic_results",
           "series_columns"]

_LABELS = {
    "throughput_samples_per_s": "throughput (samples/s)",
    "scaling_efficiency": "scaling efficiency (%)",
    "step_time_s": "step time (ms)",
    "bytes_per_gpu": "bytes sent per GPU per step (MiB)",
    "gpus": "GPUs",
}


def _config_columns(table: Any) -> list[str]:
    from simtrain.study.spec import POINT_KEYS

    names = [k.name for k in POINT_KEYS] + [c for c in table.columns if str(c).startswith(("topology.", "network."))]
    return [c for c in names if c in table.columns]


def series_columns(table: Any, exclude: Sequence[str] = ()) -> list[str]:
    """Configuration columns that vary across the table (the lines of a plot), minus ``exclude``.

    Examples
    --------
    >>> import pandas as pd
    >>> series_columns(pd.DataFrame({"model": ["a", "a"], "gpus": [1, 2], "scheme": ["x", "y"]}), ["gpus"])
    ['scheme']
    """
    return [c for c in _config_columns(table) if c not in exclude and table[c].astype(str).nunique() > 1]


#: Result columns the figures read as numbers, with the least value each may take (a results table is input: a
#: hand-edited or corrupt one must fail on the cell, not draw a blank or wrong figure).
_NUMERIC: dict[str, float] = {"gpus": 1, "num_gpus": 1, "batch": 1, "step_time_s": 0, "compute_time_s": 0,
                              "comm_time_s": 0, "exposed_comm_time_s": 0, "forward_time_s": 0, "backward_time_s": 0,
                              "update_time_s": 0, "comm_fraction": 0, "throughput_samples_per_s": 0,
                              "scaling_efficiency": 0, "bytes_per_gpu": 0, "shared_compute_time_s": 0}


def _ok(table: Any) -> Any:
    rows = table[table["status"] == "ok"] if "status" in table.columns else table
    if "shared_compute_time_s" in rows.columns:   # rows written before the column existed charged nothing
        rows = rows.fillna({"shared_compute_time_s": 0.0})
    if rows.empty:
        raise ConfigError("the results hold no successful point to plot", key="table")
    _check_numbers(rows)
    return rows


def _check_numbers(rows: Any) -> None:
    """Every successful row's numeric result columns hold finite numbers at or above their least value.

    Examples
    --------
    >>> import pandas as pd
    >>> _check_numbers(pd.DataFrame({"gpus": [8, "x"]}))
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: gpus: must be a finite number >= 1 (row 2) (got 'x')
    """
    import pandas as pd

    if "gpus" in rows.columns:   # a GPU count is whole
        counts = pd.to_numeric(rows["gpus"], errors="coerce")
        fractional = counts.notna() & (counts != counts.round())
        if fractional.any():
            position = int(fractional.to_numpy().argmax())
            raise ConfigError(f"must be a whole number (row {int(rows.index[position]) + 1})", key="gpus",
                              value=float(counts.iloc[position]))
    for column, least in _NUMERIC.items():
        if column not in rows.columns:
            continue
        values = pd.to_numeric(rows[column], errors="coerce")
        bad = ~(values.apply(math.isfinite) & (values >= least))
        if bad.any():
            position = int(bad.to_numpy().argmax())
            row = rows.index[position]   # the table's own row (1-based, the header not counted)
            value = rows[column].iloc[position]
            raise ConfigError(f"must be a finite number >= {least:g} (row {int(row) + 1})", key=column,
                              value=value.item() if hasattr(value, "item") else value)   # 0, not np.int64(0)


def _determined(table: Any, columns: list[str], given: Sequence[str] = ()) -> list[str]:
    """Drop columns whose value follows from an earlier one (zipped axes such as topology and its algorithm) or from
    a ``given`` column (the x axis: a data-parallel run's global batch follows from its GPU count)."""
    kept: list[str] = []
    known = [g for g in given if g in table.columns]
    for column in columns:
        if not any(table.groupby(k, dropna=False)[column].nunique(dropna=False).max() == 1 for k in kept + known):
            kept.append(column)
    return kept


def _devices_by_topology(table: Any) -> dict[str, str]:
    """Topology → device label, when the table names one device per topology (the quickstart's torus holds A100s,
    its clusters V100s); empty otherwise."""
    from simtrain.plot.style import device_label

    if "device" not in table.columns or "topology" not in table.columns:
        return {}
    pairs = table[["topology", "device"]].astype(str).drop_duplicates()
    if pairs["topology"].duplicated().any():
        return {}
    return {t: device_label(d) for t, d in zip(pairs["topology"], pairs["device"])}


def _label(columns: Sequence[str], values: Sequence[Any], devices: dict[str, str]) -> str:
    parts = []
    for column, value in zip(columns, values):
        if column == "topology" and str(value) in devices:
            parts.append(f"{value} ({devices[str(value)]})")
        elif column in ("scheme", "topology", "model"):
            parts.append(f"{value}")
        else:
            parts.append(f"{column}={value}")
    return ", ".join(parts)


#: Line styles of series; sparse dots are kept for the linear-scaling references.
_DASHES = ("-", "--", "-.", (0, (5, 1.5, 1, 1.5, 1, 1.5)))
_REFERENCE = (0, (1, 2.5))


def _series(table: Any, exclude: Sequence[str]) -> Any:
    """(label, style, rows) per line, every line its own colour, marker and line style.

    With two or more varying columns whose last has at most four values, the line style follows that last column
    and colour and marker the others (the quickstart: colour by cluster, line style by scheme); otherwise each line
    takes the next of :func:`~simtrain.plot.style.series_style` (distinct to 70 lines).
    """
    from simtrain.plot.style import series_style

    columns = _determined(table, series_columns(table, exclude), given=exclude)
    if not columns:
        yield "", {**series_style(0), "linestyle": "-"}, table
        return
    devices = _devices_by_topology(table)
    groups = list(table.groupby(columns, sort=False, dropna=False))
    last = list(dict.fromkeys(table[columns[-1]].astype(str)))
    by_last = len(columns) >= 2 and len(last) <= 4
    heads: dict[tuple[str, ...], int] = {}
    for index, (values, group) in enumerate(groups):
        values = values if isinstance(values, tuple) else (values,)
        if by_last:
            head = tuple(str(v) for v in values[:-1])
            style = {**series_style(heads.setdefault(head, len(heads))),
                     "linestyle": _DASHES[last.index(str(values[-1]))]}
        else:
            style = {**series_style(index), "linestyle": "-"}
        yield _label(columns, values, devices), style, group


def _finish(ax: Any, xlabel: str, ylabel: str, title: str, legend: bool = True) -> None:
    from simtrain.plot.style import legend_outside

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        legend_outside(ax)


def _x_axis(ax: Any, rows: Any, x: str) -> None:
    """GPU counts on the log-2 axis every scaling figure uses; another x on a log axis when it spans 20x."""
    from simtrain.plot.style import gpu_axis

    if x in ("gpus", "num_gpus"):
        gpu_axis(ax, rows[x])
    else:
        log_if_wide(ax, rows[x], "x", base=2)


def _axes(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.5, 4.2))
    return ax


def _title(table: Any) -> str:
    """The model, and the device when one device runs every row (else the legend names it per topology)."""
    from simtrain.plot.style import device_label

    models = table["model"].astype(str).unique() if "model" in table.columns else []
    model = str(models[0]) if len(models) == 1 else ""
    devices = table["device"].astype(str).unique() if "device" in table.columns else []
    if len(devices) == 1:
        return f"{model} on {device_label(devices[0])} GPUs".strip()
    return model


def plot_scaling(table: Any, ax: Any = None, metric: str = "throughput_samples_per_s", x: str = "gpus",
                 legend: bool = True) -> Any:
    """Throughput (or scaling efficiency, or step time) against GPUs, one line per configuration.

    ``metric`` is a column of the table: ``throughput_samples_per_s`` (log-log, each line with its own
    linear-scaling reference from its smallest GPU count, dotted in its colour), ``scaling_efficiency`` (in %),
    ``step_time_s`` (in ms) or any derived column. GPU counts are on a log-2 axis in every figure. ``legend``:
    draw the legend beside the axes.
    """
    from matplotlib.lines import Line2D

    if metric not in table.columns:
        raise ConfigError("no such column in the results", key="metric", value=metric,
                          choices=[str(c) for c in table.columns])
    rows = _ok(table)
    ax = _axes(ax)
    scale = {"scaling_efficiency": 100.0, "step_time_s": 1e3}.get(metric, 1.0)
    references = 0
    for label, style, group in _series(rows, [x, "model"] if x != "model" else [x]):
        group = group.sort_values(x)
        ax.plot(group[x], group[metric] * scale, markersize=3.5, label=label or None, **style)
        if metric == "throughput_samples_per_s" and len(group) > 1:
            base = group.iloc[0]   # each series' own reference: a series is linear when it follows its dots
            ax.plot(group[x], base[metric] * group[x] / base[x], color=style["color"], linestyle=_REFERENCE,
                    linewidth=0.9, alpha=0.7)
            references += 1
    _x_axis(ax, rows, x)
    if metric == "throughput_samples_per_s":
        log_if_wide(ax, rows[metric], "y")
    if metric == "scaling_efficiency":
        ax.set_ylim(0, 105)
    if references:   # one legend entry for the references, whose colours follow their lines
        ax.add_line(Line2D([], [], color="k", linestyle=_REFERENCE, linewidth=0.9,
                           label="linear scaling (dotted, from each line's first point)"))
    _finish(ax, _LABELS.get(x, x), _LABELS.get(metric, metric), _title(rows), legend)
    return ax


def plot_breakdown(table: Any, ax: Any = None, at: int | None = None, x: str = "gpus") -> Any:
    """Step time split into compute, the wait for the slowest GPU, compute slowed by overlapped collectives, the
    framework's gradient copies, DDP's buffer broadcast and exposed communication, one bar per configuration, at
    ``x = at`` (default: the largest value of ``x`` in the table); the bar's label gives the exposed communication's
    share."""
    rows = _ok(table)
    at = int(rows[x].max()) if at is None else at
    rows = rows[rows[x] == at]
    if rows.empty:
        raise ConfigError(f"no successful point at {x} = {at}", key="at", value=at)
    ax = _axes(ax)
    labels, exposed = [], []
    # the step's parts on the GPU that ends it, in the order they stack; a table written before a column existed has
    # none of it: nothing was charged then
    parts: dict[str, tuple[str, str, list[float]]] = {
        "compute_time_s": ("tab:blue", "compute (forward, backward, update)", []),
        "slowest_gpu_wait_s": ("tab:cyan", "waiting for the slowest GPU", []),
        "shared_compute_time_s": ("tab:purple", "compute slowed by overlapped collectives", []),
        "bucket_copy_s": ("tab:olive", "gradient copies (DDP's buckets)", []),
        "buffer_sync_s": ("tab:brown", "buffer broadcast (DDP's, before forward)", []),
    }
    for label, _style, group in _series(rows, [x]):
        row = group.iloc[0]
        labels.append(label or str(row["model"]))
        for column, (_, _, values) in parts.items():
            value = row[column] if column in row.index else None
            values.append(float(value) * 1e3 if value is not None and value == value else 0.0)   # NaN: none
        exposed.append(row["exposed_comm_time_s"] * 1e3)
    positions = range(len(labels))
    left = [0.0] * len(labels)
    for column, (color, name, values) in parts.items():
        if column == "compute_time_s" or any(values):
            ax.barh(positions, values, left=left, color=color, label=name)
            left = [a + b for a, b in zip(left, values)]
    ax.barh(positions, exposed, left=left, color="tab:red", label="exposed communication (% of the step)")
    for y, (c, e) in enumerate(zip(left, exposed)):
        ax.text(c + e, y, f" {100 * e / (c + e):.0f} %", va="center", fontsize=7)
    ax.set_xlim(0, max(c + e for c, e in zip(left, exposed)) * 1.12)   # room for the share beside the bar
    ax.set_yticks(list(positions), labels, fontsize=7)
    ax.invert_yaxis()
    _finish(ax, "step time (ms)", "", f"{_title(rows)}, {at} {_LABELS.get(x, x)}".strip(", "))
    return ax


def plot_traffic_results(table: Any, ax: Any = None, x: str = "gpus") -> Any:
    """Traffic reduction against plain data parallelism (``scheme: none`` at the same configuration) against
    ``x``, one line per scheme and configuration; bytes per GPU per step when the study has no ``none`` rows.
    Both count the bytes each GPU puts on the wire in a step (the results' ``bytes_per_gpu``)."""
    rows = _ok(table)
    ax = _axes(ax)
    dense = rows[rows["scheme"] == "none"]
    if dense.empty:
        for label, style, group in _series(rows, [x]):
            group = group.sort_values(x)
            ax.plot(group[x], group["bytes_per_gpu"] / 2**20, markersize=3.5, label=label or None, **style)
        _x_axis(ax, rows, x)
        log_values(ax)
        _finish(ax, _LABELS.get(x, x), _LABELS["bytes_per_gpu"], _title(rows))
        return ax
    keys = [c for c in series_columns(rows, ["scheme", "algorithm"]) if c != "scheme"]
    keys = list(dict.fromkeys([x, *keys]))
    baseline = dense.set_index(keys)["bytes_per_gpu"]
    compressed = rows[rows["scheme"] != "none"]
    for label, style, group in _series(compressed, [x]):
        group = group.sort_values(x)
        reference = baseline.reindex(group.set_index(keys).index).to_numpy()
        ax.plot(group[x], reference / group["bytes_per_gpu"].to_numpy(), markersize=3.5, label=label, **style)
    ax.axhline(1.0, color="k", linestyle=":", linewidth=1, label="data parallelism (no reduction)")
    _x_axis(ax, rows, x)
    log_values(ax)
    _finish(ax, _LABELS.get(x, x), "wire-traffic reduction vs data parallelism (×)", _title(rows))
    return ax


def bandwidth_column(table: Any) -> str:
    """The swept configuration column that holds a bandwidth (such as ``topology.nic_bandwidth``).

    Examples
    --------
    >>> import pandas as pd
    >>> bandwidth_column(pd.DataFrame({"topology.nic_bandwidth": ["10 Gbit/s", "25 Gbit/s"]}))
    'topology.nic_bandwidth'
    """
    from simtrain import units

    for column in table.columns:
        if not str(column).startswith(("topology.", "network.")) or table[column].nunique() < 2:
            continue
        try:
            [units.parse_bandwidth(v) for v in table[column].dropna()]
        except (units.UnitError, TypeError, ValueError):
            continue
        return str(column)
    raise ConfigError("the results sweep no bandwidth", key="table",
                      allowed="a study with an axis such as topology.nic_bandwidth: [10 Gbit/s, 100 Gbit/s]")


def plot_bandwidth_results(table: Any, ax: Any = None) -> Any:
    """Step time against the swept bandwidth (log-log), one line per configuration: where compression pays."""
    from simtrain import units

    rows = _ok(table).copy()
    column = bandwidth_column(rows)
    rows["bandwidth_Gbps"] = [units.parse_bandwidth(v) * 8 / 1e9 for v in rows[column]]
    ax = _axes(ax)
    for label, style, group in _series(rows, [column, "model"]):
        group = group.sort_values("bandwidth_Gbps")
        ax.plot(group["bandwidth_Gbps"], group["step_time_s"] * 1e3, markersize=3.5, label=label or None, **style)
    log_values(ax, "x")
    log_values(ax)
    _finish(ax, f"{column} (Gbit/s)", _LABELS["step_time_s"], _title(rows))
    return ax


RESULT_PLOTS = ("scaling", "breakdown", "traffic", "bandwidth")


def figure_from_results(table: Any, kind: str) -> Any:
    """A whole figure of ``kind`` (:data:`RESULT_PLOTS`) from a results table: one row of panels per model.

    ``scaling`` draws throughput and scaling efficiency side by side; the others one panel per model.

    Examples
    --------
    >>> import pandas as pd
    >>> figure_from_results(pd.DataFrame({"model": ["m"], "status": ["error"]}), "scaling")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: table: the results hold no successful point to plot
    """
    import matplotlib.pyplot as plt

    if kind not in RESULT_PLOTS:
        raise ConfigError("unknown plot of results", key="kind", value=kind, choices=RESULT_PLOTS)
    rows = _ok(table)
    models = list(dict.fromkeys(rows["model"].astype(str)))
    columns = 2 if kind == "scaling" else 1
    width = {"scaling": 15, "breakdown": 9}.get(kind, 9)
    bars = len(list(_series(rows[rows["model"].astype(str) == models[0]], ["gpus"])))
    height = 0.28 * bars + 1.4 if kind == "breakdown" else 4.4
    fig, axes = plt.subplots(len(models), columns, figsize=(width, height * len(models)), squeeze=False)
    for row, model in enumerate(models):
        subset = rows[rows["model"].astype(str) == model]
        if kind == "scaling":   # one legend per row, beside the right panel: both panels draw the same lines
            plot_scaling(subset, axes[row][0], "throughput_samples_per_s", legend=False)
            plot_scaling(subset, axes[row][1], "scaling_efficiency")
            handles, labels = axes[row][0].get_legend_handles_labels()
            extra = [(h, lab) for h, lab in zip(handles, labels) if lab.startswith("linear scaling")]
            if extra:
                from simtrain.plot.style import legend_outside

                own, own_labels = axes[row][1].get_legend_handles_labels()
                legend_outside(axes[row][1], handles=[*own, *(h for h, _ in extra)],
                               labels=[*own_labels, *(lab for _, lab in extra)])
        elif kind == "breakdown":
            plot_breakdown(subset, axes[row][0])
        elif kind == "traffic":
            plot_traffic_results(subset, axes[row][0])
        else:
            plot_bandwidth_results(subset, axes[row][0])
    fig.tight_layout()
    return fig
