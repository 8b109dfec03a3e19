"""The cases of held-out probe 27: 17 published measurements from 4 documents no case had read before (AIST's
ABCI 2.0 nccl-tests all-reduce logs of its V- and A-nodes, NVIDIA's Paxml GPT-3 175B FP8 recipe on 128 to 2,048 H100,
and FlagPerf's ViT-B/16 on 1 to 16 A100 40 GB, with three weak-scaling ratios).

A helper session wrote every command, dated and froze that registration before it ran any (on a frozen checkout at
ab3a7e6), then ran them unchanged but for two declared deviations (commands ``simulate`` refused with exit 2): each
case is a registered row, the printed command gives its figure through the CLI and is the probe's command (the same
flags and values; ``--json`` aside; a ratio case: its two commands, fewer GPUs first), and each case's error is the
probe's to the fourth digit (``MEASURED``). The cases are not in the committed ratchet (the probe records nothing), so
the errors are pinned here against the probe's own measurement rather than through ``check_measured``.

The probe's medians at ab3a7e6: |error| 29.9 % over its 17 rows, collectives 29.5 % (8), training 28.3 % (6), ratios
62.7 % (3; their effect error 89.6 %).
"""

from __future__ import annotations

import pytest
from probe_checks import (
    check_printed_command,
    check_probe_cases,
    check_probe_commands,
    check_ratio_cases,
)

from simtrain.validation import CASES
from simtrain.validation.report import THRESHOLD

#: source id -> the probe's cases from it
PROBE27 = {
    'abci2-allreduce-vnode': [
        'abci-v-4xv100-allreduce-32MiB-busbw',
        'abci-v-8xv100-2node-allreduce-32MiB-busbw',
        'abci-v-128xv100-32node-allreduce-32MiB-busbw',
        'abci-v-8xv100-2node-allreduce-8B-time',
    ],
    'abci2-allreduce-anode': [
        'abci-a-8xa100-allreduce-32MiB-busbw',
        'abci-a-16xa100-2node-allreduce-32MiB-busbw',
        'abci-a-128xa100-16node-allreduce-32MiB-busbw',
        'abci-a-16xa100-2node-allreduce-8B-time',
    ],
    'dgxc-paxml-175b': [
        'dgxc-paxml-gpt3-175b-fp8-128xh100-step',
        'dgxc-paxml-gpt3-175b-fp8-512xh100-step',
        'dgxc-paxml-gpt3-175b-fp8-2048xh100-step',
        'dgxc-paxml-gpt3-175b-fp8-2048v128-scaling',
    ],
    'flagperf-vit': [
        'flagperf-vit-b16-a100-40gb-amp-1gpu-throughput',
        'flagperf-vit-b16-a100-40gb-amp-8gpu-throughput',
        'flagperf-vit-b16-a100-40gb-amp-16gpu-throughput',
        'flagperf-vit-b16-a100-40gb-amp-8v1gpu-scaling',
        'flagperf-vit-b16-a100-40gb-amp-16v1gpu-scaling',
    ],
}
NEW = [name for cases in PROBE27.values() for name in cases]
#: the ratio cases (two runs each: throughput per GPU of the larger over the smaller)
RATIOS = [name for name in NEW if name.endswith("-scaling")]
#: the probe's confidence of each row (its registration)
CONFIDENCE = {
    'abci-v-4xv100-allreduce-32MiB-busbw': 'medium',
    'abci-v-8xv100-2node-allreduce-32MiB-busbw': 'medium',
    'abci-v-128xv100-32node-allreduce-32MiB-busbw': 'low',
    'abci-v-8xv100-2node-allreduce-8B-time': 'medium',
    'abci-a-8xa100-allreduce-32MiB-busbw': 'medium',
    'abci-a-16xa100-2node-allreduce-32MiB-busbw': 'medium',
    'abci-a-128xa100-16node-allreduce-32MiB-busbw': 'low',
    'abci-a-16xa100-2node-allreduce-8B-time': 'medium',
    'dgxc-paxml-gpt3-175b-fp8-128xh100-step': 'medium',
    'dgxc-paxml-gpt3-175b-fp8-512xh100-step': 'medium',
    'dgxc-paxml-gpt3-175b-fp8-2048xh100-step': 'medium',
    'dgxc-paxml-gpt3-175b-fp8-2048v128-scaling': 'medium',
    'flagperf-vit-b16-a100-40gb-amp-1gpu-throughput': 'low',
    'flagperf-vit-b16-a100-40gb-amp-8gpu-throughput': 'low',
    'flagperf-vit-b16-a100-40gb-amp-16gpu-throughput': 'low',
    'flagperf-vit-b16-a100-40gb-amp-8v1gpu-scaling': 'low',
    'flagperf-vit-b16-a100-40gb-amp-16v1gpu-scaling': 'low',
}

