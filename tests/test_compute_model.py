"""The compute model and the device catalog: devices load and state sources, bad device files fail in one line,
dtypes exist where the device has them, and the kernel model keeps its physical limits (roofline, monotonicity,
quantisation, the ramp)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml

from simtrain.catalog import names, resolve
from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.hardware import DEVICES, DeviceSpec, get_device, load_device
from simtrain.model import DTYPE_BYTES, load_model
from simtrain.model.spec import Layer, Tensor
from simtrain.run import DTYPES

REQUIRED_DEVICES = ["v100", "p40", "a100", "h100", "h200", "cpu", "p100", "t4", "a10", "l4", "a100-40gb",
                    "h100-pcie", "h100-96gb", "b200", "mi250x", "mi300x"]


# -- the catalog --------------------------------------------------------------------------------------------------
def test_the_catalog_has_every_required_device():
    assert set(REQUIRED_DEVICES) <= set(names("devices"))
    assert set(REQUIRED_DEVICES) <= set(DEVICES)


@pytest.mark.parametrize("name", names("devices"))
def test_every_catalog_device_loads_with_sources(name):
    dev = get_device(name)
    assert dev.name == name == Path(dev.path).stem
    assert len(dev.source) > 40 and any(w in dev.source for w in ("datasheet", "ARK", "whitepaper"))
    assert dev.peak_flops_per_dtype and all(v > 0 for v in dev.peak_flops_per_dtype.values())
    assert dev.memory_bandwidth_Bps > 0 and dev.memory_bytes > 0 and dev.compute_units >= 1
    assert 0 < dev.memory_efficiency <= 1
    assert all(0 < dev.gemm_ceiling(d) <= 1 for d in dev.peak_flops_per_dtype)
    # tensor-core rates halve with each doubling of width: fp8 >= fp16 >= tf32 >= fp32 (Pascal's fp16 is slower)
    peaks = dev.peak_flops_per_dtype
    order = [d for d in ("fp8", "fp16", "tf32", "fp32") if d in peaks and (d != "fp16" or "tf32" in peaks)]
    assert all(peaks[a] >= peaks[b] for a, b in itertools.pairwise(order))


def test_today_names_keep_their_figures():
    a100 = get_device("a100")
    assert a100.model == "NVIDIA A100 SXM4 80 GB" and a100.memory_bytes == 80 * 2**30
    assert a100.memory_bandwidth_Bps == 2039e9 and a100.peak_flops("fp16") == 312e12
    assert get_device("a100-40gb").memory_bandwidth_Bps == 1555e9
    assert get_device("v100").peak_flops("fp32") == 15.7e12
    assert get_device("h100").peak_flops("bf16") == 989.4e12


def test_a_device_file_loads_by_path_and_from_a_topology(tmp_path):
    data = yaml.safe_load(resolve("devices", "l4").read_text())
    data["name"] = "my-l4"
    (tmp_path / "my-l4.yaml").write_text(yaml.safe_dump(data))
    dev = get_device(str(tmp_path / "my-l4.yaml"))
    assert dev.name == "my-l4" and dev.peak_flops("fp8") == 242.5e12
    (tmp_path / "top.yaml").write_text("name: t\nkind: switch\ndevice: my-l4.yaml\ngpus: 4\nbandwidth: 25 GB/s\n")
    from simtrain.training import simulate

    report = simulate("resnet50", str(tmp_path / "top.yaml"), batch=16, dtype="fp8")
    assert report.step_time_s > 0


@pytest.mark.parametrize(("edit", "fragments"), [
    ({"memory_bandwidth": 900}, ["memory_bandwidth", "no unit"]),
    ({"peak_flops": {"fp16": "125 TB/s"}}, ["peak_flops.fp16"]),
    ({"peak_flops": {"fp12": "1 TFLOP/s"}}, ["peak_flops.fp12", "unknown key"]),
    ({"peak_flops": {}}, ["peak_flops", "at least one dtype"]),
    ({"compute_units": 0}, ["compute_units", "at least 1"]),
    ({"efficiency": {"memory": 1.5}}, ["efficiency.memory"]),
    ({"efficiency": {"gemm": {"fp8": 0.5}}}, ["efficiency.gemm", "fp8"]),
    ({"efficiency": {"tile": [128, 128]}}, ["efficiency.tile"]),
    ({"efficiency": {"simt_tile": [128, 128, 8, 1]}}, ["efficiency.simt_tile"]),
    ({"efficiency": {"pipeline_stage": 3}}, ["efficiency.pipeline_stage", "did you mean 'pipeline_stages'"]),
    ({"sources": None}, ["sources", "missing"]),
    ({"efficiency": {"launch_overhead": "1.7e308 s"}}, ["efficiency.launch_overhead", "at most 1 s"]),
])
def test_a_bad_device_file_is_one_clear_line(tmp_path, capsys, edit, fragments):
    data = yaml.safe_load(resolve("devices", "v100").read_text())
    data.update(edit)
    if edit.get("sources", "") is None:
        del data["sources"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_device(bad)
    assert str(info.value).startswith(str(bad))
    for fragment in fragments:
        assert fragment in str(info.value)
    # through the command line: exit 2, one line, no traceback
    code = main(["simulate", "--model", "resnet50", "--topology", "abci", "--gpus", "4",
                 "--set", f"topology.device={bad}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and str(bad) in err


def test_unknown_device_names_suggest_the_closest():
    with pytest.raises(ConfigError, match=r"did you mean 'a100'"):
        get_device("a1000")


# -- dtypes -------------------------------------------------------------------------------------------------------
def test_dtypes_and_their_widths():
    assert {"tf32", "fp8"} <= set(DTYPES)
    # tf32 and fp8 are GEMM modes: a tf32 run stores fp32, an fp8 run (Transformer Engine's recipe) bf16
    assert DTYPE_BYTES["tf32"] == 4 and DTYPE_BYTES["fp8"] == 2


@pytest.mark.parametrize(("device", "dtype", "available"), [
    ("v100", "tf32", False), ("v100", "bf16", False), ("a100", "tf32", True), ("a100", "fp8", False),
    ("h100", "fp8", True), ("l4", "fp8", True), ("t4", "bf16", False), ("mi300x", "fp8", True),
    ("mi250x", "fp8", False), ("b200", "fp8", True),
])
def test_dtype_availability(device, dtype, available):
    cm = ComputeModel.roofline(device)
    conv = load_model("resnet50").layers[0]
    bn = load_model("resnet50").layers[1]
    if available:
        assert cm.layer_time(conv, 8, "forward", dtype) > 0
    else:
        for layer in (conv, bn):   # every kind of layer refuses a dtype the device lacks
            with pytest.raises(ConfigError, match="not supported"):
                cm.layer_time(layer, 8, "forward", dtype)


def test_fp8_keeps_fp32_master_weights_and_tf32_none():
    cm = ComputeModel.roofline("h100")
    n = 100_000_000
    # bytes per parameter: tf32 4+4+4 + momentum 8 = 20; bf16 2+2+2 + master 8 + 8 = 22; fp8 as bf16 plus the
    # cast of every weight to its two FP8 copies (read 2, write 1 + 1) = 26
    assert cm.update_time(n, "fp8") == pytest.approx(cm.update_time(n, "tf32") * 26 / 20)
    assert cm.update_time(n, "bf16") == pytest.approx(cm.update_time(n, "tf32") * 22 / 20)


def _decoder_layers():
    from simtrain.model.decoder import DecoderConfig, block_layers, head_layers
    c = DecoderConfig.from_mapping({"layers": 1, "hidden": 4096, "heads": 32, "seq": 4096, "vocab": 32000,
                                    "attention": "flash", "experts": 8, "top_k": 2})
    return block_layers(c) + head_layers(c)


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_fp8_runs_only_the_linear_gemms_in_fp8(phase):
    """Transformer Engine's recipe: a linear layer's GEMMs at the fp8 rate plus one cast-and-transpose of its GEMM
    input (x forward, dy backward); attention, norms, activations, the head and the router exactly as bf16."""
    cm = ComputeModel.roofline("h100")
    for layer in _decoder_layers():
        fp8, bf16 = cm.layer_time(layer, 2, phase, "fp8"), cm.layer_time(layer, 2, phase, "bf16")
        if layer.kind == "linear" and not layer.keep_precision:
            cast_elements = layer.input_elements if phase == "forward" else layer.output_elements
            cast = cm.kernel_time(0.0, 2 * cast_elements * 4, "bf16")
            gemm = cm._gemm_layer_time(layer, 2, phase, "fp8")
            assert fp8 == pytest.approx(gemm + cast), layer.name
            assert gemm < 0.75 * cm._gemm_layer_time(layer, 2, phase, "bf16"), layer.name
        else:
            assert fp8 == bf16, layer.name
    kept = {layer.name for layer in _decoder_layers() if layer.keep_precision}
    assert kept == {"layers.0.mlp.router", "lm_head"}


def test_fp8_step_gains_less_than_the_peak_ratio():
    """A whole decoder step at fp8 is faster than at bf16, but by less than the 2x of the peaks: only the linear
    layers' GEMMs speed up, and their casts cost."""
    from simtrain.training import simulate
    model = "gpt:layers=4,hidden=4096,heads=32,seq=4096,vocab=32000,attention=flash"
    kwargs = dict(gpus=8, parallel="dp=8", micro_batch=1, global_batch=8, optimizer="adam")
    bf16 = simulate(model, "dgx-h100", dtype="bf16", **kwargs).step_time_s
    fp8 = simulate(model, "dgx-h100", dtype="fp8", **kwargs).step_time_s
    assert 1.1 < bf16 / fp8 < 1.9


