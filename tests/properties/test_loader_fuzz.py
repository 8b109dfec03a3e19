"""Fuzzing every loader of a user file: topology, model, study, perturbations, rank profile, compute profile and
op graph, with arbitrary bytes, mutations of real files and arbitrary YAML/JSON trees built from each format's
own keys. Whatever the input: a value, or one :class:`~simtrain.errors.ConfigError` on one line (through the
command line: exit status 2 and one ``error:`` line), never another exception.

No wall-clock assertion: ``deadline=None``; a hang or a blow-up shows as a test that does not finish, and the
resource bombs are pinned in tests/test_hostile_inputs.py under ``resource.setrlimit``.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simtrain.cli import main
from simtrain.errors import ConfigError

# 40 examples per loader keep CI fast; SIMTRAIN_FUZZ_EXAMPLES=2000 searches deeper by hand
FUZZ = settings(max_examples=int(os.environ.get("SIMTRAIN_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
REPO = Path(__file__).resolve().parents[2]
_COUNTER = itertools.count()

# -- building blocks --------------------------------------------------------------------------------------------

TOKENS = [b"a", b"b: ", b":", b"- ", b"[", b"]", b"{", b"}", b",", b"\n", b"  ", b"\t", b"'", b'"', b"&x ", b"*x",
          b"*y", b"<<: ", b"!!float ", b"!!binary ", b"!!python/object:os.system ", b"2020-13-45", b"9" * 600,
          b".nan", b".inf", b"-", b"#", b"|", b"? ", b"---\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b"1 GiB",
          b"1e400 B", b"null", b"25", b"-5 GB/s", b'"nodes"', b'"edges"', b"0", b"1e308", b"NaN", b"Infinity"]
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10 ** 300, max_value=10 ** 400)
           | st.floats() | st.text(max_size=12)
           | st.sampled_from(["25 Gbit/s", "1 GiB", "500 ns", "1 TFLOP/s", "-5 GB/s", "0 B/s", "1e-300 B/s",
                              "1e400 GB/s", "nan GB/s", "25", "fp32", "ring", "torus", "a100", "relu", "conv2d",
                              "linear", "resnet18-cifar", "torus-2d", "gpu0->gpu1", "2020-13-45", "", "$c"]))


def _tree(keys: list[str]) -> st.SearchStrategy[Any]:
    """Trees whose mappings mostly use ``keys`` (a format's own vocabulary), so fuzzing gets past the first check."""
    key = st.sampled_from(keys) | st.text(max_size=6)
    return st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(key, inner, max_size=6), max_leaves=25)


def _mutated(base: bytes) -> st.SearchStrategy[bytes]:
    """``base`` with a few splices: a slice removed and tokens or random bytes put in its place."""
    edit = st.tuples(st.integers(0, len(base)), st.integers(0, 40),
                     st.lists(st.sampled_from(TOKENS) | st.binary(max_size=8), max_size=4))

    def apply(edits: list[tuple[int, int, list[bytes]]]) -> bytes:
        data = base
        for at, cut, insert in edits:
            at = min(at, len(data))
            data = data[:at] + b"".join(insert) + data[at + cut:]
        return data
    return st.lists(edit, min_size=1, max_size=4).map(apply)


def _write(tmp_path: Path, data: bytes, suffix: str) -> Path:
    path = tmp_path / f"fuzz{next(_COUNTER)}{suffix}"   # a fresh name: the model loader caches by path and mtime
    path.write_bytes(data)
    return path


def _dump_yaml(tree: Any) -> bytes:
    return yaml.safe_dump(tree, allow_unicode=True).encode("utf-8")


def _dump_json(tree: Any) -> bytes:
    return json.dumps(tree, allow_nan=True).encode("utf-8")


def _library(load: Any, path: Path) -> None:
    """``load(path)`` returns, or raises one ConfigError of one short line."""
    try:
        load(path)
    except ConfigError as exc:
        text = str(exc)
        assert "\n" not in text and "\r" not in text, text
        assert len(text) < 3000, len(text)


