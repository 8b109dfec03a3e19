"""The cases of held-out probe 21: 27 published measurements from 4 documents no case had read before (a GitHub
user's A3 Mega nccl-tests notes, and OneFlow's DLPerf READMEs of NVIDIA's Megatron-LM and of DeepLearningExamples'
PyTorch ResNet-50 and BERT on its cluster of 4 x 8 V100; two publishers).

Each is a held-out ``simtrain`` command with its source; the printed command, run through the CLI, gives the case's
figure, and is the command the probe ran (the same flags and values; the probe's ``--json`` is no part of a case);
the published figures are the sources' (a Megatron row's samples/s is its global batch over the README's latency per
iteration); each case's error is the one it has now (``MEASURED``).

The probe kept 27 rows (4 collective bus bandwidths, 17 training throughputs, 6 scaling ratios) by a rule written
before any run and tagged them high (6: the ResNet-50 rows) or medium (21); it tagged no row low. All 27 are in its
medians and all 27 are cases, each stating the probe's confidence and, below high, the assumption behind it. Left out
by that rule before any run, or not expressible (``LEFT_OUT``, names no case takes):

* DLPerf Megatron-LM rows MP_1x32x1, MP_1x1x1_8_768x12 (another log series), 2D_1x8x1 / 2D_8x1x1 (repeats),
  2D_4x2x1, 2D_2x8x1, MP_PP_1x8x4, 2D_PP_2x8x2; the RN50 static-loss-scale table and 2-node rows; the BERT bs 32/64
  tables and 2-node rows; DLPerf's OneFlow/MXNet/TF/Paddle/MindSpore READMEs: valid, left out to keep one document
  (one publisher) from dominating.
* DLPerf's PyTorch/resnet50v1.5 (input-bound by its own account), li-plus/playground's sendrecv_perf (simtrain has no
  send/recv), OLMo-core's table (GPU count not stated), IBM/pytorch-communication-benchmarks #1, nccl-tests #367 and
  #212 (rows not in the excerpt, H20, images), nanotron's tp_scaling data (configuration not stated).

Kept with a stated approximation: the V100 servers' NVLink hybrid cube mesh as simtrain's 150 GB/s NVLink switch (the
`abci` family cut to 8 GPUs and 1 NIC per node), the RN50 runs' DALI-CPU input pipeline not modelled, simtrain's
`bert-base` without BertForPreTraining's heads (the cases run `bert-base-pretraining` since 2026-12-07), apex DDP's
message size not expressed, GPUDirect-TCPXO priced as the RDMA NICs at 200 Gbit/s.

The probe ran at c0b49d1 with no deviation (every command ran on the first pass). Since then (773b3ce) the slowest
GPU stretches only a model-parallel plan's compute, not the TP/PP communication exposed in it, so the five Megatron
rows with TP or PP moved; the probe's errors then (from its report and results.json), where they differ from
``MEASURED`` by more than 0.1 point, are in the comments there. Its medians: 11.0 % over the 27 rows, collectives
12.7 %, training throughput 14.6 %, scaling ratios 5.3 % (effect 54.7 %); high 5.2 %, medium 14.6 %.
"""

from __future__ import annotations

import pytest
from probe_checks import (
    check_measured,
    check_printed_command,
    check_probe_cases,
    check_probe_commands,
    check_ratio_cases,
    command_flags,
)

from simtrain.validation import CASES
from simtrain.validation.report import THRESHOLD

