"""Inputs hostile hunt 19 found accepted and ignored, silently clamped, destroying an output, or without a bound:
each is now refused in one line (or, for the DDP first bucket, honoured)."""

from __future__ import annotations

import json

import pytest
from cli_checks import refused as _refused

from simtrain.cli import main

COLL = ["collective", "--op", "all-reduce", "--topology", "dgx-h100", "--gpus", "16"]
STEP = ["simulate", "--model", "resnet50", "--topology", "dgx-h100", "--gpus", "16"]




@pytest.mark.parametrize("size", ["0.3B", "1e-300B"])
def test_a_collective_size_below_one_byte_is_refused(capsys, size, tmp_path):
    _refused(capsys, [*COLL, "--size", size], "--size", "at least 1 B", size)
    _refused(capsys, ["plot", "links", "--topology", "torus-2d", "--gpus", "16", "--size", size, "--out",
                      str(tmp_path / "l.png")], "--size", "at least 1 B")
    assert not (tmp_path / "l.png").exists()


def test_a_collective_without_a_size_says_it_is_missing(capsys):
    err = _refused(capsys, COLL, "--size", "is missing")
    assert "None" not in err


@pytest.mark.parametrize("key,value,words", [
    ("network.endpoint_delay", "1.7e308 s", ("network.endpoint_delay", "at most 1 s")),
    ("network.reduction_memory_passes", "1e308", ("network.reduction_memory_passes", "at most 100")),
])
def test_network_delays_and_passes_are_bounded(capsys, key, value, words):
    """Unbounded, they overflowed step times to inf (exit 0), a trace to an OverflowError and the DES to a hang."""
    extra = ["--set", "network.local_reduction_bandwidth=1GB/s"] if "passes" in key else []
    _refused(capsys, [*COLL, "--size", "1MiB", "--set", f"{key}={value}", *extra], *words)
    _refused(capsys, [*STEP, "--engine", "des", "--set", f"{key}={value}", *extra], *words)


def test_reduction_passes_without_a_reduction_bandwidth_are_refused(capsys):
    _refused(capsys, [*STEP, "--set", "network.reduction_memory_passes=4"], "network.reduction_memory_passes",
             "local_reduction_bandwidth")
    assert main([*STEP, "--set", "network.reduction_memory_passes=4", "--set",
                 "network.local_reduction_bandwidth=100GB/s"]) == 0


def test_best_refuses_chunks_and_budgets_the_des_over_every_algorithm(capsys):
    _refused(capsys, [*COLL, "--size", "64MiB", "--algorithm", "best", "--chunks", "8"], "--chunks", "best")
    # each algorithm alone fits the bound; together they do not
    _refused(capsys, [*COLL, "--size", "64MiB", "--algorithm", "best", "--engine", "des", "--max-events", "1000",
                      "--quiet"], "--max-events", "algorithms together")
    assert main([*COLL, "--size", "64MiB", "--algorithm", "best", "--json"]) == 0


def test_all_to_all_refuses_auto_restrictions_it_would_ignore(capsys):
    _refused(capsys, [*COLL[:2], "all-to-all", *COLL[3:], "--size", "1MiB", "--algorithm", "auto:proto=Simple"],
             "--algorithm", "point-to-point")
    assert main([*COLL[:2], "all-to-all", *COLL[3:], "--size", "1MiB"]) == 0


def test_ddp_first_bucket_is_bounded_and_honoured_above_the_bucket_size(capsys):
    _refused(capsys, [*STEP, "--framework", "ddp:first_bucket=1e300B"], "first_bucket", "at most")
    _refused(capsys, [*STEP, "--framework", "ddp:first_bucket=1e-9B"], "first_bucket", "at least 1 B")
    sizes = {}
    for first in ("1MiB", "50MiB"):
        assert main([*STEP, "--framework", f"ddp:first_bucket={first}", "--json"]) == 0
        sizes[first] = [b["size_bytes"] for b in json.loads(capsys.readouterr().out)["buckets"]]
    # torch's bucket_size_limits: a first cap above bucket_cap_mb makes a larger first bucket, not a clamped one
    assert sizes["50MiB"][0] >= 50 * 2**20 > 25 * 2**20 >= sizes["1MiB"][0]


def test_two_outputs_cannot_share_a_file(capsys, tmp_path):
    same = tmp_path / "same.json"
    _refused(capsys, ["validate", "--quiet", "--record", "--ratchet", str(same), "--markdown", str(same)],
             "--markdown", "same file as --ratchet")
    assert not same.exists()
    plan = tmp_path / "b.png"
    _refused(capsys, ["place", "--model", "resnet50", "--devices", "2", "--out", str(plan), "--plot", str(plan)],
             "--plot", "same file as --out")
    assert not plan.exists()


def test_a_key_given_twice_in_simtrains_own_json_is_refused(capsys, tmp_path):
    ratchet = tmp_path / "dup.json"
    ratchet.write_text('{"tolerance": 0.01, "tolerance": 0.5, "cases": {}}')
    _refused(capsys, ["validate", "--quiet", "--check-ratchet", "--ratchet", str(ratchet), "--case",
                      "ab-training-traffic-reduction"], "tolerance", "given twice")
    workload = tmp_path / "w.json"
    workload.write_text('{"format": "simtrain-workload", "world_size": 2, "world_size": 2000}')
    _refused(capsys, [*STEP[:1], "--workload", str(workload), *STEP[3:]], "world_size", "given twice")


