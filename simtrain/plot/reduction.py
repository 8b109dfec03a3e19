"""What communication reduction buys: traffic-reduction curves, and step time against network bandwidth, per scheme.

The sweep functions return tidy ``pandas.DataFrame`` rows (one per scheme and swept value, columns named with
units); the plot functions take such a frame and return the Axes they drew on. :func:`sweep_bandwidth` is a
what-if study (:func:`simtrain.study.study_from_dict`): its points are validated before anything runs, and each
runs as the study runner runs it.

Examples
--------
>>> df = sweep_traffic("resnet18-cifar", ["powersgd", "ab-training"], "rank", [1, 4], gpus=16, batch=128,
...                    samples_per_epoch=50000)
>>> sorted(df["scheme"].unique())
['ab-training', 'powersgd']
>>> bool((df["reduction_percent"] > 85).all())
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from simtrain.errors import ConfigError
from simtrain.inputs import first_repeat
from simtrain.nccl_tests import MAX_SWEEP_POINTS
from simtrain.plot.style import log_if_wide

__all__ = ["BYTES", "MAX_VALUES", "Progress", "bandwidth_key", "check_values", "plot_bandwidth", "plot_traffic",
           "plot_traffic_figure", "sweep_bandwidth", "sweep_traffic", "sweep_traffic_each"]

#: ``progress(done, total, label)``: told after every row of a sweep (``ProgressBar.callback`` takes it).
Progress = Callable[[int, int, str], None]
#: The most values one swept list may hold (each is simulated), as ``collective -f`` caps its sizes.
MAX_VALUES = MAX_SWEEP_POINTS


def check_values(values: Sequence[Any], key: str, what: str = "values") -> None:
    """Refuse a swept list of more than :data:`MAX_VALUES` values, before any is read.

    Examples
    --------
    >>> check_values([1] * 1001, "bandwidths")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: bandwidths: gives 1001 values; at most 1000
    """
    if len(values) > MAX_VALUES:
        raise ConfigError(f"gives {len(values)} {what}; at most {MAX_VALUES}", key=key)


#: What the byte axes count: ``wire`` the bytes each GPU puts on the network (the collective's schedule: a QSGD
#: all-gather sends p - 1 messages), ``payload`` the message each GPU contributes (what papers report).
BYTES = ("wire", "payload")


def sweep_traffic(model: str, schemes: Sequence[str], key: str, values: Sequence[Any], *, gpus: int = 16,
                  batch: int = 128, samples_per_epoch: int = 50000, epochs: float = 1, dtype: str = "fp32",
                  steady: bool = True, topology: str | None = None, gpus_per_node: int | None = 4,
                  progress: Progress | None = None) -> Any:
    """Payload and wire bytes per epoch of each scheme as ``key`` takes each value.

    ``key`` is a scheme parameter (``rank``, ``density``, ``period`` …) or ``gpus``. A scheme without the
    parameter is held at its own settings (its rows have ``swept`` False: a flat line beside the others); it is an
    error only when no scheme has it. With ``steady`` (the default) warm-ups are left out and every step is one of a
    period of the scheme's steady schedule, in its share. ``gpus_per_node`` (default 4, AB-training's HoreKa nodes)
    sets the in-node groups when no topology is given. ``reduction_factor`` and ``reduction_percent`` compare
    payloads, ``wire_reduction_factor`` and ``wire_reduction_percent`` the bytes sent (negative: more than data
    parallelism). ``progress`` is told after each row.

    Examples
    --------
    >>> df = sweep_traffic("resnet18-cifar", ["powersgd", "topk:density=0.01"], "rank", [1, 2], gpus=8)
    >>> df[["scheme", "value", "swept"]].values.tolist()
    [['powersgd', 1, True], ['powersgd', 2, True], ['topk', 1, False], ['topk', 2, False]]
    """
    import pandas as pd

    from simtrain.compression import SCHEMES, make_scheme
    from simtrain.registry import parse_spec

    check_values(values, "values", f"values of {key}")
    parsed = [parse_spec(spec, key="schemes") for spec in schemes]
    if not parsed:
        raise ConfigError("name at least one scheme", key="schemes", value=list(schemes))
    if first_repeat(schemes) is not None:   # one curve drawn twice: a typo
        raise ConfigError("a scheme is given twice", key="schemes", value=list(schemes))
    for spec, (name, params) in zip(schemes, parsed):   # the sweep would replace it without a word
        if key in params:
            raise ConfigError(f"{name} sets {key}, which the sweep varies: give it once, in the sweep",
                              key="schemes", value=spec)
    if key != "gpus" and topology is None and gpus_per_node and gpus % gpus_per_node:
        # only a sweep over GPU counts may go below one node (the node then shrinks to divide them)
        raise ConfigError(f"must divide the {gpus} GPUs", key="gpus_per_node", value=gpus_per_node)
    has = [key == "gpus" or key in SCHEMES.get(name).param_spec for name, _ in parsed]
    if not any(has):
        names = sorted({p for name, _ in parsed for p in SCHEMES.get(name).param_spec})
        raise ConfigError(f"no parameter to sweep: none of {', '.join(n for n, _ in parsed)} has it", key="key",
                          value=key, choices=[*names, "gpus"])
    options = {"batch": batch, "samples_per_epoch": samples_per_epoch, "epochs": epochs, "dtype": dtype,
               "steady": steady, "topology": topology, "gpus_per_node": gpus_per_node}
    if key == "gpus":   # GPU counts, as ``--gpus`` takes them (whole, positive, at most MAX_GPUS)
        from simtrain.limits import MAX_GPUS

        counts = [v for v in values if not isinstance(v, bool) and isinstance(v, int) and 1 <= v <= MAX_GPUS]
        if len(counts) != len(values):
            bad = next(v for v in values if v not in counts)
            raise ConfigError(f"GPU counts must be whole numbers from 1 to {MAX_GPUS}", key="values", value=bad)
    rows = []
    for (name, params), swept in zip(parsed, has):
        fixed = None if swept else _traffic_row(make_scheme(name, **params), model, gpus, options)
        for value in values:
            if swept:
                scheme = make_scheme(name, **({**params} if key == "gpus" else {**params, key: value}))
                row = _traffic_row(scheme, model, int(value) if key == "gpus" else gpus, options)
            else:
                row = dict(fixed or {})
            rows.append({"model": row.pop("model"), "scheme": name, "scheme_spec": row.pop("scheme_spec"),
                         "parameter": key, "value": value, "swept": swept, **row})
            if progress is not None:
                progress(len(rows), len(parsed) * len(values), f"{name} {key}={value}")
    # values as given (rank 4 stays 4 beside a density of 0.01 when sweeps are concatenated)
    return pd.DataFrame(rows).astype({"value": object})


def sweep_traffic_each(model: str, schemes: Sequence[str], sweeps: Mapping[str, Sequence[Any]],
                       **options: Any) -> Any:
    """Each scheme along its own parameters: one :func:`sweep_traffic` per parameter in ``sweeps``, over the
    schemes that have it, so PowerSGD's rank, top-k's density and QSGD's levels share one figure
    (:func:`plot_traffic_figure` draws one row of panels per parameter). A scheme with none of the parameters is
    held at its settings in every row. ``options`` are :func:`sweep_traffic`'s (``progress`` counts every row of
    every parameter).

    Examples
    --------
    >>> df = sweep_traffic_each("resnet18-cifar", ["powersgd", "topk"], {"rank": [1, 2], "density": [0.1, 0.01]},
    ...                         gpus=8)
    >>> df[["parameter", "scheme", "value"]].drop_duplicates("parameter").values.tolist()
    [['rank', 'powersgd', 1], ['density', 'topk', 0.1]]
    """
    import pandas as pd

    from simtrain.compression import SCHEMES
    from simtrain.registry import parse_spec

    if not sweeps:
        raise ConfigError("name at least one parameter to sweep", key="sweeps", allowed="e.g. {'rank': [1, 2, 4]}")
    for key, values in sweeps.items():   # every list before the first row runs
        check_values(values, "sweeps", f"values of {key}")
    names = [parse_spec(spec, key="schemes")[0] for spec in schemes]
    keys_of = [{k for k in sweeps if k == "gpus" or k in SCHEMES.get(name).param_spec} for name in names]
    progress: Progress | None = options.pop("progress", None)
    plan = []
    for key, values in sweeps.items():
        chosen = [spec for spec, keys in zip(schemes, keys_of) if key in keys or not keys]
        if not any(key in keys for keys in keys_of):
            chosen = list(schemes)   # sweep_traffic names the parameter no scheme has
        plan.append((key, values, chosen))
    total = sum(len(values) * len(chosen) for _, values, chosen in plan)
    frames: list[Any] = []
    for key, values, chosen in plan:
        done = sum(len(frame) for frame in frames)
        tell = None if progress is None else (
            lambda n, _total, label, done=done: progress(done + n, total, label))
        frames.append(sweep_traffic(model, chosen, key, values, progress=tell, **options))
    return pd.concat(frames, ignore_index=True)


def _traffic_row(scheme: Any, model: str, gpus: int, options: dict[str, Any]) -> dict[str, Any]:
    """One scheme's traffic as the columns of a sweep row."""
    from simtrain.compression.traffic import traffic

    topology = options["topology"]
    report = traffic(scheme, model, gpus=gpus, batch=options["batch"], samples_per_epoch=options["samples_per_epoch"],
                     epochs=options["epochs"], dtype=options["dtype"], steady=options["steady"], topology=topology,
                     gpus_per_node=None if topology else _node_size(options["gpus_per_node"], gpus))
    data = report.to_dict()
    wire, base_wire = data["wire_bytes_per_epoch_per_gpu"], data["baseline_wire_bytes_per_epoch_per_gpu"]
    network = topology or f"{_node_size(options['gpus_per_node'], gpus)} per node"
    return {"model": data["model"], "scheme_spec": scheme.describe(), "gpus": gpus, "network": network,
            "payload_bytes_per_epoch_per_gpu": data["payload_bytes_per_epoch_per_gpu"],
            "wire_bytes_per_epoch_per_gpu": wire,
            "baseline_payload_bytes_per_epoch_per_gpu": data["baseline_payload_bytes_per_epoch_per_gpu"],
            "baseline_wire_bytes_per_epoch_per_gpu": base_wire,
            "reduction_factor": data["reduction_factor"], "reduction_percent": data["reduction_percent"],
            "wire_reduction_factor": base_wire / wire if wire > 0 else float("inf"),
            "wire_reduction_percent": 100.0 * (1 - wire / base_wire) if base_wire else 0.0}