_MEG = "dlperf-megatron-gpt"
_RN50 = "dlperf-dle-pytorch-rn50"
_BERT = "dlperf-dle-pytorch-bert-base"
#: source id -> the probe's cases from it
PROBE21 = {
    "a3mega-ztan-nccl-tests": [f"nccl-allreduce-2node-h100-a3mega-tcpxo-{size}" for size in ("8gb", "2gb", "512mb",
                                                                                             "128mb")],
    "dlperf-megatron-lm": [f"{_MEG}-dp1-1xv100", f"{_MEG}-dp8-8xv100", f"{_MEG}-dp32-32xv100", f"{_MEG}-tp8-8xv100",
                           f"{_MEG}-dp2tp4-8xv100", f"{_MEG}-tp16-16xv100", f"{_MEG}-dp4tp8-32xv100",
                           f"{_MEG}-dp8pp4-32xv100", f"{_MEG}-dp2tp4pp4-32xv100", f"{_MEG}-dp8-8v1gpu-scaling",
                           f"{_MEG}-dp32-32v1gpu-scaling"],
    "dlperf-dle-pytorch-rn50": [f"{_RN50}-fp32-8xv100", f"{_RN50}-fp32-32xv100", f"{_RN50}-amp-1xv100",
                                f"{_RN50}-amp-32xv100", f"{_RN50}-fp32-32v1gpu-scaling",
                                f"{_RN50}-amp-32v1gpu-scaling"],
    "dlperf-dle-pytorch-bert": [f"{_BERT}-fp32-1xv100", f"{_BERT}-fp32-32xv100", f"{_BERT}-amp-1xv100",
                                f"{_BERT}-amp-32xv100", f"{_BERT}-fp32-32v1gpu-scaling",
                                f"{_BERT}-amp-32v1gpu-scaling"],
}
NEW = [name for cases in PROBE21.values() for name in cases]
RATIOS = [name for name in NEW if name.endswith("-scaling")]
LEFT_OUT = [f"{_MEG}-tp32-32xv100", f"{_MEG}-768x12-1xv100", f"{_MEG}-dp4tp2-8xv100", f"{_MEG}-dp2tp8-16xv100",
            f"{_MEG}-tp8pp4-32xv100", f"{_MEG}-dp2tp8pp2-32xv100", f"{_RN50}-amp-static-8xv100",
            f"{_BERT}-fp32-b32-32xv100", f"{_BERT}-fp32-b64-32xv100", "dlperf-pytorch-rn50-8xv100",
            "nccl-sendrecv-8xa100-playground", "olmo-core-throughput"]
#: the probe's confidence tag of each row (no row is low; the cases state the tag and, below high, its assumption)
HIGH = PROBE21["dlperf-dle-pytorch-rn50"]

