"""The framework in the data-parallel step: how PyTorch DDP or Horovod turn ready gradients into collectives.

simtrain's step overlaps each gradient bucket's collective with the rest of backward. Which gradients travel
together, when their collective may start and what it costs to start it is the framework's business; a
framework (``--framework NAME[:key=value,...]``) decides three things:

* **Groups**: which gradient tensors one collective carries (DDP's buckets, Horovod's fused buffers), in the
  order backward produces them (reverse parameter order).
* **Start times**: when a group may start (DDP: when its last gradient is ready; Horovod: at the first tick of
  its background thread's cycle after that).
* **Stream overheads**: seconds each collective holds the communication stream before its data moves (the
  host-side launch and the cross-stream synchronisation; Horovod's copies into and out of its fusion buffer).

The frameworks:

``ideal``
    Buckets of ``bucket_size`` filled layer by layer, no launch cost: simtrain's behaviour before frameworks were
    modelled (perfect overlap and nothing else).
``ddp`` (default)
    PyTorch ``DistributedDataParallel`` in its steady state (after the bucket rebuild of the first iteration):
    tensors in the order their gradients become ready, the first bucket capped at ``first_bucket`` (unset:
    torch's ``dist._DEFAULT_FIRST_BUCKET_BYTES`` = 1 MiB, ``kDefaultFirstBucketBytes`` in ``c10d/reducer.hpp``, or
    ``bucket_size`` where that is smaller; torch's default applies when ``bucket_cap_mb`` is left at its default,
    otherwise the first bucket is as large as the others: set ``first_bucket`` to ``bucket_size`` to model that; a
    value given is taken as given), every later one at ``bucket_size`` (``bucket_cap_mb``,
    25 MiB, ``kDefaultBucketBytesCap``); a bucket closes with the tensor that reaches its cap
    (``compute_bucket_assignment_by_size``). Each collective costs ``launch`` on the stream. Unless
    ``gradient_as_bucket_view`` (torch's argument, False by default), DDP copies every gradient into its bucket in
    the autograd hook, dividing it by the world size on the way (``mark_variable_ready_dense``: ``at::mul_out``), and
    back into ``.grad`` once backward has ended and the bucket's collective is done (``finalize_backward`` →
    ``copy_bucket_to_grad``: ``grad.copy_``); both run on the compute stream, one kernel a tensor, priced by the
    compute model as streaming element-wise passes (:func:`copy_seconds`). Unless ``broadcast_buffers`` is false
    (torch's argument, True by default), DDP broadcasts the module's buffers (BatchNorm's running statistics) from
    rank 0 before the step's first forward (the forward that follows a forward with gradient sync: under
    ``no_sync`` the later micro-batches skip it), which the forward waits for (:func:`buffer_sync_seconds`).
    A one-GPU run is the model without DDP unless ``one_gpu=wrapped``: a script that wraps the model in DDP
    whatever the world size pays the copies and the buffers' flatten and copies there too.
``after-backward``
    No overlap: the optimizer's ``step()`` reduces the gradients once backward has ended, in buckets of at most
    ``bucket_size`` in parameter order (``torch._utils._take_tensors`` over the parameter groups), one collective
    after the other; each costs ``launch``. Research codes that communicate inside their optimizer do this (the
    signSGD authors' ``SGD_distribute``, 100 MiB buckets).
``horovod``
    Horovod's background thread wakes every ``cycle_time`` (``HOROVOD_CYCLE_TIME``), takes every tensor that became
    ready since and fuses them, in order, into buffers of at most ``fusion_threshold`` bytes
    (``HOROVOD_FUSION_THRESHOLD``); a tensor larger than the threshold travels alone. A buffer of more than one
    tensor is copied into the fusion buffer and out of it (``MEMCPY_IN_FUSION_BUFFER``/``MEMCPY_OUT``), priced by
    the compute model as memory-bound passes. Defaults are Horovod's since v0.21.0 (1 ms, 128 MiB,
    ``horovod/common/operations.cc``; before it 5 ms and 64 MiB, as docs/tensor-fusion.rst still says: give
    ``horovod:cycle_time=5ms,fusion_threshold=64MiB`` for runs of that era). The thread's loop runs on its own
    clock, not the step's, so where its ticks fall against the step is a matter of chance: the step time is the mean
    over ``phases`` (8) evenly spaced alignments (:meth:`Horovod.variants`). Rank 0's negotiation each tick is not
    priced (the ticks come every ``cycle_time``).

The per-collective ``launch`` defaults to the device's kernel launch overhead (its device file's
``launch_overhead``, the compute model's ``kernel_overhead_s``): ProcessGroupNCCL records an event on the compute
stream, makes the NCCL stream wait for it and launches one NCCL kernel per collective. NCCL's own in-kernel base
latency is not in it: that belongs to ``network.protocol: nccl``.

Examples
--------
>>> make_framework("ddp").describe()
'ddp'
>>> make_framework("ddp:first_bucket=1MiB").describe()
'ddp:first_bucket=1048576.0 B'
>>> make_framework("horovod:cycle_time=5ms").get_params()["cycle_time"]
0.005
>>> make_framework("ddp:launch=-1us")
Traceback (most recent call last):
...
simtrain.errors.ConfigError: framework ddp:launch: must be at least 0 s (got '-1us')
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.limits import MAX_BUCKETS, MAX_COLLECTIVE_BYTES
from simtrain.model import ModelSpec, Tensor
from simtrain.model.spec import DTYPE_BYTES
from simtrain.params import Param
from simtrain.registry import Registry, format_spec, make

__all__ = ["BUFFER_DTYPE_BYTES", "CAT_BATCH", "DDP_FIRST_BUCKET_BYTES", "FRAMEWORKS", "HOROVOD_CYCLE_TIME_S",
           "HOROVOD_FUSION_THRESHOLD_BYTES", "HOROVOD_PHASES", "AfterBackward", "Ddp", "Framework", "Group", "Horovod",
           "Ideal", "buffer_dtype", "buffer_sync_seconds", "copy_seconds", "fill_buckets", "framework_costs",
           "make_framework", "plan_groups"]

#: DDP's first-bucket cap: ``torch.distributed._DEFAULT_FIRST_BUCKET_BYTES`` (``kDefaultFirstBucketBytes`` =
#: 1024 * 1024 in ``torch/csrc/distributed/c10d/reducer.hpp``, torch 2.13).
DDP_FIRST_BUCKET_BYTES = float(1 << 20)
#: Horovod's default cycle time since v0.21.0 (``SetCycleTimeMs(1)`` in ``horovod/common/operations.cc``; the
#: changelog of 0.21.0: "Changed default cycle time from 5ms to 1ms and fusion threshold from 64MB to 128MB").
HOROVOD_CYCLE_TIME_S = 1e-3
#: Horovod's default fusion threshold since v0.21.0 (``SetTensorFusionThresholdBytes(128 * 1024 * 1024)``).
HOROVOD_FUSION_THRESHOLD_BYTES = float(128 << 20)
#: Phases of Horovod's cycle against the step that a step is averaged over (:meth:`Horovod.variants`): with 8 the
#: mean moves by well under a per cent of the step from 8 to 32 on the validation's Horovod runs (docs/design.md).
HOROVOD_PHASES = 8

#: Frameworks by name (third-party ones through the ``simtrain.frameworks`` entry-point group).
FRAMEWORKS: Registry[Any] = Registry("framework", "simtrain.frameworks")

_LAUNCH = Param("launch", "time", None, "stream time each collective costs before its data moves (launch and "
                "cross-stream synchronisation; unset: the device's kernel launch overhead)", minimum=0.0, maximum=1.0,
                unit="s")


@dataclass(frozen=True)
class Group:
    """Gradient tensors one collective carries: ``first`` is the index of the earliest layer among them (the
    layer whose backward completes the group), ``ready`` the time (from the start of backward) it may start."""

    first: int
    tensors: list[Tensor]
    names: list[str]
    ready: float
    copy_bytes: float = 0.0   # bytes copied into a fusion buffer (and out of it again) for this group


def fill_buckets(model: ModelSpec, caps: Sequence[float], width: int,
                 per_tensor: bool = True) -> list[tuple[int, list[Tensor], list[str]]]:
    """(index of the earliest layer, tensors, layer names) of each bucket, in the order backward fills them.

    Bucket ``i`` closes once it holds at least ``caps[min(i, len(caps) - 1)]`` bytes, after the tensor that got it
    there (``per_tensor``, as DDP's ``compute_bucket_assignment_by_size``) or after the whole layer (simtrain's
    layer-granular buckets before frameworks were modelled).

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> buckets = fill_buckets(load_model("resnet50"), [2**20, 25 * 2**20], 4)
    >>> sum(t.numel for t in buckets[0][1]) * 4 >= 2**20 > sum(t.numel for t in buckets[0][1][:-1]) * 4
    True
    """
    buckets: list[tuple[int, list[Tensor], list[str]]] = []
    size = 0.0
    tensors: list[Tensor] = []
    names: list[str] = []

    def cap() -> float:
        if len(buckets) >= MAX_BUCKETS:   # before the step plans a collective per bucket (limits.MAX_BUCKETS)
            raise ConfigError(f"the model's gradients fill more than {MAX_BUCKETS:,} buckets of this size: raise "
                              "it, or shard the model with a parallel plan", key="bucket_size", value=caps[-1])
        return caps[min(len(buckets), len(caps) - 1)]

    for index in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[index]
        if not layer.num_params:
            continue
        if not per_tensor:
            size += layer.num_params * width
            tensors.extend(layer.tensors)
            names.append(layer.name)
            if size >= cap():
                buckets.append((index, tensors, names))
                size, tensors, names = 0.0, [], []
            continue
        for tensor in layer.tensors:
            size += tensor.numel * width
            tensors.append(tensor)
            if not names or names[-1] != layer.name:
                names.append(layer.name)
            if size >= cap():
                buckets.append((index, tensors, names))
                size, tensors, names = 0.0, [], []
    if tensors:
        first = min(i for i, layer in enumerate(model.layers) if layer.num_params)
        buckets.append((first, tensors, names))
    return buckets


class Framework:
    """A framework's behaviour in the step; subclasses set ``name`` and ``parameters``."""

    name = "framework"
    parameters: tuple[Param, ...] = ()

    def __init__(self, **params: Any) -> None:
        self.params = params

    def variants(self) -> list[Framework]:
        """The framework's equally likely states against the step, each planned as its own step and the step time
        averaged over them (one: the framework is locked to the step; Horovod's loop is not,
        :meth:`Horovod.variants`)."""
        return [self]

    def get_params(self) -> dict[str, Any]:
        """The parameters, defaults filled in."""
        return dict(self.params)

    def describe(self) -> str:
        """``NAME:key=value,...`` of the parameters that are set."""
        return format_spec(self.name, {k: v for k, v in self.params.items() if v is not None}, self.parameters)

    def groups(self, model: ModelSpec, bucket_bytes: float, width: int, done_at: Sequence[float],
               start: float = 0.0) -> list[Group]:
        """The collectives' groups; ``done_at[i]`` is when layer ``i``'s backward ends (from backward's start),
        which begins ``start`` after the step's."""
        raise NotImplementedError

    def copies_gradients(self) -> bool:
        """Whether the framework copies each gradient into its bucket during backward and back after the
        collective, on the compute stream (DDP without ``gradient_as_bucket_view``)."""
        return False

    def syncs_buffers(self) -> bool:
        """Whether the framework broadcasts the model's buffers from rank 0 before each forward (DDP's
        ``broadcast_buffers``), on the compute stream's path (:func:`buffer_sync_seconds`)."""
        return False

    def wraps_one_gpu(self) -> bool:
        """Whether a one-GPU run runs the framework all the same (its copies and buffer broadcast; DDP's
        ``one_gpu=wrapped``)."""
        return False

    def launch_s(self, compute: Any) -> float:
        """Stream time one collective costs before its data moves."""
        launch = self.params.get("launch")
        return float(compute.kernel_overhead_s or 0.0) if launch is None else float(launch)

    def apply(self, jobs: Sequence[Any], groups: Sequence[Group], compute: Any, width: int) -> None:
        """Set each job's ``launch_s``: the launch, plus the fusion-buffer copies on a group's first job."""
        launch = self.launch_s(compute)
        seen: set[int] = set()
        for job in jobs:
            extra = 0.0
            if 0 <= job.bucket < len(groups) and job.bucket not in seen:
                seen.add(job.bucket)
                nbytes = groups[job.bucket].copy_bytes
                if nbytes:   # copy in before the collective and out after it: read and write, twice
                    extra = 2 * compute.kernel_time(0.0, 2 * nbytes, "fp32")
            job.launch_s = launch + extra


