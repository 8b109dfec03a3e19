"""The data-parallel step in the DES: agreement when clean, and the cost of each perturbation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simtrain.errors import ConfigError
from simtrain.network.perturb import Perturbations
from simtrain.topology import load_topology
from simtrain.training import simulate
from simtrain.training.trace import step_trace, write_trace

CASES = [
    ("resnet50", "abci", 64, "multidim-ring", "fp16"),
    ("resnet18-cifar", "cloud-25g", 32, "ring", "fp32"),
    ("bert-base", "dgx-h100", 16, "hierarchical", "bf16"),
    ("vgg16-cifar", "torus-2d", 16, "halving-doubling", "fp32"),
]


@pytest.mark.parametrize(("model", "topology", "gpus", "algorithm", "dtype"), CASES)
def test_clean_des_step_agrees_with_analytical(model, topology, gpus, algorithm, dtype):
    a = simulate(model, topology, gpus=gpus, batch=16, algorithm=algorithm, dtype=dtype)
    d = simulate(model, topology, gpus=gpus, batch=16, algorithm=algorithm, dtype=dtype, engine="des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=5e-3)
    assert d.exposed_comm_time_s == pytest.approx(a.exposed_comm_time_s, rel=5e-3, abs=1e-9)
    assert d.bytes_per_gpu == pytest.approx(a.bytes_per_gpu, rel=1e-12)
    assert d.bytes_per_gpu_by_class == pytest.approx(a.bytes_per_gpu_by_class, rel=1e-12)
    assert d.clean_step_time_s is None


def test_buckets_overlap_in_the_des_when_backward_is_faster_than_communication():
    r = simulate("vgg16", "cloud-25g", gpus=32, batch=8, algorithm="ring", engine="des")
    starts = [b.start_s for b in r.buckets]
    assert starts == sorted(starts)
    assert r.exposed_comm_time_s > 0  # a 25 Gbit/s network cannot hide VGG-16's gradients


def test_a_straggler_delays_everyone_by_its_extra_compute():
    base = dict(gpus=16, batch=32, algorithm="ring", dtype="fp16", engine="des")
    clean = simulate("resnet50", "torus-2d", **base)
    slow = simulate("resnet50", "torus-2d", perturbations=Perturbations(stragglers={5: 1.5}), **base)
    assert slow.clean_step_time_s == pytest.approx(clean.step_time_s, rel=1e-12)
    extra_compute = 0.5 * (clean.forward_time_s + clean.backward_time_s + clean.update_time_s)
    # the all-reduce waits for the straggler's gradients: the step grows by its extra compute, less the
    # communication that was exposed in the clean step (now hidden behind the straggler's compute)
    assert slow.perturbation_cost_s >= extra_compute - clean.exposed_comm_time_s - 1e-12
    assert slow.perturbation_cost_s < extra_compute + clean.comm_time_s


def test_a_degraded_nic_costs_time_and_a_better_one_costs_nothing():
    base = dict(gpus=32, batch=32, algorithm="multidim-ring", dtype="fp16", engine="des")
    slow = simulate("resnet50", "abci", perturbations=Perturbations(degraded=[("node2.nic0", 0.1)]), **base)
    assert slow.perturbation_cost_s > 0
    assert slow.step_time_s > slow.clean_step_time_s


def test_a_failed_torus_link_reroutes_and_costs_time():
    base = dict(gpus=16, batch=32, algorithm="ring", dtype="fp16", engine="des")
    r = simulate("vgg16-cifar", "torus-2d", perturbations=Perturbations(failed=["gpu0<->gpu1"]), **base)
    assert r.perturbation_cost_s > 0


def test_a_failed_link_that_disconnects_is_a_clear_error():
    with pytest.raises(ConfigError, match="cut gpu0 off the cluster"):
        simulate("resnet50", "cloud-25g", gpus=16, batch=8, engine="des",
                 perturbations=Perturbations(failed=["gpu0"]))


def test_background_traffic_on_a_bottleneck_costs_time():
    base = dict(gpus=32, batch=32, algorithm="ring", engine="des")
    r = simulate("resnet18-cifar", "cloud-25g", perturbations=Perturbations(background=[("node0.nic0", 2e9)]),
                 **base)
    assert r.perturbation_cost_s > 0


def test_perturbations_need_the_des():
    with pytest.raises(ConfigError, match="DES"):
        simulate("resnet50", "torus-2d", gpus=4, perturbations=Perturbations(stragglers={1: 2.0}))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"stragglers": ["x:2"]}, "integer"), ({"stragglers": ["3"]}, "TARGET:VALUE"),
     ({"degraded": ["gpu0->gpu1:1.5"]}, "out of range"), ({"background": ["gpu0->gpu1:5"]}, "no unit")],
)
def test_bad_perturbation_strings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Perturbations.parse(**kwargs)


def test_perturbation_yaml_and_unknown_links(tmp_path):
    p = Perturbations.from_dict({"stragglers": [{"rank": 2, "factor": 1.2}], "failed_links": ["gpu0->gpu1"],
                                 "degraded_links": [{"link": "gpu2", "factor": 0.5}],
                                 "background": [{"link": "gpu3->gpu4", "rate": "1 GB/s"}]}, "p.yaml")
    assert p.stragglers == {2: 1.2} and p.failed == ["gpu0->gpu1"]
    with pytest.raises(ConfigError, match="did you mean 'stragglers'"):
        Perturbations.from_dict({"stragler": []}, "p.yaml")
    cluster = load_topology("torus-2d", gpus=16)
    with pytest.raises(ConfigError, match="unknown node"):
        Perturbations(failed=["gpu99->gpu0"]).apply(cluster)
    with pytest.raises(ConfigError, match="below the link"):
        Perturbations(background=[("gpu0->gpu1", 1e15)]).apply(cluster)
    with pytest.raises(ConfigError, match="no such rank"):
        Perturbations(stragglers={99: 2.0}).straggler_factors(16)


def test_trace_has_compute_communication_and_link_tracks(tmp_path):
    r = simulate("resnet18-cifar", "cloud-25g", gpus=16, batch=64, engine="des", record_loads=True,
                 perturbations=Perturbations(stragglers={9: 1.4}))
    trace = step_trace(r)
    events = trace["traceEvents"]
    pids = {e["pid"] for e in events if e["ph"] == "X"}
    assert {0, 1, 2, 3, 9} <= pids  # the first GPUs and the straggler
    names = {e["name"] for e in events}
    assert "forward" in names and "optimizer update" in names
    assert any(n.startswith("all-reduce bucket") for n in names)
    counters = [e for e in events if e["ph"] == "C"]
    assert counters and max(e["args"]["GB/s"] for e in counters) > 0
    straggler_backward = max(e["ts"] + e["dur"] for e in events if e["pid"] == 9 and e.get("cat") == "backward")
    normal_backward = max(e["ts"] + e["dur"] for e in events if e["pid"] == 0 and e.get("cat") == "backward")
    # each time is rounded to whole nanoseconds (us units): 0.5 ns on one side, 1.4 x 0.5 ns on the other; the
    # other GPUs run at the expected slowest of the spread, the straggler at 1.4 of the typical GPU
    assert straggler_backward == pytest.approx(1.4 / r.slowest_gpu_factor * normal_backward, abs=1.2e-3)
    path = write_trace(r, tmp_path / "t.json")
    assert json.loads(path.read_text())["otherData"]["engine"] == "des"


def test_link_bytes_measured_by_the_des_match_the_schedules():
    r = simulate("resnet18-cifar", "torus-2d", gpus=16, batch=32, engine="des")
    a = simulate("resnet18-cifar", "torus-2d", gpus=16, batch=32)
    np.testing.assert_allclose(r.timeline.comm.link_bytes, a.timeline.comm.link_bytes, rtol=1e-9, atol=1e-3)
    assert 0 < r.max_link_utilization <= 1


def test_report_lists_the_busiest_links_with_their_utilization():
    # a plain ring: NIC and NVLink links carry equal bytes, and the ranking by bytes breaks the tie in rounding
    r = simulate("resnet18-cifar", "cloud-25g", gpus=32, batch=64, engine="des", algorithm="ring")
    links = r.to_dict()["busiest_links"]
    assert links and links[0]["link_class"] == "inter-node"  # 25 Gbit/s NICs are the bottleneck
    assert links[0]["bytes"] >= links[-1]["bytes"]
    assert 0 < links[0]["utilization"] <= 1
    assert links[0]["utilization"] == pytest.approx(r.max_link_utilization, rel=1e-12)


@pytest.mark.parametrize(("model", "topology", "gpus", "kwargs"), [
    ("gpt2-small", "dgx-h100", 32, {}),  # equal buckets, apart in time: replayed
    ("vgg16", "cloud-25g", 16, {"batch": 8, "algorithm": "ring"}),  # buckets overlap: shared network
    ("resnet50", "abci", 32, {"perturbations": Perturbations(stragglers={3: 1.2})}),  # ranks start apart
])
def test_jobs_replayed_alone_equal_jobs_on_the_shared_network(monkeypatch, model, topology, gpus, kwargs):
    """A job that runs alone is simulated once per template and size, and replayed; the step equals the one in
    which every job runs on the shared network, bucket by bucket and link by link."""
    from simtrain.training import des_step

    calls = []
    original = des_step._Replays.replayed

    def counted(self, job, run, local):
        calls.append(original(self, job, run, local))
        return calls[-1]

    monkeypatch.setattr(des_step._Replays, "replayed", counted)
    replayed = simulate(model, topology, gpus=gpus, engine="des", **kwargs)
    monkeypatch.setattr(des_step._Replays, "replayed", lambda self, job, run, local: False)
    shared = simulate(model, topology, gpus=gpus, engine="des", **kwargs)
    if model == "gpt2-small":
        assert sum(calls) == len(calls) > 2
    assert replayed.step_time_s == pytest.approx(shared.step_time_s, rel=1e-12)
    for mine, theirs in zip(replayed.buckets, shared.buckets, strict=True):
        assert (mine.start_s, mine.end_s) == pytest.approx((theirs.start_s, theirs.end_s), rel=1e-12)
    np.testing.assert_allclose(replayed.timeline.comm.link_bytes, shared.timeline.comm.link_bytes, rtol=1e-12)


def test_phases_of_a_step_replay_what_another_phase_simulated_alone(monkeypatch):
    """Horovod's loop phases run one DES each; a job simulated alone in one phase is replayed in the others (the
    run's NetworkCache keeps it by content), and the step is the one each phase gets with a store of its own."""
    from simtrain.training import des_step

    simulated = []
    original = des_step._Replays._simulate

    def counted(self, run):
        simulated.append(run.schedule.size_bytes)
        return original(self, run)

    monkeypatch.setattr(des_step._Replays, "_simulate", counted)
    kwargs = {"gpus": 32, "batch": 32, "engine": "des", "framework": "horovod:phases=4"}
    shared = simulate("resnet50", "abci", **kwargs)
    kept = len(simulated)
    assert kept == len(set(simulated))   # no size simulated twice across the four phases
    simulated.clear()
    original_init = des_step._Replays.__init__

    def own_store(self, *args, **kw):   # each phase with a store of its own, as before the cache held them
        kw["alone"] = {}
        original_init(self, *args[:6], **kw)

    monkeypatch.setattr(des_step._Replays, "__init__", own_store)
    apart = simulate("resnet50", "abci", **kwargs)
    assert len(simulated) > kept
    assert shared.step_time_s == apart.step_time_s
    assert shared.to_dict() == apart.to_dict()


def test_only_the_entry_the_report_draws_records_its_collectives_phases(monkeypatch):
    """A traced Horovod step runs its 4 loop phases; the trace is the first's, so only it records phases."""
    from simtrain.training import des_step

    asked = []
    original = des_step.comm_des

    def spy(*args, **kwargs):
        asked.append(kwargs.get("record_phases", False))
        return original(*args, **kwargs)

    monkeypatch.setattr(des_step, "comm_des", spy)
    r = simulate("resnet50", "abci", gpus=16, batch=32, engine="des", framework="horovod:phases=4",
                 record_phases=True)
    assert asked == [True, False, False, False]
    assert r.timeline.comm.phases
