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


def test_deepbench_layers_are_the_published_rows_and_their_cases_every_eighth_chosen_row():
    from simtrain.validation.layer_tables import STRIDE, compare, layer_seconds, load_table
    from simtrain.validation.layer_tables import summary as layer_summary

    convs, rnns = load_table("conv"), load_table("rnn")
    assert len(convs) == 2 * 94 and {r["device"] for r in convs} == {"v100", "t4"}
    assert len(rnns) == 2 * (12 + 22 + 19) and {(r["device"], r["kind"]) for r in rnns} == {
        ("v100", kind) for kind in ("rnn", "lstm", "gru")}
    # a first layer has no input gradient: the sheet's N/A*
    assert convs[0]["bwd_data_ms"] == "" and compare("conv", "v100")[0].measured["backward"] is None
    # the same convolution on the model, as one layer of a model (the face-recognition 3 x 3 conv at batch 8)
    face = next(r for r in compare("conv", "v100") if dict(r.inputs)["image"][:2] == [64, 54]
                and dict(r.layer)["out"] == 64 and r.batch == 8)
    conv = (("kind", "conv2d"), ("out", 64), ("kernel", [3, 3]), ("stride", [1, 1]), ("padding", [1, 1]),
            ("bias", False))
    assert face.simulated("forward") == layer_seconds("v100", "fp16", (("image", [64, 54, 54]),), conv, 8,
                                                      "forward", "nhwc")
    assert face.measured["forward"] == pytest.approx(36e-6)
    unpadded = sum(1 for r in convs if r["device"] == "v100" and not int(r["c"]) % 8 and not int(r["k"]) % 8)
    names = [n for n in CASES.names() if n.startswith("deepbench-conv-")]
    assert len(names) == 2 * 2 * -(-unpadded // STRIDE)   # both devices, forward and backward
    rnn_names = [n for n in CASES.names() if n.startswith("deepbench-rnn-")]
    assert len(rnn_names) == 2 * 2 * -(-53 // STRIDE)      # both dtypes, forward and backward
    assert {CASES.get(n).role for n in names + rnn_names} == {"test"}
    assert {key[:2] for key in layer_summary()} == {("conv", "v100"), ("conv", "t4"), ("rnn", "v100")}


def test_layer_prints_the_model_s_times_and_the_layer_cases_are_the_commands_they_print(capsys):
    import shlex

    from simtrain.model import single_layer

    assert simtrain.cli.main(["layer", "--device", "a100", "--dtype", "bf16", "--input", "image:64x56x56",
                              "--layer", "conv2d:out=128,kernel=3,stride=2,padding=1", "--batch", "32",
                              "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    layer = single_layer({"image": [64, 56, 56]}, {"kind": "conv2d", "out": 128, "kernel": 3, "stride": 2,
                                                   "padding": 1})
    model = ComputeModel.roofline("a100")
    assert doc["forward_s"] == model.layer_time(layer, 32, "forward", "bf16")
    assert doc["backward_s"] == model.layer_time(layer, 32, "backward", "bf16")
    assert doc["memory_format"] == "nhwc" and doc["forward_flops"] == layer.forward_flops * 32
    assert simtrain.cli.main(["layer", "--device", "v100", "--dtype", "fp32", "--input", "tokens:40x512",
                              "--layer", "lstm:hidden=512,bidirectional=true"]) == 0
    assert "backward" in capsys.readouterr().out
    names = [n for n in CASES.names() if n.startswith(("deepbench-conv-", "deepbench-rnn-"))]
    for row in run_cases(names[:2] + names[-2:]):
        capsys.readouterr()
        assert simtrain.cli.main([*shlex.split(row.command)[1:], "--json"]) == 0
        seconds = json.loads(capsys.readouterr().out)["forward_s" if row.name.endswith("-fwd") else "backward_s"]
        assert 1e6 * seconds == pytest.approx(row.simulated, rel=1e-12), row.name


@pytest.mark.parametrize("argv, fragments", [
    (["--input", "image:64x56"], ["--input", "CxHxW", "64x56"]),
    (["--input", "image:0x56x56"], ["--input", "positive"]),
    (["--input", f"image:{1 << 25}x4x4"], ["--input", "at most"]),
    (["--input", "pixels:3x4x4"], ["--input", "KIND:SIZES", "pixels:3x4x4"]),
    (["--layer", "conv2d:out=64,kernel=9"], ["--layer kernel", "larger"]),
    (["--layer", "conv2d:out=64,kernel=3,strid=2"], ["--layer strid", "stride"]),
    (["--layer", "conv2d:out=0,kernel=3"], ["--layer out", "at least 1"]),
    (["--layer", "conv3d:out=4"], ["--layer kind", "conv3d", "conv2d"]),
    (["--layer", "conv2d:out=4,out=5"], ["--layer", "given twice"]),
    (["--layer", ":out=4"], ["--layer", "KIND:key=value"]),
    (["--layer", "lstm:hidden=64"], ["--layer kind", "cannot follow"]),
    (["--input", "tokens:25x64", "--layer", "lstm:hidden=32,input_projection=false"],
     ["--layer input_projection", "as wide as hidden"]),
    (["--batch", str(1 << 30)], ["--batch", "at most"]),
    (["--memory-format", "nhcw"], ["--memory-format", "nhcw", "nhwc"]),
    (["--dtype", "bf16"], ["--dtype", "bf16", "fp16"]),
])
def test_layer_bad_input_is_one_line_and_exit_2(capsys, argv, fragments):
    base = {"--device": "v100", "--dtype": "fp16", "--input": "image:64x5x5", "--layer": "conv2d:out=64,kernel=3"}
    words = [*argv]
    for flag, value in base.items():
        if flag not in words:
            words += [flag, value]
    code = simtrain.cli.main(["layer", *words])
    out = capsys.readouterr()
    one_error_line(code, out.out, out.err, fragments)