# -- the kernel model ---------------------------------------------------------------------------------------------
def test_gemm_never_beats_the_roofline():
    for name in ("v100", "a100", "h100", "mi300x", "t4"):
        cm = ComputeModel.roofline(name)
        dev = cm.device
        for dtype in dev.peak_flops_per_dtype:
            for m, n, k in [(64, 64, 64), (8192, 8192, 8192), (1, 4096, 4096), (50176, 64, 576), (10, 10, 100000)]:
                t = cm.gemm_time(m, n, k, dtype)
                width = DTYPE_BYTES[dtype]
                assert t >= 2 * m * n * k / dev.peak_flops(dtype) * (1 - 1e-12)
                assert t >= width * (m * k + k * n + m * n) / dev.memory_bandwidth_Bps * (1 - 1e-12)
                assert t >= cm.kernel_overhead_s


def test_a_large_gemm_reaches_the_measured_ceiling_and_small_ones_do_not():
    cm = ComputeModel.roofline("a100")
    n = 16384
    rate = 2 * n**3 / cm.gemm_time(n, n, n, "fp16")
    # Azure measured 256.5 TFLOP/s on a 16K^3 FP16 GEMM: the model's ceiling is that fraction, less the ramp
    assert 0.95 * 256.5e12 < rate <= 0.82 * 312e12
    small = 2 * 256 * 256 * 256 / cm.gemm_time(256, 256, 256, "fp16")
    assert small < 0.2 * rate