#: each case's relative error now (rounded to 0.01 %): a case stays at the error it was measured at, within the
#: ratchet's tolerance (a deliberate model change that moves one re-records it here too); equal to the probe's at
#: c0b49d1 to 0.1 point except where a comment gives the probe's
#: re-measured 2026-12-07, when PyTorch's native norms and activations began running at the bandwidth they reach
#: (docs/compute-model.md, "Native kernels"); before: dlperf-megatron-gpt-dp1-1xv100 +0.1943,
#: dlperf-megatron-gpt-dp8-8xv100 +0.1550, dlperf-megatron-gpt-dp32-32xv100 +0.1698, dlperf-megatron-gpt-tp8-8xv100
#: +0.1579, dlperf-megatron-gpt-dp2tp4-8xv100 +0.2191, dlperf-megatron-gpt-dp8pp4-32xv100 +0.0779,
#: dlperf-megatron-gpt-dp2tp4pp4-32xv100 +0.2331, dlperf-dle-pytorch-bert-base-fp32-1xv100 +0.2476,
#: dlperf-dle-pytorch-bert-base-fp32-32xv100 +0.4411, dlperf-dle-pytorch-bert-base-amp-1xv100 +0.8935,
#: dlperf-dle-pytorch-bert-base-amp-32xv100 +1.3562
MEASURED = {
    "nccl-allreduce-2node-h100-a3mega-tcpxo-8gb": -0.0556, "nccl-allreduce-2node-h100-a3mega-tcpxo-2gb": -0.0227,
    "nccl-allreduce-2node-h100-a3mega-tcpxo-512mb": +0.1975, "nccl-allreduce-2node-h100-a3mega-tcpxo-128mb": +0.9080,
    # the Megatron rows since a decoder's attention records its heads (96-wide here: 16 heads, where the compute
    # model had assumed 64-wide, 24; before: +0.0744, +0.0432, +0.0858, +0.0775, +0.1140, +1.1196, +0.2384, -0.0085,
    # +0.1503, -0.0290, +0.0106 in this order); and since they state the script's --clip-grad 1.0 and Megatron
    # 8aa4619's one flat all-reduce of the gradients (helper audit 33, 2026-12-07); before: +0.1835, +0.1449, +0.1624,
    # +0.1508, +0.2097, +1.1531, +0.2123, +0.0702, +0.2259, -0.0326, -0.0178
    f"{_MEG}-dp1-1xv100": +0.1572, f"{_MEG}-dp8-8xv100": +0.1229, f"{_MEG}-dp32-32xv100": +0.1538,
    f"{_MEG}-tp8-8xv100": +0.1485,            # probe at c0b49d1: +7.04 %
    f"{_MEG}-dp2tp4-8xv100": +0.2044,         # probe: +11.00 %
    f"{_MEG}-tp16-16xv100": +1.1513,          # probe: +106.66 %
    f"{_MEG}-dp4tp8-32xv100": +0.2110,        # probe: +23.13 %
    f"{_MEG}-dp8pp4-32xv100": +0.0695,
    f"{_MEG}-dp2tp4pp4-32xv100": +0.2257,     # probe: +14.58 %
    f"{_MEG}-dp8-8v1gpu-scaling": -0.0297, f"{_MEG}-dp32-32v1gpu-scaling": -0.0030,
    # the AMP rows since they state DLE's apex O1 (autocast) in main.py's default NCHW (2026-12-07); before: +0.4900,
    # +0.6036, +0.0763; and the multi-GPU rows since DDP's gradient copies into the buckets and back are priced
    # (2026-12-07); before: RN50 -0.0103, +0.0285, +0.1218, +0.0266, +0.0855, BERT +0.4289, +1.3018, +0.1550, +0.2443;
    # and the BERT rows since they state apex DDP's one 250 M-element bucket (2026-12-07): before, +0.4195, +1.2763,
    # +0.1480, +0.2335; and since they run BertForPreTraining's heads (`bert-base-pretraining`, 2026-12-07): before,
    # +0.2364, +0.2379, +0.8454, +0.9008, +0.0012, +0.0300
    # and since they state apex DDP's 10 M-element buckets (2026-12-07): before, -0.0149, +0.0248, +0.1174, +0.0230,
    # +0.0812
    f"{_RN50}-fp32-8xv100": -0.0148, f"{_RN50}-fp32-32xv100": +0.0210, f"{_RN50}-amp-1xv100": +0.0335,
    f"{_RN50}-amp-32xv100": +0.1127, f"{_RN50}-fp32-32v1gpu-scaling": +0.0191, f"{_RN50}-amp-32v1gpu-scaling": +0.0767,
    f"{_BERT}-fp32-1xv100": +0.0017, f"{_BERT}-fp32-32xv100": +0.0414, f"{_BERT}-amp-1xv100": +0.5731,
    f"{_BERT}-amp-32xv100": +0.6845, f"{_BERT}-fp32-32v1gpu-scaling": +0.0396, f"{_BERT}-amp-32v1gpu-scaling": +0.0708,
}

# --- the commands the probe ran (its cases.py, less ``--json``) ---------------------------------------------------
_NCCL = "--set network.protocol=nccl"
_ABCI8 = "--topology abci --set topology.gpus_per_node=8 --set topology.nic.count=1"
_ABCI1 = "--topology abci --set topology.gpus_per_node=1 --set topology.nic.count=1"


def _a3m(size: str) -> str:
    return f"collective --op all-reduce --topology dgx-h100 --gpus 16 --size {size} " \
           f"--set topology.nic.bandwidth=200Gbit/s {_NCCL}"


