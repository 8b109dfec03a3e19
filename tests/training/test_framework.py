"""The framework in the step (simtrain.training.framework): ideal, DDP and Horovod."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.run import TrainingRun
from simtrain.training import simulate
from simtrain.training.data_parallel import CommJob, _comm_analytical, plan, report, resolve, run_plan
from simtrain.training.framework import (
    DDP_FIRST_BUCKET_BYTES,
    HOROVOD_CYCLE_TIME_S,
    fill_buckets,
    make_framework,
    plan_groups,
)

# Step times of these runs before frameworks were modelled (simtrain at commit 145805a, recorded with
# `simulate(...)`, when the default algorithm was ring): the `ideal` framework must give them bit for bit. The
# step times were re-recorded when the compute model began charging residual sums and CUTLASS's tiles
# (docs/compute-model.md); the buckets and communication times are the ones of 145805a (the DES's to the 15th digit,
# its events now falling at other times). ABCI's were re-recorded when the catalog's in-node links took 0.3 us (NCCL's
# LL hop over NVLink as a path of two links, where they took 1 us): 24 in-node steps of the multidim ring, 16.8 us.
# The step times were re-recorded again when a GEMM kernel began paying its launch overhead on top of its work
# (OpenXLA's measured GEMM table), and BERT's once more when its attention dropout took the probabilities (heads x
# seq x seq) instead of the attention's output; the buckets and communication times did not move. BERT's again when
# its GELU began running at the bandwidth PyTorch's native kernels reach (docs/compute-model.md, "Native kernels").
BEFORE = [
    (("resnet50", "abci"), {"gpus": 64, "batch": 32, "dtype": "fp16", "algorithm": "multidim-ring"},
     0.03154595941333332, 2, 0.00453189544),
    (("bert-base", "dgx-h100"), {"gpus": 64, "batch": 16, "dtype": "bf16", "algorithm": "ring"},
     0.01428771088475001, 7, 0.0112677264),
    (("vgg16", "cloud-25g"), {"gpus": 64, "batch": 32, "scheme": "powersgd:rank=4", "algorithm": "ring"},
     0.15533382157135173, 5, 0.0575415288),
    (("resnet50", "torus-2d"), {"gpus": 16, "batch": 32, "engine": "des", "algorithm": "ring"}, 0.0636053275070356, 4,
     0.00369027612626565),
]


@pytest.mark.parametrize(("where", "params", "step", "buckets", "comm"), BEFORE)
def test_ideal_reproduces_the_step_before_frameworks(where, params, step, buckets, comm):
    # identical GPUs, as these were recorded before the step waited for the slowest (gpu_spread)
    r = simulate(*where, framework="ideal", gpu_spread=0.0, **params)
    if params.get("engine") == "des":  # the DES replays jobs that run alone: the same times to the last bits
        assert (r.step_time_s, r.num_buckets, r.comm_time_s) == (pytest.approx(step, rel=1e-14), buckets,
                                                                 pytest.approx(comm, rel=1e-12))
    else:
        assert (r.step_time_s, r.num_buckets, r.comm_time_s) == (step, buckets, comm)
    assert r.framework == "ideal" and r.launch_overhead_s == 0.0


def test_ddp_is_the_default_and_its_first_bucket_is_torch_default():
    assert TrainingRun("resnet50", "abci").framework == "ddp"
    m = load_model("resnet50")
    buckets = fill_buckets(m, [DDP_FIRST_BUCKET_BYTES, 25 * 2**20], 4)
    sizes = [4 * sum(t.numel for t in tensors) for _, tensors, _ in buckets]
    last = 4 * buckets[0][1][-1].numel
    # closes with the tensor that reaches the cap (compute_bucket_assignment_by_size)
    assert DDP_FIRST_BUCKET_BYTES <= sizes[0] < DDP_FIRST_BUCKET_BYTES + last
    assert all(s >= 25 * 2**20 for s in sizes[1:-1])
    assert sum(sizes) == 4 * m.num_params
    # reverse parameter order: the first bucket holds the last layer's gradients
    assert buckets[0][2][0] == next(layer.name for layer in reversed(m.layers) if layer.num_params)


def test_ddp_adds_exactly_one_launch_per_collective_when_the_stream_is_busy():
    """Every job ready at once: the stream never idles, so the end moves by exactly n × launch."""
    run = TrainingRun("vgg16", "cloud-25g", gpus=32, batch=32)
    resolved = resolve(run)
    step = plan(resolved)
    jobs = step.phases[0][2]
    n = len(jobs)
    assert n == len(step.buckets) > 3
    launch = 20e-6

    def end(per_job: float) -> float:
        queued = [CommJob(j.label, j.schedule, j.bucket, 0.0, 0.0, key=j.key, launch_s=per_job) for j in jobs]
        out = _comm_analytical(queued, resolved.cluster, resolved.network, 0.0, 0.0, resolved.cache)
        return float(out.comm_end.max())

    assert end(launch) - end(0.0) == pytest.approx(n * launch, rel=1e-9)


def test_ddp_launch_is_stream_time_in_the_whole_step():
    base = simulate("vgg16", "cloud-25g", gpus=32, batch=32, framework="ddp:launch=0s")
    slow = simulate("vgg16", "cloud-25g", gpus=32, batch=32, framework="ddp:launch=50us")
    assert slow.num_buckets == base.num_buckets
    assert slow.launch_overhead_s == pytest.approx(base.num_buckets * 50e-6)
    assert base.launch_overhead_s == 0.0
    # communication-bound: once the first bucket starts the stream is never idle, so every launch adds to the step
    assert slow.step_time_s - base.step_time_s == pytest.approx(base.num_buckets * 50e-6, rel=1e-6)


def test_ddp_default_launch_is_the_devices_kernel_launch_overhead():
    r = simulate("resnet50", "abci", gpus=16, batch=32)
    resolved = resolve(TrainingRun("resnet50", "abci", gpus=16, batch=32))
    assert r.launch_overhead_s == pytest.approx(r.num_buckets * resolved.compute.kernel_overhead_s)
    assert r.framework.startswith("ddp")


def test_horovod_cycle_quantises_start_times_in_closed_form():
    """Layer i's backward ends at (i+1)·d before backward's end; tick = ceil((F + done)/c)·c: closed form."""
    m = load_model("resnet50")
    n = len(m.layers)
    d, forward, cycle = 0.37e-3, 0.0123, 1e-3
    done = [d * (n - i) for i in range(n)]
    framework = make_framework(f"horovod:cycle_time={cycle}s,fusion_threshold=1GiB")   # ticks at 0, c, 2c, ...
    _, ready, groups = plan_groups(framework, m, 25 * 2**20, 4, forward, done)
    expected_ticks = sorted({math.ceil((forward + done[i]) / cycle - 1e-9) * cycle
                             for i, layer in enumerate(m.layers) if layer.num_params})
    assert np.allclose(ready, expected_ticks, rtol=0, atol=1e-12)   # one fused buffer per tick (threshold large)
    for group, start in zip(groups, ready):
        assert group.ready + forward == pytest.approx(start)
    assert sum(t.numel for g in groups for t in g.tensors) == m.num_params


def test_horovod_fusion_threshold_splits_a_cycle():
    m = load_model("resnet50")
    done = [0.0] * len(m.layers)   # every gradient ready at the same tick
    threshold = 8 * 2**20
    _, ready, groups = plan_groups(make_framework(f"horovod:fusion_threshold={threshold}B"), m, 0, 4, 0.0, done)
    assert np.all(ready == 0.0)
    for g in groups:
        size = 4 * sum(t.numel for t in g.tensors)
        assert size <= threshold or len(g.tensors) == 1
        assert g.copy_bytes == (size if len(g.tensors) > 1 else 0.0)   # one tensor travels in place
    assert len(groups) >= math.ceil(4 * m.num_params / threshold)


def test_horovod_ticks_fall_at_the_variants_phase_of_the_cycle():
    m = load_model("resnet50")
    done = [0.37e-3 * (len(m.layers) - i) for i in range(len(m.layers))]
    for variant in make_framework("horovod:cycle_time=2ms,phases=4").variants():
        _, ready, _ = plan_groups(variant, m, 0, 4, 0.0123, done)
        ticks = (ready - variant.offset) / 2e-3   # whole cycles after the variant's first tick
        assert np.allclose(ticks, np.round(ticks), atol=1e-9)
        assert ready.min() >= 0.0123 + min(done) - 1e-12


def test_horovod_step_is_the_mean_over_its_loop_phases():
    """Each phase is a step of its own; the step time is their mean, whatever phases=1's single alignment gives."""
    keys = {"gpus": 16, "batch": 32, "dtype": "fp16"}
    run = TrainingRun("resnet50", "abci", framework="horovod:cycle_time=5ms,phases=4", **keys)
    resolved = resolve(run)
    step = plan(resolved)
    assert len(step.phases) == 4 and len({id(jobs) for _, _, jobs in step.phases}) == 4
    outcomes = run_plan(resolved, step)
    mean = sum(t for _, _, _, t in outcomes) / 4
    assert report(resolved, step, outcomes).step_time_s == pytest.approx(mean, rel=1e-12)
    assert simulate(run).step_time_s == pytest.approx(mean, rel=1e-12)
    assert len({round(t, 12) for _, _, _, t in outcomes}) > 1   # the alignment matters to one step