def test_gemm_efficiency_rises_with_k_and_time_never_falls_with_size():
    cm = ComputeModel.roofline("h100")
    rates = [2 * 4096 * 4096 * k / cm.gemm_time(4096, 4096, k, "bf16") for k in (32, 64, 128, 256, 1024, 8192)]
    assert all(a < b for a, b in itertools.pairwise(rates))
    for dims in [(m, 1024, 1024) for m in range(1, 5000, 37)] + [(1024, 1024, k) for k in range(1, 5000, 37)]:
        bigger = (dims[0] + 37, dims[1], dims[2]) if dims[2] == 1024 else (dims[0], dims[1], dims[2] + 37)
        assert cm.gemm_time(*bigger, "bf16") >= cm.gemm_time(*dims, "bf16") * (1 - 1e-12)


def test_tensor_cores_and_cuda_cores_use_cutlass_default_tiles():
    a100, v100 = get_device("a100"), get_device("v100")
    assert (a100.tile, a100.pipeline_stages) == ((128, 256, 64), 3)      # CUTLASS SM80 tensor-op default
    assert (v100.tile, v100.pipeline_stages) == ((128, 256, 32), 2)      # CUTLASS SM70 tensor-op default
    assert (a100.simt_tile, a100.simt_pipeline_stages) == ((128, 128, 8), 2)   # CUTLASS SIMT default
    cm = ComputeModel.roofline("a100")
    rows, cols, k = 128 * 108, 128, 64          # one wave of 128-wide tiles, K = 64
    # fp32: 8-deep slices, 8 of them plus a 2-slice ramp
    simt_slice = 2 * 128 * 128 * 8 * 108 / (19.5e12 * 0.8)
    launch = cm.kernel_overhead_s   # every GEMM kernel's fixed cost, on top of its work
    assert cm.gemm_time(rows, cols, k, "fp32") == pytest.approx(10 * simt_slice + launch)
    # fp16: one 64-deep slice plus a 3-slice ramp (the 256-wide tile narrows to the 128 columns), or the bytes,
    # and the launch overhead
    tc_slice = 2 * 128 * 128 * 64 * 108 / (312e12 * 0.82)
    nbytes = 2 * (rows * k + k * cols + rows * cols)
    assert cm.gemm_time(rows, cols, k, "fp16") == pytest.approx(
        max(4 * tc_slice, nbytes / (2039e9 * 0.83)) + launch)
    wide_slice = 2 * 128 * 256 * 64 * 108 / (312e12 * 0.82)    # the full 128 x 256 tile, compute-bound at K = 4096
    assert cm.gemm_time(rows, 256, 4096, "fp16") == pytest.approx((64 + 3) * wide_slice + launch)


