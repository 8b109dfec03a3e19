"""Inputs hostile hunt 43 found accepted and ignored, without a bound, raising a bare Python exception from the API,
or refused with an unclear message (/work/reports/audit43_hostile.md). Each is now refused in one line with exit
status 2 (a ConfigError from Python), naming the flag or parameter, the value and what is allowed."""

from __future__ import annotations

import pytest
from cli_checks import refused as _refused

import simtrain
from simtrain.cli import main
from simtrain.errors import ConfigError
from simtrain.run import TrainingRun

GPT = "gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=32000"
GPT8 = "gpt:layers=8,hidden=1024,heads=16,seq=512,vocab=32000"
SIM = ["simulate", "--model", GPT, "--topology", "dgx-a100", "--gpus", "8"]
PLAN = [*SIM, "--micro-batch", "1", "--global-batch", "16"]
DP = ["simulate", "--model", "resnet50", "--topology", "dgx-a100", "--gpus", "8"]


# --- S3: --tp-overlap async with tp = 1 -----------------------------------------------------------------------

def test_tp_overlap_without_tensor_parallelism_changes_nothing_and_says_so(capsys):
    """With tp = 1 there is no TP collective to overlap: the setting is kept and changes nothing, as Megatron-LM's
    flag does, so a plan search's tp = 1 plan runs as printed and a study sweeps tp under one setting (helper
    review 43: a refusal broke both); the header says there is nothing to overlap."""
    plain = TrainingRun(GPT, "dgx-a100", gpus=8, parallel="pp=2", micro_batch=1, global_batch=16)
    assert simtrain.simulate(plain.replace(tp_overlap="async")).step_time_s == simtrain.simulate(plain).step_time_s
    capsys.readouterr()
    assert main([*PLAN, "--parallel", "tp=1,pp=2", "--tp-overlap", "async"]) == 0
    assert "TP communication async (tp = 1: nothing to overlap)" in capsys.readouterr().out


def test_tp_overlap_with_tensor_parallelism_and_in_the_plan_search_still_runs(capsys):
    assert main([*PLAN, "--parallel", "tp=2,pp=2", "--tp-overlap", "async"]) == 0
    # the search varies tp; every plan it prints runs as printed
    capsys.readouterr()
    assert main(["parallelize", "--model", GPT, "--topology", "dgx-a100", "--gpus", "8", "--global-batch", "16",
                 "--tp-overlap", "async", "--top", "3", "--json"]) == 0
    from simtrain.parallel.search import search
    result = search(GPT, "dgx-a100", gpus=8, global_batch=16, tp_overlap="async", top=3)
    assert any(row["parallel"].startswith("tp=1,") for row in result.best)
    for k in range(len(result.best)):
        assert simtrain.simulate(TrainingRun(**result.run_params(k))).step_time_s > 0
    capsys.readouterr()


# --- S5: --trace-links with a link the cluster does not have ----------------------------------------------------

@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_an_unknown_trace_link_is_refused_under_both_engines(capsys, tmp_path, engine):
    out = tmp_path / "t.json"
    _refused(capsys, [*DP, "--engine", engine, "--trace", str(out), "--trace-links", "a->b"],
             "--trace-links", "no such link in this cluster", "'a->b'")
    assert not out.exists()


def test_trace_links_are_refused_where_no_link_loads_are_drawn(capsys, tmp_path):
    out = tmp_path / "t.json"
    # the analytical engine records no link loads over time: a real link would be drawn nowhere
    _refused(capsys, [*DP, "--trace", str(out), "--trace-links", "gpu0->node0.switch"],
             "--trace-links", "DES", "des")
    # a plan's trace is its pipeline schedule, with neither rank nor link tracks
    _refused(capsys, [*PLAN, "--parallel", "tp=2,pp=2", "--trace", str(out), "--trace-ranks", "0,1"],
             "--trace-ranks", "pipeline schedule")
    assert not out.exists()
    assert main([*DP, "--engine", "des", "--trace", str(out), "--trace-links", "gpu0->node0.switch"]) == 0
    assert "gpu0->node0.switch" in out.read_text()
    capsys.readouterr()


