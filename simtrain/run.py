"""One run description: every parameter of a simulated training run, its default, unit and validation, declared once.

:data:`RUN_PARAMS` declares the parameters; :class:`TrainingRun` is the frozen, validated description built from
them. Everything else is generated from these declarations: the ``simtrain simulate`` flags
(:func:`simtrain.cli.simulate`), the keys of a study point (:data:`simtrain.study.POINT_KEYS`), the reference
docs (``docs/reference.md``) and the resolved configuration a report records (:meth:`TrainingRun.to_dict`).

Two more kinds of key refine a run: ``topology.KEY`` overrides a key of the topology's YAML file, and
``network.KEY`` sets a network option (:data:`simtrain.network.types.NETWORK_KEYS`).

Examples
--------
>>> run = TrainingRun("resnet50", "abci", gpus=64, batch=16, bucket_size="50 MiB")
>>> run.bucket_size
52428800.0
>>> run.replace(batch=32).batch
32
>>> TrainingRun("resnet50", "abci", batch=0)
Traceback (most recent call last):
...
simtrain.errors.ConfigError: batch: must be at least 1 (got 0)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simtrain.errors import ConfigError
from simtrain.params import QUANTITY_KINDS, REQUIRED, Param, read_params

__all__ = ["DTYPES", "ENGINES", "OPTIMIZERS", "RUN_PARAMS", "TrainingRun", "check_combination", "profile_fingerprint"]

#: Compute and gradient precisions.
DTYPES = ("fp32", "fp16", "bf16")
#: Network engines.
ENGINES = ("analytical", "des")
#: Optimizers → fp32 state tensors per parameter.
OPTIMIZERS = ("sgd", "momentum", "adam", "novograd", "lamb", "lars")


def _algorithm_names() -> list[str]:
    from simtrain.collectives import ALGORITHMS

    return ALGORITHMS.names()


#: The parameters of a training run, in the order of a study table's columns.
RUN_PARAMS: tuple[Param, ...] = (
    Param("model", "string", REQUIRED, "the model trained: a catalog name (`simtrain list models`) or a YAML path"),
    Param("topology", "string", REQUIRED,
          "the cluster: a catalog name (`simtrain list topologies`) or a YAML path"),
    Param("gpus", "integer", None, "GPU count the topology family is instantiated at (unset: the file's size)",
          minimum=1),
    Param("batch", "integer", 32, "samples per GPU per step", minimum=1),
    Param("dtype", "choice", "fp32", "compute and gradient precision", choices=DTYPES),
    Param("optimizer", "choice", "momentum", "optimizer (its state memory and update time)", choices=OPTIMIZERS),
    Param("algorithm", "string", "ring",
          "collective algorithm of the gradient all-reduces, NAME[:key=value,...] (`simtrain list algorithms`)"),
    Param("scheme", "string", "none",
          "communication-reduction scheme, NAME[:key=value,...] (`simtrain list schemes`)"),
    Param("engine", "choice", "analytical", "network engine", choices=ENGINES),
    Param("profile", "string", None,
          "compute profile from `simtrain calibrate`: a name in profiles/ or a JSON path (unset: datasheet roofline)"),
    Param("bucket_size", "size", "25 MiB", "gradient bucket size", minimum=0, exclusive_minimum=True, unit="B"),
    Param("chunks", "integer", 1, "chunks per bucket collective (pipelining)", minimum=1),
    Param("compute_jitter", "number", 0.0,
          "coefficient of variation of per-GPU compute speed, drawn log-normally from the seed (engine des)",
          minimum=0.0, maximum=1.0),
    Param("seed", "integer", 0, "seed of the random draws (compute jitter)", minimum=0),
    Param("store_and_forward", "boolean", False, "DES: serialise every hop (as ASTRA-sim's congestion-aware backend)"),
    Param("perturbations", "string", None,
          "DES: a YAML file of stragglers, degraded or failed links and background traffic"),
    Param("check_memory", "boolean", True, "fail when the step does not fit in GPU memory"),
)


_NAMES = [p.name for p in RUN_PARAMS]


def check_combination(compute_jitter: float, store_and_forward: bool, engine: str) -> None:
    """The rules between run parameters: jitter and store-and-forward are simulated by the DES only.

    Examples
    --------
    >>> check_combination(0.1, False, "analytical")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: compute_jitter: per-GPU compute jitter is simulated by the DES; use engine 'des' \