def test_wave_quantisation_one_tile_more_costs_a_wave():
    cm = ComputeModel.roofline("a100")
    tm, tn, _ = cm.device.tile
    units = cm.device.compute_units
    rows = tm * units // 4    # 27 x 4 tiles = 108 = one wave, compute-bound (446 FLOP/B)
    full = cm.gemm_time(rows, 4 * tn, 8192, "fp16")
    over = cm.gemm_time(rows + 1, 4 * tn, 8192, "fp16")      # 28 x 4 tiles: a second wave
    assert over == pytest.approx(2 * full, rel=0.01)


def test_bandwidth_bound_layers_run_at_the_streaming_bandwidth():
    cm = ComputeModel.roofline("a100")
    relu = Layer("r", "relu", input_elements=10**7, output_elements=10**7)
    t = cm.layer_time(relu, 64, "forward", "fp16")
    assert t == pytest.approx(2 * 10**7 * 64 * 2 / (2039e9 * 0.83))
    assert cm.layer_time(relu, 64, "backward", "fp16") == pytest.approx(1.5 * t)
    bn = Layer("b", "batchnorm2d", (Tensor("b.w", (64,)),), input_elements=10**7, output_elements=10**7)
    assert cm.layer_time(bn, 64, "forward", "fp16") > t          # one more read for the statistics
    tiny = Layer("t", "relu", input_elements=1, output_elements=1)
    assert cm.layer_time(tiny, 1, "forward", "fp16") == cm.kernel_overhead_s      # the launch floor
    assert cm.layer_time(Layer("f", "flatten", input_elements=10, output_elements=10), 8, "forward") == 0.0


def test_layer_times_grow_with_batch_and_fall_with_a_faster_device():
    model = load_model("bert-base")
    for layer in model.layers:
        for phase in ("forward", "backward"):
            times = [ComputeModel.roofline("a100").layer_time(layer, b, phase, "bf16") for b in (1, 8, 64)]
            assert times[0] <= times[1] <= times[2]
            assert (ComputeModel.roofline("h100").layer_time(layer, 64, phase, "bf16")
                    <= ComputeModel.roofline("a100").layer_time(layer, 64, phase, "bf16"))


def test_attention_is_its_gemms_plus_the_softmax():
    cm = ComputeModel.roofline("a100")
    att = next(layer for layer in load_model("gpt2-small").layers if layer.kind == "attention")
    length, kv, dim = att.gemm
    heads = dim // 64
    fwd = cm.layer_time(att, 4, "forward", "fp16")
    flops = 2 * att.forward_macs * 4
    assert fwd > flops / (312e12 * 0.82)
    scores = 4 * heads * length * kv * 2
    assert fwd > 2 * scores / (2039e9 * 0.83)                     # the softmax alone reads and writes the scores
    assert cm.layer_time(att, 4, "backward", "fp16") > fwd


