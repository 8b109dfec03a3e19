"""NVLink SHARP (NCCL's NVLS): the node's NVSwitch reduces and multicasts, so each GPU's data crosses its link once.

In NVLS all-reduce every GPU owns a 1/p shard: it pulls the switch-reduced shard (``multimem.ld_reduce``: each GPU
link carries its whole buffer n up to the switch, and the reduced n/p down to the owner), then stores it with a
multicast (``multimem.st``: n/p up, the switch copies it to all, n down every link). Up and down each GPU link
therefore carry ``n (1 + 1/p)`` per all-reduce, and NCCL pipelines the two halves over chunks. A flow between GPUs
cannot express a switch that adds, so the schedule is one step whose flows load every GPU link exactly so: each GPU
sends ``n (1 + 1/p)`` to the next (on a switch, GPU a's uplink and GPU a+1's downlink). Uncontended on links of
bandwidth B:

``T = α + n (1 + 1/p) / B``,  bus bandwidth ``2 (p-1)/(p+1) · B``.

Reduce-scatter and all-gather carry one half each: ``n`` up and ``n/p`` down (or the reverse), symmetrised to
``n (1 + 1/p) / 2`` per link. NVLS's measured share of the NVLink line rate (``NVLS_EFFICIENCY``) is the
protocol's (:func:`simtrain.network.protocol.bandwidth_factor`), and so is the share its chunked pipeline keeps at a
given size (:func:`simtrain.network.protocol.nvls_pipeline`: 1/6 at 1 MiB on 8 GPUs, 256/257 at 8 GiB). Needs the
node switch to reduce (``intra_node: in_switch_reduction: true``) and every rank in one node.

Examples
--------
>>> from simtrain.topology import hierarchical
>>> from simtrain.collectives import collective_time
>>> c = hierarchical(1, 8, intra_bandwidth="450 GB/s", nic_bandwidth="400 Gbit/s", in_switch_reduction=True)
>>> r = collective_time("all-reduce", 2**30, c, "nvls")
>>> round(r.busbw_Bps / 450e9, 4)      # 2 (p-1)/(p+1) at line rate, less the path latency
1.5556
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern
from simtrain.errors import ConfigError
from simtrain.topology.cluster import Cluster

__all__ = ["nvls_applicable"]


def nvls_applicable(ranks: np.ndarray, cluster: Cluster) -> str | None:
    """Why NVLS cannot run on these ranks (None when it can).

    Examples
    --------
    >>> from simtrain.topology import switch
    >>> nvls_applicable(np.arange(4), switch(4, "100 GB/s"))
    'the node switch does not reduce (topology intra_node: in_switch_reduction)'
    """
    if "intra-node" not in cluster.reducing:
        return "the node switch does not reduce (topology intra_node: in_switch_reduction)"
    if len(np.unique(ranks // max(cluster.gpus_per_node, 1))) > 1:
        return "the ranks span several nodes (NVLS reduces inside one NVLink domain)"
    return None


@register_algorithm(
    "nvls",
    ["all-reduce", "reduce-scatter", "all-gather"],
    summary="NVLink SHARP: the NVSwitch reduces and multicasts; each GPU's data crosses its link once (NCCL NVLS)",
)
def build_nvls(op: str, n: float, ranks: np.ndarray, cluster: Cluster) -> list[StepPattern]:
    """One step whose flows put on every GPU link what in-switch reduction does."""
    why = nvls_applicable(ranks, cluster)
    if why is not None:
        raise ConfigError(f"nvls cannot run here: {why}", key="algorithm", value="nvls")
    p = len(ranks)
    if p < 2:
        return []
    per_link = n * (1.0 + 1.0 / p) * (1.0 if op == "all-reduce" else 0.5)
    reduce = n / p if op != "all-gather" else 0.0
    return [StepPattern(ranks, np.roll(ranks, -1), per_link, 1, reduce, f"nvls {op} (in switch)")]