def test_horovod_in_the_step_starts_buckets_on_cycle_ticks():
    r = simulate("resnet50", "abci", gpus=64, batch=32, dtype="fp16", framework="horovod:cycle_time=5ms")
    # the ticks of the typical GPU's clock, stretched with its compute as the slowest GPU's (docs/framework.md); the
    # report's buckets are its first phase's, ticks 5/16 ms after the step's start and every 5 ms after that
    ticks = (np.array([b.ready_s for b in r.buckets]) / r.slowest_gpu_factor - 5e-3 / 16) / 5e-3
    assert np.allclose(ticks, np.round(ticks), atol=1e-9)
    assert all(b.start_s >= b.ready_s for b in r.buckets)
    assert r.first_bucket_wait_s > 0 and r.launch_overhead_s > 0
    assert HOROVOD_CYCLE_TIME_S == 1e-3


@pytest.mark.parametrize("framework", ["ddp", "ddp:launch=30us", "horovod", "horovod:cycle_time=2ms",
                                       "after-backward"])
def test_engines_agree_on_an_uncontended_step(framework):
    # a ring, on which the engines time a collective alike (auto's small buckets run trees in a few chunks, whose
    # later chunks the analytical engine paces by a full pipeline: docs/design.md, "Chunks")
    analytical = simulate("resnet50", "torus-2d", gpus=16, batch=32, framework=framework, algorithm="ring")
    des = simulate("resnet50", "torus-2d", gpus=16, batch=32, framework=framework, engine="des", algorithm="ring")
    assert des.step_time_s == pytest.approx(analytical.step_time_s, rel=1e-6)
    # the time in collectives: the DES's busiest rank's (queued buckets' overlap between ranks is not counted twice;
    # it counted 8.776 ms against 8.117 under after-backward on 16 A100); Horovod's ticks skew ranks a little
    assert des.comm_time_s == pytest.approx(analytical.comm_time_s, rel=1e-2)
    assert des.launch_overhead_s == analytical.launch_overhead_s
    assert [b.ready_s for b in des.buckets] == [b.ready_s for b in analytical.buckets]