def test_fp32_3x3_convolutions_use_winograd_and_tensor_cores_do_not():
    cm = ComputeModel.roofline("v100")
    conv3 = next(layer for layer in load_model("resnet50").layers if layer.gemm and layer.gemm[2] == 576)
    direct = 2 * conv3.forward_macs * 64 / (15.7e12 * 0.8)
    assert cm.layer_time(conv3, 64, "forward", "fp32") < direct   # 2.25x fewer products
    tc = 2 * conv3.forward_macs * 64 / (125e12 * 0.8)
    assert cm.layer_time(conv3, 64, "forward", "fp16") >= tc


def test_nchw_tensor_core_convolutions_pay_the_layout_transposes():
    conv = next(layer for layer in load_model("resnet50").layers if layer.gemm and layer.gemm[2] == 576)
    nchw, nhwc = (ComputeModel.roofline("a100", memory_format=f) for f in ("nchw", "nhwc"))
    width = DTYPE_BYTES["tf32"]
    x, y = conv.input_elements * 64 * width, conv.output_elements * 64 * width
    w = conv.num_params * width
    bandwidth = 2039e9 * 0.83

    def moved(*tensors):   # one kernel per tensor, each at least the launch floor
        return sum(max(2 * t / bandwidth, nchw.kernel_overhead_s) for t in tensors)

    # forward: x and W transposed in, y back out (each read and written once)
    extra = nchw.layer_time(conv, 64, "forward", "tf32") - nhwc.layer_time(conv, 64, "forward", "tf32")
    assert extra == pytest.approx(moved(x, w, y), rel=1e-6)
    # backward: the data gradient (dy, W, dx) and the weight gradient (x, dy, dW)
    extra = nchw.layer_time(conv, 64, "backward", "tf32") - nhwc.layer_time(conv, 64, "backward", "tf32")
    assert extra == pytest.approx(moved(y, w, x, x, y, w), rel=1e-6)
    # CUDA-core fp32 kernels work in NCHW, and a linear layer has no layout
    assert nchw.layer_time(conv, 64, "forward", "fp32") == nhwc.layer_time(conv, 64, "forward", "fp32")
    fc = load_model("resnet50").layers[-1]
    assert nchw.layer_time(fc, 64, "forward", "fp16") == nhwc.layer_time(fc, 64, "forward", "fp16")
    # auto: channels-last for 2-byte mixed precision, PyTorch's NCHW default for fp32 storage
    auto = ComputeModel.roofline("a100")
    assert auto.layer_time(conv, 64, "forward", "fp16") == nhwc.layer_time(conv, 64, "forward", "fp16")
    assert auto.layer_time(conv, 64, "forward", "tf32") == nchw.layer_time(conv, 64, "forward", "tf32")
    with pytest.raises(ConfigError, match="memory_format"):
        ComputeModel.roofline("a100", memory_format="nchwc")


def test_a_residual_sum_folded_into_a_layer_is_a_kernel_of_its_own():
    from simtrain.compute import residual_adds

    model = load_model("resnet50")
    joins = [layer for layer in model.layers if residual_adds(layer)]
    assert len(joins) == 16 and all(layer.kind == "batchnorm2d" for layer in joins)
    assert sum(residual_adds(layer) for layer in load_model("inception-v3").layers) == 0   # concatenations
    assert sum(residual_adds(layer) for layer in load_model("bert-base").layers) == 24     # 2 per encoder layer
    cm = ComputeModel.roofline("a100")
    join = joins[0]
    alone = Layer(join.name, join.kind, join.tensors, join.forward_macs, join.input_elements, join.output_elements)
    add = 3 * join.output_elements * 64 * 2 / (2039e9 * 0.83)      # read both branches, write the sum
    for phase in ("forward", "backward"):   # backward: the two gradients summed where the branches fork
        assert cm.layer_time(join, 64, phase, "fp16") == pytest.approx(cm.layer_time(alone, 64, phase, "fp16") + add)


