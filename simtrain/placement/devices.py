"""Devices: memory limits and the link model between the devices a graph is placed on.

The devices are the first ``count`` GPUs of a simtrain :class:`~simtrain.topology.Cluster`. A tensor of ``b``
bytes sent from device ``a`` to ``b`` takes the route's latency plus ``b`` over the route's bottleneck bandwidth
(capped by the cluster's per-flow cap) when nothing contends; the DES engine shares links among concurrent
transfers. Without a topology the devices sit on one switch whose route (two links) has Baechi's fitted GPU-to-GPU
cost, 134 µs + bytes / 5.701 GB/s (``t_us = 0.0001754·bytes + 134``, docs/references.md, "Communication model"),
so each device has one full-duplex channel, as in Baechi's TF simulator but with sends and receives on separate
directions.

Examples
--------
>>> devs = make_devices(2, "4 GiB")
>>> round(devs.transfer_time(0, 1, 1e6) * 1e6, 1)      # 134 µs + 1 MB × 0.0001754 µs/B
309.4
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain import units
from simtrain.errors import ConfigError
from simtrain.limits import MAX_PLACEMENT_TABLE
from simtrain.topology.cluster import Cluster

__all__ = ["BAECHI_BANDWIDTH_BPS", "BAECHI_LATENCY_S", "Devices", "make_devices"]

#: Baechi's fitted GPU-to-GPU transfer cost (TF, ``--comm_cost_coeffs=0.0001754,134``): 1 / 1.754e-10 B/s.
BAECHI_BANDWIDTH_BPS = 1.0 / 1.754e-10
#: ... and its fixed part, 134 µs.
BAECHI_LATENCY_S = 134e-6


@dataclass(frozen=True, eq=False)
class Devices:
    """``count`` devices with memory limits and pairwise route latency and bandwidth.

    Attributes
    ----------
    count : int
    memory_bytes : ndarray of float
        Memory limit of each device (``inf``: unlimited).
    latency_s, bandwidth_Bps : ndarray, shape (count, count)
        Route latency and bottleneck bandwidth between devices (diagonal unused).
    cluster : Cluster
        The network the DES runs on (device ``i`` is GPU rank ``i``).
    """

    count: int
    memory_bytes: np.ndarray
    latency_s: np.ndarray
    bandwidth_Bps: np.ndarray
    cluster: Cluster

    def transfer_time(self, src: int, dst: int, nbytes: float) -> float:
        """Contention-free time to move ``nbytes`` from ``src`` to ``dst`` (0 on the same device).

        Examples
        --------
        >>> make_devices(2, "1 GiB").transfer_time(1, 1, 1e9)
        0.0
        """
        if src == dst:
            return 0.0
        return float(self.latency_s[src, dst] + nbytes / self.bandwidth_Bps[src, dst])

    def tensor_times(self, nbytes: np.ndarray, fixed_s: np.ndarray) -> np.ndarray:
        """Per tensor, per (src, dst) pair: transfer time, shape (tensors, count, count); ``fixed_s`` wins
        where it is not ``nan``. Diagonal entries are 0.

        Examples
        --------
        >>> float(make_devices(2, "1 GiB").tensor_times(np.array([0.0]), np.array([np.nan]))[0, 0, 1]) == 134e-6
        True
        """
        nbytes = np.asarray(nbytes, dtype=np.float64)
        if nbytes.size * self.count ** 2 > MAX_PLACEMENT_TABLE:   # the table is ops x devices x devices floats
            raise ConfigError(f"{nbytes.size:,} tensors on {self.count} devices make a transfer table of "
                              f"{nbytes.size * self.count ** 2:,} entries; at most {MAX_PLACEMENT_TABLE:,}",
                              key="devices", value=self.count,
                              allowed=f"at most {int((MAX_PLACEMENT_TABLE / max(nbytes.size, 1)) ** 0.5)} devices "
                                      "for this graph")
        times = self.latency_s[None, :, :] + nbytes[:, None, None] / self.bandwidth_Bps[None, :, :]
        fixed = np.asarray(fixed_s, dtype=np.float64)
        has = ~np.isnan(fixed)
        if has.any():
            times[has] = fixed[has][:, None, None]
        idx = np.arange(self.count)
        times[:, idx, idx] = 0.0
        return times

    @property
    def homogeneous(self) -> bool:
        """Whether every pair of distinct devices has the same latency and bandwidth."""
        off = ~np.eye(self.count, dtype=bool)
        if not off.any():
            return True
        return bool(np.ptp(self.latency_s[off]) == 0 and np.ptp(self.bandwidth_Bps[off]) == 0)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        off = ~np.eye(self.count, dtype=bool)
        return {
            "count": self.count,
            "memory_limit_bytes": [None if not np.isfinite(m) else float(m) for m in self.memory_bytes],
            "topology": self.cluster.name,
            "route_latency_s": float(self.latency_s[off].max()) if off.any() else 0.0,
            "route_bandwidth_Bps": float(self.bandwidth_Bps[off].min()) if off.any() else float("inf"),
        }


def _memory_list(memory: Any, count: int) -> np.ndarray:
    if memory is None:
        return np.full(count, np.inf)
    items = memory if isinstance(memory, (list, tuple, np.ndarray)) else [memory]
    values = []
    for item in items:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            value = float(item)
        else:
            try:
                value = units.parse_size(item)
            except units.UnitError as exc:
                raise ConfigError(str(exc), key="memory", value=item) from None
        if not value > 0:
            raise ConfigError("must be positive", key="memory", value=item)
        values.append(value)
    if len(values) == 1:
        values *= count
    if len(values) != count:
        raise ConfigError(f"give one size or one per device ({count})", key="memory", value=memory)
    return np.asarray(values, dtype=np.float64)


def make_devices(count: int, memory: Any = None, *, topology: str | Cluster | None = None,
                 bandwidth: Any = None, latency: Any = None) -> Devices:
    """Devices with memory limits on a topology (catalog name, YAML path or Cluster) or on one switch.

    Parameters
    ----------
    count : int
        Number of devices.
    memory : str, float or list, optional
        One limit for all (``"4 GiB"`` or bytes) or one per device; ``None``: unlimited.
    topology : str or Cluster, optional
        Devices are its first ``count`` GPUs. Default: a switch with Baechi's link cost.
    bandwidth, latency : str, optional
        For the default switch: the route bandwidth and the route latency (two links, half each).

    Examples
    --------
    >>> float(make_devices(4, "6.44 GiB").memory_bytes[0]) == 6.44 * 2**30
    True
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ConfigError("must be a positive integer", key="count", value=count)
    from simtrain.limits import MAX_DEVICES, check_count

    count = check_count(int(count), MAX_DEVICES, key="count")   # placers hold ops x devices tables
    limits = _memory_list(memory, count)
    for key, value in (("bandwidth", bandwidth), ("latency", latency)):
        if value is not None and topology is not None:   # a topology's links have their own: it would be ignored
            raise ConfigError("sets the default switch's route; a topology's links have their own", key=key,
                              value=value, allowed="give it without a topology")
    if isinstance(topology, Cluster):
        cluster = topology
    elif topology is not None:
        from simtrain.topology import load_topology

        cluster = load_topology(topology)
        if cluster.num_gpus < count:
            try:
                cluster = load_topology(topology, gpus=count)
            except ConfigError:
                raise ConfigError(f"has {cluster.num_gpus} GPUs, fewer than the {count} devices",
                                  key="topology", value=str(topology)) from None
    else:
        from simtrain.topology import switch
        from simtrain.topology.builders import MAX_LINK_BANDWIDTH_BPS, MAX_LINK_LATENCY_S

        try:
            bw = BAECHI_BANDWIDTH_BPS if bandwidth is None else units.parse_bandwidth(
                bandwidth, minimum=units.MIN_BANDWIDTH_BPS)
        except units.UnitError as exc:
            raise ConfigError(str(exc), key="bandwidth") from None
        # checked as given, against the links' bounds: the switch's own checks would name its internal keys
        # and the halved latency
        if bw > MAX_LINK_BANDWIDTH_BPS:
            raise ConfigError("is faster than any link", key="bandwidth", value=bandwidth,
                              allowed=f"at most {MAX_LINK_BANDWIDTH_BPS / 1e15:g} PB/s")
        try:
            lat = BAECHI_LATENCY_S if latency is None else units.parse_time(latency)
        except units.UnitError as exc:
            raise ConfigError(str(exc), key="latency") from None
        if not 0 <= lat <= MAX_LINK_LATENCY_S:   # the route's, as a link's at most (the switch halves it)
            raise ConfigError("must be a non-negative time, at most a link's longest latency", key="latency",
                              value=latency, allowed=f"0 to {MAX_LINK_LATENCY_S:g} s")
        cluster = switch(max(count, 2), bandwidth=f"{bw} B/s", latency=f"{lat / 2} s", name="switch")
    ranks = np.arange(count)
    src, dst = np.repeat(ranks, count), np.tile(ranks, count)
    routes = cluster.routes(src, dst)
    latency_s = routes.per_flow(np.add, cluster.link_latency_s)
    bandwidth_Bps = np.minimum(routes.per_flow(np.minimum, cluster.link_bandwidth_Bps, np.inf),
                               cluster.flow_rate_cap_Bps)
    return Devices(count, limits, latency_s.reshape(count, count), bandwidth_Bps.reshape(count, count), cluster)
