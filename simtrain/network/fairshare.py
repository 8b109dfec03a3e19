"""Max-min fair rates of flows that share links (progressive filling / water-filling).

Every flow crosses a set of links; a link's capacity is shared among its flows so that no flow can get more
without a flow of equal or smaller rate getting less (max-min fairness). An optional per-flow cap models
rate-limited flows (public-cloud TCP). This is what both engines use to decide who gets what bandwidth.

The algorithm freezes, round after round, every flow whose bottleneck share equals the smallest share left;
symmetric collective patterns finish in one or two rounds. Each round is vectorised over flows.

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
        whose every member puts ``w`` flows on each link of a class (:mod:`simtrain.network.symmetry`).

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
    caps = np.broadcast_to(np.asarray(flow_cap, dtype=np.float64), (num_flows,)).copy()
    rates = np.zeros(num_flows)
    unfrozen = np.ones(num_flows, dtype=bool) if active is None else active.copy()
    if num_flows == 0:
        return rates
    # flows on no link are limited only by their cap
    free = unfrozen & (lengths == 0)
    rates[free] = caps[free]
    unfrozen &= ~free
    remaining = capacity.astype(np.float64).copy()
    flow_of_entry = np.repeat(np.arange(num_flows), lengths)
    nonempty_starts = offsets[:-1][lengths > 0]
    has_links = lengths > 0
    tolerance = 1e-12
    while unfrozen.any():
        entry_active = unfrozen[flow_of_entry]
        if weights is None:
            count = np.bincount(links[entry_active], minlength=len(remaining))
        else:
            count = np.bincount(links[entry_active], weights=weights[entry_active], minlength=len(remaining))
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(count > 0, remaining / np.maximum(count, 1), np.inf)
        entry_share = share[links]
        bottleneck = np.full(num_flows, np.inf)
        bottleneck[has_links] = np.minimum.reduceat(entry_share, nonempty_starts)
        bottleneck = np.minimum(bottleneck, caps)
        level = bottleneck[unfrozen].min()
        freeze = unfrozen & (bottleneck <= level * (1 + tolerance))
        rates[freeze] = level
        unfrozen &= ~freeze
        if unfrozen.any():
            frozen = freeze[flow_of_entry]
            used = np.bincount(links[frozen], weights=None if weights is None else weights[frozen],
                               minlength=len(remaining)) * level
            remaining = np.maximum(remaining - used, 0.0)
    return rates