def test_a_calibrated_profile_still_overrides_the_kernel_model():
    profiled = ComputeModel.from_profile("cpu-numba")
    plain = ComputeModel.roofline("cpu")
    fc = load_model("resnet50").layers[-1]
    t = profiled.layer_time(fc, 32, "forward", "fp32")
    assert t == profiled.profile.gemm_time(32, 1000, 2048, "fp32", "nt")
    assert t != plain.layer_time(fc, 32, "forward", "fp32")


def test_overrides_and_a_spec_built_in_python():
    spec = DeviceSpec("toy", "Toy", {"fp32": 1e12}, 1e11, 2**30, "made up for a test", compute_units=4)
    cm = ComputeModel.roofline(spec, compute_efficiency=0.5)
    assert cm.kernel_time(1e12, 0.0, "fp32") == pytest.approx(2.0)
    assert ComputeModel.roofline(spec).kernel_time(1e12, 0.0, "fp32") == pytest.approx(1 / 0.8)
    assert math.isclose(cm.kernel_time(0.0, 1e11, "fp32"), 1 / 0.8)


def test_the_wheel_build_ships_the_device_catalog(tmp_path):
    """setup.py's build_py copies devices/ into the package as simtrain/data/devices, as it does models/."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)], cwd=root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped = sorted(p.name for p in (tmp_path / "simtrain" / "data" / "devices").glob("*.yaml"))
    assert shipped == sorted(f"{n}.yaml" for n in names("devices"))
    assert "graft devices" in (root / "MANIFEST.in").read_text()


def test_fp8_leaves_output_heads_and_convolutions_in_bf16():
    """A YAML model's last linear layer (its output head) keeps bf16 under fp8, as a decoder's head does; a model
    with no FP8 GEMM layer (ResNet-50: convolutions and its head) steps exactly as at bf16, casts included."""
    from simtrain.compute import fp8_gemm_share
    from simtrain.training import simulate

    assert [layer.name for layer in load_model("gpt2-small").layers if layer.keep_precision] == ["lm_head"]
    assert fp8_gemm_share(load_model("resnet50").layers) == 0.0
    assert 0.8 < fp8_gemm_share(load_model("llama3-8b").layers) < 0.95
    kwargs = dict(gpus=8, batch=64)
    assert simulate("resnet50", "dgx-h100", dtype="fp8", **kwargs).step_time_s == \
        simulate("resnet50", "dgx-h100", dtype="bf16", **kwargs).step_time_s


def test_a_trailing_comma_in_a_model_spec_adds_nothing():
    from simtrain.model.decoder import load_decoder

    assert load_decoder("llama3-8b:seq=4096,").config.seq == 4096


def test_fp8_memory_counts_the_weights_fp8_copies():
    """Transformer Engine keeps each FP8 GEMM weight's fp8 copy and its transpose: 2 more bytes per such
    parameter, in the plan path and the data-parallel path alike."""
    from simtrain.compute import fp8_gemm_share
    from simtrain.parallel.memory import fp8_share, memory_per_gpu
    from simtrain.parallel.plan import make_plan
    from simtrain.training.data_parallel import memory_per_gpu as dp_memory

    c = load_model("llama3-8b").config
    plan = make_plan(c, 8, "dp=8", micro_batch=1, global_batch=8)
    bf16, fp8 = (memory_per_gpu(c, plan, d, "adam")["parameters"] for d in ("bf16", "fp8"))
    assert fp8 - bf16 == pytest.approx(2 * fp8_share(c) * bf16 / 2)
    gpt2 = load_model("gpt2-small")
    extra = dp_memory(gpt2, 8, "fp8", "adam")["weights"] - dp_memory(gpt2, 8, "bf16", "adam")["weights"]
    assert extra == pytest.approx(2 * fp8_gemm_share(gpt2.layers) * gpt2.num_params)


def test_native_kernels_run_at_the_native_fraction_of_the_bandwidth():
    """PyTorch's native norms, eager chains and TorchScript-fused activations (NATIVE_KINDS) run at the device's
    ``native_memory`` fraction; streaming kernels (ReLU, batch norm, residual adds) at ``memory``."""
    from simtrain.compute import NATIVE_KINDS

    cm = ComputeModel.roofline("h100")
    assert cm.device.native_memory_efficiency == 0.55 and cm.device.memory_efficiency == 0.89
    n = 10**7
    gelu, relu = (Layer(k, k, input_elements=n, output_elements=n) for k in ("gelu", "relu"))
    assert {"gelu", "silu", "layernorm_eager", "layernorm_eager_half", "gelu_eager", "rmsnorm_eager"} <= NATIVE_KINDS
    assert not {"relu", "batchnorm2d", "add", "dropout", "layernorm", "rmsnorm"} & NATIVE_KINDS
    for phase in ("forward", "backward"):
        ratio = cm.layer_time(gelu, 32, phase, "bf16") / cm.layer_time(relu, 32, phase, "bf16")
        assert ratio == pytest.approx(0.89 / 0.55)
    # the decoder's LayerNorm is native only in eager code (torch.nn.LayerNorm); fused it is Transformer Engine's
    # (on a half model the same passes; under autocast eager code's runs in fp32, test_eager_stream_*)
    fused, eager = (Layer("n", kind, (Tensor("n.w", (1024,)),), input_elements=n, output_elements=n)
                    for kind in ("layernorm", "layernorm_eager_half"))
    assert cm.layer_time(eager, 8, "backward", "bf16") == pytest.approx(
        cm.layer_time(fused, 8, "backward", "bf16") * 0.89 / 0.55)
    # a caller's lower streaming fraction caps the native one; the launch floor still holds
    slow = ComputeModel.roofline("h100", memory_efficiency=0.4)
    assert slow.layer_time(gelu, 32, "forward", "bf16") == pytest.approx(slow.layer_time(relu, 32, "forward", "bf16"))
    tiny = Layer("t", "gelu", input_elements=1, output_elements=1)
    assert cm.layer_time(tiny, 1, "forward", "bf16") == cm.kernel_overhead_s


def test_a_device_file_may_give_its_own_native_fraction(tmp_path):
    text = resolve("devices", "a100").read_text()
    own = tmp_path / "gpu.yaml"
    own.write_text(text.replace("efficiency:\n", "efficiency:\n  native_memory: 0.7\n", 1))
    assert load_device(own).native_memory_efficiency == 0.7
    assert get_device("cpu").native_memory_efficiency == get_device("cpu").memory_efficiency
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("efficiency:\n", "efficiency:\n  native_memory: 1.5\n", 1))
    with pytest.raises(ConfigError, match="native_memory"):
        load_device(bad)


def test_a_token_gather_moves_its_rows_forward_and_the_whole_input_gradient_backward():
    """``gather_tokens`` is a gather, priced as an embedding's lookup is: forward copies the gathered rows (read and
    write), backward zeroes the input's gradient and scatters the rows' gradients into it, two kernels."""
    model = ComputeModel(get_device("a100"))
    (gather,) = [layer for layer in load_model("bert-large:predictions=20").layers if layer.kind == "gather_tokens"]
    rows, full = 20 * 1024 * 2 * 32, 128 * 1024 * 2 * 32      # bytes of fp16 at batch 32
    assert model.layer_time(gather, 32, "forward", "fp16") == pytest.approx(model.kernel_time(0.0, 2 * rows, "fp16", 1))
    assert model.layer_time(gather, 32, "backward", "fp16") == pytest.approx(
        model.kernel_time(0.0, full + 2 * rows, "fp16", 2))


def test_eager_stream_under_autocast_is_fp32_and_two_kernels_make_a_dropout_add():
    """Hugging Face's GPT-2 under autocast (kernels=eager): the residual stream is fp32 (the embeddings' output,
    promoted by every residual sum), LayerNorm on autocast's fp32 list reads and writes it and the next GEMM casts
    its output; eager dropout-then-add is two kernels. On a half model (eager-half) the same kernels at the half
    width; fused is Megatron-LM's one kernel."""
    from simtrain.model import load_model

    def kinds(kernels: str) -> list[str]:
        spec = load_model(f"gpt:layers=1,hidden=64,heads=4,seq=32,vocab=100,dropout=0.1,kernels={kernels}")
        return [layer.kind for layer in spec.layers if "layers.0." in layer.name]

    assert kinds("eager").count("layernorm_eager") == 2 and kinds("eager").count("dropout_add_eager") == 2
    assert kinds("eager-half").count("layernorm_eager_half") == 2
    # fused: Megatron's bias-dropout-add, one dropout kernel a branch (beside the probabilities' dropout)
    assert "dropout_add" not in " ".join(kinds("fused")) and kinds("fused").count("dropout") == 3
    no_dropout = load_model("gpt:layers=1,hidden=64,heads=4,seq=32,vocab=100,kernels=eager")
    assert [layer.kind for layer in no_dropout.layers].count("add_eager") == 2
    # a gated (torchtitan) model's eager stream is its own code's, not autocast's
    gated = load_model("llama3-8b:layers=1,kernels=eager")
    assert "add" in [layer.kind for layer in gated.layers]

    cm = ComputeModel.roofline("a100")
    n = 10**7
    stream = {kind: Layer("s", kind, (), input_elements=n, output_elements=n)
              for kind in ("layernorm_eager", "layernorm_eager_half", "dropout_add_eager", "dropout_add_eager_half")}
    for phase in ("forward", "backward"):
        # fp32 stream and casts: more bytes than the half model's same kernels, at fp16 and bf16 alike
        for dtype in ("fp16", "bf16"):
            assert cm.layer_time(stream["layernorm_eager"], 4, phase, dtype) > \
                1.5 * cm.layer_time(stream["layernorm_eager_half"], 4, phase, dtype)
            assert cm.layer_time(stream["dropout_add_eager"], 4, phase, dtype) > \
                cm.layer_time(stream["dropout_add_eager_half"], 4, phase, dtype)
        # in fp32 there is nothing to cast: the two styles are one
        assert cm.layer_time(stream["layernorm_eager"], 4, phase, "fp32") == pytest.approx(
            cm.layer_time(stream["layernorm_eager_half"], 4, phase, "fp32"))
    # the half model's dropout-then-add: two kernels over the branch (5 passes) against Megatron's fused one (2)
    fused = Layer("d", "dropout", (), input_elements=n, output_elements=n)
    assert cm.layer_time(stream["dropout_add_eager_half"], 4, "forward", "fp16") == pytest.approx(
        2.5 * cm.layer_time(fused, 4, "forward", "fp16"))