def _node_size(gpus_per_node: int | None, gpus: int) -> int:
    """The node size, shrunk to divide the GPU count (a sweep over GPUs may go below one node)."""
    size = min(gpus_per_node or 1, gpus)
    while gpus % size:
        size -= 1
    return size


def _check_bytes(kind: str) -> None:
    if kind not in BYTES:
        raise ConfigError("unknown kind of bytes", key="bytes", value=kind, choices=BYTES)


def plot_traffic(frame: Any, ax_bytes: Any = None, ax_reduction: Any = None, *, bytes: str = "wire",
                 legend: bool = True, schemes: Sequence[str] = ()) -> tuple[Any, Any]:
    """Bytes per GPU per epoch (log scale) and the reduction against data parallelism (×, log scale: below 1 the
    scheme sends more) against one swept parameter, one line per scheme; a scheme held fixed is a dashed flat line.

    ``bytes`` is ``wire`` (default: what each GPU sends, all-gathers included) or ``payload`` (the message it
    contributes); the dashed black line is data parallelism's. ``legend``: draw the legend beside ``ax_reduction``.
    ``schemes``: the order that gives each scheme its colour and marker (default: the frame's), so that panels of
    one figure agree.
    """
    import matplotlib.pyplot as plt

    from simtrain.plot.style import gpu_axis, legend_outside, log_values, series_style, ticks_at

    _check_bytes(bytes)
    parameters = list(dict.fromkeys(frame["parameter"].astype(str)))
    if len(parameters) != 1:
        raise ConfigError("plot_traffic draws one swept parameter; plot_traffic_figure draws several", key="frame",
                          value=parameters)
    if ax_bytes is None or ax_reduction is None:
        _, (ax_bytes, ax_reduction) = plt.subplots(1, 2, figsize=(12, 4.2))
    key = parameters[0]
    column = f"{bytes}_bytes_per_epoch_per_gpu"
    factor = "wire_reduction_factor" if bytes == "wire" else "reduction_factor"
    order = list(dict.fromkeys([*schemes, *frame["scheme"].astype(str)]))
    for (scheme, swept), group in frame.groupby(["scheme", "swept"], sort=False):
        style: dict[str, Any] = {**series_style(order.index(str(scheme))), "linestyle": "-" if swept else "--"}
        if swept:
            label = str(scheme)
        else:
            label = f"{group['scheme_spec'].iloc[0]} (fixed)"
            style["markevery"] = [0]
        ax_bytes.plot(group["value"], group[column] / 2**20, markersize=4, label=label, **style)
        ax_reduction.plot(group["value"], group[factor], markersize=4, label=label, **style)
    baseline = frame.groupby("value", sort=False)[f"baseline_{column}"].first()
    ax_bytes.plot(baseline.index, baseline.values / 2**20, "k--", linewidth=1, label="data parallelism")
    ax_reduction.axhline(1.0, color="k", linestyle="--", linewidth=1, label="data parallelism")
    for ax in (ax_bytes, ax_reduction):
        log_values(ax)
        if key == "gpus":
            gpu_axis(ax, frame["value"])
        else:
            log_if_wide(ax, list(frame["value"]), "x")
            ticks_at(ax, frame["value"])
        ax.set_xlabel("GPUs" if key == "gpus" else key)
        ax.grid(True, which="both", alpha=0.3)
    if legend:
        legend_outside(ax_reduction, fontsize=8)
    model = frame["model"].iloc[0]
    workers = sorted(set(frame["gpus"])) if key != "gpus" else []
    where = f", {workers[0]} GPUs" if len(workers) == 1 else ""
    if "network" in frame and frame["network"].nunique() == 1:   # what decides the collectives' wire bytes
        where += f" ({frame['network'].iloc[0]})"
    what = "sent per GPU (wire)" if bytes == "wire" else "payload per GPU"
    ax_bytes.set_ylabel(f"{what} per epoch (MiB)")
    ax_bytes.set_title(f"{model}{where}: {bytes} bytes per epoch")
    ax_reduction.set_ylabel(f"data parallelism / scheme, {bytes} bytes (×)")
    ax_reduction.set_title(f"{model}{where}: {bytes} traffic reduction")
    return ax_bytes, ax_reduction