def test_report_says_the_framework_and_its_costs():
    r = simulate("resnet50", "abci", gpus=16, batch=32, framework="ddp:first_bucket=2MiB")
    data = json.loads(json.dumps(r.to_dict()))
    assert data["framework"] == "ddp:first_bucket=2097152.0 B"   # with its unit: a spec simtrain reads back
    assert data["config"]["framework"] == "ddp:first_bucket=2MiB"
    assert data["launch_overhead_s"] > 0
    # the first bucket waits for backward to produce its gradients, no longer
    assert 0 < data["first_bucket_wait_s"] < r.backward_time_s
    # from the end of forward, which follows DDP's buffer broadcast
    assert r.first_bucket_wait_s == pytest.approx(r.buckets[0].ready_s - r.buffer_sync_s
                                                  - r.forward_time_s * r.slowest_gpu_factor)


def test_a_smaller_first_bucket_starts_communication_sooner():
    small = simulate("resnet50", "abci", gpus=16, batch=32, framework="ddp")
    large = simulate("resnet50", "abci", gpus=16, batch=32, framework="ddp:first_bucket=25MiB")
    assert small.first_bucket_wait_s < large.first_bucket_wait_s


@pytest.mark.parametrize(("spec", "key"), [("nope", "framework"), ("ddp:first_bucket=0B", "framework ddp:first_bucket"),
                                           ("horovod:cycle_time=0s", "framework horovod:cycle_time"),
                                           ("ddp:cycle_time=1ms", "framework ddp")])
