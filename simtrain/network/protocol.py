"""An NCCL-like protocol model: what a collective library adds to the wire (`network.protocol: nccl`).

NCCL moves data with one of three protocols and picks, per collective and size, the one its cost model predicts
fastest (``src/graph/tuning.cc``; docs/references.md, "NCCL's tuning model"). Each protocol has

* a base latency per collective (launch and synchronisation),
* a latency per step, different on NVLink-class (intra-node) and network (inter-node) steps; it is a floor that
  includes the wire's own latency, so a step costs ``max(path latency, protocol latency)`` plus its transfer,
* a bandwidth efficiency: the share of the line rate the protocol's data path reaches, one for NVLink-class
  (intra-node) flows and one for network (inter-node) flows, as NCCL's tuning takes a ring channel's speed from
  the NVLink graph inside a node and from the NIC speed across nodes.

The per-step and base latencies and the relative efficiencies of LL (1/4) and LL128 (0.92) are NCCL 2.8's
published tuning constants for ring algorithms (not fitted here). One constant is fitted: ``SIMPLE_EFFICIENCY``,
the efficiency of the Simple protocol, from the large-message bus bandwidths of nccl-tests on 8 × A100 (231.6 GB/s
on 300 GB/s NVSwitch links, η = 0.772) and 8 × H100 with a forced ring (367.5 GB/s on 450 GB/s, η = 0.817): their
geometric mean, 0.794, frozen. With it those two cases land at +2.8 % and −3.1 %. A second constant,
``SIMPLE_NETWORK_EFFICIENCY``, is the share of a NIC's line rate a ring reaches across nodes, fitted to the NVIDIA
maintainers' per-NIC figures (docs/references.md, "Published nccl-tests measurements"): ≈24 GB/s per HDR
200 Gbit/s NIC (nccl-tests #160, η = 0.96) and 46–48 GB/s per NDR 400 Gbit/s NIC (nccl-tests #290, midpoint
η = 0.94); geometric mean 0.950, frozen. The multi-node DGX-A100 bus bandwidth (192 GB/s, nccl #812) is not in
either fit.

Examples
--------
>>> [p.name for p in NCCL_PROTOCOLS]
['LL', 'LL128', 'Simple']
>>> round(NCCL_PROTOCOLS[1].efficiency, 4)        # LL128: 0.92 of Simple
0.7305
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["NCCL_PROTOCOLS", "PROTOCOLS", "SIMPLE_EFFICIENCY", "SIMPLE_NETWORK_EFFICIENCY", "Protocol"]

#: Simple-protocol bandwidth efficiency on NVLink-class links, fitted once (module docstring) and frozen.
SIMPLE_EFFICIENCY = round(math.sqrt((231.6 / 300.0) * (367.5 / 450.0)), 3)
#: Simple-protocol bandwidth efficiency across nodes (through NICs), fitted once (module docstring) and frozen.
SIMPLE_NETWORK_EFFICIENCY = round(math.sqrt((24.0 / 25.0) * (47.0 / 50.0)), 3)


@dataclass(frozen=True)
class Protocol:
    """One data-movement protocol of a collective library.

    Attributes
    ----------
    name : str
    base_latency_s : float
        Charged once per collective.
    intra_step_latency_s, inter_step_latency_s : float
        Floor of a step's latency when all its flows stay in a node, and when any crosses nodes.
    efficiency : float
        Share of the line rate reached by a flow that stays in a node (transfer times are divided by it).
    network_efficiency : float
        The same for a flow that crosses nodes.
    """

    name: str
    base_latency_s: float
    intra_step_latency_s: float
    inter_step_latency_s: float
    efficiency: float
    network_efficiency: float


# NCCL 2.8 tuning.cc ring constants (µs): base LL 3.6 / LL128 10.0 / Simple 8.4; per hop NVLink 0.47 / 1.9 / 3.4,
# network 2.7 / 4.0 / 9.6; bandwidth LL ×1/4, LL128 ×0.92 of Simple (on either kind of link).
NCCL_PROTOCOLS: tuple[Protocol, ...] = (
    Protocol("LL", 3.6e-6, 0.47e-6, 2.7e-6, SIMPLE_EFFICIENCY / 4, SIMPLE_NETWORK_EFFICIENCY / 4),
    Protocol("LL128", 10.0e-6, 1.9e-6, 4.0e-6, SIMPLE_EFFICIENCY * 0.92, SIMPLE_NETWORK_EFFICIENCY * 0.92),
    Protocol("Simple", 8.4e-6, 3.4e-6, 9.6e-6, SIMPLE_EFFICIENCY, SIMPLE_NETWORK_EFFICIENCY),
)

#: ``network.protocol`` values: ``none`` (bytes at line rate, the default) or ``nccl``.
PROTOCOLS: dict[str, tuple[Protocol, ...]] = {"none": (), "nccl": NCCL_PROTOCOLS}
