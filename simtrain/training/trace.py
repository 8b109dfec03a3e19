"""Export a simulated step as Chrome / Perfetto trace-event JSON (open it at ui.perfetto.dev or chrome://tracing).

One process per traced GPU (``ranks``: by default the first four and every straggler), with a ``compute`` thread
(forward, each layer's backward, the update) and a ``communication`` thread (each bucket's collective, from when
the GPU started it to when it finished). With plain data parallelism on the analytical engine, one thread per chunk
(``all-reduce phases, chunk c``) shows each bucket's all-reduce phases as the engine planned them (see
:func:`_bucket_phases` for when they are drawn). With the DES and ``record_phases``, the same threads show each
traced GPU's phases of each bucket's collective as the DES ran them (recorded by :func:`recording_run`, the hook
``simtrain collective --trace`` uses; any scheme's overlapped buckets). With the DES and ``record_loads``, counter
tracks show the load over time of the most utilised links (bytes over what the link could carry in the step; the
busiest by bytes is often an NVLink at a few percent while a NIC is the bottleneck) and of any links named.

Every timestamp is a whole number of nanoseconds (``ts`` and ``dur`` in microseconds with three decimals, each
slice's end computed from the rounded end, not from the rounded start plus a rounded length), so slices that touch
share the same instant and viewers (Perfetto, speedscope) never draw a slice as nested in its neighbour.
:func:`collective_trace` draws one collective: its phases and, with the DES, its link loads.

Examples
--------
>>> from simtrain.training import simulate
>>> report = simulate("resnet18-cifar", "cloud-25g", gpus=16, batch=64, engine="des", record_loads=True)
>>> events = step_trace(report, ranks=[0, 1])["traceEvents"]
>>> sorted({e["ph"] for e in events})
['C', 'M', 'X']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from simtrain.training.report import StepReport

__all__ = ["collective_trace", "default_ranks", "recorded_spans", "recording_run", "span", "step_trace",
           "trace_collective", "write_trace"]

_US = 1e6


def span(start_s: float, end_s: float) -> dict[str, float]:
    """``ts`` and ``dur`` (microseconds) of a slice, both from its ends rounded to whole nanoseconds.

    Examples
    --------
    >>> span(1e-3, 1e-3 + 1e-12), span(0.1, 0.3)
    ({'ts': 1000.0, 'dur': 0.0}, {'ts': 100000.0, 'dur': 200000.0})
    """
    start_ns, end_ns = round(start_s * 1e9), round(end_s * 1e9)
    return {"ts": start_ns / 1000, "dur": max(end_ns - start_ns, 0) / 1000}


def default_ranks(factors: Any, num_gpus: int) -> list[int]:
    """The GPUs a trace shows by default: the first four and every straggler, a GPU slower than most (the most
    common factor: 1, or the spread's expected slowest that ``gpu_spread`` stretches every GPU to). Where every GPU
    drew its own factor (``compute_jitter``), the stragglers that stand out of the drawn spread (beyond the median by
    four robust standard deviations, 1.4826 median absolute deviations) and the slowest GPU, which ends the step.

    Examples
    --------
    >>> default_ranks(np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.5]), 6)
    [0, 1, 2, 3, 5]
    >>> default_ranks(np.full(256, 1.058), 256)                     # the priced spread: nobody straggles
    [0, 1, 2, 3]
    >>> default_ranks(np.array([1.01, 0.99, 1.0, 1.02, 0.98, 1.03]), 6)   # drawn factors: the slowest
    [0, 1, 2, 3, 5]
    >>> drawn = np.array([1.01, 0.99, 1.0, 1.02, 0.98, 1.5, 1.03, 0.97, 1.005, 1.3, 0.995, 1.015])
    >>> default_ranks(drawn, 12)                                    # two stragglers given beside the draws
    [0, 1, 2, 3, 5, 9]
    """
    factors = np.asarray(factors, dtype=float)
    stragglers: list[int] = []
    if factors.size > 1:
        values, counts = np.unique(factors, return_counts=True)
        if counts.max() > 1:
            stragglers = np.flatnonzero(factors > values[counts.argmax()]).tolist()
        else:
            median = float(np.median(factors))
            spread = 1.4826 * float(np.median(np.abs(factors - median)))
            stragglers = [int(factors.argmax()), *np.flatnonzero(factors > median + 4 * spread).tolist()]
    return sorted(set(range(min(4, num_gpus))) | set(stragglers))


#: Links a trace draws as counter tracks by default: the most utilised.
BUSIEST_LINKS = 16


def _utilised(link_bytes: np.ndarray, capacity: np.ndarray | None, count: int) -> np.ndarray:
    """The ``count`` links with the highest utilisation (bytes over capacity), highest first; ties by bytes."""
    link_bytes = np.asarray(link_bytes, dtype=float)
    if capacity is None:
        order = np.lexsort((-link_bytes,))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            use = np.where(np.asarray(capacity) > 0, link_bytes / np.asarray(capacity, dtype=float), 0.0)
        order = np.lexsort((-link_bytes, -use))
    top = order[:count]
    return top[link_bytes[top] > 0]


def link_ids(cluster: Any, links: Sequence[str]) -> np.ndarray:
    """The ids of links named ``src->dst`` (as the trace's link tracks are named); a :class:`ConfigError` names
    the first that the cluster does not have.

    Examples
    --------
    >>> from simtrain.topology import torus
    >>> link_ids(torus([4], "10 GB/s"), ["gpu0->gpu1"]).tolist()
    [0]
    """
    names = cluster.node_names
    by_name = {f"{names[int(s)]}->{names[int(d)]}": k for k, (s, d) in enumerate(zip(cluster.link_src,
                                                                                       cluster.link_dst))}
    missing = [name for name in links if name not in by_name]
    if missing:
        from simtrain.errors import ConfigError

        raise ConfigError("no such link in this cluster", key="links", value=missing[0],
                          allowed="src->dst, as the trace's link tracks are named")
    return np.array([by_name[name] for name in links], dtype=np.int64)


def _link_tracks(load_history: Any, top: np.ndarray, name_of: Any, pid: int) -> list[dict[str, Any]]:
    """Counter events of the links ``top`` over a load history (only the changes: a counter holds its value)."""
    events: list[dict[str, Any]] = []
    last: dict[int, float] = {}
    for when, ids, loads in load_history:
        row = dict.fromkeys((int(x) for x in top), 0.0)
        for link, load in zip(ids.tolist(), loads.tolist()):
            if link in row:
                row[link] = load / 1e9
        for link, value in row.items():
            if last.get(link) == value:
                continue
            last[link] = value
            events.append({"ph": "C", "pid": pid, "name": name_of(link), "ts": span(when, when)["ts"],
                           "args": {"GB/s": value}})
    return events


def step_trace(report: StepReport, ranks: Sequence[int] | None = None, busiest_links: int = BUSIEST_LINKS,
               links: Sequence[str] = ()) -> dict[str, Any]:
    """Trace events of one step.

    Parameters
    ----------
    report : StepReport
        From :func:`simtrain.training.simulate`.
    ranks : sequence of int, optional
        GPUs to trace (default: the first four, plus every straggler).
    busiest_links : int
        Links to draw as counter tracks: the most utilised.
    links : sequence of str
        Links to draw as well, by name (``src->dst``, as the tracks are named).
    """
    timeline = report.timeline
    if timeline is None:
        raise ValueError("this report has no timeline")
    factors = np.asarray(timeline.factors, dtype=float)
    if ranks is None:
        ranks = default_ranks(factors, report.num_gpus)
    bad = [r for r in ranks
           if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < report.num_gpus]
    if bad:
        from simtrain.errors import ConfigError

        raise ConfigError(f"must be GPU ranks in 0..{report.num_gpus - 1}", key="trace_ranks", value=bad[0])
    if links and timeline.cluster is not None:   # every engine: a name the cluster lacks is a typo, not a no-op
        link_ids(timeline.cluster, links)
    if links and report.engine != "des":   # only the DES records link loads over time
        from simtrain.errors import ConfigError

        raise ConfigError("link loads over time are recorded by the DES", key="links", value=", ".join(links),
                          allowed="use them with engine des")
    comm = timeline.comm
    bucket_phases = _bucket_phases(report)
    recorded: dict[tuple[int, int], list[tuple[int, str, float, float]]] = {}   # (bucket, rank) -> DES phases
    for i, spans in enumerate(getattr(comm, "phases", None) or []):
        for rank, chunk, label, begin, finish in spans:
            recorded.setdefault((i, rank), []).append((chunk, label, begin, finish))
    named_threads: set[tuple[int, int]] = set()
    events: list[dict[str, Any]] = []
    for rank in ranks:
        factor = float(factors[rank] if factors.size > 1 else factors[0])
        pid = int(rank)
        events.append({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": f"GPU {rank}"}})
        events.append({"ph": "M", "pid": pid, "tid": 0, "name": "thread_name", "args": {"name": "compute"}})
        events.append({"ph": "M", "pid": pid, "tid": 1, "name": "thread_name", "args": {"name": "communication"}})
        # DDP's broadcast of the module buffers: the forward waits for it
        sync = timeline.buffer_sync_s * factor
        if sync > 0:
            events.append({"ph": "X", "pid": pid, "tid": 0, "name": "broadcast the module buffers", "cat": "buffers",
                           **span(0.0, sync)})
        forward = sync + sum(timeline.forward_s) * factor
        events.append({"ph": "X", "pid": pid, "tid": 0, "name": "forward", **span(sync, forward)})
        clock = forward
        copy_in = timeline.copy_in_s or [0.0] * len(timeline.layer_names)
        for name, seconds, copy in reversed(list(zip(timeline.layer_names, timeline.backward_s, copy_in))):
            events.append({"ph": "X", "pid": pid, "tid": 0, "name": f"backward {name}", "cat": "backward",
                           **span(clock, clock + seconds * factor)})
            clock += seconds * factor
            if copy > 0:   # DDP's autograd hook copies the layer's gradients into their bucket
                events.append({"ph": "X", "pid": pid, "tid": 0, "name": f"copy {name} into its bucket",
                               "cat": "copy", **span(clock, clock + copy * factor)})
                clock += copy * factor
        bucket_ends = []   # this rank's end of each bucket's collective, for the copies back
        for i, bucket in enumerate(comm.buckets):
            if comm.bucket_start is not None:
                start, end = float(comm.bucket_start[i, rank]), float(comm.bucket_end[i, rank])
            else:
                start, end = bucket.start_s, bucket.end_s
            bucket_ends.append(end)
            events.append({"ph": "X", "pid": pid, "tid": 1, "name": f"all-reduce bucket {i}", "cat": "comm",
                           **span(start, end), "args": {"bytes": bucket.size_bytes, "layers": len(bucket.layers)}})
            # the DES's recorded phases are in step time; the analytical plan's from the bucket's start
            phases = recorded.get((i, int(rank))) or [(chunk, label, start + begin, start + finish)
                                                      for chunk, label, begin, finish in bucket_phases.get(i, [])]
            for chunk, label, begin, finish in phases:
                tid = 2 + chunk
                if (pid, tid) not in named_threads:
                    named_threads.add((pid, tid))
                    events.append({"ph": "M", "pid": pid, "tid": tid, "name": "thread_name",
                                   "args": {"name": f"all-reduce phases, chunk {chunk}"}})
                events.append({"ph": "X", "pid": pid, "tid": tid, "name": label, "cat": "phase",
                               **span(begin, finish), "args": {"bucket": i, "chunk": chunk}})
        # DDP's finalize_backward: each bucket's reduced gradients back into .grad, after its collective
        for i, (bucket, end) in enumerate(zip(comm.buckets, bucket_ends)):
            copy = timeline.copy_out_s.get(bucket.index, 0.0)
            if copy > 0:
                clock = max(clock, end)
                events.append({"ph": "X", "pid": pid, "tid": 0, "name": f"copy bucket {i} back", "cat": "copy",
                               **span(clock, clock + copy * factor)})
                clock += copy * factor
        alone = timeline.copy_out_s.get(-1, 0.0)   # one GPU that DDP wraps: every copy back after backward
        if alone > 0:
            events.append({"ph": "X", "pid": pid, "tid": 0, "name": "copy the gradients back", "cat": "copy",
                           **span(clock, clock + alone * factor)})
            clock += alone * factor
        comm_end = float(np.atleast_1d(comm.comm_end)[rank if np.size(comm.comm_end) > 1 else 0])
        update_start = max(clock, comm_end)
        events.append({"ph": "X", "pid": pid, "tid": 0, "name": "optimizer update",
                       **span(update_start, update_start + timeline.update_s * factor)})
    if comm.load_history and comm.link_bytes is not None:
        top = _utilised(comm.link_bytes, comm.link_capacity, busiest_links)
        named = {timeline.link_name(k): k for k in range(len(comm.link_bytes))} if links else {}
        missing = [name for name in links if name not in named]
        if missing:
            from simtrain.errors import ConfigError

            raise ConfigError("no such link in this cluster", key="links", value=missing[0],
                              allowed="src->dst, as the trace's link tracks are named")
        top = np.array(list(dict.fromkeys([*top.tolist(), *(named[name] for name in links)])), dtype=np.int64)
        pid = 1_000_000
        events.append({"ph": "M", "pid": pid, "name": "process_name",
                       "args": {"name": "links (GB/s; the most utilised over the step)"}})
        events += _link_tracks(comm.load_history, top, timeline.link_name, pid)
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"model": report.model, "topology": report.topology, "gpus": report.num_gpus,
                          "engine": report.engine, "step_time_s": report.step_time_s}}


def _bucket_phases(report: StepReport) -> dict[int, list[tuple[int, str, float, float]]]:
    """Per bucket: (chunk, phase, start, end) from the bucket's start, as the analytical engine planned its
    all-reduce (:func:`_planned_phases`). Drawn for plain data parallelism on the analytical engine, where a
    bucket's all-reduce is one collective of the bucket's bytes that runs alone on the stream from its start; and
    only where the rebuilt collective takes exactly the bucket's time. A DES step's phases are per rank and
    contended: a DES step records them itself when run with ``record_phases``."""
    config, timeline = report.config, report.timeline
    if report.engine != "analytical" or report.scheme != "none" or timeline is None or timeline.cluster is None \
            or not config or report.parallel is not None:
        return {}
    from simtrain.collectives import build_schedule
    from simtrain.network.analytical import evaluate
    from simtrain.network.types import NetworkOptions

    cluster = timeline.cluster
    import dataclasses

    given = config.get("network") or {}   # the resolved options, by field name
    options = NetworkOptions(**{f.name: given[f.name] for f in dataclasses.fields(NetworkOptions) if f.name in given})
    out: dict[int, list[tuple[int, str, float, float]]] = {}
    for i, bucket in enumerate(timeline.comm.buckets):
        schedule = build_schedule("all-reduce", bucket.size_bytes, cluster, config.get("algorithm", report.algorithm),
                                  chunks=config.get("chunks", 1), **(config.get("algorithm_params") or {}))
        result = evaluate(schedule, cluster, options)
        if abs(result.time_s - (bucket.end_s - bucket.start_s)) > 1e-9 * max(result.time_s, 1e-12) + 1e-12:
            continue   # not the collective that ran (or not alone): draw no phases rather than wrong ones
        out[i] = [(chunk, label, begin, end)
                  for _, chunk, label, begin, end in _planned_phases(schedule, cluster, result)]
    return out


def write_trace(report: StepReport, path: str | Path, ranks: Sequence[int] | None = None,
                links: Sequence[str] = ()) -> Path:
    """Write :func:`step_trace` to ``path`` as JSON, whole or not at all (:func:`simtrain.outputs.write_text`);
    returns the path."""
    from simtrain.outputs import write_text

    return write_text(path, json.dumps(step_trace(report, ranks, links=links)), make_parents=True)


def collective_trace(result: Any, cluster: Any, load_history: Any = None, busiest_links: int = BUSIEST_LINKS, *,
                     phase_spans: Sequence[tuple[str, int, str, float, float]] | None = None,
                     links: Sequence[str] = ()) -> dict[str, Any]:
    """Trace events of one collective: the whole collective, its phases, and with the DES its link loads.

    ``phase_spans`` (from :func:`trace_collective`): ``(track, chunk, phase, start_s, end_s)`` of every chunk's
    phases as scheduled (track ``"all ranks"`` for the analytical engine's chunk plan, ``"GPU r"`` for a rank in the
    DES); one thread per chunk of each track. Without them, one chunk's phases one after another (each pattern's
    uncontended time from ``result.phases``), on a thread named so.

    Examples
    --------
    >>> from simtrain.collectives import collective_time
    >>> from simtrain.topology import load_topology
    >>> r = collective_time("all-reduce", "64 MiB", load_topology("torus-2d", gpus=16), "multidim-ring")
    >>> [e["name"] for e in collective_trace(r, None)["traceEvents"] if e["ph"] == "X"][:2]
    ['all-reduce 64 MiB (multidim-ring)', 'reduce-scatter dim0']
    """
    from simtrain import units

    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": 0, "name": "process_name", "args": {"name": f"{result.op} on {result.num_ranks} GPUs"}},
        {"ph": "M", "pid": 0, "tid": 0, "name": "thread_name", "args": {"name": "collective"}},
        {"ph": "X", "pid": 0, "tid": 0, "name": f"{result.op} {units.format_size(result.size_bytes)} "
         f"({result.algorithm})", **span(0.0, result.time_s),
         "args": {"bytes": result.size_bytes, "chunks": result.chunks, "engine": result.engine,
                  "busbw_GBps": result.busbw_Bps / 1e9}},
    ]
    if phase_spans is None:
        events.append({"ph": "M", "pid": 0, "tid": 1, "name": "thread_name",
                       "args": {"name": "phases (one chunk, uncontended)"}})
        clock = 0.0
        for label, seconds in result.phases:
            if seconds > 0:
                events.append({"ph": "X", "pid": 0, "tid": 1, "name": label, **span(clock, clock + seconds)})
                clock += seconds
    else:
        pids = {track: 0 if track == "all ranks" else 2 + i
                for i, track in enumerate(dict.fromkeys(t for t, *_ in phase_spans))}
        named: set[tuple[int, int]] = set()
        for track, chunk, label, start, end in phase_spans:
            pid, tid = pids[track], 1 + chunk
            if pid and (pid, 0) not in named:
                named.add((pid, 0))
                events.append({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": track}})
            if (pid, tid) not in named:
                named.add((pid, tid))
                events.append({"ph": "M", "pid": pid, "tid": tid, "name": "thread_name",
                               "args": {"name": f"chunk {chunk}"}})
                events.append({"ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index",
                               "args": {"sort_index": tid}})
            events.append({"ph": "X", "pid": pid, "tid": tid, "name": label, "cat": "phase", **span(start, end),
                           "args": {"chunk": chunk}})
    if load_history and result.link_bytes is not None and cluster is not None:
        names = cluster.node_names

        def name_of(link: int) -> str:
            return f"{names[int(cluster.link_src[link])]}->{names[int(cluster.link_dst[link])]}"

        top = _utilised(result.link_bytes, cluster.link_bandwidth_Bps, busiest_links)
        if links:
            top = np.array(list(dict.fromkeys([*top.tolist(), *link_ids(cluster, links).tolist()])), dtype=np.int64)
        events.append({"ph": "M", "pid": 1, "name": "process_name",
                       "args": {"name": "links (GB/s; the most utilised over the collective)"}})
        events += _link_tracks(load_history, top, name_of, 1)
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"op": result.op, "algorithm": result.algorithm, "time_s": result.time_s,
                          "engine": result.engine, "chunks": result.chunks}}


def trace_collective(schedule: Any, cluster: Any, engine: str = "analytical", options: Any = None, *,
                     ranks: Sequence[int] | None = None, links: Sequence[str] = (), store_and_forward: bool = False,
                     progress: bool | None = None) -> tuple[Any, dict[str, Any]]:
    """Run one collective and trace its phases as they were scheduled; returns ``(result, trace)``.

    ``analytical``: the result of :func:`simtrain.network.analytical.evaluate`, and every chunk's phases at the
    times of the engine's own chunk plan (:func:`simtrain.network.pipeline.chunk_schedule`: a link group serves one
    chunk's phase at a time), on one track for all ranks. Chains and pipelined trees pipeline their chunks inside a
    pattern, for which the engine keeps no per-chunk times: chunk 0's phases are drawn, then one slice for the
    other chunks (what the engine charges for them). ``des``: the DES run itself, recording for each traced rank
    (``ranks``, global GPU ranks; default the schedule's first four) when it started each chunk's phase (launched
    its first step) and finished it (its last step and its per-step charge), one process per rank and one thread
    per chunk, with the most utilised links' loads (and any ``links`` named ``src->dst``) as counter tracks.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("torus-2d", gpus=16)
    >>> s = build_schedule("all-reduce", "64 MiB", c, "multidim-ring", chunks=4)
    >>> r, t = trace_collective(s, c)
    >>> len([e for e in t["traceEvents"] if e.get("cat") == "phase"])     # 4 chunks x 4 phases
    16
    >>> r2, t2 = trace_collective(s, c, "des", ranks=[0, 5])
    >>> [e["args"]["name"] for e in t2["traceEvents"] if e["name"] == "process_name"][1:3]
    ['GPU 0', 'GPU 5']
    """
    from simtrain.network import run_engine
    from simtrain.network.analytical import fastest_protocol

    schedule = fastest_protocol(schedule, cluster, options)  # network.protocol's choice, traced as it runs
    if engine == "des":
        result, spans, history = _des_phases(schedule, cluster, options, ranks, links, store_and_forward,
                                             progress)
        return result, collective_trace(result, cluster, history, phase_spans=spans, links=links)
    if ranks is not None or links:
        from simtrain.errors import ConfigError

        raise ConfigError("ranks and link loads are traced by the DES; the analytical engine plans the chunks of "
                          "all ranks together", key="trace_ranks" if ranks is not None else "trace_links",
                          allowed="use them with engine des")
    result = run_engine(engine, schedule, cluster, options)
    return result, collective_trace(result, cluster, phase_spans=_planned_phases(schedule, cluster, result))


def _planned_phases(schedule: Any, cluster: Any, result: Any) -> list[tuple[str, int, str, float, float]]:
    """The analytical engine's chunk plan, from its one-chunk phase times and the patterns' link groups."""
    from simtrain.network.cache import NetworkCache
    from simtrain.network.pipeline import chunk_schedule

    patterns = schedule.patterns
    used = [j for j, pattern in enumerate(patterns) if pattern.num_flows]
    labels = [result.phases[j][0] for j in used]
    durations = [result.phases[j][1] for j in used]
    if any(pattern.stage_of_flow is not None for pattern in patterns) and schedule.chunks > 1:
        clock, spans = 0.0, []
        for label, seconds in zip(labels, durations):
            spans.append(("all ranks", 0, label, clock, clock + seconds))
            clock += seconds
        rest = result.time_s - schedule.base_latency_s
        if rest > clock:
            spans.append(("all ranks", 1, f"chunks 1-{schedule.chunks - 1} (pipelined inside the patterns)",
                          clock, rest))
        return spans
    cache = NetworkCache.for_cluster(cluster, None)
    groups = cache.link_groups([patterns[j] for j in used])
    plan = chunk_schedule(durations, groups, schedule.chunks)
    return [("all ranks", c, labels[j], float(plan.start[c, j]), float(plan.start[c, j]) + durations[j])
            for c in range(schedule.chunks) for j in range(len(used)) if durations[j] > 0]


def _des_phases(schedule: Any, cluster: Any, options: Any, ranks: Sequence[int] | None, links: Sequence[str],
                store_and_forward: bool, progress: bool | None) -> tuple[Any, list[tuple[str, int, str, float, float]],
                                                                          Any]:
    """A DES run of ``schedule`` (as :func:`simtrain.network.des.simulate_collective`) that records the traced
    ranks' phase times and the loads of the links the trace may draw."""
    from simtrain.network.cache import NetworkCache
    from simtrain.network.des import Clock, FlowNetwork, Progress, check_budget, estimate_messages, run_result
    from simtrain.network.link_load import schedule_traffic

    members = [int(r) for r in np.asarray(schedule.ranks).tolist()]
    if ranks is None:
        ranks = members[:4]
    outside = [r for r in ranks if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r not in members]
    if outside:
        from simtrain.errors import ConfigError

        raise ConfigError(f"must be ranks of the collective (0..{max(members)})" if members else "no ranks",
                          key="trace_ranks", value=outside[0])
    traced = np.array([members.index(int(r)) for r in ranks], dtype=np.int64)
    cache = NetworkCache.for_cluster(cluster, None)
    messages = estimate_messages(schedule, cache, store_and_forward)
    check_budget(messages, options)
    # the loads of the links the trace draws only (its memory and file stay bounded on a large collective): the most
    # utilised by the schedule's bytes, which the DES moves on the same routes, a few more in case it reroutes
    # (failed links), and the named ones, checked before the run
    traffic = schedule_traffic(schedule, cluster, cache)
    watched = np.union1d(_utilised(traffic.link_bytes, cluster.link_bandwidth_Bps, 4 * BUSIEST_LINKS),
                         link_ids(cluster, links))
    env = Clock()
    network = FlowNetwork(env, cluster, store_and_forward=store_and_forward, cache=cache, record_loads=watched)
    network.progress = Progress(messages, f"DES {schedule.op}", progress)
    run = recording_run(network, schedule, options, traced)
    try:
        env.run(until=run.done)
    finally:
        network.progress.close()
    result = run_result(run, traffic.bytes_by_class, network.link_bytes)
    spans = [(f"GPU {rank}", chunk, label, start, end) for rank, chunk, label, start, end in recorded_spans(run)]
    return result, spans, network.load_history


def recorded_spans(run: Any) -> list[tuple[int, int, str, float, float]]:
    """``(rank, chunk, phase, start_s, end_s)`` of every phase a :func:`recording_run` recorded, by traced rank
    (global GPU rank), chunk and pattern; phases a rank never ran are left out.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.network.des import Clock, FlowNetwork
    >>> from simtrain.topology import torus
    >>> cluster = torus([4], "10 GB/s", "1 us")
    >>> run = recording_run(FlowNetwork(Clock(), cluster),
    ...                     build_schedule("all-reduce", 4e6, cluster, "ring"), None, np.array([1]))
    >>> _ = run.env.run(until=run.done)
    >>> [(rank, label) for rank, _, label, _, _ in recorded_spans(run)][:1]
    [(1, 'reduce-scatter')]
    """
    ranks = np.asarray(run.schedule.ranks)[run.traced]
    spans = []
    for t, rank in enumerate(ranks.tolist()):
        for chunk in range(run.schedule.chunks):
            for j, pattern in enumerate(run.schedule.patterns):
                start, end = run.phase_start[chunk, j, t], run.phase_end[chunk, j, t]
                if not np.isnan(start) and not np.isnan(end):
                    spans.append((int(rank), chunk, pattern.label, float(start), float(end)))
    return spans


def recording_run(network: Any, schedule: Any, options: Any, traced: np.ndarray, **kwargs: Any) -> Any:
    """A :class:`~simtrain.network.des.CollectiveRun` (``kwargs`` go to it) that notes, for the ``traced`` local
    ranks, when each chunk's phase started (the rank launched its first step) and ended (the rank moved past its
    last step): ``phase_start`` and ``phase_end``, chunks x patterns x traced ranks; :func:`recorded_spans` reads
    them. Used by ``simtrain collective --trace`` and by the DES training step when a trace is asked for.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.network.des import Clock, FlowNetwork
    >>> from simtrain.topology import torus
    >>> cluster = torus([4], "10 GB/s", "1 us")
    >>> run = recording_run(FlowNetwork(Clock(), cluster),
    ...                     build_schedule("all-reduce", 4e6, cluster, "ring"), None, np.array([0, 2]))
    >>> _ = run.env.run(until=run.done)
    >>> bool(np.nanmax(run.phase_end) == run.finish_time.max())
    True
    """
    from simtrain.network.des import CollectiveRun

    traced = np.asarray(traced, dtype=np.int64)

    slot = np.full(len(schedule.endpoints), -1, dtype=np.int64)
    slot[traced] = np.arange(len(traced))
    shape = (schedule.chunks, len(schedule.patterns), len(traced))

    class Recording(CollectiveRun):
        # class attributes of a class made per run: CollectiveRun.__init__ already launches the first steps
        phase_start = np.full(shape, np.nan)
        phase_end = np.full(shape, np.nan)
        moved = False
        traced: np.ndarray   # the local ranks recorded (set below)

        def _note(self, chunk: int, ranks: np.ndarray, stage: np.ndarray, into: np.ndarray, first: bool) -> None:
            at = slot[ranks]
            keep = at >= 0
            if not keep.any():
                return
            pattern = np.asarray(self._stage_pattern, dtype=np.int64)[stage[keep]]
            if first:   # a phase starts at its first step's launch, not at a later step's
                fresh = np.isnan(into[chunk, pattern, at[keep]])
                into[chunk, pattern[fresh], at[keep][fresh]] = self.env.now
            else:
                into[chunk, pattern, at[keep]] = self.env.now

        def _launch(self, chunk: int, ranks: np.ndarray) -> np.ndarray:
            self._note(chunk, ranks, self.pos[chunk, ranks], self.phase_start, True)
            return super()._launch(chunk, ranks)

        def _move_on(self, chunk: int, ranks: np.ndarray, k: int) -> None:
            self.moved = True
            self._note(chunk, ranks, np.full(len(ranks), k), self.phase_end, False)
            super()._move_on(chunk, ranks, k)

        def _on_step_delivered(self, chunk: int, k: int, flows: np.ndarray) -> None:
            before = self.pos[chunk, traced].copy()
            self.moved = False
            super()._on_step_delivered(chunk, k, flows)
            if self.moved:
                return
            # the engine's shortcut for a symmetric step moved every rank on without _move_on and _launch
            jumped = traced[(before == k) & (self.pos[chunk, traced] == k + 1)]
            if jumped.size:
                self._note(chunk, jumped, np.full(len(jumped), k), self.phase_end, False)
                if k + 1 < len(self.stages):
                    self._note(chunk, jumped, np.full(len(jumped), k + 1), self.phase_start, True)

    Recording.traced = traced
    return Recording(network, schedule, options, **kwargs)
