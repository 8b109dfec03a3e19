"""``simtrain layer`` (one layer of the model vocabulary by the compute model) and the layer kernel model against
DeepBench's measured cuDNN convolutions and recurrent layers (issue 14, the compute model)."""

from __future__ import annotations

import json

import pytest
from cli_checks import one_error_line

import simtrain.cli
from simtrain.compute import ComputeModel
from simtrain.validation import CASES, run_cases

BIG = "9" * 5000   # int() refuses more than 4,300 digits


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
    (["--input", f"tokens:{BIG}x3"], ["--input", "at most"]),
    (["--layer", f"conv2d:out=64,kernel=3x{BIG}"], ["--layer kernel"]),
    (["--layer", "conv2d:out=8,kernel=0x3"], ["--layer kernel", "0"]),   # not hexadecimal 3
    (["--dtype", "fp32", "--autocast"], ["--autocast", "fp16 or bf16"]),
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


def test_a_size_pair_is_read_only_for_the_size_keys(capsys):
    """``name=2x2`` is a name; ``kernel=3x5`` a kernel of 3 rows and 5 columns."""
    assert simtrain.cli.main(["layer", "--device", "v100", "--dtype", "fp16", "--input", "tokens:10x16", "--layer",
                              "lstm:hidden=16,name=2x2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layer"]["name"] == "2x2"
    assert simtrain.cli.main(["layer", "--device", "v100", "--dtype", "fp16", "--input", "image:8x16x16", "--layer",
                              "conv2d:out=8,kernel=3x5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["layer"]["kernel"] == [3, 5] and doc["memory_format"] == "nhwc"
    assert simtrain.cli.main(["layer", "--device", "v100", "--dtype", "fp16", "--input", "tokens:10x16", "--layer",
                              "lstm:hidden=16", "--json"]) == 0
    assert "memory_format" not in json.loads(capsys.readouterr().out)   # no layout outside convolutions


def test_autocast_adds_the_weight_casts_to_both_passes(capsys):
    """The run parameter's casts for one layer: its fp32 weights cast to the half type forward (6 bytes a weight)
    and their gradients back."""
    from simtrain.compute import ComputeModel
    from simtrain.model import single_layer

    argv = ["layer", "--device", "a100", "--dtype", "bf16", "--input", "vector:4096", "--layer", "linear:out=4096",
            "--batch", "8", "--json"]
    times = []
    for extra in ([], ["--autocast"]):
        assert simtrain.cli.main([*argv, *extra]) == 0
        doc = json.loads(capsys.readouterr().out)
        times.append((doc["forward_s"], doc["backward_s"]))
    assert doc["autocast"] is True
    cm = ComputeModel.roofline("a100", autocast=True)
    cast = cm.cast_time(single_layer({"vector": 4096}, {"kind": "linear", "out": 4096}), "bf16")
    assert times[1][0] - times[0][0] == pytest.approx(cast, rel=1e-9)
    assert times[1][1] - times[0][1] == pytest.approx(cast, rel=1e-9)
