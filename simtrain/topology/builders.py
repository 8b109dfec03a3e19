"""Cluster builders: rings, tori, switches, dimension stacks, hierarchical NVLink+InfiniBand clusters, clouds,
fat-trees and explicit graphs.

Quantities may be given as strings with units (``"25 Gbit/s"``) or as SI floats (bytes/s, seconds).
Bandwidths are per direction of a full-duplex link.

Dimension stacks follow ASTRA-sim's analytical convention: every GPU has its own link(s) in every dimension;
a ``ring`` dimension joins neighbours in both directions, a ``switch`` dimension joins each GPU to a switch
(a message costs two link hops), a ``fully_connected`` dimension has a link between every pair. Dimension 0
varies fastest in the rank numbering. Routing is dimension-order (shortest direction on rings, ties going
forward).

Examples
--------
>>> c = dimension_stack([{"kind": "ring", "size": 8, "bandwidth": "150 GiB/s", "latency": "500 ns"},
...                      {"kind": "switch", "size": 16, "bandwidth": "25 GiB/s", "latency": "500 ns"}])
>>> c.num_gpus, c.grid, c.class_names
(128, (8, 16), ('dim0', 'dim1'))
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain import units
from simtrain.errors import ConfigError
from simtrain.limits import MAX_MESH_LINKS, MAX_ROUTE_ENTRIES
from simtrain.topology.cluster import Cluster, Routes

__all__ = [
    "DIMENSION_KINDS",
    "cloud",
    "dimension_stack",
    "fat_tree",
    "from_graph",
    "fully_connected",
    "hierarchical",
    "ring",
    "switch",
    "torus",
]

DIMENSION_KINDS = ("ring", "switch", "fully_connected")


#: The fastest link a topology may have: a petabyte per second is 500x a GB200's NVLink; far faster ones are typos,
#: and near the float limit a collective's bus bandwidth overflows to infinity.
MAX_LINK_BANDWIDTH_BPS = 1e15


def _bw(value: Any, key: str = "bandwidth") -> float:
    number = units.parse_bandwidth(value) if isinstance(value, str) else float(value)
    if not number > 0 or not math.isfinite(number):
        raise ConfigError("must be a positive bandwidth", key=key, value=value)
    if number > MAX_LINK_BANDWIDTH_BPS:   # a parsed value is shown with its unit, not as bytes/s in digits
        raise ConfigError("is faster than any link", key=key,
                          value=value if isinstance(value, str) else units.format_bandwidth(number),
                          allowed="at most 1 PB/s")
    return number


#: The longest latency a link may have: a second is far past any network (a geostationary hop is 0.25 s), and
#: much longer ones overflow the step's sums.
MAX_LINK_LATENCY_S = 1.0


def _lat(value: Any, key: str = "latency") -> float:
    number = units.parse_time(value) if isinstance(value, str) else float(value)
    if number < 0 or not math.isfinite(number):
        raise ConfigError("must be a non-negative time", key=key, value=value)
    if number > MAX_LINK_LATENCY_S:
        raise ConfigError(f"must be at most {MAX_LINK_LATENCY_S:g} s", key=key,
                          value=value if isinstance(value, str) else units.format_time(number))
    return number


# ----------------------------------------------------------------------------------------------------
# Dimension stacks (rings, tori, switches, fully connected)
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Dim:
    kind: str
    size: int
    stride: int  # rank stride of this dimension
    base: int  # first link id of this dimension
    switch_base: int  # first switch node id (switch dimensions)

    def links_per_line(self) -> int:
        k = self.size
        if k == 1:
            return 0
        if self.kind == "ring":
            return k if k == 2 else 2 * k
        if self.kind == "switch":
            return 2 * k
        return k * (k - 1)


class _StackRouter:
    """Dimension-order routing on a stack of ring / switch / fully-connected dimensions."""

    def __init__(self, dims: list[_Dim], num_gpus: int) -> None:
        self.dims = dims
        self.num_gpus = num_gpus

    def routes(self, src: np.ndarray, dst: np.ndarray) -> Routes:
        counts: list[np.ndarray] = []
        ids: list[np.ndarray] = []
        current = src.copy()
        for dim in self.dims:
            k, stride = dim.size, dim.stride
            c_src = (current // stride) % k
            c_dst = (dst // stride) % k
            line = (current // (stride * k)) * stride + current % stride
            if k == 1:
                continue
            if dim.kind == "ring":
                forward = (c_dst - c_src) % k
                backward = (c_src - c_dst) % k
                go_forward = forward <= backward
                hops = np.where(go_forward, forward, backward)
                total = int(hops.sum())
                flow = np.repeat(np.arange(len(src)), hops)
                offsets = np.zeros(len(src), dtype=np.int64)
                np.cumsum(hops[:-1], out=offsets[1:])
                step = np.arange(total) - offsets[flow]
                fwd = go_forward[flow]
                pos = np.where(fwd, (c_src[flow] + step) % k, (c_src[flow] - step) % k)
                if k == 2:
                    link = dim.base + line[flow] * k + pos
                else:
                    link = dim.base + (line[flow] * k + pos) * 2 + np.where(fwd, 0, 1)
                counts.append(hops)
                ids.append(link)
            elif dim.kind == "switch":
                moving = c_src != c_dst
                hops = moving.astype(np.int64) * 2
                up = dim.base + (line * k + c_src) * 2
                down = dim.base + (line * k + c_dst) * 2 + 1
                seg = np.stack([up, down], axis=1)[moving].ravel()
                counts.append(hops)
                ids.append(seg)
            else:  # fully_connected
                moving = c_src != c_dst
                j = c_dst - (c_dst > c_src)
                link = dim.base + (line * k + c_src) * (k - 1) + j
                counts.append(moving.astype(np.int64))
                ids.append(link[moving])
            current = current + (c_dst - c_src) * stride
        if not counts:
            return Routes(np.zeros(len(src) + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))
        return Routes.concat_segments(counts, ids)


def dimension_stack(
    dimensions: Sequence[dict[str, Any]],
    *,
    name: str = "stack",
    device: str = "h100",
    class_names: Sequence[str] | None = None,
) -> Cluster:
    """A stack of ring / switch / fully-connected dimensions, as in ASTRA-sim's analytical network.

    Parameters
    ----------
    dimensions : list of dict
        Each with ``kind`` (``ring``, ``switch`` or ``fully_connected``), ``size``, ``bandwidth`` and
        ``latency``. Dimension 0 varies fastest in the rank numbering.
    name, device : str
        Cluster name and hardware catalog name.
    class_names : list of str, optional
        Link-class name per dimension (default ``dim0``, ``dim1`` …).

    Returns
    -------
    Cluster

    Examples
    --------
    >>> c = dimension_stack([{"kind": "switch", "size": 8, "bandwidth": "100 GB/s", "latency": "1 us"}])
    >>> c.routes([0], [3]).lengths.tolist()      # GPU -> switch -> GPU
    [2]
    """
    if not dimensions:
        raise ConfigError("a dimension stack needs at least one dimension", key="dimensions")
    dims: list[_Dim] = []
    stride = 1
    for index, spec in enumerate(dimensions):
        kind = spec.get("kind")
        if kind not in DIMENSION_KINDS:
            raise ConfigError("unknown dimension kind", key=f"dimensions[{index}].kind", value=kind,
                              choices=DIMENSION_KINDS)
        size = spec.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError("must be a positive integer", key=f"dimensions[{index}].size", value=size)
        dims.append(_Dim(kind, size, stride, 0, 0))
        stride *= size
    num_gpus = stride
    bandwidths = [_bw(s.get("bandwidth"), f"dimensions[{i}].bandwidth") for i, s in enumerate(dimensions)]
    latencies = [_lat(s.get("latency"), f"dimensions[{i}].latency") for i, s in enumerate(dimensions)]

    src_parts, dst_parts, bw_parts, lat_parts, cls_parts = [], [], [], [], []
    link_base = 0
    switch_base = num_gpus
    node_names = [f"gpu{r}" for r in range(num_gpus)]
    final_dims = []
    for index, dim in enumerate(dims):
        k = dim.size
        lines = num_gpus // k
        final = _Dim(dim.kind, k, dim.stride, link_base, switch_base)
        final_dims.append(final)
        if k == 1:
            continue
        line = np.arange(lines)
        line_first = (line // dim.stride) * (dim.stride * k) + line % dim.stride  # rank at coordinate 0
        pos = np.arange(k)
        rank = line_first[:, None] + pos[None, :] * dim.stride  # lines x k
        if dim.kind == "ring":
            nxt = line_first[:, None] + ((pos + 1) % k)[None, :] * dim.stride
            prv = line_first[:, None] + ((pos - 1) % k)[None, :] * dim.stride
            if k == 2:
                s, d = rank.ravel(), nxt.ravel()
            else:
                s = np.stack([rank, rank], axis=2).ravel()
                d = np.stack([nxt, prv], axis=2).ravel()
        elif dim.kind == "switch":
            sw = switch_base + np.repeat(line, k).reshape(lines, k)
            s = np.stack([rank, sw], axis=2).ravel()
            d = np.stack([sw, rank], axis=2).ravel()
            node_names += [f"switch{index}.{g}" for g in range(lines)]
            switch_base += lines
        else:
            if lines * k * (k - 1) > MAX_MESH_LINKS:   # p(p-1) links: counted before they are built
                raise ConfigError(f"a fully connected dimension of {k} GPUs (x {lines}) has {lines * k * (k - 1):,} "
                                  f"links; at most {MAX_MESH_LINKS:,}", key=f"dimensions[{index}].size", value=k)
            others = np.array([[j for j in range(k) if j != i] for i in range(k)], dtype=np.int64)
            s = np.repeat(rank[:, :, None], k - 1, axis=2).ravel()
            d = (line_first[:, None, None] + others[None, :, :] * dim.stride).ravel()
        count = len(s)
        src_parts.append(s)
        dst_parts.append(d)
        bw_parts.append(np.full(count, bandwidths[index]))
        lat_parts.append(np.full(count, latencies[index]))
        cls_parts.append(np.full(count, index, dtype=np.int64))
        link_base += count
    if class_names is None:
        class_names = [f"dim{i}" for i in range(len(dims))]

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return Cluster(
        name=name,
        num_gpus=num_gpus,
        node_names=node_names,
        link_src=cat(src_parts, np.int64),
        link_dst=cat(dst_parts, np.int64),
        link_bandwidth_Bps=cat(bw_parts, np.float64),
        link_latency_s=cat(lat_parts, np.float64),
        link_class=cat(cls_parts, np.int64),
        class_names=tuple(class_names),
        router=_StackRouter(final_dims, num_gpus),
        grid=tuple(d.size for d in dims),
        gpus_per_node=dims[0].size,
        device=device,
        params={"dimensions": [dict(d) for d in dimensions]},
    )


def _count(value: Any, key: str) -> int:
    """A positive integer (numpy integers accepted; floats, even whole ones, rejected)."""
    try:
        number = operator.index(value)
    except TypeError:
        raise ConfigError("must be a positive integer", key=key, value=value) from None
    if number < 1:
        raise ConfigError("must be a positive integer", key=key, value=value)
    return number


def _uniform(kind: str, sizes: Sequence[int], bandwidth: Any, latency: Any, **kwargs: Any) -> Cluster:
    _bw(bandwidth), _lat(latency)   # named as these families' files and arguments name them, not as dimensions
    return dimension_stack(
        [{"kind": kind, "size": _count(s, "size"), "bandwidth": bandwidth, "latency": latency} for s in sizes],
        **kwargs,
    )


def ring(num_gpus: int, bandwidth: Any, latency: Any = 0.0, **kwargs: Any) -> Cluster:
    """A bidirectional ring of ``num_gpus`` GPUs.

    Examples
    --------
    >>> ring(8, "50 GB/s", "1 us").num_links
    16
    """
    return _uniform("ring", [num_gpus], bandwidth, latency, **{"name": "ring", **kwargs})


def torus(dims: Sequence[int], bandwidth: Any, latency: Any = 0.0, **kwargs: Any) -> Cluster:
    """A 2-D, 3-D or n-D torus (a stack of rings); ``dims[0]`` varies fastest in the rank numbering.

    Examples
    --------
    >>> torus([4, 8], "50 GiB/s", "500 ns").grid
    (4, 8)
    """
    name = "torus-" + "x".join(str(d) for d in dims)
    return _uniform("ring", dims, bandwidth, latency, **{"name": name, **kwargs})


def switch(num_gpus: int, bandwidth: Any, latency: Any = 0.0, **kwargs: Any) -> Cluster:
    """All GPUs on one non-blocking switch; each GPU has one link each way at ``bandwidth``.

    Examples
    --------
    >>> switch(4, "25 GB/s").num_links
    8
    """
    return _uniform("switch", [num_gpus], bandwidth, latency, **{"name": "switch", **kwargs})


def fully_connected(num_gpus: int, bandwidth: Any, latency: Any = 0.0, **kwargs: Any) -> Cluster:
    """A dedicated link between every ordered pair of GPUs.

    Examples
    --------
    >>> fully_connected(4, "25 GB/s").num_links
    12
    """
    return _uniform("fully_connected", [num_gpus], bandwidth, latency,
                    **{"name": "fully-connected", **kwargs})


#: Physical kinds of in-node links a topology may name (``intra_node.link``).
INTRA_LINKS = ("nvswitch", "nvlink", "nvlink-bridge", "pcie", "xgmi")
#: How NCCL moves data through a node's NICs: ``rdma`` (InfiniBand, RoCE: GPUDirect RDMA), ``socket`` (kernel
#: TCP through host memory, NCCL's ``NET/Socket`` on Ethernet without RDMA) or ``tcpx`` (GCP's GPUDirect-TCPX net
#: plugin: kernel TCP sent from and received into GPU memory). It sets the NIC links' kind (``nic``, ``nic-socket``,
#: ``nic-tcpx``: :data:`NIC_LINK_KINDS`) and so their efficiency under NCCL's protocol model (docs/nccl.md).
NIC_TRANSPORTS = ("rdma", "socket", "tcpx")
#: The NIC links' kind under each transport.
NIC_LINK_KINDS = {"rdma": "nic", "socket": "nic-socket", "tcpx": "nic-tcpx"}


# ----------------------------------------------------------------------------------------------------
# Hierarchical clusters: nodes of GPUs on NVLink/PCIe, NICs, a leaf/spine fabric with oversubscription
# ----------------------------------------------------------------------------------------------------
class _HierarchicalRouter:
    """Routes on a hierarchical cluster by structure (no graph search).

    Same node: GPU -> node switch -> GPU. Other node in the same rack: GPU -> NIC -> leaf -> NIC -> GPU.
    Other rack: GPU -> NIC -> leaf -> spine -> leaf -> NIC -> GPU.
    """

    def __init__(self, gpus_per_node: int, nics_per_node: int, nodes_per_rack: int, num_nodes: int,
                 layout: dict[str, int], intra_kind: str) -> None:
        self.g = gpus_per_node
        self.nics = nics_per_node
        self.rack = nodes_per_rack
        self.num_nodes = num_nodes
        self.layout = layout
        self.intra_kind = intra_kind

    def routes(self, src: np.ndarray, dst: np.ndarray) -> Routes:
        g, lay = self.g, self.layout
        node_s, node_d = src // g, dst // g
        local_s, local_d = src % g, dst % g
        same_gpu = src == dst
        same_node = (node_s == node_d) & ~same_gpu
        other_node = node_s != node_d
        rack_s, rack_d = node_s // self.rack, node_d // self.rack
        other_rack = other_node & (rack_s != rack_d)
        nic_s = node_s * self.nics + local_s * self.nics // g
        nic_d = node_d * self.nics + local_d * self.nics // g

        # intra-node segment
        if self.intra_kind == "switch":
            intra_ids = np.stack([lay["intra"] + 2 * src, lay["intra"] + 2 * dst + 1], axis=1)[same_node].ravel()
            intra_count = same_node * 2
        else:  # fully connected inside the node
            j = local_d - (local_d > local_s)
            link = lay["intra"] + (node_s * g + local_s) * (g - 1) + j
            intra_ids = link[same_node]
            intra_count = same_node.astype(np.int64)
        # inter-node: gpu->nic, nic->leaf, [leaf->spine, spine->leaf], leaf->nic, nic->gpu
        up = np.stack([lay["pcie"] + 2 * src, lay["nic"] + 2 * nic_s], axis=1)
        spine = np.stack([lay["spine"] + 2 * rack_s, lay["spine"] + 2 * rack_d + 1], axis=1)
        down = np.stack([lay["nic"] + 2 * nic_d + 1, lay["pcie"] + 2 * dst + 1], axis=1)
        counts = [intra_count.astype(np.int64), other_node * 2, other_rack * 2, other_node * 2]
        ids = [intra_ids, up[other_node].ravel(), spine[other_rack].ravel(), down[other_node].ravel()]
        return Routes.concat_segments([c.astype(np.int64) for c in counts], ids)


def hierarchical(
    num_nodes: int,
    gpus_per_node: int,
    *,
    intra_bandwidth: Any,
    intra_latency: Any = 0.0,
    intra_kind: str = "switch",
    nics_per_node: int = 1,
    nic_bandwidth: Any,
    nic_latency: Any = 0.0,
    pcie_bandwidth: Any = None,
    pcie_latency: Any = 0.0,
    nodes_per_rack: int | None = None,
    oversubscription: float = 1.0,
    spine_latency: Any = 0.0,
    flow_rate_cap: Any = None,
    name: str = "hierarchical",
    device: str = "h100",
    intra_link: str | None = None,
    in_switch_reduction: bool = False,
    in_network_reduction: bool = False,
    nic_transport: str = "rdma",
) -> Cluster:
    """Nodes of GPUs joined by NVLink (or PCIe), NICs per node, and a leaf/spine fabric.

    Parameters
    ----------
    num_nodes, gpus_per_node : int
        Cluster size.
    intra_bandwidth, intra_latency
        Per-GPU NVLink/NVSwitch bandwidth per direction and latency (``intra_kind='switch'``), or per-pair
        link bandwidth (``intra_kind='fully_connected'``).
    nics_per_node : int
        NICs per node; GPU ``l`` of a node uses NIC ``l * nics_per_node // gpus_per_node``.
    nic_bandwidth, nic_latency
        Per-NIC bandwidth per direction and per-link latency between NIC and leaf switch.
    pcie_bandwidth, pcie_latency
        GPU-to-NIC link (default: the NIC bandwidth, i.e. not a bottleneck of its own).
    nodes_per_rack : int, optional
        Nodes under one leaf switch (full bisection inside a rack); default: all nodes in one rack.
    oversubscription : float
        Ratio of a rack's NIC bandwidth to its uplink bandwidth to the spine (3 means 3:1).
    flow_rate_cap : optional
        Maximum rate of a single flow (public-cloud TCP), e.g. ``"10 Gbit/s"``.
    intra_link : str, optional
        Physical kind of the in-node links (``nvswitch``, ``nvlink``, ``nvlink-bridge``, ``pcie``, ``xgmi``; default
        ``nvswitch`` for a switch, ``nvlink`` for fully connected), which sets protocol efficiencies.
    in_switch_reduction, in_network_reduction : bool
        The node switch reduces in the switch (NVLink SHARP: NCCL's NVLS); the fabric does (SHARP: CollNet).
    nic_transport : {'rdma', 'socket', 'tcpx'}
        How NCCL drives the NICs (:data:`NIC_TRANSPORTS`): RDMA (InfiniBand, RoCE), its TCP socket transport, or
        GCP's GPUDirect-TCPX plugin.

    Examples
    --------
    >>> c = hierarchical(4, 8, intra_bandwidth="150 GB/s", nic_bandwidth="25 Gbit/s")
    >>> c.num_gpus, c.grid, c.class_names
    (32, (8, 4), ('intra-node', 'inter-node'))
    """
    if intra_link is not None and intra_link not in INTRA_LINKS:
        raise ConfigError("unknown intra-node link", key="intra_node.link", value=intra_link, choices=INTRA_LINKS)
    if nic_transport not in NIC_TRANSPORTS:
        raise ConfigError("unknown NIC transport", key="nic.transport", value=nic_transport, choices=NIC_TRANSPORTS)
    if intra_kind not in ("switch", "fully_connected"):
        raise ConfigError("unknown intra-node kind", key="intra_node.kind", value=intra_kind,
                          choices=["switch", "fully_connected"])
    if in_switch_reduction and intra_kind != "switch":   # NVLink SHARP reduces in the node's switch
        raise ConfigError("in-switch reduction needs a switch in the node", key="intra_node.in_switch_reduction",
                          value=in_switch_reduction, allowed="true only with intra_node kind: switch (a node made "
                          "fully_connected also sets intra_node.in_switch_reduction: false)")
    for key, value in (("nodes", num_nodes), ("gpus_per_node", gpus_per_node), ("nics_per_node", nics_per_node)):
        _count(value, key)
    if nodes_per_rack is not None:
        _count(nodes_per_rack, "fabric.nodes_per_rack")
    if not (isinstance(oversubscription, (int, float)) and math.isfinite(oversubscription)
            and oversubscription >= 1):
        raise ConfigError("must be a number of at least 1", key="fabric.oversubscription", value=oversubscription)
    g, n = operator.index(gpus_per_node), operator.index(num_nodes)
    nics_per_node = operator.index(nics_per_node)
    p = g * n
    rack = nodes_per_rack or n
    racks = -(-n // rack)
    nics = n * nics_per_node
    intra_bw, nic_bw = _bw(intra_bandwidth, "intra_node.bandwidth"), _bw(nic_bandwidth, "nic.bandwidth")
    pcie_bw = nic_bw if pcie_bandwidth is None else _bw(pcie_bandwidth, "pcie.bandwidth")
    cap = float("inf") if flow_rate_cap is None else _bw(flow_rate_cap, "per_flow_cap")

    # node ids: GPUs, node switches, NICs, leaves, spine
    node_switch0 = p
    nic0 = node_switch0 + n
    leaf0 = nic0 + nics
    spine_node = leaf0 + racks
    names = ([f"gpu{r}" for r in range(p)] + [f"node{i}.switch" for i in range(n)]
             + [f"node{i // nics_per_node}.nic{i % nics_per_node}" for i in range(nics)]
             + [f"leaf{i}" for i in range(racks)] + ["spine"])

    rank = np.arange(p)
    node = rank // g
    local = rank % g
    layout: dict[str, int] = {}
    src_parts: list[np.ndarray] = []
    dst_parts: list[np.ndarray] = []
    bw_parts: list[np.ndarray] = []
    lat_parts: list[np.ndarray] = []
    cls_parts: list[np.ndarray] = []

    def add(key: str, s: np.ndarray, d: np.ndarray, bw: float | np.ndarray, lat: float, cls: int) -> None:
        layout[key] = sum(len(x) for x in src_parts)
        src_parts.append(s)
        dst_parts.append(d)
        bw_parts.append(np.broadcast_to(np.asarray(bw, dtype=np.float64), s.shape).copy())
        lat_parts.append(np.full(len(s), lat))
        cls_parts.append(np.full(len(s), cls, dtype=np.int64))

    intra_lat = _lat(intra_latency, "intra_node.latency")
    if intra_kind == "switch":
        sw = node_switch0 + node
        add("intra", np.stack([rank, sw], 1).ravel(), np.stack([sw, rank], 1).ravel(), intra_bw, intra_lat, 0)
    else:
        if n * g * (g - 1) > MAX_MESH_LINKS:   # p(p-1) links per node: counted before they are built
            raise ConfigError(f"{n} fully connected nodes of {g} GPUs have {n * g * (g - 1):,} links; at most "
                              f"{MAX_MESH_LINKS:,}", key="gpus_per_node", value=g)
        others = np.array([[j for j in range(g) if j != i] for i in range(g)], dtype=np.int64).reshape(g, g - 1)
        s = np.repeat(rank, g - 1)
        d = (node[:, None] * g + others[local]).ravel()
        add("intra", s, d, intra_bw, intra_lat, 0)
    nic_of_gpu = nic0 + node * nics_per_node + local * nics_per_node // g
    add("pcie", np.stack([rank, nic_of_gpu], 1).ravel(), np.stack([nic_of_gpu, rank], 1).ravel(),
        pcie_bw, _lat(pcie_latency, "pcie.latency"), 1)
    nic_ids = np.arange(nics)
    leaf_of_nic = leaf0 + (nic_ids // nics_per_node) // rack
    add("nic", np.stack([nic0 + nic_ids, leaf_of_nic], 1).ravel(),
        np.stack([leaf_of_nic, nic0 + nic_ids], 1).ravel(), nic_bw, _lat(nic_latency, "nic.latency"), 1)
    rack_ids = np.arange(racks)
    nodes_in_rack = np.minimum(rack, n - rack_ids * rack)
    uplink = nodes_in_rack * nics_per_node * nic_bw / oversubscription
    add("spine", np.stack([leaf0 + rack_ids, np.full(racks, spine_node)], 1).ravel(),
        np.stack([np.full(racks, spine_node), leaf0 + rack_ids], 1).ravel(),
        np.repeat(uplink, 2), _lat(spine_latency, "fabric.latency"), 1)

    router = _HierarchicalRouter(g, nics_per_node, rack, n, layout, intra_kind)
    return Cluster(
        name=name,
        num_gpus=p,
        node_names=names,
        link_src=np.concatenate(src_parts).astype(np.int64),
        link_dst=np.concatenate(dst_parts).astype(np.int64),
        link_bandwidth_Bps=np.concatenate(bw_parts),
        link_latency_s=np.concatenate(lat_parts),
        link_class=np.concatenate(cls_parts),
        class_names=("intra-node", "inter-node"),
        router=router,
        grid=(g, n),
        gpus_per_node=g,
        device=device,
        flow_rate_cap_Bps=cap,
        params={"nodes": n, "gpus_per_node": g, "nics_per_node": nics_per_node, "nodes_per_rack": rack,
                "oversubscription": oversubscription},
        link_kinds={"intra-node": intra_link or ("nvswitch" if intra_kind == "switch" else "nvlink"),
                    "inter-node": NIC_LINK_KINDS[nic_transport]},
        reducing=(("intra-node",) if in_switch_reduction else ()) + (("inter-node",) if in_network_reduction else ()),
    )


def cloud(
    instances: int,
    gpus_per_instance: int,
    *,
    nic_bandwidth: Any,
    nic_latency: Any = "15 us",
    intra_bandwidth: Any = "150 GB/s",
    intra_latency: Any = "0.3 us",
    per_flow_cap: Any = None,
    name: str = "cloud",
    device: str = "v100",
    nic_transport: str = "rdma",
) -> Cluster:
    """Public-cloud instances with one Ethernet NIC each on a non-blocking fabric, optionally with a per-flow cap.

    ``nic_transport='socket'`` prices NCCL's TCP socket transport at its default settings (about half the line
    rate), ``'tcpx'`` GCP's GPUDirect-TCPX plugin; the default prices the NIC as RDMA's (docs/nccl.md, "NIC
    transports").

    Examples
    --------
    >>> c = cloud(16, 8, nic_bandwidth="25 Gbit/s", per_flow_cap="10 Gbit/s")
    >>> c.num_gpus, c.flow_rate_cap_Bps
    (128, 1250000000.0)
    """
    # named as a cloud file (and a --set override) names them, not as the hierarchical family's keys
    _bw(nic_bandwidth, "nic_bandwidth"), _bw(intra_bandwidth, "intra_bandwidth")
    _lat(nic_latency, "nic_latency"), _lat(intra_latency, "intra_latency")
    return hierarchical(
        instances, gpus_per_instance, intra_bandwidth=intra_bandwidth, intra_latency=intra_latency,
        nics_per_node=1, nic_bandwidth=nic_bandwidth, nic_latency=nic_latency, pcie_bandwidth=None,
        flow_rate_cap=per_flow_cap, name=name, device=device, nic_transport=nic_transport,
    )


def fat_tree(
    hosts: int,
    *,
    bandwidth: Any,
    latency: Any = 0.0,
    hosts_per_leaf: int | None = None,
    oversubscription: float = 1.0,
    name: str = "fat-tree",
    device: str = "h100",
) -> Cluster:
    """A two-level fat-tree (leaf/spine) of single-GPU hosts with an oversubscription ratio at the leaves.

    Examples
    --------
    >>> fat_tree(16, bandwidth="50 GB/s", hosts_per_leaf=4, oversubscription=2).num_gpus
    16
    """
    _bw(bandwidth), _lat(latency)   # named as a fat tree's file names them, not as the hierarchical family's keys
    cluster = hierarchical(
        hosts, 1, intra_bandwidth=bandwidth, nics_per_node=1, nic_bandwidth=bandwidth, nic_latency=latency,
        pcie_bandwidth=None, nodes_per_rack=hosts_per_leaf, oversubscription=oversubscription,
        spine_latency=latency, name=name, device=device,
    )
    return dataclasses.replace(cluster, grid=(hosts,))


# ----------------------------------------------------------------------------------------------------
# Explicit graphs
# ----------------------------------------------------------------------------------------------------
def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele et al. 2014) on unsigned 64-bit values: every input bit moves every output bit,
    so two hops' choices for one flow are independent."""
    z = (z + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class _GraphRouter:
    """Shortest paths (fewest hops) on an explicit graph. Where several are shortest, every hop goes to one of the
    next nodes on a shortest path, chosen by a hash of (src, dst) (per-hop ECMP, as a switch hashes a flow's
    header), so a flow keeps one path and flows spread over the equal paths.

    One breadth-first search per destination gives every node's hop count to it; the flows to that destination then
    walk all at once, a hop per step (no per-pair path search).
    """

    def __init__(self, num_nodes: int, link_src: np.ndarray, link_dst: np.ndarray) -> None:
        self.num_nodes = num_nodes
        out = np.lexsort((link_dst, link_src))           # links by source node, then destination node
        self._out_link = out
        self._out_dst = link_dst[out]
        self._out_start = np.searchsorted(link_src[out], np.arange(num_nodes + 1))
        into = np.lexsort((link_src, link_dst))          # links by destination node (for the reverse search)
        self._in_src = link_src[into]
        self._in_start = np.searchsorted(link_dst[into], np.arange(num_nodes + 1))
        self.cache: dict[tuple[int, int], np.ndarray] = {}
        self._hops: dict[int, np.ndarray] = {}   # destination -> every node's hops to it, kept up to a budget
        self._reverse: Any = None   # the reversed links as a sparse matrix, for the searches

    def _hops_to(self, dst: int) -> np.ndarray:
        """Hops from every node to node ``dst`` (-1: none), by a breadth-first search over the links reversed; the
        searches are kept while they hold at most 2^24 values (routes are asked for in batches)."""
        if dst in self._hops:
            return self._hops[dst]
        hops = self._search(dst)
        if (len(self._hops) + 1) * self.num_nodes <= 1 << 24:
            self._hops[dst] = hops
        return hops

    def _search(self, dst: int) -> np.ndarray:
        """Hops from every node to ``dst`` (-1: none): a breadth-first search over the reversed links, in compiled
        code (scipy's csgraph): a search level by level in NumPy costs a few calls per level, and a ring-shaped graph
        of p nodes has p/2 levels for each of p destinations (28 s for 2,048 GPUs)."""
        from scipy.sparse.csgraph import shortest_path

        if self._reverse is None:
            from scipy.sparse import csr_matrix

            size = self.num_nodes
            heads = np.repeat(np.arange(size), np.diff(self._in_start))   # a link a -> b, reversed: b -> a
            self._reverse = csr_matrix((np.ones(heads.size), (heads, self._in_src)), shape=(size, size))
        distance = shortest_path(self._reverse, method="D", directed=True, unweighted=True, indices=[dst])[0]
        return np.where(np.isfinite(distance), distance, -1).astype(np.int64)

    def _walk(self, sources: np.ndarray, dests: np.ndarray) -> list[np.ndarray]:
        """The link ids of the path of each flow ``sources[i] -> dests[i]``: every flow walks a hop per step, all
        at once, each hop to one of the next nodes on a shortest path (by its hash)."""
        order = np.unique(dests)
        rows = np.stack([self._hops_to(int(d)) for d in order])      # hops to each destination, from every node
        row = np.searchsorted(order, dests)
        pick = np.array([hash((int(a), int(b))) & 0x7FFFFFFF for a, b in zip(sources, dests)], dtype=np.uint64)
        node = sources.copy()
        walkers: list[np.ndarray] = []
        taken: list[np.ndarray] = []
        active = np.flatnonzero(node != dests)
        while active.size:
            here = node[active]
            lo, hi = self._out_start[here], self._out_start[here + 1]
            counts = hi - lo
            owner = np.repeat(np.arange(active.size), counts)
            slot = np.arange(int(counts.sum())) + np.repeat(lo - np.r_[0, np.cumsum(counts)[:-1]], counts)
            closer = rows[row[active][owner], self._out_dst[slot]] == (rows[row[active], here] - 1)[owner]
            owner, slot = owner[closer], slot[closer]
            per = np.bincount(owner, minlength=active.size)            # next hops on a shortest path
            first = np.r_[0, np.cumsum(per)[:-1]]
            # each hop's own hash of the flow's and the node (a switch hashes the flow, and its choice is
            # independent of the previous switch's): a 64-bit mix, wrapping by definition in unsigned arithmetic
            mixed = _mix64(pick[active] ^ _mix64(here.astype(np.uint64)))
            chosen = slot[first + (mixed % per.astype(np.uint64)).astype(np.int64)]
            walkers.append(active)
            taken.append(self._out_link[chosen])
            node[active] = self._out_dst[chosen]
            active = active[node[active] != dests[active]]
        if not walkers:
            return [np.zeros(0, dtype=np.int64) for _ in sources]
        who = np.concatenate(walkers)
        links = np.concatenate(taken)[np.argsort(who, kind="stable")]   # each flow's hops in step order
        return np.split(links, np.cumsum(np.bincount(who, minlength=sources.size))[:-1])

    def routes(self, src: np.ndarray, dst: np.ndarray) -> Routes:
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        missing = sorted({(int(s), int(d)) for s, d in zip(src, dst)} - self.cache.keys())
        if missing:
            pairs = np.array(missing, dtype=np.int64)
            by_dst = np.argsort(pairs[:, 1], kind="stable")
            pairs = pairs[by_dst]
            # the hops of every missing route, from the searches, before any walk allocates them
            total = 0
            dests, starts = np.unique(pairs[:, 1], return_index=True)   # pairs are sorted by destination
            for d, lo, hi in zip(dests.tolist(), starts.tolist(), [*starts[1:].tolist(), len(pairs)]):
                total += int(self._hops_to(d)[pairs[lo:hi, 0]].sum())
                if total > MAX_ROUTE_ENTRIES:   # Cluster.routes bounds the other routers' batches
                    raise ConfigError(f"the flows' routes on this graph would hold more than {MAX_ROUTE_ENTRIES:,} "
                                      "link entries (their hops together)", key="topology",
                                      value=f"{len(src):,} flows", allowed="fewer GPUs or flows (another "
                                      "algorithm), or a graph with shorter paths")
            # walk destinations in groups whose hop tables hold at most 2^24 values
            group = max(1, (1 << 24) // max(self.num_nodes, 1))
            # and at most 2^22 candidate next hops a step (walkers x the most links a node has)
            walkers = max(1, (1 << 22) // max(int(np.diff(self._out_start).max()), 1))
            bounds = [*starts.tolist(), len(pairs)]
            for k in range(0, dests.size, group):
                chosen = pairs[bounds[k]:bounds[min(k + group, dests.size)]]
                for w in range(0, len(chosen), walkers):
                    sub = chosen[w:w + walkers]
                    for (a, b), path in zip(sub.tolist(), self._walk(sub[:, 0], sub[:, 1])):
                        self.cache[(a, b)] = path
        paths = [self.cache[(int(s), int(d))] for s, d in zip(src, dst)]
        lengths = np.array([p.size for p in paths], dtype=np.int64)
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        links = np.concatenate(paths) if paths else np.zeros(0, dtype=np.int64)
        return Routes(offsets, links.astype(np.int64, copy=False))


def from_graph(graph: Any, gpus: Sequence[Any], *, name: str = "graph", device: str = "h100",
               groups: int = 1) -> Cluster:
    """A cluster from a ``networkx.DiGraph`` whose edges carry ``bandwidth_Bps`` and ``latency_s``.

    Parameters
    ----------
    graph : networkx.DiGraph
        Directed links (add both directions for a full-duplex link). Optional edge attribute
        ``link_class`` (default ``"link"``).
    gpus : sequence
        The graph nodes that are GPUs, in rank order.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph()
    >>> for a, b in [("g0", "s"), ("s", "g0"), ("g1", "s"), ("s", "g1")]:
    ...     g.add_edge(a, b, bandwidth_Bps=1e9, latency_s=1e-6)
    >>> from_graph(g, ["g0", "g1"]).routes([0], [1]).lengths.tolist()
    [2]
    """
    import networkx as nx

    gpus = list(gpus)
    if len(set(gpus)) != len(gpus):
        raise ConfigError("GPU names must be unique", key="gpus", value=gpus)
    missing = [g for g in gpus if g not in graph]
    if missing:
        raise ConfigError("GPUs not in the graph", key="gpus", value=missing)
    for a, b in graph.edges:
        if a == b:
            raise ConfigError("a link joins a node to itself", key="links", value=f"{a} -> {b}")
    reach = nx.descendants(graph, gpus[0]) | {gpus[0]} if gpus else set()
    unreachable = [g for g in gpus if g not in reach]
    if unreachable:
        raise ConfigError("the graph is disconnected: these GPUs cannot be reached from the first GPU",
                          key="links", value=unreachable)
    back = nx.ancestors(graph, gpus[0]) if gpus else set()   # one search: who reaches the first GPU
    for g in gpus[1:]:
        if g not in back:
            raise ConfigError("the graph is disconnected: the first GPU cannot be reached from this GPU",
                              key="links", value=g)
    order = gpus + [node for node in graph.nodes if node not in set(gpus)]
    node_id = {node: i for i, node in enumerate(order)}
    classes: list[str] = []
    src: list[int] = []
    dst: list[int] = []
    bw: list[float] = []
    lat: list[float] = []
    cls: list[int] = []
    for a, b, data in graph.edges(data=True):
        bandwidth = float(data.get("bandwidth_Bps", 0.0))
        if not bandwidth > 0 or not math.isfinite(bandwidth):
            raise ConfigError("must be a positive bandwidth", key=f"links[{a} -> {b}].bandwidth", value=bandwidth)
        if bandwidth > MAX_LINK_BANDWIDTH_BPS:
            raise ConfigError("is faster than any link", key=f"links[{a} -> {b}].bandwidth", value=bandwidth,
                              allowed="at most 1 PB/s")
        latency = _lat(data.get("latency_s", 0.0), f"links[{a} -> {b}].latency")
        klass = str(data.get("link_class", "link"))
        if klass not in classes:
            classes.append(klass)
        src.append(node_id[a])
        dst.append(node_id[b])
        bw.append(bandwidth)
        lat.append(latency)
        cls.append(classes.index(klass))
    return Cluster(
        name=name,
        num_gpus=len(gpus),
        node_names=[str(n) for n in order],
        link_src=np.array(src, dtype=np.int64),
        link_dst=np.array(dst, dtype=np.int64),
        link_bandwidth_Bps=np.array(bw, dtype=np.float64),
        link_latency_s=np.array(lat, dtype=np.float64),
        link_class=np.array(cls, dtype=np.int64),
        class_names=tuple(classes) or ("link",),
        router=_GraphRouter(len(order), np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)),
        grid=(len(gpus),),
        gpus_per_node=groups,
        device=device,
    )