(got 0.1)
    """
    if compute_jitter > 0 and engine != "des":
        raise ConfigError("per-GPU compute jitter is simulated by the DES; use engine 'des'",
                          key="compute_jitter", value=compute_jitter)
    if store_and_forward and engine != "des":
        raise ConfigError("store-and-forward is a DES option; use engine 'des'", key="store_and_forward",
                          value=True)


@dataclass(frozen=True)
class TrainingRun:
    """A training run to simulate: every parameter validated on construction, defaults filled in.

    Parameters are those of :data:`RUN_PARAMS`. From Python, ``model`` and ``topology`` may also be a
    :class:`~simtrain.model.ModelSpec` and a :class:`~simtrain.topology.Cluster`, ``scheme`` a
    :class:`~simtrain.compression.Scheme`, ``perturbations`` a :class:`~simtrain.network.perturb.Perturbations`,
    and quantities plain numbers in SI units. Besides them:

    Attributes
    ----------
    topology_overrides : tuple of (str, object)
        ``topology.KEY`` overrides of the topology file, as ``(KEY, value)`` pairs.
    network : mapping
        Network options by user key (``protocol``, ``endpoint_delay`` …), or a
        :class:`~simtrain.network.types.NetworkOptions`.
    algorithm_params : mapping
        Parameters of the algorithm besides those in its ``NAME:key=value`` spec (Python only).
    compute : ComputeModel, optional
        A compute model object (Python only); overrides ``profile``.

    Examples
    --------
    >>> TrainingRun("bert-base", "dgx-h100", gpus=64, scheme="powersgd:rank=4").scheme
    'powersgd:rank=4'
    >>> TrainingRun("bert-base", "dgx-h100", dtype="fp8")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: dtype: unknown value: 'fp8'; allowed: bf16, fp16, fp32
    """

    model: Any
    topology: Any
    gpus: int | None = None
    batch: int = 32
    dtype: str = "fp32"
    optimizer: str = "momentum"
    algorithm: str = "ring"
    scheme: Any = "none"
    engine: str = "analytical"
    profile: str | None = None
    bucket_size: Any = "25 MiB"   # bytes once validated
    chunks: int = 1
    compute_jitter: float = 0.0
    seed: int = 0
    store_and_forward: bool = False
    perturbations: Any = None
    check_memory: bool = True
    topology_overrides: tuple[tuple[str, Any], ...] = ()
    network: Any = field(default_factory=dict)
    algorithm_params: Any = field(default_factory=dict)
    compute: Any = None

    def __post_init__(self) -> None:
        from simtrain.compression import Scheme
        from simtrain.model import ModelSpec
        from simtrain.topology import Cluster

        objects = {"model": ModelSpec, "topology": Cluster, "scheme": Scheme}
        plain = {}
        for p in RUN_PARAMS:
            value = getattr(self, p.name)
            if p.name in objects and isinstance(value, objects[p.name]):
                continue
            if p.name == "perturbations" and value is not None and not isinstance(value, (str, Path)):
                continue
            plain[p.name] = str(value) if isinstance(value, Path) else value
        checked = read_params([p for p in RUN_PARAMS if p.name in plain], plain, numbers_are_si=True)
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        if isinstance(self.topology_overrides, Mapping):
            object.__setattr__(self, "topology_overrides", tuple(self.topology_overrides.items()))
        # a frozen run holds no mapping a caller could change after validation
        for name in ("network", "algorithm_params"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, MappingProxyType(dict(value)))
        check_combination(self.compute_jitter, self.store_and_forward, self.engine)

    # -- constructors ---------------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str | None = None, path: str = "") -> TrainingRun:
        """A run from a mapping of a file or flags: quantities need units; ``topology.KEY`` and ``network.KEY``
        keys refine the topology and the network.

        Examples
        --------
        >>> run = TrainingRun.from_mapping({"model": "resnet50", "topology": "abci", "network.protocol": "nccl"})
        >>> dict(run.network)
        {'protocol': 'nccl'}
        >>> TrainingRun.from_mapping({"model": "resnet50", "topology": "abci", "bucket_size": 25}, "s.yaml")
        Traceback (most recent call last):
        ...
        simtrain.errors.ConfigError: s.yaml: bucket_size: got the bare number 25 with no unit; ...
        """
        plain = {k: v for k, v in data.items() if not str(k).startswith(("topology.", "network."))}
        # what only a file or a flag can get wrong (a quantity without its unit, a missing or unknown key) is read
        # here; the run itself then validates every value once
        given = [p for p in RUN_PARAMS if p.required or (p.kind in QUANTITY_KINDS and plain.get(p.name) is not None)]
        read_params(given, {p.name: plain[p.name] for p in given if p.name in plain}, source=source, path=path,
                    extra_allowed=plain)
        unknown = [k for k in plain if k not in _NAMES]
        if unknown:
            raise ConfigError("unknown key", source=source, key=f"{path}.{unknown[0]}" if path else str(unknown[0]),
                              value=str(unknown[0]), choices=_NAMES)
        topology = tuple((str(k).split(".", 1)[1], v) for k, v in data.items()
                         if str(k).startswith("topology.") and v is not None)
        network = {str(k).split(".", 1)[1]: v for k, v in data.items()
                   if str(k).startswith("network.") and v is not None}
        try:
            return cls(**plain, topology_overrides=topology, network=network)
        except ConfigError as exc:
            if exc.source:
                raise
            key = f"{path}.{exc.key}" if path and exc.key else exc.key
            raise ConfigError(exc.message, source=source, key=key, value=exc.value, choices=exc.choices,
                              allowed=exc.allowed) from None

    def replace(self, **changes: Any) -> TrainingRun:
        """A copy with some parameters changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- what ran -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The run's parameters as plain data (names of objects given from Python, not the objects).

        Examples
        --------
        >>> TrainingRun("resnet50", "abci", gpus=8).to_dict()["bucket_size"]
        26214400.0
        """
        out: dict[str, Any] = {}
        if self.algorithm_params:
            out["algorithm_params"] = dict(self.algorithm_params)
        for p in RUN_PARAMS:
            value = getattr(self, p.name)
            if p.name in ("model", "topology") and not isinstance(value, str):
                value = value.name
            elif p.name == "scheme" and not isinstance(value, str):
                value = value.describe()
            elif p.name == "perturbations" and value is not None and not isinstance(value, str):
                value = value.describe()
            out[p.name] = value
        for key, value in self.topology_overrides:
            out[f"topology.{key}"] = value
        network = self.network
        if isinstance(network, Mapping):
            for key, value in network.items():
                out[f"network.{key}"] = value
        else:
            out["network"] = dataclasses.asdict(network)
        return out


def profile_fingerprint(path: str | Path) -> str:
    """SHA-256 of a profile file's bytes: which measurements a run's compute times came from.

    Examples
    --------
    >>> from simtrain.catalog import resolve
    >>> len(profile_fingerprint(resolve("profiles", "cpu-numba")))
    64
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
