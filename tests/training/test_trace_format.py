"""Traces open without artefacts: whole nanoseconds, no partial overlaps on a track, chosen ranks, utilised links."""

from __future__ import annotations

import itertools
import json

import pytest

from simtrain.cli import main
from simtrain.errors import ConfigError
from simtrain.training import simulate
from simtrain.training.trace import collective_trace, span, step_trace


def check_trace(trace: dict) -> None:
    """What Perfetto and speedscope need to draw a track as it is: on each (process, thread) the complete slices
    are disjoint or properly nested (never partly overlapping), and every time is a whole number of nanoseconds."""
    tracks: dict[tuple, list[tuple[int, int]]] = {}
    for event in trace["traceEvents"]:
        if event["ph"] not in ("X", "C"):
            continue
        for key in ("ts", "dur"):
            if key in event:
                ns = event[key] * 1000
                assert abs(ns - round(ns)) < 1e-6, (key, event)
        if event["ph"] == "X":
            start = round(event["ts"] * 1000)
            tracks.setdefault((event["pid"], event.get("tid")), []).append((start, start + round(event["dur"] * 1000)))
    for slices in tracks.values():
        slices.sort(key=lambda s: (s[0], -s[1]))
        open_ends: list[int] = []
        for start, end in slices:
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], f"slice {start}-{end} overlaps its neighbour partly"
            open_ends.append(end)


def test_span_rounds_both_ends():
    a, b = span(0.0, 1e-3 + 4e-13), span(1e-3 + 4e-13, 2e-3)
    assert a["ts"] + a["dur"] == b["ts"]            # touching slices share the instant


@pytest.mark.parametrize("engine,extra", [("analytical", {}), ("des", {"perturbations": None})])
def test_step_traces_are_well_formed(engine, extra):
    report = simulate("resnet50", "abci", gpus=32, batch=32, dtype="fp16", engine=engine,
                      record_loads=engine == "des", **extra)
    check_trace(step_trace(report))


def test_straggler_trace_with_chosen_ranks_and_links():
    from simtrain.network.perturb import Perturbations

    report = simulate("resnet50", "abci", gpus=32, batch=32, dtype="fp16", engine="des", algorithm="hierarchical",
                      perturbations=Perturbations.parse(["9:1.2"], [], [], []), record_loads=True)
    trace = step_trace(report, ranks=[0, 9, 31], busiest_links=4, links=["gpu0->node0.switch"])
    check_trace(trace)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["ph"] == "M" and e["name"] == "process_name"}
    assert {"GPU 0", "GPU 9", "GPU 31"} <= names and "GPU 1" not in names
    tracks = list(dict.fromkeys(e["name"] for e in trace["traceEvents"] if e["ph"] == "C"))
    assert "gpu0->node0.switch" in tracks and len(tracks) <= 5
    # the first track is the most utilised link: bytes over capacity, not bytes
    comm = report.timeline.comm
    use = comm.link_bytes / comm.link_capacity
    first = tracks[0]
    best = max(range(len(use)), key=lambda k: (use[k], comm.link_bytes[k]))
    assert first == report.timeline.link_name(best)
    with pytest.raises(ConfigError, match="trace_ranks"):
        step_trace(report, ranks=[32])
    with pytest.raises(ConfigError, match="no such link"):
        step_trace(report, links=["nowhere->gpu0"])


