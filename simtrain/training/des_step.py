"""The data-parallel step's communication in the DES.

Every GPU has a compute stream (forward, then backward layer by layer, stretched by its straggler factor) and a
communication stream that runs the step's collectives (jobs) in order. A job starts on a GPU when its data exists
there (a bucket's gradients, after their compression compute), and the GPU's previous job is through. Model
averaging jobs start after the update. All jobs' flows share one :class:`~simtrain.network.des.FlowNetwork`, so
overlap and contention between buckets, stragglers and degraded links are simulated rather than assumed.

Examples
--------
>>> from simtrain.training import simulate
>>> clean = simulate("resnet50", "torus-2d", gpus=16, batch=32, engine="des")
>>> analytical = simulate("resnet50", "torus-2d", gpus=16, batch=32)
>>> abs(clean.step_time_s - analytical.step_time_s) / analytical.step_time_s < 1e-6
True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import simpy

from simtrain.network import NetworkCache, NetworkOptions
from simtrain.network.analytical import fastest_protocol
from simtrain.network.des import (
    Clock,
    CollectiveRun,
    FlowNetwork,
    Progress,
    check_budget,
    estimate_messages,
    uncontended_finish,
)
from simtrain.network.link_load import schedule_traffic
from simtrain.network.perturb import Perturbations
from simtrain.network.symmetry import Symmetry
from simtrain.topology import Cluster
from simtrain.training.overlap import compute_end as shared_compute_end

__all__ = ["comm_des"]


class _Stream:
    """Starts job k on a rank once its data is there (``arrive``) and job k-1 has finished there."""

    def __init__(self, env: simpy.Environment, jobs: Sequence[Any], factors: np.ndarray, compute_end: np.ndarray,
                 update: np.ndarray, arrive: np.ndarray | None = None, shares: np.ndarray | None = None) -> None:
        self.env = env
        self.jobs = jobs
        self.factors = factors
        self.compute_end = compute_end
        self.update = update
        self.runs: list[CollectiveRun] = []
        self.replays: _Replays | None = None
        count, ranks = len(jobs), len(factors)
        self.arrived = np.zeros((count, ranks), dtype=bool)
        self.previous_done = np.zeros((count, ranks), dtype=bool)
        self.overlap_end = np.zeros(ranks)
        if count:
            self.previous_done[0] = True
        # sharing (simtrain.training.overlap): a job's data is there when the compute before it is done at the rate
        # the rank's earlier collectives left it, so each arrival is worked out when the job before it ends
        self.unslowed = arrive   # jobs x ranks: when each job's data would be there at the full compute rate
        self.shares = shares if shares is not None and arrive is not None and (shares > 0).any() else None
        self.began = np.full((count, ranks), np.nan)
        self.busy: list[list[tuple[float, float, float]]] = [[] for _ in range(ranks)]

    @property
    def lazy(self) -> bool:
        """Whether arrivals follow the slowed compute (some job holds a share of the GPU)."""
        return self.shares is not None

    def later_start(self, job: int, seconds: float, after_update: np.ndarray) -> float:
        """The first instant any rank could start a job after ``job`` if ``job`` runs from now for ``seconds``
        (its share slowing the compute meanwhile): an overlapped job's data on each rank when the compute before
        it is done at the rate the rank's collectives so far, this one included, leave it (any job between them
        only slows it further), and ``after_update[job]``, the first instant a later job after the update may
        start (:func:`_earliest_later_start` over those jobs)."""
        assert self.shares is not None and self.unslowed is not None
        now = self.env.now
        current = (now, now + seconds, float(self.shares[job]))
        overlapped = [k for k in range(job + 1, len(self.jobs)) if not self.jobs[k].after_update]
        best = float(after_update[job])
        if overlapped:
            first = self.unslowed[overlapped].min(axis=0)   # per rank: the earliest later data
            for rank, work in enumerate(first.tolist()):
                best = min(best, shared_compute_end(work, [*self.busy[rank], current]))
        return best

    def at(self, when: np.ndarray, job: int) -> None:
        """Schedule ``arrive(job)`` for every rank at its time in ``when``."""
        now = self.env.now
        for moment in np.unique(when):
            ranks = np.flatnonzero(when == moment)
            event = self.env.timeout(max(0.0, float(moment) - now))
            event.callbacks.append(functools.partial(self.arrive, job, ranks))

    def arrive(self, job: int, ranks: np.ndarray, _event: Any = None) -> None:
        self.arrived[job, ranks] = True
        self._launch(job, ranks)

    def finished(self, job: int, ranks: np.ndarray) -> None:
        now = self.env.now
        if not self.jobs[job].after_update:
            self.overlap_end[ranks] = now
            if self.shares is not None:
                for rank in ranks[np.isfinite(self.began[job, ranks])].tolist():
                    self.busy[rank].append((float(self.began[job, rank]), now, float(self.shares[job])))
        nxt = job + 1
        if nxt >= len(self.jobs):
            return
        self.previous_done[nxt, ranks] = True
        following = self.jobs[nxt]
        if self.shares is not None and not following.after_update:
            assert self.unslowed is not None
            when = np.array([shared_compute_end(float(self.unslowed[nxt, rank]), self.busy[rank])
                             for rank in ranks.tolist()])
            for moment in np.unique(when):
                group = ranks[when == moment]
                if moment <= now:   # its data came while the job before ran
                    self.arrive(nxt, group)
                else:
                    event = self.env.timeout(float(moment) - now)
                    event.callbacks.append(functools.partial(self.arrive, nxt, group))
            return
        if following.after_update:
            if not self.jobs[job].after_update:  # the first averaging job waits for backward and the update
                start = np.maximum(self.env.now, self.compute_end[ranks]) + self.update[ranks]
            else:
                start = np.full(len(ranks), self.env.now)
            when = np.full(len(self.factors), np.inf)
            when[ranks] = start + following.delay * self.factors[ranks]
            for moment in np.unique(when[ranks]):
                group = ranks[when[ranks] == moment]
                event = self.env.timeout(max(0.0, float(moment) - self.env.now))
                event.callbacks.append(functools.partial(self.arrive, nxt, group))
        else:
            self._launch(nxt, ranks)

    def _launch(self, job: int, ranks: np.ndarray) -> None:
        go = ranks[self.arrived[job, ranks] & self.previous_done[job, ranks]]
        if not go.size:
            return
        run = self.runs[job]
        local = self._local(run, go)
        joining = local >= 0
        if joining.any():
            self._ready(job, run, local[joining])
        if not joining.all():  # ranks that take no part in this collective pass straight through it
            self.finished(job, go[~joining])

    def _ready(self, job: int, run: CollectiveRun, local: np.ndarray) -> None:
        """The collective starts on these ranks once the framework's launch has held the stream."""
        launch = float(getattr(self.jobs[job], "launch_s", 0.0))
        if launch <= 0:
            self._start(job, run, local)
            return
        event = self.env.timeout(launch)
        event.callbacks.append(lambda _event: self._start(job, run, local))

    def _start(self, job: int, run: CollectiveRun, local: np.ndarray) -> None:
        if self.shares is not None:
            self.began[job, run.ranks[local]] = self.env.now
        if self.replays is None or not self.replays.replayed(job, run, local):
            run.mark_ready(local)

    @staticmethod
    def _local(run: CollectiveRun, ranks: np.ndarray) -> np.ndarray:
        table = run._local
        inside = ranks < len(table)
        local = np.full(len(ranks), -1, dtype=np.int64)
        local[inside] = table[ranks[inside]]
        return local

    def done_locally(self, job: int, local: np.ndarray) -> None:
        """A run reports its own (local) rank indices; the stream works with global ranks."""
        self.finished(job, self.runs[job].ranks[local])


