"""Max-min fair rates of flows that share links (progressive filling / water-filling).

Every flow crosses a set of links; a link's capacity is shared among its flows so that no flow can get more
without a flow of equal or smaller rate getting less (max-min fairness). An optional per-flow cap models
rate-limited flows (public-cloud TCP). This is what both engines use to decide who gets what bandwidth.

Progressive filling raises every rate together and freezes a flow when a link it crosses fills. Round after round,
this implementation freezes at once every link that is the bottleneck of all its flows (its share, capacity left
over flows left, is the least on each of their paths) and every flow held by a cap below all its links' shares: a
share only grows as other flows freeze below it, so nothing later could hold those flows lower, and the result is
progressive filling's, in as many rounds as the longest chain of bottlenecks that wait on one another rather than
one round per distinct rate. Frozen flows leave the working set, so a round costs what is left. Symmetric
collective patterns finish in one or two rounds. Each round is vectorised over route entries.

Examples
--------
>>> import numpy as np
>>> # two flows share link 0 (10 B/s); the second also crosses link 1 (4 B/s)
>>> offsets = np.array([0, 1, 3]); links = np.array([0, 0, 1])
>>> max_min_rates(offsets, links, np.array([10.0, 4.0])).tolist()
[6.0, 4.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["max_min_rates"]


def max_min_rates(
    offsets: np.ndarray,
    links: np.ndarray,
    capacity: np.ndarray,
    flow_cap: float | np.ndarray = np.inf,
    active: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Max-min fair rate of every flow.

    Parameters
    ----------
    offsets, links : ndarray of int
        Flow ``f`` crosses ``links[offsets[f]:offsets[f+1]]`` (CSR).
    capacity : ndarray of float
        Capacity of every link (bytes/s).
    flow_cap : float or ndarray
        Upper bound on each flow's rate.
    active : ndarray of bool, optional
        Flows that take part; others get rate 0.
    weights : ndarray of float, optional
        Per route entry, the number of flows it stands for on its link (default 1): a flow of a symmetry class
        whose every member puts ``w`` flows on each link of a class (:mod:`simtrain.network.symmetry`); positive.

    Returns
    -------
    ndarray of float
        Rate of each flow; ``inf`` for an uncapped flow that crosses no link (a local copy).

    Examples
    --------
    >>> import numpy as np
    >>> max_min_rates(np.array([0, 1, 2]), np.array([0, 0]), np.array([8.0]), flow_cap=3.0).tolist()
    [3.0, 3.0]
    >>> # one entry standing for three flows on link 0, and a fourth flow of its own: a quarter each
    >>> max_min_rates(np.array([0, 1, 2]), np.array([0, 0]), np.array([8.0]), weights=np.array([3.0, 1.0])).tolist()
    [2.0, 2.0]
    """
    num_flows = len(offsets) - 1
    lengths = np.diff(offsets)
    caps = np.broadcast_to(np.asarray(flow_cap, dtype=np.float64), (num_flows,))
    rates = np.zeros(num_flows)
    unfrozen = np.ones(num_flows, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    if num_flows == 0:
        return rates
    # flows on no link are limited only by their cap
    free = unfrozen & (lengths == 0)
    rates[free] = caps[free]
    # the working set: the unfrozen flows on some link and their route entries, in their order (sums over a link's
    # entries keep one order, as in the numba twin)
    flows = np.flatnonzero(unfrozen & (lengths > 0))
    if flows.size == 0:
        return rates
    flow_lengths = lengths[flows]
    entry_flow: np.ndarray | None = None   # each working entry's flow (in the working set), once a round needs it
    work_weights = None if weights is None else np.asarray(weights, dtype=np.float64)
    if work_weights is not None and not bool(np.all(work_weights > 0)):
        raise ValueError("max_min_rates: every weight must be positive (a count of flows)")
    if flows.size == num_flows:   # every flow takes part: the routes as they are
        work_links = links[offsets[0]:offsets[-1]]
        work_weights = None if work_weights is None else work_weights[offsets[0]:offsets[-1]]
    else:
        entry_flow = np.repeat(np.arange(flows.size), flow_lengths)
        entry_index = np.arange(entry_flow.size) - np.repeat(np.cumsum(flow_lengths) - flow_lengths, flow_lengths)
        entries = offsets[:-1][flows][entry_flow] + entry_index
        work_links = links[entries]
        work_weights = None if work_weights is None else work_weights[entries]
    work_caps = caps[flows]
    remaining = capacity.astype(np.float64)   # a copy (astype copies)
    tolerance = 1e-12
    while flows.size:
        count = np.bincount(work_links, weights=work_weights, minlength=len(remaining))
        # a share per link (a link no working flow crosses has none: 0/0), then one gather per route entry
        with np.errstate(divide="ignore", invalid="ignore"):
            entry_share = (remaining / count)[work_links]
        starts = np.cumsum(flow_lengths) - flow_lengths
        bottleneck = np.minimum(np.minimum.reduceat(entry_share, starts), work_caps)
        if bottleneck.max() <= bottleneck.min() * (1 + tolerance):
            # one level (a symmetric pattern's one round): every link a flow has as bottleneck is every flow's
            rates[flows] = bottleneck
            break
        # a link that is the bottleneck of every flow on it fills now, and so does a cap below every share
        if entry_flow is None:
            entry_flow = np.repeat(np.arange(flows.size), flow_lengths)
        entry_bottleneck = bottleneck[entry_flow]
        binding = entry_share <= entry_bottleneck * (1 + tolerance)
        settled = np.bincount(work_links[~binding], minlength=len(remaining)) == 0
        freeze = np.logical_or.reduceat(binding & settled[work_links], starts) | (work_caps <= bottleneck)
        rates[flows[freeze]] = bottleneck[freeze]
        if freeze.all():
            break
        frozen = freeze[entry_flow]
        taken = entry_bottleneck[frozen] if work_weights is None else entry_bottleneck[frozen] * work_weights[frozen]
        used = np.bincount(work_links[frozen], weights=taken, minlength=len(remaining))
        with np.errstate(invalid="ignore"):   # an infinite link stays infinite whatever its flows take
            remaining = np.where(remaining == np.inf, np.inf, np.maximum(remaining - used, 0.0))
        keep, kept = ~freeze, ~frozen
        flows, flow_lengths, work_caps = flows[keep], flow_lengths[keep], work_caps[keep]
        work_links = work_links[kept]
        work_weights = None if work_weights is None else work_weights[kept]
        entry_flow = (np.cumsum(keep) - 1)[entry_flow[kept]]
    return rates
