"""Export a simulated step as Chrome / Perfetto trace-event JSON (open it at ui.perfetto.dev or chrome://tracing).

One process per traced GPU, with a ``compute`` thread (forward, each layer's backward, the update) and a
``communication`` thread (each bucket's all-reduce, from when the GPU started it to when it finished). With the DES
and ``record_loads``, counter tracks show the load of the busiest links over time. Times are in microseconds.

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

__all__ = ["step_trace", "write_trace"]

_US = 1e6


def step_trace(report: StepReport, ranks: Sequence[int] | None = None, busiest_links: int = 16) -> dict[str, Any]:
    """Trace events of one step.

    Parameters
    ----------
    report : StepReport
        From :func:`simtrain.training.simulate`.
    ranks : sequence of int, optional
        GPUs to trace (default: the first four, plus every straggler).
    busiest_links : int
        Links to draw as counter tracks (those that carried the most bytes).
    """
    timeline = report.timeline
    if timeline is None:
        raise ValueError("this report has no timeline")
    factors = np.asarray(timeline.factors, dtype=float)
    if ranks is None:
        stragglers = np.flatnonzero(factors != 1.0).tolist() if factors.size > 1 else []
        ranks = sorted(set(range(min(4, report.num_gpus))) | set(stragglers))
    comm = timeline.comm
    events: list[dict[str, Any]] = []
    for rank in ranks:
        factor = float(factors[rank] if factors.size > 1 else factors[0])
        pid = int(rank)
        events.append({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": f"GPU {rank}"}})
        events.append({"ph": "M", "pid": pid, "tid": 0, "name": "thread_name", "args": {"name": "compute"}})
        events.append({"ph": "M", "pid": pid, "tid": 1, "name": "thread_name", "args": {"name": "communication"}})
        forward = sum(timeline.forward_s) * factor
        events.append({"ph": "X", "pid": pid, "tid": 0, "name": "forward", "ts": 0.0, "dur": forward * _US})
        clock = forward
        for name, seconds in reversed(list(zip(timeline.layer_names, timeline.backward_s))):
            events.append({"ph": "X", "pid": pid, "tid": 0, "name": f"backward {name}", "cat": "backward",
                           "ts": clock * _US, "dur": seconds * factor * _US})
            clock += seconds * factor
        for i, bucket in enumerate(comm.buckets):
            if comm.bucket_start is not None:
                start, end = float(comm.bucket_start[i, rank]), float(comm.bucket_end[i, rank])
            else:
                start, end = bucket.start_s, bucket.end_s
            events.append({"ph": "X", "pid": pid, "tid": 1, "name": f"all-reduce bucket {i}", "cat": "comm",
                           "ts": start * _US, "dur": (end - start) * _US,
                           "args": {"bytes": bucket.size_bytes, "layers": len(bucket.layers)}})
        comm_end = float(np.atleast_1d(comm.comm_end)[rank if np.size(comm.comm_end) > 1 else 0])
        update_start = max(clock, comm_end)
        events.append({"ph": "X", "pid": pid, "tid": 0, "name": "optimizer update", "ts": update_start * _US,
                       "dur": timeline.update_s * factor * _US})
    if comm.load_history and comm.link_bytes is not None:
        top = np.argsort(comm.link_bytes)[::-1][:busiest_links]
        top = top[comm.link_bytes[top] > 0]
        pid = 1_000_000
        events.append({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": "links (GB/s)"}})
        last: dict[int, float] = {}
        for when, ids, loads in comm.load_history:
            row = dict.fromkeys((int(x) for x in top), 0.0)
            for link, load in zip(ids.tolist(), loads.tolist()):
                if link in row:
                    row[link] = load / 1e9
            for link, value in row.items():
                if last.get(link) == value:
                    continue  # a counter track only needs the changes
                last[link] = value
                name = timeline.link_name(link)
                events.append({"ph": "C", "pid": pid, "name": name, "ts": when * _US, "args": {"GB/s": value}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"model": report.model, "topology": report.topology, "gpus": report.num_gpus,
                          "engine": report.engine, "step_time_s": report.step_time_s}}


def write_trace(report: StepReport, path: str | Path, ranks: Sequence[int] | None = None) -> Path:
    """Write :func:`step_trace` to ``path`` as JSON, whole or not at all (:func:`simtrain.outputs.write_text`);
    returns the path."""
    from simtrain.outputs import write_text

    return write_text(path, json.dumps(step_trace(report, ranks)))