def test_bad_framework_is_one_clear_error(spec, key):
    with pytest.raises(ConfigError) as info:
        simulate("resnet50", "abci", gpus=8, framework=spec)
    assert info.value.key.startswith(key)


def test_single_gpu_has_no_framework_cost():
    r = simulate("resnet50", "torus-2d", gpus=1, batch=32)
    assert r.num_buckets == 0 and r.launch_overhead_s == 0.0 and r.first_bucket_wait_s == 0.0


@pytest.mark.parametrize("scheme", ["powersgd:rank=4", "local-sgd"])
def test_engines_agree_with_launches_on_every_kind_of_job(scheme):
    """Overlapped jobs (PowerSGD's two per bucket) and model averaging after the update both pay the launch (on a
    ring, where the engines agree exactly; `auto`'s chunked trees take a full pipeline's pace analytically)."""
    # gradients as bucket views: DDP's copies back, after backward, would hide the launches' delay of the jobs
    common = {"gpus": 16, "batch": 32, "scheme": scheme, "framework": "ddp:launch=30us,gradient_as_bucket_view=true",
              "algorithm": "ring"}
    analytical = simulate("resnet50", "torus-2d", **common)
    des = simulate("resnet50", "torus-2d", engine="des", **common)
    assert des.step_time_s == pytest.approx(analytical.step_time_s, rel=1e-9)
    free = simulate("resnet50", "torus-2d", **{**common, "framework": "ddp:launch=0s,gradient_as_bucket_view=true"})
    assert analytical.step_time_s > free.step_time_s


def test_after_backward_buckets_in_parameter_order_all_ready_when_backward_ends():
    """torch's ``_take_tensors``: a bucket holds at most ``bucket_size`` (a larger tensor alone), in the order of the
    parameters; every bucket may start only when backward has ended."""
    m = load_model("resnet50")
    done = [0.001 * (len(m.layers) - i) for i in range(len(m.layers))]
    cap = 8 * 2**20
    _, ready, groups = plan_groups(make_framework("after-backward"), m, cap, 4, 0.05, done)
    assert np.all(ready == 0.05 + max(done))
    order = [t.name for g in groups for t in g.tensors]
    assert order == [t.name for layer in m.layers for t in layer.tensors]
    for g in groups:
        size = sum(t.numel for t in g.tensors) * 4
        assert size <= cap or len(g.tensors) == 1
    assert [g.first for g in groups] == sorted(g.first for g in groups)


def test_after_backward_exposes_every_collective():
    """No overlap: the step is forward, backward, then the collectives one after the other, then the update."""
    r = simulate("resnet50", "abci", gpus=64, batch=32, dtype="fp16", framework="after-backward:launch=0s")
    # the slowest of 64 GPUs ends backward (gpu_spread), and its update
    backward_end = (r.forward_time_s + r.backward_time_s) * r.slowest_gpu_factor
    assert all(b.ready_s == pytest.approx(backward_end, rel=1e-12) for b in r.buckets)
    assert r.buckets[0].start_s == pytest.approx(backward_end, rel=1e-12)
    assert all(later.start_s >= earlier.end_s for earlier, later in zip(r.buckets, r.buckets[1:]))
    assert r.step_time_s == pytest.approx(r.buckets[-1].end_s + r.update_time_s * r.slowest_gpu_factor, rel=1e-9)
    assert r.exposed_comm_time_s == pytest.approx(r.buckets[-1].end_s - backward_end, rel=1e-9)
    overlapped = simulate("resnet50", "abci", gpus=64, batch=32, dtype="fp16", framework="ddp:launch=0s")
    assert overlapped.step_time_s < r.step_time_s


def test_one_gpu_runs_one_buckets_codec_at_a_time():
    """Compression compute (``delay``) of buckets ready together runs one after another on the GPU (it ran all at
    once): under after-backward every bucket is ready when backward ends, so bucket k's data is there after the
    codecs of buckets 0..k; both engines take the same arrivals."""
    from simtrain.training.data_parallel import CommJob, arrivals

    jobs = [CommJob("p", None, b, ready=1.0, delay=0.25) for b in range(4)]
    assert arrivals(jobs, np.array([1.0, 2.0])).tolist() == [[1.25, 2.5], [1.5, 3.0], [1.75, 3.5], [2.0, 4.0]]
    common = {"gpus": 16, "batch": 32, "scheme": "powersgd:rank=4", "framework": "after-backward:launch=0s",
              "bucket_size": "8MiB"}
    r = simulate("resnet50", "cloud-25g", **common)
    des = simulate("resnet50", "cloud-25g", engine="des", **common)
    assert r.num_buckets > 4
    assert des.step_time_s == pytest.approx(r.step_time_s, rel=1e-9)
    starts = [b.start_s for b in r.buckets]
    assert starts == sorted(starts) and starts[0] > r.forward_time_s + r.backward_time_s


