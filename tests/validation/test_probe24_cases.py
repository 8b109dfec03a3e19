"""The cases of held-out probe 24: 18 published measurements from 5 documents no case had read before (NREL's
ESIF-HPC-4 benchmark README for Kestrel, Modal's multi-node training guide, CCI-MOC's RoCE test logs, Lambda's
deeplearning-benchmark tables and NVIDIA's dgxc-benchmarking GPT-3 175B README).

A helper session wrote every command, dated and froze that registration before it ran any (at 3f8b05b), then ran
them unchanged: each case is a registered row, the printed command gives its figure through the CLI and is the
probe's command (the same flags and values; ``--json`` aside), the published figure is the page's, and each case's
error is the one it has now (``MEASURED``). The probe tagged 11 rows medium and 7 low, none high; each case states
its tag and the assumption behind it.

One declared deviation: the three BERT-base SQuAD commands named a /tmp copy of models/bert-base.yaml whose only
change was ``input: {tokens: 384}``; the cases name ``bert-base:tokens=384``, the same model (the same figures).

The probe's medians at 3f8b05b: 15.3 % over its 18 rows, collectives 137.6 % (6), training 8.0 % (12); every
case's error now is the probe's to the fourth digit.
"""

from __future__ import annotations

import pytest
from probe_checks import (
    check_measured,
    check_printed_command,
    check_probe_cases,
    check_probe_commands,
    check_ratio_cases,
)

from simtrain.validation import CASES
from simtrain.validation.report import THRESHOLD

#: source id -> the probe's cases from it
PROBE24 = {
    "nrel-esif-hpc4": ["kestrel-allreduce-512KiB", "kestrel-allreduce-32MiB", "kestrel-allreduce-4GiB"],
    "modal-multinode-guide": ["modal-allreduce-4GB-16xh100"],
    "cci-moc-roce-testing": ["moc-allreduce-1GiB-2x1h100-roce", "moc-sendrecv-1GiB-2x1h100-roce"],
    "lambda-deeplearning-benchmark": ["lambda-rn50-amp-1xa100", "lambda-rn50-amp-8xa100", "lambda-rn50-amp-1xh100",
                                      "lambda-rn50-amp-8xh100", "lambda-rn50-amp-8xv100", "lambda-rn50-fp32-8xa100",
                                      "lambda-bertbase-squad-fp16-1xa100", "lambda-bertbase-squad-fp16-8xa100",
                                      "lambda-bertbase-squad-fp16-8xh100"],
    "dgxc-nemo-gpt3-175b": ["dgxc-gpt3-175b-bf16-128xh100", "dgxc-gpt3-175b-bf16-1024xh100",
                            "dgxc-gpt3-175b-fp8-128xh100"],
}
NEW = [name for cases in PROBE24.values() for name in cases]
LOW = ["kestrel-allreduce-512KiB", "moc-allreduce-1GiB-2x1h100-roce", "moc-sendrecv-1GiB-2x1h100-roce",
       "lambda-rn50-amp-8xv100", "lambda-bertbase-squad-fp16-1xa100", "lambda-bertbase-squad-fp16-8xa100",
       "lambda-bertbase-squad-fp16-8xh100"]

#: each case's relative error now (rounded to 0.01 %), the probe's at 3f8b05b
MEASURED = {
    "kestrel-allreduce-512KiB": +4.9360, "kestrel-allreduce-32MiB": +0.6152, "kestrel-allreduce-4GiB": +0.0344,
    "modal-allreduce-4GB-16xh100": +0.0108, "moc-allreduce-1GiB-2x1h100-roce": +2.1364,
    "moc-sendrecv-1GiB-2x1h100-roce": +2.3992, "lambda-rn50-amp-1xa100": +0.1891, "lambda-rn50-amp-8xa100": +0.2747,
    "lambda-rn50-amp-1xh100": +0.4393, "lambda-rn50-amp-8xh100": +0.4042, "lambda-rn50-amp-8xv100": +0.0353,
    "lambda-rn50-fp32-8xa100": -0.0225, "lambda-bertbase-squad-fp16-1xa100": +0.2893,
    "lambda-bertbase-squad-fp16-8xa100": +0.0342, "lambda-bertbase-squad-fp16-8xh100": +0.1114,
    "dgxc-gpt3-175b-bf16-128xh100": -0.0446, "dgxc-gpt3-175b-bf16-1024xh100": -0.0453,
    "dgxc-gpt3-175b-fp8-128xh100": -0.0142,
}

