"""The pipeline schedule, simulated: every stage runs its forward and backward passes of every micro-batch in the
order its schedule prescribes, each as soon as its input has arrived from the neighbouring stage.

Orders per stage (``s`` of ``p`` stages, ``m`` micro-batches, ``V`` model chunks):

* ``gpipe``: all forwards, then all backwards;
* ``1f1b`` (PipeDream-flush, Megatron-LM's default): ``p − s − 1`` warm-up forwards, then one forward and one
  backward alternately, then the remaining backwards;
* ``interleaved`` (Megatron-LM's virtual pipeline): ``V`` chunks of layers per stage, warm-up of
  ``2(p − s − 1) + (V − 1)·p`` chunk forwards, micro-batches taken in groups of ``p`` per chunk, as
  ``megatron/core/pipeline_parallel/schedules.py`` orders them.

A forward of virtual stage ``v`` (chunk ``v // p`` on stage ``v % p``) needs the forward of ``v − 1`` and its
activation send; a backward needs the backward of ``v + 1`` and its gradient send, and the last virtual stage's
backward its own forward. By default a stage waits for its own send to complete before its next operation, as
Megatron-LM's point-to-point calls do (``megatron/core/pipeline_parallel/p2p_communication.py``: ``batch_isend_irecv``,
then ``req.wait()`` with ``wait_on_reqs`` true unless ``overlap_p2p_comm``; the receive of the next input overlaps
the send); with ``blocking=False`` (``--overlap-pp``, Megatron-core's
``--overlap-p2p-communication``) sends run on the communication stream and the sender goes on computing.

Two engines run the same rule. :func:`run_analytical` is list scheduling: each operation starts at the later of
its stage being free and its input arriving, with the sends' times from the analytical network engine; it is exact
when nothing contends. :func:`run_des` runs each stage as a simpy process and each send as a
:class:`~simtrain.network.des.CollectiveRun` of its real Schedule (every pipeline replica's send at once) on one
shared :class:`~simtrain.network.des.FlowNetwork`, together with the data-parallel gradient reductions, so sends
and reductions contend where they share links; stragglers stretch the stage they sit on.

Examples
--------
>>> order = stage_order("1f1b", stage=0, stages=2, micro_batches=3)
>>> [(kind, micro) for kind, _, micro in order]
[('F', 0), ('F', 1), ('B', 0), ('F', 2), ('B', 1), ('B', 2)]
>>> timeline = run_analytical([[1.0], [1.0]], [[2.0], [2.0]], [0.0, 0.0], [0.0, 0.0], "1f1b", 4)
>>> timeline.end, round(timeline.bubble_fraction, 3)     # (m + p − 1)·(f + b) = 5 × 3
(15.0, 0.2)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Timeline", "run_analytical", "run_des", "stage_order"]


@functools.lru_cache(maxsize=1024)
def stage_order(schedule: str, stage: int, stages: int, micro_batches: int,
                chunks: int = 1) -> tuple[tuple[str, int, int], ...]:
    """The operations of one stage in order: ``(kind, chunk, micro-batch)`` with kind ``F`` or ``B``.

    Examples
    --------
    >>> [(k, c, m) for k, c, m in stage_order("interleaved", 0, 2, 2, chunks=2)][:4]
    [('F', 0, 0), ('F', 0, 1), ('F', 1, 0), ('F', 1, 1)]
    """
    m, p, v = micro_batches, stages, chunks
    if schedule == "gpipe":
        return tuple([("F", 0, i) for i in range(m)] + [("B", 0, i) for i in range(m)])
    if schedule == "1f1b":
        warmup = min(p - stage - 1, m)
        order = [("F", 0, i) for i in range(warmup)]
        for i in range(m - warmup):
            order += [("F", 0, warmup + i), ("B", 0, i)]
        return tuple(order + [("B", 0, i) for i in range(m - warmup, m)])
    total = m * v

    def forward(k: int) -> tuple[str, int, int]:
        return "F", (k // p) % v, (k // (p * v)) * p + k % p

    def backward(k: int) -> tuple[str, int, int]:
        return "B", v - 1 - (k // p) % v, (k // (p * v)) * p + k % p

    warmup = min((p - stage - 1) * 2 + (v - 1) * p, total)
    order = [forward(k) for k in range(warmup)]
    for k in range(total - warmup):
        order += [forward(warmup + k), backward(k)]
    return tuple(order + [backward(k) for k in range(total - warmup, total)])


@dataclass
class Timeline:
    """When every operation of every stage started and ended.

    Attributes
    ----------
    ops : list of list of tuple
        Per stage, ``(kind, chunk, micro-batch, start_s, end_s)`` in execution order.
    end : float
        The last operation's end.
    """

    ops: list[list[tuple[str, int, int, float, float]]]
    end: float

    @property
    def bubble_fraction(self) -> float:
        """Mean over stages of the time a stage is idle before the pipeline's end, over that end."""
        if self.end <= 0:
            return 0.0
        idle = [self.end - sum(e - s for _, _, _, s, e in ops) for ops in self.ops]
        return float(np.mean(idle) / self.end)

    def last_backward(self, stage: int) -> tuple[float, float]:
        """Start and end of a stage's last operation (its last backward)."""
        _, _, _, start, end = self.ops[stage][-1]
        return start, end