@pytest.mark.parametrize("spec", ["ddp", "horovod", "ideal", "ddp:launch=5us,first_bucket=2MiB",
                                  "horovod:cycle_time=5ms,fusion_threshold=64MiB"])
def test_a_framework_is_made_again_from_its_description(spec):
    # a report's "framework" field is input again: its quantities carry their units
    from simtrain.training.framework import make_framework

    framework = make_framework(spec)
    again = make_framework(framework.describe())
    assert again.get_params() == framework.get_params() and again.describe() == framework.describe()


@pytest.mark.parametrize(("spec", "fragments"), [
    ("ddp:launch=5", ["ddp:launch", "bare number 5"]),
    ("horovod:cycle_time=5", ["horovod:cycle_time", "bare number 5"]),
    ("horovod:fusion_threshold=64", ["horovod:fusion_threshold", "bare number 64"]),
    ("horovod:cycle_time=2min", ["horovod:cycle_time", "at most 60"]),
])
def test_a_typed_spec_needs_units_and_bounds(spec, fragments):
    # typed text: 5 was read as 5 s; a cycle of 1e8 s issued the fused all-reduce at the step's start
    from simtrain.errors import ConfigError
    from simtrain.training.framework import make_framework

    with pytest.raises(ConfigError) as info:
        make_framework(spec)
    assert all(f in str(info.value) for f in fragments), str(info.value)


def test_python_keywords_stay_si():
    from simtrain.registry import make
    from simtrain.training.framework import FRAMEWORKS

    assert make(FRAMEWORKS, "horovod", cycle_time=0.002).get_params()["cycle_time"] == 0.002


def test_a_time_far_below_one_cycle_waits_for_the_first_tick():
    from simtrain.training.framework import _next_tick

    assert _next_tick(1e-3, 1e6) == 1e6 and _next_tick(0.003, 0.001) == pytest.approx(0.003)
    assert _next_tick(0.0, 1.0) == 0.0 and _next_tick(0.0030000000001, 0.001) == pytest.approx(0.003)


def test_ddp_copies_every_gradient_into_its_bucket_and_back():
    """torch's default (gradient_as_bucket_view=False): mark_variable_ready_dense's at::mul_out into the bucket
    during the last backward, finalize_backward's grad.copy_ after each bucket's all-reduce; one native
    element-wise kernel a tensor each way, on the compute stream."""
    from simtrain.training.framework import copy_seconds

    common = {"gpus": 16, "batch": 32, "dtype": "fp16", "gpu_spread": 0.0}
    r = simulate("resnet50", "abci", **common)
    view = simulate("resnet50", "abci", framework="ddp:gradient_as_bucket_view=true", **common)
    resolved = resolve(TrainingRun("resnet50", "abci", **common))
    one_way = copy_seconds(load_model("resnet50").tensors, 2, resolved.compute)   # fp16 gradients
    assert r.bucket_copy_s == pytest.approx(2 * one_way, rel=1e-12)
    assert view.bucket_copy_s == 0.0
    # compute-stream time in the step, not communication: the copies in delay backward's end, the copies back
    # follow it (those of the earlier buckets while the last all-reduce may still run)
    assert view.step_time_s + one_way < r.step_time_s <= view.step_time_s + 2 * one_way * (1 + 1e-12)
    assert r.forward_time_s == view.forward_time_s and r.backward_time_s == view.backward_time_s