#: each case's relative error (rounded to 0.01 %), the probe's at ab3a7e6
MEASURED = {
    'abci-v-4xv100-allreduce-32MiB-busbw': -0.0091,
    'abci-v-8xv100-2node-allreduce-32MiB-busbw': +0.5836,
    'abci-v-128xv100-32node-allreduce-32MiB-busbw': +0.3616,
    'abci-v-8xv100-2node-allreduce-8B-time': +0.1379,
    'abci-a-8xa100-allreduce-32MiB-busbw': +0.2253,
    'abci-a-16xa100-2node-allreduce-32MiB-busbw': +1.3593,
    'abci-a-128xa100-16node-allreduce-32MiB-busbw': +1.2687,
    'abci-a-16xa100-2node-allreduce-8B-time': -0.2274,
    'dgxc-paxml-gpt3-175b-fp8-128xh100-step': -0.2608,
    'dgxc-paxml-gpt3-175b-fp8-512xh100-step': -0.2663,
    'dgxc-paxml-gpt3-175b-fp8-2048xh100-step': -0.2991,
    'dgxc-paxml-gpt3-175b-fp8-2048v128-scaling': +0.0546,
    'flagperf-vit-b16-a100-40gb-amp-1gpu-throughput': -0.0467,
    'flagperf-vit-b16-a100-40gb-amp-8gpu-throughput': +0.5509,
    'flagperf-vit-b16-a100-40gb-amp-16gpu-throughput': +0.5921,
    'flagperf-vit-b16-a100-40gb-amp-8v1gpu-scaling': +0.6269,
    'flagperf-vit-b16-a100-40gb-amp-16v1gpu-scaling': +0.6701,
}