def plot_traffic_figure(frame: Any, *, bytes: str = "wire") -> Any:
    """The whole traffic figure: one row of :func:`plot_traffic` panels per swept parameter (a frame of
    :func:`sweep_traffic` or :func:`sweep_traffic_each`); returns the Figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> df = sweep_traffic_each("resnet18-cifar", ["powersgd", "topk"], {"rank": [1, 2], "density": [0.1, 0.01]},
    ...                         gpus=8)
    >>> len(plot_traffic_figure(df).axes)
    4
    """
    import matplotlib.pyplot as plt

    _check_bytes(bytes)
    parameters = list(dict.fromkeys(frame["parameter"].astype(str)))
    fig, axes = plt.subplots(len(parameters), 2, figsize=(13, 4.2 * len(parameters)), squeeze=False)
    schemes = list(dict.fromkeys(frame["scheme"].astype(str)))
    for row, parameter in enumerate(parameters):
        plot_traffic(frame[frame["parameter"].astype(str) == parameter], axes[row][0], axes[row][1], bytes=bytes,
                     schemes=schemes)
    fig.tight_layout()
    return fig


def bandwidth_key(topology: str) -> str:
    """The YAML key that sets a topology's network bandwidth (NIC bandwidth on clusters).

    Examples
    --------
    >>> bandwidth_key("cloud-25g"), bandwidth_key("abci"), bandwidth_key("torus-2d")
    ('nic_bandwidth', 'nic.bandwidth', 'bandwidth')
    """
    from simtrain.catalog import resolve
    from simtrain.config import load_yaml

    data = load_yaml(resolve("topologies", topology))
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "cloud":
        return "nic_bandwidth"
    if kind == "hierarchical":
        return "nic.bandwidth"
    if kind == "stack":
        return f"dimensions.{len(data['dimensions']) - 1}.bandwidth"
    if kind == "fat_tree" or kind in ("torus", "ring", "switch", "fully_connected"):
        return "bandwidth"
    raise ConfigError("cannot find the network bandwidth of this topology", key="topology", value=topology,
                      allowed="a catalog topology or a stack/torus/cluster YAML")


