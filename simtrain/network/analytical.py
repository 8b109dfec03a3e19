"""The analytical engine: a Schedule's time in closed form over its step patterns, congestion-aware.

For each step pattern, flows that share a link share its bandwidth max-min fairly
(:func:`~simtrain.network.fairshare.max_min_rates`); a flow takes its path latency plus its bytes over its rate,
and the step takes the slowest flow plus the optional per-step charges:

* ``endpoint_delay_s``: a fixed delay per step (ASTRA-sim's ``endpoint-delay``);
* local reduction: ``reduction_memory_passes × reduce_bytes / local_reduction_bandwidth_Bps`` on steps that
  reduce (ASTRA-sim charges 3 passes: two reads and a write).

Both are off unless configured. A pattern costs ``repeat`` steps. Chunks pipeline through the patterns: with
``c`` chunks, the time is ``Σ_j s_j + (c-1) · max_g Σ_{j∈g} o_j``, where ``s_j`` is the time one chunk spends in
pattern ``j``, ``o_j`` the time pattern ``j`` keeps its links busy per chunk, and ``g`` ranges over groups of
patterns that share links (patterns on disjoint links overlap across chunks, patterns on shared links cannot).
With one chunk this is simply ``Σ_j s_j``.

Examples
--------
>>> from simtrain.topology import ring
>>> from simtrain.collectives import build_schedule
>>> cluster = ring(4, "1 GB/s", "1 us")
>>> result = evaluate(build_schedule("all-reduce", 4e6, cluster, "ring"), cluster)
>>> round(result.time_s, 9)   # 2(p-1)(alpha + n/(p B)) = 6 * (1e-6 + 1e-3)
0.006006
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from simtrain.collectives.schedule import Schedule, StepPattern
from simtrain.network.fairshare import max_min_rates
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["NETWORK_KEYS", "CollectiveResult", "NetworkOptions", "Traffic", "evaluate", "schedule_traffic"]


#: user key → (kind of value, NetworkOptions field, description)
NETWORK_KEYS: dict[str, tuple[str, str, str]] = {
    "endpoint_delay": ("time", "endpoint_delay_s", "fixed delay charged on every collective step"),
    "local_reduction_bandwidth": ("bandwidth", "local_reduction_bandwidth_Bps",
                                  "memory bandwidth of the local reduction (unset: not charged)"),
    "reduction_memory_passes": ("number", "reduction_memory_passes", "memory passes per reduced byte (default 3)"),
    "protocol": ("choice", "protocol", "none (bytes at line rate, default) or nccl (NCCL's LL/LL128/Simple "
                                       "protocols, the fastest per collective; analytical engine)"),
}


@dataclass(frozen=True)
class NetworkOptions:
    """Optional per-step charges (all off by default).

    Attributes
    ----------
    endpoint_delay_s : float
        Fixed delay added to every step.
    local_reduction_bandwidth_Bps : float or None
        Memory bandwidth of the local reduction; ``None`` charges nothing.
    reduction_memory_passes : float
        Memory passes per reduced byte (3: read two operands, write one).
    protocol : {'none', 'nccl'}
        ``nccl`` evaluates every collective under NCCL's three protocols (:mod:`simtrain.network.protocol`) and
        takes the fastest; ``none`` moves bytes at line rate.
    """

    endpoint_delay_s: float = 0.0
    local_reduction_bandwidth_Bps: float | None = None
    reduction_memory_passes: float = 3.0
    protocol: str = "none"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<cli>", path: str = "network") -> NetworkOptions:
        """From user keys (:data:`NETWORK_KEYS`: ``endpoint_delay``, ``local_reduction_bandwidth``,
        ``reduction_memory_passes``), values with units.

        Examples
        --------
        >>> NetworkOptions.from_mapping({"endpoint_delay": "2 us"}).endpoint_delay_s
        2e-06
        """
        from simtrain.config import Section

        section = Section(dict(data), source, path)
        kwargs: dict[str, Any] = {}
        for key, (kind, field_name, _) in NETWORK_KEYS.items():
            if key in section:
                if kind == "time":
                    kwargs[field_name] = section.time(key)
                elif kind == "bandwidth":
                    kwargs[field_name] = section.bandwidth(key)
                elif kind == "choice":
                    from simtrain.network.protocol import PROTOCOLS

                    kwargs[field_name] = section.choice(key, PROTOCOLS)
                else:
                    kwargs[field_name] = section.number(key, exclusive_minimum=True, minimum=0)
        section.finish(extra_allowed=NETWORK_KEYS)
        return cls(**kwargs)

    def step_overhead(self, reduce_bytes: float) -> float:
        """Charges added to one step that reduces ``reduce_bytes`` bytes per rank."""
        overhead = self.endpoint_delay_s
        if self.local_reduction_bandwidth_Bps and reduce_bytes:
            overhead += self.reduction_memory_passes * reduce_bytes / self.local_reduction_bandwidth_Bps
        return overhead


@dataclass
class CollectiveResult:
    """Outcome of evaluating one collective.

    Attributes
    ----------
    time_s : float
        Completion time of the collective, all configured charges included.
    bytes_sent : float
        Bytes sent by all ranks together.
    bytes_by_class : dict
        Bytes that cross each link class (a flow counts once per class it crosses), summed over ranks.
    phases : list of (str, float)
        Time one chunk spends in each pattern.
    link_bytes : ndarray
        Bytes carried by every link.
    """

    op: str
    algorithm: str
    engine: str
    num_ranks: int
    size_bytes: float
    chunks: int
    time_s: float
    bytes_sent: float
    bytes_by_class: dict[str, float]
    phases: list[tuple[str, float]] = field(default_factory=list)
    link_bytes: np.ndarray | None = field(default=None, repr=False)
    protocol: str = "none"

    @property
    def bytes_per_gpu(self) -> float:
        """Mean bytes sent per participating GPU."""
        return self.bytes_sent / self.num_ranks

    @property
    def algbw_Bps(self) -> float:
        """Algorithm bandwidth as in nccl-tests: size / time."""
        return self.size_bytes / self.time_s if self.time_s > 0 else float("inf")

    @property
    def busbw_Bps(self) -> float:
        """Bus bandwidth as in nccl-tests (algbw × the operation's factor)."""
        p = self.num_ranks
        factor = {"all-reduce": 2 * (p - 1) / p, "reduce-scatter": (p - 1) / p, "all-gather": (p - 1) / p,
                  "all-to-all": (p - 1) / p}.get(self.op, 1.0)
        return self.algbw_Bps * factor

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping with unit-carrying names."""
        return {
            "op": self.op,
            "algorithm": self.algorithm,
            "engine": self.engine,
            "num_ranks": self.num_ranks,
            "size_bytes": self.size_bytes,
            "chunks": self.chunks,
            "protocol": self.protocol,
            "time_s": self.time_s,
            "algbw_Bps": self.algbw_Bps,
            "busbw_Bps": self.busbw_Bps,
            "bytes_sent_total": self.bytes_sent,
            "bytes_sent_per_gpu": self.bytes_per_gpu,
            "bytes_per_gpu_by_link_class": {k: v / self.num_ranks for k, v in self.bytes_by_class.items()},
            "phases": [{"label": label, "time_s": t} for label, t in self.phases],
        }


@dataclass
class Traffic:
    """Bytes a schedule puts on the network: per link class (a flow counts once per class it crosses) and per
    link."""

    class_bytes: np.ndarray
    link_bytes: np.ndarray
    class_names: tuple[str, ...] = ()

    @property
    def bytes_by_class(self) -> dict[str, float]:
        """Class name → bytes."""
        return {name: float(self.class_bytes[i]) for i, name in enumerate(self.class_names)}


def _pattern_traffic(pattern: StepPattern, routes: Routes, cluster: Cluster, multiplicity: float) -> Traffic:
    num_classes = len(cluster.class_names)
    class_bytes = np.zeros(num_classes)
    if not routes.links.size:
        return Traffic(class_bytes, np.zeros(cluster.num_links), cluster.class_names)
    entry_flow = routes.flow_of_entry
    entry_class = cluster.link_class[routes.links]
    for klass in np.flatnonzero(np.bincount(entry_class, minlength=num_classes)):
        crosses = np.zeros(pattern.num_flows, dtype=bool)
        crosses[entry_flow[entry_class == klass]] = True
        class_bytes[klass] = multiplicity * float(pattern.nbytes[crosses].sum())
    link_bytes = multiplicity * np.bincount(routes.links, weights=pattern.nbytes[entry_flow],
                                            minlength=cluster.num_links)
    return Traffic(class_bytes, link_bytes, cluster.class_names)


def schedule_traffic(schedule: Schedule, cluster: Cluster,
                     routes_cache: dict[tuple[int, int], Routes] | None = None) -> Traffic:
    """Bytes per link class and per link of a whole schedule (all chunks).

    Examples
    --------
    >>> from simtrain.topology import torus
    >>> from simtrain.collectives import build_schedule
    >>> c = torus([4, 4], 1e9)
    >>> t = schedule_traffic(build_schedule("all-reduce", 16e6, c, "multidim-ring"), c)
    >>> {k: v / 16 for k, v in t.bytes_by_class.items()}     # per GPU: 2(4-1)/4 n and 2(4-1)/4 n/4
    {'dim0': 24000000.0, 'dim1': 6000000.0}
    """
    total = Traffic(np.zeros(len(cluster.class_names)), np.zeros(cluster.num_links), cluster.class_names)
    # keyed by the flow arrays' ids: the caller keeps the schedules alive while it passes the same cache
    routes_by_flows: dict[tuple[int, int], Routes] = {} if routes_cache is None else routes_cache
    for pattern in schedule.patterns:
        if pattern.num_flows == 0:
            continue
        key = (id(pattern.src), id(pattern.dst))
        if key not in routes_by_flows:
            routes_by_flows[key] = cluster.routes(pattern.src, pattern.dst)
        part = _pattern_traffic(pattern, routes_by_flows[key], cluster, pattern.repeat * schedule.chunks)
        total.class_bytes += part.class_bytes
        total.link_bytes += part.link_bytes
    return total


#: The link class a protocol treats as the network (NICs and the fabric): flows that cross it run at the protocol's
#: network efficiency and steps with such a flow pay its network per-step latency. Clusters without it (tori,
#: single switches) are all NVLink-class.
NETWORK_CLASS = "inter-node"


@dataclass
class _Flows:
    routes: Routes
    rates: np.ndarray
    latency: np.ndarray
    links: np.ndarray  # unique links used
    network: np.ndarray  # per flow: whether its route crosses a NETWORK_CLASS link


def _flows(pattern: StepPattern, cluster: Cluster, cache: dict[tuple[int, int], _Flows]) -> _Flows:
    key = (id(pattern.src), id(pattern.dst))
    hit = cache.get(key)
    if hit is not None:
        return hit
    routes = cluster.routes(pattern.src, pattern.dst)
    rates = max_min_rates(routes.offsets, routes.links, cluster.link_bandwidth_Bps, cluster.flow_rate_cap_Bps)
    latency = np.zeros(pattern.num_flows)
    lengths = routes.lengths
    if routes.links.size:
        sums = np.add.reduceat(cluster.link_latency_s[routes.links], routes.offsets[:-1][lengths > 0])
        latency[lengths > 0] = sums
    used = np.zeros(cluster.num_links, dtype=bool)
    used[routes.links] = True
    network = np.zeros(pattern.num_flows, dtype=bool)
    if NETWORK_CLASS in cluster.class_names and routes.links.size:
        crossing = cluster.link_class[routes.links] == cluster.class_names.index(NETWORK_CLASS)
        network[routes.flow_of_entry[crossing]] = True
    flows = _Flows(routes, rates, latency, np.flatnonzero(used), network)
    cache[key] = flows
    return flows


def _frontier(ready: np.ndarray, src: np.ndarray, dst: np.ndarray, times: np.ndarray,
              overhead: float) -> np.ndarray:
    """Ready times after one step: a flow starts when both its sender and its receiver are ready (rendezvous);
    a rank is done with the step when its sends and receives are through, plus the step's charges."""
    end = np.maximum(ready[src], ready[dst]) + times
    after = ready.copy()
    np.maximum.at(after, dst, end)
    np.maximum.at(after, src, end)
    return after + overhead


def _level_times(pattern: StepPattern, flows: _Flows, cluster: Cluster) -> np.ndarray:
    """Time of every flow of a pipelined tree when only its own level's flows are on the wire."""
    assert pattern.stage_of_flow is not None
    result = np.zeros(pattern.num_flows)
    for level in range(int(pattern.stage_of_flow.max()) + 1):
        members = np.flatnonzero(pattern.stage_of_flow == level)
        if members.size == 0:
            continue
        lengths = flows.routes.lengths[members]
        offsets = np.zeros(members.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flow = np.repeat(np.arange(members.size), lengths)
        within = np.arange(int(offsets[-1])) - offsets[:-1][flow]
        links = flows.routes.links[flows.routes.offsets[members][flow] + within]
        rates = max_min_rates(offsets, links, cluster.link_bandwidth_Bps, cluster.flow_rate_cap_Bps)
        with np.errstate(divide="ignore", invalid="ignore"):
            transfer = np.where(pattern.nbytes[members] > 0, pattern.nbytes[members] / rates, 0.0)
        result[members] = flows.latency[members] + transfer
    return result


def _flow_times(pattern: StepPattern, flows: _Flows) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer = np.where(pattern.nbytes > 0, pattern.nbytes / flows.rates, 0.0)
    return flows.latency + transfer


def _slowed(times: np.ndarray, flows: _Flows, efficiency: np.ndarray) -> np.ndarray:
    """Flow times with the transfer part slowed by each flow's protocol bandwidth efficiency."""
    return flows.latency + (times - flows.latency) / efficiency


def evaluate(schedule: Schedule, cluster: Cluster, options: NetworkOptions | None = None,
             cache: dict[tuple[int, int], Any] | None = None) -> CollectiveResult:
    """Time and traffic of a Schedule on a Cluster.

    Parameters
    ----------
    schedule : Schedule
        Built by :func:`simtrain.collectives.build_schedule`.
    cluster : Cluster
        The network it runs on.
    options : NetworkOptions, optional
        Per-step charges (off by default).
    cache : dict, optional
        Routes and rates by flow arrays, shared between evaluations of schedules that share them
        (see :meth:`Schedule.resized`); the caller keeps the schedules alive while it uses the cache.

    Returns
    -------
    CollectiveResult

    Examples
    --------
    >>> from simtrain.topology import switch
    >>> from simtrain.collectives import build_schedule
    >>> c = switch(8, "10 GB/s", "1 us")
    >>> r = evaluate(build_schedule("all-gather", 8e6, c, "ring"), c)
    >>> round(r.time_s * 1e3, 6)    # 7 steps of (2 hops x 1 us + 1 MB / 10 GB/s)
    0.714
    """
    options = options or NetworkOptions()
    cache = {} if cache is None else cache
    if options.protocol != "none":
        from simtrain.network.protocol import PROTOCOLS

        plain = replace(options, protocol="none")
        results = [replace(_evaluate(schedule, cluster, plain, cache, p), protocol=p.name)
                   for p in PROTOCOLS[options.protocol]]
        best = min(results, key=lambda r: r.time_s)
        return best
    return _evaluate(schedule, cluster, options, cache, None)


def _evaluate(schedule: Schedule, cluster: Cluster, options: NetworkOptions, cache: dict[tuple[int, int], Any],
              protocol: Any) -> CollectiveResult:
    num_classes = len(cluster.class_names)
    class_bytes = np.zeros(num_classes)
    link_bytes = np.zeros(cluster.num_links)
    stage_times: list[float] = []
    occupancy: list[float] = []
    owner = np.full(cluster.num_links, -1, dtype=np.int64)
    parent = list(range(len(schedule.patterns)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # per-rank ready times: a flow starts when sender and receiver have finished the step before (as in the DES)
    local = np.full(cluster.num_gpus, -1, dtype=np.int64)
    local[schedule.ranks] = np.arange(schedule.num_ranks)
    ready = np.zeros(schedule.num_ranks)
    phases = []
    for index, pattern in enumerate(schedule.patterns):
        if pattern.num_flows == 0:
            stage_times.append(0.0)
            occupancy.append(0.0)
            phases.append((pattern.label, 0.0))
            continue
        flows = _flows(pattern, cluster, cache)
        overhead = options.step_overhead(pattern.reduce_bytes)
        times = _flow_times(pattern, flows)
        if protocol is not None:
            # a flow through the network runs at the network efficiency; a step with one pays network latency
            efficiency = np.where(flows.network, protocol.network_efficiency, protocol.efficiency)
            times = _slowed(times, flows, efficiency)
            crosses = bool(flows.network.any())
            floor = protocol.inter_step_latency_s if crosses else protocol.intra_step_latency_s
            overhead += max(floor - float(flows.latency.max()), 0.0)
        src, dst = local[pattern.src], local[pattern.dst]
        before = float(ready.max())
        if pattern.stage_of_flow is not None:
            # chains and trees run stage by stage; a tree's first chunk meets each level alone, later chunks
            # find every edge busy (the steady state, ``times``)
            first = times if pattern.chain_id is not None else _level_times(pattern, flows, cluster)
            if protocol is not None and pattern.chain_id is None:
                first = _slowed(first, flows, efficiency)
            for _ in range(pattern.repeat):
                for level in range(int(pattern.stage_of_flow.max()) + 1):
                    members = np.flatnonzero(pattern.stage_of_flow == level)
                    ready = _frontier(ready, src[members], dst[members], first[members], overhead)
            stage = float(ready.max()) - before
            occupied = pattern.repeat * (float(times.max()) + overhead)
        elif pattern.repeat == 1:
            ready = _frontier(ready, src, dst, times, overhead)
            stage = occupied = float(times.max()) + overhead
        else:
            # identical steps repeated: every rank waits for the slowest flow each step
            step = float(times.max()) + overhead
            stage = occupied = pattern.repeat * step
            ready[:] = before + stage
        stage_times.append(stage)
        occupancy.append(occupied)
        phases.append((pattern.label, stage))
        # groups of patterns that share links cannot overlap across chunks
        owners = np.unique(owner[flows.links])
        for other in owners[owners >= 0]:
            parent[find(int(other))] = find(index)
        owner[flows.links] = find(index)
        traffic = _pattern_traffic(pattern, flows.routes, cluster, pattern.repeat * schedule.chunks)
        class_bytes += traffic.class_bytes
        link_bytes += traffic.link_bytes
    total = float(ready.max()) if schedule.num_ranks else 0.0
    if protocol is not None and schedule.num_ranks > 1:
        total += protocol.base_latency_s
    if schedule.chunks > 1 and occupancy:
        group_busy: dict[int, float] = {}
        for index, busy in enumerate(occupancy):
            root = find(index)
            group_busy[root] = group_busy.get(root, 0.0) + busy
        total += (schedule.chunks - 1) * max(group_busy.values())
    return CollectiveResult(
        op=schedule.op,
        algorithm=schedule.algorithm,
        engine="analytical",
        num_ranks=schedule.num_ranks,
        size_bytes=schedule.size_bytes,
        chunks=schedule.chunks,
        time_s=total,
        bytes_sent=schedule.bytes_sent,
        bytes_by_class={name: float(class_bytes[i]) for i, name in enumerate(cluster.class_names)},
        phases=phases,
        link_bytes=link_bytes,
    )
