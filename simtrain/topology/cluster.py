"""The Cluster: GPUs, NICs and switches joined by directed links, with routes compiled to integer arrays.

A cluster is conceptually a ``networkx.DiGraph`` whose nodes are GPUs, NICs and switches and whose edges are
directed links with ``bandwidth_Bps`` and ``latency_s`` (a full-duplex link is one edge each way). For speed the
links are stored as dense arrays (one row per directed link) and routes are computed by a vectorised
:class:`Router` that returns, for a batch of flows, the link ids of each flow's path in CSR form. The engines never
walk the graph in a hot loop; :attr:`Cluster.graph` builds the networkx view on demand (and tests check the
structured routers against networkx shortest paths on it).

Examples
--------
>>> from simtrain.topology import torus
>>> cluster = torus([4, 4], bandwidth="50 GiB/s", latency="500 ns")
>>> cluster.num_gpus, cluster.num_links
(16, 64)
>>> routes = cluster.routes([0], [5])       # (0,0) -> (1,1): one hop in dim 0, then one in dim 1
>>> routes.lengths.tolist()
[2]
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

__all__ = ["Cluster", "Router", "Routes"]


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


#: Flows routed in one call of a router (more are routed in batches, so the route bound is checked before memory).
_ROUTE_BATCH = 1 << 16


@dataclass(frozen=True)
class Routes:
    """Paths of a batch of flows in CSR form: flow ``f`` uses ``links[offsets[f]:offsets[f+1]]``."""

    offsets: np.ndarray
    links: np.ndarray

    # derived once per Routes (its arrays never change): the engines ask for them at every evaluation
    @functools.cached_property
    def lengths(self) -> np.ndarray:
        """Number of links on each flow's path (0 for a flow to itself)."""
        return _read_only(np.diff(self.offsets))

    @functools.cached_property
    def flow_of_entry(self) -> np.ndarray:
        """For every entry of :attr:`links`, the flow it belongs to."""
        return _read_only(np.repeat(np.arange(len(self.offsets) - 1), self.lengths))

    def per_flow(self, reduce: np.ufunc, per_link: np.ndarray, empty: float = 0.0) -> np.ndarray:
        """``reduce`` (``np.add``, ``np.minimum``, ``np.maximum``) of ``per_link`` over every flow's path;
        ``empty`` for a flow with no link.

        Examples
        --------
        >>> r = Routes(np.array([0, 2, 2, 3]), np.array([0, 1, 1]))
        >>> r.per_flow(np.add, np.array([1.0, 10.0])).tolist()
        [11.0, 0.0, 10.0]
        """
        lengths = self.lengths
        out = np.full(len(lengths), empty, dtype=np.float64)
        if self.links.size:
            moving = lengths > 0
            out[moving] = reduce.reduceat(per_link[self.links], self.offsets[:-1][moving])
        return out

    @classmethod
    def concat_segments(cls, counts: list[np.ndarray], ids: list[np.ndarray]) -> Routes:
        """Join per-segment CSR pieces (same flows, segments in path order) into one CSR."""
        total = np.sum(counts, axis=0) if counts else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(total) + 1, dtype=np.int64)
        np.cumsum(total, out=offsets[1:])
        links = np.empty(int(offsets[-1]), dtype=np.int64)
        start = offsets[:-1].copy()
        for count, segment in zip(counts, ids):
            if segment.size:
                seg_offsets = np.zeros(len(count), dtype=np.int64)
                np.cumsum(count[:-1], out=seg_offsets[1:])
                flow = np.repeat(np.arange(len(count)), count)
                within = np.arange(segment.size) - seg_offsets[flow]
                links[start[flow] + within] = segment
            start += count
        return cls(offsets, links)


class Router(Protocol):
    """Computes the links of each flow's path; ``src`` and ``dst`` are GPU ranks."""

    def routes(self, src: np.ndarray, dst: np.ndarray) -> Routes:  # pragma: no cover - protocol
        ...


