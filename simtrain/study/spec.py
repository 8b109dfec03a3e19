"""Study files: a base configuration, sweep axes over dotted keys, derived columns — validated up front.

A study YAML file::

    name: cloud-bandwidth
    seed: 7
    base:
      model: resnet50
      topology: cloud-25g
      batch: 32
    sweep:
      grid:                                   # every combination
        gpus: [64, 256, 1024]
        topology.nic_bandwidth: [10 Gbit/s, 25 Gbit/s, 100 Gbit/s]
        scheme: [none, "powersgd:rank=4"]
      zip:                                    # walked together (equal lengths), crossed with the grid
        algorithm: [ring, hierarchical]
        bucket_size: [25 MiB, 100 MiB]
    derived:
      samples_per_gpu_s: throughput_samples_per_s / gpus

Keys are those of :data:`POINT_KEYS` plus ``topology.KEY`` (any key of the topology's YAML file) and
``network.KEY`` (:data:`~simtrain.network.analytical.NETWORK_KEYS`). ``zip`` may also be a list of such mappings.
Every point is resolved and checked before anything runs, so a typo fails in a second, not an hour in.

Examples
--------
>>> study = study_from_dict({"name": "s", "base": {"model": "resnet50", "topology": "torus-2d"},
...                          "sweep": {"grid": {"gpus": [16, 64], "scheme": ["none", "powersgd:rank=4"]}}})
>>> len(study.points)
4
>>> study.points[3]["gpus"], study.points[3]["scheme"]
(64, 'powersgd:rank=4')
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simtrain.config import Section, load_yaml
from simtrain.errors import ConfigError
from simtrain.params import Param, read_params
from simtrain.run import PLAN_ONLY, RUN_PARAMS, check_combination
from simtrain.study.expr import compile_expression

__all__ = ["MAX_STUDY_POINTS", "POINT_KEYS", "Study", "load_study", "point_seed", "study_from_dict"]


#: The keys of a point (besides ``topology.KEY`` and ``network.KEY``), in column order: the run description's
#: parameters (:data:`simtrain.run.RUN_PARAMS`) but its seed, which the study derives for every point.
POINT_KEYS: tuple[Param, ...] = tuple(p for p in RUN_PARAMS if p.name != "seed")
_KEYS = {k.name: k for k in POINT_KEYS}
PREFIXES = ("topology.", "network.")
SWEEP_MODES = ("grid", "zip")
#: The most points a study may have (the product of its axes' lengths), checked before any point is built.
MAX_STUDY_POINTS = 100_000


def point_seed(study_seed: int, point: Mapping[str, Any], occurrence: int = 0) -> int:
    """The seed of a point: independent streams from one study seed, drawn from the point's own configuration (and,
    for a configuration the study lists more than once, which occurrence it is), never from its place in the grid.
    A point's result is then the same whatever else the study sweeps and in whatever order: reordering an axis or
    adding a value to it leaves every other row as it was. Keys at their declared defaults are left out of the
    draw, so a parameter added to the run description with a default that changes nothing changes no seed either.

    Examples
    --------
    >>> a, b = {"gpus": 16}, {"gpus": 32}
    >>> point_seed(0, a) == point_seed(0, dict(a)) != point_seed(0, b)
    True
    >>> point_seed(0, a) != point_seed(0, a, 1) and point_seed(0, a) != point_seed(1, a)
    True
    >>> point_seed(0, {**a, "optimizer_impl": "fused"}) == point_seed(0, a)   # a default draws nothing
    True
    """
    stated = {key: value for key, value in point.items() if key not in _KEYS or value != _KEYS[key].default}
    digest = hashlib.sha256(json.dumps(stated, sort_keys=True, default=str).encode()).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return int(np.random.SeedSequence([study_seed, *words, occurrence]).generate_state(1, dtype=np.uint32)[0])


@dataclass
class Study:
    """A validated study: its points (resolved configurations) in a fixed order, with seeds and derived columns.

    Attributes
    ----------
    name, description : str
    seed : int
        The study seed; each point runs with :func:`point_seed` of it and the point's configuration.
    points : list of dict
        One resolved configuration per point (every key of :data:`POINT_KEYS` plus the ``topology.``/``network.``
        keys used anywhere in the study).
    derived : dict
        Column name → expression text, evaluated on each result row.
    source : str
        The study file.
    """

    name: str
    description: str
    seed: int
    points: list[dict[str, Any]]
    derived: dict[str, str] = field(default_factory=dict)
    source: str = "<dict>"
    swept: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of what decides the results (points, seeds, derived columns, and the content of every model,
        topology and profile file the points read), to match an output folder: a resume after one of those files
        changed, or from a folder where a relative path names another file, is another study."""
        from simtrain.training.run_cache import content_key

        files = sorted({content_key(kind, str(point[key])) for point in self.points
                        for key, kind in (("model", "models"), ("topology", "topologies"), ("profile", "profiles"))
                        if point.get(key) is not None})
        files += sorted({_device_file_key(str(point["topology"])) for point in self.points} - {""})
        # any other file a point names (a perturbations file, a scheme's rank_profile=, a device path in a sweep's
        # override): its content too, so a resume never mixes two versions of it
        files += sorted(set().union(*(_named_files(point) for point in self.points)))
        blob = json.dumps({"seed": self.seed, "points": self.points, "derived": self.derived, "files": files},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def seeds(self) -> list[int]:
        """The seed of every point (:func:`point_seed`: from its configuration, not its index)."""
        seen: dict[str, int] = {}
        seeds = []
        for point in self.points:
            text = json.dumps(point, sort_keys=True, default=str)
            seeds.append(point_seed(self.seed, point, seen.get(text, 0)))
            seen[text] = seen.get(text, 0) + 1
        return seeds

    def derived_functions(self) -> dict[str, Callable[[Mapping[str, Any]], float]]:
        """Compiled derived-column expressions."""
        return {name: compile_expression(text, self.source, f"derived.{name}") for name, text in self.derived.items()}


def _named_files(point: Mapping[str, Any]) -> set[str]:
    """The content key of every file a point names besides its model, topology and profile: its ``perturbations``
    file, a file-valued ``--set`` override (``topology.device: ./gpu.yaml``) and a file-valued parameter of a
    ``name:key=value,...`` spec (``cuttlefish:rank_profile=ranks.yaml``). Only values written as paths count (a
    folder in them, or a ``.yaml``, ``.yml`` or ``.json`` name), so a plain word (``engine: des``) never picks up a
    file that happens to share its name.

    Examples
    --------
    >>> _named_files({"scheme": "powersgd:rank=4", "engine": "des", "gpus": 8})
    set()
    """
    from simtrain.training.run_cache import file_key

    texts: set[str] = set()
    for key, value in point.items():
        if not isinstance(value, str):
            continue
        if key == "perturbations" or "." in key:
            texts.add(value)
        elif ":" in value:
            texts.update(item.split("=", 1)[1] for item in value.split(":", 1)[1].split(",") if "=" in item)
    paths = {text for text in texts if "/" in text or os.sep in text or text.endswith((".yaml", ".yml", ".json"))}
    return {key for key in map(file_key, sorted(paths)) if key is not None}


def _device_file_key(topology: str) -> str:
    """The content key of the device file a topology file names by path (``device: ./gpu.yaml``), or "" (a catalog
    device, or a topology that cannot be read: the study's checks report that)."""
    from simtrain.catalog import resolve
    from simtrain.config import Section, load_yaml
    from simtrain.hardware import device_from_section
    from simtrain.training.run_cache import content_key

    try:
        path = resolve("topologies", topology)
        data = load_yaml(path)
        if not isinstance(data, dict) or not isinstance(data.get("device"), str):
            return ""
        device = device_from_section(Section(data, str(path)))
    except ConfigError:
        return ""
    return content_key("devices", device) if Path(device).is_file() else ""


def load_study(name_or_path: str | Path) -> Study:
    """Load and validate a study by catalog name (``studies/``) or path.

    Examples
    --------
    >>> len(load_study("quickstart").points) > 100
    True
    """
    from simtrain.catalog import resolve

    path = resolve("studies", name_or_path)
    return study_from_dict(load_yaml(path), source=str(path))


def _table_columns(base: Mapping[str, Any], swept: list[str]) -> set[str]:
    """The columns a study's table has besides its derived ones: results, run parameters, the study's keys."""
    # imported here: the point module imports this one
    from simtrain.study.point import OUTPUT_COLUMNS

    return {*OUTPUT_COLUMNS, *(p.name for p in RUN_PARAMS), *base, *swept}


def _axis_values(section: Section, key: str) -> list[Any]:
    values = section.raw(key)
    if not isinstance(values, list) or not values:
        raise section.error(key, "a sweep axis must be a non-empty list of values", value=values)
    return values


def _check_key(key: Any, source: str, path: str) -> str:
    if not isinstance(key, str):
        raise ConfigError("keys must be strings", source=source, key=path, value=key)
    if key in _KEYS or (key.startswith(PREFIXES) and len(key.split(".", 1)[1]) > 0):
        return key
    raise ConfigError("unknown key", source=source, key=f"{path}.{key}" if path else key, value=key,
                      choices=[*_KEYS, "topology.KEY", "network.KEY"])


def study_from_dict(data: Any, source: str = "<dict>") -> Study:
    """Build and validate a :class:`Study` from the mapping of a study file.

    Every point is resolved and checked (catalog names, scheme and algorithm specs, units, topology overrides),
    so errors name the study file and the key, before anything runs.

    Examples
    --------
    >>> study_from_dict({"name": "s", "base": {"model": "resnet50", "topology": "torus-2d", "batch": 0}})
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: <dict>: base.batch: must be at least 1 (got 0)
    """
    top = Section(data, source)
    name = top.string("name")
    description = top.string("description", "")
    seed = top.integer("seed", 0, minimum=0)
    base_section = top.section("base")
    base: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key in base_section.data:
        checked = _check_key(key, source, "base")
        base[checked] = base_section.raw(checked)
        origin[checked] = f"base.{checked}"

    axes: list[list[tuple[str, list[Any]]]] = []   # groups; within a group values are zipped
    sweep = top.section("sweep", {})
    if isinstance(sweep, Section):
        grid = sweep.section("grid", {})
        if isinstance(grid, Section):
            for key in grid.data:
                checked = _check_key(key, source, "sweep.grid")
                axes.append([(checked, _axis_values(grid, checked))])
                origin[checked] = f"sweep.grid.{checked}"
        zipped = sweep.raw("zip", [])
        groups = zipped if isinstance(zipped, list) else [zipped]
        for number, group in enumerate(groups):
            path = "sweep.zip" if not isinstance(zipped, list) else f"sweep.zip[{number}]"
            section = Section(group, source, path)
            members = []
            for key in section.data:
                checked = _check_key(key, source, path)
                members.append((checked, _axis_values(section, checked)))
                origin[checked] = f"{path}.{checked}"
            lengths = {len(v) for _, v in members}
            if len(lengths) > 1:
                raise section.error(None, "zipped axes must have equal lengths",
                                    value={k: len(v) for k, v in members})
            if members:
                axes.append(members)
        sweep.finish()
    swept = [key for group in axes for key, _ in group]
    repeated = sorted({k for k in swept if swept.count(k) > 1})
    if repeated:
        raise ConfigError("a key is swept twice", source=source, key="sweep", value=repeated[0])

    derived_section = top.section("derived", {})
    derived: dict[str, str] = {}
    if isinstance(derived_section, Section):
        taken = _table_columns(base, swept)
        for column in derived_section.data:
            if column in taken:
                raise derived_section.error(str(column), "a derived column may not replace a column of the table",
                                            value=column, allowed="a name that no configuration or result "
                                            "column has (point, status, error, step_time_s, gpus ...)")
            text = derived_section.string(column)
            # names checked now: the table's columns and the derived columns before this one
            compile_expression(text, source, f"derived.{column}", columns={*taken, *derived})
            derived[str(column)] = text
    top.finish()

    used_prefixed = sorted({k for k in [*base, *swept] if k.startswith(PREFIXES)})
    points: list[dict[str, Any]] = []
    ranges = [range(len(group[0][1])) for group in axes]
    count = math.prod(len(r) for r in ranges)
    if count > MAX_STUDY_POINTS:   # before a single point is built
        raise ConfigError(f"the study has {count:,} points; at most {MAX_STUDY_POINTS:,} are allowed (split it "
                          "into several studies)", source=source, key="sweep")
    seen: set[tuple[str, str]] = set()
    for combo in itertools.product(*ranges):
        raw = dict(base)
        where = dict(origin)
        for group, i in zip(axes, combo):
            for key, values in group:
                raw[key] = values[i]
                where[key] = f"{origin[key]}[{i}]"
        points.append(_resolve_point(raw, used_prefixed, source, where, seen))
    _check_points(points, source, origin)
    return Study(name=name, description=description, seed=seed, points=points, derived=derived, source=source,
                 swept=swept)


def _check_model(value: Any) -> None:
    """A catalog name, a YAML path, a decoder spec, or ``module:PATH.py[:FACTORY]`` (checked as a file only: it is
    traced when the point runs)."""
    from simtrain.model import load_model
    from simtrain.model.user_module import is_module_reference, parse_module_reference

    if is_module_reference(value):
        parse_module_reference(value)
    else:
        load_model(value)   # a catalog name, a YAML path, or a decoder spec (gpt:…, NAME:key=value)


def _resolve_point(raw: dict[str, Any], prefixed: list[str], source: str, where: dict[str, str],
                   seen: set[tuple[str, str]]) -> dict[str, Any]:
    """Fill defaults and validate with the run description's declarations and rules (units stay as given so the
    table shows what the user wrote); ``seen`` holds the values already read."""
    for spec in POINT_KEYS:
        if spec.required and raw.get(spec.name) is None:
            raise ConfigError("missing required key", source=source, key=f"base.{spec.name}")
    try:
        for key, value in raw.items():   # each distinct value is read once per study (points share most values)
            token = (key, json.dumps(value, sort_keys=True, default=str))
            if key in _KEYS and token not in seen:
                read_params([_KEYS[key]], {key: value}, source=source)
                seen.add(token)
        point: dict[str, Any] = {spec.name: raw.get(spec.name, spec.default) for spec in POINT_KEYS}
        check_combination(point["compute_jitter"] or 0.0, bool(point["store_and_forward"]), point["engine"],
                          batch=point["batch"], parallel=point["parallel"], micro_batch=point["micro_batch"],
                          global_batch=point["global_batch"], pipeline_schedule=point["pipeline_schedule"],
                          recompute=point["recompute"], rank_order=point["rank_order"],
                          distribute_saved_activations=bool(point["distribute_saved_activations"]),
                          samples_per_epoch=point.get("samples_per_epoch"), epochs=point.get("epochs"),
                          plan_options={name: point[name] for name in PLAN_ONLY if name in point},
                          framework=point["framework"], bucket_size=point["bucket_size"],
                          chunks=point.get("chunks") or 1, gpu_spread=point.get("gpu_spread"),
                          optimizer=point["optimizer"], optimizer_impl=point["optimizer_impl"],
                          memory_format=point["memory_format"], profile=point.get("profile"),
                          dtype=point["dtype"], autocast=bool(point["autocast"]))
    except ConfigError as exc:
        name = (exc.key or "").split(".")[0]
        raise ConfigError(exc.message, source=source, key=where.get(name, name), value=exc.value,
                          choices=exc.choices, allowed=exc.allowed) from None
    for name in ("compute_jitter", "gpu_spread"):
        if isinstance(point.get(name), int):
            point[name] = float(point[name])
    for key in prefixed:
        point[key] = raw.get(key)
    return point


def _check_algorithm(spec: str) -> None:
    """An algorithm spec as the run will build it: its name, its parameters' keys and bounds, and ``auto``'s
    ``algo=``/``proto=`` as NCCL's names (what is left to run on the point's ranks is known only there)."""
    from simtrain.collectives.base import ALGORITHMS
    from simtrain.collectives.nccl import check_restriction
    from simtrain.registry import make

    configured = make(ALGORITHMS, spec, key="algorithm")
    if configured.name == "auto":
        params = configured.get_params()
        check_restriction(params.get("algo"), params.get("proto"))


def _check_points(points: list[dict[str, Any]], source: str, origin: dict[str, str]) -> None:
    """Resolve every distinct catalog name, spec and topology instance once; re-raise errors against the study."""
    from simtrain.catalog import resolve
    from simtrain.compression import make_scheme
    from simtrain.network import NetworkOptions
    from simtrain.study.point import build_cluster
    from simtrain.training.framework import make_framework

    def check(key: str, value: Any, action: Callable[[], Any]) -> None:
        try:
            action()
        except ConfigError as exc:
            inner = (exc.key or "").lstrip("-")
            if key == "network" and inner.startswith("network."):
                key = inner   # the network options blame one of their keys, as the grid names it
            if key.startswith("topology") and inner in ("gpus", *(k.split(".", 1)[1] for k in origin
                                                                  if k.startswith("topology."))):
                key = "gpus" if inner == "gpus" else f"topology.{inner}"   # the topology blames one of its keys
            where = origin.get(key, key)
            detail = f" ({exc.key})" if exc.key and not where.endswith(inner) else ""
            value, allowed = exc.value, exc.allowed
            if exc.message == "file not found":   # say which path, and from where a study reads it
                value = exc.source
                allowed = f"a catalog name, or a path from the working directory ({Path.cwd()})"
            raise ConfigError(exc.message + detail, source=source, key=where, value=value,
                              choices=exc.choices, allowed=allowed) from None

    seen: set[tuple[str, str]] = set()

    def once(key: str, value: Any, action: Callable[[], Any]) -> None:
        token = (key, json.dumps(value, sort_keys=True, default=str))
        if token not in seen:
            seen.add(token)
            check(key, value, action)

    for point in points:
        once("model", point["model"], functools.partial(_check_model, point["model"]))
        once("scheme", point["scheme"], functools.partial(make_scheme, point["scheme"]))
        once("algorithm", point["algorithm"], functools.partial(_check_algorithm, point["algorithm"]))
        if point.get("framework") is not None:
            once("framework", point["framework"], functools.partial(make_framework, point["framework"]))
        if point["profile"] is not None:
            once("profile", point["profile"], functools.partial(resolve, "profiles", point["profile"]))
        network = {k.split(".", 1)[1]: v for k, v in point.items() if k.startswith("network.") and v is not None}
        once("network", network, functools.partial(NetworkOptions.from_mapping, network, source, "network"))
        topology_overrides = {k: v for k, v in point.items() if k.startswith("topology.")}
        key = "topology" if not topology_overrides else next(iter(topology_overrides))
        once(key, [point["topology"], point["gpus"], topology_overrides], functools.partial(build_cluster, point))
