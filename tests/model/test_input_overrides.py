"""A catalog model that is not a decoder takes its input's sizes as its one override (``bert-base:tokens=384``,
``resnet50:image=3x160x160``): the same model as its file with those sizes."""

from __future__ import annotations

import pytest

from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.training import simulate
from tests.cli_checks import one_error_line


def test_an_override_is_the_file_with_its_input_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from simtrain.catalog import resolve

    text = resolve("models", "bert-base").read_text()
    assert "input: {tokens: 128}" in text
    copy = tmp_path / "bert-base-384.yaml"
    copy.write_text(text.replace("input: {tokens: 128}", "input: {tokens: 384}"))
    named, copied = load_model("bert-base:tokens=384"), load_model(str(copy))
    assert named.name == "bert-base:tokens=384"
    assert named.num_params == copied.num_params and named.forward_macs == copied.forward_macs
    assert named.layers == copied.layers
    runs = [simulate(m, "dgx-a100", gpus=8, batch=16, dtype="bf16").step_time_s for m in (named, copied)]
    assert runs[0] == pytest.approx(runs[1], rel=1e-12)


def test_a_model_file_takes_the_override_by_any_path(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A relative path and an absolute one name the same file, and take the same override."""
    from simtrain.catalog import resolve

    (tmp_path / "m.yaml").write_text(resolve("models", "resnet18-cifar").read_text())
    monkeypatch.chdir(tmp_path)
    relative, absolute = (load_model(f"{head}:image=3x64x64") for head in ("m.yaml", str(tmp_path / "m.yaml")))
    assert relative.layers == absolute.layers == load_model("resnet18-cifar:image=3x64x64").layers


def test_an_image_size_scales_the_convolutions_and_keeps_the_parameters() -> None:
    base, small = load_model("resnet50"), load_model("resnet50:image=3x160x160")
    assert small.num_params == base.num_params
    assert small.forward_macs == pytest.approx(base.forward_macs * (160 / 224) ** 2, rel=0.05)
    # the published counts describe the file's input only
    assert base.published and not small.published
    assert load_model("resnet50:image=3x224x224").published == base.published
    # sizes are integers as YAML 1.2 reads them: leading zeros are digits of the same number
    assert load_model("resnet50:image=3x0000000000160x160").layers == small.layers


@pytest.mark.parametrize("name, fragments", [
    ("resnet50:tokens=384", ["not a decoder", "image=CxHxW", "tokens"]),
    ("resnet50:image=3x160", ["the form of the input", "CxHxW"]),
    ("bert-base:tokens=12x4", ["the form of the input", "tokens="]),
    ("resnet50:image=0x16x16", ["input.image", "from 1"]),
    ("resnet50:image=3x" + "9" * 5000 + "x4", ["model image", "at most"]),
    ("bert-base:tokens=384,tokens=512", ["given twice"]),
    ("llama3-8b:image=3x224x224", ["unknown key", "seq"]),   # a decoder takes its own keys
])
def test_bad_overrides_are_one_line(capsys, name: str, fragments: list[str]) -> None:  # type: ignore[no-untyped-def]
    from simtrain.cli import main

    with pytest.raises(ConfigError):
        load_model(name)
    code = main(["simulate", "--model", name, "--topology", "dgx-a100", "--gpus", "8"])
    out = capsys.readouterr()
    one_error_line(code, out.out, out.err, fragments)