#: the commands the probe registered (its probe27_registered.md, less the environment and ``--json``); a ratio
#: case's two, fewer GPUs first
PROBE_COMMANDS = {
    'abci-v-4xv100-allreduce-32MiB-busbw': (
        'simtrain collective --op all-reduce --topology abci --gpus 4 --size 32MiB --set '
        'network.protocol=nccl',),
    'abci-v-8xv100-2node-allreduce-32MiB-busbw': (
        'simtrain collective --op all-reduce --topology abci --gpus 8 --size 32MiB --set '
        'network.protocol=nccl',),
    'abci-v-128xv100-32node-allreduce-32MiB-busbw': (
        'simtrain collective --op all-reduce --topology abci --gpus 128 --size 32MiB --set '
        'network.protocol=nccl',),
    'abci-v-8xv100-2node-allreduce-8B-time': (
        'simtrain collective --op all-reduce --topology abci --gpus 8 --size 8B --set '
        'network.protocol=nccl',),
    'abci-a-8xa100-allreduce-32MiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 8 --size 32MiB --set '
        'topology.device=a100-40gb --set topology.nic.count=4 --set network.protocol=nccl',),
    'abci-a-16xa100-2node-allreduce-32MiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 32MiB --set '
        'topology.device=a100-40gb --set topology.nic.count=4 --set network.protocol=nccl',),
    'abci-a-128xa100-16node-allreduce-32MiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 128 --size 32MiB --set '
        'topology.device=a100-40gb --set topology.nic.count=4 --set network.protocol=nccl',),
    'abci-a-16xa100-2node-allreduce-8B-time': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 8B --set '
        'topology.device=a100-40gb --set topology.nic.count=4 --set network.protocol=nccl',),
    'dgxc-paxml-gpt3-175b-fp8-128xh100-step': (
        'simtrain simulate --model '
        'gpt:layers=96,hidden=12288,heads=96,seq=2048,vocab=51200,attention=flash --topology dgx-h100 '
        '--gpus 128 --parallel dp=128 --micro-batch 2 --global-batch 256 --dtype fp8 --optimizer adam '
        '--clip-grad --zero 3 --zero-shard-size 128 --dp-bucket-size 512MiB --dp-bucket-rule at-most '
        '--recompute full --set network.protocol=nccl',),
    'dgxc-paxml-gpt3-175b-fp8-512xh100-step': (
        'simtrain simulate --model '
        'gpt:layers=96,hidden=12288,heads=96,seq=2048,vocab=51200,attention=flash --topology dgx-h100 '
        '--gpus 512 --parallel dp=512 --micro-batch 2 --global-batch 1024 --dtype fp8 --optimizer adam '
        '--clip-grad --zero 3 --zero-shard-size 128 --dp-bucket-size 512MiB --dp-bucket-rule at-most '
        '--recompute full --set network.protocol=nccl',),
    'dgxc-paxml-gpt3-175b-fp8-2048xh100-step': (
        'simtrain simulate --model '
        'gpt:layers=96,hidden=12288,heads=96,seq=2048,vocab=51200,attention=flash --topology dgx-h100 '
        '--gpus 2048 --parallel dp=2048 --micro-batch 2 --global-batch 4096 --dtype fp8 --optimizer adam '
        '--clip-grad --zero 3 --zero-shard-size 128 --dp-bucket-size 512MiB --dp-bucket-rule at-most '
        '--recompute full --set network.protocol=nccl',),
    'dgxc-paxml-gpt3-175b-fp8-2048v128-scaling': (
        'simtrain simulate --model '
        'gpt:layers=96,hidden=12288,heads=96,seq=2048,vocab=51200,attention=flash --topology dgx-h100 '
        '--gpus 128 --parallel dp=128 --micro-batch 2 --global-batch 256 --dtype fp8 --optimizer adam '
        '--clip-grad --zero 3 --zero-shard-size 128 --dp-bucket-size 512MiB --dp-bucket-rule at-most '
        '--recompute full --set network.protocol=nccl',
        'simtrain simulate --model '
        'gpt:layers=96,hidden=12288,heads=96,seq=2048,vocab=51200,attention=flash --topology dgx-h100 '
        '--gpus 2048 --parallel dp=2048 --micro-batch 2 --global-batch 4096 --dtype fp8 --optimizer adam '
        '--clip-grad --zero 3 --zero-shard-size 128 --dp-bucket-size 512MiB --dp-bucket-rule at-most '
        '--recompute full --set network.protocol=nccl'),
    'flagperf-vit-b16-a100-40gb-amp-1gpu-throughput': (
        'simtrain simulate --model vit-b16 --topology dgx-a100 --gpus 1 --batch 256 --dtype fp16 '
        '--autocast --optimizer adamw --optimizer-impl for-loop --clip-grad --set '
        'topology.device=a100-40gb --set topology.nic.count=2 --set network.protocol=nccl',),
    'flagperf-vit-b16-a100-40gb-amp-8gpu-throughput': (
        'simtrain simulate --model vit-b16 --topology dgx-a100 --gpus 8 --batch 256 --dtype fp16 '
        '--autocast --optimizer adamw --optimizer-impl for-loop --clip-grad --set '
        'topology.device=a100-40gb --set topology.nic.count=2 --set network.protocol=nccl',),
    'flagperf-vit-b16-a100-40gb-amp-16gpu-throughput': (
        'simtrain simulate --model vit-b16 --topology dgx-a100 --gpus 16 --batch 256 --dtype fp16 '
        '--autocast --optimizer adamw --optimizer-impl for-loop --clip-grad --set '
        'topology.device=a100-40gb --set topology.nic.count=2 --set network.protocol=nccl',),
    'flagperf-vit-b16-a100-40gb-amp-8v1gpu-scaling': (
        'simtrain simulate --model vit-b16 --topology dgx-a100 --gpus 1 --batch 256 --dtype fp16 '
        '--autocast --optimizer adamw --optimizer-impl for-loop --clip-grad --set '
        'topology.device=a100-40gb --set topology.nic.count=2 --set network.protocol=nccl',
        'simtrain simulate --model vit-b16 --topology dgx-a100 --gpus 8 --batch 256 --dtype fp16 '
        '--autocast --optimizer adamw --optimizer-impl for-loop --clip-grad --set '
        'topology.device=a100-40gb --set topology.nic.count=2 --set network.protocol=nccl'),
    'flagperf-vit-b16-a100-40gb-amp-16v1gpu-scaling': (
        'simtrain simulate --model vit-b16 --topology dgx-a100 --gpus 1 --batch 256 --dtype fp16 '
        '--autocast --optimizer adamw --optimizer-impl for-loop --clip-grad --set '
        'topology.device=a100-40gb --set topology.nic.count=2 --set network.protocol=nccl',
        'simtrain simulate --model vit-b16 --topology dgx-a100 --gpus 16 --batch 256 --dtype fp16 '
        '--autocast --optimizer adamw --optimizer-impl for-loop --clip-grad --set '
        'topology.device=a100-40gb --set topology.nic.count=2 --set network.protocol=nccl'),
}
#: the two declared deviations: the commands simulate refused (exit 2) and the probe's smallest change that runs
_PAX_BUCKETS = " --dp-bucket-size 512MiB --dp-bucket-rule at-most"
_ONE_GPU = " --set topology.gpus_per_node=1"


