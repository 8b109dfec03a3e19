"""What simulating many runs in one process may share: models, clusters, compute profiles, network caches.

A :class:`RunCache` is an explicit object, passed to :func:`simtrain.training.simulate` (a study keeps one per
worker process). Every entry is keyed by content: a model by its name or spec and the SHA-256 of the file it reads
(a model YAML, the user's Python module); a cluster by its topology name or path with the SHA-256 of that file, GPU
count and overrides; a compute profile by its file's SHA-256; a cluster's
:class:`~simtrain.network.cache.NetworkCache` by the cluster object it belongs to (held, never by ``id()``). So a
file edited between two runs of one process is read again. Clusters are immutable, so a shared one cannot carry
state from one run into another: a run's result is the same whether its cache is fresh or has served a thousand
other runs.

Examples
--------
>>> cache = RunCache()
>>> cache.cluster("torus-2d", 16, ()) is cache.cluster("torus-2d", 16, ())
True
>>> cache.network(cache.cluster("torus-2d", 16, ())).cluster.num_gpus
16
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from simtrain.digest import file_digest
from simtrain.model import ModelSpec, load_model
from simtrain.network.cache import NetworkCache
from simtrain.topology import Cluster, load_topology

__all__ = ["RunCache", "content_key", "default_cache", "file_digest"]


class RunCache:
    """Models, clusters, compute profiles and network caches shared by the runs of one process.

    Parameters
    ----------
    max_clusters : int
        Clusters (with their network caches) kept; the oldest is dropped beyond it, so a sweep over many cluster
        sizes holds a bounded amount of memory.
    """

    def __init__(self, max_clusters: int = 64) -> None:
        self.max_clusters = max_clusters
        self._clusters: dict[str, tuple[Cluster, NetworkCache]] = {}
        self._profiles: dict[tuple[str, str], tuple[Any, Path, str]] = {}
        self._models: dict[str, ModelSpec] = {}
        self._given: list[tuple[Cluster, NetworkCache]] = []   # clusters built by the caller, held while cached

    def model(self, name_or_path: str) -> ModelSpec:
        """The model of a catalog name, a YAML path, a decoder spec or a module reference."""
        key = content_key("models", str(name_or_path))
        if key not in self._models:
            if len(self._models) >= 4 * self.max_clusters:
                self._models.pop(next(iter(self._models)))
            self._models[key] = load_model(name_or_path)
        return self._models[key]

    def cluster(self, topology: str, gpus: int | None, overrides: Any) -> Cluster:
        """The cluster of a topology (name or path) at ``gpus`` GPUs with ``(key, value)`` overrides."""
        pairs = sorted((str(k), v) for k, v in (overrides.items() if isinstance(overrides, dict) else overrides))
        # a device file the topology or an override names by a relative path is found beside the topology file or
        # in the working directory: both are part of what the cluster is (the device's content is read at run time)
        key = json.dumps([content_key("topologies", str(topology)), _location("topologies", str(topology)),
                          os.getcwd(), gpus, pairs], default=str)
        hit = self._clusters.get(key)
        if hit is None:
            cluster = load_topology(topology, gpus=gpus, overrides=pairs)
            if len(self._clusters) >= self.max_clusters:
                self._clusters.pop(next(iter(self._clusters)))
            hit = self._clusters[key] = (cluster, NetworkCache(cluster))
        return hit[0]

    def network(self, cluster: Cluster) -> NetworkCache:
        """The network cache of ``cluster`` (made on first use; the cluster is held while its cache is)."""
        for held, cache in [*self._clusters.values(), *self._given]:
            if held is cluster:
                return cache
        if len(self._given) >= self.max_clusters:
            self._given.pop(0)
        self._given.append((cluster, NetworkCache(cluster)))
        return self._given[-1][1]

    def profile(self, name_or_path: str, device: str) -> tuple[Any, Path, str]:
        """The compute model of a calibration profile, its file and the file's SHA-256."""
        from simtrain.catalog import resolve
        from simtrain.compute import ComputeModel
        from simtrain.run import profile_fingerprint

        path = resolve("profiles", name_or_path)
        fingerprint = profile_fingerprint(path)
        key = (fingerprint, device)
        if key not in self._profiles:
            self._profiles[key] = (ComputeModel.from_profile(path, device=device), path, fingerprint)
        compute, _, _ = self._profiles[key]
        return compute, path, fingerprint


def content_key(kind: str, text: str) -> str:
    """``text`` with the SHA-256 of the file it reads, if any (a catalog name or a path; for a model also the YAML
    before a ``:`` spec, or the ``.py`` files of a module reference's folder), so an edited file makes a new entry; a
    spec that reads no file (``gpt:...``) is its own content.

    Examples
    --------
    >>> from simtrain.catalog import resolve
    >>> from simtrain.run import profile_fingerprint
    >>> content_key("models", "gpt:layers=2,hidden=64,heads=2,seq=16,vocab=100")
    'gpt:layers=2,hidden=64,heads=2,seq=16,vocab=100'
    >>> content_key("topologies", "torus-2d").endswith(profile_fingerprint(resolve("topologies", "torus-2d")))
    True
    """
    from simtrain.catalog import resolve
    from simtrain.errors import ConfigError
    from simtrain.model.user_module import is_module_reference, module_digest, parse_module_reference

    try:
        if kind == "models" and is_module_reference(text):
            # the module's folder's .py files: what it may import from beside it is part of the model
            return f"{text} sha256:{module_digest(parse_module_reference(text)[0])}"
        path = resolve(kind, text.split(":", 1)[0] if kind == "models" else text)
    except ConfigError:
        return text   # not a file: a spec, or a name load_* will refuse with its own message
    digest = file_digest(str(path))
    return text if digest is None else f"{text} sha256:{digest}"


def _location(kind: str, text: str) -> str:
    """The absolute path of the file a catalog name or a path reads (``text`` where it reads none)."""
    from simtrain.catalog import resolve
    from simtrain.errors import ConfigError

    try:
        return os.path.abspath(resolve(kind, text))
    except ConfigError:
        return text


def file_key(text: str) -> str | None:
    """``text`` with the SHA-256 of the file it is the path of, or None where it names no regular file.

    Examples
    --------
    >>> file_key("no/such/file.yaml") is None
    True
    """
    try:
        if not os.path.isfile(text):
            return None
    except ValueError:   # a NUL byte: not a path
        return None
    digest = file_digest(os.path.abspath(text))
    return None if digest is None else f"{text} sha256:{digest}"


_DEFAULT = RunCache()


def default_cache() -> RunCache:
    """The cache :func:`~simtrain.training.simulate` and study points use when given none: one per process,
    bounded, keyed by content, so repeated runs on one cluster reuse its routes and templates. Pass a fresh
    :class:`RunCache` to isolate a run; the answer is the same either way (tests/test_purity.py).

    Examples
    --------
    >>> default_cache() is default_cache()
    True
    """
    return _DEFAULT
