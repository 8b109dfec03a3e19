"""A placed model run as a pipeline of micro-batches: unrolling, schedules, both engines, memory, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.hardware import get_device
from simtrain.placement import make_devices, place
from simtrain.placement.build import graph_from_model
from simtrain.placement.graph import GraphBuilder, OpGraph
from simtrain.placement.pipeline import pipeline_order, place_pipelined, simulate_pipeline, unroll
from tests.placement.test_placement_cli import place_cli

V100 = ComputeModel.roofline(get_device("v100"))


def stage_chain(stages: int, fwd: float = 1.0, bwd: float = 2.0, nbytes: float = 0.0) -> OpGraph:
    """One layer per stage: forward chain, backward chain, an update per layer."""
    b = GraphBuilder("chain")
    f = [b.add_op(f"f{i}", fwd, persistent_bytes=4, kind="forward", group=f"L{i}") for i in range(stages)]
    w = [b.add_op(f"b{i}", bwd, kind="backward", group=f"L{i}", pair=f[i]) for i in range(stages)]
    for i in range(stages):
        u = b.add_op(f"u{i}", 0.0, kind="update", group=f"L{i}", pair=f[i])
        b.add_edge(w[i], u, [b.add_tensor(w[i], 0.0)])
    for i in range(stages - 1):
        t = b.add_tensor(f[i], nbytes)
        b.add_edge(f[i], f[i + 1], [t])
        b.add_edge(f[i], w[i + 1], [t])
    b.add_edge(f[-1], w[-1], [b.add_tensor(f[-1], nbytes)])
    for i in range(stages - 1, 0, -1):
        b.add_edge(w[i], w[i - 1], [b.add_tensor(w[i], nbytes)])
    return b.build()


def stage_placement(graph: OpGraph) -> np.ndarray:
    return np.array([int(graph.group_names[g][1:]) for g in graph.group])


def test_unroll_copies_forward_and_backward_once_per_micro_batch_and_updates_once():
    g = stage_chain(3)
    u, origin, micro = unroll(g, 4)
    kinds = np.array(u.kind)
    assert (kinds == "forward").sum() == 12 and (kinds == "backward").sum() == 12 and (kinds == "update").sum() == 3
    assert u.persistent_bytes.sum() == g.persistent_bytes.sum()          # weights counted once
    assert u.compute_s.sum() == pytest.approx(4 * g.compute_s.sum())
    update = u.op_names.index("u0")
    assert sorted(u.op_names[p] for p in u.preds[update]) == [f"b0#{k}" for k in range(4)]
    assert (micro[kinds == "update"] == -1).all() and set(origin.tolist()) == set(range(g.num_ops))


@pytest.mark.parametrize("schedule", ["gpipe", "1f1b"])
@pytest.mark.parametrize("stages,micro_batches", [(2, 1), (3, 4), (4, 8), (4, 2)])
def test_balanced_pipeline_takes_the_textbook_time(schedule, stages, micro_batches):
    # Free transfers, equal stages: (M + D - 1) slots of forward + backward, for GPipe and 1F1B alike.
    g = stage_chain(stages)
    devices = make_devices(stages, bandwidth="1e15 B/s", latency="0 s")
    r = simulate_pipeline(g, stage_placement(g), devices, micro_batches, schedule=schedule)
    assert r.step_time_s == pytest.approx((micro_batches + stages - 1) * 3.0)


def test_engines_agree_without_contention_and_des_is_never_faster():
    g = stage_chain(4, nbytes=2**20)
    devices = make_devices(4)
    for schedule in ("gpipe", "1f1b"):
        analytical = simulate_pipeline(g, stage_placement(g), devices, 6, schedule=schedule)
        des = simulate_pipeline(g, stage_placement(g), devices, 6, schedule=schedule, engine="des")
        # one route per transfer, one stage after another: nothing shares a link at the same time
        assert des.step_time_s == pytest.approx(analytical.step_time_s, rel=1e-9)


def test_one_f_one_b_holds_fewer_micro_batches_than_gpipe():
    g = stage_chain(4, nbytes=2**20)
    devices = make_devices(4)
    gpipe = simulate_pipeline(g, stage_placement(g), devices, 8, schedule="gpipe")
    ofob = simulate_pipeline(g, stage_placement(g), devices, 8, schedule="1f1b")
    assert ofob.simulation.peak_memory_bytes[0] < gpipe.simulation.peak_memory_bytes[0]
    assert (ofob.simulation.peak_memory_bytes <= gpipe.simulation.peak_memory_bytes + 1e-9).all()


def test_layers_sent_back_and_forth_still_run_under_1f1b():
    # Layers alternate between two devices: 1F1B's per-stage warm-up could wait on itself; the order falls back
    # to one warm-up for all (a topological order) and the step completes.
    g = stage_chain(4)
    alternate = stage_placement(g) % 2
    r = simulate_pipeline(g, alternate, make_devices(2), 4, schedule="1f1b")
    assert r.step_time_s >= 4 * 3.0 * 4 / 2 - 1e-9


def test_order_is_known_for_one_stage():
    g, _, micro = unroll(stage_chain(1), 3)
    order = [g.op_names[v] for v in np.argsort(pipeline_order(g, micro, "1f1b", 1), kind="stable")]
    assert order == ["f0#0", "b0#0", "f0#1", "b0#1", "f0#2", "b0#2", "u0"]


def test_a_model_too_big_for_one_device_beats_one_device_when_pipelined():
    # GPT-2 small with Adam at batch 8 needs 8.8 GiB on one device; four devices of 3 GiB hold it pipelined in
    # micro-batches of one sample under m-ETF and m-SCT (no replica fits there); m-TOPO's stages, cut by its
    # topological order, need 3.5 GiB (the attention-probability dropouts, 12 x 1024 x 1024 per sample, are the
    # largest activations)
    full = graph_from_model("gpt2-small", batch=8, compute=V100, optimizer="adam")
    with pytest.raises(InfeasibleError):
        place(full, make_devices(1, "4 GiB"), "single")
    for algorithm, memory in (("m-etf", "3 GiB"), ("m-sct", "3 GiB"), ("m-topo", "3.5 GiB")):
        devices = make_devices(4, memory)
        _plan, r = place_pipelined("gpt2-small", devices, algorithm, batch=8, micro_batch=1, compute=V100,
                                  optimizer="adam", schedule="1f1b")
        assert r.micro_batches == 8
        assert r.step_time_s < r.one_device_s, algorithm
        assert (r.simulation.peak_memory_bytes <= devices.memory_bytes).all()
        if memory == "3 GiB":
            assert r.data_parallel_s is None and "replica needs" in r.data_parallel_note


def test_data_parallel_comparison_where_a_replica_fits():
    _plan, r = place_pipelined("resnet18-cifar", make_devices(2, "16 GiB"), "m-topo", batch=256, micro_batch=32,
                              compute=V100)
    assert r.data_parallel_s is not None and r.data_parallel_s > 0
    s = r.summary()
    assert s["speedup_vs_data_parallel"] == pytest.approx(r.data_parallel_s / r.step_time_s)
    assert s["speedup_vs_one_device"] == pytest.approx(r.one_device_s / r.step_time_s)


def test_micro_batch_must_divide_the_batch():
    with pytest.raises(ConfigError, match="micro_batch"):
        place_pipelined("resnet18-cifar", make_devices(2), "m-etf", batch=10, micro_batch=4, compute=V100)


def test_cli_pipeline(capsys):
    code, out, err = place_cli(capsys, "--model", "resnet18-cifar", "--batch", "64", "--micro-batch", "16",
                               "--devices", "2", "--algorithm", "m-topo", "--pipeline-schedule", "1f1b", "--json")
    assert code == 0 and err == ""
    pipe = json.loads(out)["info"]["pipeline"]
    assert pipe["micro_batches"] == 4 and pipe["pipeline_schedule"] == "1f1b"
    assert pipe["pipelined_step_time_s"] > 0 and pipe["speedup_vs_one_device"] > 0
    code, out, err = place_cli(capsys, "--model", "resnet18-cifar", "--batch", "64", "--micro-batch", "16",
                               "--devices", "2", "--algorithm", "m-topo")
    assert code == 0 and "pipelined (4 micro-batches, gpipe)" in out


@pytest.mark.parametrize("argv,needle", [
    (["--graph", "g.json", "--micro-batch", "2"], "--micro-batch"),
    (["--model", "resnet18-cifar", "--batch", "10", "--micro-batch", "4"], "--micro-batch"),
    (["--model", "resnet18-cifar", "--micro-batch", "4", "--pipeline-schedule", "zigzag"], "--pipeline-schedule"),
    (["--model", "resnet18-cifar", "--micro-batch", "4", "--algorithm", "all"], "--micro-batch"),
])
def test_cli_pipeline_bad_input(capsys, argv, needle):
    code, out, err = place_cli(capsys, *argv, "--devices", "2")
    assert code == 2 and out == ""
    assert err.startswith("error:") and needle in err and err.count("\n") == 1
