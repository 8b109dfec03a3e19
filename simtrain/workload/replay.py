"""Replay a measured step on any cluster: compute as measured, every collective simulated there.

The replay has two streams, as a training process has (PyTorch's compute stream and its communication stream):

- **compute** runs the compute ops in order with their measured durations, keeping the measured gaps between them
  (launch and framework time), except where the compute stream was waiting for a collective: a compute op that
  started after a collective ended, with the stream idle since before that end, waited for it, and in the replay
  waits for the replayed collective instead (then keeps the part of the gap after it);
- **communication** runs the collectives in order; each is issued where it was issued on the compute timeline (at
  the same point of the compute op running then, or of the gap) and takes what simtrain's collective engine says on
  the target cluster (``analytical`` or ``des``; the algorithm and network options as in ``simtrain collective``).
  A collective of the whole job (its group is the trace's world) spans all the cluster's GPUs; a smaller group (a
  tensor-parallel group, say) keeps its size, on consecutive ranks.

With every collective's measured duration instead (``durations="measured"``) the replay gives back the measured
step exactly: the model adds nothing of its own (tested).

Examples
--------
>>> from simtrain.workload import Op, Workload
>>> w = Workload((Op("compute", "fwd+bwd", 0.0, 0.010), Op("collective", "all-reduce", 0.008, 0.004, 2**26, 2),
...               Op("compute", "step", 0.013, 0.001)), world_size=2)
>>> round(replay(w, durations="measured").step_time_s, 9)     # as measured: 12 ms + 1 ms gap + 1 ms
0.014
>>> from simtrain.topology import load_topology
>>> r = replay(w, load_topology("dgx-h100", gpus=16))
>>> r.step_time_s < w.measured_step_s, r.num_gpus
(True, 16)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simtrain.errors import ConfigError
from simtrain.workload.schema import Op, Workload, check_simulable

__all__ = ["ReplayResult", "replay"]


@dataclass(frozen=True)
class ReplayResult:
    """A replayed step: its time, the measured one, and each collective measured against replayed."""

    step_time_s: float
    measured_step_s: float
    compute_s: float
    comm_s: float
    exposed_comm_s: float
    num_gpus: int
    topology: str
    collectives: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return {"step_time_s": self.step_time_s, "measured_step_s": self.measured_step_s,
                "compute_s": self.compute_s, "comm_s": self.comm_s, "exposed_comm_s": self.exposed_comm_s,
                "num_gpus": self.num_gpus, "topology": self.topology, "collectives": self.collectives}


def replay(workload: Workload, cluster: Any = None, *, durations: str = "simulated", algorithm: str = "auto",
           engine: str = "analytical", options: Any = None, **params: Any) -> ReplayResult:
    """Replay ``workload`` on ``cluster`` (see the module docstring).

    ``durations='measured'`` keeps every collective's measured time (no cluster needed): a check of the replay.
    """
    if durations not in ("simulated", "measured"):
        raise ConfigError("unknown durations", key="durations", value=durations, choices=["simulated", "measured"])
    if durations == "simulated" and cluster is None:
        raise ConfigError("a cluster is needed to simulate the collectives", key="cluster")
    if durations == "simulated":
        check_simulable(workload)
    times = _collective_times(workload, cluster, durations, algorithm, engine, options, params)
    compute = [o for o in workload.ops if o.kind == "compute"]
    collectives = workload.collectives
    t0 = min(o.start_s for o in workload.ops)
    # Replay ends of what has run: compute ops (trace start, trace end, replay start, replay end).
    done: list[tuple[float, float, float, float]] = []
    coll_end: list[tuple[float, float]] = []   # (trace end, replay end) of the collectives issued so far
    prev_trace_end, prev_replay_end = t0, 0.0
    comm_free = 0.0
    busy_comm = 0.0
    # Collectives before compute ops that start at the same instant; k: a collective's position in ``times``.
    events = sorted([(o.start_s, 0, k, o) for k, o in enumerate(collectives)]
                    + [(o.start_s, 1, k, o) for k, o in enumerate(compute)], key=lambda e: e[:3])
    for start, _, k, op in events:
        if op.kind == "compute":
            waited = [(te, re) for te, re in coll_end if prev_trace_end < te <= start]
            if waited:
                last_trace = max(te for te, _ in waited)
                begin = max(prev_replay_end + (start - max(prev_trace_end, last_trace)),
                            max(re for _, re in waited) + (start - last_trace))
            else:
                begin = prev_replay_end + (start - prev_trace_end)
            end = begin + op.duration_s
            done.append((start, start + op.duration_s, begin, end))
            prev_trace_end, prev_replay_end = start + op.duration_s, end
        else:
            issue = _on_replay_timeline(start, done, prev_trace_end, prev_replay_end)
            took = times[k]
            begin = max(issue, comm_free)
            comm_free = begin + took
            busy_comm += took
            coll_end.append((start + op.duration_s, comm_free))
    step = max(prev_replay_end, comm_free)
    compute_s = sum(o.duration_s for o in compute)
    rows = [{"op": o.name, "bytes": o.bytes, "group_size": o.group_size, "measured_s": o.duration_s,
             "replayed_s": t} for o, t in zip(collectives, times)]
    return ReplayResult(step, workload.measured_step_s, compute_s, busy_comm, max(0.0, step - prev_replay_end),
                        cluster.num_gpus if cluster is not None else workload.world_size,
                        cluster.name if cluster is not None else "as measured", rows)


def _on_replay_timeline(t: float, done: list[tuple[float, float, float, float]], prev_trace_end: float,
                        prev_replay_end: float) -> float:
    """Where trace time ``t`` falls on the replayed compute timeline."""
    if done:
        trace_start, trace_end, replay_start, _ = done[-1]
        if trace_start <= t <= trace_end:   # issued while that op ran: the same point of it
            return replay_start + (t - trace_start)
    return prev_replay_end + max(0.0, t - prev_trace_end)


def _collective_times(workload: Workload, cluster: Any, durations: str, algorithm: str, engine: str, options: Any,
                      params: dict[str, Any]) -> list[float]:
    ops: list[Op] = workload.collectives
    if durations == "measured":
        return [o.duration_s for o in ops]
    from simtrain.collectives import collective_time

    known: dict[tuple[str, float, int], float] = {}
    out = []
    for o in ops:
        size = cluster.num_gpus if o.group_size >= workload.world_size else o.group_size
        if size > cluster.num_gpus:
            raise ConfigError(f"the workload's {o.name} of {o.group_size} ranks does not fit on {cluster.num_gpus} "
                              "GPUs",
                              key="gpus", value=cluster.num_gpus, allowed=f"at least {o.group_size} GPUs")
        key = (o.name, o.bytes, size)
        if key not in known:
            if o.bytes <= 0 or size < 2:
                known[key] = 0.0
            else:
                ranks = None if size == cluster.num_gpus else list(range(size))
                known[key] = collective_time(o.name, f"{o.bytes} B", cluster, algorithm, engine=engine,
                                             options=options, ranks=ranks, **params).time_s
        out.append(known[key])
    return out