@pytest.mark.parametrize("jitter", [0.0, 0.05])
def test_a_des_trace_shows_the_first_four_gpus_and_the_stragglers_by_default(jitter):
    """The default gpu_spread stretches every GPU to the spread's expected slowest (1.058 on 256 GPUs): that is no
    straggler, so a default trace is the first four GPUs and the straggler given (audit 45: all 256 before); with
    drawn factors (compute_jitter) the slowest GPU, which ends the step."""
    from simtrain.network.perturb import Perturbations

    report = simulate("resnet50", "abci", gpus=32, batch=32, dtype="fp16", engine="des", compute_jitter=jitter,
                      perturbations=Perturbations.parse(["17:1.2"], [], [], []))
    names = {e["args"]["name"] for e in step_trace(report)["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name" and e["args"]["name"].startswith("GPU ")}
    assert names == {"GPU 0", "GPU 1", "GPU 2", "GPU 3", "GPU 17"}


def test_two_stragglers_beside_drawn_factors_are_both_traced():
    """With compute_jitter every GPU draws its own factor; the stragglers given stand out of that spread, and each
    is traced (review 45: only the slowest was)."""
    from simtrain.network.perturb import Perturbations

    report = simulate("resnet50", "dgx-a100", gpus=16, batch=32, dtype="fp16", engine="des", compute_jitter=0.02,
                      perturbations=Perturbations.parse(["5:1.5", "9:1.3"], [], [], []))
    names = {e["args"]["name"] for e in step_trace(report)["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name" and e["args"]["name"].startswith("GPU ")}
    assert names == {"GPU 0", "GPU 1", "GPU 2", "GPU 3", "GPU 5", "GPU 9"}


def test_collective_trace_cli(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "16", "--size", "64MiB",
                 "--algorithm", "multidim-ring", "--engine", "des", "--trace", str(out)]) == 0
    trace = json.loads(out.read_text())
    check_trace(trace)
    ranks = {e["pid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    assert [name for name in ranks.values() if name.startswith("GPU")] == ["GPU 0", "GPU 1", "GPU 2", "GPU 3"]
    phases = [e for e in trace["traceEvents"] if e["ph"] == "X" and ranks[e["pid"]] == "GPU 0"]
    assert [e["name"] for e in phases] == ["reduce-scatter dim0", "reduce-scatter dim1", "all-gather dim1",
                                           "all-gather dim0"]
    capsys.readouterr()
    assert main(["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "16", "-b", "1M", "-e", "4M",
                 "--trace", str(tmp_path / "d.json")]) == 2
    assert "--trace" in capsys.readouterr().err and not (tmp_path / "d.json").exists()


def test_collective_trace_analytical_sums_to_one_chunk():
    from simtrain.collectives import collective_time
    from simtrain.topology import load_topology

    r = collective_time("all-reduce", "256 MiB", load_topology("torus-2d", gpus=64), "multidim-ring")
    trace = collective_trace(r, None)
    check_trace(trace)
    total = sum(e["dur"] for e in trace["traceEvents"] if e["ph"] == "X" and e["tid"] == 1)
    assert total == pytest.approx(r.time_s * 1e6, rel=1e-6)


def test_simulate_trace_flags(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["simulate", "--model", "resnet18-cifar", "--topology", "abci", "--gpus", "16", "--trace", str(out),
                 "--trace-ranks", "3,5"]) == 0
    names = {e["args"]["name"] for e in json.loads(out.read_text())["traceEvents"]
             if e["ph"] == "M" and e["name"] == "process_name"}
    assert names == {"GPU 3", "GPU 5"}
    capsys.readouterr()
    assert main(["simulate", "--model", "resnet18-cifar", "--topology", "abci", "--gpus", "16",
                 "--trace-ranks", "3"]) == 2
    assert "needs --trace" in capsys.readouterr().err
    assert main(["simulate", "--model", "resnet18-cifar", "--topology", "abci", "--gpus", "16", "--trace",
                 str(tmp_path / "x.json"), "--trace-ranks", "a,b"]) == 2


def _phases(trace: dict) -> dict[str, list[tuple[int, str, float, float]]]:
    """Per process name: (chunk, phase, start µs, end µs) of every phase slice."""
    names = {e["pid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    out: dict[str, list[tuple[int, str, float, float]]] = {}
    for e in trace["traceEvents"]:
        if e.get("cat") == "phase":
            out.setdefault(names[e["pid"]], []).append((e["args"]["chunk"], e["name"], e["ts"], e["ts"] + e["dur"]))
    return out


def test_collective_trace_shows_every_chunk_as_the_engines_schedule_it():
    """4 chunks of a 2-D torus all-reduce: the analytical chunk plan (a link group serves one chunk's phase at a
    time) ends at the collective's time, and the DES, run uncontended, puts each traced rank's phases at the same
    instants (to the nanosecond), the last one ending when the rank finished."""
    from simtrain.collectives import build_schedule
    from simtrain.topology import load_topology
    from simtrain.training.trace import trace_collective

    cluster = load_topology("torus-2d", gpus=16)
    schedule = build_schedule("all-reduce", "64 MiB", cluster, "multidim-ring", chunks=4)
    result, trace = trace_collective(schedule, cluster)
    check_trace(trace)
    planned = sorted(_phases(trace)["all-reduce on 16 GPUs"])
    assert len(planned) == 16 and {c for c, *_ in planned} == {0, 1, 2, 3}
    assert max(end for *_, end in planned) == pytest.approx(result.time_s * 1e6, abs=1e-3)
    # dim0's phases share links: never two chunks in them at once
    dim0 = sorted((s, e) for _, name, s, e in planned if name.endswith("dim0"))
    assert all(a[1] <= b[0] + 1e-3 for a, b in itertools.pairwise(dim0))
    assert sum(e - s for *_, s, e in planned) > result.time_s * 1e6     # chunks overlap across dimensions
    des, dtrace = trace_collective(schedule, cluster, "des", ranks=[0, 9], links=["gpu0->gpu1"])
    check_trace(dtrace)
    ranks = _phases(dtrace)
    assert set(ranks) == {"GPU 0", "GPU 9"}
    for spans in ranks.values():
        assert [(c, n) for c, n, *_ in sorted(spans)] == [(c, n) for c, n, *_ in planned]
        assert [t for *_, s, e in sorted(spans) for t in (s, e)] == pytest.approx(
            [t for *_, s, e in planned for t in (s, e)], abs=2e-3)
    assert des.time_s == pytest.approx(result.time_s, rel=1e-9)
    assert "gpu0->gpu1" in {e["name"] for e in dtrace["traceEvents"] if e["ph"] == "C"}
    with pytest.raises(ConfigError, match="trace_ranks"):
        trace_collective(schedule, cluster, "des", ranks=[16])
    with pytest.raises(ConfigError, match="DES"):
        trace_collective(schedule, cluster, ranks=[0])


@pytest.mark.parametrize("algorithm,chunks", [("hierarchical", 2), ("double-binary-tree", 4), ("ring", 1)])
def test_des_trace_phases_end_when_the_rank_finishes(algorithm, chunks):
    """Under contention (abci's NICs) and for trees, each traced rank's phases of a chunk follow one another (chunk
    0 from the start; a later chunk of a chain waits for the one before) and the last ends at the collective's
    time."""
    from simtrain.collectives import build_schedule
    from simtrain.topology import load_topology
    from simtrain.training.trace import trace_collective

    cluster = load_topology("abci", gpus=16)
    schedule = build_schedule("all-reduce", "16 MiB", cluster, algorithm, chunks=chunks)
    result, trace = trace_collective(schedule, cluster, "des", ranks=list(range(16)))
    check_trace(trace)
    ranks = _phases(trace)
    assert len(ranks) == 16
    for spans in ranks.values():
        for chunk in range(chunks):
            mine = sorted((s, e) for c, _, s, e in spans if c == chunk)
            assert (mine[0][0] == 0.0 or chunk > 0) and all(a[1] <= b[0] + 1e-6 for a, b in itertools.pairwise(mine))
    last = max(e for spans in ranks.values() for *_, e in spans)
    assert last == pytest.approx(result.time_s * 1e6, abs=1e-3)


def test_collective_trace_flags(tmp_path, capsys):
    base = ["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "16", "--size", "64MiB",
            "--algorithm", "multidim-ring", "--chunks", "2"]
    out = tmp_path / "a.json"
    assert main([*base, "--trace", str(out)]) == 0
    assert len(_phases(json.loads(out.read_text()))["all-reduce on 16 GPUs"]) == 8      # 2 chunks x 4 phases
    capsys.readouterr()
    for extra, message in ((["--trace-ranks", "1"], "needs --trace"),
                           (["--trace", str(tmp_path / "b.json"), "--trace-ranks", "1"], "traced by the DES"),
                           (["--engine", "des", "--trace", str(tmp_path / "c.json"), "--trace-ranks", "1,16"],
                            "--trace-ranks: must be ranks of the collective"),
                           (["--engine", "des", "--trace", str(tmp_path / "d.json"), "--trace-links", "x->y"],
                            "--trace-links: no such link")):
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("[bcd].json"))


def test_step_trace_shows_each_buckets_phases_on_the_analytical_engine():
    report = simulate("resnet50", "torus-2d", gpus=16, batch=32, algorithm="multidim-ring", chunks=2)
    trace = step_trace(report, ranks=[0])
    check_trace(trace)
    phases = [e for e in trace["traceEvents"] if e.get("cat") == "phase"]
    buckets = {i: e for i, e in enumerate(e for e in trace["traceEvents"] if e.get("cat") == "comm")}
    assert len(phases) == len(buckets) * 2 * 4                          # every bucket: 2 chunks x 4 phases
    for i, bucket in buckets.items():
        mine = [e for e in phases if e["args"]["bucket"] == i]
        assert min(e["ts"] for e in mine) == bucket["ts"]
        assert max(e["ts"] + e["dur"] for e in mine) == pytest.approx(bucket["ts"] + bucket["dur"], abs=2e-3)
    threads = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert {"all-reduce phases, chunk 0", "all-reduce phases, chunk 1"} <= threads
    des = simulate("resnet18-cifar", "abci", gpus=16, batch=32, engine="des")
    assert not [e for e in step_trace(des)["traceEvents"] if e.get("cat") == "phase"]   # not recorded there


def _check_des_phases(trace: dict, ranks: list[int]) -> None:
    """Every traced rank's phases nest inside their bucket's slice on that rank, and its last phase of a bucket
    ends when the bucket does there."""
    events = trace["traceEvents"]
    for rank in ranks:
        buckets = [e for e in events if e.get("cat") == "comm" and e["pid"] == rank]
        phases = [e for e in events if e.get("cat") == "phase" and e["pid"] == rank]
        assert buckets and phases
        for i, bucket in enumerate(buckets):
            mine = [e for e in phases if e["args"]["bucket"] == i]
            assert mine, (rank, i)
            assert all(bucket["ts"] <= e["ts"] and e["ts"] + e["dur"] <= bucket["ts"] + bucket["dur"] + 1e-3
                       for e in mine)
            assert max(e["ts"] + e["dur"] for e in mine) == pytest.approx(bucket["ts"] + bucket["dur"], abs=1e-3)


def test_des_step_trace_shows_each_ranks_phases(monkeypatch):
    from simtrain.network.perturb import Perturbations
    from simtrain.training import des_step

    ranks = [0, 9, 31]
    common = {"gpus": 32, "batch": 32, "dtype": "fp16", "engine": "des",
              "perturbations": Perturbations.parse(["9:1.2"], [], [], [])}
    shared = simulate("resnet50", "abci", record_loads=True, record_phases=ranks, **common)   # no replays
    replayed: list[bool] = []
    replay = des_step._Replays.replayed
    monkeypatch.setattr(des_step._Replays, "replayed",
                        lambda self, *a: replayed.append(replay(self, *a)) or replayed[-1])
    alone = simulate("resnet50", "abci", record_phases=ranks, **common)
    assert any(replayed)                            # some buckets were replayed: their phases were shifted
    traces = [step_trace(report, ranks=ranks) for report in (shared, alone)]
    for trace in traces:
        check_trace(trace)
        _check_des_phases(trace, ranks)
    first, second = ([(e["pid"], e["tid"], e["name"], e["ts"], e["dur"]) for e in t["traceEvents"]
                      if e.get("cat") == "phase"] for t in traces)
    assert len(first) == len(second)
    assert all(a[:3] == b[:3] and a[3:] == pytest.approx(b[3:], abs=1e-3) for a, b in zip(first, second))
    untraced = [e for e in step_trace(simulate("resnet50", "abci", **common), ranks=ranks)["traceEvents"]
                if e.get("cat") == "phase"]
    assert not untraced                             # recorded only when asked for


def test_des_step_trace_phases_of_a_compressed_scheme(tmp_path):
    out = tmp_path / "t.json"
    assert main(["simulate", "--model", "resnet18-cifar", "--topology", "abci", "--gpus", "16", "--batch", "32",
                 "--engine", "des", "--scheme", "powersgd", "--trace", str(out), "--trace-ranks", "0,5"]) == 0
    trace = json.loads(out.read_text())
    check_trace(trace)
    _check_des_phases(trace, [0, 5])
    assert {"reduce-scatter", "all-gather"} <= {e["name"] for e in trace["traceEvents"] if e.get("cat") == "phase"}


def test_des_collective_trace_records_only_the_links_it_draws():
    """The DES keeps the loads of the links a trace may draw, not every link's at every event, and the tracks are
    those of the full history."""
    import numpy as np
    import simpy

    from simtrain.collectives import build_schedule
    from simtrain.network.des import FlowNetwork
    from simtrain.topology import load_topology
    from simtrain.training.trace import _link_tracks, _utilised, recording_run, trace_collective

    cluster = load_topology("dgx-h100", gpus=32)
    schedule = build_schedule("all-reduce", 2**26, cluster, "ring", chunks=4, channels=8)
    named = "gpu0->node0.switch"

    def history(record):
        env = simpy.Environment()
        network = FlowNetwork(env, cluster, record_loads=record)
        run = recording_run(network, schedule, None, np.array([0]))
        env.run(until=run.done)
        return network

    full = history(True)
    top = _utilised(full.link_bytes, cluster.link_bandwidth_Bps, 16)
    watched = history(top)
    assert len(watched.load_history) < len(full.load_history)
    assert all(set(ids.tolist()) <= set(top.tolist()) for _, ids, _ in watched.load_history)
    assert _link_tracks(watched.load_history, top, str, 1) == _link_tracks(full.load_history, top, str, 1)
    # the trace draws the most utilised links and the named one, from the watched history
    _, trace = trace_collective(schedule, cluster, "des", links=[named])
    names = {e["name"] for e in trace["traceEvents"] if e["ph"] == "C"}
    assert named in names and len(names) == len(top) + (named not in {
        f"{cluster.node_names[int(cluster.link_src[k])]}->{cluster.node_names[int(cluster.link_dst[k])]}"
        for k in top})
    with pytest.raises(ConfigError, match="no such link"):
        trace_collective(schedule, cluster, "des", links=["gpu0->gpu99"])