def test_eager_stream_layers_are_priced_by_their_bytes_under_a_calibration_profile():
    """A calibration profile prices the stream's kernels at its own measured bandwidth, from the same bytes
    (:func:`simtrain.compute.stream_bytes`), as it does the other eager kinds; in fp32 the two styles are one
    (review 45: the half model's LayerNorm took a profile's generic rule)."""
    from simtrain.compute import stream_bytes
    from simtrain.model import load_model

    spec = load_model("gpt:layers=2,hidden=256,heads=4,seq=128,vocab=1000,dropout=0.1,kernels=eager")
    cm = ComputeModel.from_profile(Path(__file__).parents[1] / "profiles" / "cpu-numba.json")
    half = load_model("gpt:layers=2,hidden=256,heads=4,seq=128,vocab=1000,dropout=0.1,kernels=eager-half")
    stream = [layer for layer in spec.layers if layer.kind in ("layernorm_eager", "dropout_add_eager")]
    assert len(stream) == 2 * 4 + 1   # two norms and two dropout-adds a layer, and the final norm
    stream += [layer for layer in half.layers if layer.kind in ("layernorm_eager_half", "dropout_add_eager_half")]
    for layer in stream:
        for phase in ("forward", "backward"):
            per_element, _ = stream_bytes(layer.kind, 4, phase)
            weights = layer.num_params * 4 * (1 if phase == "forward" else 2)   # a norm's scale and shift
            assert cm.layer_time(layer, 8, phase, "fp32") == pytest.approx(
                cm.profile.memory_time(per_element * layer.output_elements * 8 + weights, "fp32"))
    norms = {layer.kind: layer for layer in stream if layer.kind.startswith("layernorm")}
    assert cm.layer_time(norms["layernorm_eager"], 8, "backward", "fp32") == pytest.approx(
        cm.layer_time(norms["layernorm_eager_half"], 8, "backward", "fp32"))