def _meg(gpus: int, layers: int, hidden: int, heads: int, vocab: int, tp: int, pp: int, dp: int, micro: int,
         batch: int) -> str:
    # --clip-grad (the script's --clip-grad 1.0) and --dp-bucket-size 2GiB (Megatron 8aa4619's local DDP: one flat
    # all-reduce of a dtype's gradients) since the cases state them (helper audit 33); the probe's commands had neither
    return (f"simulate --model gpt:layers={layers},hidden={hidden},heads={heads},seq=2048,vocab={vocab},dropout=0.1 "
            f"{_ABCI1 if gpus == 1 else _ABCI8} --gpus {gpus} --parallel tp={tp},pp={pp},dp={dp} --micro-batch {micro} "
            f"--global-batch {batch} --dtype fp16 --optimizer adam --clip-grad --recompute full --no-overlap-dp "
            f"--dp-bucket-size 2GiB --no-check-memory {_NCCL}")


def _rn50(gpus: int, batch: int, dtype: str) -> str:
    # the AMP runs with --memory-format nchw --autocast since the cases state DLE's `--amp` at 5cc03caa (apex O1) in
    # main.py's default layout; the probe's commands left both to simtrain's defaults
    # and apex DDP's 10 M-element buckets (--bucket-size, --framework ddp:first_bucket) since the cases state them,
    # and that apex's DDP broadcasts no buffers before each forward (broadcast_buffers=false) since DDP's broadcast
    # is priced (2026-12-07)
    amp = " --memory-format nchw --autocast" if dtype == "fp16" else ""
    return (f"simulate --model resnet50 {_ABCI1 if gpus == 1 else _ABCI8} --gpus {gpus} --batch {batch} "
            f"--dtype {dtype}{amp} --bucket-size 40000000B "
            f"--framework ddp:first_bucket=40000000B,broadcast_buffers=false --no-check-memory {_NCCL}")


def _bert(gpus: int, batch: int, dtype: str) -> str:
    # apex DDP's one bucket of 250 M elements (--bucket-size, --framework ddp:first_bucket) since the cases state
    # run_pretraining.py's DDP(message_size=250000000); the probe's commands ran simtrain's 25 MiB buckets; and
    # BertForPreTraining (`bert-base-pretraining`) since the catalog has it: the probe ran `bert-base`, BertModel alone
    bucket = f"{250_000_000 * (4 if dtype == 'fp32' else 2)}B"
    return (f"simulate --model bert-base-pretraining {_ABCI1 if gpus == 1 else _ABCI8} --gpus {gpus} --batch {batch} "
            f"--dtype {dtype} --bucket-size {bucket} --framework ddp:first_bucket={bucket} --optimizer adam "
            f"--no-check-memory {_NCCL}")


_MEG_RUNS = {
    "dp1": _meg(1, 16, 1536, 16, 50304, 1, 1, 1, 2, 2), "dp8": _meg(8, 16, 1536, 16, 50304, 1, 1, 8, 2, 16),
    "dp32": _meg(32, 16, 1536, 16, 50304, 1, 1, 32, 2, 64), "tp8": _meg(8, 16, 1536, 16, 51200, 8, 1, 1, 16, 16),
    "dp2tp4": _meg(8, 16, 1536, 16, 50688, 4, 1, 2, 8, 16), "tp16": _meg(16, 16, 3072, 32, 51200, 16, 1, 1, 16, 16),
    "dp4tp8": _meg(32, 24, 2304, 24, 51200, 8, 1, 4, 8, 32), "dp8pp4": _meg(32, 16, 1536, 16, 50304, 1, 4, 8, 2, 512),
    "dp2tp4pp4": _meg(32, 24, 2304, 24, 50688, 4, 4, 2, 8, 512),
}
PROBE_COMMANDS = {
    **{f"nccl-allreduce-2node-h100-a3mega-tcpxo-{size.lower().replace('ib', 'b')}": [_a3m(size)]
       for size in ("8GiB", "2GiB", "512MiB", "128MiB")},
    **{f"{_MEG}-{plan}-{line.split('--gpus ')[1].split()[0]}xv100": [line] for plan, line in _MEG_RUNS.items()},
    f"{_MEG}-dp8-8v1gpu-scaling": [_MEG_RUNS["dp1"], _MEG_RUNS["dp8"]],
    f"{_MEG}-dp32-32v1gpu-scaling": [_MEG_RUNS["dp1"], _MEG_RUNS["dp32"]],
    f"{_RN50}-fp32-8xv100": [_rn50(8, 128, "fp32")], f"{_RN50}-fp32-32xv100": [_rn50(32, 128, "fp32")],
    f"{_RN50}-amp-1xv100": [_rn50(1, 256, "fp16")], f"{_RN50}-amp-32xv100": [_rn50(32, 256, "fp16")],
    f"{_RN50}-fp32-32v1gpu-scaling": [_rn50(1, 128, "fp32"), _rn50(32, 128, "fp32")],
    f"{_RN50}-amp-32v1gpu-scaling": [_rn50(1, 256, "fp16"), _rn50(32, 256, "fp16")],
    **{f"{_BERT}-{prec}-{gpus}xv100": [_bert(gpus, batch, dtype)]
       for prec, batch, dtype in (("fp32", 48, "fp32"), ("amp", 96, "fp16")) for gpus in (1, 32)},
    **{f"{_BERT}-{prec}-32v1gpu-scaling": [_bert(1, batch, dtype), _bert(32, batch, dtype)]
       for prec, batch, dtype in (("fp32", 48, "fp32"), ("amp", 96, "fp16"))},
}