# --- S6: the batch sizes have an upper bound --------------------------------------------------------------------

@pytest.mark.parametrize("argv,words", [
    (["--batch", str(10**30), "--no-check-memory"], ["--batch", "at most 16777216"]),
    (["--batch", str(2**24 + 1), "--no-check-memory"], ["--batch", "at most 16777216", str(2**24 + 1)]),
    (["--micro-batch", "4", "--global-batch", str(10**15), "--no-check-memory"],
     ["--global-batch", f"at most {2**42}"]),
    (["--parallel", "tp=2,pp=1", "--micro-batch", str(10**30), "--global-batch", str(4 * 10**30),
      "--no-check-memory"], ["--micro-batch", "at most 16777216"]),
])
def test_batch_sizes_are_bounded(capsys, argv, words):
    base = SIM if "--parallel" in argv else DP
    _refused(capsys, [*base, *argv], *words)


def test_batch_bound_from_python_and_a_huge_batch_memory_message():
    with pytest.raises(ConfigError, match="batch: must be at most 16777216"):
        simtrain.simulate("resnet50", "dgx-a100", batch=2**24 + 1, check_memory=False)
    with pytest.raises(ConfigError, match="global_batch: must be at most"):
        TrainingRun("resnet50", "dgx-a100", micro_batch=1, global_batch=2**42 + 1)


def test_the_memory_message_at_the_largest_batch_is_readable(capsys):
    line = _refused(capsys, [*DP, "--batch", str(2**24)], "PiB", "but the a100 has")
    assert "inf" not in line and "a a100" not in line


# --- the Python API: ConfigError, not AttributeError or TypeError ----------------------------------------------

@pytest.mark.parametrize("data", [[1, 2], None, "model: resnet50"])
def test_from_mapping_needs_a_mapping(data):
    with pytest.raises(ConfigError, match="must be a mapping"):
        TrainingRun.from_mapping(data)


@pytest.mark.parametrize("compute", [object(), "x", 5])
def test_simulate_compute_must_be_a_compute_model(compute):
    with pytest.raises(ConfigError, match="compute: must be a ComputeModel"):
        simtrain.simulate("resnet50", "dgx-a100", compute=compute)


def test_simulate_cache_must_be_a_run_cache():
    with pytest.raises(ConfigError, match="cache: must be a RunCache"):
        simtrain.simulate("resnet50", "dgx-a100", cache=5)


def test_simulate_names_an_unknown_keyword_and_the_closest():
    with pytest.raises(ConfigError, match="unknown parameter: 'foo'") as info:
        simtrain.simulate("resnet50", "dgx-a100", foo=1)
    assert "batch" in str(info.value)   # the allowed names
    with pytest.raises(ConfigError, match="did you mean 'batch'"):
        simtrain.simulate("resnet50", "dgx-a100", bach=1)
    with pytest.raises(TypeError, match="TrainingRun alone"):   # a usage error with its own clear text
        simtrain.simulate(TrainingRun("resnet50", "dgx-a100"), gpus=8)


# --- U4: an uneven layout that leaves the other chunks no layers ------------------------------------------------

def test_a_first_chunk_larger_than_the_model_says_its_bound(capsys):
    base = ["simulate", "--model", GPT8, "--topology", "dgx-a100", "--gpus", "8", "--micro-batch", "1",
            "--global-batch", "16"]
    line = _refused(capsys, [*base, "--parallel", "tp=4,pp=2", "--pipeline-layout", "first=9"],
                    "--pipeline-layout", "first: at most 7", "'first=9'")
    assert "-1" not in line
    _refused(capsys, [*base, "--parallel", "tp=2,pp=4", "--pipeline-layout", "first=4,last=3"],
             "first + last: at most 6")