@FRAMEWORKS.decorator("ideal")
class Ideal(Framework):
    """Layer-granular buckets of ``bucket_size``, no launch or synchronisation cost (perfect overlap)."""

    name = "ideal"

    def groups(self, model: ModelSpec, bucket_bytes: float, width: int, done_at: Sequence[float],
               start: float = 0.0) -> list[Group]:
        return [Group(first, tensors, names, float(done_at[first]))
                for first, tensors, names in fill_buckets(model, [bucket_bytes], width, per_tensor=False)]

    def launch_s(self, compute: Any) -> float:
        return 0.0


@FRAMEWORKS.decorator("ddp")
class Ddp(Framework):
    """PyTorch DDP: a small first bucket, then ``bucket_size`` buckets, a launch per collective."""

    name = "ddp"
    parameters = (
        # None: torch's rule, its 1 MiB default giving way to a smaller bucket size; a value given is honoured as
        # given (a default recognised by its value would also clamp an explicit 1 MiB)
        Param("first_bucket", "size", None,
              "cap of the first bucket (unset: torch's _DEFAULT_FIRST_BUCKET_BYTES, 1 MiB, or the bucket size where "
              "that is smaller)", minimum=1.0, maximum=float(MAX_COLLECTIVE_BYTES), unit="B"),
        Param("gradient_as_bucket_view", "boolean", None,
              "the gradients are views of the buckets (torch's gradient_as_bucket_view): no copies into the buckets "
              "and back; unset or false, torch's default, copies each gradient in during backward and out after "
              "the all-reduce, on the compute stream"),
        Param("broadcast_buffers", "boolean", None,
              "broadcast the module's buffers (BatchNorm's running statistics) from rank 0 before the step's first "
              "forward, as torch's broadcast_buffers (forward_sync_buffers from torch 2.13) does: unset or true, "
              "torch's default; false: no broadcast"),
        Param("one_gpu", "choice", None,
              "a one-GPU run: bare (unset: the model without DDP, the non-distributed path of most scripts) or "
              "wrapped (DDP wraps it all the same: its copies and buffer broadcast run; the all-reduce of one rank "
              "moves nothing)", choices=("bare", "wrapped")),
        _LAUNCH,
    )

    def copies_gradients(self) -> bool:
        return not self.params.get("gradient_as_bucket_view")

    def syncs_buffers(self) -> bool:
        return self.params.get("broadcast_buffers") is not False

    def wraps_one_gpu(self) -> bool:
        return self.params.get("one_gpu") == "wrapped"

    def groups(self, model: ModelSpec, bucket_bytes: float, width: int, done_at: Sequence[float],
               start: float = 0.0) -> list[Group]:
        # torch's bucket_size_limits: [first, bucket_cap]; its default first cap (1 MiB) applies only with the
        # default bucket_cap_mb, so at a smaller bucket size the default gives way to it; a first cap given above
        # bucket_size is a larger first bucket, as torch makes it
        given = self.params["first_bucket"]
        caps = [min(DDP_FIRST_BUCKET_BYTES, bucket_bytes) if given is None else float(given), bucket_bytes]
        return [Group(first, tensors, names, float(done_at[first]))
                for first, tensors, names in fill_buckets(model, caps, width)]


