"""Read a topology YAML file (a *family* of clusters) and instantiate it at a GPU count.

Every file has ``name``, ``kind``, ``device`` and the keys of its kind; quantities carry units. Kinds:

``stack``
    ``dimensions: [{kind: ring|switch|fully_connected, size, bandwidth, latency}, ...]`` (fixed size).
``torus``
    ``ndim: 2`` (or ``dims: [8, 8]`` for a fixed shape), ``bandwidth``, ``latency``, ``gpus`` (default size).
    Asked for N GPUs, picks the most nearly square (cubic) shape, smaller dimension first.
``ring``, ``switch``, ``fully_connected``
    ``gpus``, ``bandwidth``, ``latency``.
``hierarchical``
    ``nodes``, ``gpus_per_node``, ``intra_node: {kind, bandwidth, latency}``,
    ``nic: {count, bandwidth, latency}``, ``pcie: {bandwidth, latency}``,
    ``fabric: {nodes_per_rack, oversubscription, latency}``, ``per_flow_cap``.
``cloud``
    ``instances``, ``gpus_per_instance``, ``nic_bandwidth``, ``nic_latency``, ``intra_bandwidth``,
    ``intra_latency``, ``per_flow_cap``.
``fat_tree``
    ``hosts``, ``bandwidth``, ``latency``, ``hosts_per_leaf``, ``oversubscription``.
``graph``
    ``gpus: [names]``, ``links: [{src, dst, bandwidth, latency, class, duplex}]`` (fixed size).

Any kind with switches may add CPU-only machines on its fabric (BytePS's summation servers, the ``byteps``
algorithm): ``cpu_servers: {count, nic_bandwidth, latency}`` (:mod:`simtrain.topology.hosts`; the NIC defaults to
the GPU machines' NIC).

Examples
--------
>>> cluster = load_topology("torus-2d", gpus=32)
>>> cluster.grid
(4, 8)
>>> load_topology("abci", gpus=1024).grid
(4, 256)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from simtrain import limits
from simtrain.config import OVERRIDES, Section, apply_overrides, load_yaml
from simtrain.errors import ConfigError, shown
from simtrain.hardware import device_from_section
from simtrain.topology import builders
from simtrain.topology.cluster import Cluster

__all__ = ["KINDS", "load_topology", "near_square_shape", "topology_from_dict"]

KINDS = ("stack", "torus", "ring", "switch", "fully_connected", "hierarchical", "cloud", "fat_tree", "graph")

#: The most GPUs a topology may be instantiated at (a larger count is a typo, and would exhaust memory).
MAX_GPUS = limits.MAX_GPUS


def near_square_shape(num_gpus: int, ndim: int) -> list[int]:
    """The most nearly square (cubic) factorisation of ``num_gpus`` into ``ndim`` factors, smallest first.

    Examples
    --------
    >>> near_square_shape(64, 2), near_square_shape(32, 2), near_square_shape(64, 3), near_square_shape(7, 2)
    ([8, 8], [4, 8], [4, 4, 4], [1, 7])
    """
    best: list[int] | None = None

    def search(remaining: int, depth: int, minimum: int, prefix: list[int]) -> None:
        nonlocal best
        if depth == 1:
            if remaining >= minimum:
                shape = [*prefix, remaining]
                if best is None or (shape[-1] - shape[0], shape[-1]) < (best[-1] - best[0], best[-1]):
                    best = shape
            return
        factor = minimum
        while factor ** depth <= remaining:
            if remaining % factor == 0:
                search(remaining // factor, depth - 1, factor, [*prefix, factor])
            factor += 1

    search(num_gpus, ndim, 1, [])
    assert best is not None
    return best


def load_topology(
    name_or_path: str | Path,
    gpus: int | None = None,
    overrides: Iterable[tuple[str, Any]] = (),
) -> Cluster:
    """Load a topology family by catalog name or path and instantiate it.

    Parameters
    ----------
    name_or_path : str or Path
        Catalog name (``simtrain list topologies``) or YAML path.
    gpus : int, optional
        GPU count to instantiate the family at; ``None`` uses the file's default size.
    overrides : iterable of (key, value)
        Dotted keys set in the YAML mapping before it is read (e.g. ``("nic_bandwidth", "100 Gbit/s")``).
        An error about an overridden key names the override (source :data:`~simtrain.config.OVERRIDES`, key
        ``topology.KEY``), not the file: the value came from there; the command line says ``--set topology.KEY``.

    Examples
    --------
    >>> load_topology("cloud-25g").num_gpus
    128
    """
    from simtrain.catalog import resolve

    path = resolve("topologies", name_or_path)
    data = load_yaml(path)
    overrides = _override_pairs(overrides)
    if isinstance(data, dict):
        apply_overrides(data, overrides, source=str(path))
    try:
        if gpus is not None:
            _check_sized(data, overrides, gpus, str(path))
        return topology_from_dict(data, source=str(path), gpus=gpus)
    except _GpusError:
        raise
    except ConfigError as exc:
        factors = exc.factors if isinstance(exc, _ProductError) else {}
        for key, value in ((exc.key or "", exc.value), *factors.items()):
            if any(key == k or key.startswith(f"{k}.") or k.startswith(f"{key}.") for k, _ in overrides):
                raise ConfigError(exc.message, source=OVERRIDES, key=f"topology.{key}", value=value,
                                  choices=exc.choices, allowed=exc.allowed) from None
        if not overrides or exc.source != str(path):
            raise
        # the file as the overrides changed it (a --set topology.kind asks for other keys): say so
        changed = ", ".join(f"topology.{k}" for k, _ in overrides[:3]) + (", ..." if len(overrides) > 3 else "")
        raise ConfigError(f"{exc.message} (in the file as changed by {changed})", source=exc.source, key=exc.key,
                          value=exc.value, choices=exc.choices, allowed=exc.allowed) from None


def _override_pairs(overrides: Any) -> list[tuple[str, Any]]:
    """``overrides`` as (dotted key, value) pairs: a sequence of pairs or a mapping of keys to values.

    >>> _override_pairs({"nic.count": 2}), _override_pairs([("nic.count", 2)])
    ([('nic.count', 2)], [('nic.count', 2)])
    """
    if isinstance(overrides, Mapping):
        overrides = list(overrides.items())
    elif isinstance(overrides, (str, bytes)) or not isinstance(overrides, Iterable):
        raise ConfigError("must be (key, value) pairs or a mapping of keys to values", key="overrides",
                          value=overrides)
    pairs = list(overrides)
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ConfigError("must be (key, value) pairs, each key a dotted string", key="overrides", value=pair)
    return [(key, value) for key, value in pairs]


#: The keys that set a family's size (GPUs, nodes, instances, hosts), which ``gpus`` sets too.
SIZE_KEYS = ("gpus", "nodes", "instances", "hosts")


def _check_sized(data: Any, overrides: list[tuple[str, Any]], gpus: int, source: str) -> None:
    """An override of a size key and ``gpus`` must agree: the size the overridden file gives, else a
    :class:`ConfigError` naming the override (``gpus`` would silently win)."""
    sized = [(key, value) for key, value in overrides if key in SIZE_KEYS]
    if not sized:
        return
    implied = topology_from_dict(data, source=source).num_gpus
    if implied != gpus:
        key, value = sized[-1]
        raise ConfigError(f"sets the cluster at {implied} GPUs, where the GPU count given (gpus) is {gpus}",
                          source=OVERRIDES,
                          key=f"topology.{key}", value=value, allowed=f"a value that gives {gpus} GPUs, or one of "
                                                                      "the two")


def topology_from_dict(data: Any, source: str = "<dict>", gpus: int | None = None) -> Cluster:
    """Build a Cluster from the mapping of a topology YAML file.

    Examples
    --------
    >>> c = topology_from_dict({"name": "r", "kind": "ring", "device": "a100", "gpus": 8,
    ...                         "bandwidth": "50 GB/s", "latency": "1 us"})
    >>> c.num_gpus
    8
    """
    if isinstance(gpus, numbers.Integral) and not isinstance(gpus, bool):
        gpus = int(gpus)   # numpy's integers, as Python's
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        raise _GpusError("must be a positive integer", key="gpus", value=gpus)
    if gpus is not None and gpus > MAX_GPUS:
        raise _GpusError(f"must be at most {MAX_GPUS}", key="gpus", value=gpus)
    top = Section(data, source)
    try:
        cluster = _with_servers(top, _build(top, gpus))
    except _GpusError:
        raise   # the caller's gpus, not the file's fault: it names the parameter, not the file
    except ConfigError as exc:
        if exc.source is None:
            raise exc.with_context(source=source) from None
        raise
    top.finish()
    return dataclasses.replace(cluster, source=source)


class _GpusError(ConfigError):
    """An unusable ``gpus`` argument (the caller's value, not the file's): named as the parameter ``gpus``."""


class _ProductError(ConfigError):
    """Too many GPUs from a count times a per-node size: either factor may be the mistake, so an override of the
    other (``factors``: its key path and value) is named instead of the file's key."""

    def __init__(self, message: str, *, factors: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.factors = factors or {}


def _fixed(top: Section, size: int, gpus: int | None, key: str) -> None:
    if size > MAX_GPUS:
        raise top.error(key, f"the topology would have {size} GPUs; must be at most {MAX_GPUS}")
    if gpus is not None and gpus != size:
        raise _GpusError(
            f"this topology has a fixed size of {size} GPUs and cannot be instantiated at another count",
            key="gpus", value=gpus, allowed=f"{size} (or edit {top.source})",
        )


def _at_most(top: Section, key: str, count: Any, per_node: int = 1, per_node_key: str = "") -> Any:
    """``count`` (``None`` passes), after checking that ``count * per_node`` GPUs is not absurd."""
    if count is not None and count * per_node > MAX_GPUS:
        # the product names both keys: either may be the one mistyped (or overridden)
        what = (f"{count} x {per_node_key} {per_node} = {count * per_node} GPUs" if per_node > 1
                else f"{count} GPUs")
        base = top.error(key, f"{what} is too many; must be at most {MAX_GPUS} GPUs", value=count)
        raise _ProductError(base.message, source=base.source, key=base.key, value=count,
                            factors={top.key_path(per_node_key): per_node} if per_node_key else {})
    return count


def _per_node(top: Section, key: str, per_node: int, gpus: int | None, default_key: str) -> int:
    if gpus is None:
        return _at_most(top, default_key, int(top.integer(default_key, minimum=1)), per_node, key)
    _at_most(top, default_key, top.integer(default_key, None, minimum=1), per_node, key)
    if gpus % per_node:
        from simtrain.catalog import catalog_dir

        shipped = Path(top.source).parent == catalog_dir("topologies")
        # fewer GPUs than a node are a node cut to that many: say how, rather than guess it
        cut = (f"; fewer GPUs than a node are a node of that many: --set topology.{key}={gpus}"
               if gpus < per_node else "")
        raise _GpusError(
            f"must be a multiple of {key} = {per_node} for topology {shown(top.data.get('name'), 80)}{cut}",
            key="gpus", value=gpus, allowed=None if shipped else f"a multiple of {per_node} "
            f"(or edit {top.source})",
        )
    return gpus // per_node


def _with_servers(top: Section, cluster: Cluster) -> Cluster:
    """``cluster`` with the CPU server machines of the optional ``cpu_servers`` section."""
    from simtrain.topology.hosts import with_hosts

    servers = top.section("cpu_servers", None)
    if servers is None:
        return cluster
    count = servers.integer("count", 0, minimum=0, maximum=limits.MAX_GPUS)
    bandwidth = servers.bandwidth("nic_bandwidth", None)
    latency = servers.time("latency", None)
    # the bounds of every other link: beyond them a collective's time overflows (and the DES never ends)
    for key, value, check in (("nic_bandwidth", bandwidth, builders._bw), ("latency", latency, builders._lat)):
        try:
            if value is not None:
                check(value, key)
        except ConfigError as exc:
            raise servers.error(key, exc.message, value=servers.data[key], allowed=exc.allowed) from None
    servers.finish()
    try:
        return with_hosts(cluster, count, bandwidth, latency)
    except ConfigError as exc:
        raise top.error("cpu_servers", exc.message) from None


def _build(top: Section, gpus: int | None) -> Cluster:
    name = top.string("name")
    if not name.strip():   # the name labels every report and table row
        raise top.error("name", "must not be empty", value=name)
    top.string("description", "")
    top.raw("sources", None)
    kind = top.choice("kind", KINDS)
    device = device_from_section(top)
    common = {"name": name, "device": device}
    if kind == "stack":
        dims = top.sections("dimensions")
        specs = []
        for dim in dims:
            specs.append({
                "kind": dim.choice("kind", builders.DIMENSION_KINDS),
                "size": dim.integer("size", minimum=1),
                "bandwidth": dim.bandwidth("bandwidth"),
                "latency": dim.time("latency"),
            })
            dim.finish()
        _fixed(top, math.prod(s["size"] for s in specs), gpus, "dimensions")
        return builders.dimension_stack(specs, **common)
    if kind == "torus":
        bandwidth, latency = top.bandwidth("bandwidth"), top.time("latency")
        if "dims" in top:
            shape = top.int_list("dims")
            _fixed(top, math.prod(shape), gpus, "dims")
        else:
            ndim = top.integer("ndim", minimum=1, maximum=6)
            count = gpus if gpus is not None else _at_most(top, "gpus", top.integer("gpus", minimum=1))
            _at_most(top, "gpus", top.integer("gpus", None, minimum=1))
            shape = near_square_shape(count, ndim)
        return builders.torus(shape, bandwidth, latency, **common)
    if kind in ("ring", "switch", "fully_connected"):
        count = gpus if gpus is not None else _at_most(top, "gpus", top.integer("gpus", minimum=1))
        _at_most(top, "gpus", top.integer("gpus", None, minimum=1))
        build = {"ring": builders.ring, "switch": builders.switch, "fully_connected": builders.fully_connected}
        return build[kind](count, top.bandwidth("bandwidth"), top.time("latency", 0.0), **common)
    if kind == "hierarchical":
        per_node = top.integer("gpus_per_node", minimum=1, maximum=MAX_GPUS)
        nodes = _per_node(top, "gpus_per_node", per_node, gpus, "nodes")
        intra = top.section("intra_node")
        nic = top.section("nic")
        pcie = top.section("pcie", None)
        fabric = top.section("fabric", None)
        kwargs: dict[str, Any] = {
            "intra_bandwidth": intra.bandwidth("bandwidth"),
            "intra_latency": intra.time("latency", 0.0),
            "intra_kind": intra.choice("kind", ["switch", "fully_connected"], "switch"),
            "nics_per_node": nic.integer("count", 1, minimum=1, maximum=limits.MAX_NICS),
            "nic_bandwidth": nic.bandwidth("bandwidth"),
            "nic_latency": nic.time("latency", 0.0),
            "nic_transport": nic.choice("transport", list(builders.NIC_TRANSPORTS), "rdma"),
            "flow_rate_cap": top.bandwidth("per_flow_cap", None),
            "intra_link": intra.choice("link", list(builders.INTRA_LINKS), None),
            "in_switch_reduction": intra.boolean("in_switch_reduction", False),
        }
        intra.finish()
        nic.finish()
        if pcie is not None:
            kwargs["pcie_bandwidth"] = pcie.bandwidth("bandwidth")
            kwargs["pcie_latency"] = pcie.time("latency", 0.0)
            pcie.finish()
        if fabric is not None:
            kwargs["nodes_per_rack"] = fabric.integer("nodes_per_rack", None, minimum=1, maximum=limits.MAX_GPUS)
            kwargs["oversubscription"] = fabric.number("oversubscription", 1.0, minimum=1.0,
                                                 maximum=limits.MAX_OVERSUBSCRIPTION)
            kwargs["spine_latency"] = fabric.time("latency", 0.0)
            kwargs["in_network_reduction"] = fabric.boolean("in_network_reduction", False)
            fabric.finish()
        return builders.hierarchical(nodes, per_node, **kwargs, **common)
    if kind == "cloud":
        per_instance = top.integer("gpus_per_instance", minimum=1, maximum=MAX_GPUS)
        instances = _per_node(top, "gpus_per_instance", per_instance, gpus, "instances")
        return builders.cloud(
            instances, per_instance,
            nic_bandwidth=top.bandwidth("nic_bandwidth"),
            nic_latency=top.time("nic_latency", 15e-6),
            intra_bandwidth=top.bandwidth("intra_bandwidth"),
            intra_latency=top.time("intra_latency", 0.3e-6),
            per_flow_cap=top.bandwidth("per_flow_cap", None),
            nic_transport=top.choice("nic_transport", list(builders.NIC_TRANSPORTS), "rdma"),
            **common,
        )
    if kind == "fat_tree":
        hosts = gpus if gpus is not None else _at_most(top, "hosts", top.integer("hosts", minimum=1))
        _at_most(top, "hosts", top.integer("hosts", None, minimum=1))
        return builders.fat_tree(
            hosts, bandwidth=top.bandwidth("bandwidth"), latency=top.time("latency", 0.0),
            hosts_per_leaf=top.integer("hosts_per_leaf", None, minimum=1),
            oversubscription=top.number("oversubscription", 1.0, minimum=1.0,
                                                 maximum=limits.MAX_OVERSUBSCRIPTION), **common,
        )
    # graph
    import networkx as nx

    gpu_names = top.string_list("gpus")
    for name in gpu_names:   # names are how perturbations (a->b, a<->b) and traces address nodes
        # links are named a->b, and perturbations strip what they are given: ' g0' would be found as 'g0'
        if not name.strip() or name != name.strip() or "->" in name or "<-" in name:
            raise top.error("gpus", "a node's name must be non-empty, hold no '->' (links are named a->b) and no "
                            "space at either end", value=name)
    _fixed(top, len(gpu_names), gpus, "gpus")
    groups = top.integer("gpus_per_node", 1, minimum=1, maximum=MAX_GPUS)
    graph = nx.DiGraph()
    graph.add_nodes_from(gpu_names)
    first: dict[tuple[str, str], int] = {}   # each direction of a pair is one link: where it was given
    for index, link in enumerate(top.sections("links")):
        a, b = link.string("src"), link.string("dst")
        if a == b:
            raise link.error("dst", "a link cannot join a node to itself", value=b)
        attrs = {"bandwidth_Bps": link.bandwidth("bandwidth"), "latency_s": link.time("latency", 0.0),
                 "link_class": link.string("class", "link")}
        for pair in [(a, b), (b, a)] if link.boolean("duplex", True) else [(a, b)]:
            if pair in first:   # a second edge would silently replace the first: parallel links are one link
                raise link.error("dst", f"{pair[0]}->{pair[1]} is already linked by links[{first[pair]}]; give "
                                 "parallel links (bonded NVLinks) as one link of their summed bandwidth",
                                 value=f"{a}->{b}")
            first[pair] = index
            graph.add_edge(*pair, **attrs)
        link.finish()
    try:
        cluster = builders.from_graph(graph, gpu_names, **common, groups=groups)
    except ConfigError as exc:
        raise exc.with_context(source=top.source) from None
    if len(gpu_names) % groups:   # nodes of gpus_per_node GPUs each: the hierarchical kind refuses the same
        raise top.error("gpus_per_node", f"must divide the {len(gpu_names)} GPUs", value=groups)
    return cluster
