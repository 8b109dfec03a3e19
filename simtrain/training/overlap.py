"""Compute and collectives sharing a GPU: what overlapping them costs the compute.

A collective that overlaps compute is not free. NCCL runs each collective as one kernel of one thread block per
channel, and a block of NCCL's size holds a whole SM's registers, so while it runs the compute kernels get the
other SMs (docs/compute-model.md, "Overlapped collectives"). simtrain charges that as a *share* of the GPU: while a
collective runs, compute proceeds at ``1 - share`` of its rate. The functions here turn a share and the
collectives' busy intervals into the compute's end; both engines and both steps (the data-parallel step and the
large-model plans) call them, so they agree.

Examples
--------
>>> round(overlapped(1.0, 0.5, 0.2), 3)   # compute loses 20 % of the 0.5 s the collective runs
1.1
>>> compute_end(1.0, [(0.2, 0.7, 0.2)])
1.1
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["collective_share", "compute_end", "compute_ends", "overlapped"]


def collective_share(schedule: Any, cluster: Any, network: Any) -> float:
    """The share of each GPU a collective holds while it runs: NCCL's thread blocks for it
    (:func:`~simtrain.collectives.nccl.collective_ctas`, one SM each) over the GPU's SMs, under
    ``network.protocol: nccl`` (the model of NCCL's own costs); 0 under ``none`` (collectives at line rate, free
    to overlap), or without a schedule.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.network import NetworkOptions
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-a100", gpus=8)
    >>> s = build_schedule("all-reduce", 2**26, c, "ring")
    >>> round(collective_share(s, c, NetworkOptions(protocol="nccl")), 3), collective_share(s, c, NetworkOptions())
    (0.222, 0.0)
    """
    if schedule is None or network is None or getattr(network, "protocol", "none") != "nccl":
        return 0.0
    from simtrain.collectives.nccl import collective_ctas
    from simtrain.hardware import get_device

    units = get_device(cluster.device).compute_units
    return min(1.0, collective_ctas(schedule, cluster) / units)


def overlapped(compute: float, comm: float, share: float) -> float:
    """Seconds of ``compute`` and a collective of ``comm`` seconds started together, the collective holding
    ``share`` of the GPU while it runs (compute at ``1 - share`` of its rate until the collective ends).

    The longer of the two: compute ends at ``compute + share · comm`` when it outlasts the collective, or within
    it, at ``compute / (1 - share)``, which the collective outlasts.

    Examples
    --------
    >>> overlapped(1.0, 0.5, 0.0), overlapped(0.2, 0.5, 0.0)
    (1.0, 0.5)
    >>> round(overlapped(0.45, 0.5, 0.2), 3)   # 0.45 s of work needs 0.5625 s at 80 %: past the collective's end
    0.55
    """
    if share <= 0.0 or comm <= 0.0 or compute <= 0.0:
        return max(compute, comm)
    slowed = compute / (1.0 - share) if share < 1.0 else np.inf
    return max(comm, min(slowed, compute + share * comm))


def compute_end(work: float, intervals: Iterable[tuple[float, float, float]], start: float = 0.0) -> float:
    """When ``work`` seconds of compute that start at ``start`` end, slowed during the collectives' busy
    ``intervals``: ``(begin, end, share)`` triples in seconds, in order and disjoint (one communication stream),
    during each of which compute runs at ``1 - share`` of its rate.

    Examples
    --------
    >>> compute_end(1.0, [])
    1.0
    >>> compute_end(1.0, [(2.0, 3.0, 0.3)])   # after the compute: nothing to share
    1.0
    >>> compute_end(1.0, [(0.0, 0.5, 0.5), (0.5, 2.0, 0.5)])   # half speed all along
    2.0
    """
    clock, left = start, work
    for begin, end, share in intervals:
        if end <= clock or end <= begin or share <= 0.0:
            continue
        begin = max(begin, clock)
        if begin - clock >= left:   # the work ends before this collective starts
            break
        left -= begin - clock
        rate = max(0.0, 1.0 - share)
        if (end - begin) * rate >= left and rate > 0.0:   # the work ends inside it
            return begin + left / rate
        left -= (end - begin) * rate
        clock = end
    return clock + left


def compute_ends(work: np.ndarray, starts: np.ndarray | None, ends: np.ndarray | None,
                 shares: np.ndarray) -> np.ndarray:
    """:func:`compute_end` per rank: ``work`` per rank (from the step's start), ``starts`` and ``ends`` the
    collectives' per-rank busy intervals (rows: collectives in stream order, columns: ranks; ``nan`` where a rank
    takes no part), or ``None`` for none, and ``shares`` each collective's share of the GPU.

    Examples
    --------
    >>> starts, ends = np.array([[0.0, 0.5]]), np.array([[1.0, 0.75]])
    >>> compute_ends(np.array([2.0, 2.0]), starts, ends, np.array([0.5])).tolist()
    [2.5, 2.125]
    """
    work = np.asarray(work, dtype=float)
    shares = np.asarray(shares, dtype=float)
    if starts is None or ends is None or not len(starts) or not (shares > 0).any():
        return work.copy()
    out = np.empty_like(work)
    for rank in range(len(work)):
        triples = [(float(b), float(e), float(f)) for b, e, f in zip(starts[:, rank], ends[:, rank], shares)
                   if np.isfinite(b) and np.isfinite(e)]
        out[rank] = compute_end(float(work[rank]), triples)
    return out
