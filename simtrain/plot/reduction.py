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

from collections.abc import Sequence
from typing import Any

from simtrain.errors import ConfigError
from simtrain.plot.style import log_if_wide

__all__ = ["bandwidth_key", "plot_bandwidth", "plot_traffic", "sweep_bandwidth", "sweep_traffic"]


def sweep_traffic(model: str, schemes: Sequence[str], key: str, values: Sequence[Any], *, gpus: int = 16,
                  batch: int = 128, samples_per_epoch: int = 50000, epochs: float = 1, dtype: str = "fp32",
                  steady: bool = True, topology: str | None = None, gpus_per_node: int | None = 4) -> Any:
    """Payload and wire bytes per epoch of each scheme as ``key`` takes each value.

    ``key`` is a scheme parameter (``rank``, ``density``, ``period`` …; schemes without it are an error) or
    ``gpus``. With ``steady`` (the default) warm-ups are left out and every step is one of a period of the
    scheme's steady schedule, in its share. ``gpus_per_node`` (default 4, AB-training's HoreKa nodes) sets the
    in-node groups when no topology is given.
    """
    import pandas as pd

    from simtrain.compression import SCHEMES, make_scheme
    from simtrain.compression.traffic import traffic
    from simtrain.registry import parse_spec

    rows = []
    for spec in schemes:
        name, params = parse_spec(spec, key="schemes")
        if key != "gpus" and key not in SCHEMES.get(name).param_spec:
            raise ConfigError(f"scheme {name!r} has no parameter to sweep", key="key", value=key,
                              choices=[*SCHEMES.get(name).param_spec, "gpus"])
        for value in values:
            scheme = make_scheme(name, **({**params} if key == "gpus" else {**params, key: value}))
            workers = int(value) if key == "gpus" else gpus
            report = traffic(scheme, model, gpus=workers, batch=batch, samples_per_epoch=samples_per_epoch,
                             epochs=epochs, dtype=dtype, steady=steady, topology=topology,
                             gpus_per_node=None if topology else _node_size(gpus_per_node, workers))
            data = report.to_dict()
            rows.append({"model": data["model"], "scheme": name, "scheme_spec": scheme.describe(), "parameter": key,
                         "value": value, "gpus": workers,
                         "payload_bytes_per_epoch_per_gpu": data["payload_bytes_per_epoch_per_gpu"],
                         "wire_bytes_per_epoch_per_gpu": data["wire_bytes_per_epoch_per_gpu"],
                         "baseline_payload_bytes_per_epoch_per_gpu": data["baseline_payload_bytes_per_epoch_per_gpu"],
                         "baseline_wire_bytes_per_epoch_per_gpu": data["baseline_wire_bytes_per_epoch_per_gpu"],
                         "reduction_factor": data["reduction_factor"],
                         "reduction_percent": data["reduction_percent"]})
    return pd.DataFrame(rows)


def _node_size(gpus_per_node: int | None, gpus: int) -> int:
    """The node size, shrunk to divide the GPU count (a sweep over GPUs may go below one node)."""
    size = gpus_per_node or 1
    while gpus % size:
        size -= 1
    return size


def plot_traffic(frame: Any, ax_bytes: Any = None, ax_reduction: Any = None) -> tuple[Any, Any]:
    """Bytes per epoch (log scale) and reduction in % against the swept parameter, one line per scheme."""
    import matplotlib.pyplot as plt

    if ax_bytes is None or ax_reduction is None:
        _, (ax_bytes, ax_reduction) = plt.subplots(1, 2, figsize=(11, 4.2))
    key = str(frame["parameter"].iloc[0])
    for scheme, group in frame.groupby("scheme", sort=False):
        ax_bytes.plot(group["value"], group["payload_bytes_per_epoch_per_gpu"] / 2**20, marker="o", label=scheme)
        ax_reduction.plot(group["value"], group["reduction_percent"], marker="o", label=scheme)
    baseline = frame.groupby("value", sort=False)["baseline_payload_bytes_per_epoch_per_gpu"].first()
    ax_bytes.plot(baseline.index, baseline.values / 2**20, "k--", label="uncompressed")
    ax_bytes.set_yscale("log")
    for ax in (ax_bytes, ax_reduction):
        log_if_wide(ax, list(frame["value"]), "x")
        ax.set_xlabel(key)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    model = frame["model"].iloc[0]
    ax_bytes.set_ylabel("payload per GPU per epoch (MiB)")
    ax_bytes.set_title(f"{model}: traffic per epoch")
    ax_reduction.set_ylabel("reduction vs data parallelism (%)")
    ax_reduction.set_title(f"{model}: traffic reduction")
    return ax_bytes, ax_reduction


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
                    batch: int = 32, dtype: str = "fp32", algorithm: str = "auto", engine: str = "analytical") -> Any:
    """Step time of each scheme as the network bandwidth takes each value (strings with units).

    The sweep is a study over the topology's bandwidth key (:func:`bandwidth_key`) and the schemes, every point
    checked before the first runs; a point that fails raises its error (a study table would record it instead).

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
                     "scaling_efficiency": report.scaling_efficiency})
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
    """Step time against bandwidth (log-log), one line per scheme: where compression starts to pay."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    for scheme, group in frame.groupby("scheme", sort=False):
        ax.plot(group["bandwidth_Bps"] * 8 / 1e9, group["step_time_s"] * 1e3, marker="o", label=scheme)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("network bandwidth per NIC (Gbit/s)")
    ax.set_ylabel("step time (ms)")
    ax.set_title(f"{frame['model'].iloc[0]} on {frame['topology'].iloc[0]}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