# --- U5: a key given twice in a spec ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv,words", [
    (["--model", f"{GPT},attention_bias=qkv,attention_bias=all", "--topology", "dgx-a100", "--gpus", "8"],
     ["attention_bias: given twice", "'qkv' and 'all'"]),
    (["--model", "resnet50", "--topology", "dgx-a100", "--framework", "ddp:x=1,x=2"],
     ["--framework", "x: given twice", "'1' and '2'"]),
    (["--model", "bert-base-pretraining:predictions=20,predictions=30", "--topology", "dgx-a100", "--gpus", "8"],
     ["predictions: given twice", "'20' and '30'"]),
])
def test_a_key_given_twice_is_named_once_with_both_values(capsys, argv, words):
    line = _refused(capsys, ["simulate", *argv], *words)
    assert line.count("model ") <= 1 and line.count("given twice") == 1


# --- U6: values as the user typed them ---------------------------------------------------------------------------

def test_booleans_and_values_are_shown_as_typed(capsys):
    line = _refused(capsys, [*PLAN, "--parallel", "tp=2,pp=1", "--no-zero-reshard"], "--zero-reshard", "(got false)")
    assert "False" not in line
    line = _refused(capsys, [*SIM, "--sequence-parallel"], "--sequence-parallel", "(got true)")
    assert "True" not in line
    line = _refused(capsys, [*SIM[:2], f"{GPT},attention_bias=true", *SIM[3:]], "attention_bias",
                    "unknown value: true")
    assert "True" not in line
    line = _refused(capsys, [*PLAN, "--parallel", "tp=2,pp=1", "--zero-shard-size", "4"], "--zero-shard-size",
                    "zero 0", "(got 4)")
    assert line.count("(got") == 1


# --- U7: NCCL_ALGO's lists ---------------------------------------------------------------------------------------

def test_an_algo_list_says_algo_takes_one_name(capsys):
    _refused(capsys, [*DP, "--algorithm", "auto:algo=ring,tree"], "--algorithm", "algo", "takes one name",
             "'tree'", "NCCL_ALGO")


# --- H3: plot value lists are bounded ----------------------------------------------------------------------------

def test_plot_value_lists_are_capped(capsys, tmp_path):
    out = tmp_path / "p.png"
    bandwidths = ",".join(f"{i}Mbit/s" for i in range(1, 1002))
    _refused(capsys, ["plot", "bandwidth", "--topology", "cloud-25g", "--out", str(out), "--bandwidths", bandwidths,
                      "--quiet"], "--bandwidths", "gives 1001 bandwidths; at most 1000")
    densities = ",".join(str(i / 100000) for i in range(1, 1002))
    _refused(capsys, ["plot", "traffic", "--schemes", "topk,powersgd", "--sweep", "rank=1,2", "--sweep",
                      f"density={densities}", "--out", str(out), "--quiet"],
             "--sweep", "gives 1001 values of density; at most 1000")
    assert not out.exists()


def test_plot_value_lists_are_capped_from_python():
    from simtrain.plot.reduction import sweep_bandwidth, sweep_traffic

    with pytest.raises(ConfigError, match="bandwidths: gives 1001 bandwidths; at most 1000"):
        sweep_bandwidth("resnet18-cifar", "cloud-25g", ["none"], [f"{i} Mbit/s" for i in range(1, 1002)], gpus=16)
    with pytest.raises(ConfigError, match="at most 1000"):
        sweep_traffic("resnet18-cifar", ["topk"], "density", [i / 1e5 for i in range(1, 1002)], gpus=8)


# --- S7: the interleaved schedule names its chunks ----------------------------------------------------------------

def test_interleaved_without_chunks_is_refused(capsys):
    _refused(capsys, [*PLAN, "--parallel", "tp=2,pp=2", "--pipeline-schedule", "interleaved"],
             "--pipeline-schedule", "interleaved:chunks=V", "'interleaved'")
    assert main([*PLAN, "--parallel", "tp=2,pp=2", "--pipeline-schedule", "interleaved:chunks=2"]) == 0
    capsys.readouterr()