def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 27 and len(PROBE21) == 4 and len(RATIOS) == 6
    check_probe_cases(21, NEW, PROBE21, RATIOS, LEFT_OUT, lambda name: "high" if name in HIGH else "medium")


def test_ratio_cases_carry_their_effect_and_misses_beyond_the_threshold_are_explained(rows) -> None:
    # every case beyond 25 % (or a ratio beyond 25 % in its effect) says so
    check_ratio_cases(rows, RATIOS, THRESHOLD, open_misses=True)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], name in RATIOS)


def test_the_commands_are_the_probes(rows) -> None:
    """The same subcommand, flags and values as the probe's runs (in simtrain's printed order; ``--json`` aside)."""
    check_probe_commands(rows, PROBE_COMMANDS, NEW)   # the lines with or without "simtrain"


def test_the_published_figures_are_the_sources(rows) -> None:
    for name in PROBE21["a3mega-ztan-nccl-tests"]:                # busbw, as the log prints it
        assert f"{rows[name].published:.2f}" in CASES.get(name).source, name
    for name, size in zip(PROBE21["a3mega-ztan-nccl-tests"], (8589934592, 2147483648, 536870912, 134217728)):
        assert f" {size} " in CASES.get(name).source, name          # the log's size column
    latencies = {"dp1": ("464.12", 2), "dp8": ("480.96", 16), "dp32": ("683.51", 64), "tp8": ("692.44", 16),
                 "dp2tp4": ("576.48", 16), "tp16": ("5610.23", 16), "dp4tp8": ("1508.48", 32),
                 "dp8pp4": ("4893.55", 512), "dp2tp4pp4": ("15331.23", 512)}
    for plan, (latency, batch) in latencies.items():              # samples/s = global batch / latency per iteration
        name = next(n for n in PROBE21["dlperf-megatron-lm"] if n.startswith(f"{_MEG}-{plan}-") and n not in RATIOS)
        assert rows[name].published == pytest.approx(batch / float(latency) * 1000, rel=1e-12), name
        assert f"|  {latency}" in CASES.get(name).source and f"_{batch}_" in CASES.get(name).source, name
    for gpus, latency in ((8, "480.96"), (32, "683.51")):          # per-GPU samples/s: 464.12 / the N-GPU latency
        name = f"{_MEG}-dp{gpus}-{gpus}v1gpu-scaling"
        assert rows[name].published == pytest.approx(464.12 / float(latency), rel=1e-12), name
        assert "464.12" in CASES.get(name).source and latency in CASES.get(name).source, name
    figures = {_RN50: {("fp32", 1): "367.29", ("fp32", 8): "2887.65", ("fp32", 32): "10917.09", ("amp", 1): "802.9",
                       ("amp", 32): "22551.16"},
               _BERT: {("fp32", 1): "121.94", ("fp32", 32): "3039.3", ("amp", 1): "462.35", ("amp", 32): "10349.12"}}
    for prefix, table in figures.items():                         # the tables' throughput column
        for (prec, gpus), text in table.items():
            name = f"{prefix}-{prec}-{gpus}xv100"
            if name in NEW:
                assert rows[name].published == float(text) and f"| {text} " in CASES.get(name).source, name
        for prec in ("fp32", "amp"):                              # throughput per GPU, 32 GPUs over 1
            name = f"{prefix}-{prec}-32v1gpu-scaling"
            one, many = float(table[prec, 1]), float(table[prec, 32])
            assert rows[name].published == pytest.approx(many / 32 / one, rel=1e-12), name
            source = CASES.get(name).source
            assert f"| {table[prec, 1]} " in source and f"| {table[prec, 32]} " in source, name


