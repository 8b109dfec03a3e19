"""nccl-tests in and out: size forms (sweep mode only), the sweep, its table, reading logs, comparing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simtrain.cli import main
from simtrain.errors import ConfigError
from simtrain.nccl_tests import parse_size, read_log, sweep_sizes

SAMPLE = Path(__file__).parent / "data" / "all_reduce_perf_sample.log"
RING = ["--op", "all-reduce", "--topology", "dgx-h100", "--gpus", "16", "--algorithm", "ring"]


def cli(capsys, *argv):
    capsys.readouterr()
    code = main(["collective", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("text,expected", [("8", 8), ("8K", 8192), ("8k", 8192), ("128M", 128 * 2**20),
                                           ("8G", 8 * 2**30), ("8589934592", 8 * 2**30), ("1 GiB", 2**30),
                                           ("25 MB", 25_000_000)])
def test_size_forms(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["8T", "-8", "0", "8 parsecs", "1e400 B", "9" * 30])
def test_bad_sizes(text):
    with pytest.raises(ConfigError):
        parse_size(text)


def test_sweep_is_geometric_and_bounded():
    assert sweep_sizes(8, 8 * 2**30) == [8 * 2**k for k in range(31)]
    assert sweep_sizes(3, 3) == [3]
    with pytest.raises(ConfigError, match="at most"):
        sweep_sizes(1, 2**50, 1.0001)
    with pytest.raises(ConfigError, match="above 1"):
        sweep_sizes(1, 8, 1.0)


def test_a_plain_number_is_still_an_error_outside_a_sweep(capsys):
    code, _out, err = cli(capsys, *RING, "--size", "25")
    assert code == 2 and "no unit" in err


def test_sweep_table_has_nccl_tests_columns_and_matches_single_calls(capsys):
    code, out, err = cli(capsys, *RING, "-b", "1M", "-e", "1G", "-f", "4")
    assert code == 0 and err == ""
    rows = [line.split() for line in out.splitlines() if not line.startswith("#")]
    assert [int(r[0]) for r in rows] == [2**20 * 4**k for k in range(6)]
    assert all(r[2:5] == ["float", "sum", "-1"] and r[8] == "N/A" for r in rows)
    assert [int(r[1]) for r in rows] == [int(r[0]) // 4 for r in rows]
    code, out, _ = cli(capsys, *RING, "--size", "64MiB", "--json")
    single = json.loads(out)
    row = next(r for r in rows if int(r[0]) == 64 * 2**20)
    assert float(row[5]) == pytest.approx(single["time_s"] * 1e6, rel=1e-3)
    assert float(row[7]) == pytest.approx(single["busbw_Bps"] / 1e9, abs=0.006)


def test_reading_the_sample_log():
    op, rows = read_log(SAMPLE)
    assert op == "all-reduce" and len(rows) == 6
    assert rows[0].size_bytes == 2**20 and rows[0].inplace_busbw_GBps == rows[0].busbw_GBps


def test_old_layout_and_mpi_prefixes(tmp_path):
    log = tmp_path / "old.log"
    log.write_text("#       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw"
                   "  error\n"
                   "     1048576        262144   float     sum    40.10   26.15   45.76  2e-07    39.80   26.35   46.11"
                   "  2e-07\n"
                   "[0]     2097152        524288     float     sum      -1[0]    80.2   26.15   45.76      0[0]"
                   "    79.6   26.35   46.11      0\n")
    op, rows = read_log(log)
    assert op is None and [r.size_bytes for r in rows] == [2**20, 2**21]
    assert rows[1].time_us == 80.2 and rows[1].inplace_time_us == 79.6


def test_compare_with_its_own_output_is_exact_and_with_slower_measurements_says_so(capsys, tmp_path):
    code, out, err = cli(capsys, *RING, "--compare", str(SAMPLE), "--json")
    assert code == 0 and err == ""
    rows = json.loads(out)["rows"]
    assert len(rows) == 6 and all(abs(r["busbw_error"]) < 0.002 for r in rows)
    slower = tmp_path / "slower.log"
    lines = []
    for line in SAMPLE.read_text().splitlines():   # a machine 25 % slower: busbw 0.8x
        if line.startswith("#"):
            lines.append(line)
            continue
        t = line.split()
        lines.append(" ".join(t[:5] + [str(float(t[5]) * 1.25), str(float(t[6]) * 0.8), str(float(t[7]) * 0.8)]
                              + ["0"] * 1))
    slower.write_text("\n".join(lines) + "\n")
    code, out, err = cli(capsys, *RING, "--compare", str(slower))
    assert code == 0
    assert "median |busbw error| 25.0%" in out
    body = [line for line in out.splitlines() if not line.startswith("#")]
    assert len(body) == 6 and all("+25.0%" in line for line in body)


@pytest.mark.parametrize("argv,needle", [
    (["-b", "8"], "-e"),
    (["-b", "8", "-e", "4"], "at least"),
    (["-b", "8x", "-e", "8G"], "-b"),
    (["--size", "1GiB", "-b", "8", "-e", "16"], "not both"),
    (["--datatype", "float7", "-b", "8", "-e", "16"], "--datatype"),
])
def test_bad_sweeps(capsys, argv, needle):
    code, out, err = cli(capsys, *RING, *argv)
    assert code == 2 and out == "" and needle in err and err.count("\n") == 1


@pytest.mark.parametrize("content,needle", [
    ("# nothing but comments\n", "no result row"),
    ("1048576 262144 float sum -1 abc 1 2 0 1 2 3 0\n", "line 1"),
    ("hello world this is not a log\n", "no result row"),
    ("RCCL version : 2.22.3\n1048576 262144 float sum\n", "line 2"),
    # the size is the log's, not a --size the user gave: the error names the line, not --size
    ("0 0 float sum -1 1 1 1 0 1 1 1 0\n", "line 1"),
    ("9" * 30 + " 1 float sum -1 1 1 1 0 1 1 1 0\n", "line 1"),
    ("1024 256 float sum -1 1 1 1 0 1 1 1 0\n1024 256 float sum -1 2 1 1 0 2 1 1 0\n", "twice"),
    ("2 0 float sum -1 1.0 1e308 1e308 0\n", "line 1"),                  # no measurement is that fast
    ("".join(f"{8 * (k + 1)} {2 * (k + 1)} float sum -1 1 1 1 0\n" for k in range(1001)), "at most 1000"),
])
def test_bad_logs(capsys, tmp_path, content, needle):
    log = tmp_path / "bad.log"
    log.write_text(content)
    code, _out, err = cli(capsys, *RING, "--compare", str(log))
    assert code == 2 and needle in err and str(log) in err and err.count("\n") == 1


def test_log_of_another_operation_is_refused(capsys, tmp_path):
    log = tmp_path / "ag.log"
    log.write_text("# Collective test starting: all_gather_perf\n"
                   "     1048576        262144     float    none      -1    40.10   26.15   45.76      0    39.80"
                   "   26.35   46.11      0\n")
    code, _out, err = cli(capsys, *RING, "--compare", str(log))
    assert code == 2 and "all-gather" in err


def test_a_directory_is_not_a_log(capsys, tmp_path):
    code, _out, err = cli(capsys, *RING, "--compare", str(tmp_path))
    assert code == 2 and "regular file" in err


def test_one_rank_moves_nothing_and_prints_strict_json(capsys):
    """A collective on one GPU takes no time: busbw is 0 (nccl-tests' factor is 0), the sweep's mean too, and
    ``--json`` stays strict JSON (a bandwidth that is not a finite number is null)."""
    code = main(["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "1", "-b", "8", "-e", "64"])
    assert code == 0
    out = capsys.readouterr().out
    assert "# Avg bus bandwidth    : 0" in out and "nan" not in out
    assert main(["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "1", "--size", "64B",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    assert data["busbw_Bps"] == 0.0 and data["algbw_Bps"] is None and data["time_s"] == 0.0


def test_rccl_tests_and_nccl_debug_lines_around_the_table_are_passed_over(capsys, tmp_path):
    """A log as rccl-tests prints it (its version banner without '#') or with NCCL_DEBUG=INFO lines reads as its
    rows alone."""
    row = ("     1048576        262144     float     sum      -1    40.10   26.15   45.76      0    39.80   26.35"
           "   46.11      0\n")
    log = tmp_path / "rccl.log"
    log.write_text("# Collective test starting: all_reduce_perf\n"
                   "rccl-tests: Version develop:448c4c7\n"
                   "RCCL version : 2.22.3-HEAD:7d8d67c\n"
                   "Hostname     : gpu-53\n"
                   "gpu-53:3844613:3844613 [0] NCCL INFO Bootstrap : Using ens1np0:10.0.0.1<0>\n"
                   "#       size         count      type   redop    root     time   algbw   busbw #wrong\n" + row)
    from simtrain.nccl_tests import read_log

    op, rows = read_log(log)
    assert op == "all-reduce" and [r.size_bytes for r in rows] == [1048576]
    code, out, _err = cli(capsys, *RING, "--compare", str(log))
    assert code == 0 and "1048576" in out


def test_a_sweep_that_shares_no_size_with_the_log_is_refused(capsys, tmp_path):
    log = tmp_path / "one.log"
    log.write_text("  1048576  262144  float  sum  -1  40.10  26.15  45.76  0  39.80  26.35  46.11  0\n")
    for extra in ([], ["--json"]):
        code, out, err = cli(capsys, *RING, "--compare", str(log), "-b", "8", "-e", "64", *extra)
        assert code == 2 and out == "" and "-b/-e" in err and "no size of the sweep" in err


def test_a_des_sweep_is_bounded_as_a_whole(capsys):
    code, _out, err = cli(capsys, "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "64", "--algorithm",
                          "ring", "--engine", "des", "-b", "1M", "-e", "1G", "--max-events", "20000")
    assert code == 2 and "--max-events" in err and "sizes together" in err and err.count("\n") == 1
