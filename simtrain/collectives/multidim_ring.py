"""Multi-dimensional ring: reduce-scatter over dimensions in order, all-reduce on the last, all-gather back.

On a logical grid p_0 × p_1 × … (dimension 0 varies fastest in rank order) this is Mikami et al.'s 2D-torus
all-reduce, and, with dimension 0 = the GPUs of a node, Horovod's hierarchical all-reduce. Later dimensions see
smaller data: with ``n_0 = n`` and ``n_{d+1} = n_d / p_d``, uncontended,

``T = Σ_d 2(p_d - 1)·(α_d + n_d / (p_d·B_d))``,

which equals ASTRA-sim's ``localBWAware`` multi-dimensional all-reduce. Reduce-scatter takes half of each term;
all-gather walks the dimensions in reverse order with a shard that grows ×p_d after each dimension.
On hierarchical and cloud clusters the grid is (GPUs per node, nodes).

Examples
--------
>>> from simtrain.topology import torus
>>> from simtrain.collectives import collective_time
>>> c = torus([4, 8], 1e9, 1e-6)
>>> t = collective_time("all-reduce", 32e6, c, "multidim-ring").time_s
>>> expected = 2 * 3 * (1e-6 + 32e6 / 4 / 1e9) + 2 * 7 * (1e-6 + 8e6 / 8 / 1e9)
>>> abs(t - expected) < 1e-12
True
"""

from __future__ import annotations

import math

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.ring import ring_steps
from simtrain.collectives.schedule import StepPattern
from simtrain.params import Param
from simtrain.registry import param_error
from simtrain.topology.cluster import Cluster

__all__ = ["dimension_neighbours"]


def dimension_neighbours(grid: tuple[int, ...], dim: int) -> np.ndarray:
    """For every grid position, the position one step forward along dimension ``dim`` (with wrap-around)."""
    positions = np.arange(math.prod(grid))
    stride = math.prod(grid[:dim])
    k = grid[dim]
    coord = (positions // stride) % k
    return positions + (((coord + 1) % k) - coord) * stride


@register_algorithm(
    "multidim-ring",
    ["all-reduce", "reduce-scatter", "all-gather"],
    params=(Param("grid", "int_list", None, "the logical grid p_0 x p_1 x ... (default: the cluster's)", minimum=1),),
    summary="RS over dimensions in order, AR on the last, AG back (2D-torus / hierarchical all-reduce)",
)
def build_multidim_ring(op: str, n: float, ranks: np.ndarray, cluster: Cluster,
                        grid: list[int] | None = None) -> list[StepPattern]:
    """Patterns of one chunk over the logical grid (``grid`` overrides the cluster's)."""
    shape = tuple(int(g) for g in grid) if grid is not None else tuple(cluster.grid)
    if math.prod(shape) != len(ranks):
        raise param_error("algorithm", "multidim-ring", "grid",
                          f"has {math.prod(shape)} positions but {len(ranks)} ranks take part", list(shape))
    dims = [d for d, k in enumerate(shape) if k > 1]
    if not dims:
        return []

    def flows(d: int) -> tuple[np.ndarray, np.ndarray]:
        return ranks, ranks[dimension_neighbours(shape, d)]

    patterns: list[StepPattern] = []
    if op == "all-gather":
        shard = n / len(ranks)
        for d in reversed(dims):
            k = shape[d]
            patterns += ring_steps(*flows(d), shard * k, k, "all-gather", f" dim{d}")
            shard *= k
        return patterns
    sizes = []
    data = n
    last = dims[-1] if op == "all-reduce" else None
    for d in dims:
        k = shape[d]
        sizes.append(data)
        if d == last:
            patterns += ring_steps(*flows(d), data, k, "all-reduce", f" dim{d}")
        else:
            patterns += ring_steps(*flows(d), data, k, "reduce-scatter", f" dim{d}")
            data /= k
    if op == "all-reduce":
        for d, data_d in zip(reversed(dims[:-1]), reversed(sizes[:-1])):
            patterns += ring_steps(*flows(d), data_d, shape[d], "all-gather", f" dim{d}")
    return patterns