@FRAMEWORKS.decorator("horovod")
class Horovod(Framework):
    """Horovod: every ``cycle_time`` the ready tensors are fused into buffers of ``fusion_threshold`` bytes."""

    name = "horovod"
    parameters = (
        # Horovod's cycle is milliseconds; a minute is far past any setting and keeps ticks countable
        Param("cycle_time", "time", HOROVOD_CYCLE_TIME_S, "period of the background thread (HOROVOD_CYCLE_TIME)",
              minimum=0, exclusive_minimum=True, maximum=60.0, unit="s"),
        Param("fusion_threshold", "size", HOROVOD_FUSION_THRESHOLD_BYTES,
              "fusion buffer size (HOROVOD_FUSION_THRESHOLD)", minimum=1.0, maximum=float(MAX_COLLECTIVE_BYTES),
              unit="B"),
        # each phase is a step planned (and, under the DES, simulated) again: a few dozen bound the cost
        Param("phases", "integer", HOROVOD_PHASES,
              "evenly spaced phases of the background thread's cycle against the step's start that the step time "
              "is averaged over (its loop is not locked to the step)", minimum=1, maximum=64),
        _LAUNCH,
    )

    #: where the thread's ticks fall against the step's start, in seconds after it (modulo the cycle)
    offset = 0.0

    def variants(self) -> list[Framework]:
        """One Horovod per phase of its loop against the step: ticks ``(j + 1/2) · cycle / phases`` after the step's
        start and every ``cycle`` after that, ``j = 0 … phases - 1``.

        Horovod's background thread sleeps on its own clock (from v0.13.3 the remainder of the cycle since its last
        start, before it a fixed 5 ms after each tick's work), so where its ticks fall against a step drifts from
        step to step; a step planned at one alignment would hinge on it (a per cent of compute more or less moves
        a gradient past a tick). The step time is the mean over evenly spaced alignments, the expectation over a
        uniform phase.

        Examples
        --------
        >>> [round(v.offset * 1e3, 3) for v in make_framework("horovod:cycle_time=4ms,phases=4").variants()]
        [0.5, 1.5, 2.5, 3.5]
        """
        cycle, count = float(self.params["cycle_time"]), int(self.params["phases"])
        variants: list[Framework] = []
        for j in range(count):
            variant = copy.copy(self)
            variant.params = dict(self.params)   # no state shared between the copies
            variant.offset = (j + 0.5) * cycle / count
            variants.append(variant)
        return variants

    def groups(self, model: ModelSpec, bucket_bytes: float, width: int, done_at: Sequence[float],
               start: float = 0.0) -> list[Group]:
        """Tensors grouped by the cycle tick after they are ready, then fused in order up to the threshold.

        ``bucket_bytes`` plays no part: Horovod has no buckets (its fusion threshold does their work).
        """
        cycle = float(self.params["cycle_time"])
        threshold = float(self.params["fusion_threshold"])
        groups: list[Group] = []
        current: list[Tensor] = []
        names: list[str] = []
        size = 0.0
        first = -1
        tick = -1.0

        def close() -> None:
            nonlocal current, names, size
            if current:
                groups.append(Group(first, current, names, tick, size if len(current) > 1 else 0.0))
            current, names, size = [], [], 0.0

        for index in range(len(model.layers) - 1, -1, -1):
            layer = model.layers[index]
            if not layer.num_params:
                continue
            # the first tick at or after the gradient exists; ticks fall ``offset`` after the step's start and
            # every cycle after that, the step's start ``start`` before backward's
            at = _next_tick(float(done_at[index]) + start - self.offset, cycle) + self.offset - start
            if at != tick:
                close()
                tick = at
            for tensor in layer.tensors:
                nbytes = tensor.numel * width
                if current and size + nbytes > threshold:
                    close()
                current.append(tensor)
                size += nbytes
                first = index
                if not names or names[-1] != layer.name:
                    names.append(layer.name)
        close()
        return groups