def _command(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """The command exits 0, or 2 with one ``error:`` line and no traceback."""
    code = main(argv)
    _, err = capsys.readouterr()
    assert code in (0, 2), (code, err[-2000:])
    if code == 2:
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
        assert "Traceback" not in err


# -- the loaders --------------------------------------------------------------------------------------------------

def _topology(path: Path) -> None:
    from simtrain.topology import load_topology

    load_topology(path)


def _model(path: Path) -> None:
    from simtrain.model import load_model

    load_model(path)


def _study(path: Path) -> None:
    from simtrain.study.spec import load_study

    load_study(path)


def _perturbations(path: Path) -> None:
    from simtrain.config import load_yaml
    from simtrain.network.perturb import Perturbations

    Perturbations.from_dict(load_yaml(path), source=str(path))


def _profile(path: Path) -> None:
    from simtrain.calibration.profile import load_profile

    load_profile(path)


TOPOLOGY_KEYS = ["name", "kind", "device", "ndim", "gpus", "bandwidth", "latency", "dimensions", "size", "nodes",
                 "gpus_per_node", "nic_bandwidth", "levels", "links", "description"]
MODEL_KEYS = ["name", "input", "layers", "blocks", "kind", "out", "kernel", "stride", "padding", "block", "repeat",
              "args", "residual", "main", "shortcut", "branches", "image", "tokens", "features", "heads", "sample"]
STUDY_KEYS = ["name", "base", "sweep", "grid", "zip", "derived", "seed", "model", "topology", "gpus", "batch",
              "scheme", "algorithm", "bucket_size", "topology.gpus", "network.protocol"]
PERTURBATION_KEYS = ["stragglers", "degraded_links", "failed_links", "background", "rank", "factor", "link", "rate"]
PROFILE_KEYS = ["format", "version", "backend", "device", "params", "gemm", "fp32", "fp16", "elementwise_Bps",
                "kernel_overhead_s", "shapes", "times"]
GRAPH_KEYS = ["name", "nodes", "edges", "id", "compute_time_s", "output_bytes", "temporary_bytes",
              "persistent_bytes", "colocation_group", "src", "dst", "bytes", "tensors", "src_port", "comm_time_s"]

YAML_LOADERS = {
    "topology": (_topology, TOPOLOGY_KEYS, REPO / "topologies" / "torus-2d.yaml"),
    "model": (_model, MODEL_KEYS, REPO / "models" / "resnet18-cifar.yaml"),
    "study": (_study, STUDY_KEYS, REPO / "studies" / "quickstart.yaml"),
    "perturbations": (_perturbations, PERTURBATION_KEYS, None),
}
_PERTURBATIONS = (b"stragglers: [{rank: 1, factor: 1.5}]\ndegraded_links: [{link: gpu0->gpu1, factor: 0.5}]\n"
                  b"background: [{link: gpu0->gpu1, rate: 1 GB/s}]\n")


def _base(name: str) -> bytes:
    base = YAML_LOADERS[name][2]
    return _PERTURBATIONS if base is None else base.read_bytes()


@pytest.mark.parametrize("name", list(YAML_LOADERS))
@FUZZ
@given(data=st.data())
def test_yaml_loaders_on_arbitrary_bytes(tmp_path, name, data):
    load = YAML_LOADERS[name][0]
    raw = data.draw(st.binary(max_size=400) | st.lists(st.sampled_from(TOKENS), max_size=30).map(b"".join))
    _library(load, _write(tmp_path, raw, ".yaml"))


@pytest.mark.parametrize("name", list(YAML_LOADERS))
@FUZZ
@given(data=st.data())
def test_yaml_loaders_on_mutated_real_files(tmp_path, name, data):
    load = YAML_LOADERS[name][0]
    _library(load, _write(tmp_path, data.draw(_mutated(_base(name))), ".yaml"))


@pytest.mark.parametrize("name", list(YAML_LOADERS))
@FUZZ
@given(data=st.data())
def test_yaml_loaders_on_arbitrary_trees(tmp_path, name, data):
    load, keys, _ = YAML_LOADERS[name]
    tree = data.draw(st.dictionaries(st.sampled_from(keys), _tree(keys), max_size=8) | _tree(keys))
    _library(load, _write(tmp_path, _dump_yaml(tree), ".yaml"))


@FUZZ
@given(data=st.data())
def test_profile_loader_on_bytes_and_trees(tmp_path, data):
    base = (REPO / "tests" / "bad_inputs" / "profiles" / "elementwise_nan.json").read_bytes()
    raw = data.draw(st.binary(max_size=400) | _mutated(base)
                    | st.dictionaries(st.sampled_from(PROFILE_KEYS), _tree(PROFILE_KEYS), max_size=8).map(_dump_json)
                    | _tree(PROFILE_KEYS).map(_dump_json))
    _library(_profile, _write(tmp_path, raw, ".json"))


@FUZZ
@given(data=st.data())
def test_graph_command_on_bytes_and_trees(capsys, tmp_path, data):
    graph = {"name": "g", "nodes": [{"id": 0, "name": "a", "compute_time_s": 1e-3, "output_bytes": [64]},
                                    {"id": 1, "name": "b", "compute_time_s": 2e-3, "output_bytes": []}],
             "edges": [{"src": 0, "dst": 1, "bytes": 64}]}
    raw = data.draw(st.binary(max_size=400) | _mutated(_dump_json(graph))
                    | st.dictionaries(st.sampled_from(GRAPH_KEYS), _tree(GRAPH_KEYS), max_size=6).map(_dump_json))
    path = _write(tmp_path, raw, ".json")
    out = tmp_path / f"plan{next(_COUNTER)}.json"
    _command(capsys, ["place", "--graph", str(path), "--devices", "2", "--out", str(out)])


@FUZZ
@given(data=st.data())
def test_rank_profile_command_on_bytes_and_trees(capsys, tmp_path, data):
    names = ["conv1.weight", "layer1.0.conv1.weight", "linear.weight", "bn1.weight"]
    raw = data.draw(st.binary(max_size=200) | _mutated(b"conv1.weight: 2\nlayer1.0.conv1.weight: 4\n")
                    | st.dictionaries(st.sampled_from(names) | st.text(max_size=6), SCALARS, max_size=5)
                    .map(_dump_yaml))
    path = _write(tmp_path, raw, ".yaml")
    _command(capsys, ["traffic", "--model", "resnet18-cifar", "--gpus", "4", "--batch", "8",
                      "--samples-per-epoch", "1000", "--scheme", f"cuttlefish:rank_profile={path}"])
