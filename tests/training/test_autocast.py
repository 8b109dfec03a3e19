"""The run's ``autocast``: PyTorch AMP's weight casts, priced by the kernel model (issue 14, the training step)."""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.training import simulate
from tests.cli_checks import refused

GPT2_LARGE = "gpt:layers=36,hidden=1280,heads=20,seq=1024,vocab=50257,dropout=0.1,kernels=eager"


def test_every_gemm_weight_is_cast_each_pass_and_nothing_else() -> None:
    """12 bytes a GEMM parameter a micro-batch (6 forward, 6 backward); norms, embeddings and attention's core cast
    nothing; a tied head casts the embedding it reads."""
    on, off = ComputeModel.roofline("a100", autocast=True), ComputeModel.roofline("a100")
    model = load_model("bert-base")
    extra = {layer.kind: 0.0 for layer in model.layers}
    for layer in model.layers:
        for phase in ("forward", "backward"):
            extra[layer.kind] += on.layer_time(layer, 8, phase, "bf16") - off.layer_time(layer, 8, phase, "bf16")
    assert extra["linear"] > 0
    assert all(extra[kind] == 0.0 for kind in ("layernorm", "embedding", "attention", "dropout", "gelu"))
    gemm_params = sum(layer.num_params for layer in model.layers if layer.kind == "linear")
    # at least the bytes at the streaming bandwidth: 12 B a parameter over both passes
    assert extra["linear"] >= 12 * gemm_params / (on.device.memory_bandwidth_Bps * on.memory_efficiency) * 0.999


def test_a_step_under_autocast_is_longer_and_reports_it() -> None:
    base = dict(gpus=16, parallel="tp=1,pp=1,dp=16", micro_batch=1, global_batch=16, dtype="fp16", optimizer="adam",
                zero=0, check_memory=False)
    off = simulate(GPT2_LARGE, "dgx-a100", **base)
    on = simulate(GPT2_LARGE, "dgx-a100", autocast=True, **base)
    assert on.step_time_s > off.step_time_s and on.config["compute"]["autocast"] is True
    # the data-parallel step prices it too, and a profile's model at its own bandwidth
    dp = {flag: simulate("resnet50", "dgx-a100", gpus=8, batch=32, dtype="fp16", autocast=flag).step_time_s
          for flag in (False, True)}
    assert dp[True] > dp[False]


def test_a_profile_prices_the_casts_at_its_measured_bandwidth() -> None:
    class Profile:   # the one method the casts read
        def memory_time(self, nbytes: float, dtype: str) -> float:
            return nbytes * 1e-9

    layer = load_model("resnet50").layers[0]
    cm = ComputeModel(ComputeModel.roofline("a100").device, profile=Profile(), autocast=True)
    assert cm.cast_time(layer, "fp16") == pytest.approx(6 * layer.num_params * 1e-9)


def test_autocast_needs_a_half_dtype_and_a_compute_model_built_with_it() -> None:
    with pytest.raises(ConfigError, match="autocast"):
        simulate("resnet50", "dgx-a100", gpus=8, dtype="fp32", autocast=True)
    with pytest.raises(ConfigError, match="autocast"):
        simulate("resnet50", "dgx-a100", gpus=8, dtype="fp16", autocast=True, compute=ComputeModel.roofline("a100"))
    given = simulate("resnet50", "dgx-a100", gpus=8, batch=32, dtype="fp16", autocast=True,
                     compute=ComputeModel.roofline("a100", autocast=True))
    assert given.step_time_s == simulate("resnet50", "dgx-a100", gpus=8, batch=32, dtype="fp16",
                                         autocast=True).step_time_s