@FRAMEWORKS.decorator("after-backward")
class AfterBackward(Framework):
    """Every collective after backward: the optimizer's step reduces the gradients in buckets of ``bucket_size``."""

    name = "after-backward"
    parameters = (_LAUNCH,)

    def groups(self, model: ModelSpec, bucket_bytes: float, width: int, done_at: Sequence[float],
               start: float = 0.0) -> list[Group]:
        """Buckets in parameter order, each of at most ``bucket_bytes`` (a larger tensor alone), all ready when
        backward ends: as ``torch._utils._take_tensors`` groups ``optimizer.param_groups`` inside a ``step()``
        that all-reduces them (research codes do so: the signSGD authors' ``SGD_distribute``)."""
        end = float(max(done_at, default=0.0))
        groups: list[Group] = []
        tensors: list[Tensor] = []
        names: list[str] = []
        first = -1
        size = 0.0
        for index, layer in enumerate(model.layers):
            for tensor in layer.tensors if layer.num_params else ():
                nbytes = tensor.numel * width
                if tensors and size + nbytes > bucket_bytes:
                    groups.append(Group(first, tensors, names, end))
                    tensors, names, size = [], [], 0.0
                if not tensors:
                    first = index
                tensors.append(tensor)
                size += nbytes
                if not names or names[-1] != layer.name:
                    names.append(layer.name)
        if tensors:
            groups.append(Group(first, tensors, names, end))
        return groups