# --- the commands the probe registered (its probe24_registered.md, less ``python -m`` and ``--json``) -----------------
_NCCL = "--set network.protocol=nccl"
_KESTREL = ("collective --op all-reduce --size {size} --topology dgx-h100 --gpus 64 --set topology.gpus_per_node=4 "
            "--set topology.nic.count=2 --set topology.nic.bandwidth=200Gbit/s --set "
            "topology.intra_node.kind=fully_connected --set topology.intra_node.link=nvlink --set "
            f"topology.intra_node.bandwidth=150GB/s --set topology.intra_node.in_switch_reduction=false {_NCCL}")
_MOC = ("collective --op {op} --size 1GiB --topology dgx-h100 --gpus 2 --set topology.gpus_per_node=1 --set "
        "topology.nic.count=1 --set topology.nic.bandwidth=400Gbit/s {algo}" + _NCCL)
_RN50 = ("simulate --model resnet50 --dtype {dtype} {amp}--memory-format nchw --optimizer momentum --optimizer-impl "
         "foreach --topology {topology} --gpus {gpus} {one}--batch {batch} " + _NCCL)
_ONE = "--set topology.gpus_per_node=1 "
_BERT_FILE = "/tmp/probe24/bert-base-seq384.yaml"
_BERT = ("simulate --model {model} --dtype fp16 --autocast --optimizer adam --optimizer-impl fused --topology "
         "{topology} --gpus {gpus} {one}--batch 320 " + _NCCL)
_GPT3 = ("simulate --model gpt3-175b:attention=flash --topology dgx-h100 --optimizer adam --recompute none --zero 1 "
         "--sequence-parallel --pipeline-schedule interleaved:chunks=12 --micro-batch 1 --dtype {dtype} --gpus {gpus} "
         "--parallel tp=4,pp=8,dp={dp} --global-batch {batch} " + _NCCL)
PROBE_COMMANDS = {
    **{f"kestrel-allreduce-{size}": [_KESTREL.format(size=size)] for size in ("512KiB", "32MiB", "4GiB")},
    "modal-allreduce-4GB-16xh100": [f"collective --op all-reduce --size 4GB --topology dgx-h100 --gpus 16 {_NCCL}"],
    "moc-allreduce-1GiB-2x1h100-roce": [_MOC.format(op="all-reduce", algo="--algorithm auto:algo=ring ")],
    "moc-sendrecv-1GiB-2x1h100-roce": [_MOC.format(op="sendrecv", algo="")],
    **{f"lambda-rn50-amp-{n}x{gpu}": [_RN50.format(dtype="fp16", amp="--autocast ", topology=f"dgx-{gpu}", gpus=n,
                                                   one=_ONE if n == 1 else "", batch=1280)]
       for n in (1, 8) for gpu in ("a100", "h100")},
    "lambda-rn50-amp-8xv100": [_RN50.format(dtype="fp16", amp="--autocast ", topology="cloud-25g", gpus=8, one="",
                                            batch=256)],
    "lambda-rn50-fp32-8xa100": [_RN50.format(dtype="tf32", amp="", topology="dgx-a100", gpus=8, one="", batch=640)],
    **{f"lambda-bertbase-squad-fp16-{n}x{gpu}": [_BERT.format(model=_BERT_FILE, topology=f"dgx-{gpu}", gpus=n,
                                                              one=_ONE if n == 1 else "")]
       for n, gpu in ((1, "a100"), (8, "a100"), (8, "h100"))},
    "dgxc-gpt3-175b-bf16-128xh100": [_GPT3.format(dtype="bf16", gpus=128, dp=4, batch=256)],
    "dgxc-gpt3-175b-bf16-1024xh100": [_GPT3.format(dtype="bf16", gpus=1024, dp=32, batch=2048)],
    "dgxc-gpt3-175b-fp8-128xh100": [_GPT3.format(dtype="fp8", gpus=128, dp=4, batch=256)],
}
#: the declared deviation: the /tmp copy of bert-base.yaml with 384 tokens, and the catalog override since
#: what a later reading of the code states in a command (helper audit 41: NeMo's Transformer Engine layers)
STATED = {name: " --tp-overlap async" for name in PROBE_COMMANDS if name.startswith("dgxc-gpt3-175b")}
DEVIATIONS = {name: (f"--model {_BERT_FILE}", "--model bert-base:tokens=384")
              for name in PROBE_COMMANDS if name.startswith("lambda-bertbase")}
