"""Run one study point: a resolved configuration and its seed in, one flat result row out.

Clusters and compute profiles are cached per process, so a sweep over schemes or batch sizes builds each
topology instance once. A point that fails (it does not fit in memory, a topology rejects an override) returns a
row with ``status = "error"`` and the message; it never stops the sweep.

Examples
--------
>>> row = run_point({"model": "resnet50", "topology": "torus-2d", "gpus": 16}, seed=1)
>>> row["status"], row["gpus"], round(row["scaling_efficiency"], 3) <= 1.0
('ok', 16, True)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from simtrain._version import __version__
from simtrain.errors import SimtrainError

__all__ = ["OUTPUT_COLUMNS", "build_cluster", "run_point"]

#: Result columns of a study table (besides the point's configuration keys and derived columns): name → meaning.
OUTPUT_COLUMNS: dict[str, str] = {
    "point": "index of the point in the study (0-based, grid order)",
    "seed": "the point's seed, derived from the study seed and the index",
    "simtrain_version": "version of simtrain that computed the row",
    "status": "ok, or error when the point could not be simulated",
    "error": "the error message of a failed point (empty when ok)",
    "num_gpus": "GPUs simulated",
    "device": "GPU type of the topology",
    "params": "trainable parameters of the model",
    "global_batch": "samples per step over all GPUs",
    "step_time_s": "time of one training step, s (mean over a scheme's period)",
    "forward_time_s": "forward compute per step, s",
    "backward_time_s": "backward compute per step, s",
    "update_time_s": "optimizer update per step, s",
    "compute_time_s": "forward + backward + update, s",
    "comm_time_s": "time the gradient collectives take in total, s (overlapped with backward where possible)",
    "exposed_comm_time_s": "communication not hidden behind compute, s",
    "comm_fraction": "exposed communication / step time",
    "throughput_samples_per_s": "samples per second over the cluster",
    "scaling_efficiency": "throughput / (GPUs × one GPU's throughput)",
    "bytes_per_gpu": "bytes each GPU sends per step (on the wire, mean over the period)",
    "memory_per_gpu_bytes": "GPU memory needed per GPU, bytes",
    "max_link_utilization": "busiest link's busy fraction over the step",
}
_REPORT_COLUMNS = [c for c in OUTPUT_COLUMNS if c not in ("point", "seed", "simtrain_version", "status", "error")]


@functools.lru_cache(maxsize=64)
def _cluster(topology: str, gpus: int | None, overrides: str) -> Any:
    from simtrain.topology import load_topology

    return load_topology(topology, gpus=gpus, overrides=json.loads(overrides))


def build_cluster(point: Mapping[str, Any]) -> Any:
    """The point's cluster (cached per process by topology, GPU count and ``topology.`` overrides).

    Examples
    --------
    >>> build_cluster({"topology": "cloud-25g", "gpus": 64, "topology.nic_bandwidth": "10 Gbit/s"}).num_gpus
    64
    """
    overrides = sorted((k.split(".", 1)[1], v) for k, v in point.items()
                       if k.startswith("topology.") and v is not None)
    return _cluster(point["topology"], point.get("gpus"), json.dumps(overrides))


@functools.lru_cache(maxsize=16)
def _compute(profile: str, device: str) -> Any:
    from simtrain.compute import ComputeModel

    return ComputeModel.from_profile(profile, device=device)


def _jitter(cv: float, num_gpus: int, seed: int) -> Any:
    """Per-GPU compute slow-down factors, log-normal with mean 1 and coefficient of variation ``cv``."""
    from simtrain.network.perturb import Perturbations

    sigma = float(np.sqrt(np.log1p(cv * cv)))
    factors = np.random.default_rng(seed).lognormal(-sigma * sigma / 2, sigma, num_gpus)
    return Perturbations(stragglers={rank: float(f) for rank, f in enumerate(factors)})


def run_point(point: Mapping[str, Any], seed: int, index: int = 0,
              derived: Mapping[str, Callable[[Mapping[str, Any]], float]] | None = None) -> dict[str, Any]:
    """Simulate one point and return its row: configuration, results, seed, version, status.

    Parameters
    ----------
    point : mapping
        A resolved point (:attr:`Study.points`); missing keys take their defaults.
    seed : int
        The point's seed (drives ``compute_jitter``).
    index : int
        The point's index, recorded in the row.
    derived : mapping, optional
        Column name → function of the row (from :meth:`Study.derived_functions`).

    Examples
    --------
    >>> run_point({"model": "resnet50", "topology": "torus-2d", "gpus": 16, "batch": 10**6}, seed=0)["status"]
    'error'
    """
    from simtrain.registry import parse_spec
    from simtrain.study.spec import POINT_KEYS, REQUIRED
    from simtrain.training import simulate

    config = {k.name: point.get(k.name, None if k.default is REQUIRED else k.default) for k in POINT_KEYS}
    config.update({k: v for k, v in point.items() if k not in config})
    row: dict[str, Any] = {"point": index, **config, "seed": seed, "simtrain_version": __version__,
                           "status": "ok", "error": ""}
    try:
        from simtrain.network import NetworkOptions

        cluster = build_cluster(config)
        network = NetworkOptions.from_mapping({k.split(".", 1)[1]: v for k, v in config.items()
                                               if k.startswith("network.") and v is not None}, "<study>", "network")
        name, params = parse_spec(config["algorithm"])
        chunks = params.pop("chunks", config["chunks"])
        compute = _compute(config["profile"], cluster.device) if config.get("profile") else None
        jitter = config.get("compute_jitter") or 0.0
        perturbations = _jitter(jitter, cluster.num_gpus, seed) if jitter > 0 else None
        report = simulate(config["model"], cluster, batch=config["batch"], algorithm=name, dtype=config["dtype"],
                          engine=config["engine"], compute=compute, bucket_size=config["bucket_size"],
                          optimizer=config["optimizer"], chunks=chunks, network=network, algorithm_params=params,
                          perturbations=perturbations, scheme=config["scheme"])
        data = report.to_dict()
        row.update({column: data[column] for column in _REPORT_COLUMNS})
    except (SimtrainError, ValueError, ArithmeticError) as exc:   # a bad point is recorded, the sweep goes on
        row.update({"status": "error", "error": f"{type(exc).__name__}: {exc}"})
        row.update({column: None for column in _REPORT_COLUMNS})
    for column, function in (derived or {}).items():
        try:
            row[column] = float(function(row)) if row["status"] == "ok" else None
        except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
            row[column] = None
            row["error"] = (row["error"] + "; " if row["error"] else "") + f"derived.{column}: {exc}"
    return row