def _next_tick(time: float, cycle: float) -> float:
    """The first multiple of ``cycle`` at or after ``time`` (a hair of rounding forgiven)."""
    ratio = time / cycle
    # the allowance shrinks with a time far below one cycle, which still waits for the first tick
    ticks = math.ceil(ratio - 1e-9 * min(ratio, 1.0))
    return max(ticks, 0) * cycle


def copy_seconds(tensors: Sequence[Tensor], width: int, compute: Any) -> float:
    """Seconds a framework's copy of ``tensors`` (gradients of ``width`` bytes an element) takes on the compute
    stream: one streaming element-wise kernel a tensor, each reading and writing its bytes at the device's streaming
    (triad) fraction of its bandwidth, at least the launch floor.

    DDP's copies are TensorIterator's vectorized ``copy_`` and ``mul_out``: a STREAM copy and scale, which reach the
    triad's rate (0.75-0.86 of an H100's peak measured for such kernels; docs/compute-model.md, "Native kernels"),
    as Horovod's fusion-buffer copies and FSDP2's copies are priced; the lower native fraction is PyTorch's
    normalisation kernels' and eager chains'.

    Examples
    --------
    >>> from simtrain.compute import ComputeModel
    >>> from simtrain.model import load_model
    >>> cm = ComputeModel.roofline("a100")
    >>> tensors = load_model("resnet50").tensors
    >>> round(copy_seconds(tensors, 4, cm) * 1e3, 3)   # 102 MB read and written in 161 kernels, most at the floor
    0.682
    """
    return float(sum(compute.kernel_time(0.0, 2.0 * tensor.numel * width, "fp32") for tensor in tensors))


