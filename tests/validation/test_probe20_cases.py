"""The cases of held-out probe 20: 22 published measurements from 5 documents no case had read before (the
FlashAttention authors' training README, Lambda's FlashAttention-2 README, and SkyPilot's AWS EFA, Nebius InfiniBand
and GCP GPUDirect READMEs; three publishers).

Each is a held-out ``simtrain`` command with its source; the printed command, run through the CLI, gives the case's
figure, and is the command the probe ran (the same flags and values; the probe's ``--json`` is no part of a case),
with ``--autocast`` and ``--clip-grad`` added to the 11 FlashAttention and Lambda rows, which state their configs'
Lightning mixed precision and clipping since 2026-12-07;
the published figures are the sources'; each case's error is the one the probe measured.

The probe kept 22 rows (11 collective bus bandwidths, 9 training throughputs, 2 scaling ratios) by a rule written
before any run and tagged them medium (21) or low (1: TCP sockets on one ENI, whose speed and transport are both
assumed); it tagged no row high. All 22 are in its medians and all 22 are cases, each stating the probe's confidence
and the assumption behind it. Left out by that rule before any run, or not expressible (``LEFT_OUT``, names no case
takes):

* Lambda's Hugging Face baseline rows (gpt3-2.7B-hf, batch 1, on A100 and H100): valid, left out to keep one
  document from dominating.
* SkyPilot's GCP a3-highgpu-8g GPUDirect-TCPX against non-TCPX table (TCPX has no link model in simtrain), the same
  README's 'raw NCCL test pods from GCP documentation' log (a repeat of the kept A3 Ultra run), the HyperPod 'busbw
  Non-EFA' column (pod network path and NIC not stated), and SkyPilot's Together AI and CoreWeave logs (NIC count and
  speed not stated).
* NVIDIA llmb's microbenchmark_nccl sample (path not pinned), Colossal-AI's Llama example ('A800/H800' ambiguous),
  nebius/soperator #428 (rows not in the stored excerpt) and VectorInstitute vectorlm (an A40-class device not in the
  catalog).

Kept with a stated approximation: FlashAttention's fused dense+GELU, dropout+add+LayerNorm, cross-entropy and
residual_in_fp32 (no switch in simtrain: run unfused), FlashAttention v1 for the flash-attention table and v2 for
Lambda's (by the documents' dates), NCCL's sockets over one ENI as simtrain's socket transport at an assumed 100
Gbit/s, Google's gIB plugin over RoCE as simtrain's RDMA NICs. The HyperPod/EKS and VM rows of 2 x p4d with 4 EFA
are one system in simtrain's terms: one command, one figure.

Deviation (the probe's, disclosed in its report, fixed from simtrain's error text before any figure was read): the
four one-GPU Lambda commands (two rows and the first run of both ratios) failed with '--gpus: must be a multiple of
gpus_per_node = 8', so a one-GPU run is its family cut to one GPU (``--set topology.gpus_per_node=1``, probe 14's
form). Without those 4 rows the probe's median is 12.6 % over 18 rows.

The probe ran at 9571021; its errors then (from its report and results.json): flash-attention GPT3 125M / 355M / 760M
/ 1.3B / 2.7B on 8 A100 -4.5/+3.7/+22.1/+10.7/+17.1 %; Lambda GPT3-2.7B FlashAttention-2 on 1 A100 / 1 H100 / 8 A100
/ 8 H100 +21.1/+62.3/+25.3/+63.8 %, its 8-over-1 ratios +3.5 % (A100) and +1.0 % (H100) (effects -87.8/-51.2 %);
2 x p4d all-reduce with 4 EFA at 2 GiB / 128 MiB +3.6/+30.0 %, 1 EFA +0.5 %, TCP on one ENI +26.0 %, 4 EFA on
HyperPod/EKS +4.4 %; 2 x 8 H100 Nebius InfiniBand at 8 GiB / 1 GiB -2.5/+0.1 %, VMs with NVLSTree -2.6 %; 2 x 8 H200
GCP A3 Ultra all-gather at 8 GiB / 1 GiB / 128 MiB +16.2/+14.5/+21.6 %. Medians: 12.6 % over the 22 rows,
collectives 4.4 %, training throughput 21.1 %, scaling ratios 2.2 % (effect 69.5 %). As cases, all 22 simulated
figures are the probe's to the last digit.
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

#: source id -> the probe's cases from it
PROBE20 = {
    "flash-attention-training-readme": ["flash-attention-gpt3-125m-8xa100", "flash-attention-gpt3-355m-8xa100",
                                        "flash-attention-gpt3-760m-8xa100", "flash-attention-gpt3-1.3b-8xa100",
                                        "flash-attention-gpt3-2.7b-8xa100"],
    "lambda-flash-attention-2": ["lambda-fa2-gpt3-2.7b-1xa100", "lambda-fa2-gpt3-2.7b-1xh100",
                                 "lambda-fa2-gpt3-2.7b-8xa100", "lambda-fa2-gpt3-2.7b-8xh100",
                                 "lambda-fa2-gpt3-2.7b-a100-8v1gpu-scaling",
                                 "lambda-fa2-gpt3-2.7b-h100-8v1gpu-scaling"],
    "skypilot-aws-efa": ["nccl-allreduce-2xp4d-4efa-skypilot-2gb", "nccl-allreduce-2xp4d-4efa-skypilot-128mb",
                         "nccl-allreduce-2xp4d-1efa-skypilot-2gb", "nccl-allreduce-2xp4d-tcp-1eni-skypilot-2gb",
                         "nccl-allreduce-2xp4d-4efa-hyperpod-skypilot-2gb"],
    "skypilot-nebius-infiniband": ["nccl-allreduce-2node-h100-nebius-k8s-skypilot-8gb",
                                   "nccl-allreduce-2node-h100-nebius-k8s-skypilot-1gb",
                                   "nccl-allreduce-2node-h100-nebius-vm-nvlstree-skypilot-8gb"],
    "skypilot-gcp-gpu-direct-tcpx": ["nccl-allgather-2node-h200-a3ultra-skypilot-8gb",
                                     "nccl-allgather-2node-h200-a3ultra-skypilot-1gb",
                                     "nccl-allgather-2node-h200-a3ultra-skypilot-128mb"],
}
NEW = [name for cases in PROBE20.values() for name in cases]
RATIOS = [name for name in NEW if name.endswith("-scaling")]
LEFT_OUT = ["lambda-hf-gpt3-2.7b-1xa100", "lambda-hf-gpt3-2.7b-1xh100", "nccl-allreduce-2xa3high-tcpx-skypilot-2gb",
            "nccl-allgather-2node-h200-a3ultra-gcp-docs-8gb", "nccl-allreduce-2xp4d-non-efa-hyperpod-skypilot-2gb",
            "nccl-allreduce-2node-together-skypilot", "nccl-allreduce-2node-h200-coreweave-skypilot",
            "nccl-allreduce-8xh100-llmb-8gb", "colossalai-llama-a800", "soperator-nccl-2node-h100",
            "vectorlm-throughput"]
#: the probe's confidence tag of each row (no row is high; the cases state the tag and the assumption behind it)
LOW = ["nccl-allreduce-2xp4d-tcp-1eni-skypilot-2gb"]

#: the probe's relative errors (its results.json at 9571021, rounded here to 0.01 %): a case stays at the error it
#: was measured at, within the ratchet's tolerance (a deliberate model change that moves one re-records it here too)
#: since the step waits for the slowest of its GPUs (gpu_spread 0.02, simtrain.training.variability) the multi-GPU
#: rows are re-recorded at their new errors; before it they were at: flash-attention-gpt3-125m-8xa100 -0.0453,
#: flash-attention-gpt3-355m-8xa100 +0.0369, flash-attention-gpt3-760m-8xa100 +0.2210,
#: flash-attention-gpt3-1.3b-8xa100 +0.1074, flash-attention-gpt3-2.7b-8xa100 +0.1715, lambda-fa2-gpt3-2.7b-8xa100
#: +0.2531, lambda-fa2-gpt3-2.7b-8xh100 +0.6381, lambda-fa2-gpt3-2.7b-a100-8v1gpu-scaling +0.0351,
#: lambda-fa2-gpt3-2.7b-h100-8v1gpu-scaling +0.0096
#: re-measured 2026-12-07, when PyTorch's native norms and activations began running at the bandwidth they reach
#: (docs/compute-model.md, "Native kernels"); before:
#: flash-attention-gpt3-125m-8xa100 -0.0719, flash-attention-gpt3-355m-8xa100 +0.0079, flash-attention-gpt3-760m-8xa100
#: +0.1870, flash-attention-gpt3-1.3b-8xa100 +0.0765, flash-attention-gpt3-2.7b-8xa100 +0.1388,
#: lambda-fa2-gpt3-2.7b-1xa100 +0.2106, lambda-fa2-gpt3-2.7b-1xh100 +0.6226, lambda-fa2-gpt3-2.7b-8xa100 +0.2182,
#: lambda-fa2-gpt3-2.7b-8xh100 +0.5928
#: and since they state PyTorch Lightning's native mixed precision (--autocast: fp32 parameters, weight casts, fp32
#: gradients reduced) and the configs' clipping (--clip-grad), 2026-12-07; before:
#: flash-attention-gpt3-125m-8xa100 -0.0877,
#: flash-attention-gpt3-355m-8xa100 -0.0111, flash-attention-gpt3-760m-8xa100 +0.1677,
#: flash-attention-gpt3-1.3b-8xa100 +0.0618, flash-attention-gpt3-2.7b-8xa100 +0.1250, lambda-fa2-gpt3-2.7b-1xa100
#: +0.1954, lambda-fa2-gpt3-2.7b-1xh100 +0.5837, lambda-fa2-gpt3-2.7b-8xa100 +0.2030, lambda-fa2-gpt3-2.7b-8xh100
#: +0.5549, lambda-fa2-gpt3-2.7b-a100-8v1gpu-scaling +0.0063, lambda-fa2-gpt3-2.7b-h100-8v1gpu-scaling -0.0184
MEASURED = {
    "flash-attention-gpt3-125m-8xa100": -0.0944, "flash-attention-gpt3-355m-8xa100": -0.0180,
    "flash-attention-gpt3-760m-8xa100": +0.1554, "flash-attention-gpt3-1.3b-8xa100": +0.0456,
    "flash-attention-gpt3-2.7b-8xa100": +0.0915,
    "lambda-fa2-gpt3-2.7b-1xa100": +0.1288, "lambda-fa2-gpt3-2.7b-1xh100": +0.4492,
    "lambda-fa2-gpt3-2.7b-8xa100": +0.1311, "lambda-fa2-gpt3-2.7b-8xh100": +0.4121,
    "lambda-fa2-gpt3-2.7b-a100-8v1gpu-scaling": +0.0020, "lambda-fa2-gpt3-2.7b-h100-8v1gpu-scaling": -0.0256,
    "nccl-allreduce-2xp4d-4efa-skypilot-2gb": +0.0361, "nccl-allreduce-2xp4d-4efa-skypilot-128mb": +0.3000,
    "nccl-allreduce-2xp4d-1efa-skypilot-2gb": +0.0048, "nccl-allreduce-2xp4d-tcp-1eni-skypilot-2gb": +0.2598,
    "nccl-allreduce-2xp4d-4efa-hyperpod-skypilot-2gb": +0.0435,
    "nccl-allreduce-2node-h100-nebius-k8s-skypilot-8gb": -0.0253,
    "nccl-allreduce-2node-h100-nebius-k8s-skypilot-1gb": +0.0014,
    "nccl-allreduce-2node-h100-nebius-vm-nvlstree-skypilot-8gb": -0.0263,
    "nccl-allgather-2node-h200-a3ultra-skypilot-8gb": +0.1623,
    "nccl-allgather-2node-h200-a3ultra-skypilot-1gb": +0.1448,
    "nccl-allgather-2node-h200-a3ultra-skypilot-128mb": +0.2156,
}

# --- the commands the probe ran (its cases.py, less ``--json``; see _train) --------------------------------------
_NCCL = "--set network.protocol=nccl"
_P4D = "--topology dgx-a100 --set topology.device=a100-40gb --set topology.nic.bandwidth=100Gbit/s"


def _coll(op: str, size: str, system: str = "--topology dgx-h100", algorithm: str = "") -> str:
    return (f"collective --op {op} {system} --gpus 16 --size {size}"
            + (f" --algorithm {algorithm}" if algorithm else "") + f" {_NCCL}")


def _fa_model(layers: int, hidden: int, heads: int, seq: int, attention: str) -> str:
    return f"gpt:layers={layers},hidden={hidden},heads={heads},seq={seq},vocab=50264,dropout=0.1,attention={attention}"


def _train(model: str, topology: str, gpus: int, micro: int, batch: int, dtype: str, zero: int) -> str:
    if gpus == 1:   # the probe's deviation: a one-GPU run is its family cut to one GPU
        topology += " --set topology.gpus_per_node=1"
    # --autocast and --clip-grad since the cases state PyTorch Lightning's native mixed precision (precision bf16 /
    # 16) and the configs' gradient_clip_val 1.0: the probe's command plus these two
    return (f"simulate --model {model} {topology} --gpus {gpus} --parallel tp=1,pp=1,dp={gpus} --micro-batch {micro} "
            f"--global-batch {batch} --dtype {dtype} --autocast --optimizer adam --clip-grad --zero {zero} --recompute "
            f"none --no-check-memory {_NCCL}")


_LAM27 = _fa_model(32, 2560, 32, 1024, "flash2")
PROBE_COMMANDS = {
    "flash-attention-gpt3-125m-8xa100": [_train(_fa_model(12, 768, 12, 2048, "flash"), "--topology dgx-a100", 8, 32,
                                                256, "bf16", 0)],
    "flash-attention-gpt3-355m-8xa100": [_train(_fa_model(24, 1024, 16, 2048, "flash"), "--topology dgx-a100", 8, 32,
                                                256, "bf16", 0)],
    "flash-attention-gpt3-760m-8xa100": [_train(_fa_model(24, 1536, 16, 2048, "flash"), "--topology dgx-a100", 8, 16,
                                                256, "bf16", 1)],
    "flash-attention-gpt3-1.3b-8xa100": [_train(_fa_model(24, 2048, 16, 2048, "flash"), "--topology dgx-a100", 8, 8,
                                                512, "bf16", 1)],
    "flash-attention-gpt3-2.7b-8xa100": [_train(_fa_model(32, 2560, 20, 2048, "flash"), "--topology dgx-a100", 8, 4,
                                                512, "bf16", 1)],
    **{f"lambda-fa2-gpt3-2.7b-{gpus}x{gpu}": [_train(_LAM27, f"--topology dgx-{gpu}", gpus, 4, 512, "fp16", 1)]
       for gpus in (1, 8) for gpu in ("a100", "h100")},
    **{f"lambda-fa2-gpt3-2.7b-{gpu}-8v1gpu-scaling": [_train(_LAM27, f"--topology dgx-{gpu}", gpus, 4, 512, "fp16", 1)
                                                      for gpus in (1, 8)] for gpu in ("a100", "h100")},
    "nccl-allreduce-2xp4d-4efa-skypilot-2gb": [_coll("all-reduce", "2GiB", f"{_P4D} --set topology.nic.count=4")],
    "nccl-allreduce-2xp4d-4efa-skypilot-128mb": [_coll("all-reduce", "128MiB", f"{_P4D} --set topology.nic.count=4")],
    "nccl-allreduce-2xp4d-1efa-skypilot-2gb": [_coll("all-reduce", "2GiB", f"{_P4D} --set topology.nic.count=1")],
    "nccl-allreduce-2xp4d-tcp-1eni-skypilot-2gb": [
        _coll("all-reduce", "2GiB", f"{_P4D} --set topology.nic.count=1 --set topology.nic.transport=socket")],
    "nccl-allreduce-2xp4d-4efa-hyperpod-skypilot-2gb": [_coll("all-reduce", "2GiB",
                                                              f"{_P4D} --set topology.nic.count=4")],
    "nccl-allreduce-2node-h100-nebius-k8s-skypilot-8gb": [_coll("all-reduce", "8GiB")],
    "nccl-allreduce-2node-h100-nebius-k8s-skypilot-1gb": [_coll("all-reduce", "1GiB")],
    "nccl-allreduce-2node-h100-nebius-vm-nvlstree-skypilot-8gb": [_coll("all-reduce", "8GiB",
                                                                        algorithm="auto:algo=nvlstree")],
    **{f"nccl-allgather-2node-h200-a3ultra-skypilot-{size.lower().replace('ib', 'b')}": [
        _coll("all-gather", size, "--topology dgx-h100 --set topology.device=h200")] for size in ("8GiB", "1GiB",
                                                                                                  "128MiB")},
}



def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 22 and len(PROBE20) == 5 and len(RATIOS) == 2
    check_probe_cases(20, NEW, PROBE20, RATIOS, LEFT_OUT, lambda name: "low" if name in LOW else "medium")


def test_ratio_cases_carry_their_effect_and_misses_beyond_the_threshold_are_explained(rows) -> None:
    check_ratio_cases(rows, RATIOS, THRESHOLD)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], name in RATIOS)


def test_the_commands_are_the_probes(rows) -> None:
    """The same subcommand, flags and values as the probe's runs (in simtrain's printed order; ``--json`` aside)."""
    check_probe_commands(rows, PROBE_COMMANDS, NEW)


def test_the_published_figures_are_the_sources(rows) -> None:
    fa = PROBE20["flash-attention-training-readme"]
    for name, thousands in zip(fa, (1310, 503, 245, 169, 85)):   # the table's 'Through put (tokens/sec)', 1310k ...
        assert rows[name].published == thousands * 1e3, name
        assert f"| {thousands}k " in CASES.get(name).source, name
    tokens = {(1, "a100"): "10649.6", (1, "h100"): "22282.24", (8, "a100"): "81920", (8, "h100"): "174981.12"}
    for (gpus, gpu), text in tokens.items():                     # the table's Tokens/Sec
        name = f"lambda-fa2-gpt3-2.7b-{gpus}x{gpu}"
        assert rows[name].published == float(text) and f"| {text} " in CASES.get(name).source, name
    for gpu, percent in (("a100", "96%"), ("h100", "98%")):       # tokens/s per GPU, 8 GPUs over 1
        name = f"lambda-fa2-gpt3-2.7b-{gpu}-8v1gpu-scaling"
        one, eight = float(tokens[1, gpu]), float(tokens[8, gpu])
        assert rows[name].published == pytest.approx(eight / 8 / one, rel=1e-12), name
        source = CASES.get(name).source
        assert f"| {tokens[1, gpu]} " in source and f"| {tokens[8, gpu]} " in source, name
        assert f"{percent} and" in source or f"and {percent}" in source, name   # the README's '96% and 98%'
        assert round(rows[name].published, 2) == float(percent[:-1]) / 100, name
    for source_id in ("skypilot-aws-efa", "skypilot-nebius-infiniband", "skypilot-gcp-gpu-direct-tcpx"):
        for name in PROBE20[source_id]:                          # busbw, as the table or log prints it
            assert f"{rows[name].published:.2f}" in CASES.get(name).source, name
    assert " 2 GB " in CASES.get("nccl-allreduce-2xp4d-4efa-skypilot-2gb").source
    assert " 128 MB " in CASES.get("nccl-allreduce-2xp4d-4efa-skypilot-128mb").source
    for name, size in zip(PROBE20["skypilot-gcp-gpu-direct-tcpx"], (8589934592, 1073741824, 134217728)):
        assert f" {size} " in CASES.get(name).source, name       # the log's size column


def test_the_runs_are_the_sources_settings(rows) -> None:
    """What each source states, read back from the printed commands."""
    flags = {name: command_flags(rows[name].command.split("; ")[-1]) for name in NEW}
    #: the flash-attention configs: layers, hidden, heads, per-GPU batch at 80 GB, global batch, DDP (0) or ZeRO-1
    fa = ((12, 768, 12, 32, 256, 0), (24, 1024, 16, 32, 256, 0), (24, 1536, 16, 16, 256, 1), (24, 2048, 16, 8, 512, 1),
          (32, 2560, 20, 4, 512, 1))
    for name, (layers, hidden, heads, micro, batch, zero) in zip(PROBE20["flash-attention-training-readme"], fa):
        flag = flags[name]                                        # one node of 8 A100 80GB, bf16, seq 2048
        assert (flag["--topology"], flag["--gpus"], flag["--parallel"], flag["--dtype"]) == (
            "dgx-a100", "8", "tp=1,pp=1,dp=8", "bf16"), name
        assert (flag["--micro-batch"], flag["--global-batch"], flag["--zero"]) == (str(micro), str(batch), str(zero))
        assert flag["--model"].startswith(f"gpt:layers={layers},hidden={hidden},heads={heads},seq=2048,"), name
        assert flag["--model"].endswith(",attention=flash") and flag["--recompute"] == "none", name
    for name in PROBE20["lambda-flash-attention-2"]:              # GPT3-2.7B, headdim 80, seq 1024, fp16, BS 4, GBS 512
        runs = [command_flags(line) for line in rows[name].command.split("; ")]
        gpu = name.split("-")[-3] if name in RATIOS else name.rsplit("x", 1)[1]
        assert [run["--gpus"] for run in runs] == (["1", "8"] if name in RATIOS else [name.split("-")[-1][0]]), name
        for run in runs:
            gpus = run["--gpus"]
            assert (run["--topology"], run["--parallel"], run["--dtype"]) == (f"dgx-{gpu}", f"tp=1,pp=1,dp={gpus}",
                                                                              "fp16"), name
            assert (run["--micro-batch"], run["--global-batch"], run["--zero"]) == ("4", "512", "1"), name
            assert run["--model"] == _LAM27 == (
                "gpt:layers=32,hidden=2560,heads=32,seq=1024,vocab=50264,dropout=0.1,attention=flash2"), name
            assert run.get("topology.gpus_per_node") == ("1" if gpus == "1" else None), name
    nics = {"4efa": ("4", None), "1efa": ("1", None), "tcp": ("1", "socket")}
    for name in PROBE20["skypilot-aws-efa"]:                      # 2 x p4d.24xlarge: 16 A100 40GB, 100 Gbit/s EFA
        flag = flags[name]
        assert (flag["--op"], flag["--gpus"], flag["--topology"], flag["topology.device"]) == (
            "all-reduce", "16", "dgx-a100", "a100-40gb"), name
        assert flag["topology.nic.bandwidth"] == "100Gbit/s" and "--algorithm" not in flag, name
        assert (flag["topology.nic.count"], flag.get("topology.nic.transport")) == nics[name.split("-")[3]], name
        assert flag["--size"].lower().replace("ib", "b") == name.rsplit("-", 1)[1], name
    assert rows["nccl-allreduce-2xp4d-4efa-hyperpod-skypilot-2gb"].command == \
        rows["nccl-allreduce-2xp4d-4efa-skypilot-2gb"].command   # one system in simtrain's terms
    for name in PROBE20["skypilot-nebius-infiniband"]:            # 2 x 8 H100, 8 HCAs: the catalog's dgx-h100
        flag = flags[name]
        assert (flag["--op"], flag["--gpus"], flag["--topology"]) == ("all-reduce", "16", "dgx-h100"), name
        assert not any(key.startswith("topology.") for key in flag), name
        assert flag.get("--algorithm") == ("auto:algo=nvlstree" if "-vm-" in name else None), name   # NCCL_ALGO
        assert flag["--size"].lower().replace("ib", "b") == name.rsplit("-", 1)[1], name
    for name in PROBE20["skypilot-gcp-gpu-direct-tcpx"]:          # 2 x a3-ultragpu-8g: 16 H200, all_gather_perf
        flag = flags[name]
        assert (flag["--op"], flag["--gpus"], flag["--topology"], flag["topology.device"]) == (
            "all-gather", "16", "dgx-h100", "h200"), name
        assert "--algorithm" not in flag and flag["--size"].lower().replace("ib", "b") == name.rsplit("-", 1)[1]


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    """The probe's error, within the ratchet's tolerance, and no worse than the committed ratchet's record."""
    check_measured(rows, MEASURED, NEW)