class _Replays:
    """Jobs that run alone take the run of an identical job (the training step's buckets of one size).

    A job runs alone when every rank starts it at one instant on an idle network (every rank is through the
    jobs before it, so their flows are all delivered) and no later job can start before its last rank
    finishes: the jobs' data arrive no earlier than ``earliest`` (per job, the first instant any rank could
    start any later job). Such a job is simulated once on a network of its own, by the DES's own rule, and
    replayed: every rank finishes at the same offset from the start, and the link bytes are the same. Jobs of
    one Schedule template and size (``CommJob.key``, the size) share one simulation. A job that may meet
    another runs on the shared network as usual.

    ``alone``: where the simulations are kept, by job key; :func:`comm_des` takes it from the run's
    :class:`~simtrain.network.cache.NetworkCache` under everything else a simulation depends on
    (:func:`_replay_context`), so the step's other phases (Horovod's alignments, a scheme's period) replay
    what one phase simulated. A fresh dict when not given.
    """

    def __init__(self, network: FlowNetwork, jobs: Sequence[Any], runs: Sequence[CollectiveRun],
                 options: NetworkOptions | None, earliest: np.ndarray,
                 bound: Callable[[int, float], float] | None = None,
                 alone: dict[Any, tuple[np.ndarray, np.ndarray, int, Any]] | None = None) -> None:
        self.network = network
        self.jobs = jobs
        self.runs = runs
        self.options = options
        self.earliest = earliest
        # with sharing, the first instant a later job may start once this one runs for a given time (the stream's
        # slowed arrivals, _Stream.later_start); without, ``earliest``
        self.bound = bound
        # key -> finish offsets, link bytes, flows, and for a traced step the recorded phase starts and ends
        self.alone: dict[Any, tuple[np.ndarray, np.ndarray, int, Any]] = {} if alone is None else alone
        self.shared: set[Any] = set()  # keys of jobs that turned out to meet a later job

    def replayed(self, job: int, run: CollectiveRun, local: np.ndarray) -> bool:
        """Replay ``run`` (all its ranks ``local`` start now) if it runs alone; whether it did."""
        spec = self.jobs[job]
        if spec.key is None or local.size != run.num_ranks or run.ready.any() or self.network.flows_in_flight:
            return False
        if not all(earlier.done.triggered for earlier in self.runs[:job]):  # ranks outside it may still send
            return False
        key = (spec.key, float(run.schedule.size_bytes), run.schedule.num_ranks, run.schedule.chunks)
        if key in self.shared:
            return False
        if key not in self.alone:
            self.alone[key] = self._simulate(run)
        finish, link_bytes, flows, phases = self.alone[key]
        limit = self.earliest[job] if self.bound is None else self.bound(job, float(finish.max()))
        if self.network.env.now + float(finish.max()) > limit:
            self.shared.add(key)
            return False
        self.network.account(link_bytes, flows)
        run.replay(finish)
        if phases is not None:   # the phases as recorded alone, shifted to this start
            recording: Any = run   # a recording_run
            now = self.network.env.now
            recording.phase_start, recording.phase_end = phases[0] + now, phases[1] + now
        return True

    def _simulate(self, run: CollectiveRun) -> tuple[np.ndarray, np.ndarray, int, Any]:
        """The run alone on a network of its own: finish offsets, link bytes, flows started, and where ``run``
        records phases (a traced step) its ranks' phase starts and ends from the run's start."""
        shared = self.network
        env = Clock()
        network = FlowNetwork(env, shared.cluster, store_and_forward=shared.store_and_forward,
                              capacity=shared.capacity, cache=shared.cache, symmetry=shared.symmetry)
        traced = getattr(run, "traced", None)
        if traced is None:
            alone = CollectiveRun(network, run.schedule, self.options, start_all=False)
            finish = uncontended_finish(alone)
            classes = shared.symmetry
            if classes is not None and run.chunks == 1:  # the recurrence is found on the ranks, not the classes
                plain = FlowNetwork(Clock(), shared.cluster, capacity=classes.link_capacity,
                                    cache=shared.cache)
                per_rank = CollectiveRun(plain, run.schedule, self.options, start_all=False)
                finish = uncontended_finish(per_rank)
                if finish is not None:  # alike ranks finish alike: any member's time is its class's
                    by_class = np.empty(run.p)
                    by_class[run._local[classes.rank_class[run.schedule.ranks]]] = finish
                    finish = by_class
            if finish is not None:
                return finish, schedule_traffic(run.schedule, shared.cluster, shared.cache).link_bytes, 0, None
        else:   # the phases need the event-driven run
            from simtrain.training.trace import recording_run

            alone = recording_run(network, run.schedule, self.options, traced, start_all=False)
        alone.mark_ready(np.arange(alone.p))
        env.run(until=alone.done)
        record: Any = alone
        phases = None if traced is None else (record.phase_start, record.phase_end)
        return alone.finish_time, network.link_bytes, network.flows_started, phases


