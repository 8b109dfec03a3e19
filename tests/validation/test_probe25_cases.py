"""The cases of held-out probe 25: 14 published collective measurements from 6 documents no case had read before
(nccl-tests and rccl-tests rows quoted in NVIDIA/nccl issues #1469, #1531 and #2169, NVIDIA/nccl-tests issue #78,
ROCm/rccl issue #1490 and pull request #930).

A helper session wrote every command, dated and froze that registration before it ran any (on a frozen checkout at
8c83481), then ran them unchanged: each case is a registered row, the printed command gives its figure through the
CLI and is the probe's command (the same flags and values; ``--json`` aside) but for the one declared deviation, the
published figure is the thread's, and each case's error is the one it has now (``MEASURED``). The probe tagged 5 rows
medium and 9 low, none high, each with its reason.

The probe's medians at 8c83481: 66.0 % over its 14 rows, small-message times 27.2 % (7, all slower than simtrain's),
bus bandwidths 191.8 % (7, all below simtrain's); every case's error now is the probe's to the fourth digit. Its own
caveat: the threads that quote whole result rows are mostly reports of underperforming systems.
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
PROBE25 = {
    'nccl-1469': [
        'nccl1469-h100-128gpu-allreduce-8B-time',
        'nccl1469-h100-128gpu-allreduce-256B-time',
        'nccl1469-h100-128gpu-allreduce-1024B-time',
        'nccl1469-h100-128gpu-allreduce-4096B-time',
    ],
    'rccl-1490': [
        'rccl1490-mi250x-32gcd-allgather-65536B-busbw',
        'rccl1490-mi250x-32gcd-allgather-262144B-busbw',
        'rccl1490-mi250x-32gcd-allgather-1048576B-busbw',
    ],
    'rccl-930': [
        'rccl930-mi250x-16gcd-allgather-64B-time',
        'rccl930-mi250x-16gcd-allgather-1024B-time',
        'rccl930-mi250x-16gcd-allgather-8192B-time',
    ],
    'nccl-1531': [
        'nccl1531-h800-64gpu-alltoall-8MiB-busbw',
    ],
    'nccl-2169': [
        'nccl2169-h100-4gpu-alltoall-500MB-busbw',
    ],
    'nccl-tests-78': [
        'ncclt78-v100-64gpu-allreduce-256MiB-busbw',
        'ncclt78-v100-64gpu-alltoall-256MiB-busbw',
    ],
}
NEW = [name for cases in PROBE25.values() for name in cases]
LOW = [
    'rccl1490-mi250x-32gcd-allgather-65536B-busbw',
    'rccl1490-mi250x-32gcd-allgather-262144B-busbw',
    'rccl1490-mi250x-32gcd-allgather-1048576B-busbw',
    'rccl930-mi250x-16gcd-allgather-64B-time',
    'rccl930-mi250x-16gcd-allgather-1024B-time',
    'rccl930-mi250x-16gcd-allgather-8192B-time',
    'nccl1531-h800-64gpu-alltoall-8MiB-busbw',
    'ncclt78-v100-64gpu-allreduce-256MiB-busbw',
    'ncclt78-v100-64gpu-alltoall-256MiB-busbw',
]

#: each case's relative error now (rounded to 0.01 %), the probe's at 8c83481
MEASURED = {
    'nccl1469-h100-128gpu-allreduce-8B-time': -0.2334,
    'nccl1469-h100-128gpu-allreduce-256B-time': -0.2453,
    'nccl1469-h100-128gpu-allreduce-1024B-time': -0.2498,
    'nccl1469-h100-128gpu-allreduce-4096B-time': -0.2721,
    'rccl1490-mi250x-32gcd-allgather-65536B-busbw': 1.8947,
    'rccl1490-mi250x-32gcd-allgather-262144B-busbw': 3.6828,
    'rccl1490-mi250x-32gcd-allgather-1048576B-busbw': 17.7801,
    'rccl930-mi250x-16gcd-allgather-64B-time': -0.4044,
    'rccl930-mi250x-16gcd-allgather-1024B-time': -0.4057,
    'rccl930-mi250x-16gcd-allgather-8192B-time': -0.4133,
    'nccl1531-h800-64gpu-alltoall-8MiB-busbw': 0.9064,
    'nccl2169-h100-4gpu-alltoall-500MB-busbw': 1.9175,
    'ncclt78-v100-64gpu-allreduce-256MiB-busbw': 1.7055,
    'ncclt78-v100-64gpu-alltoall-256MiB-busbw': 2.2739,
}

#: the commands the probe registered (its probe25_registered.md, less the environment and ``--json``)
PROBE_COMMANDS = {
    'nccl1469-h100-128gpu-allreduce-8B-time': (
        'collective --op all-reduce --size 8B --topology dgx-h100 --gpus 128 --set network.protocol=nccl'),
    'nccl1469-h100-128gpu-allreduce-256B-time': (
        'collective --op all-reduce --size 256B --topology dgx-h100 --gpus 128 --set network.protocol=nccl'),
    'nccl1469-h100-128gpu-allreduce-1024B-time': (
        'collective --op all-reduce --size 1024B --topology dgx-h100 --gpus 128 --set network.protocol=nccl'),
    'nccl1469-h100-128gpu-allreduce-4096B-time': (
        'collective --op all-reduce --size 4096B --topology dgx-h100 --gpus 128 --set network.protocol=nccl'),
    'rccl1490-mi250x-32gcd-allgather-65536B-busbw': (
        'collective --op all-gather --size 65536B --topology mi300x --gpus 32 --set '
        'topology.device=mi250x-gcd --set topology.gpus_per_node=8 --set '
        'topology.intra_node.bandwidth=50GB/s --set topology.nic.count=4 --set '
        'topology.nic.bandwidth=200Gbit/s --set network.protocol=nccl'),
    'rccl1490-mi250x-32gcd-allgather-262144B-busbw': (
        'collective --op all-gather --size 262144B --topology mi300x --gpus 32 --set '
        'topology.device=mi250x-gcd --set topology.gpus_per_node=8 --set '
        'topology.intra_node.bandwidth=50GB/s --set topology.nic.count=4 --set '
        'topology.nic.bandwidth=200Gbit/s --set network.protocol=nccl'),
    'rccl1490-mi250x-32gcd-allgather-1048576B-busbw': (
        'collective --op all-gather --size 1048576B --topology mi300x --gpus 32 --set '
        'topology.device=mi250x-gcd --set topology.gpus_per_node=8 --set '
        'topology.intra_node.bandwidth=50GB/s --set topology.nic.count=4 --set '
        'topology.nic.bandwidth=200Gbit/s --set network.protocol=nccl'),
    'rccl930-mi250x-16gcd-allgather-64B-time': (
        'collective --op all-gather --size 64B --topology mi300x --gpus 16 --set topology.device=mi250x-gcd '
        '--set topology.gpus_per_node=8 --set topology.intra_node.bandwidth=50GB/s --set '
        'topology.nic.count=4 --set topology.nic.bandwidth=200Gbit/s --set network.protocol=nccl'),
    'rccl930-mi250x-16gcd-allgather-1024B-time': (
        'collective --op all-gather --size 1024B --topology mi300x --gpus 16 --set '
        'topology.device=mi250x-gcd --set topology.gpus_per_node=8 --set '
        'topology.intra_node.bandwidth=50GB/s --set topology.nic.count=4 --set '
        'topology.nic.bandwidth=200Gbit/s --set network.protocol=nccl'),
    'rccl930-mi250x-16gcd-allgather-8192B-time': (
        'collective --op all-gather --size 8192B --topology mi300x --gpus 16 --set '
        'topology.device=mi250x-gcd --set topology.gpus_per_node=8 --set '
        'topology.intra_node.bandwidth=50GB/s --set topology.nic.count=4 --set '
        'topology.nic.bandwidth=200Gbit/s --set network.protocol=nccl'),
    'nccl1531-h800-64gpu-alltoall-8MiB-busbw': (
        'collective --op all-to-all --size 8MiB --topology dgx-h100 --gpus 64 --set '
        'topology.intra_node.bandwidth=200GB/s --set network.protocol=nccl'),
    'nccl2169-h100-4gpu-alltoall-500MB-busbw': (
        'collective --op all-to-all --size 524288000B --topology dgx-h100 --gpus 4 --set '
        'topology.gpus_per_node=4 --algorithm auto:proto=Simple --set network.protocol=nccl'),
    'ncclt78-v100-64gpu-allreduce-256MiB-busbw': (
        'collective --op all-reduce --size 256MiB --topology dgx-a100 --gpus 64 --set topology.device=v100 '
        '--set topology.intra_node.bandwidth=150GB/s --set topology.nic.count=1 --set '
        'topology.nic.bandwidth=100Gbit/s --set network.protocol=nccl'),
    'ncclt78-v100-64gpu-alltoall-256MiB-busbw': (
        'collective --op all-to-all --size 256MiB --topology dgx-a100 --gpus 64 --set topology.device=v100 '
        '--set topology.intra_node.bandwidth=150GB/s --set topology.nic.count=1 --set '
        'topology.nic.bandwidth=100Gbit/s --set network.protocol=nccl'),
}
#: the declared deviation: the refused algorithm and the probe's correction
DEVIATIONS = {"nccl2169-h100-4gpu-alltoall-500MB-busbw": ("--algorithm auto:proto=Simple", "--algorithm auto")}
#: the published figures
PUBLISHED = {
    'nccl1469-h100-128gpu-allreduce-8B-time': 72.01,
    'nccl1469-h100-128gpu-allreduce-256B-time': 73.17,
    'nccl1469-h100-128gpu-allreduce-1024B-time': 73.73,
    'nccl1469-h100-128gpu-allreduce-4096B-time': 76.61,
    'rccl1490-mi250x-32gcd-allgather-65536B-busbw': 0.59,
    'rccl1490-mi250x-32gcd-allgather-262144B-busbw': 1.2,
    'rccl1490-mi250x-32gcd-allgather-1048576B-busbw': 0.7,
    'rccl930-mi250x-16gcd-allgather-64B-time': 33.75,
    'rccl930-mi250x-16gcd-allgather-1024B-time': 33.89,
    'rccl930-mi250x-16gcd-allgather-8192B-time': 34.81,
    'nccl1531-h800-64gpu-alltoall-8MiB-busbw': 24.44,
    'nccl2169-h100-4gpu-alltoall-500MB-busbw': 121.17,
    'ncclt78-v100-64gpu-allreduce-256MiB-busbw': 4.33,
    'ncclt78-v100-64gpu-alltoall-256MiB-busbw': 0.51,
}


@pytest.fixture(scope="module")
def rows():
    from simtrain.validation import run_cases

    return {row.name: row for row in run_cases(NEW)}


def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == 14 and len(PROBE25) == 6 and len(LOW) == 9
    check_probe_cases(25, NEW, PROBE25, [], [], lambda name: "low" if name in LOW else "medium")


def test_misses_beyond_the_threshold_are_explained_and_open(rows) -> None:
    check_ratio_cases(rows, [], THRESHOLD, open_misses=True)


@pytest.mark.parametrize("name", NEW)
def test_each_case_is_the_command_it_prints(rows, capsys, name) -> None:
    check_printed_command(capsys, rows[name], False)


def test_the_commands_are_the_probes(rows) -> None:
    commands = {}
    for name, line in PROBE_COMMANDS.items():
        old, new = DEVIATIONS.get(name, ("", ""))
        commands[name] = [f"simtrain {line.replace(old, new) if old else line}"]
    check_probe_commands(rows, commands, NEW)
    for name in DEVIATIONS:
        assert "declared deviation" in CASES.get(name).assumptions, name


def test_the_published_figures_are_the_sources(rows) -> None:
    for name, figure in PUBLISHED.items():
        assert rows[name].published == figure, name
        assert f"{figure:g}" in CASES.get(name).source, name   # the quoted line gives it


def test_each_case_keeps_the_error_it_was_measured_at(rows) -> None:
    check_measured(rows, MEASURED, NEW)
