"""Catalog lookup: shipped names, resolution by name or path, and errors with suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from simtrain.catalog import catalog_dir, names, resolve
from simtrain.errors import ConfigError

TOPOLOGIES = ["abci", "cloud-25g", "dgx-a100", "dgx-h100", "mi300x", "ring-switch", "torus-2d", "torus-3d", "torus-8x8"]
MODELS = ["alexnet", "bert-base", "bert-base-pretraining", "bert-large", "gcn-reddit", "gnmt", "gpt2-small",
          "inception-v3", "inception-v3-noaux", "preact-resnet101-cifar", "resnet18-cifar", "resnet50",
          "transformer-base", "vgg16", "vgg16-cifar", "vit-b16",
          # the decoder family (issue 15)
          "bloom-176b", "gpt3-175b", "llama2-70b", "llama2-7b", "llama3-405b", "llama3-70b", "llama3-8b",
          "mixtral-8x7b", "mt-nlg-530b", "opt-175b"]
MODELS.sort()


def test_topology_names():
    assert names("topologies") == TOPOLOGIES


def test_model_names():
    assert names("models") == MODELS


def test_names_are_sorted_and_empty_kinds_are_empty():
    for kind in ("models", "topologies", "studies", "profiles"):
        listed = names(kind)
        assert listed == sorted(listed)
        assert all(not n.startswith("_") for n in listed)
    assert names("profiles") == [p.stem for p in sorted(catalog_dir("profiles").glob("*.json"))
                                 if not p.stem.startswith("_")]


def test_names_of_a_kind_without_a_folder(monkeypatch, tmp_path):
    import simtrain.catalog as catalog

    monkeypatch.setattr(catalog, "catalog_dir", lambda kind: tmp_path / "missing")
    assert catalog.names("studies") == []


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_resolve_topology_by_name(name):
    path = resolve("topologies", name)
    assert path.is_file()
    assert path.name == f"{name}.yaml"
    assert path.parent == catalog_dir("topologies")


@pytest.mark.parametrize("name", MODELS)
def test_resolve_model_by_name(name):
    path = resolve("models", name)
    assert path.is_file()
    assert path.stem == name


def test_resolve_by_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\n", encoding="utf-8")
    assert resolve("topologies", path) == path
    assert resolve("topologies", str(path)) == path


def test_resolve_relative_path_by_suffix(tmp_path, monkeypatch):
    (tmp_path / "local.yml").write_text("name: local\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert resolve("models", "local.yml") == Path("local.yml")


def test_resolve_a_catalog_file_by_its_path():
    shipped = catalog_dir("topologies") / "abci.yaml"
    assert resolve("topologies", str(shipped)) == shipped


def test_unknown_topology_name_suggests_close_match():
    with pytest.raises(ConfigError) as info:
        resolve("topologies", "torus2d")
    err = info.value
    assert err.source is None  # the library names the Python parameter; the command line maps it to --topology
    assert err.key == "topology"
    assert err.value == "torus2d"
    assert err.choices == TOPOLOGIES
    message = str(err)
    assert message.startswith("topology: unknown topology: 'torus2d' (did you mean 'torus-")
    assert message.endswith("; allowed: " + ", ".join(TOPOLOGIES))


def test_unknown_model_name_suggests_close_match():
    with pytest.raises(ConfigError) as info:
        resolve("models", "resnt50")
    assert str(info.value) == (
        "model: unknown model: 'resnt50' (did you mean 'resnet50'?); allowed: " + ", ".join(MODELS)
    )


def test_unknown_name_with_no_close_match():
    with pytest.raises(ConfigError) as info:
        resolve("topologies", "qqqqqqqq")
    assert "did you mean" not in str(info.value)
    assert "unknown topology" in str(info.value)


def test_unknown_study_uses_singular_noun():
    with pytest.raises(ConfigError, match=r"^study: unknown study: 'nope'"):
        resolve("studies", "nope")


@pytest.mark.parametrize("text", ["does/not/exist.yaml", "missing.yaml", "nowhere/topology"])
def test_missing_path_names_the_path(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve("topologies", text)
    err = info.value
    assert err.source == text
    assert str(err) == f"{text}: topology: file not found"


def test_missing_absolute_path(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        resolve("models", path)
    assert str(info.value) == f"{path}: model: file not found"


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match=r"not a regular file \(a folder\)"):
        resolve("topologies", tmp_path)


@pytest.mark.parametrize("kind", ["models", "topologies", "studies", "profiles"])
def test_a_checkout_reads_the_top_level_folders(kind):
    """This checkout has no simtrain/data: the repository's top-level folders are the catalog (no symlinks)."""
    import simtrain.catalog as catalog

    root = Path(catalog.__file__).resolve().parents[1]
    assert not (root / "simtrain" / "data").exists()
    assert catalog_dir(kind) == root / kind
    assert not catalog_dir(kind).is_symlink()


def test_an_installed_wheel_reads_its_package_data(monkeypatch, tmp_path):
    import simtrain.catalog as catalog

    package = tmp_path / "site-packages" / "simtrain"
    (package / "data" / "models").mkdir(parents=True)
    (package / "data" / "models" / "mine.yaml").write_text("name: mine\n", encoding="utf-8")
    (tmp_path / "site-packages" / "models").mkdir()  # another distribution's folder beside the package is not ours
    monkeypatch.setattr(catalog, "_PACKAGE", package)
    assert catalog_dir("models") == package / "data" / "models"
    assert names("models") == ["mine"]
    assert resolve("models", "mine") == package / "data" / "models" / "mine.yaml"