def run_analytical(forward: Sequence[Sequence[float]], backward: Sequence[Sequence[float]],
                   p2p_forward: Sequence[float], p2p_backward: Sequence[float], schedule: str,
                   micro_batches: int, blocking: bool = False) -> Timeline:
    """List-schedule the pipeline: ``forward[s][chunk]`` and ``backward[s][chunk]`` seconds per micro-batch,
    ``p2p_forward[s]`` the send from stage s to s+1 (the last to the first for interleaved chunks),
    ``p2p_backward[s]`` from s to s−1 (a slower GPU's stage comes stretched: :meth:`StageCosts.stretched
    <simtrain.parallel.costs.StageCosts.stretched>`). ``blocking``: a stage waits for its send to complete before its
    next operation (Megatron-LM's default); otherwise it goes on computing.

    Examples
    --------
    >>> t = run_analytical([[1.0], [1.0]], [[1.0], [1.0]], [0.5, 0.0], [0.0, 0.5], "gpipe", 2)
    >>> t.end
    7.0
    """
    p, v = len(forward), len(forward[0])
    m = micro_batches
    orders = [stage_order(schedule, s, p, m, v) for s in range(p)]
    last = p * v - 1
    nan = float("nan")
    f_done = [[nan] * m for _ in range(p * v)]   # lists: element access is the inner loop's cost
    b_done = [[nan] * m for _ in range(p * v)]
    pointer = [0] * p
    free = [0.0] * p
    ops: list[list[tuple[str, int, int, float, float]]] = [[] for _ in range(p)]
    # a worklist of stages that may advance: a stage runs until its next operation waits for a neighbour, and is
    # tried again when that neighbour finishes something it may need
    pending = list(range(p))
    queued = [True] * p
    while pending:
        s = pending.pop()
        queued[s] = False
        order = orders[s]
        position = pointer[s]
        clock = free[s]
        stage_ops = ops[s]
        forward_s, backward_s = forward[s], backward[s]
        while position < len(order):
            kind, chunk, micro = order[position]
            vs = chunk * p + s
            if kind == "F":
                if vs == 0:
                    ready = 0.0
                else:
                    before = f_done[vs - 1][micro]
                    if before != before:   # NaN: not yet done
                        break
                    ready = before + p2p_forward[(vs - 1) % p]
                clock = (clock if clock > ready else ready)
                start = clock
                clock += forward_s[chunk]
                f_done[vs][micro] = clock
                neighbour = (s + 1) % p
                hold = p2p_forward[s] if blocking and vs != last else 0.0
            else:
                if vs == last:
                    ready = f_done[vs][micro]
                else:
                    after = b_done[vs + 1][micro]
                    if after != after:
                        break
                    ready = after + p2p_backward[(vs + 1) % p]
                clock = (clock if clock > ready else ready)
                start = clock
                clock += backward_s[chunk]
                b_done[vs][micro] = clock
                neighbour = (s - 1) % p
                hold = p2p_backward[s] if blocking and vs != 0 else 0.0
            stage_ops.append((kind, chunk, micro, start, clock))
            clock += hold   # a blocking send holds its sender until the neighbour has the activations
            position += 1
            if not queued[neighbour] and neighbour != s:
                queued[neighbour] = True
                pending.append(neighbour)
        pointer[s] = position
        free[s] = clock
    if any(pointer[s] < len(orders[s]) for s in range(p)):   # pragma: no cover - the orders are deadlock-free
        raise RuntimeError(f"pipeline schedule {schedule!r} deadlocked")
    return Timeline(ops, float(max(free)))


