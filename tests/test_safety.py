"""Safety: configs are data (no eval, exec, pickle or unsafe YAML in the package), and no command overwrites an
existing output file or folder without ``--force`` (a sweep resuming its own folder is not an overwrite)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from simtrain import config
from simtrain.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "simtrain"
SOURCES = sorted(PACKAGE.rglob("*.py"))
SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "_SafeLoader", "_TextLoader"}   # the last two: tested below
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "cloudpickle", "joblib"}


def _calls(tree: ast.AST) -> list[tuple[ast.Call, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                out.append((node, func.id))
            elif isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else "?"
                out.append((node, f"{owner}.{func.attr}"))
    return out


def test_the_source_tree_is_scanned():
    assert len(SOURCES) > 50 and PACKAGE / "config.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_eval_exec_pickle_or_unsafe_yaml(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = []
    for node, name in _calls(tree):
        where = f"{path.name}:{node.lineno}"
        if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            problems.append(f"{where}: {name}()")
        if name in ("yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all",
                    "yaml.full_load_all"):
            problems.append(f"{where}: {name}()")
        if name == "yaml.load":
            loader = next((k.value for k in node.keywords if k.arg == "Loader"),
                          node.args[1] if len(node.args) > 1 else None)
            loader_name = loader.id if isinstance(loader, ast.Name) else getattr(loader, "attr", None)
            if loader_name not in SAFE_LOADERS:
                problems.append(f"{where}: yaml.load without a safe Loader")
        if name.endswith(("torch.load", ".read_pickle")) or name in ("np.load", "numpy.load"):
            problems.append(f"{where}: {name}() can unpickle")
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module.split(".")[0]]
        problems += [f"{path.name}:{node.lineno}: imports {m}" for m in modules if m in UNSAFE_MODULES]
    assert problems == []


def test_the_yaml_loader_is_a_safe_one():
    # a safe loader (libyaml's when present) whose only change is YAML 1.2's numbers: no constructor of Python
    # objects is added, and the number constructors are the safe ones plus the core-schema int
    safe = (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert issubclass(config._SafeLoader, safe)
    ours, theirs = config._SafeLoader.yaml_constructors, yaml.SafeLoader.yaml_constructors
    assert set(ours) == set(theirs)
    int_tag = "tag:yaml.org,2002:int"
    # every constructor the safe loader's own object, but the core schema's int
    assert all(ours[tag] is theirs[tag] for tag in theirs if tag != int_tag)
    assert ours[int_tag] is config._core_int
    # the command line's loader is the file loader with one more float form (1e-3), and no constructor of its own
    assert issubclass(config._TextLoader, config._SafeLoader)
    assert config._TextLoader.yaml_constructors == ours


def test_python_tags_are_refused_by_every_yaml_reader(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"a: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(config.ConfigError, match="malformed YAML"):
        config.load_yaml(path)
    _key, value = config.parse_override(f"a=!!python/object/apply:os.system ['touch {marker}']")
    assert isinstance(value, str)
    assert not marker.exists()


# -- no overwriting without --force -----------------------------------------------------------------------------
SENTINEL = "precious: do not overwrite\n"
SIM = ["simulate", "--model", "resnet18-cifar", "--topology", "torus-2d", "--gpus", "4", "--batch", "8"]


def _refused(capsys, argv: list[str], *paths: Path) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    for path in paths:
        if path.is_file():
            assert path.read_text() == SENTINEL
    return lines[0]


def _existing(path: Path) -> Path:
    path.write_text(SENTINEL)
    return path


def test_simulate_trace_is_not_overwritten(capsys, tmp_path):
    trace = _existing(tmp_path / "trace.json")
    line = _refused(capsys, [*SIM, "--trace", str(trace)], trace)
    assert "--trace" in line and "--force" in line
    assert main([*SIM, "--trace", str(trace), "--force"]) == 0
    assert trace.read_text() != SENTINEL


@pytest.mark.parametrize("existing", ["links.png", "links.csv"])
def test_plot_out_is_not_overwritten(capsys, tmp_path, existing):
    target = _existing(tmp_path / existing)
    line = _refused(capsys, ["plot", "links", "--topology", "torus-2d", "--gpus", "4", "--out",
                             str(tmp_path / "links.png")], target)
    assert "--out" in line and "--force" in line


@pytest.mark.parametrize("flag", ["--out", "--plot"])
def test_place_outputs_are_not_overwritten(capsys, tmp_path, flag):
    target = _existing(tmp_path / ("plan.json" if flag == "--out" else "plan.png"))
    argv = ["place", "--model", "resnet18-cifar", "--devices", "2", flag, str(target)]
    line = _refused(capsys, argv, target)
    assert flag in line and "--force" in line
    assert main([*argv, "--force"]) == 0
    assert target.read_bytes() != SENTINEL.encode()


def test_calibrate_out_is_not_overwritten(capsys, tmp_path):
    target = _existing(tmp_path / "profile.json")
    line = _refused(capsys, ["calibrate", "--backend", "numpy", "--quick", "--out", str(target)], target)
    assert "--out" in line and "--force" in line


def test_calibrate_check_plot_is_not_overwritten(capsys, tmp_path):
    target = _existing(tmp_path / "check.png")
    line = _refused(capsys, ["calibrate", "--check", "cpu-numba", "--plot", str(target)], target)
    assert "--plot" in line and "check.png" in line and "--force" in line


def _study(path: Path, batch: int) -> Path:
    path.write_text(f"name: s{batch}\nbase: {{model: resnet18-cifar, topology: torus-2d, gpus: 4, batch: {batch}}}\n")
    return path


def test_sweep_out_of_another_study_is_not_overwritten(capsys, tmp_path):
    out = tmp_path / "results"
    first, second = _study(tmp_path / "a.yaml", 8), _study(tmp_path / "b.yaml", 16)
    assert main(["sweep", str(first), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    table = (out / "results.csv").read_text()
    capsys.readouterr()
    line = _refused(capsys, ["sweep", str(second), "--out", str(out), "--workers", "1", "--quiet"])
    assert "--out" in line and "another study" in line and "--force" in line
    assert (out / "results.csv").read_text() == table
    # the same study again resumes its own folder: not an overwrite
    assert main(["sweep", str(first), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert (out / "results.csv").read_text() == table
    assert main(["sweep", str(second), "--out", str(out), "--workers", "1", "--quiet", "--force"]) == 0
    assert (out / "results.csv").read_text() != table


def test_sweep_into_a_folder_of_other_files_is_refused(capsys, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    keep = _existing(out / "notes.txt")
    line = _refused(capsys, ["sweep", str(_study(tmp_path / "a.yaml", 8)), "--out", str(out), "--workers", "1",
                             "--quiet"], keep)
    assert "not empty" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
