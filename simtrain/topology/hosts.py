"""CPU-only machines on a cluster's fabric: endpoints that are not GPUs (BytePS's summation servers).

``with_hosts(cluster, count)`` returns a copy of ``cluster`` with ``count`` CPU machines, each one NIC on the
fabric. A host is an endpoint a Schedule may name like a rank: host ``h`` is endpoint ``num_gpus + h`` (GPU ranks
keep ``0 .. num_gpus-1``), so both engines route, share and account its flows as any other. Each host hangs off
the fabric's *attachment switch*, the non-GPU node whose farthest GPU is nearest (the leaf of a one-rack cluster,
the spine of a multi-rack one, the switch of a switch), by a duplex link of the host NIC's bandwidth and latency.
A host's flow takes that link, then the hop-shortest path between the attachment switch and the GPU on the
cluster's graph (computed once per cluster). Flows between GPUs keep the cluster's own router.

The NIC defaults to the cluster's machine NIC: the narrowest link on GPU 0's path to the attachment switch (of
equals, the one nearest the switch), with its latency (on ``cloud`` and ``hierarchical`` clusters, one node NIC).

Examples
--------
>>> from simtrain.topology import cloud
>>> c = with_hosts(cloud(2, 4, nic_bandwidth="25 Gbit/s"), 2)
>>> c.num_gpus, c.num_hosts, c.num_endpoints
(8, 2, 10)
>>> r = c.routes([0, 9], [8, 5])          # GPU 0 -> host 0, host 1 -> GPU 5
>>> r.lengths.tolist()                     # gpu->nic->leaf->host, host->leaf->nic->gpu
[3, 3]
>>> float(c.link_bandwidth_Bps[r.links[2]]) == 25e9 / 8
True
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["with_hosts"]


class _HostRouter:
    """The cluster's router for GPU pairs; host flows go host link + attachment-switch path."""

    def __init__(self, base: Any, num_gpus: int, up: np.ndarray, down: np.ndarray,
                 to_gpu: list[np.ndarray], from_gpu: list[np.ndarray]) -> None:
        self.base = base
        self.num_gpus = num_gpus
        self.up = up          # host h -> attachment switch: link id
        self.down = down      # attachment switch -> host h
        self.to_gpu = to_gpu      # attachment switch -> GPU g: link ids
        self.from_gpu = from_gpu  # GPU g -> attachment switch

    def _path(self, s: int, d: int) -> np.ndarray:
        p = self.num_gpus
        if s >= p and d >= p:
            return np.zeros(0, dtype=np.int64) if s == d else np.array([self.up[s - p], self.down[d - p]])
        if s >= p:
            return np.concatenate([[self.up[s - p]], self.to_gpu[d]]).astype(np.int64)
        return np.concatenate([self.from_gpu[s], [self.down[d - p]]]).astype(np.int64)

    def routes(self, src: np.ndarray, dst: np.ndarray) -> Routes:
        host = (src >= self.num_gpus) | (dst >= self.num_gpus)
        if not host.any():
            return self.base.routes(src, dst)
        gpu = np.flatnonzero(~host)
        base = self.base.routes(src[gpu], dst[gpu])
        lengths = np.zeros(len(src), dtype=np.int64)
        lengths[gpu] = base.lengths
        paths = [self._path(int(s), int(d)) for s, d in zip(src[host], dst[host])]
        lengths[host] = [len(path) for path in paths]
        offsets = np.zeros(len(src) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        links = np.empty(int(offsets[-1]), dtype=np.int64)
        starts = offsets[:-1]
        if base.links.size:
            within = np.arange(base.links.size) - base.offsets[:-1][base.flow_of_entry]
            links[starts[gpu][base.flow_of_entry] + within] = base.links
        for flow, path in zip(np.flatnonzero(host), paths):
            links[starts[flow]:starts[flow] + len(path)] = path
        return Routes(offsets, links)


def _attachment(cluster: Cluster) -> tuple[int, dict[int, list[int]], dict[int, list[int]]]:
    """The non-GPU node whose farthest GPU is nearest (ties: the lowest id), with hop-shortest paths (as node
    lists) from it to every GPU and from every GPU to it."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(cluster.node_names)))
    graph.add_edges_from(zip(cluster.link_src.tolist(), cluster.link_dst.tolist()))
    p = cluster.num_gpus
    best: tuple[float, int] | None = None
    for node in range(p, len(cluster.node_names)):
        reach = nx.single_source_shortest_path_length(graph, node)
        farthest = max((reach.get(g, float("inf")) for g in range(p)), default=float("inf"))
        if best is None or farthest < best[0]:
            best = (farthest, node)
    if best is None or best[0] == float("inf"):
        raise ConfigError("CPU server machines need a switched fabric to attach to (a switch, cloud, hierarchical "
                          "or graph topology with switch nodes); this topology has none", key="cpu_servers.count",
                          value=0)
    root = best[1]
    out = nx.single_source_shortest_path(graph, root)
    back = nx.single_source_shortest_path(graph.reverse(copy=False), root)
    return root, {g: out[g] for g in range(p)}, {g: back[g][::-1] for g in range(p)}


def with_hosts(cluster: Cluster, count: int, bandwidth: float | None = None, latency: float | None = None) -> Cluster:
    """``cluster`` with ``count`` CPU-only machines (endpoints ``num_gpus .. num_gpus+count-1``) on its fabric.

    Parameters
    ----------
    cluster : Cluster
        A cluster without hosts.
    count : int
        CPU machines to add (0 returns ``cluster``).
    bandwidth, latency : float, optional
        Each host NIC's bandwidth per direction (B/s) and latency (s); default: the machine NIC's (module doc).

    Examples
    --------
    >>> from simtrain.topology import switch
    >>> c = with_hosts(switch(4, "10 GB/s", "1 us"), 1, bandwidth=5e9)
    >>> c.node_names[-1], c.routes([2], [4]).lengths.tolist()
    ('host0', [2])
    """
    if count == 0:
        return cluster
    if cluster.num_hosts:
        raise ConfigError("the cluster already has CPU server machines", key="cpu_servers.count", value=count)
    root, to_nodes, from_nodes = _attachment(cluster)
    link_of = {(int(s), int(d)): i for i, (s, d) in enumerate(zip(cluster.link_src, cluster.link_dst))}

    def link_ids(nodes: list[int]) -> np.ndarray:
        return np.array([link_of[(a, b)] for a, b in itertools.pairwise(nodes)], dtype=np.int64)

    to_gpu = [link_ids(to_nodes[g]) for g in range(cluster.num_gpus)]
    from_gpu = [link_ids(from_nodes[g]) for g in range(cluster.num_gpus)]
    path_bw = cluster.link_bandwidth_Bps[from_gpu[0]]
    # the narrowest link on GPU 0's way up; of equals, the one nearest the fabric (the NIC's, not the PCIe's)
    nic = from_gpu[0][np.flatnonzero(path_bw == path_bw.min())[-1]] if from_gpu[0].size else None
    bw = float(cluster.link_bandwidth_Bps[nic]) if bandwidth is None and nic is not None else bandwidth
    lat = float(cluster.link_latency_s[nic]) if latency is None and nic is not None else (latency or 0.0)
    if bw is None or not bw > 0:
        raise ConfigError("must be a positive bandwidth", key="cpu_servers.nic_bandwidth", value=bandwidth)
    first_node, first_link = len(cluster.node_names), cluster.num_links
    hosts = first_node + np.arange(count)
    up = first_link + 2 * np.arange(count)
    # the host link's class: the class of the links that enter the attachment switch from the machines
    entering = np.flatnonzero(cluster.link_dst == root)
    klass = int(cluster.link_class[entering[0]]) if entering.size else 0
    src = np.stack([hosts, np.full(count, root)], 1).ravel()
    dst = np.stack([np.full(count, root), hosts], 1).ravel()
    return dataclasses.replace(
        cluster,
        node_names=[*cluster.node_names, *(f"host{h}" for h in range(count))],
        link_src=np.concatenate([cluster.link_src, src]),
        link_dst=np.concatenate([cluster.link_dst, dst]),
        link_bandwidth_Bps=np.concatenate([cluster.link_bandwidth_Bps, np.full(2 * count, bw)]),
        link_latency_s=np.concatenate([cluster.link_latency_s, np.full(2 * count, lat)]),
        link_class=np.concatenate([cluster.link_class, np.full(2 * count, klass, dtype=np.int64)]),
        router=_HostRouter(cluster.router, cluster.num_gpus, up, up + 1, to_gpu, from_gpu),
        num_hosts=count,
        params={**cluster.params, "cpu_servers": count, "cpu_server_nic_Bps": bw},
    )