def test_ddp_copies_back_wait_for_their_buckets_collective():
    """A copy back starts once backward has ended, the copies before it are done and its own bucket's
    collective has ended (copies_back)."""
    from types import SimpleNamespace as Job

    from simtrain.training.data_parallel import copies_back

    jobs = [Job(copy_out_s=1.0), Job(copy_out_s=0.0), Job(copy_out_s=1.0)]
    ends = np.array([[2.0, 2.0], [4.0, 4.0], [9.0, 3.0]])          # jobs x ranks
    out = copies_back(jobs, np.array([5.0, 5.0]), ends, np.array([1.0, 2.0]))
    # rank 0: max(5, 2) + 1 = 6, then max(6, 9) + 1 = 10; rank 1 at twice the compute time: 7, then 9
    assert out.tolist() == [10.0, 9.0]
    assert copies_back([Job(copy_out_s=0.0)], np.array([5.0]), np.array([[9.0]]), np.ones(1)).tolist() == [5.0]


@pytest.mark.parametrize("framework", ["ideal", "horovod", "after-backward", "ddp:gradient_as_bucket_view=true"])
def test_only_ddp_without_bucket_views_copies(framework):
    assert simulate("resnet50", "abci", gpus=16, batch=32, framework=framework).bucket_copy_s == 0.0


def test_gradient_copies_once_a_step_under_accumulation_and_none_on_one_gpu():
    """DDP's hooks do not copy under no_sync: the copies are the last micro-batch's, once a step."""
    once = simulate("resnet50", "abci", gpus=16, micro_batch=32, gpu_spread=0.0)
    four = simulate("resnet50", "abci", gpus=16, micro_batch=32, global_batch=32 * 16 * 4, gpu_spread=0.0)
    assert once.bucket_copy_s > 0
    assert four.bucket_copy_s == pytest.approx(once.bucket_copy_s, rel=1e-12)
    assert simulate("resnet50", "torus-2d", gpus=1, batch=32).bucket_copy_s == 0.0


@pytest.mark.parametrize("scheme", ["local-sgd", "cser"])
def test_no_copies_where_no_gradient_is_reduced_during_backward(scheme):
    """Local steps and model averaging after the update fill no gradient buckets: neither way is copied."""
    common = {"gpus": 16, "batch": 32, "gpu_spread": 0.0}
    assert simulate("resnet50", "abci", scheme=scheme, **common).bucket_copy_s == 0.0
    assert simulate("resnet50", "abci", scheme="powersgd:rank=2", **common).bucket_copy_s > 0


def test_the_report_has_no_float_remainder_of_exposed_communication():
    """Where every collective hides behind backward and its copies, what is left of the step is none, not a
    rounding remainder."""
    r = simulate("resnet50", "dgx-a100", gpus=16, batch=64)
    assert r.bucket_copy_s > 0 and r.exposed_comm_time_s == 0.0


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_the_trace_draws_the_copies_on_the_compute_track(engine):
    """Each layer's copy into its bucket after its backward, each bucket's copy back after its collective; the
    compute track then ends with the step."""
    from simtrain.training.trace import step_trace

    r = simulate("resnet50", "dgx-a100", gpus=16, batch=64, gpu_spread=0.0, engine=engine)
    events = [e for e in step_trace(r, ranks=[0])["traceEvents"] if e.get("ph") == "X" and e.get("tid") == 0]
    copies = [e for e in events if e.get("cat") == "copy"]
    back = [e for e in copies if e["name"].endswith(" back")]
    with_weights = [layer for layer in load_model("resnet50").layers if layer.tensors]
    assert len(copies) - len(back) == len(with_weights) and len(back) == len(r.buckets)
    assert math.isclose(sum(e["dur"] for e in copies) / 1e6, r.bucket_copy_s, rel_tol=1e-3)
    assert math.isclose(max(e["ts"] + e["dur"] for e in events) / 1e6, r.step_time_s, rel_tol=1e-3)
    ends = {e["name"]: e["ts"] + e["dur"] for e in step_trace(r, ranks=[0])["traceEvents"] if e.get("ph") == "X"}
    first_back = min(e["ts"] for e in back)
    assert first_back >= ends["all-reduce bucket 0"] - 1e-3


def test_engines_agree_on_the_copies():
    common = {"gpus": 16, "batch": 32, "algorithm": "ring", "gpu_spread": 0.0}
    analytical = simulate("resnet50", "torus-2d", **common)
    des = simulate("resnet50", "torus-2d", engine="des", **common)
    assert analytical.bucket_copy_s > 0
    assert des.bucket_copy_s == pytest.approx(analytical.bucket_copy_s, rel=1e-12)
    assert des.step_time_s == pytest.approx(analytical.step_time_s, rel=1e-6)


