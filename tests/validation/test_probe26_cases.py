"""The cases of held-out probe 26: 22 published measurements from 7 documents no case had read before
(KempnerForge's FSDP2/TP step times on H200, NeMo AutoModel's on H100, NVIDIA's Nemotron-4 15B and 340B recipes,
NVIDIA's NCCL sample log on 8 H100 and ml-engineering's all-reduce table on 8 H200).

A helper session wrote every command, dated and froze that registration before it ran any (on a frozen checkout at
177455d), then ran them unchanged but for one declared deviation: each case is a registered row, the printed command
gives its figure through the CLI and is the probe's command (the same flags and values; ``--json`` aside), with the
probe's own topology file for KempnerForge's nodes written as the ``dgx-h100`` family with ``--set`` overrides of the
same values, and each case's error is the probe's to the fourth digit (``MEASURED``).

The probe's medians at 177455d: 3.7 % over its 22 rows, training 3.7 % (14), collectives 4.7 % (8).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from probe_checks import (
    check_measured,
    check_printed_command,
    check_probe_cases,
    check_probe_commands,
    check_ratio_cases,
    cli_json,
)

from simtrain.validation import CASES
from simtrain.validation.report import THRESHOLD

#: source id -> the probe's cases from it
PROBE26 = {
    'kempnerforge-mfu-scaling': [
        'kempner-7b-1xh200-step',
        'kempner-7b-4xh200-fsdp4-step',
        'kempner-13b-8xh200-fsdp8-eager-step',
        'kempner-13b-32xh200-tp4-fsdp8-step',
        'kempner-70b-32xh200-tp4-fsdp8-step',
    ],
    'kempnerforge-weak-scaling': [
        'kempner-13b-160xh200-tp4-fsdp40-step',
        'kempner-70b-160xh200-tp4-fsdp40-step',
    ],
    'nemo-automodel-perf': [
        'automodel-llama3-70b-64xh100-fsdp32-cp2-step',
        'automodel-qwen3-moe-30b-8xh100-ep8-step',
    ],
    'dgxc-nemotron4-15b': [
        'dgxc-nemotron4-15b-bf16-16xh100-step',
        'dgxc-nemotron4-15b-bf16-256xh100-step',
        'dgxc-nemotron4-15b-fp8-64xh100-step',
    ],
    'dgxc-nemotron4-340b': [
        'dgxc-nemotron4-340b-bf16-128xh100-step',
        'dgxc-nemotron4-340b-bf16-2048xh100-step',
    ],
    'dgxc-nccl-sample': [
        'dgxc-nccl-8xh100-allreduce-8B-time',
        'dgxc-nccl-8xh100-allreduce-1MiB-busbw',
        'dgxc-nccl-8xh100-allreduce-16MiB-busbw',
        'dgxc-nccl-8xh100-allreduce-128MiB-busbw',
        'dgxc-nccl-8xh100-allreduce-8GiB-busbw',
    ],
    'mleng-allreduce-8xh200': [
        'mleng-8xh200-allreduce-16MiB-busbw',
        'mleng-8xh200-allreduce-128MiB-busbw',
        'mleng-8xh200-allreduce-1GiB-busbw',
    ],
}
NEW = [name for cases in PROBE26.values() for name in cases]
#: the probe's confidence of each row (its registration)
CONFIDENCE = {
    'kempner-7b-1xh200-step': 'low',
    'kempner-7b-4xh200-fsdp4-step': 'medium',
    'kempner-13b-8xh200-fsdp8-eager-step': 'medium',
    'kempner-13b-32xh200-tp4-fsdp8-step': 'medium',
    'kempner-70b-32xh200-tp4-fsdp8-step': 'medium',
    'kempner-13b-160xh200-tp4-fsdp40-step': 'medium',
    'kempner-70b-160xh200-tp4-fsdp40-step': 'medium',
    'automodel-llama3-70b-64xh100-fsdp32-cp2-step': 'medium',
    'automodel-qwen3-moe-30b-8xh100-ep8-step': 'medium',
    'dgxc-nemotron4-15b-bf16-16xh100-step': 'high',
    'dgxc-nemotron4-15b-bf16-256xh100-step': 'high',
    'dgxc-nemotron4-15b-fp8-64xh100-step': 'medium',
    'dgxc-nemotron4-340b-bf16-128xh100-step': 'medium',
    'dgxc-nemotron4-340b-bf16-2048xh100-step': 'medium',
    'dgxc-nccl-8xh100-allreduce-8B-time': 'medium',
    'dgxc-nccl-8xh100-allreduce-1MiB-busbw': 'medium',
    'dgxc-nccl-8xh100-allreduce-16MiB-busbw': 'high',
    'dgxc-nccl-8xh100-allreduce-128MiB-busbw': 'high',
    'dgxc-nccl-8xh100-allreduce-8GiB-busbw': 'high',
    'mleng-8xh200-allreduce-16MiB-busbw': 'medium',
    'mleng-8xh200-allreduce-128MiB-busbw': 'high',
    'mleng-8xh200-allreduce-1GiB-busbw': 'high',
}

#: each case's relative error now (rounded to 0.01 %), the probe's at 177455d
MEASURED = {
    # re-measured when the head's gradients came to be reduced first and ZeRO-3's root unit (the embedding, final
    # norm and head) to be gathered and reduce-scattered (2026-12-07)
    'kempner-7b-1xh200-step': +0.0872,
    'kempner-7b-4xh200-fsdp4-step': +0.0591,
    'kempner-13b-8xh200-fsdp8-eager-step': +0.0219,
    'kempner-13b-32xh200-tp4-fsdp8-step': -0.1061,
    'kempner-70b-32xh200-tp4-fsdp8-step': -0.0404,
    'kempner-13b-160xh200-tp4-fsdp40-step': -0.0136,
    'kempner-70b-160xh200-tp4-fsdp40-step': +0.0409,
    'automodel-llama3-70b-64xh100-fsdp32-cp2-step': -0.0876,
    'automodel-qwen3-moe-30b-8xh100-ep8-step': +0.0369,
    'dgxc-nemotron4-15b-bf16-16xh100-step': -0.0046,
    'dgxc-nemotron4-15b-bf16-256xh100-step': +0.0039,
    'dgxc-nemotron4-15b-fp8-64xh100-step': +0.0886,
    'dgxc-nemotron4-340b-bf16-128xh100-step': -0.0420,
    'dgxc-nemotron4-340b-bf16-2048xh100-step': -0.0351,
    'dgxc-nccl-8xh100-allreduce-8B-time': +0.0973,
    'dgxc-nccl-8xh100-allreduce-1MiB-busbw': -0.4054,
    'dgxc-nccl-8xh100-allreduce-16MiB-busbw': +0.0751,
    'dgxc-nccl-8xh100-allreduce-128MiB-busbw': +0.0185,
    'dgxc-nccl-8xh100-allreduce-8GiB-busbw': -0.0091,
    'mleng-8xh200-allreduce-16MiB-busbw': +0.1597,
    'mleng-8xh200-allreduce-128MiB-busbw': +0.0149,
    'mleng-8xh200-allreduce-1GiB-busbw': -0.0058,
}

#: the probe's own topology file for KempnerForge's nodes, as the cases write it: the dgx-h100 family and these
#: overrides (the same device, node size, full NVLink mesh at 150 GB/s, no in-switch reduction, one NIC per GPU)
KEMPNER_FILE = "--topology /work/reports/probe26_topo_kempner_h200.yaml"   # where the probe kept it
#: the probe's file itself, kept beside this test
KEMPNER_YAML = Path(__file__).parent / "data" / "probe26_kempner_h200.yaml"
KEMPNER_SETS = ("--topology dgx-h100 --set topology.gpus_per_node=4 --set topology.intra_node.kind=fully_connected "
                "--set topology.intra_node.link=nvlink --set topology.intra_node.in_switch_reduction=false "
                "--set topology.intra_node.bandwidth=150GB/s --set topology.device=h200 --set topology.nic.count=4")

#: the commands the probe registered (its probe26_registered.md, less the environment and ``--json``)
PROBE_COMMANDS = {
    'kempner-7b-1xh200-step': (
        'simulate --model llama3-8b:seq=4096,attention=flash2 --topology '
        '/work/reports/probe26_topo_kempner_h200.yaml --gpus 1 --set topology.gpus_per_node=1 --set '
        'topology.nic.count=1 --parallel tp=1,pp=1,dp=1 --micro-batch 2 --global-batch 8 --dtype bf16 '
        '--optimizer adamw --optimizer-impl fused --clip-grad --recompute full --set network.protocol=nccl'),
    'kempner-7b-4xh200-fsdp4-step': (
        'simulate --model llama3-8b:seq=4096,attention=flash2 --topology '
        '/work/reports/probe26_topo_kempner_h200.yaml --gpus 4 --parallel tp=1,pp=1,dp=4 --micro-batch 4 '
        '--global-batch 32 --dtype bf16 --optimizer adamw --optimizer-impl fused --clip-grad --recompute full'
        ' --zero 3 --zero-impl fsdp2 --reduce-dtype fp32 --set network.protocol=nccl'),
    'kempner-13b-8xh200-fsdp8-eager-step': (
        'simulate --model '
        'gpt:layers=40,hidden=5120,heads=40,kv_heads=8,ffn=17920,gated=true,seq=4096,vocab=128256,attention=flash2,kernels=eager'
        ' --topology /work/reports/probe26_topo_kempner_h200.yaml --gpus 8 --parallel tp=1,pp=1,dp=8 '
        '--micro-batch 4 --global-batch 128 --dtype bf16 --optimizer adamw --optimizer-impl fused --clip-grad'
        ' --recompute full --zero 3 --zero-impl fsdp2 --reduce-dtype fp32 --set network.protocol=nccl'),
    'kempner-13b-32xh200-tp4-fsdp8-step': (
        'simulate --model '
        'gpt:layers=40,hidden=5120,heads=40,kv_heads=8,ffn=17920,gated=true,seq=4096,vocab=128256,attention=flash2'
        ' --topology /work/reports/probe26_topo_kempner_h200.yaml --gpus 32 --parallel tp=4,pp=1,dp=8 '
        '--sequence-parallel --micro-batch 4 --global-batch 128 --dtype bf16 --optimizer adamw '
        '--optimizer-impl fused --clip-grad --recompute full --zero 3 --zero-impl fsdp2 --reduce-dtype fp32 '
        '--set network.protocol=nccl'),
    'kempner-70b-32xh200-tp4-fsdp8-step': (
        'simulate --model llama3-70b:seq=4096,attention=flash2 --topology '
        '/work/reports/probe26_topo_kempner_h200.yaml --gpus 32 --parallel tp=4,pp=1,dp=8 --sequence-parallel'
        ' --micro-batch 2 --global-batch 64 --dtype bf16 --optimizer adamw --optimizer-impl fused --clip-grad'
        ' --recompute full --zero 3 --zero-impl fsdp2 --reduce-dtype fp32 --set network.protocol=nccl'),
    'kempner-13b-160xh200-tp4-fsdp40-step': (
        'simulate --model '
        'gpt:layers=40,hidden=5120,heads=40,kv_heads=8,ffn=17920,gated=true,seq=4096,vocab=128256,attention=flash2'
        ' --topology /work/reports/probe26_topo_kempner_h200.yaml --gpus 160 --parallel tp=4,pp=1,dp=40 '
        '--sequence-parallel --micro-batch 4 --global-batch 640 --dtype bf16 --optimizer adamw '
        '--optimizer-impl fused --clip-grad --recompute full --zero 3 --zero-impl fsdp2 --reduce-dtype fp32 '
        '--set network.protocol=nccl'),
    'kempner-70b-160xh200-tp4-fsdp40-step': (
        'simulate --model llama3-70b:seq=4096,attention=flash2 --topology '
        '/work/reports/probe26_topo_kempner_h200.yaml --gpus 160 --parallel tp=4,pp=1,dp=40 '
        '--sequence-parallel --micro-batch 2 --global-batch 320 --dtype bf16 --optimizer adamw '
        '--optimizer-impl fused --clip-grad --recompute full --zero 3 --zero-impl fsdp2 --reduce-dtype fp32 '
        '--set network.protocol=nccl'),
    'automodel-llama3-70b-64xh100-fsdp32-cp2-step': (
        'simulate --model llama3-70b:seq=8192,attention=flash --topology dgx-h100 --gpus 64 --parallel '
        'tp=1,pp=1,cp=2,dp=32 --micro-batch 1 --global-batch 128 --dtype bf16 --optimizer adam '
        '--optimizer-impl foreach --recompute full --zero 3 --zero-impl fsdp2 --reduce-dtype fp32 --set '
        'network.protocol=nccl'),
    'automodel-qwen3-moe-30b-8xh100-ep8-step': (
        'simulate --model '
        'gpt:layers=48,hidden=2048,heads=32,kv_heads=4,head_dim=128,seq=4096,vocab=151936,gated=true,ffn=768,experts=128,top_k=8,moe_ffn=768,attention=flash'
        ' --topology dgx-h100 --gpus 8 --parallel tp=1,pp=1,dp=8,ep=8 --micro-batch 4 --global-batch 512 '
        '--dtype bf16 --optimizer adam --optimizer-impl foreach --recompute full --zero 3 --zero-impl fsdp2 '
        '--reduce-dtype fp32 --set network.protocol=nccl'),
    'dgxc-nemotron4-15b-bf16-16xh100-step': (
        'simulate --model '
        'gpt:layers=32,hidden=6144,heads=48,kv_heads=8,ffn=24576,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash'
        ' --topology dgx-h100 --gpus 16 --parallel tp=4,pp=1,dp=4 --sequence-parallel --micro-batch 4 '
        '--global-batch 64 --dtype bf16 --optimizer adam --clip-grad --recompute none --zero 1 --reduce-dtype'
        ' fp32 --set network.protocol=nccl'),
    'dgxc-nemotron4-15b-bf16-256xh100-step': (
        'simulate --model '
        'gpt:layers=32,hidden=6144,heads=48,kv_heads=8,ffn=24576,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash'
        ' --topology dgx-h100 --gpus 256 --parallel tp=4,pp=1,dp=64 --sequence-parallel --micro-batch 4 '
        '--global-batch 1024 --dtype bf16 --optimizer adam --clip-grad --recompute none --zero 1 '
        '--reduce-dtype fp32 --set network.protocol=nccl'),
    'dgxc-nemotron4-15b-fp8-64xh100-step': (
        'simulate --model '
        'gpt:layers=32,hidden=6144,heads=48,kv_heads=8,ffn=24576,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash'
        ' --topology dgx-h100 --gpus 64 --parallel tp=4,pp=1,dp=16 --sequence-parallel --micro-batch 4 '
        '--global-batch 256 --dtype fp8 --optimizer adam --clip-grad --recompute none --zero 1 --reduce-dtype'
        ' fp32 --set network.protocol=nccl'),
    'dgxc-nemotron4-340b-bf16-128xh100-step': (
        'simulate --model '
        'gpt:layers=96,hidden=18432,heads=96,kv_heads=8,ffn=73728,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash'
        ' --topology dgx-h100 --gpus 128 --parallel tp=8,pp=8,dp=2 --sequence-parallel --pipeline-schedule '
        'interleaved:chunks=12 --overlap-pp --micro-batch 1 --global-batch 32 --dtype bf16 --optimizer adam '
        '--clip-grad --recompute none --zero 1 --reduce-dtype bf16 --set network.protocol=nccl'),
    'dgxc-nemotron4-340b-bf16-2048xh100-step': (
        'simulate --model '
        'gpt:layers=96,hidden=18432,heads=96,kv_heads=8,ffn=73728,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash'
        ' --topology dgx-h100 --gpus 2048 --parallel tp=8,pp=8,dp=32 --sequence-parallel --pipeline-schedule '
        'interleaved:chunks=12 --overlap-pp --micro-batch 1 --global-batch 512 --dtype bf16 --optimizer adam '
        '--clip-grad --recompute none --zero 1 --reduce-dtype bf16 --set network.protocol=nccl'),
    'dgxc-nccl-8xh100-allreduce-8B-time': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --size 8B --set network.protocol=nccl'),
    'dgxc-nccl-8xh100-allreduce-1MiB-busbw': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --size 1MiB --set network.protocol=nccl'),
    'dgxc-nccl-8xh100-allreduce-16MiB-busbw': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --size 16MiB --set network.protocol=nccl'),
    'dgxc-nccl-8xh100-allreduce-128MiB-busbw': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --size 128MiB --set network.protocol=nccl'),
    'dgxc-nccl-8xh100-allreduce-8GiB-busbw': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --size 8GiB --set network.protocol=nccl'),
    'mleng-8xh200-allreduce-16MiB-busbw': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --set topology.device=h200 --size 16MiB '
        '--set network.protocol=nccl'),
    'mleng-8xh200-allreduce-128MiB-busbw': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --set topology.device=h200 --size 128MiB '
        '--set network.protocol=nccl'),
    'mleng-8xh200-allreduce-1GiB-busbw': (
        'collective --op all-reduce --topology dgx-h100 --gpus 8 --set topology.device=h200 --size 1GiB --set'
        ' network.protocol=nccl'),
}
#: the declared deviation: the command the memory check refused, and the probe's correction (appended)
DEVIATIONS = {"dgxc-nemotron4-340b-bf16-128xh100-step": " --no-check-memory"}
#: what a later reading of the code states in a command (helper audit 41: NeMo's Transformer Engine layers)
STATED = {name: " --tp-overlap async" for name in NEW if name.startswith("dgxc-nemotron4")}


@pytest.fixture(scope="module")
def rows():
    from simtrain.validation import run_cases

    return {row.name: row for row in run_cases(NEW)}


def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 22 and len(PROBE26) == 7
    check_probe_cases(26, NEW, PROBE26, [], [], lambda name: CONFIDENCE[name])


def test_misses_beyond_the_threshold_are_explained_and_open(rows) -> None:
    check_ratio_cases(rows, [], THRESHOLD, open_misses=True)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], False)


def test_the_commands_are_the_probes(rows) -> None:
    """The probe's commands, its topology file written as the family and overrides (the one-GPU row's own overrides,
    the node cut to one GPU and one NIC, come after them), the one deviation declared."""
    commands = {}
    for name, line in PROBE_COMMANDS.items():
        if KEMPNER_FILE in line:
            own = " --set topology.gpus_per_node=1 --set topology.nic.count=1"
            line = line.replace(own, "").replace(KEMPNER_FILE, KEMPNER_SETS + (own if own in line else ""))
        commands[name] = [f"simtrain {line}{DEVIATIONS.get(name, '')}{STATED.get(name, '')}"]
    check_probe_commands(rows, commands, NEW)
    for name in DEVIATIONS:
        assert "declared deviation" in CASES.get(name).assumptions, name


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    check_measured(rows, MEASURED, NEW)


@pytest.mark.parametrize("name", [name for name, line in PROBE_COMMANDS.items() if KEMPNER_FILE in line])
def test_the_overrides_are_the_probes_topology_file(rows, capsys, name) -> None:
    """The probe's own command on its own topology file gives the case's figure exactly: the dgx-h100 family with
    the cases' overrides is the same cluster (a change to the family's file that parts them fails here)."""
    line = PROBE_COMMANDS[name].replace(KEMPNER_FILE, f"--topology {shlex.quote(str(KEMPNER_YAML))}")
    assert cli_json(capsys, f"simtrain {line}")["step_time_s"] == pytest.approx(rows[name].simulated, rel=1e-12)


def test_the_published_figures_are_the_sources(rows) -> None:
    for name in NEW:
        figure = rows[name].published
        source = CASES.get(name).source
        assert f"{figure:,.2f}".rstrip("0").rstrip(".") in source or f"{figure:g}" in source, name