@pytest.mark.parametrize("value,words", [("ring:foo=1", ("sweep.grid.algorithm", "unknown key", "foo")),
                                         ("ring:channels=999", ("sweep.grid.algorithm", "at most 64")),
                                         ("auto:proto=junk", ("sweep.grid.algorithm", "NCCL's names", "junk"))])
def test_a_study_checks_algorithm_parameters_at_load(capsys, tmp_path, value, words):
    study = tmp_path / "s.yaml"
    study.write_text("name: s\nseed: 1\nbase: {model: resnet50, topology: dgx-h100, gpus: 16, batch: 32}\n"
                     f"sweep:\n  grid:\n    algorithm: [auto, \"{value}\"]\n")
    _refused(capsys, ["sweep", str(study), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"], *words)
    assert not (tmp_path / "o").exists()


def test_a_study_checks_framework_parameters_and_names_a_network_key(capsys, tmp_path):
    study = tmp_path / "s.yaml"
    base = "name: s\nseed: 1\nbase: {model: resnet50, topology: dgx-h100, gpus: 16, batch: 32}\nsweep:\n  grid:\n"
    study.write_text(base + "    framework: [ddp, \"ddp:launch=5s\"]\n")
    _refused(capsys, ["sweep", str(study), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"],
             "sweep.grid.framework", "at most 1 s")
    study.write_text(base + "    network.protocol: [nccl, NCCL]\n")
    _refused(capsys, ["sweep", str(study), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"],
             "sweep.grid.network.protocol", "'NCCL'")


@pytest.mark.parametrize("spec", ["tp=2,,pp=2", "tp=2,pp=2,"])
def test_an_empty_parallel_degree_is_refused(capsys, spec):
    _refused(capsys, ["simulate", "--model", "gpt:layers=8,hidden=1024,heads=16,seq=1024,vocab=32000", "--topology",
                      "cloud-25g", "--gpus", "16", "--micro-batch", "1", "--global-batch", "16", "--parallel", spec],
             "empty degree")


def test_place_refuses_a_device_type_beside_a_topology(capsys):
    _refused(capsys, ["place", "--model", "resnet50", "--devices", "2", "--device-type", "h100", "--topology",
                      "dgx-a100"], "--device-type", "topology's GPUs")


@pytest.mark.parametrize("argv,key", [
    (["simulate", "--model", "gpt:layers=2,hidden=512,heads=8,seq=128,vocab=1000,gated=yes", "--topology",
      "dgx-h100", "--gpus", "8", "--micro-batch", "1", "--global-batch", "8", "--parallel", "dp=8"], "gated"),
    ([*COLL, "--size", "1MiB", "--set", "topology.intra_node.in_switch_reduction=on"],
     "topology.intra_node.in_switch_reduction"),
])
def test_typed_booleans_are_yaml_12s(capsys, argv, key):
    """'yes' and 'on' are text in YAML 1.2 (PyYAML's YAML 1.1 read them as true): a boolean key refuses them."""
    _refused(capsys, argv, key, "must be true or false")
    assert main([a.replace("=on", "=true").replace("gated=yes", "gated=true") for a in argv]) == 0


@pytest.mark.parametrize("key,value,shown", [("topology.nic.latency", "2s", "'2 s'"),
                                             ("topology.nic.bandwidth", "2PB/s", "2 PB/s")])
def test_an_out_of_bound_link_is_shown_with_its_unit(capsys, key, value, shown):
    err = _refused(capsys, [*COLL, "--size", "1MiB", "--set", f"{key}={value}"], key, shown)
    assert "2000000000000000.0" not in err and "(got 2.0)" not in err


def test_a_plotted_value_given_twice_is_refused(capsys, tmp_path):
    out = str(tmp_path / "p.png")
    _refused(capsys, ["plot", "bandwidth", "--topology", "cloud-25g", "--bandwidths", "1Gbit/s,125 MB/s", "--out",
                      out], "--bandwidths", "given twice")
    _refused(capsys, ["plot", "traffic", "--schemes", "powersgd", "--sweep", "rank=1,1", "--out", out], "--sweep",
             "given twice")
    assert not (tmp_path / "p.png").exists()


def test_ddps_default_first_bucket_gives_way_to_a_smaller_bucket_size(capsys):
    """torch's 1 MiB first cap applies only with the default bucket_cap_mb: at a smaller --bucket-size the buckets
    are those of a first cap equal to it (review 19), while a first cap given above it still makes a larger one."""
    step = ["simulate", "--model", "gpt:layers=16,hidden=64,heads=4,seq=64,vocab=100", "--topology", "dgx-h100",
            "--gpus", "16", "--batch", "8", "--bucket-size", "256KiB", "--json"]   # 64 KiB tensors: caps decide
    buckets = {}
    for first in (None, "256KiB", "1MiB", "2MiB"):
        extra = ["--framework", f"ddp:first_bucket={first}"] if first else []
        assert main([*step, *extra]) == 0
        buckets[first] = [b["size_bytes"] for b in json.loads(capsys.readouterr().out)["buckets"]]
    assert buckets[None] == buckets["256KiB"]
    assert buckets["2MiB"][0] >= 2 * 2**20 > buckets[None][0]
    # torch's default is recognised by being unset, not by its value: an explicit 1 MiB is kept (it was clamped)
    assert buckets["1MiB"][0] >= 2**20 > buckets[None][0]
