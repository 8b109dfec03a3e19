"""The cases of held-out probe 28: 10 published measurements from 3 documents no case had read before (two-node
nccl-tests and rccl-tests all-reduce logs on Oracle Cloud from its oci-hpc-oke repository: A100 40 GB nodes under
NCCL 2.19.3, A100 40 GB nodes under NCCL 2.29.3 with NCCL_ALGO=Ring, MI300X nodes under RCCL).

A helper session wrote every command, dated and froze that registration before it ran any (on a frozen checkout at
04d7e49), then ran them unchanged (no command was refused): each case is a registered row, the printed command gives
its figure through the CLI and is the probe's command (the same flags and values; ``--json`` aside), and each case's
error is the probe's to the fourth digit (``MEASURED``). The cases are not in the committed ratchet (the probe records
nothing), so the errors are pinned here against the probe's own measurement rather than through ``check_measured``.

The probe's medians at 04d7e49: |error| 14.8 % over its 10 rows, all collectives (no training or ratio rows).
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
PROBE28 = {
    'oci-oke-a100-nccl-2402': [
        'oci-a100-16x-2node-allreduce-8B-time',
        'oci-a100-16x-2node-allreduce-1MiB-busbw',
        'oci-a100-16x-2node-allreduce-32MiB-busbw',
        'oci-a100-16x-2node-allreduce-1GiB-busbw',
        'oci-a100-16x-2node-allreduce-8GiB-busbw',
    ],
    'oci-oke-slurmop-a100': [
        'oci-b4-a100-16x-2node-ring-allreduce-1GiB-busbw',
        'oci-b4-a100-16x-2node-ring-allreduce-8GiB-busbw',
    ],
    'oci-oke-slurmop-mi300x': [
        'oci-mi300x-16x-2node-allreduce-1GiB-busbw',
        'oci-mi300x-16x-2node-allreduce-8GiB-busbw',
        'oci-mi300x-16x-2node-allreduce-16GiB-busbw',
    ],
}
NEW = [name for cases in PROBE28.values() for name in cases]
#: the probe's confidence of each row (its registration)
CONFIDENCE = {
    'oci-a100-16x-2node-allreduce-8B-time': 'low',
    'oci-a100-16x-2node-allreduce-1MiB-busbw': 'medium',
    'oci-a100-16x-2node-allreduce-32MiB-busbw': 'medium',
    'oci-a100-16x-2node-allreduce-1GiB-busbw': 'medium',
    'oci-a100-16x-2node-allreduce-8GiB-busbw': 'medium',
    'oci-b4-a100-16x-2node-ring-allreduce-1GiB-busbw': 'medium',
    'oci-b4-a100-16x-2node-ring-allreduce-8GiB-busbw': 'medium',
    'oci-mi300x-16x-2node-allreduce-1GiB-busbw': 'medium',
    'oci-mi300x-16x-2node-allreduce-8GiB-busbw': 'medium',
    'oci-mi300x-16x-2node-allreduce-16GiB-busbw': 'medium',
}

#: each case's relative error (rounded to 0.01 %), the probe's at 04d7e49
MEASURED = {
    'oci-a100-16x-2node-allreduce-8B-time': -0.3090,
    'oci-a100-16x-2node-allreduce-1MiB-busbw': +0.1514,
    'oci-a100-16x-2node-allreduce-32MiB-busbw': +0.0283,
    'oci-a100-16x-2node-allreduce-1GiB-busbw': -0.1451,
    'oci-a100-16x-2node-allreduce-8GiB-busbw': -0.2029,
    'oci-b4-a100-16x-2node-ring-allreduce-1GiB-busbw': -0.8718,
    'oci-b4-a100-16x-2node-ring-allreduce-8GiB-busbw': -0.8748,
    'oci-mi300x-16x-2node-allreduce-1GiB-busbw': +0.0557,
    'oci-mi300x-16x-2node-allreduce-8GiB-busbw': +0.0605,
    'oci-mi300x-16x-2node-allreduce-16GiB-busbw': +0.0585,
}

#: the commands the probe registered (its probe28_registered.md, less the environment and ``--json``)
PROBE_COMMANDS = {
    'oci-a100-16x-2node-allreduce-8B-time': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 8B --set '
        'topology.device=a100-40gb --set network.protocol=nccl',),
    'oci-a100-16x-2node-allreduce-1MiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 1MiB --set '
        'topology.device=a100-40gb --set network.protocol=nccl',),
    'oci-a100-16x-2node-allreduce-32MiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 32MiB --set '
        'topology.device=a100-40gb --set network.protocol=nccl',),
    'oci-a100-16x-2node-allreduce-1GiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 1GiB --set '
        'topology.device=a100-40gb --set network.protocol=nccl',),
    'oci-a100-16x-2node-allreduce-8GiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 8GiB --set '
        'topology.device=a100-40gb --set network.protocol=nccl',),
    'oci-b4-a100-16x-2node-ring-allreduce-1GiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 1GiB --algorithm ring '
        '--set topology.device=a100-40gb --set network.protocol=nccl',),
    'oci-b4-a100-16x-2node-ring-allreduce-8GiB-busbw': (
        'simtrain collective --op all-reduce --topology dgx-a100 --gpus 16 --size 8GiB --algorithm ring '
        '--set topology.device=a100-40gb --set network.protocol=nccl',),
    'oci-mi300x-16x-2node-allreduce-1GiB-busbw': (
        'simtrain collective --op all-reduce --topology mi300x --gpus 16 --size 1GiB --set '
        'network.protocol=nccl',),
    'oci-mi300x-16x-2node-allreduce-8GiB-busbw': (
        'simtrain collective --op all-reduce --topology mi300x --gpus 16 --size 8GiB --set '
        'network.protocol=nccl',),
    'oci-mi300x-16x-2node-allreduce-16GiB-busbw': (
        'simtrain collective --op all-reduce --topology mi300x --gpus 16 --size 16GiB --set '
        'network.protocol=nccl',),
}



@pytest.fixture(scope="module")
def rows():
    from simtrain.validation import run_cases

    return {row.name: row for row in run_cases(NEW)}


def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 10 and len(PROBE28) == 3
    check_probe_cases(28, NEW, PROBE28, [], [], lambda name: CONFIDENCE[name])


def test_misses_beyond_the_threshold_are_explained_and_open(rows) -> None:
    check_ratio_cases(rows, [], THRESHOLD, open_misses=True)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], False)


def test_the_commands_are_the_probes(rows) -> None:
    """The probe's registered commands, run as registered (no deviation)."""
    check_probe_commands(rows, {name: list(lines) for name, lines in PROBE_COMMANDS.items()}, NEW)
    for name in NEW:
        assert "declared deviation" not in CASES.get(name).assumptions, name


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    assert sorted(MEASURED) == sorted(NEW)
    for name, error in MEASURED.items():
        assert rows[name].rel_error == pytest.approx(error, abs=1e-4), name
        assert CASES.get(name).role == "test", name


def test_the_published_figures_are_the_sources(rows) -> None:
    for name in NEW:
        figure = rows[name].published
        source = CASES.get(name).source
        assert f"{figure:,.2f}".rstrip("0").rstrip(".") in source or f"{figure:g}" in source, name