def run_des(forward: Sequence[Sequence[float]], backward: Sequence[Sequence[float]], schedule: str,
            micro_batches: int, comms: Any, p2p_bytes: float,
            dp_buckets: Sequence[Sequence[Any]],
            perturbations: Any = None, store_and_forward: bool = False,
            blocking: bool = False) -> tuple[Timeline, list[float], list[list[tuple[float, float, float]]]]:
    """Run the pipeline in the DES; returns the timeline and, per stage, the end of its gradient reductions and
    each bucket's ``(start, end, share)`` on its communication stream.

    ``comms`` (:class:`~simtrain.parallel.costs.Comms`) gives the sends' Schedules; ``dp_buckets[s]`` lists stage
    s's gradient reductions (:class:`~simtrain.parallel.costs.DpBucket`), run one after another on the stage's
    communication stream; a bucket is ready when ``ready`` seconds of the backward are done at the rate the earlier
    buckets left it (:mod:`simtrain.training.overlap`), its codec (GPU compute, no network) runs after the codecs
    before it, and its collectives after its codec.
    """
    from simtrain.network.des import Clock, CollectiveRun, FlowNetwork
    from simtrain.training.overlap import compute_end

    p, v = len(forward), len(forward[0])
    m = micro_batches
    env = Clock()
    cluster, capacity = (perturbations.apply(comms.cluster) if perturbations is not None
                         else (comms.cluster, comms.cluster.link_bandwidth_Bps))
    # a perturbed cluster (failed links reroute) is a new cluster: the cache belongs to the unperturbed one
    network = FlowNetwork(env, cluster, store_and_forward=store_and_forward, capacity=capacity,
                          cache=comms.cache if cluster is comms.cluster else None)
    last = p * v - 1
    arrived_f = [[env.event() for _ in range(m)] for _ in range(p * v)]
    arrived_b = [[env.event() for _ in range(m)] for _ in range(p * v)]
    ops: list[list[tuple[str, int, int, float, float]]] = [[] for _ in range(p)]
    dp_end = [0.0] * p
    # each stage's buckets on its stream: (start, end, share of the GPU held)
    dp_busy: list[list[tuple[float, float, float]]] = [[] for _ in range(p)]
    sends = {(s, back): comms.p2p(s, p2p_bytes, backward=back) for s in range(p) for back in (False, True)}

    def deliver(event: Any, schedule: Any) -> Any:
        if p == 1 or p2p_bytes <= 0:
            event.succeed()
            return
        run = CollectiveRun(network, schedule, comms.options)
        run.done.callbacks.append(lambda _: event.succeed())

    def gradients(stage: int, start: float) -> Any:
        coded = start   # when the GPU is through the codecs so far
        for bucket in dp_buckets[stage]:
            # ready when the backward before it is done at the rate the earlier buckets left it; its codec (GPU
            # compute beside the stream) after the codecs before it
            coded = max(compute_end(bucket.ready, dp_busy[stage], start), coded) + bucket.codec
            wait = coded - env.now
            if wait > 0:
                yield env.timeout(wait)
            if bucket.before > 0:   # the stream's own kernels before the collectives, and after them
                yield env.timeout(bucket.before)
            begin = env.now
            for schedule in bucket.schedules:
                run = CollectiveRun(network, schedule, comms.options)
                yield run.done
            dp_busy[stage].append((begin, env.now, bucket.share))
            if bucket.after > 0:
                yield env.timeout(bucket.after)
        dp_end[stage] = env.now

    def stage_process(s: int) -> Any:
        order = stage_order(schedule, s, p, m, v)
        for position, (kind, chunk, micro) in enumerate(order):
            vs = chunk * p + s
            if kind == "F":
                if vs > 0:
                    yield arrived_f[vs][micro]
                duration = forward[s][chunk]
            else:
                if vs < last:
                    yield arrived_b[vs][micro]
                duration = backward[s][chunk]
            start = env.now
            if position == len(order) - 1:
                env.process(gradients(s, start))
            yield env.timeout(duration)
            ops[s].append((kind, chunk, micro, start, env.now))
            if kind == "F":
                if vs < last:
                    deliver(arrived_f[vs + 1][micro], sends[(s, False)])
                    if blocking:   # the stage waits for its send to complete
                        yield arrived_f[vs + 1][micro]
                else:
                    arrived_b[vs][micro].succeed()   # the last virtual stage's backward follows its forward
            elif vs > 0:
                deliver(arrived_b[vs - 1][micro], sends[(s, True)])
                if blocking:
                    yield arrived_b[vs - 1][micro]

    for s in range(p):
        env.process(stage_process(s))
    env.run()
    end = float(max(e for stage_ops in ops for *_, e in stage_ops))
    return Timeline(ops, end), dp_end, dp_busy
