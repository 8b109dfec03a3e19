"""Link-utilisation heat maps for tori and dimension stacks.

For one dimension of the grid, every GPU gets the utilisation of its busiest outgoing link in that dimension
(bytes it carried over what it could carry in the time), laid out on the first two grid dimensions (further
dimensions are folded by taking the maximum).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from simtrain.topology import torus
>>> from simtrain.collectives import collective_time
>>> c = torus([4, 4], "50 GiB/s", "500 ns")
>>> r = collective_time("all-reduce", "64 MiB", c, "ring")
>>> ax = link_heatmap(c, r.link_bytes, r.time_s, dim=0)
>>> ax.get_title()
'dim0 links'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.topology import Cluster

__all__ = ["link_heatmap", "link_utilization"]


def _dimensioned_catalog() -> list[str]:
    """The catalog's topologies that have dimensions (kind ``torus`` or ``stack``), read from their files.

    >>> _dimensioned_catalog()
    ['ring-switch', 'torus-2d', 'torus-3d', 'torus-8x8']
    """
    from simtrain.catalog import names, resolve
    from simtrain.config import load_yaml

    found = []
    for name in names("topologies"):
        data = load_yaml(resolve("topologies", name))
        if isinstance(data, dict) and data.get("kind") in ("torus", "stack"):
            found.append(name)
    return found


def link_utilization(cluster: Cluster, link_bytes: np.ndarray, time_s: float, dim: int) -> np.ndarray:
    """Per-GPU utilisation of its busiest outgoing link in grid dimension ``dim``, shaped like the grid's first two
    dimensions (rows: dimension 1, columns: dimension 0).

    Examples
    --------
    >>> from simtrain.topology import ring
    >>> u = link_utilization(ring(4, 1e9), np.full(8, 5e8), 1.0, 0)
    >>> u.tolist()
    [[0.5, 0.5, 0.5, 0.5]]
    """
    if not cluster.class_names or not all(name.startswith("dim") for name in cluster.class_names):
        raise ConfigError("link heat maps need a torus or a dimension stack", key="cluster",
                          value=cluster.name, allowed=f"{', '.join(_dimensioned_catalog())} or a kind: stack/torus "
                                                      "file")
    if not 0 <= dim < len(cluster.grid):
        raise ConfigError(f"the grid has dimensions 0..{len(cluster.grid) - 1}", key="dim", value=dim)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilization = np.where(time_s > 0, link_bytes / (cluster.link_bandwidth_Bps * time_s), 0.0)
    per_gpu = np.zeros(cluster.num_gpus)
    mask = (cluster.link_class == dim) & (cluster.link_src < cluster.num_gpus)
    np.maximum.at(per_gpu, cluster.link_src[mask], utilization[mask])
    grid = list(cluster.grid)
    shape = grid[::-1]  # rank = x + X*y + ...: dimension 0 varies fastest
    folded = per_gpu.reshape(shape)
    while folded.ndim > 2:
        folded = folded.max(axis=0)
    return np.atleast_2d(folded)


def link_heatmap(cluster: Cluster, link_bytes: np.ndarray, time_s: float, dim: int = 0, ax: Any = None,
                 title: str | None = None) -> Any:
    """Draw :func:`link_utilization` for dimension ``dim``; returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    data = 100 * link_utilization(cluster, link_bytes, time_s, dim)
    image = ax.imshow(data, cmap="viridis", vmin=0, vmax=max(100.0, float(data.max())), origin="lower",
                      aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="busiest outgoing link, % utilised")
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):   # grid positions are whole numbers
        axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("position in dimension 0")
    ax.set_ylabel("position in dimension 1" if len(cluster.grid) > 1 else "")
    folded = "" if len(cluster.grid) <= 2 else (
        " (max over dimension 2)" if len(cluster.grid) == 3 else f" (max over dimensions 2-{len(cluster.grid) - 1})")
    ax.set_title(title or f"dim{dim} links{folded}")
    return ax