def sweep_bandwidth(model: str, topology: str, schemes: Sequence[str], bandwidths: Sequence[str], *, gpus: int,
                    batch: int = 32, dtype: str = "fp32", algorithm: str = "auto", engine: str = "analytical",
                    progress: Progress | None = None) -> Any:
    """Step time of each scheme as the network bandwidth takes each value (strings with units).

    The sweep is a study over the topology's bandwidth key (:func:`bandwidth_key`) and the schemes, every point
    checked before the first runs; a point that fails raises its error (a study table would record it instead).
    ``progress`` is told after each point.

    Examples
    --------
    >>> df = sweep_bandwidth("resnet18-cifar", "cloud-25g", ["none", "powersgd:rank=2"], ["1 Gbit/s", "100 Gbit/s"],
    ...                      gpus=16)
    >>> df[["scheme", "bandwidth_Bps"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['none', 125000000.0], ['powersgd:rank=2', 125000000.0], ['none', 12500000000.0],
     ['powersgd:rank=2', 12500000000.0]]
    >>> bool(df["step_time_s"].iloc[1] < df["step_time_s"].iloc[0])
    True
    """
    import pandas as pd

    from simtrain import units
    from simtrain.study.point import PROCESS_CACHE, point_run
    from simtrain.training import simulate

    check_values(bandwidths, "bandwidths", "bandwidths")
    if first_repeat(schemes) is not None:   # one curve drawn twice: a typo, as sweep_traffic says
        raise ConfigError("a scheme is given twice", key="schemes", value=list(schemes))
    rates = []
    for text in bandwidths:
        try:
            rates.append(units.parse_bandwidth(text))
        except units.UnitError as exc:
            raise ConfigError(str(exc), key="bandwidths") from None
    study = _bandwidth_study(model, topology, schemes, bandwidths, gpus=gpus, batch=batch, dtype=dtype,
                             algorithm=algorithm, engine=engine)
    rows = []
    for index, (point, seed) in enumerate(zip(study.points, study.seeds())):
        report = simulate(point_run(point, seed), cache=PROCESS_CACHE)
        rows.append({"model": report.model, "topology": topology, "scheme": report.scheme,
                     "bandwidth_Bps": rates[index // len(schemes)], "step_time_s": report.step_time_s,
                     "exposed_comm_time_s": report.exposed_comm_time_s,
                     "throughput_samples_per_s": report.throughput_samples_per_s,
                     "scaling_efficiency": report.scaling_efficiency, "gpus": report.num_gpus,
                     "device": report.device})
        if progress is not None:
            progress(index + 1, len(study.points), f"{report.scheme} at {bandwidths[index // len(schemes)]}")
    return pd.DataFrame(rows)


_STUDY = "sweep_bandwidth"


def _bandwidth_study(model: str, topology: str, schemes: Sequence[str], bandwidths: Sequence[str], **base: Any) -> Any:
    """The grid of bandwidths (outer) and schemes as a study; its errors name this module's parameters."""
    from simtrain.model import load_model
    from simtrain.study import study_from_dict
    from simtrain.topology import load_topology

    if not schemes:
        raise ConfigError("name at least one scheme", key="schemes", value=list(schemes))
    if not bandwidths:
        raise ConfigError("name at least one bandwidth", key="bandwidths", value=list(bandwidths))
    load_model(model)   # a broken model or topology file: its own error, naming the file
    load_topology(topology, gpus=base["gpus"])
    axis = f"topology.{bandwidth_key(topology)}"
    try:
        return study_from_dict({"name": "bandwidth", "base": {"model": model, "topology": topology, **base},
                                "sweep": {"grid": {axis: list(bandwidths), "scheme": list(schemes)}}}, source=_STUDY)
    except ConfigError as exc:
        if exc.source != _STUDY:
            raise
        where = exc.key or ""
        if where.startswith("base."):
            key: str | None = where.split(".", 1)[1]
        elif where.startswith("sweep.grid.scheme"):
            key = "schemes"
        elif where.startswith("sweep.grid."):
            key = "bandwidths"
        else:
            key = exc.key
        raise ConfigError(exc.message, key=key, value=exc.value, choices=exc.choices, allowed=exc.allowed) from None


def plot_bandwidth(frame: Any, ax: Any = None) -> Any:
    """Step time against bandwidth (log-log), one line per scheme: where compression starts to pay. The title
    names the model, the cluster and its GPUs."""
    import matplotlib.pyplot as plt

    from simtrain.plot.style import device_label, legend_outside, log_values, series_style, ticks_at

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    for index, (scheme, group) in enumerate(frame.groupby("scheme", sort=False)):
        ax.plot(group["bandwidth_Bps"] * 8 / 1e9, group["step_time_s"] * 1e3, markersize=4, label=scheme,
                **series_style(index))
    ax.set_xscale("log")
    ticks_at(ax, sorted(set(frame["bandwidth_Bps"] * 8 / 1e9)))   # at the swept bandwidths
    log_values(ax)
    ax.set_xlabel("network bandwidth per NIC (Gbit/s)")
    ax.set_ylabel("step time (ms)")
    where = f"{frame['model'].iloc[0]} on {frame['topology'].iloc[0]}"
    if "gpus" in frame.columns and "device" in frame.columns:
        where += f", {int(frame['gpus'].iloc[0])} × {device_label(frame['device'].iloc[0])}"
    ax.set_title(where)
    ax.grid(True, which="both", alpha=0.3)
    legend_outside(ax, fontsize=8)
    return ax
