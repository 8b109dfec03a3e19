"""Export a simulated step as Chrome / Perfetto trace-event JSON (open it at ui.perfetto.dev or chrome://tracing).

One process per traced GPU (``ranks``: by default the first four and every straggler), with a ``compute`` thread
(forward, each layer's backward, the update) and a ``communication`` thread (each bucket's collective, from when
the GPU started it to when it finished, its phases in its arguments). With the DES and ``record_loads``, counter
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

__all__ = ["collective_trace", "span", "step_trace", "write_trace"]

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


def step_trace(report: StepReport, ranks: Sequence[int] | None = None, busiest_links: int = 16,
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
        stragglers = np.flatnonzero(factors != 1.0).tolist() if factors.size > 1 else []
        ranks = sorted(set(range(min(4, report.num_gpus))) | set(stragglers))
    bad = [r for r in ranks
           if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < report.num_gpus]
    if bad:
        from simtrain.errors import ConfigError

        raise ConfigError(f"must be GPU ranks in 0..{report.num_gpus - 1}", key="trace_ranks", value=bad[0])
    comm = timeline.comm
    events: list[dict[str, Any]] = []
    for rank in ranks:
        factor = float(factors[rank] if factors.size > 1 else factors[0])
        pid = int(rank)
        events.append({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": f"GPU {rank}"}})
        events.append({"ph": "M", "pid": pid, "tid": 0, "name": "thread_name", "args": {"name": "compute"}})
        events.append({"ph": "M", "pid": pid, "tid": 1, "name": "thread_name", "args": {"name": "communication"}})
        forward = sum(timeline.forward_s) * factor
        events.append({"ph": "X", "pid": pid, "tid": 0, "name": "forward", **span(0.0, forward)})
        clock = forward
        for name, seconds in reversed(list(zip(timeline.layer_names, timeline.backward_s))):
            events.append({"ph": "X", "pid": pid, "tid": 0, "name": f"backward {name}", "cat": "backward",
                           **span(clock, clock + seconds * factor)})
            clock += seconds * factor
        for i, bucket in enumerate(comm.buckets):
            if comm.bucket_start is not None:
                start, end = float(comm.bucket_start[i, rank]), float(comm.bucket_end[i, rank])
            else:
                start, end = bucket.start_s, bucket.end_s
            events.append({"ph": "X", "pid": pid, "tid": 1, "name": f"all-reduce bucket {i}", "cat": "comm",
                           **span(start, end), "args": {"bytes": bucket.size_bytes, "layers": len(bucket.layers)}})
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


def write_trace(report: StepReport, path: str | Path, ranks: Sequence[int] | None = None,
                links: Sequence[str] = ()) -> Path:
    """Write :func:`step_trace` to ``path`` as JSON, whole or not at all (:func:`simtrain.outputs.write_text`);
    returns the path."""
    from simtrain.outputs import write_text

    return write_text(path, json.dumps(step_trace(report, ranks, links=links)))


def collective_trace(result: Any, cluster: Any, load_history: Any = None, busiest_links: int = 16) -> dict[str, Any]:
    """Trace events of one collective: the whole collective, and one chunk's phases one after another (each step
    pattern's time, from the engine), with the DES's link loads when given.

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
        {"ph": "M", "pid": 0, "tid": 1, "name": "thread_name", "args": {"name": "phases (one chunk)"}},
        {"ph": "X", "pid": 0, "tid": 0, "name": f"{result.op} {units.format_size(result.size_bytes)} "
         f"({result.algorithm})", **span(0.0, result.time_s),
         "args": {"bytes": result.size_bytes, "chunks": result.chunks, "engine": result.engine,
                  "busbw_GBps": result.busbw_Bps / 1e9}},
    ]
    clock = 0.0
    for label, seconds in result.phases:
        if seconds > 0:
            events.append({"ph": "X", "pid": 0, "tid": 1, "name": label, **span(clock, clock + seconds)})
            clock += seconds
    if load_history and result.link_bytes is not None and cluster is not None:
        names = cluster.node_names
        top = _utilised(result.link_bytes, cluster.link_bandwidth_Bps, busiest_links)
        events.append({"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "links (GB/s)"}})
        events += _link_tracks(load_history, top, lambda link: f"{names[int(cluster.link_src[link])]}->"
                                                               f"{names[int(cluster.link_dst[link])]}", 1)
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"op": result.op, "algorithm": result.algorithm, "time_s": result.time_s}}