def _as_run(line: str) -> str:
    """A registered command as the probe ran it: the Paxml 128-GPU command without the bucket flags (one FSDP group,
    nothing to combine), the FlagPerf one-GPU command cut to one GPU a node."""
    if "--model gpt:layers=96" in line and " --gpus 128 " in line:
        return line.replace(_PAX_BUCKETS, "")
    if "--model vit-b16" in line and " --gpus 1 " in line:
        return line + _ONE_GPU
    return line


DEVIATED = ["dgxc-paxml-gpt3-175b-fp8-128xh100-step", "dgxc-paxml-gpt3-175b-fp8-2048v128-scaling",
            "flagperf-vit-b16-a100-40gb-amp-1gpu-throughput", "flagperf-vit-b16-a100-40gb-amp-8v1gpu-scaling",
            "flagperf-vit-b16-a100-40gb-amp-16v1gpu-scaling"]
#: the published ratios: the document's figures, larger run's per-GPU rate over the smaller's
RATIO_FIGURES = {"dgxc-paxml-gpt3-175b-fp8-2048v128-scaling": 7.47 / 8.02,
                 "flagperf-vit-b16-a100-40gb-amp-8v1gpu-scaling": 5441 / (8 * 1151),
                 "flagperf-vit-b16-a100-40gb-amp-16v1gpu-scaling": 10535 / (16 * 1151)}


@pytest.fixture(scope="module")
def rows():
    from simtrain.validation import run_cases

    return {row.name: row for row in run_cases(NEW)}


def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 17 and len(PROBE27) == 4 and len(RATIOS) == 3
    check_probe_cases(27, NEW, PROBE27, RATIOS, [], lambda name: CONFIDENCE[name])


def test_ratio_cases_carry_their_effect_and_misses_beyond_the_threshold_are_explained_and_open(rows) -> None:
    check_ratio_cases(rows, RATIOS, THRESHOLD, open_misses=True)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], name in RATIOS)


def test_the_commands_are_the_probes(rows) -> None:
    """The probe's registered commands, the two declared deviations applied where the probe applied them."""
    commands = {name: [f"simtrain {_as_run(line)[len('simtrain '):]}" for line in lines]
                for name, lines in PROBE_COMMANDS.items()}
    check_probe_commands(rows, commands, NEW)
    for name in NEW:
        deviated = [_as_run(line) != line for line in PROBE_COMMANDS[name]]
        assert any(deviated) == (name in DEVIATED), name
        assert ("declared deviation" in CASES.get(name).assumptions) == (name in DEVIATED), name


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    assert sorted(MEASURED) == sorted(NEW)
    for name, error in MEASURED.items():
        assert rows[name].rel_error == pytest.approx(error, abs=1e-4), name
        assert CASES.get(name).role == "test", name


def test_the_published_figures_are_the_sources(rows) -> None:
    for name in NEW:
        figure = rows[name].published
        if name in RATIOS:
            assert figure == pytest.approx(RATIO_FIGURES[name], rel=1e-12), name
            continue
        source = CASES.get(name).source
        assert f"{figure:,.2f}".rstrip("0").rstrip(".") in source or f"{figure:g}" in source, name