def test_the_runs_are_the_sources_settings(rows) -> None:
    """What each source states, read back from the printed commands."""
    for name in PROBE21["a3mega-ztan-nccl-tests"]:                # 2 x a3-megagpu-8g: 16 H100, 8 NICs of 200 Gbit/s
        flag = command_flags(rows[name].command)
        assert (flag["--op"], flag["--gpus"], flag["--topology"], flag["topology.nic.bandwidth"]) == (
            "all-reduce", "16", "dgx-h100", "200Gbit/s"), name
        assert "--algorithm" not in flag and flag["--size"].lower().replace("ib", "b") == name.rsplit("-", 1)[1]
    for name in NEW[4:]:                                          # DLPerf: 8 V100 and 1 EDR NIC per node (or 1 GPU)
        for line in rows[name].command.split("; "):
            flag = command_flags(line)
            one = flag["--gpus"] == "1"
            assert (flag["--topology"], flag["topology.gpus_per_node"], flag["topology.nic.count"]) == (
                "abci", "1" if one else "8", "1"), name
            assert flag["--gpus"] in ("1", "8", "16", "32") and "--no-check-memory" in flag, name
    for name in PROBE21["dlperf-megatron-lm"]:                    # seq 2048, fp16, full recompute, local DDP
        for line in rows[name].command.split("; "):
            flag = command_flags(line)
            assert ",seq=2048," in flag["--model"] and flag["--model"].endswith(",dropout=0.1"), name
            assert (flag["--dtype"], flag["--recompute"], flag["--optimizer"]) == ("fp16", "full", "adam"), name
            assert "--no-overlap-dp" in flag and "--clip-grad" in flag and flag["--dp-bucket-size"] == "2GiB", name
            tp, pp, dp = (int(part.split("=")[1]) for part in flag["--parallel"].split(","))
            assert tp * pp * dp == int(flag["--gpus"]), name
            vocab = int(flag["--model"].split("vocab=")[1].split(",")[0])
            assert vocab == -(-50257 // (128 * tp)) * 128 * tp, name   # Megatron's padding rule
    for prefix, batches in ((_RN50, {"fp32": "128", "amp": "256"}), (_BERT, {"fp32": "48", "amp": "96"})):
        for name in NEW:
            if not name.startswith(prefix):
                continue
            prec = name[len(prefix) + 1:].split("-")[0]
            for line in rows[name].command.split("; "):
                flag = command_flags(line)
                assert flag["--batch"] == batches[prec], name
                assert flag["--dtype"] == ("fp32" if prec == "fp32" else "fp16"), name
                assert flag.get("--optimizer") == ("adam" if prefix == _BERT else None), name
                # DLE's RN50 `--amp` is apex O1 in NCHW at 5cc03caa; its BERT's is apex O2 (fp16 weights)
                rn50_amp = prefix == _RN50 and prec == "amp"
                assert (flag.get("--memory-format"), "--autocast" in flag) == (("nchw", True) if rn50_amp
                                                                                else (None, False)), name


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    """The error it has now, within the ratchet's tolerance, and no worse than the committed ratchet's record."""
    check_measured(rows, MEASURED, NEW)
