"""numba kernel of max-min fair rates (progressive filling); its NumPy twin is
:func:`simtrain.network.fairshare.max_min_rates`, which the tests compare it with.

Plain array signature, ``cache=True``; runs as ordinary Python under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def max_min_rates_kernel(offsets, links, capacity, flow_cap, active):
    """Max-min fair rates; same rounds and tolerance as the NumPy twin."""
    return max_min_rates_weighted_kernel(offsets, links, np.ones(links.shape[0]), capacity, flow_cap, active)


@njit(cache=True)
def max_min_rates_weighted_kernel(offsets, links, weights, capacity, flow_cap, active):
    """Max-min fair rates where route entry ``e`` stands for ``weights[e]`` flows on its link (a symmetry
    class's flows, :mod:`simtrain.network.symmetry`); with unit weights, :func:`max_min_rates_kernel`."""
    num_flows = offsets.shape[0] - 1
    num_links = capacity.shape[0]
    rates = np.zeros(num_flows)
    remaining = capacity.copy()
    count = np.zeros(num_links)  # flows on the link (whole numbers, so shares equal integer counts')
    unfrozen = active.copy()
    left = 0
    for f in range(num_flows):
        if not unfrozen[f]:
            continue
        if offsets[f + 1] == offsets[f]:
            rates[f] = flow_cap[f]
            unfrozen[f] = False
            continue
        left += 1
        for e in range(offsets[f], offsets[f + 1]):
            count[links[e]] += weights[e]
    freeze = np.zeros(num_flows, dtype=np.bool_)
    used = np.zeros(num_links)
    touched = np.empty(num_links, dtype=np.int64)  # links of this round's frozen flows (not a pass over all)
    tolerance = 1e-12
    while left > 0:
        level = np.inf
        for f in range(num_flows):
            if not unfrozen[f]:
                continue
            bottleneck = flow_cap[f]
            for e in range(offsets[f], offsets[f + 1]):
                link = links[e]
                share = remaining[link] / count[link]
                if share < bottleneck:
                    bottleneck = share
            rates[f] = bottleneck  # provisional: the flow's bottleneck share this round
            if bottleneck < level:
                level = bottleneck
        threshold = level * (1 + tolerance)
        for f in range(num_flows):
            freeze[f] = unfrozen[f] and rates[f] <= threshold
        num_touched = 0
        for f in range(num_flows):
            if freeze[f]:
                rates[f] = level
                unfrozen[f] = False
                left -= 1
                for e in range(offsets[f], offsets[f + 1]):
                    link = links[e]
                    if used[link] == 0:
                        touched[num_touched] = link
                        num_touched += 1
                    used[link] += weights[e]
        for i in range(num_touched):
            link = touched[i]
            count[link] -= used[link]
            remaining[link] = max(remaining[link] - used[link] * level, 0.0)
            used[link] = 0
    return rates
