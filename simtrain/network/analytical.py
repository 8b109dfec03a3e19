"""The analytical engine: a Schedule's time in closed form over its step patterns, congestion-aware.

For each step pattern, flows that share a link share its bandwidth max-min fairly
(:func:`~simtrain.network.fairshare.max_min_rates`); a flow takes its path latency plus its bytes over its rate,
and the step takes the slowest flow plus the optional per-step charges:

* ``endpoint_delay_s``: a fixed delay per step (ASTRA-sim's ``endpoint-delay``);
* local reduction: ``reduction_memory_passes × reduce_bytes / local_reduction_bandwidth_Bps`` on steps that
  reduce (ASTRA-sim charges 3 passes: two reads and a write).

Both are off unless configured. A protocol's costs ride in the Schedule (:mod:`simtrain.network.protocol`: a flow's
transfer is slowed by its efficiency, a step pays its latency, the collective its base latency); with
``network.protocol: nccl`` a Schedule without them runs as the fastest of its protocol candidates
(:func:`fastest_protocol`). A pattern costs ``repeat`` steps. With one chunk the time is ``Σ_j s_j``, ``s_j``
the time one chunk spends in pattern ``j``. With ``c`` chunks, patterns on shared links form link groups that
serve one chunk at a time, oldest chunk first (:mod:`simtrain.network.pipeline`), and the time is the makespan
of that list schedule; the DES follows the same order, so the two agree exactly without contention. Schedules
with chains or pipelined trees (which pipeline chunks through their own levels) use the bound
``Σ_j s_j + (c-1) · max_g Σ_{j∈g} o_j`` instead, ``o_j`` the time pattern ``j`` keeps its links busy per chunk
(the DES is the reference there).

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

from dataclasses import dataclass, replace

import numpy as np

from simtrain.collectives.schedule import Schedule, StepPattern
from simtrain.network.cache import NetworkCache
from simtrain.network.fairshare import max_min_rates
from simtrain.network.link_load import schedule_traffic
from simtrain.network.pipeline import chunk_schedule
from simtrain.network.types import CollectiveResult, NetworkOptions
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["evaluate", "fastest_protocol", "pipeline_terms"]


@dataclass
class _Flows:
    routes: Routes
    rates: np.ndarray | None   # None where the caller does not need them (a streaming tree's own pattern)
    latency: np.ndarray


def _flows(pattern: StepPattern, cluster: Cluster, cache: NetworkCache, rates: bool = True) -> _Flows:
    """A pattern's routes, path latencies and (with ``rates``) its flows' max-min rates when they share the links."""
    routes, latency = cache.get("analytical-paths", pattern.flows_key, lambda: _paths(pattern, cluster, cache))
    if pattern.latency_offset_s is not None:  # a protocol's latency beyond the path's (the same routes)
        latency = latency + pattern.latency_offset_s
    shared = (cache.get("analytical-rates", pattern.flows_key,
                        lambda: max_min_rates(routes.offsets, routes.links, cluster.link_bandwidth_Bps,
                                              cluster.flow_rate_cap_Bps))
              if rates else None)
    return _Flows(routes, shared, latency)


def _paths(pattern: StepPattern, cluster: Cluster, cache: NetworkCache) -> tuple[Routes, np.ndarray]:
    """Routes and path latencies of a pattern's flows."""
    routes = cache.routes(pattern)
    return routes, routes.per_flow(np.add, cluster.link_latency_s)


def _frontier(ready: np.ndarray, src: np.ndarray, dst: np.ndarray, times: np.ndarray,
              overhead: float) -> np.ndarray:
    """Ready times after one step: a flow starts when both its sender and its receiver are ready (rendezvous);
    a rank is done with the step when its sends and receives are through, plus the step's charges."""
    end = np.maximum(ready[src], ready[dst]) + times
    after = ready.copy()
    np.maximum.at(after, dst, end)
    np.maximum.at(after, src, end)
    after += overhead   # in place: a fresh array
    return after


def _level_times(pattern: StepPattern, flows: _Flows, cluster: Cluster, cache: NetworkCache) -> np.ndarray:
    """Time of every flow of a pipelined tree when only its own level's flows are on the wire."""
    assert pattern.stage_of_flow is not None
    # keyed by the flows and their levels (the same flows in other levels share links otherwise)
    key = (pattern.flows_key, pattern.stage_of_flow.tobytes())
    rates = cache.get("level-rates", key, lambda: _level_rates(pattern, flows, cluster))
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer = np.where(pattern.nbytes > 0, pattern.nbytes / rates, 0.0)
    return flows.latency + transfer