#: Tensors ``torch.cat`` gathers in one kernel (``CAT_ARRAY_BATCH_SIZE`` in ATen's CUDA ``Shape.cu``): a flatten of
#: more tensors takes one kernel per batch.
CAT_BATCH = 128


def buffer_sync_seconds(buffers: Sequence[Tensor], compute: Any, broadcast: Any) -> float:
    """Seconds DDP's broadcast of the module buffers holds the compute stream before a forward.

    ``DistributedDataParallel._sync_buffers`` calls ``broadcast_coalesced`` (``c10d/comm.cpp``): the buffers are
    grouped by dtype in the order the dtypes first appear (a BatchNorm's fp32 running statistics, then its int64
    ``num_batches_tracked`` counters), each group is flattened on the compute stream (``torch.cat``: one kernel per
    :data:`CAT_BATCH` tensors) and broadcast from rank 0 by NCCL on its own stream, at most two groups in flight
    (``kMaxInFlight``); each group's ``finish()`` makes the compute stream wait for its broadcast and copies every
    buffer back (``copy_``, one kernel each), on every rank, rank 0 included. So a second group's flatten runs while
    the first broadcasts, and the first's copies while the second broadcasts. ``broadcast(nbytes)`` is a
    broadcast's seconds (0 on one GPU: NCCL's broadcast over one rank, in place, moves nothing). The groups fit
    DDP's 250 MiB ``broadcast_bucket_size`` for any model simtrain describes, so each is one broadcast.

    Examples
    --------
    >>> from simtrain.compute import ComputeModel
    >>> from simtrain.model import load_model
    >>> cm = ComputeModel.roofline("a100")
    >>> buffers = load_model("resnet50").buffers   # 53 BatchNorms: 106 running statistics and 53 counters
    >>> round(buffer_sync_seconds(buffers, cm, lambda nbytes: 0.0) * 1e6, 1)   # 161 kernels at the launch floor
    644.0
    >>> round(buffer_sync_seconds(buffers, cm, lambda nbytes: 20e-6) * 1e6, 1)   # the counters' flatten overlaps
    660.0
    """
    groups: dict[str, list[Tensor]] = {}   # by dtype, as take_tensors groups them (fp16 and bf16 apart)
    for tensor in buffers:
        groups.setdefault(buffer_dtype(tensor), []).append(tensor)
    clock = 0.0        # the compute stream
    stream = 0.0       # NCCL's stream
    in_flight: list[tuple[float, float]] = []   # (its broadcast's end, its copies' seconds)

    def finish() -> float:
        end, copies = in_flight.pop(0)
        return max(clock, end) + copies

    for dtype, group in groups.items():
        width = BUFFER_DTYPE_BYTES.get(dtype, 4)
        if len(in_flight) >= 2:
            clock = finish()
        nbytes = float(sum(t.numel for t in group) * width)
        # streaming kernels, as the gradients' copies (copy_seconds)
        clock += compute.kernel_time(0.0, 2.0 * nbytes, "fp32", kernels=math.ceil(len(group) / CAT_BATCH))
        stream = max(stream, clock) + float(broadcast(nbytes))
        in_flight.append((stream, copy_seconds(group, width, compute)))   # a copy_ a buffer, as DDP's gradients
    while in_flight:
        clock = finish()
    return clock


