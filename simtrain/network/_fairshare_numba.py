"""numba kernel of max-min fair rates (progressive filling); its NumPy twin is
:func:`simtrain.network.fairshare.max_min_rates`, which the tests compare it with.

Plain array signature, ``cache=True``; runs as ordinary Python under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def max_min_rates_kernel(offsets, links, capacity, flow_cap, active):
    """Max-min fair rates; the NumPy twin's rounds and tolerance."""
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
    unsettled = np.zeros(num_links, dtype=np.bool_)
    taken = np.zeros(num_links)
    used = np.zeros(num_links)
    touched = np.empty(num_links, dtype=np.int64)  # links of this round's frozen flows (not a pass over all)
    tolerance = 1e-12
    while left > 0:
        # each flow's bottleneck share
        for f in range(num_flows):
            if not unfrozen[f]:
                continue
            bottleneck = flow_cap[f]
            for e in range(offsets[f], offsets[f + 1]):
                link = links[e]
                share = remaining[link] / count[link]
                if share < bottleneck:
                    bottleneck = share
            rates[f] = bottleneck  # provisional until the flow freezes
        # a link is settled when it is the bottleneck of every flow on it
        for f in range(num_flows):
            if not unfrozen[f]:
                continue
            for e in range(offsets[f], offsets[f + 1]):
                link = links[e]
                if remaining[link] / count[link] > rates[f] * (1 + tolerance):
                    unsettled[link] = True
        # flows on a settled bottleneck, or held by a cap below every share, freeze at their bottleneck
        for f in range(num_flows):
            if not unfrozen[f]:
                freeze[f] = False
                continue
            settles = flow_cap[f] <= rates[f]
            for e in range(offsets[f], offsets[f + 1]):
                link = links[e]
                if not unsettled[link] and remaining[link] / count[link] <= rates[f] * (1 + tolerance):
                    settles = True
            freeze[f] = settles
        for f in range(num_flows):
            if unfrozen[f]:
                for e in range(offsets[f], offsets[f + 1]):
                    unsettled[links[e]] = False
        num_touched = 0
        for f in range(num_flows):
            if freeze[f]:
                unfrozen[f] = False
                left -= 1
                for e in range(offsets[f], offsets[f + 1]):
                    link = links[e]
                    if used[link] == 0:
                        touched[num_touched] = link
                        num_touched += 1
                    used[link] += weights[e]
                    taken[link] += rates[f] * weights[e]
        for i in range(num_touched):
            link = touched[i]
            count[link] -= used[link]
            if remaining[link] != np.inf:   # an infinite link stays infinite whatever its flows take
                remaining[link] = max(remaining[link] - taken[link], 0.0)
            used[link] = 0
            taken[link] = 0
    return rates
