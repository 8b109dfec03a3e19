"""Hostile input, generated: resource bombs, files that are not files, values at the edges and unbounded counts,
through every command that reads them (issue 13, items 1, 2 and 4).

``tests/test_bad_inputs.py`` runs the hand-written corpus of malformed values in ``tests/bad_inputs/``; this module
builds its inputs in a temporary folder (a gzip bomb or a 65 MiB file has no place in the repository) and crosses
them with the commands: every YAML hostility with every command that reads YAML of that kind, every JSON hostility
with every JSON reader, and the edge values of flags and specs. Each run must end with exit status 2 and exactly
one line ``error: …`` on stderr that names the file and says what is wrong, with no traceback and nothing written.

Commands run in-process through :func:`simtrain.cli.main`; the bombs also run as real subprocesses under
``resource.setrlimit`` (2 GiB of address space, 60 s of CPU), so a regression that inflates a bomb fails the test
instead of the machine. The limits themselves are listed in ``docs/limits.md``.
"""

from __future__ import annotations

import gzip
import os
import resource
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_checks import one_error_line

from simtrain.cli import main
from simtrain.config import MAX_YAML_BYTES
from simtrain.inputs import MAX_FILE_BYTES

REPO = Path(__file__).resolve().parent.parent

# -- the YAML hostilities: each a function of the kind's valid text, and the fragment its error must contain ---

_LAUGHS = "[" + ", ".join(["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
    f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]) + "]"   # 9^9 values in 460 bytes


