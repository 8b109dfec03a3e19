"""import-trace and simulate --workload on real traces made here (torch CPU, gloo, two ranks, DDP)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from simtrain.cli import main
from simtrain.errors import ConfigError
from simtrain.topology import load_topology
from simtrain.workload import Op, Workload, read_workload
from simtrain.workload.replay import replay
from simtrain.workload.trace_import import read_trace, workload_from_kineto

TRACES = Path(__file__).resolve().parents[1] / "data" / "traces"
KINETO = TRACES / "ddp_mlp_gloo2_kineto_rank0.json.gz"
ET = TRACES / "ddp_mlp_gloo2_et_rank0.json.gz"
# The traced model: Linear(256, 512), Linear(512, 512), Linear(512, 10) with biases; DDP buckets of 0.5 MB.
PARAMS = 256 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10


def test_real_trace_collectives_are_the_ddp_buckets():
    w = read_trace(KINETO, ET)
    assert w.world_size == 2 and w.source["backend"] == "gloo"
    assert [o.name for o in w.collectives] == ["all-reduce", "all-reduce"]
    assert sum(o.bytes for o in w.collectives) == 4 * PARAMS          # every gradient, once, in fp32
    assert all(o.group_size == 2 for o in w.collectives)
    assert any(o.kind == "compute" for o in w.ops)


def test_measured_durations_give_back_the_measured_step():
    w = read_trace(KINETO)
    assert replay(w, durations="measured").step_time_s == pytest.approx(w.measured_step_s, rel=1e-12)


def test_replay_on_clusters():
    w = read_trace(KINETO)
    fast = replay(w, load_topology("dgx-h100", gpus=16))
    slow = replay(w, load_topology("cloud-25g", gpus=64))
    assert fast.num_gpus == 16 and slow.num_gpus == 64
    assert fast.compute_s == slow.compute_s                           # compute as measured
    assert 0 < fast.comm_s < slow.comm_s                              # the cloud's 25 Gbit/s costs more
    assert fast.step_time_s <= slow.step_time_s
    for r in (fast, slow):
        assert [c["measured_s"] for c in r.collectives] == [o.duration_s for o in w.collectives]
    des = replay(w, load_topology("dgx-h100", gpus=16), engine="des")
    assert des.step_time_s == pytest.approx(fast.step_time_s, rel=1e-6)   # one collective at a time: no contention


def test_a_collective_waited_for_delays_the_compute_after_it():
    w = Workload((Op("compute", "backward", 0.0, 0.010), Op("collective", "all-reduce", 0.010, 0.005, 2**30, 8),
                  Op("compute", "optimizer", 0.016, 0.001)), world_size=8)
    cloud = replay(w, load_topology("cloud-25g", gpus=64))
    # the optimizer waited for the all-reduce (idle since 10 ms): it now waits for the simulated one
    assert cloud.step_time_s == pytest.approx(0.010 + cloud.collectives[0]["replayed_s"] + 0.001 + 0.001)


def test_cli_round_trip(tmp_path, capsys):
    out = tmp_path / "w.json"
    assert main(["import-trace", str(KINETO), "--execution-trace", str(ET), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "all-reduce over 2 ranks: 2 x" in text
    assert read_workload(out).world_size == 2
    assert main(["simulate", "--workload", str(out), "--topology", "dgx-h100", "--gpus", "16", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["num_gpus"] == 16 and doc["step_time_s"] > 0
    assert doc["measured_step_s"] == pytest.approx(read_trace(KINETO).measured_step_s)


@pytest.mark.parametrize("content,needle", [
    (b"not json", "malformed JSON"),
    (b'{"traceEvents": 3}', "no traceEvents"),
    (b'{"traceEvents": []}', "no compute op"),
    (b'{"nodes": []}', "execution trace, which holds no durations"),
])
def test_bad_traces(tmp_path, content, needle):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(ConfigError, match=needle):
        read_trace(bad)


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path, monkeypatch):
    import simtrain.workload.trace_import as ti

    monkeypatch.setattr(ti, "MAX_TRACE_BYTES", 1024)
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(b" " * 100_000)
    with pytest.raises(ConfigError, match="inflates to more than"):
        read_trace(bomb)


def test_the_execution_trace_must_be_the_same_step(tmp_path):
    et = json.loads(gzip.decompress(ET.read_bytes()))
    for node in et["nodes"]:
        if node["name"] == "gloo:all_reduce":
            node["inputs"]["shapes"] = [[7]]
    other = tmp_path / "other_et.json"
    other.write_text(json.dumps(et))
    with pytest.raises(ConfigError, match="not the same step"):
        read_trace(KINETO, other)


@pytest.mark.parametrize("change,needle", [
    ({"schema": "x"}, "not a workload"),
    ({"world_size": 0}, "world_size"),
    ({"ops": []}, "ops"),
    ({"ops": [{"kind": "collective", "name": "all-reduce", "start_s": 0, "duration_s": 1, "bytes": 8,
               "group_size": 9}]}, "group_size"),
    ({"ops": [{"kind": "compute", "name": "x", "start_s": -1, "duration_s": 1}]}, "start_s"),
])
def test_bad_workloads(tmp_path, change, needle):
    good = {"schema": "simtrain.workload/1", "world_size": 2,
            "ops": [{"kind": "compute", "name": "x", "start_s": 0, "duration_s": 1}]}
    path = tmp_path / "w.json"
    path.write_text(json.dumps({**good, **change}))
    with pytest.raises(ConfigError, match=needle):
        read_workload(path)


def test_gpu_kernels_are_compute_and_nccl_kernels_are_not():
    trace = {"distributedInfo": {"world_size": 8}, "traceEvents": [
        {"ph": "X", "cat": "kernel", "name": "sm90_xmma_gemm", "tid": 7, "ts": 0, "dur": 50},
        {"ph": "X", "cat": "kernel", "name": "ncclDevKernel_AllReduce_Sum_f32_RING_LL", "tid": 9, "ts": 40,
         "dur": 80},
        {"ph": "X", "cat": "cpu_op", "name": "record_param_comms", "tid": 1, "ts": 39, "dur": 2,
         "args": {"Collective name": "allreduce", "In msg nelems": 1024, "Out msg nelems": 1024,
                  "dtype": "Float", "Group size": 8}}]}
    w = workload_from_kineto(trace)
    assert [(o.kind, o.name) for o in w.ops] == [("compute", "sm90_xmma_gemm"), ("collective", "all-reduce")]
    assert w.collectives[0].bytes == 4096


@pytest.mark.parametrize(("dtype", "width"), [
    ("Byte", 1), ("Char", 1), ("Short", 2), ("Int", 4), ("Long", 8), ("Half", 2), ("Float", 4), ("Double", 8),
    ("BFloat16", 2), ("Bool", 1), ("ComplexHalf", 4), ("ComplexFloat", 8), ("ComplexDouble", 16),
    ("Float8_e4m3fn", 1), ("Float8_e5m2", 1), ("Float8_e4m3fnuz", 1), ("Float8_e5m2fnuz", 1), ("UInt16", 2),
    ("UInt32", 4), ("UInt64", 8), ("c10::BFloat16", 2), ("unsigned int", 4), ("long int", 8),
])
def test_every_element_type_the_profiler_writes_has_its_width(dtype, width):
    # record_param_comms writes the ScalarType's short name (Byte for all_gather_object's uint8 buffers); an unknown
    # one is refused rather than priced at 4 bytes, so every name PyTorch writes must be known
    trace = {"distributedInfo": {"world_size": 2}, "traceEvents": [
        {"ph": "X", "cat": "cpu_op", "name": "record_param_comms", "tid": 1, "ts": 0, "dur": 2,
         "args": {"Collective name": "allreduce", "In msg nelems": 1000, "Out msg nelems": 1000,
                  "dtype": dtype, "Group size": 2}}]}
    assert workload_from_kineto(trace).collectives[0].bytes == 1000 * width


def test_a_workload_with_too_many_distinct_collectives_is_refused_only_when_simulated(tmp_path, capsys):
    from simtrain.workload.replay import replay
    from simtrain.workload.schema import MAX_DISTINCT_COLLECTIVES, Op, Workload

    ops = tuple(Op("collective", "all-reduce", float(k), 1e-4, 1024.0 * (k + 1), 2)
                for k in range(MAX_DISTINCT_COLLECTIVES + 1))
    workload = Workload(ops, 2, {})
    assert replay(workload, durations="measured").step_time_s > 0     # nothing to simulate: any number
    with pytest.raises(ConfigError, match="distinct collectives"):
        replay(workload, load_topology("torus-2d", gpus=4))
