"""The cases of held-out probe 19: 20 published measurements from 5 documents no case had read before (AI @ Georgia
Tech's Voltage Park nccl-tests results, MaxText's A3 Llama2-7B README, PaddleNLP's pretraining page, Megatron-core's
MoE README and DeepSpeedExamples' Hugging Face autotuning README; five publishers).

Each is a held-out ``simtrain`` command with its source; the printed command, run through the CLI, gives the case's
figure, and is the command the probe ran (the same flags and values; the probe's ``--json`` is no part of a case);
the published figures are the sources'; each case's error is the one the probe measured.

The probe kept 20 rows by a rule written before any run and tagged them high (3: the Voltage Park collectives),
medium (3: the PaddleNLP rows) or low (14: the MaxText ratios, the Mixtral row and the nine DeepSpeedExamples rows);
all 20 are in its medians and all 20 are cases, each stating the probe's confidence and the assumption behind a
medium or low tag. Left out by that rule before any run, or not expressible (``LEFT_OUT``, names no case takes):

* Voltage Park's 4-node rows (all-reduce, all-gather, broadcast at 8 GB): the README's '3.2 Tbps InfiniBand' and the
  multi-node summary's '400 Gbps per port, 3 active ports per node' disagree.
* Voltage Park's single-node all-gather and broadcast: non-monotonic curves whose out-of-place and in-place columns
  differ by about 2x at the same size (internally inconsistent).
* MaxText's 1-VM figure itself (492 TFLOP/s per chip): which FLOP count (causal or not) produced it is not stated;
  only the four ratios, where the count cancels, are kept.
* PaddleNLP's facebook/llama, FlagAlpha, linly and ziya rows (the page says they share the Llama-2 configs: not
  independent) and its Baichuan2 rows (their config files are not stored).
* DeepSpeedExamples' 'HF + DS autotuning' column (DeepSpeed's own timers, which the README says exceed end-to-end
  throughput); its BERT-large ZeRO-1 and BERT-base DeepSpeed rows (left out before any run to keep one source from
  dominating); DistilBERT and DeBERTa (not in the catalog).
* allenai/OLMo-core's throughput table (GPU count not stated); mosaicml/examples' MosaicGPT table (an earlier
  revision of the llm-foundry README a case reads); torchtitan's Llama-2 13B/70B table (the document of
  ``torchtitan-performance``); NVIDIA/nccl #652, NVIDIA/Megatron-LM #756, picotron, swiss-ai/Megatron-LM #29 and
  Voltage Park's BERT-large run (figures or plans not stated in full).

Kept with a stated approximation: GCP's GPUDirect-TCPX (MaxText on A3 High, priced as RDMA NICs: simtrain has no
link kind for it), MaxText's remat_policy=minimal_flash (run as no recomputation: simtrain has no such mode), the
catalog's BERT models for MNLI fine-tuning (BertForPreTraining's masked-LM head; the uncased BertModel for
bert-base-cased), and the XL row's ZeRO stage (its hand-tuned cell states none: stage 1 as the probe ran it).

Deviations (the probe's, disclosed in its report, both fixed from simtrain's error text before any DeepSpeedExamples
figure was read): its ZeRO-1 commands failed without a plan (``--zero`` is read only by a parallel plan), so every
GPT-2 row runs ``--parallel tp=1,pp=1,dp=16`` (pure data parallelism, the stated plan); the layer-graph catalog
models take no plan, so GPT-2 small is the ``gpt:`` spec of Hugging Face's gpt2 (as the medium, large and XL rows)
and the two BERT rows (ZeRO-0) keep their plain data-parallel commands. Without the seven GPT-2 rows the probe's
median is 16.4 % over 13 rows.

The probe ran at cd41123; its errors then (from its report): Voltage Park 8 x H100 all-reduce 8 GiB / 1 GiB /
128 MiB -0.8/-1.6/+2.2 %; MaxText A3 2, 4, 8 and 16 over 1 VM +16.4/+16.4/+15.7/+26.1 % (effects
-98.6/-78.5/-77.4/-83.5 %); PaddleNLP Llama-2 7B / 13B / Qwen-7B +23.2/+29.9/+19.4 %; Mixtral 8x7B on 64 H100 +22.5 %;
DeepSpeedExamples GPT-2 small DDP / ZeRO-1 +157.8/+87.6 %, medium +252.7/+104.1 %, large +314.1/+164.9 %, XL ZeRO-1
+137.4 %, BERT-large -14.6 %, BERT-base +1.3 %. Medians: 22.8 % over the 20 rows, collectives 1.6 %, training
throughput 87.6 %, scaling ratios 16.4 % (effect 81.0 %).

Since af98f6f (NCCL's per-channel ceilings in its choice) only the Mixtral row moved, by less than a hundredth of a
point (6,912.5 -> 6,912.2 tokens/s per GPU, +22.49 -> +22.48 %: 0.1 ms more exposed communication); the other 19
simulated figures are the probe's to the last digit.
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
PROBE19 = {
    "vpbenchmarking-voltage-park": ["nccl-allreduce-8xh100-voltage-park-8gb", "nccl-allreduce-8xh100-voltage-park-1gb",
                                    "nccl-allreduce-8xh100-voltage-park-128mb"],
    "maxtext-a3-llama2-7b": ["maxtext-a3-llama2-7b-2v1vm-scaling", "maxtext-a3-llama2-7b-4v1vm-scaling",
                             "maxtext-a3-llama2-7b-8v1vm-scaling", "maxtext-a3-llama2-7b-16v1vm-scaling"],
    "paddlenlp-pretrain": ["paddlenlp-llama2-7b-8xa100-tp2-sharding2", "paddlenlp-llama2-13b-8xa100-tp2-sharding2",
                           "paddlenlp-qwen-7b-8xa100-tp2-sharding2"],
    "megatron-core-moe-readme": ["mcore-moe-mixtral-8x7b-64xh100"],
    "deepspeedexamples-autotuning-hf": ["ds-autotuning-hf-gpt2-16xv100-ddp-mbs8",
                                        "ds-autotuning-hf-gpt2-16xv100-zero1-mbs8",
                                        "ds-autotuning-hf-gpt2-medium-16xv100-ddp-mbs2",
                                        "ds-autotuning-hf-gpt2-medium-16xv100-zero1-mbs4",
                                        "ds-autotuning-hf-gpt2-large-16xv100-ddp-mbs1",
                                        "ds-autotuning-hf-gpt2-large-16xv100-zero1-mbs2",
                                        "ds-autotuning-hf-gpt2-xl-16xv100-zero1-mbs1",
                                        "ds-autotuning-hf-bert-large-mnli-16xv100-ddp-fp32",
                                        "ds-autotuning-hf-bert-base-mnli-16xv100-ddp-fp32"],
}
NEW = [name for cases in PROBE19.values() for name in cases]
RATIOS = [name for name in NEW if name.endswith("-scaling")]
LEFT_OUT = ["nccl-allreduce-4node-h100-voltage-park", "nccl-allgather-8xh100-voltage-park",
            "nccl-broadcast-8xh100-voltage-park", "maxtext-a3-llama2-7b-1vm", "paddlenlp-llama-7b-8xa100-tp2-sharding2",
            "paddlenlp-baichuan2-7b-8xa100", "ds-autotuning-hf-autotuned", "ds-autotuning-hf-bert-large-mnli-zero1",
            "ds-autotuning-hf-bert-base-mnli-ds", "ds-autotuning-hf-distilbert", "ds-autotuning-hf-deberta",
            "olmo-core-llama-8b"]
#: the probe's confidence tag of each row (the cases state it, with the assumption behind a medium or low one)
HIGH = PROBE19["vpbenchmarking-voltage-park"]
MEDIUM = PROBE19["paddlenlp-pretrain"]

#: the probe's relative errors (its results.json at cd41123, rounded here to 0.01 %): a case stays at the error it
#: was measured at, within the ratchet's tolerance (a deliberate model change that moves one re-records it here too)
#: since the step waits for the slowest of its GPUs (gpu_spread 0.02, simtrain.training.variability) the multi-GPU
#: rows are re-recorded at their new errors; before it they were at: maxtext-a3-llama2-7b-2v1vm-scaling +0.1636,
#: maxtext-a3-llama2-7b-4v1vm-scaling +0.1205, maxtext-a3-llama2-7b-8v1vm-scaling +0.0800,
#: maxtext-a3-llama2-7b-16v1vm-scaling +0.1758, paddlenlp-llama2-7b-8xa100-tp2-sharding2 +0.2318,
#: paddlenlp-llama2-13b-8xa100-tp2-sharding2 +0.2989, paddlenlp-qwen-7b-8xa100-tp2-sharding2 +0.1941,
#: mcore-moe-mixtral-8x7b-64xh100 +0.2249, ds-autotuning-hf-gpt2-16xv100-ddp-mbs8 +1.5777,
#: ds-autotuning-hf-gpt2-16xv100-zero1-mbs8 +0.8756, ds-autotuning-hf-gpt2-medium-16xv100-ddp-mbs2 +2.5275,
#: ds-autotuning-hf-gpt2-medium-16xv100-zero1-mbs4 +1.0414, ds-autotuning-hf-gpt2-large-16xv100-ddp-mbs1 +3.1413,
#: ds-autotuning-hf-gpt2-large-16xv100-zero1-mbs2 +1.6486, ds-autotuning-hf-gpt2-xl-16xv100-zero1-mbs1 +1.3737,
#: ds-autotuning-hf-bert-large-mnli-16xv100-ddp-fp32 -0.1457, ds-autotuning-hf-bert-base-mnli-16xv100-ddp-fp32 +0.0133
#: re-measured 2026-12-07, when PyTorch's native norms and activations began running at the bandwidth they reach
#: (docs/compute-model.md, "Native kernels") and Hugging Face's DDP rows named the Trainer's per-tensor AdamW; before:
#: paddlenlp-llama2-7b-8xa100-tp2-sharding2 +0.1989, paddlenlp-llama2-13b-8xa100-tp2-sharding2 +0.2641,
#: paddlenlp-qwen-7b-8xa100-tp2-sharding2 +0.1622, mcore-moe-mixtral-8x7b-64xh100 +0.1765,
#: ds-autotuning-hf-gpt2-16xv100-ddp-mbs8 +0.2952, ds-autotuning-hf-gpt2-16xv100-zero1-mbs8 +0.2975,
#: ds-autotuning-hf-gpt2-medium-16xv100-ddp-mbs2 +0.8438, ds-autotuning-hf-gpt2-medium-16xv100-zero1-mbs4 +0.3979,
#: ds-autotuning-hf-gpt2-large-16xv100-ddp-mbs1 +1.3175, ds-autotuning-hf-gpt2-large-16xv100-zero1-mbs2 +0.8305,
#: ds-autotuning-hf-gpt2-xl-16xv100-zero1-mbs1 +0.7843, ds-autotuning-hf-bert-large-mnli-16xv100-ddp-fp32 -0.1751,
#: ds-autotuning-hf-bert-base-mnli-16xv100-ddp-fp32 -0.0216
MEASURED = {
    # re-measured when the head's gradients came to be reduced first and ZeRO-3's root unit (the embedding, final
    # norm and head) to be gathered and reduce-scattered (2026-12-07)
    "nccl-allreduce-8xh100-voltage-park-8gb": -0.0082, "nccl-allreduce-8xh100-voltage-park-1gb": -0.0163,
    "nccl-allreduce-8xh100-voltage-park-128mb": +0.0219,
    # the MaxText cases since they state their scripts' all-reduce combine thresholds, combined as XLA does (the
    # probe: +16.36, +16.40, +15.71, +26.06 %), and since they state base.yml's fp32 weights (--autocast: fp32
    # gathers and reductions) and its gradient clipping (--clip-grad) (before: +15.59, +11.18, +6.58, +15.54 %)
    # (and since they state GPUDirect-TCPX as its own transport and the scripts' ring and Simple protocol, helper
    # audit 39: before, +0.1499, +0.0683, -0.0034, +0.0794)
    "maxtext-a3-llama2-7b-2v1vm-scaling": +0.1375, "maxtext-a3-llama2-7b-4v1vm-scaling": +0.1330,
    "maxtext-a3-llama2-7b-8v1vm-scaling": +0.0436, "maxtext-a3-llama2-7b-16v1vm-scaling": +0.1210,
    "paddlenlp-llama2-7b-8xa100-tp2-sharding2": +0.1828, "paddlenlp-llama2-13b-8xa100-tp2-sharding2": +0.2494,
    "paddlenlp-qwen-7b-8xa100-tp2-sharding2": +0.1474,
    # (and since it states Megatron-LM's fp32 gradient reduction for bf16, --reduce-dtype fp32: before, +0.1482)
    "mcore-moe-mixtral-8x7b-64xh100": +0.1336,
    # the GPT-2 rows since they name Hugging Face's eager kernels (kernels=eager under autocast, eager-half on
    # DeepSpeed's fp16 model; before, with the fused default: +1.4890, +0.8116, +2.4075, +0.9729, +3.0024, +1.5630,
    # +1.3009 in this order)
    # (and the vanilla Hugging Face rows since they state autocast's weight casts, --autocast: before, +0.1381,
    # +0.5287, +0.7731; and since autocast's gradients are fp32 in DDP's all-reduce and the update, with GradScaler's
    # unscale: before, +0.1318, +0.4974, +0.7030; and since they state the Trainer's clipping, --clip-grad: before,
    # +0.1260, +0.4690, +0.6418 and the BERT rows -0.1915, -0.0393; and since eager code's residual stream is
    # priced (fp32 under autocast, dropout-then-add as two kernels, 2026-12-08): before, +0.1133, +0.1998, +0.4245,
    # +0.2902, +0.5625, +0.6909, +0.6739)
    "ds-autotuning-hf-gpt2-16xv100-ddp-mbs8": +0.0744, "ds-autotuning-hf-gpt2-16xv100-zero1-mbs8": +0.1882,
    "ds-autotuning-hf-gpt2-medium-16xv100-ddp-mbs2": +0.3820,
    "ds-autotuning-hf-gpt2-medium-16xv100-zero1-mbs4": +0.2775,
    "ds-autotuning-hf-gpt2-large-16xv100-ddp-mbs1": +0.5251, "ds-autotuning-hf-gpt2-large-16xv100-zero1-mbs2": +0.6746,
    "ds-autotuning-hf-gpt2-xl-16xv100-zero1-mbs1": +0.6610,
    "ds-autotuning-hf-bert-large-mnli-16xv100-ddp-fp32": -0.1978,
    "ds-autotuning-hf-bert-base-mnli-16xv100-ddp-fp32": -0.0438,
}

# --- the commands the probe ran (its cases.py, less ``--json``) ---------------------------------------------------
_NCCL = "--set network.protocol=nccl"
_A3 = "--topology dgx-h100 --set topology.nic.count=4 --set topology.nic.bandwidth=200Gbit/s"
_DGX2 = ("--topology dgx-h100 --set topology.device=v100 --set topology.gpus_per_node=16 "
         "--set topology.intra_node.bandwidth=150GB/s --set topology.intra_node.in_switch_reduction=false")


def _coll(size: str) -> str:
    return f"collective --op all-reduce --topology dgx-h100 --gpus 8 --size {size} {_NCCL}"


#: each script's --xla_gpu_all_reduce_combine_threshold_bytes (2vm.sh 67108864, 4vm.sh 536870912, 8vm.sh and 16vm.sh
#: 1073741824 bytes)
MT_THRESHOLDS = {2: "64MiB", 4: "512MiB", 8: "1GiB", 16: "1GiB"}


def _mt(vms: int) -> str:
    # since 2026-12-07 the runs state base.yml's fp32 weights and gradient clipping (--autocast --clip-grad), and
    # GPUDirect-TCPX as its own transport with the scripts' NCCL_ALGO=Ring, NCCL_PROTO=Simple (helper audit 39)
    g = 8 * vms
    return (f"simulate --model llama2-7b:attention=flash {_A3} --set topology.nic.transport=tcpx --gpus {g} "
            f"--parallel tp=1,pp=1,dp={g} --micro-batch 4 --global-batch {4 * g} --dtype bf16 --autocast "
            f"--optimizer adam --clip-grad --zero 3 --zero-shard-size 8 --recompute none --no-check-memory "
            f"--algorithm auto:algo=ring,proto=Simple {_NCCL}")


def _pd(model: str, micro: int) -> str:
    return (f"simulate --model {model} --topology dgx-a100 --gpus 8 --parallel tp=2,pp=1,dp=4 --micro-batch {micro} "
            f"--global-batch 64 --dtype bf16 --optimizer adam --zero 2 --recompute none --no-check-memory {_NCCL}")


def _dsx(model: str, micro: int, zero: int, dtype: str, plan: bool = True) -> str:
    # three changes since the probe: vanilla Hugging Face's rows (zero 0) name the Trainer's own AdamW, a loop of
    # operators per tensor (--optimizer-impl for-loop), its clipping to max_grad_norm (--clip-grad) and in fp16 its
    # torch.cuda.amp (--autocast); DeepSpeed's run its fused Adam, the default, on its half model
    return (f"simulate --model {model} {_DGX2} --gpus 16 " + ("--parallel tp=1,pp=1,dp=16 " if plan else "")
            + f"--micro-batch {micro} --global-batch {16 * micro} --dtype {dtype} --optimizer adam --zero {zero} "
            + ("--optimizer-impl for-loop --clip-grad " if zero == 0 else "")
            + ("--autocast " if zero == 0 and dtype == "fp16" else "") + f"--no-check-memory {_NCCL}")


def _gpt2(layers: int, hidden: int, heads: int, kernels: str) -> str:
    # the probe ran the fused default; the cases name Hugging Face's eager kernels since the decoder has the key
    return f"gpt:layers={layers},hidden={hidden},heads={heads},seq=1024,vocab=50257,dropout=0.1,kernels={kernels}"


PROBE_COMMANDS = {
    "nccl-allreduce-8xh100-voltage-park-8gb": [_coll("8GiB")],
    "nccl-allreduce-8xh100-voltage-park-1gb": [_coll("1GiB")],
    "nccl-allreduce-8xh100-voltage-park-128mb": [_coll("128MiB")],
    # one change since the probe: the runs across VMs carry their script's XLA all-reduce combine threshold
    **{f"maxtext-a3-llama2-7b-{vms}v1vm-scaling": [_mt(1), f"{_mt(vms)} --dp-bucket-size {threshold} "
                                                            "--dp-bucket-rule at-most"]
       for vms, threshold in MT_THRESHOLDS.items()},
    "paddlenlp-llama2-7b-8xa100-tp2-sharding2": [_pd("llama2-7b:attention=flash2", 2)],
    "paddlenlp-llama2-13b-8xa100-tp2-sharding2": [_pd("gpt:layers=40,hidden=5120,heads=40,seq=4096,vocab=32000,"
                                                      "ffn=13824,gated=true,attention=flash2", 1)],
    "paddlenlp-qwen-7b-8xa100-tp2-sharding2": [_pd("gpt:layers=32,hidden=4096,heads=32,seq=4096,vocab=151936,"
                                                   "ffn=11008,gated=true,attention=flash2", 2)],
    "mcore-moe-mixtral-8x7b-64xh100": [
        "simulate --model mixtral-8x7b:attention=flash --topology dgx-h100 --gpus 64 --parallel tp=1,pp=4,dp=16,ep=8 "
        "--micro-batch 1 --global-batch 256 --pipeline-schedule interleaved:chunks=8 --dtype bf16 --optimizer adam "
        f"--zero 1 --recompute none --reduce-dtype fp32 --no-check-memory {_NCCL}"],   # Megatron's bf16 default
    "ds-autotuning-hf-gpt2-16xv100-ddp-mbs8": [_dsx(_gpt2(12, 768, 12, "eager"), 8, 0, "fp16")],
    "ds-autotuning-hf-gpt2-16xv100-zero1-mbs8": [_dsx(_gpt2(12, 768, 12, "eager-half"), 8, 1, "fp16")],
    "ds-autotuning-hf-gpt2-medium-16xv100-ddp-mbs2": [_dsx(_gpt2(24, 1024, 16, "eager"), 2, 0, "fp16")],
    "ds-autotuning-hf-gpt2-medium-16xv100-zero1-mbs4": [_dsx(_gpt2(24, 1024, 16, "eager-half"), 4, 1, "fp16")],
    "ds-autotuning-hf-gpt2-large-16xv100-ddp-mbs1": [_dsx(_gpt2(36, 1280, 20, "eager"), 1, 0, "fp16")],
    "ds-autotuning-hf-gpt2-large-16xv100-zero1-mbs2": [_dsx(_gpt2(36, 1280, 20, "eager-half"), 2, 1, "fp16")],
    "ds-autotuning-hf-gpt2-xl-16xv100-zero1-mbs1": [_dsx(_gpt2(48, 1600, 25, "eager-half"), 1, 1, "fp16")],
    "ds-autotuning-hf-bert-large-mnli-16xv100-ddp-fp32": [_dsx("bert-large", 64, 0, "fp32", plan=False)],
    "ds-autotuning-hf-bert-base-mnli-16xv100-ddp-fp32": [_dsx("bert-base", 128, 0, "fp32", plan=False)],
}



def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 20 and len(PROBE19) == 5 and len(RATIOS) == 4
    check_probe_cases(19, NEW, PROBE19, RATIOS, LEFT_OUT,
                      lambda name: "high" if name in HIGH else "medium" if name in MEDIUM else "low")


def test_ratio_cases_carry_their_effect_and_misses_beyond_the_threshold_are_explained(rows) -> None:
    check_ratio_cases(rows, RATIOS, THRESHOLD)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], name in RATIOS)


def test_the_commands_are_the_probes(rows) -> None:
    """The same subcommand, flags and values as the probe's runs (in simtrain's printed order; ``--json`` aside)."""
    check_probe_commands(rows, PROBE_COMMANDS, NEW)


def test_the_published_figures_are_the_sources(rows) -> None:
    for vms, tflops in ((2, 422), (4, 407), (8, 409), (16, 375)):   # TFLOP/s per chip over the 1-VM 492
        name = f"maxtext-a3-llama2-7b-{vms}v1vm-scaling"
        assert rows[name].published == pytest.approx(tflops / 492, rel=1e-12), name
        source = CASES.get(name).source
        assert "'| 1x A3 (h100-80gb-8)    | 492" in source and f"| {vms}x A3 (h100-80gb-8)" in source, name
        assert f"| {tflops}              |'" in source, name
    # Mixtral: 468 TFLOP/s per GPU over Megatron's FLOPs per token (num_floating_point_operations, per token)
    flops = 12 * 32 * 4096**2 * ((1 + 8 / 32 + 4096 / 4096) + 14336 / 4096 * 2 * 1.5 + 32000 / (2 * 32 * 4096))
    assert flops == pytest.approx(8.293e10, rel=1e-4)
    mixtral = "mcore-moe-mixtral-8x7b-64xh100"
    assert rows[mixtral].published == pytest.approx(468e12 / flops, rel=1e-12)
    assert "**468 TFLOPS** for Mixtral 8X7B" in CASES.get(mixtral).source
    for name in set(NEW) - set(RATIOS) - {mixtral}:
        text = f"{rows[name].published:.3f}".rstrip("0").rstrip(".")
        assert text in CASES.get(name).source, f"{name}: {text} is not in its quoted source line"


def test_the_runs_are_the_sources_settings(rows) -> None:
    """What each source states, read back from the printed commands."""
    flags = {name: command_flags(rows[name].command.split("; ")[-1]) for name in NEW}
    for name in PROBE19["vpbenchmarking-voltage-park"]:          # one node of 8 H100, -g 8; NCCL's own choice
        flag = flags[name]
        assert (flag["--op"], flag["--gpus"], flag["--topology"]) == ("all-reduce", "8", "dgx-h100"), name
        assert "--algorithm" not in flag and flag["--size"].lower().replace("ib", "b") == name.rsplit("-", 1)[1]
    for name in PROBE19["maxtext-a3-llama2-7b"]:                 # FSDP 8 in a VM, per_device_batch_size=4
        few, many = (command_flags(line) for line in rows[name].command.split("; "))
        vms = int(name.split("-")[4].split("v")[0])
        assert (few["--gpus"], many["--gpus"]) == ("8", str(8 * vms)), name
        for flag in (few, many):
            gpus = int(flag["--gpus"])
            assert (flag["--parallel"], flag["--micro-batch"], flag["--global-batch"]) == (
                f"tp=1,pp=1,dp={gpus}", "4", str(4 * gpus)), name
            assert (flag["--zero"], flag["--zero-shard-size"], flag["--dtype"]) == ("3", "8", "bf16"), name
            assert "--autocast" in flag and "--clip-grad" in flag, name   # weight_dtype float32, clipping at 1.0
            assert (flag["topology.nic.count"], flag["topology.nic.bandwidth"]) == ("4", "200Gbit/s"), name
        assert "--dp-bucket-size" not in few and many["--dp-bucket-size"] == MT_THRESHOLDS[vms], name
        assert many["--dp-bucket-rule"] == "at-most", name   # XLA's combiner: at most the threshold
    for name, micro in zip(PROBE19["paddlenlp-pretrain"], (2, 1, 2)):   # tp2sd4_stage2: micro x accumulation x 4 = 64
        flag = flags[name]
        assert (flag["--topology"], flag["--gpus"], flag["--parallel"]) == ("dgx-a100", "8", "tp=2,pp=1,dp=4"), name
        assert (flag["--micro-batch"], flag["--global-batch"], flag["--zero"]) == (str(micro), "64", "2"), name
        assert (flag["--recompute"], flag["--dtype"]) == ("none", "bf16") and "attention=flash2" in flag["--model"]
    moe = flags["mcore-moe-mixtral-8x7b-64xh100"]               # TP1 EP8 PP4 VP8, MBS 1, GBS 256 on 64 GPUs
    assert (moe["--gpus"], moe["--parallel"], moe["--pipeline-schedule"]) == ("64", "tp=1,pp=4,dp=16,ep=8",
                                                                              "interleaved:chunks=8")
    assert (moe["--micro-batch"], moe["--global-batch"], moe["--dtype"]) == ("1", "256", "bf16")
    for name in PROBE19["deepspeedexamples-autotuning-hf"]:     # one node of 16 V100; mbs as the table's cell
        flag = flags[name]
        assert (flag["--gpus"], flag["topology.gpus_per_node"], flag["topology.device"]) == ("16", "16", "v100")
        micro = int(flag["--micro-batch"])
        assert flag["--global-batch"] == str(16 * micro), name
        bert = "bert" in name
        assert flag["--dtype"] == ("fp32" if bert else "fp16"), name
        assert flag["--zero"] == ("1" if "zero1" in name else "0"), name
        assert flag.get("--parallel") == (None if bert else "tp=1,pp=1,dp=16"), name
        if not bert:
            assert name.endswith(f"-mbs{micro}") and "seq=1024" in flag["--model"], name


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    """The probe's error, within the ratchet's tolerance, and no worse than the committed ratchet's record."""
    check_measured(rows, MEASURED, NEW)
