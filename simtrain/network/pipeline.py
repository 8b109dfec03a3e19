"""How the chunks of a Schedule share its phases: one phase per link group at a time, oldest chunk first.

A Schedule split into ``c`` chunks sends every chunk through all its patterns (phases) in order. Patterns that
share a link (a ring's reduce-scatter and all-gather on the same dimension; transitively, every pattern linked
through shared links) form a *link group*, and a group serves one chunk's phase at a time, without preemption;
when a group frees, the oldest chunk whose phase is ready goes next. This is ASTRA-sim's scheduling with one
active chunk per dimension, and it keeps a bottleneck dimension busy: chunks never split a link's bandwidth
between them (which would make them all finish a phase late together and leave the next dimension idle).

Both engines use it for Schedules of plain patterns (no chains or pipelined trees, whose levels pipeline chunks
themselves): the analytical engine takes the makespan of :func:`chunk_schedule` with each phase's one-chunk time;
the DES makes every rank enter a group's phases in the order :func:`chunk_schedule` found, so without
contention the two agree to rounding.

Examples
--------
>>> # two dimensions: RS dim0, RS dim1, AG dim1, AG dim0 (dim0's phases share links, so do dim1's)
>>> plan = chunk_schedule([1.4618, 1.1869, 1.1869, 1.4618], [0, 1, 1, 0], chunks=4)
>>> round(plan.makespan, 4)
12.4188
>>> plan.order[0][:5]
[(0, 0), (1, 0), (2, 0), (0, 3), (3, 0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ChunkPlan", "chunk_schedule", "link_groups"]


def link_groups(link_sets: Sequence[np.ndarray], num_links: int) -> list[int]:
    """Group of every phase: phases that share a link, directly or through other phases, get one group id
    (numbered 0, 1, … in order of first appearance); a phase on no link gets a group of its own.

    Examples
    --------
    >>> import numpy as np
    >>> link_groups([np.array([0, 1]), np.array([2]), np.array([1, 3]), np.array([], dtype=int)], 4)
    [0, 1, 0, 2]
    """
    parent = list(range(len(link_sets)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner = np.full(num_links, -1, dtype=np.int64)
    for index, links in enumerate(link_sets):
        owners = np.unique(owner[links])
        for other in owners[owners >= 0]:
            parent[find(int(other))] = find(index)
        owner[links] = find(index)
    names: dict[int, int] = {}
    return [names.setdefault(find(i), len(names)) for i in range(len(link_sets))]


@dataclass(frozen=True)
class ChunkPlan:
    """The phases of every chunk in time.

    Attributes
    ----------
    makespan : float
        When the last chunk leaves its last phase.
    start : ndarray
        ``start[c, j]``: when chunk ``c`` enters phase ``j``.
    order : dict of int to list of (int, int)
        For every link group, the (chunk, phase) pairs it serves, in order.
    """

    makespan: float
    start: np.ndarray
    order: dict[int, list[tuple[int, int]]]


def chunk_schedule(durations: Sequence[float], groups: Sequence[int], chunks: int) -> ChunkPlan:
    """List schedule of ``chunks`` identical chunks through phases of the given one-chunk ``durations``.

    A chunk enters phase ``j`` when it has left phase ``j-1`` and phase ``j``'s group is free; a group serves
    one phase at a time to the end; among the phases ready when a group frees, the oldest chunk's goes first.

    Parameters
    ----------
    durations : sequence of float
        Time one chunk spends in each phase when nothing else runs on its links.
    groups : sequence of int
        Link group of each phase (:func:`link_groups`).
    chunks : int
        Number of chunks.

    Returns
    -------
    ChunkPlan

    Examples
    --------
    >>> chunk_schedule([1.0, 2.0, 1.0], [0, 1, 2], chunks=3).makespan   # a flow shop: 4 + 2 x 2
    8.0
    >>> chunk_schedule([1.0, 1.0], [0, 0], chunks=3).makespan   # one group: back to back
    6.0
    """
    phases = len(durations)
    start = np.zeros((chunks, phases))
    order: dict[int, list[tuple[int, int]]] = {int(g): [] for g in groups}
    if phases == 0:
        return ChunkPlan(0.0, start, order)
    free = dict.fromkeys(order, 0.0)
    ready = [0.0] * chunks  # when each chunk has left its previous phase
    nxt = [0] * chunks  # each chunk's next phase
    left = chunks * phases
    while left:
        best: tuple[float, int] | None = None
        for chunk in range(chunks):
            if nxt[chunk] < phases:
                begin = max(ready[chunk], free[int(groups[nxt[chunk]])])
                if best is None or begin < best[0]:  # ties: the older chunk (lower index) is kept
                    best = (begin, chunk)
        assert best is not None
        begin, chunk = best
        phase = nxt[chunk]
        group = int(groups[phase])
        start[chunk, phase] = begin
        ready[chunk] = free[group] = begin + float(durations[phase])
        order[group].append((chunk, phase))
        nxt[chunk] += 1
        left -= 1
    return ChunkPlan(max(ready), start, order)
