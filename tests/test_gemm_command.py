"""``simtrain gemm`` and the GEMM kernel model against measured GEMM tables, OpenXLA's and DeepBench's (issue 14, the
compute model)."""

from __future__ import annotations

import json

import pytest
from cli_checks import one_error_line

import simtrain.cli
from simtrain.compute import ComputeModel
from simtrain.validation import CASES, run_cases
from simtrain.validation.gemm_tables import DEEPBENCH_STRIDE, TABLES, compare, load_table, summary


def test_the_command_prints_the_model_s_time(capsys):
    assert simtrain.cli.main(["gemm", "--device", "h100", "--dtype", "bf16", "--shape", "1024x2048x512",
                              "--count", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    seconds = ComputeModel.roofline("h100").gemm_time(1024, 2048, 512, "bf16", count=2)
    assert doc["time_s"] == pytest.approx(seconds, rel=1e-12)
    assert doc["flops_per_s"] == pytest.approx(2 * 2 * 1024 * 2048 * 512 / seconds)
    assert 0 < doc["peak_fraction"] < 1
    assert simtrain.cli.main(["gemm", "--device", "a100", "--dtype", "fp16", "--shape", "512x512x512"]) == 0
    assert "TFLOP/s" in capsys.readouterr().out


@pytest.mark.parametrize("argv, fragments", [
    (["--shape", "4096x4096"], ["--shape", "MxNxK", "4096x4096"]),
    (["--shape", "0x4x4"], ["--shape", "positive"]),
    (["--shape", "axbxc"], ["--shape", "axbxc"]),
    (["--shape", "1_024x4x4"], ["--shape", "1_024x4x4"]),
    (["--shape", "+4x4x4"], ["--shape", "+4x4x4"]),
    (["--shape", " 4x4x4"], ["--shape", "MxNxK"]),
    (["--shape", f"{1 << 25}x4x4"], ["--shape", "at most"]),
    (["--shape", "1x1x" + "9" * 5000], ["--shape", "at most"]),   # int() refuses more than 4,300 digits
    (["--shape", "4x4x4", "--count", "0"], ["--count"]),
    (["--shape", "4x4x4", "--count", str(1 << 30)], ["--count", "at most"]),
    (["--shape", "4x4x4", "--device", "h1000"], ["--device", "h1000", "h100"]),
    (["--shape", "4x4x4", "--dtype", "fp4"], ["--dtype", "fp4", "bf16"]),
    # argparse takes '-1x1x1' for a flag: the line says how to pass such a value
    (["--shape", "-1x1x1"], ["--shape", "--shape=VALUE"]),
    (["--shape=-1x1x1"], ["--shape", "-1x1x1", "positive"]),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, fragments):
    base = {"--device": "h100", "--dtype": "bf16"}
    words = [*argv]
    for flag, value in base.items():
        if flag not in words:
            words += [flag, value]
    code = simtrain.cli.main(["gemm", *words])
    out = capsys.readouterr()
    one_error_line(code, out.out, out.err, fragments)


def test_a_gemm_kernel_pays_its_launch_overhead_on_top_of_its_work():
    """The fixed cost is added, not a floor: a tiny GEMM takes more than the overhead, and the difference between
    a model with and without it is the overhead at every size."""
    cm = ComputeModel.roofline("h100")
    bare = ComputeModel.roofline("h100", kernel_overhead_s=0.0)
    for size in (64, 512, 4096):
        assert cm.gemm_time(size, size, size, "bf16") - bare.gemm_time(size, size, size, "bf16") == pytest.approx(
            cm.kernel_overhead_s, rel=1e-9)
    assert cm.gemm_time(16, 16, 16, "bf16") > cm.kernel_overhead_s


def test_the_table_is_the_shipped_data_and_every_row_is_compared():
    rows = load_table()
    assert len(rows) == 2 * 3 * 375
    assert {(d, t) for d, t, *_ in rows} == {(d, t) for d in ("h100", "b200") for t in ("bf16", "tf32", "fp8")}
    assert all(flops > 0 for *_, flops in rows)
    compared = compare("b200", "fp8")
    assert len(compared) == 375 and all(r.simulated > 0 for r in compared)
    assert {key[1:] for key in summary() if key[0] == "xla"} == {(d, t) for d in ("h100", "b200")
                                                                 for t in ("bf16", "tf32", "fp8")}


def test_the_cube_cases_are_the_commands_they_print(capsys):
    import shlex

    names = [n for n in CASES.names() if n.startswith("xla-gemm-")]
    assert len(names) == 25   # five cubes of five device-dtype pairs (not the H100's FP8)
    fit = {n for n in names if CASES.get(n).role == "fit"}
    assert fit == {f"xla-gemm-h100-bf16-{s}" for s in (256, 512, 1024, 2048, 4096)}
    for row in run_cases(names[:3] + names[-2:]):
        capsys.readouterr()
        assert simtrain.cli.main([*shlex.split(row.command)[1:], "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["flops_per_s"] / 1e12 == pytest.approx(row.simulated, rel=1e-12), row.name


def test_deepbench_is_every_published_gemm_of_both_gpus_in_the_sheets_order():
    rows = load_table("deepbench")
    assert len(rows) == 2 * 2 * 160
    groups = {(d, t) for d, t, *_ in rows}
    assert groups == {(d, t) for d in ("v100", "t4") for t in ("fp16", "fp32")}
    # the same 160 products, in the same order, in each device's and dtype's sheet
    shapes = {(d, t): [r[3:7] for r in rows if r[:2] == (d, t)] for d, t in groups}
    assert len({tuple(v) for v in shapes.values()}) == 1
    assert shapes["v100", "fp16"][0] == (1760, 16, 1760, "nn")
    # a row's throughput is the one DeepBench printed beside its time (5124 x 9124 x 2560 on the V100: 2.478 ms)
    big = next(r for r in rows if r[:2] == ("v100", "fp16") and r[3:6] == (5124, 9124, 2560))
    assert big[-1] == pytest.approx(2 * 5124 * 9124 * 2560 / 2.478e-3)


def test_deepbench_cases_are_every_sixteenth_row_and_the_t4_rows_set_its_ceilings(capsys):
    import shlex

    from simtrain.hardware import get_device

    names = [n for n in CASES.names() if n.startswith("deepbench-gemm-")]
    assert len(names) == 4 * 160 // DEEPBENCH_STRIDE
    assert {CASES.get(n).role for n in names if "-t4-" in n} == {"fit"}
    assert {CASES.get(n).role for n in names if "-v100-" in n} == {"test"}
    # the T4's ceilings are its best rows' fractions of peak, rounded down to two places
    t4 = get_device("t4")
    for dtype in ("fp16", "fp32"):
        best = max(r[-1] for r in load_table("deepbench") if r[:2] == ("t4", dtype))
        assert t4.gemm_ceiling(dtype) == int(100 * best / t4.peak_flops(dtype)) / 100
    assert ("t4", "fp16") in TABLES["deepbench"].fit
    for row in run_cases([n for n in names if "-v100-fp16-" in n][:3]):
        capsys.readouterr()
        assert simtrain.cli.main([*shlex.split(row.command)[1:], "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["flops_per_s"] / 1e12 == pytest.approx(row.simulated, rel=1e-12), row.name