def test_the_loader_gives_batchnorms_their_buffers():
    """torch's BatchNorm2d buffers: running_mean and running_var per feature, num_batches_tracked; torchvision's
    ResNet-50 has 53 BatchNorms over 26,560 features."""
    buffers = load_model("resnet50").buffers
    assert len(buffers) == 3 * 53 and sum(t.numel for t in buffers) == 2 * 26_560 + 53
    assert sum(1 for t in buffers if not t.shape) == 53
    inception = load_model("inception-v3")   # conv2d with batchnorm: true carries the BatchNorm's buffers
    assert any(t.name.endswith(".bn.running_var") for t in inception.buffers)
    assert load_model("bert-base").buffers == []


def test_ddp_broadcasts_the_buffers_before_the_forward():
    """torch's broadcast_buffers (default True): broadcast_coalesced per dtype (a flatten, NCCL's broadcast, a copy
    back of each buffer) before the step's first forward, which waits for it."""
    from simtrain.collectives.nccl import NcclTuner
    from simtrain.topology import load_topology
    from simtrain.training.framework import buffer_sync_seconds

    common = {"gpus": 16, "batch": 64, "gpu_spread": 0.0}
    r = simulate("resnet50", "dgx-a100", **common)
    off = simulate("resnet50", "dgx-a100", framework="ddp:broadcast_buffers=false", **common)
    assert off.buffer_sync_s == 0.0 and r.exposed_comm_time_s == off.exposed_comm_time_s == 0.0
    # every collective hides behind backward either way: the step is longer by the broadcast alone
    assert r.step_time_s == pytest.approx(off.step_time_s + r.buffer_sync_s, rel=1e-12)
    resolved = resolve(TrainingRun("resnet50", "dgx-a100", **common))
    cm = resolved.compute
    tuner = NcclTuner("broadcast", load_topology("dgx-a100", gpus=16), [np.arange(16)], [1.0])
    # the fp32 running statistics (106 tensors of 26,560 elements in all), then the int64 counters (53): each
    # flattened in one kernel and broadcast by NCCL (its model's time), two in flight; each group's copies back
    # follow its broadcast on the compute stream, one kernel a buffer
    stats, counters = 4.0 * 2 * 26_560, 8.0 * 53
    f1, f2 = cm.kernel_time(0.0, 2 * stats, "fp32"), cm.kernel_time(0.0, 2 * counters, "fp32")
    b1, b2 = (tuner.predict(tuner.choose(n), n) for n in (stats, counters))
    c1 = sum(cm.kernel_time(0.0, 2 * 4.0 * t.numel, "fp32") for t in load_model("resnet50").buffers if t.shape)
    c2 = 53 * cm.kernel_time(0.0, 16.0, "fp32")
    assert r.buffer_sync_s == pytest.approx(f1 + max(f2, b1) + max(c1, b2) + c2, rel=1e-12)
    assert buffer_sync_seconds(load_model("resnet50").buffers, cm, lambda nbytes: 0.0) == pytest.approx(
        f1 + f2 + c1 + c2, rel=1e-12)   # nothing to overlap with a broadcast that takes no time


@pytest.mark.parametrize("framework", ["ideal", "horovod", "after-backward", "ddp:broadcast_buffers=false"])
def test_only_ddp_broadcasts_buffers(framework):
    assert simulate("resnet50", "abci", gpus=16, batch=32, framework=framework).buffer_sync_s == 0.0


def test_a_model_without_buffers_broadcasts_nothing():
    assert simulate("bert-base", "abci", gpus=16, batch=8).buffer_sync_s == 0.0


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_the_buffer_broadcast_once_a_step_and_not_in_local_steps(engine):
    """The forwards under no_sync follow a forward without gradient sync, so only the step's first forward syncs;
    a phase that reduces no gradients during backward has no DDP forward to sync. Checked on the step itself:
    the step with the broadcast is longer than without it by the broadcast, once, where every collective hides
    (dgx-a100: no exposed communication either way)."""
    common = {"gpus": 16, "micro_batch": 64, "gpu_spread": 0.0, "engine": engine}
    for passes in (1, 4):
        run = {**common, "global_batch": 64 * 16 * passes}
        on = simulate("resnet50", "dgx-a100", **run)
        off = simulate("resnet50", "dgx-a100", framework="ddp:broadcast_buffers=false", **run)
        assert on.exposed_comm_time_s == off.exposed_comm_time_s == 0.0
        assert on.buffer_sync_s > 0
        assert on.step_time_s - off.step_time_s == pytest.approx(on.buffer_sync_s, rel=1e-9)
    # local steps: neither the report nor the step carries a broadcast
    local = {"gpus": 16, "batch": 32, "gpu_spread": 0.0, "scheme": "local-sgd", "engine": engine}
    on = simulate("resnet50", "abci", **local)
    off = simulate("resnet50", "abci", framework="ddp:broadcast_buffers=false", **local)
    assert on.buffer_sync_s == 0.0 and on.step_time_s == off.step_time_s


