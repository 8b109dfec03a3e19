"""Recursive halving-doubling (Rabenseifner) and binomial trees (Thakur, Rabenseifner & Gropp 2005).

All-reduce = reduce-scatter by recursive halving (step i exchanges n/2^(i+1) with the partner at distance
p/2^(i+1)) + all-gather by recursive doubling: ``T = 2·lg p·α + 2(p-1)/p·n/B`` for p a power of two. Other p:
the first 2r ranks (r = p - 2^⌊lg p⌋) fold pairwise first (odd sends its vector to even) and unfold at the end,
adding ``2(α + n/B)``. Reduce-scatter and all-gather need a power of two. Broadcast and reduce are binomial
trees: ``⌈lg p⌉·(α + n/B)``.

Examples
--------
>>> from simtrain.topology import switch
>>> from simtrain.collectives import collective_time
>>> r = collective_time("all-reduce", 8e6, switch(8, 1e9, 1e-6), "halving-doubling")
>>> abs(r.time_s - (2 * 3 * 2e-6 + 2 * 7 / 8 * 8e6 / 1e9)) < 1e-12
True
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern
from simtrain.errors import ConfigError


def _halving(ranks: np.ndarray, n: float) -> list[StepPattern]:
    p = len(ranks)
    pos = np.arange(p)
    steps = []
    data = n
    distance = p // 2
    while distance >= 1:
        data /= 2
        steps.append(StepPattern(ranks, ranks[pos ^ distance], data, 1, data, f"halving d={distance}"))
        distance //= 2
    return steps


def _doubling(ranks: np.ndarray, n: float) -> list[StepPattern]:
    p = len(ranks)
    pos = np.arange(p)
    steps = []
    data = n / p
    distance = 1
    while distance < p:
        steps.append(StepPattern(ranks, ranks[pos ^ distance], data, 1, 0.0, f"doubling d={distance}"))
        data *= 2
        distance *= 2
    return steps


@register_algorithm(
    "halving-doubling",
    ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce"],
    summary="recursive halving RS + recursive doubling AG (Rabenseifner); binomial broadcast/reduce",
)
def build_halving_doubling(op: str, n: float, ranks: np.ndarray, cluster: object) -> list[StepPattern]:
    """Patterns of one chunk."""
    p = len(ranks)
    if p < 2:
        return []
    power = 1 << (p.bit_length() - 1)
    if op in ("broadcast", "reduce"):
        steps = []
        span = 1
        while span < p:
            senders = np.arange(span)
            senders = senders[senders + span < p]
            if op == "broadcast":
                steps.append(StepPattern(ranks[senders], ranks[senders + span], n, 1, 0.0, f"binomial {span}"))
            else:
                steps.append(StepPattern(ranks[senders + span], ranks[senders], n, 1, n, f"binomial {span}"))
            span *= 2
        return steps if op == "broadcast" else steps[::-1]
    if op in ("reduce-scatter", "all-gather"):
        if power != p:
            raise ConfigError(f"{op} needs a power-of-two number of ranks", key="algorithm halving-doubling",
                              value=p)
        return _halving(ranks, n) if op == "reduce-scatter" else _doubling(ranks, n)
    extra = p - power
    steps = []
    survivors = ranks
    if extra:
        odd, even = ranks[1 : 2 * extra : 2], ranks[0 : 2 * extra : 2]
        steps.append(StepPattern(odd, even, n, 1, n, "fold"))
        survivors = np.concatenate([even, ranks[2 * extra :]])
    steps += _halving(survivors, n) + _doubling(survivors, n)
    if extra:
        steps.append(StepPattern(even, odd, n, 1, 0.0, "unfold"))
    return steps