#: Bytes an element of a buffer's dtype (:attr:`Tensor.dtype`)
BUFFER_DTYPE_BYTES = {**{name: DTYPE_BYTES[name] for name in ("fp64", "fp32", "tf32", "fp16", "bf16")},
                      "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1}


def buffer_dtype(tensor: Tensor) -> str:
    """A buffer's dtype: its own, or, where it has none, a 0-d buffer's ``int64`` (a counter) and any other's
    ``fp32``; its element's bytes are :data:`BUFFER_DTYPE_BYTES`'s (4 for a dtype not listed).

    Examples
    --------
    >>> buffer_dtype(Tensor("pos", (512,), "int64")), buffer_dtype(Tensor("bn.num_batches_tracked", ()))
    ('int64', 'int64')
    """
    if tensor.dtype is not None:
        return tensor.dtype
    return "fp32" if tensor.shape else "int64"


def make_framework(spec: str | Framework) -> Framework:
    """A framework from ``NAME[:key=value,...]`` (its parameters validated), or the object itself.

    Examples
    --------
    >>> make_framework("horovod:fusion_threshold=64MiB").get_params()["fusion_threshold"]
    67108864.0
    """
    if isinstance(spec, Framework):
        return spec
    return make(FRAMEWORKS, spec, key="framework")


def plan_groups(framework: Framework, model: ModelSpec, bucket_bytes: float, width: int, forward_time: float,
                done_at: Sequence[float]) -> tuple[list[tuple[int, list[Tensor], list[str]]], np.ndarray,
                                                    list[Group]]:
    """The step's buckets (as the planner keeps them), their start times from the step's start, and the groups.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> m = load_model("resnet50")
    >>> done = [0.001 * (len(m.layers) - i) for i in range(len(m.layers))]
    >>> buckets, ready, groups = plan_groups(make_framework("horovod"), m, 25 * 2**20, 4, 0.05, done)
    >>> bool(np.allclose(np.round(ready / 1e-3), ready / 1e-3))   # every start on a 1 ms cycle boundary
    True
    """
    groups = framework.groups(model, bucket_bytes, width, done_at, forward_time)
    buckets = [(g.first, g.tensors, g.names) for g in groups]
    return buckets, np.array([forward_time + g.ready for g in groups]), groups


def framework_costs(jobs: Sequence[Any], forward_time: float, factor: float = 1.0) -> dict[str, float]:
    """``launch_overhead_s`` (stream time of all launches, synchronisations and fusion copies of a step) and
    ``first_bucket_wait_s`` (from the end of forward to the earliest start of an overlapped collective, on the GPU
    whose compute is stretched by ``factor``).

    Examples
    --------
    >>> from types import SimpleNamespace as J
    >>> framework_costs([J(launch_s=4e-6, ready=0.012, delay=0.0, after_update=False)] * 2, 0.01)
    {'launch_overhead_s': 8e-06, 'first_bucket_wait_s': 0.002}
    """
    from simtrain.training.data_parallel import arrivals  # here: data_parallel imports this module

    overlapped = [job for job in jobs if not job.after_update]
    # when the first collective's data is there (its codec queued behind the codecs before it)
    wait = factor * ((float(np.nanmin(arrivals(overlapped, np.ones(1)))) if overlapped else forward_time)
                     - forward_time)
    return {"launch_overhead_s": float(sum(job.launch_s for job in jobs)),
            "first_bucket_wait_s": float(max(wait, 0.0))}