def _level_rates(pattern: StepPattern, flows: _Flows, cluster: Cluster) -> np.ndarray:
    """Max-min rate of every flow of a pipelined tree among its own level's flows (rates do not depend on bytes)."""
    assert pattern.stage_of_flow is not None
    result = np.zeros(pattern.num_flows)
    for members in pattern.levels:
        if members.size == 0:
            continue
        lengths = flows.routes.lengths[members]
        offsets = np.zeros(members.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flow = np.repeat(np.arange(members.size), lengths)
        within = np.arange(int(offsets[-1])) - offsets[:-1][flow]
        links = flows.routes.links[flows.routes.offsets[members][flow] + within]
        result[members] = max_min_rates(offsets, links, cluster.link_bandwidth_Bps, cluster.flow_rate_cap_Bps)
    return result


def _flow_times(pattern: StepPattern, flows: _Flows) -> np.ndarray:
    assert flows.rates is not None
    with np.errstate(divide="ignore", invalid="ignore"):
        transfer = np.where(pattern.nbytes > 0, pattern.nbytes / flows.rates, 0.0)
    return flows.latency + transfer


def _slowed(times: np.ndarray, flows: _Flows, efficiency: np.ndarray) -> np.ndarray:
    """Flow times with the transfer part slowed by each flow's protocol bandwidth efficiency."""
    return flows.latency + (times - flows.latency) / efficiency


def evaluate(schedule: Schedule, cluster: Cluster, options: NetworkOptions | None = None,
             cache: NetworkCache | None = None) -> CollectiveResult:
    """Time and traffic of a Schedule on a Cluster.

    Parameters
    ----------
    schedule : Schedule
        Built by :func:`simtrain.collectives.build_schedule`.
    cluster : Cluster
        The network it runs on.
    options : NetworkOptions, optional
        Per-step charges (off by default). With ``protocol: nccl`` a Schedule that carries no protocol runs as the
        fastest of its protocol candidates (:func:`fastest_protocol`).
    cache : NetworkCache, optional
        Routes and rates of ``cluster`` by flow content, shared between evaluations (a fresh one when omitted);
        it never changes the answer.

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
    cache = NetworkCache.for_cluster(cluster, cache)
    return _fastest(_candidates(schedule, cluster, options, cache), cluster, options, cache)[1]


def fastest_protocol(schedule: Schedule, cluster: Cluster, options: NetworkOptions | None = None,
                     cache: NetworkCache | None = None) -> Schedule:
    """The Schedule an engine runs for ``schedule`` under ``options.protocol``: the protocol candidate
    (:func:`simtrain.network.protocol.protocol_candidates`) this engine finds fastest, ties to the first; the
    Schedule itself where there is no choice (``protocol: none``, or it already carries a protocol).

    The DES runs this choice (made here in closed form, as NCCL's own is, without knowing what else is on the
    wire), so both engines run the same Schedule and agree where nothing contends.

    Examples
    --------
    >>> from simtrain.topology import switch
    >>> from simtrain.collectives import build_schedule
    >>> c = switch(8, "300 GB/s", "1 us")
    >>> nccl = NetworkOptions(protocol="nccl")
    >>> [fastest_protocol(build_schedule("all-reduce", n, c, "ring"), c, nccl).protocol for n in (2**10, 2**30)]
    ['LL', 'Simple']
    """
    options = options or NetworkOptions()
    cache = NetworkCache.for_cluster(cluster, cache)
    candidates = _candidates(schedule, cluster, options, cache)
    # no choice, nothing to time: the DES asks this of every collective it runs
    return candidates[0] if len(candidates) == 1 else _fastest(candidates, cluster, options, cache)[0]


def _candidates(schedule: Schedule, cluster: Cluster, options: NetworkOptions,
                cache: NetworkCache) -> tuple[Schedule, ...]:
    from simtrain.network.protocol import protocol_candidates

    return protocol_candidates(schedule, cluster, options.protocol, cache)


def _fastest(candidates: tuple[Schedule, ...], cluster: Cluster, options: NetworkOptions,
             cache: NetworkCache) -> tuple[Schedule, CollectiveResult]:
    """The fastest candidate and its result (ties to the first); only the winner's traffic is counted."""
    if len(candidates) == 1:
        return candidates[0], _evaluate(candidates[0], cluster, options, cache)
    timed = [(candidate, _evaluate(candidate, cluster, options, cache, traffic=False)) for candidate in candidates]
    best, result = min(timed, key=lambda pair: pair[1].time_s)
    traffic = schedule_traffic(best, cluster, cache)
    return best, replace(result, bytes_by_class=traffic.bytes_by_class, link_bytes=traffic.link_bytes)


def _group_busy(occupancy: list[float], groups: list[int]) -> list[float]:
    """Time each link group is busy per chunk: the sum of its patterns' occupancies."""
    busy = [0.0] * (max(groups) + 1 if groups else 0)
    for index, value in enumerate(occupancy):
        busy[groups[index]] += value
    return busy


def _streams(schedule: Schedule) -> bool:
    """Whether the schedule's chunks stream through it: it has a pipelined tree (no chain), whose later chunks
    enter every step, of every pattern, as soon as the chunk before has left it (in the DES)."""
    patterns = schedule.patterns
    return any(p.stage_of_flow is not None for p in patterns) and all(p.chain_id is None for p in patterns)


def _steady_flows(schedule: Schedule, cluster: Cluster, options: NetworkOptions, cache: NetworkCache,
                  known: dict[int, _Flows] | None = None) -> np.ndarray:
    """Per flow of a streaming schedule (:func:`_streams`), its time per chunk once the pipeline is full: every
    step of every pattern holds a chunk (a pattern repeated ``r`` times puts ``r`` flows on each of its paths), the
    flows share the links max-min, and a flow takes its latency, its bytes at that rate (slowed by its protocol's
    efficiency) and its step's charges. The busiest sets the pace of the chunks after the first, as in the DES,
    where a chunk waits only for the one before it at each step. ``known``: the patterns' routes and latencies
    by their place in the schedule, where the caller has them."""
    used = [p for p in schedule.patterns if p.num_flows]
    if not used:   # nothing moves: each later chunk costs nothing
        return np.zeros(1)
    rates = cache.get("steady-rates", tuple((p.flows_key, p.repeat) for p in used),
                      lambda: _steady_rates(used, cluster, cache))
    times = []
    start = 0
    for index, pattern in enumerate(schedule.patterns):
        if not pattern.num_flows:
            continue
        alone = known.get(index) if known is not None else None
        if alone is None:
            alone = _flows(pattern, cluster, cache, rates=False)
        steady = _Flows(alone.routes, rates[start:start + pattern.num_flows], alone.latency)
        start += pattern.num_flows
        flow_times = _flow_times(pattern, steady)
        if pattern.efficiency is not None:
            flow_times = _slowed(flow_times, steady, pattern.efficiency)
        times.append(flow_times + options.step_overhead(pattern.reduce_bytes) + pattern.step_latency_s)
    return np.concatenate(times)


def _steady_rates(patterns: list[StepPattern], cluster: Cluster, cache: NetworkCache) -> np.ndarray:
    """Max-min rates of all the patterns' flows at once, a pattern's repeats as as many flows on its paths."""
    routes = [cache.routes(p) for p in patterns]
    offsets = np.zeros(sum(p.num_flows for p in patterns) + 1, dtype=np.int64)
    np.cumsum(np.concatenate([r.lengths for r in routes]), out=offsets[1:])
    weights = np.concatenate([np.full(r.links.size, float(p.repeat)) for p, r in zip(patterns, routes)])
    return max_min_rates(offsets, np.concatenate([r.links for r in routes]), cluster.link_bandwidth_Bps,
                         cluster.flow_rate_cap_Bps, weights=weights)


def pipeline_terms(schedule: Schedule, cluster: Cluster, options: NetworkOptions | None = None,
                   cache: NetworkCache | None = None) -> tuple[float, np.ndarray]:
    """What a pipelined tree's time is made of: one chunk's way through all patterns, and the time per chunk of
    what sets the later chunks' pace (each flow of a full pipeline where a tree streams, else each link group),
    both for the Schedule's chunk as it is (the time of ``c`` chunks is the first plus ``c - 1`` times the largest,
    plus the base latency).

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> from simtrain.collectives import build_schedule
    >>> c = load_topology("dgx-h100", gpus=16)
    >>> first, busy = pipeline_terms(build_schedule("all-reduce", 2**20, c, "nccl-tree"), c)
    >>> bool(first > busy.max() > 0)
    True
    """
    parts: list = []
    _evaluate(schedule, cluster, options or NetworkOptions(), NetworkCache.for_cluster(cluster, cache), parts,
              traffic=False)
    return float(parts[0]), np.asarray(parts[1], dtype=np.float64)


def _evaluate(schedule: Schedule, cluster: Cluster, options: NetworkOptions, cache: NetworkCache,
              parts: list | None = None, traffic: bool = True) -> CollectiveResult:
    """The schedule's result; with ``parts``, also its pipeline terms (:func:`pipeline_terms`); without
    ``traffic``, its bytes per link are left at zero (a candidate that may lose)."""
    stage_times: list[float] = []
    occupancy: list[float] = []

    # per-rank ready times: a flow starts when sender and receiver have finished the step before (as in the DES)
    endpoints = schedule.endpoints  # the ranks, then any CPU server hosts the flows name
    local = np.full(max(cluster.num_gpus, int(endpoints.max()) + 1 if endpoints.size else 0), -1, dtype=np.int64)
    local[endpoints] = np.arange(len(endpoints))
    ready = np.zeros(len(endpoints))
    phases = []
    pipelined = schedule.chunks > 1 or parts is not None   # later chunks' pace wanted
    streaming = _streams(schedule)
    known: dict[int, _Flows] = {}   # each pattern's routes and latencies, for the steady state after
    for index, pattern in enumerate(schedule.patterns):
        if pattern.num_flows == 0:
            stage_times.append(0.0)
            occupancy.append(0.0)
            phases.append((pattern.label, 0.0))
            continue
        tree = pattern.stage_of_flow is not None and pattern.chain_id is None
        # a tree's flows all on the wire at once time its chunks only where they do not stream (the link groups)
        whole = not tree or (pipelined and not streaming)
        flows = known[index] = _flows(pattern, cluster, cache, rates=whole)
        overhead = options.step_overhead(pattern.reduce_bytes) + pattern.step_latency_s  # the schedule's protocol
        if whole:
            times = _flow_times(pattern, flows)
            if pattern.efficiency is not None:
                times = _slowed(times, flows, pattern.efficiency)
        src, dst = local[pattern.src], local[pattern.dst]
        before = float(ready.max())
        if pattern.stage_of_flow is not None:
            # chains and trees run stage by stage; a tree's first chunk meets each level alone, later chunks
            # find every edge busy (``times``, or the steady state where the tree streams)
            first = times if not tree else _level_times(pattern, flows, cluster, cache)
            if pattern.efficiency is not None and tree:
                first = _slowed(first, flows, pattern.efficiency)
            steps = [(src[members], dst[members], first[members]) for members in pattern.levels]
            for _ in range(pattern.repeat):
                for level_src, level_dst, level_first in steps:
                    ready = _frontier(ready, level_src, level_dst, level_first, overhead)
            stage = float(ready.max()) - before
            occupied = pattern.repeat * (float(times.max()) + overhead) if whole else 0.0
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
    total = one_chunk = float(ready.max()) if schedule.num_ranks else 0.0
    groups: list[int] = []
    busy: list[float] | np.ndarray = []
    if pipelined and occupancy:
        if streaming:   # a tree's chunks stream through every step at once
            busy = _steady_flows(schedule, cluster, options, cache, known)
        else:   # groups of patterns that share links cannot overlap across chunks
            groups = cache.link_groups(schedule.patterns)
            busy = _group_busy(occupancy, groups)
    if schedule.chunks > 1 and occupancy:
        if all(pattern.stage_of_flow is None for pattern in schedule.patterns):
            used = [j for j, pattern in enumerate(schedule.patterns) if pattern.num_flows]
            total = chunk_schedule([stage_times[j] for j in used], [groups[j] for j in used],
                                   schedule.chunks).makespan
        else:
            total += (schedule.chunks - 1) * float(np.max(busy))
    total += schedule.base_latency_s   # the schedule's protocol, once per collective
    counted = schedule_traffic(schedule, cluster, cache) if traffic else None
    if parts is not None:
        parts.extend([one_chunk, busy])
    return CollectiveResult(
        op=schedule.op,
        algorithm=schedule.algorithm,
        engine="analytical",
        num_ranks=schedule.num_ranks,
        size_bytes=schedule.size_bytes,
        chunks=schedule.chunks,
        time_s=total,
        bytes_sent=schedule.bytes_sent,
        bytes_by_class=(counted.bytes_by_class if counted is not None
                        else dict.fromkeys(cluster.class_names, 0.0)),
        phases=phases,
        link_bytes=counted.link_bytes if counted is not None else np.zeros(cluster.num_links),
        protocol=schedule.protocol,
    )
