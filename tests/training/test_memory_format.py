"""The run's ``memory_format``: the activation layout the kernel model prices convolutions in."""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.training import simulate
from tests.cli_checks import refused


def test_nchw_pays_the_transposes_and_auto_is_the_dtypes_layout() -> None:
    runs = {fmt: simulate("resnet50", "dgx-a100", gpus=8, batch=64, dtype="fp16", memory_format=fmt)
            for fmt in ("auto", "nchw", "nhwc")}
    # fp16's auto layout is NHWC (NVIDIA's recipes); PyTorch's default NCHW wraps every tensor-core convolution in
    # cuDNN's transposes
    assert runs["auto"].step_time_s == runs["nhwc"].step_time_s < runs["nchw"].step_time_s
    assert runs["nchw"].config["compute"]["memory_format"] == "nchw"
    # the run's layout is the kernel model's: the same step as the compute model built at that layout and given
    given = simulate("resnet50", "dgx-a100", gpus=8, batch=64, dtype="fp16",
                     compute=ComputeModel.roofline("a100", memory_format="nchw"))
    assert given.step_time_s == runs["nchw"].step_time_s


def test_a_transformer_without_convolutions_does_not_move() -> None:
    times = {simulate("bert-base", "dgx-a100", gpus=8, batch=32, dtype="bf16", memory_format=fmt).step_time_s
             for fmt in ("nchw", "nhwc")}
    assert len(times) == 1


def test_a_profile_or_a_given_compute_model_refuses_a_layout() -> None:
    with pytest.raises(ConfigError, match="memory_format"):
        simulate("resnet50", "dgx-a100", gpus=8, dtype="fp16", memory_format="nchw",
                 compute=ComputeModel.roofline("a100"))


def test_the_cli_takes_the_flag_and_refuses_an_unknown_layout(capsys) -> None:  # type: ignore[no-untyped-def]
    refused(capsys, ["simulate", "--model", "resnet50", "--topology", "dgx-a100", "--gpus", "8",
                     "--memory-format", "nwhc"], "--memory-format", "nwhc", "nhwc")