def test_the_first_bucket_wait_counts_from_the_last_forward_under_accumulation():
    once = simulate("resnet50", "abci", gpus=16, micro_batch=32, gpu_spread=0.0)
    four = simulate("resnet50", "abci", gpus=16, micro_batch=32, global_batch=32 * 16 * 4, gpu_spread=0.0)
    assert 0 < four.first_bucket_wait_s == pytest.approx(once.first_bucket_wait_s, rel=1e-9)
    assert four.first_bucket_wait_s < four.backward_time_s / 4


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_ddp_wrapping_one_gpu_pays_its_copies_and_buffer_flatten(engine):
    """A script that wraps its model in DDP on one GPU runs the reducer: every gradient copied into its bucket and
    back, and the buffers flattened and copied back; NCCL's broadcast over one rank moves nothing."""
    from simtrain.training.framework import buffer_sync_seconds, copy_seconds

    common = {"gpus": 1, "batch": 64, "engine": engine}
    bare = simulate("resnet50", "torus-2d", **common)
    wrapped = simulate("resnet50", "torus-2d", framework="ddp:one_gpu=wrapped", **common)
    resolved = resolve(TrainingRun("resnet50", "torus-2d", **common))
    model = load_model("resnet50")
    copies = 2 * copy_seconds(model.tensors, 4, resolved.compute)
    sync = buffer_sync_seconds(model.buffers, resolved.compute, lambda nbytes: 0.0)
    assert bare.bucket_copy_s == bare.buffer_sync_s == 0.0
    assert wrapped.bucket_copy_s == pytest.approx(copies, rel=1e-12)
    assert wrapped.buffer_sync_s == pytest.approx(sync, rel=1e-12)
    assert wrapped.step_time_s == pytest.approx(bare.step_time_s + copies + sync, rel=1e-12)
    assert wrapped.exposed_comm_time_s == 0.0 and wrapped.comm_time_s == 0.0
    # the scaling efficiency stays against the bare model's compute: below 1 by DDP's own cost
    assert wrapped.scaling_efficiency == pytest.approx(bare.step_time_s / wrapped.step_time_s, rel=1e-12)
    # a phase of local steps runs no DDP forward or reduction on one GPU either
    local = simulate("resnet50", "torus-2d", scheme="local-sgd", framework="ddp:one_gpu=wrapped", **common)
    assert local.buffer_sync_s == local.bucket_copy_s == 0.0 and local.step_time_s == bare.step_time_s
    # more GPUs: the option changes nothing
    many = simulate("resnet50", "torus-2d", gpus=16, batch=64, framework="ddp:one_gpu=wrapped").to_row()
    plain = simulate("resnet50", "torus-2d", gpus=16, batch=64).to_row()
    assert {k: v for k, v in many.items() if k != "framework"} == {k: v for k, v in plain.items() if k != "framework"}


def test_the_trace_draws_the_buffer_broadcast_before_the_forward():
    from simtrain.training.trace import step_trace

    r = simulate("resnet50", "dgx-a100", gpus=16, batch=64, gpu_spread=0.0)
    events = {e["name"]: e for e in step_trace(r, ranks=[0])["traceEvents"] if e.get("ph") == "X"}
    sync = events["broadcast the module buffers"]
    assert sync["ts"] == 0 and math.isclose(sync["dur"] / 1e6, r.buffer_sync_s, rel_tol=1e-3)
    assert math.isclose(events["forward"]["ts"], sync["dur"], rel_tol=1e-6)
    wrapped = simulate("resnet50", "torus-2d", gpus=1, batch=64, framework="ddp:one_gpu=wrapped")
    names = [e["name"] for e in step_trace(wrapped)["traceEvents"] if e.get("ph") == "X"]
    assert "copy the gradients back" in names and "broadcast the module buffers" in names
