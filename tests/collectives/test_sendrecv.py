"""``sendrecv``: nccl-tests' sendrecv_perf, every rank sending its whole buffer to the next and receiving the
previous rank's (the pattern of a pipeline's stage-to-stage sends)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simtrain.cli import main
from simtrain.collectives import build_schedule, collective_time
from simtrain.nccl_tests import read_log
from simtrain.topology import load_topology, switch
from tests.cli_checks import refused


def test_every_rank_sends_its_whole_buffer_to_the_next() -> None:
    cluster = switch(4, "100 GB/s", "1 us")
    (pattern,) = build_schedule("sendrecv", 2**20, cluster, "direct").patterns
    assert pattern.src.tolist() == [0, 1, 2, 3] and pattern.dst.tolist() == [1, 2, 3, 0]
    assert np.all(pattern.nbytes == 2**20)
    # one flow in and one out of every GPU: on a switch, the buffer at the link rate plus the path latency
    r = collective_time("sendrecv", 2**20, cluster, "direct")
    assert r.time_s == pytest.approx(2**20 / 100e9 + 2e-6, rel=0.05)
    assert r.busbw_Bps == r.algbw_Bps   # nccl-tests' factor for sendrecv is 1


def test_auto_runs_it_point_to_point_and_both_engines_agree() -> None:
    cluster = load_topology("dgx-a100", gpus=16)
    auto = collective_time("sendrecv", 64 * 2**20, cluster, "auto")
    des = collective_time("sendrecv", 64 * 2**20, cluster, "auto", engine="des")
    assert auto.time_s == pytest.approx(des.time_s, rel=1e-6)
    # two of the sixteen sends cross between the nodes, on one NIC each: they set the time
    inside = collective_time("sendrecv", 64 * 2**20, load_topology("dgx-a100", gpus=8), "auto")
    assert auto.time_s > 5 * inside.time_s


def test_more_ranks_than_direct_takes_for_all_to_all_still_run() -> None:
    cluster = switch(2048, "25 GB/s", "1 us")
    assert collective_time("sendrecv", 2**20, cluster, "auto").time_s > 0


def test_the_cli_sweeps_it_and_reads_its_logs(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["collective", "--op", "sendrecv", "--topology", "dgx-a100", "--gpus", "8", "--size", "1GiB",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["op"] == "sendrecv" and result["busbw_Bps"] == pytest.approx(result["algbw_Bps"])
    log = tmp_path / "sendrecv.log"
    log.write_text("# Collective test starting: sendrecv_perf\n"
                   "#       size         count      type   redop    root     time   algbw   busbw #wrong     time"
                   "   algbw   busbw #wrong\n"
                   "  1073741824     268435456     float     sum      -1   5503.4  195.10  195.10      0   5498.1"
                   "  195.29  195.29      0\n")
    op, rows = read_log(log)
    assert op == "sendrecv" and rows[0].busbw_GBps == 195.10
    refused(capsys, ["collective", "--op", "sendrecv", "--topology", "dgx-a100", "--gpus", "8", "--size", "1GiB",
                     "--algorithm", "auto:proto=LL"], "--algorithm", "sendrecv", "direct")
    refused(capsys, ["collective", "--op", "sendrecv", "--topology", "dgx-a100", "--gpus", "8", "--size", "1GiB",
                     "--algorithm", "ring"], "--op", "sendrecv")
