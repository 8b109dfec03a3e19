"""Compute and collectives sharing a GPU: what overlapping them costs the compute.

A collective that overlaps compute is not free. NCCL runs each collective as one kernel of one thread block per
channel, and its blocks do not share an SM with compute kernels, so while it runs the compute kernels get the other
SMs (docs/compute-model.md, "Overlapped collectives hold SMs"). simtrain charges that as a *share* of the GPU: while
a collective runs, compute proceeds at ``1 - share`` of its rate. The functions here turn shares and the
collectives' busy intervals into the compute's progress; both engines and both steps (the data-parallel step and
the large-model plans) call them, so they agree.

Examples
--------
>>> round(overlapped(1.0, [(0.5, 0.2)]), 3)   # compute loses 20 % of the 0.5 s the collective runs
1.1
>>> compute_end(1.0, [(0.2, 0.7, 0.2)])
1.1
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["collective_share", "compute_end", "compute_ends", "held_blocks", "overlapped"]

def held_blocks(schedule: Any, cluster: Any, network: Any, group: np.ndarray | None = None,
                cache: Any = None) -> int | None:
    """The thread blocks (one SM each) a collective holds while it runs: NCCL's for it
    (:func:`~simtrain.collectives.nccl.collective_ctas` on ``group``, one group of a grouped schedule) under
    ``network.protocol: nccl`` (the model of NCCL's own costs); None under ``none`` (collectives at line rate, free
    to overlap), for a parameter server's transfers, or without a schedule. ``cache``: the cluster's
    :class:`~simtrain.network.NetworkCache`.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.network import NetworkOptions
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-a100", gpus=8)
    >>> s = build_schedule("all-reduce", 2**26, c, "ring")
    >>> held_blocks(s, c, NetworkOptions(protocol="nccl")), held_blocks(s, c, NetworkOptions())
    (24, None)
    """
    if schedule is None or network is None or getattr(network, "protocol", "none") != "nccl":
        return None
    from simtrain.collectives.nccl import collective_ctas
    from simtrain.network.protocol import NOT_NCCL

    if schedule.algorithm in NOT_NCCL:   # parameter servers sum on host CPUs, not in NCCL kernels
        return None
    return collective_ctas(schedule, cluster, group, cache)


def collective_share(schedule: Any, cluster: Any, network: Any, group: np.ndarray | None = None,
                     cache: Any = None) -> float:
    """The share of each GPU a collective holds while it runs: its :func:`held_blocks` over the GPU's SMs (0 where
    it holds none).

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
    blocks = held_blocks(schedule, cluster, network, group, cache)
    if blocks is None:
        return 0.0
    from simtrain.hardware import get_device

    return min(1.0, blocks / get_device(cluster.device).compute_units)


def overlapped(compute: float, collectives: Sequence[tuple[float, float]]) -> float:
    """Seconds until both ``compute`` and ``collectives`` are done when they start together: the collectives
    (``(seconds, share)`` pairs) run back to back on one stream, each holding its share of the GPU while it runs.

    The longer of the two: the collectives' total, or the compute stretched by the share of each collective second
    it runs beside (:func:`compute_end`).

    Examples
    --------
    >>> overlapped(1.0, [(0.5, 0.0)]), overlapped(0.2, [(0.5, 0.0)])
    (1.0, 0.5)
    >>> round(overlapped(0.45, [(0.5, 0.2)]), 3)   # 0.45 s of work needs 0.5625 s at 80 %: past the collective's end
    0.55
    >>> round(overlapped(1.0, [(0.2, 0.5), (0.2, 0.25)]), 3)   # a gather, then a reduce-scatter
    1.15
    """
    clock, intervals = 0.0, []
    for seconds, share in collectives:
        if seconds > 0:
            intervals.append((clock, clock + seconds, share))
            clock += seconds
    return max(clock, compute_end(compute, intervals)) if compute > 0 else clock


def compute_end(work: float, intervals: Iterable[tuple[float, float, float]], start: float = 0.0) -> float:
    """When ``work`` seconds of compute that start at ``start`` end, slowed during the collectives' busy
    ``intervals``: ``(begin, end, share)`` triples in seconds, in order and disjoint (one communication stream),
    during each of which compute runs at ``1 - share`` of its rate (a share of 1 or more pauses it).

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
        if end <= clock or end <= begin or not share > 0.0:
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
    takes no part), or ``None`` for none, and ``shares`` each collective's share of the GPU. Ranks with the same
    work and intervals (most of them, in a symmetric step) are worked out once.

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
    columns = np.vstack([work[None, :], starts, ends])
    unique, inverse = np.unique(np.nan_to_num(columns, nan=-1.0), axis=1, return_inverse=True)
    out = np.empty(unique.shape[1])
    rows = len(starts)
    for column in range(unique.shape[1]):
        rank = int(np.flatnonzero(inverse.ravel() == column)[0])
        triples = [(float(b), float(e), float(f)) for b, e, f in zip(starts[:, rank], ends[:, rank], shares[:rows])
                   if np.isfinite(b) and np.isfinite(e)]
        out[column] = compute_end(float(work[rank]), triples)
    return out[inverse.ravel()]