@dataclass(frozen=True, eq=False)
class Cluster:
    """A GPU cluster: links as arrays, a router, and the logical structure algorithms need.

    A cluster is immutable: it takes the link arrays it is given and makes them read-only, and a changed cluster
    is a new object (:func:`dataclasses.replace`, :meth:`with_link_factor`), so what a cache derived from one stays
    true.

    Attributes
    ----------
    name : str
        Catalog name or a description.
    num_gpus : int
        Number of GPUs (= ranks; rank r is GPU node r).
    node_names : list of str
        Names of every graph node (GPUs first).
    link_src, link_dst : ndarray of int
        Endpoints (node ids) of each directed link.
    link_bandwidth_Bps, link_latency_s : ndarray of float
        Per-direction bandwidth and latency of each link.
    link_class : ndarray of int
        Index into ``class_names`` for every link (``intra-node``/``inter-node``, or ``dim0``, ``dim1`` …).
    router : Router
        Computes routes.
    grid : tuple of int
        Logical grid for multi-dimensional algorithms (dimension 0 varies fastest in the rank numbering).
    gpus_per_node : int
        Size of the natural group (a node, or dimension 0 of a stack) for hierarchical algorithms.
    device : str
        Hardware catalog name of the GPUs.
    flow_rate_cap_Bps : float
        Per-flow rate cap (public clouds cap single TCP flows); ``inf`` when none.
    link_kinds : dict
        Link class → physical kind (``nvswitch``, ``nvlink``, ``nvlink-bridge``, ``pcie``, ``xgmi``, ``nic``), which
        sets a protocol's efficiency and latency class (:mod:`simtrain.network.protocol`); classes not named take a
        default.
    reducing : tuple of str
        Link classes whose switches reduce in the network: ``intra-node`` for NVLink SHARP (NVLS), ``inter-node``
        for SHARP on the fabric (NCCL's CollNet).
    num_hosts : int
        CPU-only machines on the fabric (:func:`simtrain.topology.hosts.with_hosts`): endpoints
        ``num_gpus .. num_gpus+num_hosts-1`` that schedules may name like ranks (BytePS's summation servers).
    """

    name: str
    num_gpus: int
    node_names: list[str]
    link_src: np.ndarray
    link_dst: np.ndarray
    link_bandwidth_Bps: np.ndarray
    link_latency_s: np.ndarray
    link_class: np.ndarray
    class_names: tuple[str, ...]
    router: Router
    grid: tuple[int, ...]
    gpus_per_node: int = 1
    device: str = "h100"
    flow_rate_cap_Bps: float = float("inf")
    description: str = ""
    source: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    link_kinds: dict[str, str] = field(default_factory=dict)
    reducing: tuple[str, ...] = ()
    num_hosts: int = 0

    def __post_init__(self) -> None:
        for name in ("link_src", "link_dst", "link_bandwidth_Bps", "link_latency_s", "link_class"):
            # the cluster takes the arrays it is given (builders make them fresh) and freezes them: no copy
            array = np.asarray(getattr(self, name))
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        object.__setattr__(self, "grid", tuple(self.grid))
        object.__setattr__(self, "class_names", tuple(self.class_names))

    @property
    def num_links(self) -> int:
        """Number of directed links."""
        return len(self.link_src)

    @property
    def num_endpoints(self) -> int:
        """GPUs and CPU-only hosts: the endpoints a flow may name."""
        return self.num_gpus + self.num_hosts

    def endpoint_node(self, endpoint: int) -> int:
        """The graph node of an endpoint: GPU rank r is node r; host h (endpoint ``num_gpus + h``) is one of the
        last ``num_hosts`` nodes."""
        if endpoint < self.num_gpus:
            return endpoint
        return len(self.node_names) - self.num_hosts + endpoint - self.num_gpus

    def routes(self, src: Any, dst: Any) -> Routes:
        """Routes of flows ``src[i] -> dst[i]`` (GPU ranks, or host endpoints from ``num_gpus`` on).

        Many flows are routed in batches, and their hops together are bounded (:data:`~simtrain.limits.
        MAX_ROUTE_ENTRIES`): routes are explicit arrays, so a batch past it is refused before its memory is.
        """
        from simtrain.errors import ConfigError
        from simtrain.limits import MAX_ROUTE_ENTRIES

        src_arr = np.asarray(src, dtype=np.int64)
        dst_arr = np.asarray(dst, dtype=np.int64)
        if src_arr.size <= _ROUTE_BATCH:
            return self.router.routes(src_arr, dst_arr)
        parts: list[Routes] = []
        total = 0
        for start in range(0, src_arr.size, _ROUTE_BATCH):
            part = self.router.routes(src_arr[start:start + _ROUTE_BATCH], dst_arr[start:start + _ROUTE_BATCH])
            total += int(part.links.size)
            if total > MAX_ROUTE_ENTRIES:
                raise ConfigError(f"the {src_arr.size:,} flows' routes would hold more than {MAX_ROUTE_ENTRIES:,} "
                                  f"link entries (every flow's hops together) on {self.name}", key="algorithm",
                                  value=f"{src_arr.size:,} flows",
                                  allowed="fewer GPUs, or an algorithm with fewer or shorter flows (ring)")
            parts.append(part)
        offsets = [parts[0].offsets]
        shift = int(parts[0].offsets[-1])
        for part in parts[1:]:
            offsets.append(part.offsets[1:] + shift)
            shift += int(part.offsets[-1])
        return Routes(np.concatenate(offsets), np.concatenate([part.links for part in parts]))

    @property
    def graph(self) -> nx.DiGraph:
        """The cluster as a new ``networkx.DiGraph`` (built on every call: the caller owns it).

        Edge attributes: ``bandwidth_Bps``, ``latency_s``, ``link_class`` and ``link_id``.
        """
        import networkx as nx

        graph = nx.DiGraph(name=self.name)
        for index, name in enumerate(self.node_names):
            first_host = len(self.node_names) - self.num_hosts
            kind = "gpu" if index < self.num_gpus else "host" if index >= first_host else "switch"
            graph.add_node(index, name=name, kind=kind)
        for link in range(self.num_links):
            graph.add_edge(
                int(self.link_src[link]),
                int(self.link_dst[link]),
                bandwidth_Bps=float(self.link_bandwidth_Bps[link]),
                latency_s=float(self.link_latency_s[link]),
                link_class=self.class_names[int(self.link_class[link])],
                link_id=link,
            )
        return graph

    def with_link_factor(self, links: np.ndarray, factor: float) -> Cluster:
        """A copy whose ``links`` have their bandwidth multiplied by ``factor`` (degraded links)."""
        bandwidth = self.link_bandwidth_Bps.copy()
        bandwidth[links] *= factor
        return dataclasses.replace(self, link_bandwidth_Bps=bandwidth)

    def describe(self) -> str:
        """One line: GPUs, grid, link classes and their bandwidths."""
        parts = []
        for index, name in enumerate(self.class_names):
            mask = self.link_class == index
            if mask.any():
                bw = self.link_bandwidth_Bps[mask]
                parts.append(f"{name}: {mask.sum()} links, {bw.min() / 1e9:.4g}-{bw.max() / 1e9:.4g} GB/s")
        grid = "x".join(str(g) for g in self.grid)
        if self.num_hosts:
            parts.append(f"{self.num_hosts} CPU server machines")
        return f"{self.name}: {self.num_gpus} x {self.device} GPUs, grid {grid}; " + "; ".join(parts)