def _set_first(text: str, key: str, value: str) -> str:
    """``text`` with the top-level ``key``'s value replaced by ``value`` (a line of YAML)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            lines[i] = f"{key}: {value}"
            return "\n".join(lines) + "\n"
    raise AssertionError(f"no top-level {key!r} in the base text")


YAML_HOSTILE = {
    # an alias bomb ("billion laughs") as the value of the file's first key
    "alias-bomb": (lambda text, key: _set_first(text, key, _LAUGHS), "expands to more than 1,000,000 values"),
    "alias-bomb-nested": (lambda text, key: text + "extra:\n  deeper: " + _LAUGHS + "\n",
                          "expands to more than 1,000,000 values"),
    "self-alias": (lambda text, key: _set_first(text, key, "&r [*r]"), "an alias refers to the list or mapping"),
    "self-alias-mapping": (lambda text, key: _set_first(text, key, "&m {a: *m}"),
                           "an alias refers to the list or mapping"),
    "duplicate-key": (lambda text, key: text + f"{key}: again\n", "duplicate key"),
    "duplicate-nested-key": (lambda text, key: text + "extra: {a: 1, b: 2, a: 3}\n", "duplicate key 'a'"),
    "duplicate-key-after-merge-free": (lambda text, key: text + "extra:\n  x: 1\n  x: 1\n", "duplicate key 'x'"),
    "integer-5000-digits": (lambda text, key: _set_first(text, key, "9" * 5000), "as a YAML int"),
    "nested-200-deep": (lambda text, key: _set_first(text, key, "[" * 200 + "]" * 200),
                        "nested more than 100 levels deep"),
    "nul-bytes": (lambda text, key: text + "extra: a\x00b\n", "malformed YAML"),
    "unhashable-key": (lambda text, key: text + "? [a, b]\n: 1\n", "malformed YAML"),
    "bad-date": (lambda text, key: _set_first(text, key, "2020-13-45"), "as a YAML timestamp"),
}
# files that are not what they claim: name → the fragment
SPECIAL = {
    "fifo": "not a regular file (a FIFO)",
    "dev-zero": "not a regular file (a character device)",
    "dev-null": "not a regular file (a character device)",
    "folder": "not a regular file (a folder)",
    "missing": "file not found",
    "too-large": "file too large",
    "not-utf8": "not UTF-8",
}

# each YAML kind: valid text, the key the hostilities replace, the file suffix, the commands that read it
_TOPOLOGY = (REPO / "topologies" / "torus-2d.yaml").read_text(encoding="utf-8")
_MODEL = (REPO / "models" / "resnet18-cifar.yaml").read_text(encoding="utf-8")
_STUDY = ("name: s\nbase: {model: resnet18-cifar, topology: torus-2d, gpus: 4, batch: 8}\n"
          "sweep:\n  grid:\n    batch: [8, 16]\n")
_PERTURBATIONS = "stragglers: [{rank: 1, factor: 1.5}]\nbackground: [{link: gpu0->gpu1, rate: 1 GB/s}]\n"
_RANK_PROFILE = "conv1.weight: 2\nlayer1.0.conv1.weight: 4\n"
_SIM = "simulate --model resnet18-cifar --batch 8 --topology torus-2d --gpus 4"
YAML_KINDS = {
    "topology": (_TOPOLOGY, "name", [
        "collective --op all-reduce --size 1MiB --topology {file}",
        "simulate --model resnet18-cifar --batch 8 --topology {file} --trace {out}/trace.json",
        "traffic --model resnet18-cifar --gpus 4 --batch 8 --samples-per-epoch 1000 --topology {file}",
        "place --model resnet18-cifar --devices 2 --topology {file} --out {out}/plan.json",
    ]),
    "model": (_MODEL, "name", [
        "simulate --model {file} --batch 8 --topology torus-2d --gpus 4 --trace {out}/trace.json",
        "traffic --model {file} --gpus 4 --batch 8 --samples-per-epoch 1000",
        "place --model {file} --devices 2 --out {out}/plan.json",
    ]),
    "study": (_STUDY, "name", ["sweep {file} --out {out}/sweep --workers 1 --quiet"]),
    "perturbations": (_PERTURBATIONS, "stragglers", [
        f"{_SIM} --engine des --perturbations {{file}} --trace {{out}}/trace.json"]),
    "rank-profile": (_RANK_PROFILE, "conv1.weight", [
        f"{_SIM} --scheme ab-training:rank_profile={{file}} --trace {{out}}/trace.json",
        "traffic --model resnet18-cifar --gpus 4 --batch 8 --samples-per-epoch 1000 "
        "--scheme cuttlefish:rank_profile={file}",
    ]),
}

# -- the JSON hostilities -------------------------------------------------------------------------------------

JSON_HOSTILE = {
    "nested-200000-deep": ("[" * 200_000 + "]" * 200_000, "nested more than 100 levels deep"),
    "nested-150-deep": ('{"a": ' + "[" * 150 + "]" * 150 + "}", "nested more than 100 levels deep"),
    "integer-5000-digits": ('{"format": ' + "9" * 5000 + "}", "an integer of 5,000 digits"),
    "integer-in-list": ('{"a": [1, 2, -' + "7" * 1500 + "]}", "an integer of 1,500 digits"),
    "truncated": ('{"format": "simtrain-compute-profile", "ver', "malformed JSON"),
    "empty": ("", "malformed JSON"),
    "nul-byte": ('{"a": 1}\x00', "malformed JSON"),
}
JSON_KINDS = {
    "profile": [f"{_SIM} --profile {{file}} --trace {{out}}/trace.json",
                "calibrate --check {file} --quick --repeats 1 --plot {out}/check.png"],
    "graph": ["place --graph {file} --devices 2 --out {out}/plan.json"],
}
GZIP_HOSTILE = {  # graphs only: the reader that inflates
    "gzip-bomb": "inflates to more than 64 MiB",
    "gzip-cut-short": "the gzip stream is cut short",
    "gzip-garbage": "corrupt gzip stream",
    "gzip-of-deep-json": "nested more than 100 levels deep",
}


def _special_file(folder: Path, name: str, suffix: str) -> Path:
    if name == "dev-zero":
        return Path("/dev/zero")
    if name == "dev-null":
        return Path("/dev/null")
    path = folder / f"{name}{suffix}"
    if path.exists() or name == "missing":
        return path
    if name == "fifo":
        os.mkfifo(path)
    elif name == "folder":
        path.mkdir()
    elif name == "too-large":   # sparse: refused by its size before a byte is read
        with open(path, "wb") as handle:
            handle.truncate(max(MAX_FILE_BYTES, MAX_YAML_BYTES) + 1)
    elif name == "not-utf8":
        path.write_bytes(b"name: \xff\xfe\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for kind, (text, key, _) in YAML_KINDS.items():
        for name, (make, _) in YAML_HOSTILE.items():
            (folder / f"{kind}-{name}.yaml").write_text(make(text, key), encoding="utf-8")
    for name, (text, _) in JSON_HOSTILE.items():
        (folder / f"json-{name}.json").write_text(text, encoding="utf-8")
    graph = b'{"nodes": [], "edges": []}'
    (folder / "gzip-bomb.json.gz").write_bytes(gzip.compress(bytes(65 << 20), compresslevel=9))
    (folder / "gzip-cut-short.json.gz").write_bytes(gzip.compress(graph)[:-12])
    (folder / "gzip-garbage.json.gz").write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    (folder / "gzip-of-deep-json.json.gz").write_bytes(gzip.compress(b"[" * 5000 + b"]" * 5000))
    return folder


def _yaml_cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for kind, (_, _, commands) in YAML_KINDS.items():
        for name, (_, fragment) in YAML_HOSTILE.items():
            cases += [(kind, name, template, fragment) for template in commands]
        for name, fragment in SPECIAL.items():
            cases += [(kind, name, template, fragment) for template in commands]
    return cases


def _json_cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for kind, commands in JSON_KINDS.items():
        for name, (_, fragment) in JSON_HOSTILE.items():
            cases += [(kind, name, template, fragment) for template in commands]
        for name, fragment in SPECIAL.items():
            cases += [(kind, name, template, fragment) for template in commands]
    cases += [("graph", name, JSON_KINDS["graph"][0], fragment) for name, fragment in GZIP_HOSTILE.items()]
    return cases


YAML_CASES = _yaml_cases()
JSON_CASES = _json_cases()


def _argv(template: str, file: Path | None, out: Path) -> list[str]:
    return [part.format(file=file, out=out) for part in shlex.split(template)]


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path, fragments: list[str]) -> str:
    code = main(argv)
    stdout, stderr = capsys.readouterr()
    line = one_error_line(code, stdout, stderr, fragments)
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert left == [], f"output written despite the error: {left}"
    return line


def _file_for(corpus: Path, kind: str, name: str, suffix: str) -> Path:
    if name in SPECIAL:
        return _special_file(corpus, name, suffix)
    if name in GZIP_HOSTILE:
        return corpus / (f"{name}.json.gz")
    return corpus / (f"{kind}-{name}{suffix}" if suffix == ".yaml" else f"json-{name}{suffix}")


@pytest.mark.parametrize(("kind", "name", "template", "fragment"), YAML_CASES,
                         ids=[f"{k}-{n}-{t.split()[0]}{i}" for i, (k, n, t, _) in enumerate(YAML_CASES)])
def test_hostile_yaml_gives_one_error_line(capsys, tmp_path, corpus, kind, name, template, fragment):
    file = _file_for(corpus, kind, name, ".yaml")
    out = tmp_path / "out"
    out.mkdir()
    line = _run(capsys, _argv(template, file, out), out, [fragment])
    assert str(file) in line, f"the message does not name the file: {line}"


@pytest.mark.parametrize(("kind", "name", "template", "fragment"), JSON_CASES,
                         ids=[f"{k}-{n}-{t.split()[0]}{i}" for i, (k, n, t, _) in enumerate(JSON_CASES)])
def test_hostile_json_gives_one_error_line(capsys, tmp_path, corpus, kind, name, template, fragment):
    file = _file_for(corpus, kind, name, ".json")
    out = tmp_path / "out"
    out.mkdir()
    line = _run(capsys, _argv(template, file, out), out, [fragment])
    assert str(file) in line, f"the message does not name the file: {line}"


# -- values at the edges and unbounded counts, in flags and specs -----------------------------------------------

_COLL = "collective --op all-reduce --size 1MiB --topology torus-2d --gpus 4"
_TRAFFIC = "traffic --model resnet18-cifar --batch 8 --samples-per-epoch 1000"
_DIGITS = "9" * 5000
ARGUMENTS = [
    # sizes and rates: a unit is required, and must be of the right kind, finite and sane
    (f"{_SIM} --bucket-size 25", ["--bucket-size", "has no unit"]),
    (f"{_SIM} --bucket-size '25 MiB/s'", ["--bucket-size", "unknown size unit"]),
    (f"{_SIM} --bucket-size '1e400 B'", ["--bucket-size", "not a finite quantity"]),
    (f"{_SIM} --bucket-size '-1 MiB'", ["--bucket-size", "must be greater than 0"]),
    (f"{_SIM} --bucket-size '{_DIGITS} B'", ["--bucket-size", "too long for a quantity"]),
    (f"{_SIM} --bucket-size 'nan B'", ["--bucket-size"]),
    ("collective --op all-reduce --size 25 --topology torus-2d --gpus 4", ["--size", "has no unit"]),
    ("collective --op all-reduce --size '25 GB/s' --topology torus-2d --gpus 4", ["--size", "unknown size unit"]),
    ("collective --op all-reduce --size '1e400 B' --topology torus-2d --gpus 4", ["--size", "not a finite"]),
    (f"collective --op all-reduce --size '{_DIGITS} B' --topology torus-2d --gpus 4", ["--size", "too long"]),
    ("place --model resnet18-cifar --devices 2 --bandwidth '1e-300 B/s' --out {out}/plan.json",
     ["--bandwidth", "at least 1 bit/s"]),
    ("place --model resnet18-cifar --devices 2 --bandwidth '0 B/s' --out {out}/plan.json",
     ["--bandwidth", "at least 1 bit/s"]),
    ("place --model resnet18-cifar --devices 2 --bandwidth '25' --out {out}/plan.json", ["--bandwidth", "no unit"]),
    (f"{_SIM} --engine des --background 'gpu0->gpu1:-5 GB/s'", ["--background", "at least 1 bit/s"]),
    (f"{_SIM} --engine des --background 'gpu0->gpu1:1e-300 B/s'", ["--background", "at least 1 bit/s"]),
    (f"{_SIM} --engine des --background 'gpu0->gpu1:1e400 GB/s'", ["--background", "not a finite"]),
    # integers: 5,000 digits, and counts past their bound
    (f"{_SIM} --batch {_DIGITS}", ["--batch"]),
    (f"{_SIM} --chunks {_DIGITS}", ["--chunks"]),
    (f"{_SIM} --engine des --chunks 1000000", ["--chunks", "at most 64"]),
    (f"collective --op all-reduce --size 1MiB --topology torus-2d --gpus {_DIGITS}", ["--gpus"]),
    ("collective --op all-reduce --size 1MiB --topology torus-2d --gpus 1000000000", ["--gpus", "at most 262144"]),
    (f"{_TRAFFIC} --gpus 1000000000", ["--gpus", "at most 262144"]),
    (f"{_TRAFFIC} --gpus 4 --epochs 1e308", ["--epochs", "at most"]),
    (f"{_TRAFFIC} --gpus 4 --epochs inf", ["--epochs"]),
    (f"{_TRAFFIC} --gpus 4 --epochs nan", ["--epochs"]),
    (f"{_TRAFFIC} --gpus 4 --epochs -1", ["--epochs"]),
    ("sweep studies/quickstart.yaml --out {out}/sweep --workers 100000", ["--workers", "at most 256"]),
    ("place --model resnet18-cifar --devices 100000 --out {out}/plan.json", ["--devices", "at most 256"]),
    (f"place --model resnet18-cifar --devices {_DIGITS} --out {{out}}/plan.json", ["--devices"]),
    # plugin specs: types, bounds, duplicates
    (f"{_COLL} --algorithm ring:channels=1000000", ["--algorithm", "channels", "at most 64"]),
    (f"{_COLL} --algorithm ring:chunks=0", ["--algorithm", "chunks must be an integer from 1 to 64"]),
    (f"{_COLL} --algorithm ring:chunks=100000", ["--algorithm", "from 1 to 64"]),
    (f"{_SIM} --algorithm ring:chunks=100000", ["--algorithm", "from 1 to 64"]),
    (f"{_COLL} --algorithm ring:channels=2020-13-45", ["--algorithm", "channels", "must be an integer"]),
    (f"{_COLL} --algorithm ring:channels=2,channels=4", ["--algorithm", "given twice"]),
    (f"{_COLL} --algorithm ring:channels={_DIGITS}", ["--algorithm", "channels"]),
    (f"{_COLL} --algorithm ring:channels=1e400", ["--algorithm", "channels"]),
    (f"{_COLL} --algorithm ring:channels=[1,2]", ["--algorithm", "channels", "must be an integer"]),
    (f"{_COLL} --algorithm 'ring:channels={{{{a: 1}}}}'", ["--algorithm", "channels", "must be an integer"]),
    (f"{_COLL} --algorithm multidim-ring:grid=[4,{_DIGITS}]", ["--algorithm"]),
    (f"{_SIM} --scheme powersgd:rank={_DIGITS}", ["--scheme", "rank"]),
    (f"{_SIM} --scheme mstopk:rounds=1000000000", ["--scheme", "rounds", "at most 1000"]),
    (f"{_SIM} --scheme powersgd:rank=1,rank=2", ["--scheme", "given twice"]),
    (f"{_SIM} --scheme 'topk:density=1e400'", ["--scheme", "density"]),
    (f"{_SIM} --set topology.gpus={_DIGITS}", []),
    (f"{_SIM} --set topology.bandwidth='1e-300 B/s'", ["bandwidth"]),
    (f"{_SIM} --set 'topology.bandwidth={_DIGITS} GB/s'", ["bandwidth", "too long"]),
    # hostile report 13: a launch past a second overflows a step; Horovod has no buckets; GIST splits a GCN;
    # the DES's pipeline slots
    (f"{_SIM} --framework ddp:launch=1e308s", ["--framework", "launch", "at most 1 s"]),
    (f"{_SIM} --framework horovod:launch=2s", ["--framework", "launch", "at most 1 s"]),
    (f"{_SIM} --framework horovod --bucket-size 1MiB", ["--bucket-size", "not used by horovod", "1 MiB"]),
    (f"{_SIM} --scheme gist", ["gist", "conv2d", "linear"]),
    ("traffic --model resnet50 --batch 32 --samples-per-epoch 100000 --gpus 16 --gpus-per-node 16 "
     "--topology dgx-h100 --scheme ab-training", ["--gpus-per-node", "contradicts the topology", "8"]),
    ("simulate --model gpt:layers=64,hidden=512,heads=8,seq=512,vocab=1000 --topology dgx-h100 --gpus 64 "
     "--parallel tp=1,pp=64 --micro-batch 1 --global-batch 2048 --engine des", ["--global-batch", "65536", "des"]),
]


@pytest.mark.parametrize(("template", "fragments"), ARGUMENTS, ids=[a[:70] for a, _ in ARGUMENTS])
def test_edge_values_give_one_error_line(capsys, tmp_path, template, fragments):
    out = tmp_path / "out"
    out.mkdir()
    _run(capsys, _argv(template, None, out), out, fragments)


# -- counts and edges inside files --------------------------------------------------------------------------------

_BLOCKS = "name: m\ninput: {image: [3, 8, 8]}\nblocks:\n"
FILES = {
    # models: a repeat past the bound, blocks that contain themselves, expansions that multiply
    "model-repeat-1e9.yaml": (_MODEL.replace("repeat: 2", "repeat: 1000000000", 1), ["repeat", "at most 100000"]),
    "model-self-block.yaml": (_BLOCKS + "  a:\n    - {kind: relu}\n    - {block: a}\nlayers:\n  - {block: a}\n",
                              ["a block may not contain itself (a -> a)"]),
    "model-mutual-blocks.yaml": (_BLOCKS + "  a: [{block: b}]\n  b: [{kind: relu}, {block: a}]\nlayers:\n"
                                 "  - {block: a}\n", ["a block may not contain itself (a -> b -> a)"]),
    "model-empty-expansions.yaml": (_BLOCKS + "  a: []\n  b: [{block: a, repeat: 100000}]\nlayers:\n"
                                    "  - {kind: relu}\n  - {block: b, repeat: 100000}\n",
                                    ["expand to more than 100,000 instances"]),
    "model-layers-1e6.yaml": (_BLOCKS + "  a: [{kind: relu}]\n  b: [{block: a, repeat: 1000}]\nlayers:\n"
                              "  - {block: b, repeat: 1000}\n", ["100,000"]),
    # topologies
    "topology-gpus-1e9.yaml": (_set_first(_TOPOLOGY, "gpus", "1000000000"), ["gpus", "at most 262144"]),
    "topology-bandwidth-1e400.yaml": (_set_first(_TOPOLOGY, "bandwidth", "1e400 GB/s"),
                                      ["bandwidth", "not a finite"]),
    "topology-bandwidth-tiny.yaml": (_set_first(_TOPOLOGY, "bandwidth", "1e-300 B/s"),
                                     ["bandwidth", "at least 1 bit/s"]),
    "topology-bandwidth-no-unit.yaml": (_set_first(_TOPOLOGY, "bandwidth", "25"), ["bandwidth", "no unit"]),
    "topology-bandwidth-long.yaml": (_set_first(_TOPOLOGY, "bandwidth", f"'{_DIGITS} GB/s'"),
                                     ["bandwidth", "too long"]),
    "topology-latency-negative.yaml": (_set_first(_TOPOLOGY, "latency", "-5 ns"), ["latency"]),
    # perturbations
    "perturbations-background-negative.yaml": ("background: [{link: gpu0->gpu1, rate: -5 GB/s}]\n",
                                               ["background[0].rate"]),
    "perturbations-background-inf.yaml": ("background: [{link: gpu0->gpu1, rate: 1e400 GB/s}]\n",
                                          ["background[0].rate", "not a finite"]),
    "perturbations-factor-inf.yaml": ("stragglers: [{rank: 1, factor: 1e400}]\n", ["stragglers[0].factor"]),
    "perturbations-rank-huge.yaml": ("stragglers: [{rank: " + "9" * 40 + ", factor: 1.5}]\n", ["stragglers"]),
}
_POINT = "name: s\nbase: {model: resnet18-cifar, topology: torus-2d, gpus: 4, batch: 8}\n"
for _column in ("point", "status", "step_time_s", "error", "seed", "batch", "gpus", "num_gpus", "model"):
    FILES[f"study-derived-{_column}.yaml"] = (
        _POINT + f"derived:\n  {_column}: 1 + 1\n", [f"derived.{_column}", "may not replace a column"])
FILES["study-grid-1e7.yaml"] = (
    _POINT + "sweep:\n  grid:\n" + "".join(f"    {key}: {list(range(1, 101))}\n" for key in ("batch", "chunks"))
    + "    gpus: " + str([2 ** (i % 6 + 1) for i in range(100)]) + "\n    topology.latency: "
    + str([f"{i} ns" for i in range(1, 11)]) + "\n", ["10,000,000 points", "at most 100,000"])
FILES["study-derived-too-long.yaml"] = (_POINT + "derived:\n  x: " + "+".join(["1"] * 600) + "\n",
                                        ["derived.x", "at most 1000 characters"])
FILES["study-derived-code.yaml"] = (_POINT + "derived:\n  x: __import__('os').system('true')\n",
                                    ["derived.x", "only arithmetic"])
FILES["study-derived-huge-constant.yaml"] = (_POINT + "derived:\n  x: 1" + "0" * 400 + " * num_gpus\n",
                                             ["derived.x", "too large"])
FILES["study-derived-nested-parentheses.yaml"] = (_POINT + "derived:\n  x: " + "(" * 300 + "1" + ")" * 300 + "\n",
                                                  ["derived.x"])
FILES["study-derived-swept-key.yaml"] = (_POINT + "sweep:\n  grid:\n    topology.latency: [1 ns, 2 ns]\n"
                                         "derived:\n  topology.latency: 1 + 1\n", ["may not replace a column"])
FILES["study-grid-bomb-value.yaml"] = (_POINT + "sweep:\n  grid:\n    batch: " + _LAUGHS + "\n",
                                       ["expands to more than"])
_FILE_COMMANDS = {
    "model": ["simulate --model {file} --batch 8 --topology torus-2d --gpus 4 --trace {out}/trace.json",
              "traffic --model {file} --gpus 4 --batch 8 --samples-per-epoch 1000"],
    "topology": ["collective --op all-reduce --size 1MiB --topology {file}",
                 "simulate --model resnet18-cifar --batch 8 --topology {file} --trace {out}/trace.json"],
    "perturbations": [f"{_SIM} --engine des --perturbations {{file}} --trace {{out}}/trace.json"],
    "study": ["sweep {file} --out {out}/sweep --workers 1 --quiet"],
}
FILE_CASES = [(name, template) for name in FILES for template in _FILE_COMMANDS[name.split("-", 1)[0]]]


@pytest.mark.parametrize(("name", "template"), FILE_CASES,
                         ids=[f"{n}-{t.split()[0]}" for n, t in FILE_CASES])
def test_counts_and_edges_in_files_give_one_error_line(capsys, tmp_path, name, template):
    text, fragments = FILES[name]
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    line = _run(capsys, _argv(template, file, out), out, fragments)
    assert str(file) in line, f"the message does not name the file: {line}"


def test_the_generated_corpus_is_large_enough():
    """Issue 13 asks for hundreds of new file x command cases beside the hand-written corpus."""
    total = len(YAML_CASES) + len(JSON_CASES) + len(ARGUMENTS) + len(FILE_CASES)
    assert total >= 250, total


def test_every_limit_is_documented():
    """docs/limits.md lists every bound the modules declare (a MAX_ or MIN_ constant)."""
    import importlib
    import inspect
    import re

    text = (REPO / "docs" / "limits.md").read_text(encoding="utf-8")
    modules = ["simtrain.inputs", "simtrain.config", "simtrain.limits", "simtrain.units", "simtrain.errors",
               "simtrain.model.loader", "simtrain.study.spec", "simtrain.study.expr"]
    declared = []
    for name in modules:
        source = inspect.getsource(importlib.import_module(name))
        declared += [f"{name}.{attr}" for attr in re.findall(r"^((?:MAX|MIN)_[A-Z_]+) = (?!units\.|limits\.)",
                                                            source, re.MULTILINE)]
    assert len(declared) >= 15
    assert [name for name in declared if name not in text] == []


# -- what must be accepted -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    "collective --op all-reduce --size 1MiB --topology torus-2d --gpus 16 --algorithm multidim-ring:grid=[4,4]",
    "collective --op all-reduce --size 1MiB --topology torus-2d --gpus 16 --algorithm 'multidim-ring:grid=[4, 4]'",
    "collective --op all-reduce --size 1MiB --topology torus-2d --gpus 4 --algorithm ring:channels=64",
    "collective --op all-reduce --size 1MiB --topology torus-2d --gpus 4 --algorithm 'ring:channels=2'",
])
def test_edge_values_that_are_valid_are_accepted(capsys, argv):
    assert main(shlex.split(argv)) == 0, capsys.readouterr().err


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    """``<<`` merges may repeat keys that the mapping then overrides: that is YAML, not a duplicate."""
    from simtrain.config import load_yaml

    file = tmp_path / "merge.yaml"
    file.write_text("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  x: 3\n", encoding="utf-8")
    assert load_yaml(file)["thing"] == {"x": 3, "y": 2}


def test_a_derived_column_that_overflows_is_recorded_not_computed(tmp_path):
    """``9 ** 9 ** 9 ** 9`` is computed in floats: the point records an overflow instead of hanging."""
    from simtrain.study.point import run_point
    from simtrain.study.spec import study_from_dict

    study = study_from_dict(yaml.safe_load(_POINT + "derived:\n  big: 9 ** 9 ** 9 ** 9\n  ok: num_gpus * 2\n"))
    row = run_point(study.points[0], seed=0, derived=study.derived_functions())
    assert row["status"] == "ok"
    assert row["big"] is None and "derived.big" in row["error"]
    assert row["ok"] == 8.0


# -- the bombs in real processes, under resource limits ------------------------------------------------------------

def _limits() -> None:   # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


BOMBS = [
    ("topology-alias-bomb.yaml", "collective --op all-reduce --size 1MiB --topology {file}", "expands to more than"),
    ("study-alias-bomb.yaml", "sweep {file} --out {out}/sweep --workers 1 --quiet", "expands to more than"),
    ("gzip-bomb.json.gz", "place --graph {file} --devices 2 --out {out}/plan.json", "inflates to more than"),
    ("json-nested-200000-deep.json", f"{_SIM} --profile {{file}}", "nested more than 100 levels"),
    ("fifo.yaml", f"{_SIM} --engine des --perturbations {{file}}", "a FIFO"),
    ("/dev/zero", "place --graph {file} --devices 2 --out {out}/plan.json", "a character device"),
    ("/dev/zero", f"{_SIM} --scheme ab-training:rank_profile={{file}}", "a character device"),
    (None, f"{_COLL} --algorithm ring:channels=1000000", "at most 64"),
    (None, "sweep studies/quickstart.yaml --out {out}/sweep --workers 100000", "at most 256"),
    (None, f"{_TRAFFIC} --gpus 1000000000", "at most 262144"),
]


@pytest.mark.subprocess
@pytest.mark.parametrize(("name", "template", "fragment"), BOMBS, ids=[f"{n}-{t.split()[0]}" for n, t, _ in BOMBS])
def test_bombs_in_a_limited_process(tmp_path, corpus, name, template, fragment):
    file = None
    if name is not None:
        file = Path(name) if name.startswith("/") else (
            _special_file(corpus, "fifo", ".yaml") if name == "fifo.yaml" else corpus / name)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "simtrain", *_argv(template, file, out)], capture_output=True,
                          text=True, timeout=300, check=False, preexec_fn=_limits, cwd=REPO,
                          stdin=subprocess.DEVNULL)
    line = one_error_line(proc.returncode, proc.stdout, proc.stderr, [fragment])
    if file is not None:
        assert str(file) in line
    assert sorted(out.rglob("*")) == []