#: the published figure and the text of the page's line that gives it
PUBLISHED = {
    "kestrel-allreduce-512KiB": (1.24, "|524288|835.3|0.63|1.24|"), "kestrel-allreduce-32MiB": (22.22, "|22.22|"),
    "kestrel-allreduce-4GiB": (45.72, "|45.72|"), "modal-allreduce-4GB-16xh100": (449.515, "busbw: 449.515 GBps"),
    "moc-allreduce-1GiB-2x1h100-roce": (15.12, "71024   15.12   15.12"),
    "moc-sendrecv-1GiB-2x1h100-roce": (13.96, "76929   13.96   13.96"),
    "lambda-rn50-amp-1xa100": (1582.0, ",1582.0,"), "lambda-rn50-amp-8xa100": (11439.0, ",11439.0,"),
    "lambda-rn50-amp-1xh100": (2616.0, ",2616.0,"), "lambda-rn50-amp-8xh100": (20728.0, ",20728.0,"),
    "lambda-rn50-amp-8xv100": (6174.0, ",6174.0,"), "lambda-rn50-fp32-8xa100": (7397.0, ",7397.0,"),
    "lambda-bertbase-squad-fp16-1xa100": (443.0, ",458.0,443.0,"),
    "lambda-bertbase-squad-fp16-8xa100": (4273.0, ",3360.0,4273.0,"),
    "lambda-bertbase-squad-fp16-8xh100": (9176.0, ",6206.0,9176.0,"),
    "dgxc-gpt3-175b-bf16-128xh100": (8.309, "| 8.309 |"), "dgxc-gpt3-175b-bf16-1024xh100": (8.453, "| 8.453 |"),
    "dgxc-gpt3-175b-fp8-128xh100": (5.626, "| 5.626 |"),
}


@pytest.fixture(scope="module")
def rows():
    from simtrain.validation import run_cases

    return {row.name: row for row in run_cases(NEW)}


def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 18 and len(PROBE24) == 5 and len(LOW) == 7
    check_probe_cases(24, NEW, PROBE24, [], [], lambda name: "low" if name in LOW else "medium")


def test_misses_beyond_the_threshold_are_explained_and_open(rows) -> None:
    check_ratio_cases(rows, [], THRESHOLD, open_misses=True)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], False)


def test_the_commands_are_the_probes(rows) -> None:
    commands = {}
    for name, lines in PROBE_COMMANDS.items():
        old, new = DEVIATIONS.get(name, ("", ""))
        commands[name] = [f"simtrain {line.replace(old, new) if old else line}{STATED.get(name, '')}"
                          for line in lines]
    check_probe_commands(rows, commands, NEW)
    for name in DEVIATIONS:
        assert "bert-base:tokens=384" in rows[name].command and "/tmp" not in rows[name].command, name


def test_the_deviation_is_the_same_model(tmp_path) -> None:
    """The /tmp copy the probe named, rebuilt, gives the override's figure."""
    from simtrain.catalog import resolve
    from simtrain.training import simulate

    copy = tmp_path / "bert-base-seq384.yaml"
    copy.write_text(resolve("models", "bert-base").read_text().replace("input: {tokens: 128}", "input: {tokens: 384}"))
    runs = [simulate(model, "dgx-a100", gpus=8, batch=320, dtype="fp16", autocast=True, optimizer="adam",
                     network={"protocol": "nccl"}).throughput_samples_per_s
            for model in (str(copy), "bert-base:tokens=384")]
    assert runs[0] == pytest.approx(runs[1], rel=1e-12)


def test_the_published_figures_are_the_sources(rows) -> None:
    for name, (figure, text) in PUBLISHED.items():
        assert rows[name].published == figure, name
        assert text in CASES.get(name).source, name


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    check_measured(rows, MEASURED, NEW)
