"""``simtrain place``: the issue's commands, plan files, the comparison table, and bad input (exit 2)."""

from __future__ import annotations

import argparse
import json
import sys

import pytest

import simtrain.cli
from simtrain.cli.place import add_parser, run
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.placement import OpGraph, make_devices, read_plan


def _wired() -> bool:
    try:
        simtrain.cli.build_parser().parse_args(["place", "--help"])
    except SystemExit:
        return True
    except ConfigError:
        return False
    return False


def place_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``simtrain.cli.main(["place", ...])`` once ``place`` is wired in; until then the same handling here."""
    if _wired():
        capsys.readouterr()
        code = simtrain.cli.main(["place", *argv])
    else:
        parser = simtrain.cli._Parser(prog="simtrain")
        add_parser(parser.add_subparsers(dest="command", parser_class=simtrain.cli._Parser))
        try:
            code = run(parser.parse_args(["place", *argv]))
        except (ConfigError, InfeasibleError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 2
    out, err = capsys.readouterr()
    return code, out, err


def test_inception_example_from_the_issue(capsys):
    code, out, err = place_cli(capsys, "--model", "inception-v3", "--batch", "64", "--devices", "4",
                               "--device-type", "v100", "--memory", "6.44GiB", "--algorithm", "m-etf")
    assert code == 0 and err == ""
    assert out.startswith("inception-v3: ") and "step time" in out and out.count("device ") >= 4


def test_catalog_gnmt_model_places(capsys):
    """``--model gnmt``: the catalog's layer-level GNMT (its DAG), not the profiled op graph of ``--graph``."""
    code, out, err = place_cli(capsys, "--model", "gnmt", "--batch", "128", "--devices", "4", "--memory", "4GiB",
                               "--algorithm", "m-etf", "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["graph"]["name"] == "gnmt" and doc["graph"]["num_ops"] == 36
    assert doc["predicted_step_time_s"] >= doc["critical_path_s"] > 0


def test_gnmt_example_from_the_issue(capsys, tmp_path):
    """The README's example, on the graph shipped in the package (by its name, so from any folder)."""
    plan_path, png = tmp_path / "plan.json", tmp_path / "plan.png"
    code, _, err = place_cli(capsys, "--graph", "baechi-gnmt", "--devices", "4", "--memory", "4GiB", "--algorithm",
                               "m-sct", "--out", str(plan_path), "--plot", str(png))
    assert code == 0 and err == ""
    doc = json.loads(plan_path.read_text())
    assert doc["algorithm"] == "m-sct" and doc["params"]["threshold"] == 0.1
    assert len(doc["placement"]) == doc["graph"]["num_ops"] == 2494
    assert all(d["peak_memory_bytes"] <= 4 * 2**30 for d in doc["per_device"])
    assert doc["predicted_step_time_s"] >= doc["critical_path_s"] > 0
    assert doc["info"]["lp_makespan_s"] > 0 and doc["placement_time_s"] > 0
    assert png.stat().st_size > 10_000


def test_all_prints_a_comparison_table(capsys):
    code, out, _ = place_cli(capsys, "--model", "resnet18-cifar", "--devices", "2", "--memory", "8GiB",
                             "--algorithm", "all", "--json")
    assert code == 0
    doc = json.loads(out)
    names = [row["algorithm"] for row in doc["results"]]
    assert names == ["single", "expert", "round-robin", "m-topo", "m-etf", "m-sct"]   # too big for exact
    for row in doc["results"]:
        assert row["step_time_s"] >= doc["critical_path_s"]
    code, out, _ = place_cli(capsys, "--model", "resnet18-cifar", "--devices", "2", "--algorithm", "all")
    assert code == 0 and "m-sct" in out and "/ crit. path" in out


def test_plan_file_round_trip(tmp_path):
    g = OpGraph.from_edges([1.0, 2.0, 1.0], {(0, 1): 0.5, (0, 2): 0.5})
    from simtrain.placement import place

    plan = place(g, make_devices(2), "m-etf")
    plan.save(tmp_path / "p.json")
    doc = read_plan(tmp_path / "p.json", g)
    assert doc["device"].tolist() == plan.device.tolist()
    assert [row[0] for row in doc["schedule"]] == ["0", "1", "2"]
    other = OpGraph.from_edges([1.0, 2.0, 1.5], {(0, 1): 0.5, (0, 2): 0.5})
    with pytest.raises(ConfigError, match="another graph"):
        read_plan(tmp_path / "p.json", other)


@pytest.mark.parametrize(("argv", "match"), [
    (["--model", "inception-v3", "--devices", "4", "--memory", "0.5GiB"], "short by"),
    (["--model", "inception-v3", "--devices", "4", "--memory", "5"], "--memory"),
    (["--model", "incepton-v3", "--devices", "4"], "did you mean 'inception-v3'"),
    (["--model", "inception-v3", "--devices", "4", "--algorithm", "m-etff"], "did you mean 'm-etf'"),
    (["--model", "inception-v3", "--devices", "0"], "positive integer"),
    (["--model", "inception-v3", "--devices", "2", "--memory-model", "kept"], "--memory-model"),
    (["--model", "inception-v3", "--devices", "2", "--engine", "fast"], "--engine"),
    (["--model", "inception-v3", "--devices", "2", "--device-type", "v1000"], "v100"),
    (["--model", "inception-v3", "--devices", "2", "--algorithm", "exact"], "at most"),
    (["--graph", "/nonexistent/graph.json", "--devices", "2"], "file not found"),
    (["--devices", "2"], "required"),
])
def test_bad_input_is_one_error_line_and_exit_2(capsys, argv, match):
    code, out, err = place_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and match in err


def test_existing_output_needs_force(capsys, tmp_path):
    target = tmp_path / "plan.json"
    target.write_text("{}")
    code, _, err = place_cli(capsys, "--model", "resnet18-cifar", "--devices", "2", "--out", str(target))
    assert code == 2 and "--force" in err
    code, _, _ = place_cli(capsys, "--model", "resnet18-cifar", "--devices", "2", "--out", str(target), "--force")
    assert code == 0 and json.loads(target.read_text())["schema"] == "simtrain.placement.plan/1"


def test_add_parser_contract():
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["place", "--model", "alexnet", "--devices", "2"])
    assert args.func is run and args.algorithm == "m-etf"