def test_the_cli_and_a_study_take_it(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    refused(capsys, ["simulate", "--model", "resnet50", "--topology", "dgx-a100", "--gpus", "8", "--autocast"],
            "--autocast", "fp16 or bf16")
    from simtrain.study import load_study

    study = tmp_path / "s.yaml"
    study.write_text("name: s\nbase: {model: resnet50, topology: dgx-a100, gpus: 8, dtype: tf32}\n"
                     "sweep: {grid: {autocast: [false, true]}}\n")
    with pytest.raises(ConfigError, match=r"autocast.*fp16 or bf16"):
        load_study(str(study))
    study.write_text("name: s\nbase: {model: resnet50, topology: dgx-a100, gpus: 8, dtype: bf16}\n"
                     "sweep: {grid: {autocast: [false, true]}}\n")
    assert [point["autocast"] for point in load_study(str(study)).points] == [False, True]


def test_a_tied_head_casts_the_embedding_it_reads() -> None:
    model = load_model("gpt:layers=2,hidden=256,heads=4,seq=128,vocab=1000")
    head = next(layer for layer in model.layers if layer.tied_to)
    cm = ComputeModel.roofline("a100", autocast=True)
    assert head.num_params == 0
    assert cm.cast_time(head, "bf16") == cm.kernel_time(0.0, 6 * 1000 * 256, "bf16", 1)


def test_the_switch_is_a_bool_and_a_given_model_must_agree() -> None:
    with pytest.raises(ConfigError, match="autocast"):
        ComputeModel.roofline("a100", autocast="false")
    with pytest.raises(ConfigError, match="autocast"):
        simulate("resnet50", "dgx-a100", gpus=8, dtype="fp16", compute=ComputeModel.roofline("a100", autocast=True))


def test_the_gradients_are_fp32_in_every_reduction() -> None:
    """Autocast leaves the parameters in fp32, so DDP's buckets, ZeRO's collectives and a scheme's values carry 4
    bytes a gradient; the tensor-parallel activations stay at the half width."""
    dp = {flag: simulate("resnet50", "dgx-a100", gpus=16, batch=32, dtype="fp16", autocast=flag)
          for flag in (False, True)}
    assert dp[True].bytes_per_gpu == pytest.approx(2 * dp[False].bytes_per_gpu)
    model = "gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000"
    base = dict(gpus=16, micro_batch=2, global_batch=32, dtype="bf16", zero=1)
    # data parallelism alone: every byte is a gradient or a parameter
    pure = {flag: simulate(model, "dgx-a100", parallel="tp=1,pp=1,dp=16", autocast=flag, **base).bytes_per_gpu
            for flag in (False, True)}
    assert pure[True] == pytest.approx(2 * pure[False])
    # with TP 2 the activations' all-reduces keep their width: more bytes, less than twice as many
    tp = {flag: simulate(model, "dgx-a100", parallel="tp=2,pp=1,dp=8", autocast=flag, **base).bytes_per_gpu
          for flag in (False, True)}
    assert tp[False] < tp[True] < 2 * tp[False]
    # top-k sends 4-byte indices beside its values, which are fp32 now: (4 + 4) / (2 + 4)
    topk = {flag: simulate("resnet50", "dgx-a100", gpus=16, batch=32, dtype="fp16", scheme="topk:density=0.01",
                           autocast=flag).bytes_per_gpu for flag in (False, True)}
    assert topk[True] / topk[False] == pytest.approx(8 / 6)


def test_a_scheme_s_state_is_counted_at_the_gradients_fp32_width() -> None:
    """The memory check's context is the step's: a low-rank scheme's factors under autocast are fp32, as in the
    plan's own context."""
    from simtrain.compression import SchemeContext, make_scheme
    from simtrain.training.data_parallel import memory_per_gpu

    model = load_model("resnet50")
    scheme = make_scheme("oialr:warmup=0")
    state = memory_per_gpu(model, 32, "fp16", "adam", "oialr:warmup=0", 8, 8, autocast=True)["scheme_state"]
    fp32 = float(sum(scheme.state_bytes(SchemeContext(model, 8, 8, "fp32"), "adam").values()))
    half = float(sum(scheme.state_bytes(SchemeContext(model, 8, 8, "fp16"), "adam").values()))
    assert state == fp32 != half


def test_memory_holds_fp32_parameters_and_the_half_copies_not_a_master() -> None:
    from simtrain.model import DTYPE_BYTES
    from simtrain.training.data_parallel import memory_per_gpu

    model = load_model("bert-base")
    off, on = (memory_per_gpu(model, 8, "fp16", "adam", autocast=flag) for flag in (False, True))
    params = model.num_params
    copies = sum(layer.num_params for layer in model.layers if layer.kind == "linear")
    assert on["gradients"] == 4 * params and on["master_weights"] == 0 and off["master_weights"] == 4 * params
    assert on["weights"] == 4 * params + DTYPE_BYTES["fp16"] * copies
    assert on["optimizer_state"] == off["optimizer_state"] and on["activations"] == off["activations"]


def test_the_update_is_fp32_and_grad_scaler_unscales_at_fp16() -> None:
    """No master copy to write; fp16 (GradScaler's dtype) reads and writes every gradient once more, bf16 does not."""
    amp, plain = ComputeModel.roofline("a100", autocast=True), ComputeModel.roofline("a100")
    n = 100_000_000
    assert amp.update_time(n, "bf16", "adam") == plain.update_time(n, "fp32", "adam")
    extra = amp.update_time(n, "fp16", "adam") - amp.update_time(n, "bf16", "adam")
    assert extra == pytest.approx(8 * n / (amp.device.memory_bandwidth_Bps * amp.memory_efficiency), rel=1e-6)
    # the unscale is a foreach pass whichever code the optimizer runs: the same 8 bytes under the for-loop code
    # (where the bytes, not the 1,400 launches, bound the update)
    big = 10 * n
    loop = (amp.update_time(big, "fp16", "adam", optimizer_impl="for-loop", tensors=200)
            - amp.update_time(big, "bf16", "adam", optimizer_impl="for-loop", tensors=200))
    assert loop == pytest.approx(10 * extra, rel=1e-6)