def _earliest_later_start(jobs: Sequence[Any], arrive: np.ndarray, factors: np.ndarray, compute_end: np.ndarray,
                          update: np.ndarray) -> np.ndarray:
    """Per job, the first instant any rank could start any later job (a job starts on a rank no earlier than
    its data is there, ``arrive``: :func:`~simtrain.training.data_parallel.arrivals`, and averaging jobs no earlier
    than the update is through); ``inf`` for the last."""
    first = np.array([float(np.min(compute_end + update + job.delay * factors)) if job.after_update
                      else float(np.min(arrive[index])) for index, job in enumerate(jobs)])
    later = np.full(len(jobs), np.inf)
    for index in range(len(jobs) - 2, -1, -1):
        later[index] = min(later[index + 1], first[index + 1])
    return later


def comm_des(jobs: Sequence[Any], cluster: Cluster, forward_time: float, backward_time: float, update_time: float,
             factors: np.ndarray, network: NetworkOptions | None, *, perturbations: Perturbations | None = None,
             store_and_forward: bool = False, record_loads: bool = False, cache: NetworkCache | None = None,
             record_phases: bool | Sequence[int] = False, symmetry: bool = True,
             shares: np.ndarray | None = None) -> Any:
    """Simulate the step's communication jobs; returns a ``CommOutcome`` (see ``data_parallel``).

    ``shares``: each job's share of a GPU while it runs (:mod:`simtrain.training.overlap`); a later job's data
    is then ready when the compute before it is done at the rate the rank's earlier jobs left it.

    ``record_phases`` (for traces): the GPU ranks whose collective phases to record in every overlapped job
    (``True``: the trace's default ranks, :func:`~simtrain.training.trace.default_ranks`); the outcome's
    ``phases`` then lists, per bucket, ``(rank, chunk, phase, start_s, end_s)``. Off, the runs record nothing.

    A GPU with straggler factor f reaches every compute milestone f times later (its compression compute too).
    The step's messages are estimated first: past ``network.max_events`` the step is refused
    (:func:`~simtrain.network.des.check_budget`); on a terminal a progress line shows on stderr.

    With ``symmetry`` (and no link-load history, traced phases or store-and-forward), GPUs that behave alike
    (the same straggler factor, the same kinds of flows over the same kinds of links in every job:
    :mod:`simtrain.network.symmetry`) are simulated as one rank class, and every flow class as one flow; the
    results are those of the per-GPU run (``symmetry=False``), which the tests hold them to.
    """
    from simtrain.training.data_parallel import CommOutcome, _timings, _traffic, arrivals

    sim_cluster, capacity = (perturbations.apply(cluster) if perturbations is not None
                             else (cluster, cluster.link_bandwidth_Bps))
    env = Clock()
    # a perturbed cluster (failed links reroute) is a new cluster: the given cache belongs to the unperturbed one
    cache = cache if sim_cluster is cluster else None
    traced = _traced_ranks(record_phases, factors)
    cache = NetworkCache.for_cluster(sim_cluster, cache)
    # network.protocol: each job runs the protocol the closed form finds fastest (CollectiveRun's choice), made
    # here so the symmetry classes and the message estimate see the Schedules that run
    jobs = [dataclasses.replace(job, schedule=fastest_protocol(job.schedule, sim_cluster, network, cache))
            for job in jobs]
    messages = sum(estimate_messages(job.schedule, cache, store_and_forward) for job in jobs)
    check_budget(messages, network)
    classes = None
    if symmetry and jobs and not (store_and_forward or record_loads or traced is not None):
        classes = Symmetry.of([job.schedule for job in jobs], sim_cluster, capacity, rank_color=factors, cache=cache)
    flow_network = FlowNetwork(env, sim_cluster, store_and_forward=store_and_forward, capacity=capacity,
                               record_loads=record_loads, cache=cache, symmetry=classes)
    flow_network.progress = Progress(messages, "DES step")
    # the stream's ranks: the GPUs, or their classes (one GPU stands for each; all of a class are alike)
    gpus = len(factors)
    expand = np.arange(gpus) if classes is None else classes.rank_class
    space = np.arange(gpus) if classes is None else classes.representative_rank
    compute_end = (forward_time + backward_time) * factors
    update = update_time * factors
    arrive = arrivals(jobs, factors)
    stream = _Stream(env, jobs, factors[space], compute_end[space], update[space], arrive[:, space], shares)
    if not record_loads:  # a replayed job leaves no link-load history
        bound = None
        if stream.lazy:
            # later jobs after the update bound as before; overlapped ones by their slowed arrivals
            afterwards = np.where([[job.after_update] for job in jobs], arrive, np.inf)
            after_update = _earliest_later_start(jobs, afterwards, factors, compute_end, update)
            bound = functools.partial(stream.later_start, after_update=after_update)
        alone: dict[Any, tuple[np.ndarray, np.ndarray, int, Any]] = flow_network.cache.get(
            "replayed alone", _replay_context(network, store_and_forward, capacity, classes, traced), dict)
        stream.replays = _Replays(flow_network, jobs, stream.runs, network,
                                  _earliest_later_start(jobs, arrive, factors, compute_end, update), bound, alone)
    for index, job in enumerate(jobs):
        kwargs = {"start_all": False, "on_rank_done": functools.partial(stream.done_locally, index),
                  "label": job.label}
        if traced is None or job.after_update:
            stream.runs.append(CollectiveRun(flow_network, job.schedule, network, **kwargs))
        else:
            from simtrain.training.trace import recording_run

            local = _local_of(job.schedule.ranks, traced)
            stream.runs.append(recording_run(flow_network, job.schedule, network, local, **kwargs))
    for index, job in enumerate(jobs):
        if not job.after_update:
            if stream.lazy and index > 0 and not jobs[index - 1].after_update:
                continue   # scheduled when the job before it ends (_Stream.finished)
            stream.at(arrive[index][space], index)
        elif index == 0:  # averaging only: after backward and the update
            stream.at((compute_end + update + job.delay * factors)[space], index)
        else:
            continue
    if stream.runs:
        try:
            env.run(until=simpy.AllOf(env, [run.done for run in stream.runs]))
        finally:
            flow_network.progress.close()
    starts = np.full((len(jobs), len(factors)), np.nan)
    ends = np.full((len(jobs), len(factors)), np.nan)
    for index, run in enumerate(stream.runs):
        ranks = run.ranks[:run.num_ranks]  # GPU ranks or their classes; CPU server hosts follow
        starts[index, ranks] = run.start_time[:run.num_ranks]
        ends[index, ranks] = run.finish_time[:run.num_ranks]
    starts, ends = starts[:, expand], ends[:, expand]  # per GPU (from per rank class, with symmetry)
    timings = _timings(jobs, [float(np.nanmin(s)) for s in starts], [float(np.nanmax(e)) for e in ends],
                       float(factors.min()))
    overlap = [i for i, job in enumerate(jobs) if not job.after_update]
    averaging = [i for i, job in enumerate(jobs) if job.after_update]
    comm_end = stream.overlap_end[expand] if overlap else np.zeros(len(factors))
    # the busiest rank's time in collectives (a job's earliest start to its latest end would count twice the
    # stretch where early ranks have moved on to the next job while late ones finish this one)
    comm_time = float(np.nanmax(np.nansum(ends - starts, axis=0))) if len(jobs) else 0.0
    total, by_class, _ = _traffic(jobs, sim_cluster, flow_network.cache)
    # per bucket (as _timings merges them): its jobs' rows, for its per-rank start and end and its phases
    bucket_rows: dict[int, list[int]] = {}
    for i in overlap:
        bucket_rows.setdefault(jobs[i].bucket, []).append(i)
    rows = [bucket_rows[b] for b in sorted(bucket_rows)]
    phases = None
    if traced is not None:
        from simtrain.training.trace import recorded_spans

        phases = [[s for i in group for s in recorded_spans(stream.runs[i])] for group in rows]
    bucket_start = np.array([np.fmin.reduce(starts[group], axis=0) for group in rows]) if rows else None
    bucket_end = np.array([np.fmax.reduce(ends[group], axis=0) for group in rows]) if rows else None
    finish = None
    if averaging:  # the step ends when each rank's last averaging job does (ranks outside it: at their start)
        last = averaging[-1]
        finish = np.where(np.isnan(ends[last]), 0.0, ends[last])
    return CommOutcome(timings, comm_end, comm_time, total, by_class, flow_network.link_bytes, capacity,
                       bucket_start, bucket_end,
                       flow_network.load_history, finish=finish, phases=phases, job_start=starts, job_end=ends)


