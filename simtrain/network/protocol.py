"""NCCL's protocol model: what a collective library adds to the wire (``network.protocol: nccl``, ``auto``).

NCCL moves data with one of three protocols (LL, LL128, Simple) and picks, per collective and size, the one its
cost model predicts fastest (``src/graph/tuning.cc``; docs/references.md, "NCCL's tuning model"). There is one
cost model here, carried in the Schedule (:func:`with_protocol`), so the analytical engine and the DES read the
same costs:

* a bandwidth efficiency per flow: the lowest Simple efficiency of the link kinds it crosses
  (:data:`LINK_EFFICIENCY`) times NCCL's refinement for the algorithm and protocol (:func:`bandwidth_factor`);
* a latency per step: per flow the larger of NCCL's per-hop latency of the hardware class (NVLink, PCI, network)
  and the wire's, across nodes with a heavier protocol's excess over LL on top, averaged over the step's flows
  (the flows then carry no latency of their own);
* a base latency per collective (a pipelined tree's: NCCL's latency of the tree less what its steps charge).

``--algorithm auto`` chooses algorithm and protocol with NCCL's tuning model (:mod:`simtrain.collectives.nccl`).
A named algorithm with ``network.protocol: nccl`` runs under each protocol NCCL would run it with
(:func:`protocol_candidates`) and the engines keep the fastest.

Two constants are fitted, once, and frozen. ``SIMPLE_EFFICIENCY``, the efficiency of the Simple protocol on
NVLink-class links, from the large-message bus bandwidths of nccl-tests on 8 × A100 (231.6 GB/s on 300 GB/s
NVSwitch links, η = 0.772) and 8 × H100 with a forced ring (367.5 GB/s on 450 GB/s, η = 0.817): their geometric
mean, 0.794. ``SIMPLE_NETWORK_EFFICIENCY``, the share of a NIC's line rate a ring reaches across nodes, from the
NVIDIA maintainers' per-NIC figures (docs/references.md, "Published nccl-tests measurements"): ≈24 GB/s per HDR
200 Gbit/s NIC (nccl-tests #160, η = 0.96) and 46–48 GB/s per NDR 400 Gbit/s NIC (nccl-tests #290, midpoint
η = 0.94); geometric mean 0.950. The multi-node DGX-A100 bus bandwidth (192 GB/s, nccl #812) is not in either fit.

Across nodes without RDMA, NCCL's socket transport (``NET/Socket``: kernel TCP, staged through host memory by CPU
threads) reaches about half a NIC's line rate. ``SOCKET_NETWORK_EFFICIENCY`` is fitted, once, to one measurement:
16 V100 on two AWS p3dn instances, one 100 Gbit/s ENA NIC each, NCCL 2.4.8 with its default socket threads, ring:
"the bus can sustain around 6GB/s" (nccl #398; η = 6.0 / 12.5 = 0.48). Inter-node links of a topology whose NICs
run the socket transport (``nic.transport: socket``, or ``nic_transport: socket`` for the ``cloud`` family; RDMA is
the default) are of kind ``nic-socket``.

GCP's GPUDirect-TCPX (``nic.transport: tcpx``, links of kind ``nic-tcpx``) is a third transport: NCCL's net plugin
sends kernel TCP straight from GPU memory and receives into it (header split and flow steering, no host staging).
``TCPX_NETWORK_EFFICIENCY`` is fitted, once, to one measurement: the all-reduce that GCP's TCPX benchmark README
(GoogleCloudPlatform/ai-infra-cluster-provisioning, sample_workloads/nccltest) shows on two a3-highgpu-8g VMs, 16
ranks in a ring with Simple (its recipe's NCCL_ALGO=Ring, NCCL_PROTO=Simple, 12 channels), 89.54 GB/s bus bandwidth
at 8 GiB over 4 × 200 Gbit/s NICs per VM (η = 89.54 / 100). Its small messages are not modelled: the same table takes
1.8 ms for 1 to 8 MiB, where RDMA takes tens of microseconds.

Examples
--------
>>> PROTOCOLS
('none', 'nccl')
>>> nccl_kind("nccl-tree"), nccl_kind("hierarchical"), nccl_protocols("nvls")
('tree', 'ring', ('Simple',))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BRIDGE_EFFICIENCY", "LINK_EFFICIENCY", "LL128_KINDS", "NCCL_ALGORITHMS", "NCCL_KINDS", "NOT_NCCL",
           "NVLS_ALGORITHM_SHARE", "NVLS_CHANNELS", "NVLS_EFFICIENCY", "NVLS_TUNING_EFFICIENCY", "PROTOCOLS",
           "PROTOCOL_NAMES", "SIMPLE_EFFICIENCY", "SIMPLE_NETWORK_EFFICIENCY", "SOCKET_NETWORK_EFFICIENCY",
           "TCPX_NETWORK_EFFICIENCY",
           "XGMI_EFFICIENCY", "NvlsPipeline", "bandwidth_factor", "channel_ceiling_Bps", "graph_bus_Bps", "link_kind",
           "nccl_graph_channels", "nccl_kind", "nccl_latency", "nccl_protocols", "nccl_time", "node_bandwidths",
           "node_rates", "nvls_choice_share", "nvls_chunk_bytes", "nvls_link_efficiency", "nvls_pipeline",
           "nvls_tree_chunk_bytes", "pipeline_efficiency", "protocol_candidates", "tree_correction", "with_protocol"]

#: Simple-protocol bandwidth efficiency on NVLink-class links, fitted once (module docstring) and frozen.
SIMPLE_EFFICIENCY = round(math.sqrt((231.6 / 300.0) * (367.5 / 450.0)), 3)
#: Simple-protocol bandwidth efficiency across nodes (through NICs), fitted once (module docstring) and frozen.
SIMPLE_NETWORK_EFFICIENCY = round(math.sqrt((24.0 / 25.0) * (47.0 / 50.0)), 3)
#: Simple-protocol efficiency across nodes through NCCL's socket transport (no RDMA), fitted once to one
#: measurement (module docstring) and frozen.
SOCKET_NETWORK_EFFICIENCY = round(6.0 / 12.5, 3)
#: Simple-protocol efficiency across nodes through GCP's GPUDirect-TCPX plugin, fitted once to one measurement
#: (module docstring) and frozen.
TCPX_NETWORK_EFFICIENCY = round(89.54 / 100.0, 3)

#: ``network.protocol`` values: ``none`` (bytes at line rate, the default) or ``nccl`` (NCCL's protocols).
PROTOCOLS = ("none", "nccl")


# ----------------------------------------------------------------------------------------------------------------
# NCCL's choices (``--algorithm auto``): its tuning model's constants and the costs a Schedule carries
# ----------------------------------------------------------------------------------------------------------------

#: Simple-protocol efficiency of an H100 PCIe pair on an NVLink bridge: 116 GB/s bus bandwidth on 300 GB/s per
#: direction (nccl #1161, docs/references.md "Published nccl-tests measurements"); fitted to that one case, frozen.
BRIDGE_EFFICIENCY = round(116.0 / 300.0, 3)

#: Share of an AMD xGMI (Infinity Fabric) link's rate that data reaches: about 48 of 64 GB/s per direction after CRC
#: and protocol overheads (AMD, "Understanding RCCL Bandwidth and xGMI Performance on AMD Instinct MI300X", ROCm
#: blog, March 2025; RCCL's own topology takes 48 GB/s per gfx94x link, ROCm/rccl #1210). Not fitted: AMD's figure,
#: taken as the Simple efficiency as NVLink's is (RCCL's protocol overhead within it is not separated).
XGMI_EFFICIENCY = round(48.0 / 64.0, 3)

#: NVLS's algorithm bandwidth as a share of the NVLink line rate, per GPU architecture: what an all-reduce in the
#: switch (:mod:`simtrain.collectives.nvls`) reaches on the wire. Hopper's is fitted once, to one measurement, and
#: frozen: NCCL's NVLS all-reduce on 8 H100 SXM, "algbw 273" GB/s (busbw ~480) on 450 GB/s per direction (nccl
#: #1455; η = 273 / 450). NCCL's own model (2.19's 5/6 of the channels' bandwidth, times the Simple efficiency:
#: 0.662) put every one-node H100 and H200 NVLS measurement 7-9 % high. Blackwell's is Hopper's times the ratio of
#: NCCL's NVLS efficiencies (tuning.cc ``nvlsEfficiency``: 0.74 Blackwell, 0.85 Hopper; assumed: NCCL's ratio carries
#: over to the measured rate). Other architectures (no NVLS in NCCL) take Hopper's. It is carried as the in-switch
#: links' efficiency under NVLS (:func:`nvls_link_efficiency`), so it prices the flows in the switch and not the
#: flows through NICs of an NVLS tree.
NVLS_EFFICIENCY: dict[str, float] = {"hopper": round(273.0 / 450.0, 3)}
NVLS_EFFICIENCY["blackwell"] = round(NVLS_EFFICIENCY["hopper"] * 0.74 / 0.85, 3)
#: NCCL 2.19's NVLS algorithm bandwidth as a share of the channels' bandwidth (tuning.cc): the factor NVLS's flows
#: carry (:func:`bandwidth_factor`), which :func:`nvls_link_efficiency` divides out again.
NVLS_ALGORITHM_SHARE = 5.0 / 6.0
#: NCCL's NVLS efficiency by architecture (tuning.cc ``nvlsEfficiency``, NCCL 2.2x): what its model chooses NVLS
#: with (:func:`nvls_choice_share`).
NVLS_TUNING_EFFICIENCY: dict[str, float] = {"hopper": 0.85, "blackwell": 0.74}

#: Simple-protocol efficiency per physical link kind (a flow runs at the lowest over the links it crosses). NVLink
#: without a switch and PCIe have no measurement of their own here: they take the NVLink/NVSwitch value. ``nic``
#: is a NIC under RDMA (InfiniBand, RoCE), ``nic-socket`` one under NCCL's socket transport, ``nic-tcpx`` one under
#: GCP's GPUDirect-TCPX.
LINK_EFFICIENCY: dict[str, float] = {"nvswitch": SIMPLE_EFFICIENCY, "nvlink": SIMPLE_EFFICIENCY,
                                     "nvlink-bridge": BRIDGE_EFFICIENCY, "pcie": SIMPLE_EFFICIENCY,
                                     "xgmi": XGMI_EFFICIENCY,
                                     "nic": SIMPLE_NETWORK_EFFICIENCY, "nic-socket": SOCKET_NETWORK_EFFICIENCY,
                                     "nic-tcpx": TCPX_NETWORK_EFFICIENCY}

#: NCCL's hardware latency class of each link kind (tuning.cc: NVLink, PCI, NET). xGMI takes NVLink's: RCCL runs
#: its GPU-to-GPU links through NCCL's NVLink path type and tuning tables (its own per-GPU tuning is not modelled).
HW_CLASS: dict[str, str] = {"nvswitch": "nvlink", "nvlink": "nvlink", "nvlink-bridge": "nvlink", "pcie": "pci",
                            "xgmi": "nvlink", "nic": "net", "nic-socket": "net", "nic-tcpx": "net"}

#: Link kinds on which NCCL runs LL128 (NCCL enables it over NVLink only; RCCL's LL128 for gfx942's xGMI exists but
#: is left off by default, "pending tuning table update", ROCm/rccl #1549, so an MI300X node runs LL and Simple).
LL128_KINDS = ("nvswitch", "nvlink", "nvlink-bridge")

#: NCCL's algorithms and protocols (tuning.cc naming; simtrain's schedules in simtrain/collectives/nccl.py).
NCCL_ALGORITHMS = ("ring", "tree", "collnet", "nvls", "nvlstree")
#: NCCL's algorithms that reduce in the switch (NVLink SHARP): their flows in the switch run at NVLS's efficiency.
_NVLS = ("nvls", "nvlstree")
PROTOCOL_NAMES = ("LL", "LL128", "Simple")

#: NCCL's algorithm of each simtrain algorithm that is one of NCCL's own; any other runs as NCCL's ring does.
NCCL_KINDS: dict[str, str] = {"nvls": "nvls", "nvls-tree": "nvlstree", "nccl-tree": "tree", "collnet": "collnet"}
#: simtrain algorithms that NCCL does not run: push/pull through parameter servers (BytePS's ps-lite, a PS over
#: sockets or RDMA), which ``network.protocol: nccl`` leaves at line rate rather than price as an NCCL ring.
NOT_NCCL = ("ps", "byteps")

# NCCL 2.19 tuning.cc (µs), per algorithm (LL, LL128, Simple): base latency per collective, and latency per step
# by hardware class (CollNet: the chain variant). 0 where NCCL has no such pair.
BASE_LATENCY_US: dict[str, tuple[float, float, float]] = {
    "tree": (6.8, 14.0, 0.0), "ring": (6.6, 14.0, 8.4), "collnet": (0.0, 0.0, 0.0), "nvls": (0.0, 0.0, 0.0),
    "nvlstree": (0.0, 0.0, 0.0)}
HW_LATENCY_US: dict[str, dict[str, tuple[float, float, float]]] = {
    "nvlink": {"tree": (0.6, 1.25, 28.0), "ring": (0.6, 1.9, 3.4), "collnet": (0.0, 0.0, 2.8),
               "nvls": (0.0, 0.0, 23.0), "nvlstree": (0.0, 0.0, 23.0)},
    "pci": {"tree": (1.0, 1.9, 28.0), "ring": (1.0, 2.5, 5.7), "collnet": (0.0, 0.0, 2.8), "nvls": (0.0, 0.0, 0.0),
            "nvlstree": (0.0, 0.0, 0.0)},
    "net": {"tree": (5.0, 8.5, 28.0), "ring": (2.7, 4.0, 14.0), "collnet": (0.0, 0.0, 30.0),
            "nvls": (0.0, 0.0, 18.0), "nvlstree": (0.0, 0.0, 14.0)},
}

#: Algorithms whose chunks simtrain pipelines itself (NCCL's latency for them is charged once, as its base).
PIPELINED = ("tree", "nvlstree")

#: NCCL's ceiling on an NVLS tree's bus bandwidth per channel (GB/s), by GPU architecture and node count (2, then 3 or
#: more): tuning.cc ``perChMaxNVLSTreeBws`` (N2, N4 columns), first in NCCL 2.28.3, which caps each channel's
#: bandwidth at it on top of the links'. An NVLS tree runs a channel per head, a GPU that owns a NIC, at most
#: ``NCCL_MAX_NVLS_ARITY`` (32) of them (search.cc). simtrain's model is otherwise NCCL 2.19's, which has no such
#: ceiling and prices a two-node NVLS tree at its links' rate: 556 GB/s on two DGX H100, where two independent
#: measurements give 430 and 441 (nccl #1221, CoreWeave's nccl-tests #92) and the ceiling 8 x 57.7 = 462.
NVLS_TREE_CHANNEL_GBPS: dict[str, tuple[float, float]] = {"hopper": (57.7, 45.5), "blackwell": (96.0, 80.0)}
#: The most heads an NVLS tree has (NCCL_MAX_NVLS_ARITY, src/include/device.h).
NVLS_MAX_HEADS = 32


def nvls_tree_busbw_cap(architecture: str, nodes: int, ranks_per_node: int, nics_per_node: int) -> float:
    """NCCL's ceiling on an NVLS tree all-reduce's bus bandwidth (B/s, as nccl-tests reports it): one channel per
    head, ``min(ranks per node, NICs per node, 32)`` heads, each at :data:`NVLS_TREE_CHANNEL_GBPS`; ``inf`` for an
    architecture NCCL gives no ceiling (or one node, where NCCL runs no NVLS tree).

    Examples
    --------
    >>> nvls_tree_busbw_cap("hopper", 2, 8, 8) / 1e9
    461.6
    >>> nvls_tree_busbw_cap("ampere", 2, 8, 8)
    inf
    """
    table = NVLS_TREE_CHANNEL_GBPS.get(architecture)
    if table is None or nodes < 2:
        return math.inf
    heads = min(ranks_per_node, max(nics_per_node, 1), NVLS_MAX_HEADS)
    return heads * table[0 if nodes == 2 else 1] * 1e9


#: NCCL's architecture index (tuning.cc ``compCapIndex``) of simtrain's architecture families: Volta below sm80,
#: Ampere for sm80-sm89, Hopper, Blackwell. RCCL (AMD) has tables of its own, not modelled: no ceiling there.
NCCL_FAMILY: dict[str, str] = {"pascal": "volta", "volta": "volta", "turing": "volta", "ampere": "ampere",
                               "ada": "ampere", "hopper": "hopper", "blackwell": "blackwell"}

#: NCCL's ceiling on a graph's bus bandwidth per channel (GB/s) across 1, 2 and 3 or more nodes, by (algorithm,
#: protocol) and architecture: tuning.cc ``perChMaxTreeBws`` (a tree all-reduce, any protocol), ``perChMaxTreeLL128Bws``
#: and ``perChMaxRingLL128Bws``, NCCL 2.19 (the Ampere and Volta tree rows since 2.10.3; Blackwell's tree rows from
#: NCCL 2.28.3 and its ring LL128 row from 2.29.7, the first with figures of its own rather than twice Hopper's;
#: 2.28 also allows 32 graph channels, simtrain keeps 2.19's 16). A tree all-reduce's bus bandwidth is
#: ``min(0.92 x graph, channels x ceiling)``, under LL128 once more ``min(... x 120/128, channels x LL128 ceiling)``;
#: a ring's under LL128 ``min(0.92 x graph, channels x ceiling)``. They stand for what a channel moves at most (a
#: tree's chain in a node runs one channel's reduction through every GPU).
CHANNEL_CEILING_GBPS: dict[tuple[str, str], dict[str, tuple[float, float, float]]] = {
    ("tree", "Simple"): {"volta": (26.5, 18.5, 10.0), "ampere": (24.0, 23.6, 17.8), "hopper": (38.7, 41.4, 36.0),
                         "blackwell": (70.0, 42.8, 24.0)},
    ("tree", "LL128"): {"volta": (20.0, 20.0, 20.0), "ampere": (20.0, 20.0, 20.0), "hopper": (36.7, 36.7, 29.0),
                        "blackwell": (55.6, 31.67, 20.0)},
    ("ring", "LL128"): {"volta": (20.0, 20.0, 20.0), "ampere": (20.0, 20.0, 20.0), "hopper": (36.7, 36.7, 36.7),
                        "blackwell": (40.0, 40.0, 40.0)},
}
#: The per-channel speeds NCCL's search tries across nodes (GB/s, search.cc ``speedArrayInter``, ``sm90...``,
#: ``sm100...``): a channel runs at the fastest that a GPU's path to its NIC allows.
INTER_SPEEDS_GBPS: dict[str, tuple[float, ...]] = {
    "ampere": (48.0, 30.0, 28.0, 24.0, 20.0, 18.0, 15.0, 12.0, 10.0, 9.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.4, 1.2, 0.24,
               0.12),
    "hopper": (48.0, 45.0, 42.0, 40.0, 30.0, 24.0, 22.0, 20.0, 17.5, 15.0, 12.0, 6.0, 3.0, 2.4, 1.2, 0.24, 0.12),
    "blackwell": (96.0, 86.0, 80.0, 48.0, 45.1, 42.0, 40.0, 30.0, 24.0, 22.0, 20.0, 17.5, 15.0, 12.0, 6.0, 3.0, 2.4,
                  1.2, 0.24, 0.12),
}
INTER_SPEEDS_GBPS["volta"] = INTER_SPEEDS_GBPS["ampere"]
#: The most channels a ring or tree graph has (init.cc: ``MAXCHANNELS / 2``, NCCL 2.19).
GRAPH_MAX_CHANNELS = 16
#: A GPU's PCIe x16 link to its NIC as NCCL's topology rates it (GB/s; NCCL's 12 for Gen3, doubling per generation):
#: a channel's speed is capped by it as by the NIC's line rate (search.cc: the path's bandwidth, ``maxBw``). Pascal,
#: Volta and Turing Gen3; Ampere and Ada Gen4; Hopper Gen5; Blackwell Gen6.
PCIE_GBPS: dict[str, float] = {"pascal": 12.0, "volta": 12.0, "turing": 12.0, "ampere": 24.0, "ada": 24.0,
                               "hopper": 48.0, "blackwell": 96.0}
#: Architectures whose compute capability is above 8.0 (sm86 A10 is Ampere but above too: taken as sm80 here), for
#: which ``ncclTopoDupChannels`` keeps more than 4 channels below 50 GB/s undoubled.
_ABOVE_SM80 = ("ada", "hopper", "blackwell")


def nccl_graph_channels(architecture: str, nics_per_node: int, nic_line_Bps: float) -> int:
    """Channels of NCCL's ring and tree graphs across nodes: one per NIC, each at the fastest per-channel speed
    of NCCL's search up to the NIC's line rate and the GPU's PCIe link (:data:`INTER_SPEEDS_GBPS`,
    :data:`PCIE_GBPS`), doubled as ``ncclTopoDupChannels`` does (search.cc): when that speed is at least 25 GB/s,
    except above sm80 below 50 GB/s with more than 4 channels; at most :data:`GRAPH_MAX_CHANNELS`. 0 (no count, so
    no ceiling) without NICs: a node whose GPUs reach other nodes over their own links (a torus).

    Examples
    --------
    >>> nccl_graph_channels("ampere", 8, 25e9), nccl_graph_channels("ampere", 4, 50e9)   # Gen4: 24 GB/s channels
    (8, 4)
    >>> nccl_graph_channels("hopper", 8, 50e9), nccl_graph_channels("hopper", 4, 50e9)
    (8, 8)
    >>> nccl_graph_channels("ampere", 1, float("inf"))
    0
    """
    if not math.isfinite(nic_line_Bps):
        return 0
    speeds = INTER_SPEEDS_GBPS[NCCL_FAMILY.get(architecture, "ampere")]
    path = min(nic_line_Bps / 1e9, PCIE_GBPS.get(architecture, math.inf))
    speed = max((s for s in speeds if s <= path * (1.0 + 1e-9)), default=speeds[-1])
    channels = max(int(nics_per_node), 1)
    if speed < 25.0 or (architecture in _ABOVE_SM80 and speed < 50.0 and channels > 4):
        return min(channels, GRAPH_MAX_CHANNELS)
    return min(2 * channels, GRAPH_MAX_CHANNELS)


def channel_ceiling_Bps(algorithm: str, protocol: str, architecture: str, nodes: int, channels: int) -> float:
    """NCCL's ceiling on ``algorithm``/``protocol``'s bus bandwidth (B/s, NCCL's own measure: before the
    algorithm's ratio) over ``channels`` channels across ``nodes`` nodes (:data:`CHANNEL_CEILING_GBPS`); ``inf``
    where NCCL has none (other pairs, RCCL's architectures, one node or no channel count).

    Examples
    --------
    >>> channel_ceiling_Bps("tree", "Simple", "ampere", 2, 4) / 1e9
    94.4
    >>> channel_ceiling_Bps("ring", "Simple", "ampere", 2, 4)
    inf
    """
    family = NCCL_FAMILY.get(architecture)
    table = CHANNEL_CEILING_GBPS.get((algorithm, protocol))
    if family is None or table is None or nodes < 2 or channels < 1:
        return math.inf
    return channels * table[family][1 if nodes == 2 else 2] * 1e9


def graph_bus_Bps(algorithm: str, protocol: str, op: str, nodes: int, ranks: int, intra_Bps: float,
                  inter_Bps: float, architecture: str = "", channels: int = 0) -> tuple[float, float]:
    """NCCL's bus bandwidth of a ring, tree or CollNet graph (B/s, NCCL's own measure: before the algorithm's
    ratio), without and with its per-channel ceilings over ``channels`` channels (none with 0).

    The graph's bandwidth (for trees on up to two nodes and CollNet NCCL's raised ``bwIntra``, about twice the
    NICs'), times :func:`bandwidth_factor`; then, in tuning.cc's order, a tree's 0.92 under its ceiling before the
    protocol's own factor (LL128's under its own ceiling too), a ring's LL128 0.92 under its ceiling
    (:func:`channel_ceiling_Bps`).

    Examples
    --------
    >>> plain, capped = graph_bus_Bps("tree", "Simple", "all-reduce", 2, 16, 240e9, 95e9, "ampere", 4)
    >>> round(plain / 1e9, 1), round(capped / 1e9, 1)
    (174.8, 94.4)
    """
    graph = intra_Bps if nodes == 1 else min(intra_Bps, inter_Bps)
    if (algorithm == "tree" and nodes <= 2) or algorithm == "collnet":
        # NCCL takes these from bwIntra, which its search raises while below 2 x bwInter (a two-node tree's traffic
        # crosses the network half as often): so up to twice the NICs
        graph = min(intra_Bps, 2.0 * inter_Bps)
    ppn = max(ranks // max(nodes, 1), 1)
    plain = graph * bandwidth_factor(algorithm, protocol, op, nodes, ppn, ranks)
    if not channels:
        return plain, plain
    if algorithm == "tree":
        simple = graph * bandwidth_factor("tree", "Simple", op, nodes, ppn, ranks)   # NCCL's 0.92 first
        cap = channel_ceiling_Bps("tree", "Simple", architecture, nodes, channels)
        capped = min(simple, cap) * (plain / simple) if simple > 0 else plain
        if protocol == "LL128":
            capped = min(capped, channel_ceiling_Bps("tree", "LL128", architecture, nodes, channels))
        return plain, capped
    if algorithm == "ring" and protocol == "LL128":
        return plain, min(plain, channel_ceiling_Bps("ring", "LL128", architecture, nodes, channels))
    return plain, plain


def _nvls_tree_algbw(intra_Bps: float, inter_Bps: float, nodes: int, ranks: int, architecture: str,
                     nics_per_node: int) -> tuple[float, float]:
    """An NVLS tree all-reduce's algorithm bandwidth by NCCL 2.19's model (the in-node bandwidth and the NICs', the
    NICs' halved beyond two nodes, times 5/6), and the same under the per-channel ceiling
    (:func:`nvls_tree_busbw_cap`, a bus bandwidth: times p / 2(p-1))."""
    algbw = min(intra_Bps, inter_Bps if nodes <= 2 else inter_Bps / 2) * NVLS_ALGORITHM_SHARE
    ppn = max(ranks // max(nodes, 1), 1)
    cap = nvls_tree_busbw_cap(architecture, nodes, ppn, nics_per_node) * ranks / (2.0 * max(ranks - 1, 1))
    return algbw, min(algbw, cap)


def _architecture(device: Any) -> str:
    """The architecture family of a device name or file ("" where there is none or it cannot be read)."""
    if not device:
        return ""
    from simtrain.errors import ConfigError
    from simtrain.hardware import get_device

    try:
        return get_device(device).architecture
    except ConfigError:
        return ""

#: NCCL's static correction of tree bandwidth at medium sizes, per protocol, for sizes 64 B · 2^i (i < 23).
TREE_CORRECTION: dict[str, tuple[float, ...]] = {
    "LL": (1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0, 1.0, 1.0),
    "LL128": (1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1.0, 1.0),
    "Simple": (.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9),
}

#: Bytes per chunk of NCCL's pipeline per channel (Simple: a 4 MiB buffer in 8 steps).
CHUNK_BYTES = 512 * 1024


def bandwidth_factor(algorithm: str, protocol: str, op: str, nodes: int, ranks_per_node: float,
                     ranks: int) -> float:
    """NCCL's protocol and algorithm bandwidth refinements (tuning.cc), relative to the Simple link efficiency.

    Ring: LL 1/4 (1/3 for a single-node all-gather, reduce-scatter or broadcast), LL128 0.92 (0.7 with one rank
    per node). Tree: 0.92, then LL 1/3.8 and LL128 7/9 (one node) or 120/128. NVLS: NCCL's algorithm bandwidth is
    5/6 of the channels' bandwidth; on simtrain's in-switch schedule, which puts ``n (1 + 1/p)`` bytes on each GPU
    link, that is an efficiency of ``5/6 (1 + 1/p)`` (the switch's own links run at :func:`nvls_link_efficiency`).

    Examples
    --------
    >>> bandwidth_factor("ring", "LL", "all-reduce", 1, 8, 8)
    0.25
    >>> bandwidth_factor("nvls", "Simple", "all-reduce", 1, 8, 8)
    0.9375
    """
    if algorithm == "ring":
        if protocol == "LL":
            return 0.25 if nodes > 1 or op in ("all-reduce", "reduce") else 1.0 / 3.0
        if protocol == "LL128":
            return 0.7 if ranks_per_node < 2 else 0.92
        return 1.0
    if algorithm == "tree":
        base = 0.92
        if protocol == "LL":
            return base / 3.8
        if protocol == "LL128":
            return base * (7.0 / 9.0 if nodes == 1 else 120.0 / 128.0)
        return base
    if algorithm in _NVLS:
        return NVLS_ALGORITHM_SHARE * (1.0 + 1.0 / ranks_per_node)
    return 1.0


def nvls_choice_share(architecture: str, ranks_per_node: int) -> float:
    """NVLS's algorithm bandwidth in NCCL's model, as a share of a GPU's in-node bandwidth: the share NCCL chooses
    NVLS with (:func:`nccl_time`).

    NCCL's NVLS graph has one channel per GPU of the node (each GPU pulls its shard through the switch: search.cc,
    "NVLS channels correspond to GPUs pulling from NVLS"), and each channel loads every GPU's link once and its
    head's twice, so a channel gets ``B / (p + 1)`` of a link of bandwidth ``B``. tuning.cc then takes the
    channels' bandwidth times ``nvlsEfficiency`` times ``(channels - 1) / channels``, times 2 for an all-reduce
    (it pipelines two operations), as a bus bandwidth; over ``2 (p-1) / p`` that is an algorithm bandwidth of
    ``nvlsEfficiency · p / (p + 1)`` of ``B``. Against a ring's ``p / 2(p-1)``, NVLS wins from 5 GPUs on Hopper
    (0.85) and from 6 on Blackwell (0.74): as measured on 8 x H200 and 8 x B200 nodes, where NCCL keeps the ring up
    to 4 and 5 GPUs (stas00/ml-engineering, network/README.md, "SHARP"). NCCL 2.19, whose other constants simtrain's
    tuner keeps, chose NVLS at 5/6 of ``B`` whatever the GPU count.

    Examples
    --------
    >>> [round(nvls_choice_share("hopper", p), 3) for p in (4, 8)]
    [0.68, 0.756]
    """
    p = max(int(ranks_per_node), 1)
    return NVLS_TUNING_EFFICIENCY.get(architecture, NVLS_TUNING_EFFICIENCY["hopper"]) * p / (p + 1)


def nvls_link_efficiency(architecture: str) -> float:
    """The efficiency of NVLink links in the switch under NVLS: the measured share of the line rate NVLS's algorithm
    bandwidth reaches (:data:`NVLS_EFFICIENCY`, by architecture) over NCCL's algorithm factor (5/6), so that with
    :func:`bandwidth_factor` an NVLS all-reduce in one node runs at that share.

    Examples
    --------
    >>> [round(nvls_link_efficiency(a) * NVLS_ALGORITHM_SHARE, 3) for a in ("hopper", "blackwell")]
    [0.607, 0.528]
    """
    return NVLS_EFFICIENCY.get(architecture, NVLS_EFFICIENCY["hopper"]) / NVLS_ALGORITHM_SHARE


# ----------------------------------------------------------------------------------------------------------------
# NCCL's chunked NVLS pipeline (NCCL 2.19: src/enqueue.cc computeColl, src/device/all_reduce.h, reduce_scatter.h,
# all_gather.h, src/transport/nvls.cc)
# ----------------------------------------------------------------------------------------------------------------

#: Channels NVLS runs on: NCCL_NVLS_NCHANNELS' default (transport/nvls.cc), always all of them (enqueue.cc: "NVLS
#: should not need more than 16 channels to get peak BW", so a channel, not the link, sets the rate).
NVLS_CHANNELS = 16
#: NCCL's largest NVLS chunk in one node (enqueue.cc ``maxChunkSize``), and the sizes it shrinks to at small buffers.
NVLS_MAX_CHUNK = 128 * 1024
#: Warp groups a chunk passes through, one after the other, in NVLS on one node (device code, not registered
#: buffers): all-reduce scatter -> reduce and multicast -> gather; reduce-scatter scatter -> reduce; all-gather
#: multicast -> gather.
NVLS_STAGES: dict[str, int] = {"all-reduce": 3, "reduce-scatter": 2, "all-gather": 2}


def nvls_chunk_bytes(size: float, heads: int, channels: int = NVLS_CHANNELS) -> int:
    """NCCL's NVLS chunk size (bytes) for a ``size``-byte buffer on one node of ``heads`` GPUs (enqueue.cc).

    With ``c`` = channels × heads concurrent chunks: 128 KiB, 64 KiB below 64 c · 128 KiB, 32 KiB below
    8 c · 64 KiB, 16 KiB below 2 c · 32 KiB.

    Examples
    --------
    >>> [nvls_chunk_bytes(2**k, 8) // 1024 for k in (20, 24, 27, 30)]
    [16, 32, 64, 128]
    """
    chunk = NVLS_MAX_CHUNK
    concurrent = channels * heads
    for factor, smaller in ((64, 65536), (8, 32768), (2, 16384)):
        if size < factor * concurrent * chunk and chunk > smaller:
            chunk = smaller
    return chunk


def nvls_tree_chunk_bytes(size: float, heads: int, nodes: int, channels: int = NVLS_CHANNELS) -> int:
    """NCCL's NVLS-tree chunk size (bytes) for a ``size``-byte buffer (enqueue.cc).

    From NCCL's Simple step of 512 KiB (64 KiB on 4 nodes or more), with ``c`` = channels × heads concurrent chunks:
    256 KiB below 32 c · chunk, 128 KiB below 16 c · chunk, 64 KiB below 4 c · chunk, 32 KiB below c · chunk.

    Examples
    --------
    >>> [nvls_tree_chunk_bytes(2**k, 8, 2) // 1024 for k in (20, 24, 27, 30, 32)]
    [32, 64, 128, 256, 512]
    """
    chunk = 64 * 1024 if nodes >= 4 else 512 * 1024
    concurrent = channels * heads
    for factor, smaller in ((32, 262144), (16, 131072), (4, 65536), (1, 32768)):
        if size < factor * concurrent * chunk and chunk > smaller:
            chunk = smaller
    return chunk


@dataclass(frozen=True)
class NvlsPipeline:
    """How NCCL's NVLS kernel moves a buffer: per channel, ``loops`` units of ``heads`` chunks each pass through
    ``stages`` warp groups in turn.

    Attributes
    ----------
    chunk_bytes : int
    channels, heads, stages : int
    loops : int
        Units the busiest channel handles (``⌈size / (channels · heads · chunk)⌉``).
    efficiency : float
        Streaming time over pipelined time (≤ 1): the buffer at the channels' aggregate rate, over the busiest
        channel's bytes plus the fill of ``stages - 1`` units at one channel's rate.
    """

    chunk_bytes: int
    channels: int
    heads: int
    stages: int
    loops: int
    efficiency: float


def nvls_pipeline(op: str, size: float, heads: int, channels: int = NVLS_CHANNELS) -> NvlsPipeline:
    """NCCL's chunked NVLS pipeline for ``op`` of ``size`` bytes on ``heads`` GPUs of one node.

    Channel ``b`` takes units ``b, b + channels, ...`` of ``heads · chunk`` bytes (device code: ``offset =
    gridOffset + bid · nHeads · chunkSize``). Each stage of a channel runs at the channel's share ``R / channels``
    of the aggregate rate ``R`` (NCCL sizes each warp group to keep up with the others); a unit enters a stage when
    it has left the one before, so the busiest channel, with ``w`` bytes and a first unit of ``u`` bytes, finishes
    after ``(w + (stages - 1) u) / (R / channels)``, against ``size / R`` for a stream. At 1 MiB on 8 GPUs (16 KiB
    chunks, 128 KiB units) 8 of 16 channels hold one unit each: 2 × 3 = 6 times the stream's time; at 8 GiB
    (128 KiB chunks, 512 units a channel) 514/512.

    Examples
    --------
    >>> p = nvls_pipeline("all-reduce", 2**20, 8)
    >>> p.chunk_bytes, p.loops, round(p.efficiency, 4)
    (16384, 1, 0.1667)
    >>> round(nvls_pipeline("all-reduce", 2**33, 8).efficiency, 4)
    0.9961
    """
    chunk = nvls_chunk_bytes(size, heads, channels)
    stages = NVLS_STAGES.get(op, 1)
    unit = float(heads * chunk)
    loops = max(1, math.ceil(size / (channels * unit)))
    busiest = min(size, (loops - 1) * unit + min(unit, size - (loops - 1) * channels * unit))
    first = min(unit, busiest)
    efficiency = size / (channels * (busiest + (stages - 1) * first)) if size > 0 else 1.0
    return NvlsPipeline(chunk, channels, heads, stages, loops, min(efficiency, 1.0))


def pipeline_efficiency(algorithm: str, op: str, size: float, ranks_per_node: int) -> float:
    """Share of its streaming bandwidth a collective keeps through NCCL's chunked pipeline (1 where simtrain's
    schedule already carries it).

    NVLS: :func:`nvls_pipeline`. Rings: 1, since every rank sends its own chunk from the first step, so a loop
    has no fill, and a step's synchronisation is NCCL's per-step latency. Trees and NVLS trees: 1, since
    simtrain pipelines their chunks in the schedule itself.

    Examples
    --------
    >>> pipeline_efficiency("ring", "all-reduce", 2**20, 8)
    1.0
    >>> round(pipeline_efficiency("nvls", "all-reduce", 2**24, 8), 4)     # 4 units a channel, 2 more of fill
    0.6667
    """
    if algorithm != "nvls":
        return 1.0
    return nvls_pipeline(op, size, ranks_per_node).efficiency


def tree_correction(protocol: str, size_bytes: float) -> float:
    """NCCL's size-dependent tree bandwidth correction (1 above 256 MiB).

    Examples
    --------
    >>> tree_correction("Simple", 2**20), tree_correction("Simple", 2**30)
    (0.5, 1.0)
    """
    index = math.floor(math.log2(max(size_bytes, 64.0) / 64.0))
    table = TREE_CORRECTION[protocol]
    return table[index] if index < len(table) else 1.0


def link_kind(cluster: Any, class_name: str) -> str:
    """The physical kind of a link class: what the cluster says, else ``nic`` for ``inter-node`` and ``nvlink``.

    Examples
    --------
    >>> from simtrain.topology import torus
    >>> link_kind(torus([4, 4], "25 GB/s"), "dim0")
    'nvlink'
    """
    kinds = getattr(cluster, "link_kinds", {}) or {}
    return kinds.get(class_name, "nic" if class_name == "inter-node" else "nvlink")


def _class_tables(cluster: Any, algorithm: str, protocol: str,
                  architecture: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per link class: Simple efficiency of its kind (under NVLS, NVLink links in the switch at
    :func:`nvls_link_efficiency` of ``architecture``), and NCCL's per-step latency (s) of its hardware class under
    ``protocol`` and under the algorithm's leanest protocol (:func:`_leanest`)."""
    nvls = algorithm in _NVLS
    leanest = _leanest(algorithm)
    if algorithm in PIPELINED:
        # simtrain pipelines a tree's chunks itself: a chunk's step pays a ring hop's latency, and NCCL's latency
        # of the whole tree (which stands for the pipeline's fill) is charged once, less what the steps charge
        algorithm = "ring"
    kinds = [link_kind(cluster, name) for name in cluster.class_names]
    eff = np.array([nvls_link_efficiency(architecture) if nvls and k in ("nvswitch", "nvlink") else LINK_EFFICIENCY[k]
                    for k in kinds])
    lat, lean = (np.array([HW_LATENCY_US[HW_CLASS[k]][algorithm][PROTOCOL_NAMES.index(name)] * 1e-6
                           for k in kinds]) for name in (protocol, leanest))
    # in a node the GPUs' own stores are the protocol (LL's flags travel with the data): NCCL's latency is the
    # step's; across nodes a proxy and NICs sit between, and a heavier protocol's handshakes come on top of the wire
    network = np.array([HW_CLASS[k] == "net" for k in kinds])
    return eff, lat, np.where(network, lean, lat)


def _flow_facts(pattern: Any, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """What a pattern's protocol costs are made of whatever the protocol: which flows move, their paths'
    latencies and their rings (:func:`_rings`; None for a pipelined tree)."""
    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        routes = cache.routes(pattern)
        moving = routes.lengths > 0
        rings = _rings(pattern.src, pattern.dst, moving) if pattern.stage_of_flow is None else None
        facts = (moving, routes.per_flow(np.add, cache.cluster.link_latency_s), rings)
        for array in facts:   # shared by every protocol's costs
            if array is not None:
                array.flags.writeable = False
        return facts

    # the levels are part of the facts: the same flows may form a tree's levels or a ring's step
    key = (pattern.flows_key, None if pattern.stage_of_flow is None else pattern.stage_of_flow.tobytes())
    return cache.get("protocol-flows", key, compute)


def _rings(src: np.ndarray, dst: np.ndarray, moving: np.ndarray) -> np.ndarray | None:
    """Each moving flow's ring (a label; -1 for a local copy), where the moving flows form rings: taking each
    sender's flows in order (its first flow in layer 0, its second in layer 1: one layer per channel of a
    multi-channel ring, the groups of a grouped collective side by side), every rank of a layer sends to one and
    receives from one, and following the sends leads round a ring; else None.

    Examples
    --------
    >>> _rings(np.array([0, 1, 2, 3]), np.array([1, 0, 3, 2]), np.ones(4, bool)).tolist()   # two rings of two
    [0, 0, 2, 2]
    >>> _rings(np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0]), np.ones(4, bool)).tolist()   # two channels
    [0, 0, 2, 2]
    >>> _rings(np.array([0, 0]), np.array([1, 2]), np.ones(2, bool)) is None
    True
    """
    flows = np.flatnonzero(moving)
    if flows.size < 2:
        return None
    senders = src[flows]
    order = np.argsort(senders, kind="stable")
    ordered = senders[order]
    first = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
    counts = np.diff(np.r_[first, ordered.size])
    layer = np.empty(flows.size, dtype=np.int64)
    layer[order] = np.arange(ordered.size) - np.repeat(first, counts)   # each flow's place among its sender's
    labels = np.full(src.size, -1, dtype=np.int64)
    for index in range(int(layer.max()) + 1):
        block = flows[layer == index]
        bs, bd = src[block], dst[block]
        width = int(max(bs.max(), bd.max())) + 1
        out_degree, in_degree = np.bincount(bs, minlength=width), np.bincount(bd, minlength=width)
        if not np.array_equal(out_degree, in_degree):
            return None
        position = np.empty(width, dtype=np.int64)
        position[bs] = np.arange(block.size)
        nxt = position[bd]  # the flow that carries on from each flow's receiver
        ring = np.arange(block.size)  # each flow's ring, named by its lowest flow: pointer doubling
        for _ in range(int(np.ceil(np.log2(max(block.size, 2)))) + 1):
            ring = np.minimum(ring, ring[nxt])
            nxt = nxt[nxt]
        labels[block] = block[ring]
    return labels


def _shared(pattern: Any, values: np.ndarray, moving: np.ndarray, rings: np.ndarray | None) -> np.ndarray:
    """Per flow of a step, the latency it takes: a pipelined tree's level its slowest flow's (a level is one hop
    of NCCL's tree), a ring's the mean over the ring (``rings``: :func:`_rings`), any other flow its own; none for a
    local copy."""
    if pattern.stage_of_flow is not None:
        shared = _level_max(pattern, np.where(moving, values, 0.0))[pattern.stage_of_flow]
    elif rings is not None:
        ring = np.maximum(rings, 0)  # local copies (-1) take nothing below
        sums = np.bincount(ring, weights=np.where(moving, values, 0.0), minlength=rings.size)
        counts = np.bincount(ring, weights=moving.astype(np.float64), minlength=rings.size)
        shared = sums[ring] / np.maximum(counts[ring], 1.0)
    else:
        shared = values
    return np.where(moving, shared, 0.0)


def _level_max(pattern: Any, values: np.ndarray) -> np.ndarray:
    """The largest of ``values`` in each level of a pipelined tree's pattern."""
    levels = np.zeros(int(pattern.stage_of_flow.max()) + 1)
    np.maximum.at(levels, pattern.stage_of_flow, values)
    return levels


def _levels_sum(pattern: Any, latency: np.ndarray) -> float:
    """One chunk's latency through a pattern's step: its slowest flow's, level by level for a pipelined tree (and
    the step's own charge per level)."""
    steps = 1 if pattern.stage_of_flow is None else int(pattern.stage_of_flow.max()) + 1
    return _levels_latency(pattern, latency) + pattern.step_latency_s * steps


def _levels_latency(pattern: Any, latency: np.ndarray) -> float:
    """The flows' part of :func:`_levels_sum`: the slowest flow's latency, summed level by level for a tree."""
    if pattern.stage_of_flow is None:
        return float(latency.max())
    return float(_level_max(pattern, latency).sum())


def _leanest(algorithm: str) -> str:
    """The protocol whose latency stands for the wire: LL where NCCL runs the algorithm with it, else Simple."""
    return nccl_protocols(algorithm)[0]


def nccl_latency(algorithm: str, protocol: str, nodes: int, ranks_per_node: int, intra_hw: str = "nvlink") -> float:
    """NCCL's latency (s) of a tree or NVLS tree all-reduce (tuning.cc), charged once per collective.

    Tree: ``base + 2 ((ranks per node - 1) · intra + log2(nodes) · inter)``; NVLS tree: ``intra + 2 log2(nodes) ·
    inter``, with the per-hop latencies of the algorithm and protocol.

    Examples
    --------
    >>> round(nccl_latency("tree", "LL", 2, 8) * 1e6, 2)
    25.2
    >>> round(nccl_latency("nvlstree", "Simple", 2, 8) * 1e6, 2)
    51.0
    """
    index = PROTOCOL_NAMES.index(protocol)
    intra = HW_LATENCY_US[intra_hw][algorithm][index]
    inter = HW_LATENCY_US["net"][algorithm][index]
    levels = math.floor(math.log2(max(nodes, 1)))
    if algorithm == "nvlstree":
        return (intra + 2 * levels * inter) * 1e-6
    return (BASE_LATENCY_US[algorithm][index] + 2 * ((ranks_per_node - 1) * intra + levels * inter)) * 1e-6


def with_protocol(schedule: Any, cluster: Any, algorithm: str, protocol: str, cache: Any = None,
                  pipelined: bool = True) -> Any:
    """``schedule`` carrying the costs of NCCL's ``algorithm`` × ``protocol`` (both engines read them).

    Per flow, the bandwidth efficiency is the lowest Simple efficiency of the link kinds it crosses times
    :func:`bandwidth_factor`. Per flow, the latency is the larger of NCCL's per-step latency of the slowest hardware
    class it crosses and its path's wire latency (NCCL's latencies stand for a step end to end, so they include a
    wire's; a slower wire, as a cloud's, shows through), across nodes plus the protocol's excess over the leanest's;
    averaged over each ring the step's flows form (a ring's chunk crosses the network on the share of its hops
    that cross nodes, as NCCL counts ``nInterSteps``), a tree level's slowest, any other flow its own; carried as
    an offset to the path's latency (``latency_offset_s``). The base latency is charged once per
    collective. A pipelined tree's steps carry no latency of their own (NCCL hides a step's latency behind the chunks
    in flight before it): the tree pays once the larger of :func:`nccl_latency` (which stands for its pipeline's
    fill) and what one chunk's way through its steps would charge, in its base latency. With ``pipelined``, the
    efficiency also carries NCCL's chunked pipeline at the schedule's size (:func:`pipeline_efficiency`; a caller
    that resizes the schedule passes ``False`` and applies it per size). ``cache`` (a
    :class:`~simtrain.network.cache.NetworkCache` of ``cluster``) shares the routes.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.topology import switch
    >>> c = switch(8, "300 GB/s", "1 us")
    >>> s = with_protocol(build_schedule("all-reduce", 2**30, c, "ring"), c, "ring", "Simple")
    >>> offset = float(s.patterns[0].latency_offset_s[0])   # over the 2 x 1 us path: max(3.4, 2) us in all
    >>> s.protocol, s.base_latency_s, round((offset + 2e-6) * 1e6, 2)
    ('Simple', 8.4e-06, 3.4)
    """
    from simtrain.collectives.schedule import Schedule
    from simtrain.network.cache import NetworkCache

    ranks = schedule.ranks
    nodes = len(np.unique(ranks // max(cluster.gpus_per_node, 1)))
    # only NVLS's efficiency depends on the architecture (reading the device file costs a lookup per schedule)
    architecture = _architecture(cluster.device) if algorithm in _NVLS else ""
    factor = bandwidth_factor(algorithm, protocol, schedule.op, nodes, len(ranks) / nodes, len(ranks))
    if algorithm == "nvlstree" and nodes > 1:
        # NCCL's per-channel ceiling is a bus bandwidth: the share it leaves of the NVLS tree's own uncapped rate,
        # NCCL's model with the in-node bandwidth at NVLS's link efficiency (the flows in the switch run at it)
        intra, inter, _ = node_bandwidths(cluster, ranks)
        nics = int(cluster.params.get("nics_per_node", 1))
        in_switch = intra * nvls_link_efficiency(architecture) / LINK_EFFICIENCY["nvswitch"]
        plain, capped = _nvls_tree_algbw(in_switch, inter, nodes, len(ranks), architecture, nics)
        factor *= capped / plain
    if pipelined:
        factor *= pipeline_efficiency(algorithm, schedule.op, schedule.size_bytes, len(ranks) // nodes)
    eff, lat, lean = _class_tables(cluster, algorithm, protocol, architecture)
    cache = NetworkCache.for_cluster(cluster, cache)
    patterns = []
    fill = fill_lean = 0.0  # the latency one chunk pays on its way through the steps (and under the leanest)
    # NCCL streams a tree's chunks through every step with NCCL_STEPS (8) buffers in flight on each connection, so a
    # step's latency is hidden behind the chunks before it: only the pipeline's fill pays it, once
    streaming = algorithm in PIPELINED and len(ranks) > 1
    moved = 0.0
    for p in schedule.patterns:
        if p.num_flows == 0:
            patterns.append(p)
            continue
        moving, path, rings = _flow_facts(p, cache)
        kind, sets = cache.flow_classes(p)
        # a flow's slowest (lowest efficiency, highest latency) class, set by set; a local copy (no class) runs at
        # 1 and costs nothing
        flow_eff = np.where(sets.any(axis=1), np.where(sets, eff, np.inf).min(axis=1), 1.0)[kind]
        flow_lat, flow_lean = (np.where(sets, table, 0.0).max(axis=1)[kind] for table in (lat, lean))
        # NCCL's per-step latencies stand for a step end to end: a flow takes the larger of NCCL's latency and its
        # wire's (across nodes plus the protocol's excess over the leanest's), averaged over its ring where its
        # step's flows form rings (NCCL's count of a ring's hops, ``nInterSteps`` of them across nodes)
        lean_latency = _shared(p, np.maximum(path, flow_lean), moving, rings)
        latency = lean_latency + _shared(p, flow_lat - flow_lean, moving, rings)
        fill += p.repeat * _levels_sum(p, latency)   # a pipelined tree's levels, one after the other
        fill_lean += p.repeat * _levels_sum(p, lean_latency)
        if streaming:   # paid once, by the pipeline's fill (below), not by every chunk
            moved += p.repeat * _levels_latency(p, latency)
            latency = np.zeros_like(latency)
        patterns.append(p.replaced(efficiency=flow_eff * factor, latency_offset_s=latency - path))
    base = BASE_LATENCY_US[algorithm][PROTOCOL_NAMES.index(protocol)] * 1e-6 if len(ranks) > 1 else 0.0
    if streaming:
        intra_kinds = [HW_CLASS[link_kind(cluster, name)] for name in cluster.class_names if name != "inter-node"]
        intra_hw = "nvlink" if all(k == "nvlink" for k in intra_kinds) else "pci"
        # NCCL's latency of a tree is end to end: it stands for the pipeline's fill, wire included. The base pays
        # what it exceeds the steps' own latencies by (at least the protocol's excess over the leanest's beyond the
        # excess the steps carry), and the steps' latencies themselves (``moved``), which no chunk pays
        whole = nccl_latency(algorithm, protocol, nodes, len(ranks) // nodes, intra_hw)
        leanest = nccl_latency(algorithm, _leanest(algorithm), nodes, len(ranks) // nodes, intra_hw)
        base = max(whole - fill, (whole - leanest) - (fill - fill_lean), 0.0) + moved
    return Schedule(schedule.op, schedule.algorithm, schedule.size_bytes, ranks, tuple(patterns), schedule.chunks,
                    {**schedule.params, "protocol": protocol}, base, protocol)


def nccl_kind(algorithm: str) -> str:
    """NCCL's algorithm whose costs a simtrain algorithm runs with (:data:`NCCL_KINDS`, else ``ring``).

    Examples
    --------
    >>> nccl_kind("nvls-tree"), nccl_kind("multidim-ring")
    ('nvlstree', 'ring')
    """
    return NCCL_KINDS.get(algorithm, "ring")


def nccl_protocols(kind: str) -> tuple[str, ...]:
    """The protocols NCCL runs its algorithm ``kind`` with: NVLS, NVLS tree and CollNet Simple only (tuning.cc),
    the others LL, LL128 and Simple.

    Examples
    --------
    >>> nccl_protocols("ring"), nccl_protocols("collnet")
    (('LL', 'LL128', 'Simple'), ('Simple',))
    """
    return ("Simple",) if kind in ("nvls", "nvlstree", "collnet") else PROTOCOL_NAMES


def protocol_candidates(schedule: Any, cluster: Any, protocol: str = "nccl", cache: Any = None) -> tuple[Any, ...]:
    """The Schedules a plain ``schedule`` may run as under ``network.protocol``: one per protocol NCCL would run
    its algorithm with (:func:`nccl_kind`, :func:`nccl_protocols`), each carrying that protocol's costs
    (:func:`with_protocol`). The engines run the fastest.

    ``schedule`` alone where ``protocol`` is ``none``, the schedule already carries a protocol (``auto``), or
    NCCL does not run its algorithm (:data:`NOT_NCCL`: parameter-server push and pull).
    ``cache`` (a :class:`~simtrain.network.cache.NetworkCache` of ``cluster``) shares the routes.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.topology import switch
    >>> c = switch(8, "300 GB/s", "1 us")
    >>> [s.protocol for s in protocol_candidates(build_schedule("all-reduce", 2**20, c, "ring"), c)]
    ['LL', 'LL128', 'Simple']
    >>> len(protocol_candidates(build_schedule("all-reduce", 2**20, c, "ring"), c, "none"))
    1
    """
    if protocol == "none" or schedule.protocol != "none" or schedule.algorithm.split(":")[0] in NOT_NCCL:
        return (schedule,)
    if protocol not in PROTOCOLS:
        from simtrain.errors import ConfigError

        raise ConfigError("unknown protocol model", key="network.protocol", value=protocol, choices=PROTOCOLS)
    kind = nccl_kind(schedule.algorithm)
    return tuple(with_protocol(schedule, cluster, kind, name, cache) for name in nccl_protocols(kind))


def node_bandwidths(cluster: Any, ranks: np.ndarray, line: bool = False) -> tuple[float, float, str]:
    """What NCCL's topology search sees: a GPU's bandwidth to a peer in its node and its node's NIC bandwidth
    (B/s, each at its link kind's Simple efficiency, or at line rate with ``line``), and the in-node hardware class
    (``nvlink`` or ``pci``).

    The in-node figure is the slowest link on the route from the first rank to another rank of its node (the whole
    group's slowest when no rank shares its node), times the edge-disjoint rings the node's ranks hold on a full
    mesh (:func:`~simtrain.collectives.ring.mesh_ring_count`: NCCL's search puts a channel on each); the NIC figure is
    the slowest ``inter-node`` link on the route to a rank on another node times the NICs per node (capped by the
    cluster's per-flow cap), ``inf`` within one node.

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> intra, inter, hw = node_bandwidths(load_topology("dgx-h100", gpus=16), np.arange(16))
    >>> round(intra / 1e9, 1), round(inter / 1e9, 1), hw
    (357.3, 380.0, 'nvlink')
    """
    rates = node_rates(cluster, ranks)
    return (rates[3], rates[4], rates[2]) if line else rates[:3]


def node_rates(cluster: Any, ranks: np.ndarray) -> tuple[float, float, str, float, float]:
    """:func:`node_bandwidths` at the links' efficiencies and at line rate from one walk of the routes: (in-node,
    NICs, hardware class, in-node at line rate, NICs at line rate).

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> rates = node_rates(load_topology("dgx-h100", gpus=16), np.arange(16))
    >>> round(rates[1] / 1e9, 1), round(rates[4] / 1e9, 1)   # 8 NDR NICs at 0.95, and at line rate
    (380.0, 400.0)
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    g = max(cluster.gpus_per_node, 1)
    node = ranks // g
    kinds = [link_kind(cluster, name) for name in cluster.class_names]
    eff = np.array([LINK_EFFICIENCY[k] for k in kinds])[cluster.link_class]
    network = np.array([HW_CLASS[k] == "net" for k in kinds])[cluster.link_class]
    intra_hw = "nvlink" if all(HW_CLASS[k] == "nvlink" for k in kinds if HW_CLASS[k] != "net") else "pci"
    same = ranks[(node == node[0]) & (ranks != ranks[0])]
    other = ranks[node != node[0]]
    peer = same[0] if same.size else (ranks[1] if ranks.size > 1 else ranks[0])
    intra = intra_line = float("inf")
    if peer != ranks[0]:
        links = cluster.routes([ranks[0]], [peer]).links
        links = links[~network[links]] if same.size else links
        if links.size:
            intra = float((cluster.link_bandwidth_Bps[links] * eff[links]).min())
            intra_line = float(cluster.link_bandwidth_Bps[links].min())
        from simtrain.collectives.ring import mesh_ring_count

        rings = mesh_ring_count(ranks[node == node[0]], cluster)   # a full-mesh node: its links together
        intra, intra_line = intra * rings, intra_line * rings
    inter = inter_line = float("inf")
    if other.size:
        links = cluster.routes([ranks[0]], [other[0]]).links
        crossing = links[network[links]]
        if crossing.size:
            nics = int(cluster.params.get("nics_per_node", 1))
            cap = float(cluster.flow_rate_cap_Bps)
            inter = min(float((cluster.link_bandwidth_Bps[crossing] * eff[crossing]).min()), cap) * nics
            inter_line = min(float(cluster.link_bandwidth_Bps[crossing].min()), cap) * nics
    return intra, inter, intra_hw, intra_line, inter_line


def nccl_time(algorithm: str, protocol: str, op: str, size: float, ranks: int, nodes: int, intra_Bps: float,
              inter_Bps: float, intra_hw: str = "nvlink", channels: int = 1, device: str = "",
              graph_channels: int = 0, architecture: str | None = None) -> float:
    """NCCL's tuning model: predicted time (s) of ``algorithm``/``protocol`` for ``op`` of ``size`` bytes.

    ``latency + size / algorithm bandwidth`` (tuning.cc, NCCL 2.19): bus bandwidth from the graph (the in-node
    bandwidth within a node; for trees on up to two nodes and for CollNet the in-node bandwidth, which NCCL's
    topology search raises above the network's only while it is below twice the network's (search.cc, "See if we
    can increase bwIntra for trees", NCCL 2.18-2.19), so about twice the NICs' (taken as exactly twice: NCCL's last
    raise may land one step of its speed table above); otherwise the lower of in-node and NIC), times the
    protocol refinements (:func:`bandwidth_factor`, without the NVLS schedule's wire factor) under NCCL's
    per-channel ceilings over ``graph_channels`` channels (:func:`graph_bus_Bps`; none with 0; ``architecture``,
    the device's family, is read from ``device`` unless given), and for trees the size correction; algorithm
    bandwidth = bus bandwidth × p / nsteps for rings, × 5/6 for NVLS (for an NVLS tree under NCCL 2.28's
    per-channel ceiling, :func:`nvls_tree_busbw_cap`), × 1/2 otherwise.
    Latency: base plus per-step hardware latencies (rings: ``nsteps - nInterSteps`` in node and ``nInterSteps`` on
    the network; a multi-node Simple ring all-reduce × 1.4, × 1.9 before Ampere), :func:`nccl_latency` for trees.

    Examples
    --------
    >>> t = nccl_time("ring", "Simple", "all-reduce", 2**30, 8, 1, 238e9, float("inf"))
    >>> round(t * 1e6, 1)              # 8.4 + 14 x 3.4 us, then 2^30 B at 238 GB/s x 8/14
    7951.2
    >>> fast, slow = (nccl_time("tree", "Simple", "all-reduce", 2**30, 16, 2, 150e9, nic) for nic in (300e9, 3e9))
    >>> round(2**30 / fast / 1e9, 1), round(2**30 / slow / 1e9, 2)   # 0.46 x 150 GB/s, then 0.46 x 2 x 3 GB/s
    (67.1, 2.76)
    """
    ppn = max(ranks // max(nodes, 1), 1)
    index = PROTOCOL_NAMES.index(protocol)
    if architecture is None:   # a caller that asks many times (the tuner) resolves the device once
        architecture = _architecture(device) if (graph_channels or algorithm in _NVLS) else ""
    if algorithm in _NVLS or algorithm == "collnet":
        if protocol != "Simple":
            return float("inf")
    if algorithm in _NVLS:   # an NVLS tree's bandwidth is _nvls_tree_algbw's, below
        bus = intra_Bps if nodes == 1 else min(intra_Bps, inter_Bps)
    else:
        bus = graph_bus_Bps(algorithm, protocol, op, nodes, ranks, intra_Bps, inter_Bps, architecture,
                            graph_channels)[1]
    if algorithm == "tree":
        bus *= tree_correction(protocol, size)
    if algorithm == "ring":
        nsteps = {"all-reduce": 2 * (ranks - 1), "reduce-scatter": ranks - 1, "all-gather": ranks - 1}.get(op, ranks)
        algbw = bus * ranks / max(nsteps, 1)
    elif algorithm == "nvlstree":   # NCCL 2.19's model under NCCL 2.28's per-channel ceiling
        algbw = _nvls_tree_algbw(intra_Bps, inter_Bps, nodes, ranks, architecture, channels)[1]
    elif algorithm == "nvls":
        algbw = bus * nvls_choice_share(architecture, ppn)
    else:
        algbw = bus * 0.5
    intra = HW_LATENCY_US[intra_hw][algorithm][index]
    inter = HW_LATENCY_US["net"][algorithm][index]
    if algorithm == "ring":
        inter_steps = {"all-reduce": 2 * nodes if nodes > 1 else 0, "reduce-scatter": nodes - 1,
                       "all-gather": nodes - 1}.get(op, nodes)
        latency = BASE_LATENCY_US["ring"][index] + (nsteps - inter_steps) * intra + inter_steps * inter
        if (protocol == "Simple" and nodes > 1 and op == "all-reduce"
                and size / (channels * ranks) >= 64):
            latency *= 1.9 if device in ("v100", "p100") else 1.4  # NCCL's "plateau effect of ring"
        latency *= 1e-6
    elif algorithm in PIPELINED:
        latency = nccl_latency(algorithm, protocol, nodes, ppn, intra_hw)
    elif algorithm == "nvls":
        latency = (intra + (inter if nodes > 1 else 0.0)) * 1e-6
    else:  # collnet (chain)
        latency = (2 * (ppn - 1) * intra + inter) * 1e-6
    return latency + size / algbw