def _replay_context(network: NetworkOptions | None, store_and_forward: bool, capacity: np.ndarray,
                    classes: Symmetry | None, traced: np.ndarray | None) -> tuple[Any, ...]:
    """What a job simulated alone depends on besides its key and the cluster (the cache's): the options, the
    forwarding rule, the link capacities, the symmetry classes the run is laid out by and the ranks it records.
    Arrays enter by content (a digest of their bytes), never by identity."""
    def digest(*arrays: np.ndarray) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        for array in arrays:
            array = np.ascontiguousarray(array)
            h.update(f"{array.dtype.str}{array.shape}".encode())
            h.update(array.tobytes())
        return h.digest()

    return (network, store_and_forward, digest(capacity),
            None if classes is None else digest(classes.rank_class, classes.link_class),
            None if traced is None else digest(traced))


def _traced_ranks(record_phases: bool | Sequence[int], factors: np.ndarray) -> np.ndarray | None:
    """The GPU ranks to record phases for (those of the cluster), or ``None`` to record nothing."""
    if record_phases is False:
        return None
    if record_phases is True:
        from simtrain.training.trace import default_ranks

        record_phases = default_ranks(factors, len(factors))
    ranks = np.array([int(r) for r in record_phases], dtype=np.int64)
    return ranks[(ranks >= 0) & (ranks < len(factors))]


def _local_of(members: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The local indices in a schedule (its GPU ranks ``members``) of the GPU ``ranks`` that take part in it."""
    members = np.asarray(members)
    return np.array([int(np.flatnonzero(members == r)[0]) for r in ranks.tolist() if (members == r).any()],
                    dtype=np.int64)
