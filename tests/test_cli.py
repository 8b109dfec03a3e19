"""The command line, in-process (fast) and in a few real subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simtrain.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _readme_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [block.split("```")[0] for block in text.split("```console\n")[1:]]


def test_readme_has_a_marked_worked_example():
    text = README.read_text(encoding="utf-8")
    assert "<!-- worked-example:" in text and len(_readme_examples()) >= 3


@pytest.mark.parametrize("block", _readme_examples(), ids=lambda b: b.split("\n")[0][:60])
def test_readme_console_examples_print_exactly_what_they_show(capsys, tmp_path, monkeypatch, block):
    monkeypatch.chdir(tmp_path)  # examples may write files (traces)
    command, *expected = block.strip("\n").split("\n")
    assert command.startswith("$ simtrain ")
    code, out, err = run(capsys, *command[len("$ simtrain "):].split())
    assert code == 0 and err == ""
    assert out.strip("\n").split("\n") == expected


def test_collective_json_has_time_and_link_classes(capsys):
    code, out, _ = run(capsys, "collective", "--op", "all-reduce", "--algorithm", "ring", "--topology",
                       "torus-8x8", "--size", "1GiB", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["time_s"] > 0
    assert set(data["bytes_per_gpu_by_link_class"]) == {"dim0", "dim1"}
    assert data["busbw_Bps"] == pytest.approx(data["algbw_Bps"] * 2 * 63 / 64)


def test_collective_topology_from_a_yaml_path(capsys, tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text("name: s\nkind: stack\ndevice: h100\ndimensions:\n"
                    "  - {kind: ring, size: 4, bandwidth: 100 GiB/s, latency: 500 ns}\n"
                    "  - {kind: switch, size: 2, bandwidth: 25 GiB/s, latency: 500 ns}\n")
    code, out, _ = run(capsys, "collective", "--op", "all-reduce", "--algorithm", "multidim-ring",
                       "--topology", str(path), "--size", "64MiB", "--json")
    n, g = 64 * 2**20, 2**30
    expected = 2 * 3 * (500e-9 + n / 4 / (100 * g)) + 2 * 1 * (1000e-9 + n / 4 / 2 / (25 * g))
    assert code == 0 and json.loads(out)["time_s"] == pytest.approx(expected, rel=1e-9)


def test_network_charges_and_overrides(capsys):
    base = json.loads(run(capsys, "collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size",
                          "1GiB", "--json")[1])["time_s"]
    charged = json.loads(run(capsys, "collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size",
                             "1GiB", "--set", "network.endpoint_delay=10ns", "--json")[1])["time_s"]
    assert charged == pytest.approx(base + 2 * 63 * 10e-9, rel=1e-9)
    faster = json.loads(run(capsys, "collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size",
                            "1GiB", "--set", "topology.bandwidth=100 GiB/s", "--json")[1])["time_s"]
    assert faster < base


def test_algorithm_parameters_on_the_command_line(capsys):
    one = json.loads(run(capsys, "collective", "--op", "all-reduce", "--algorithm", "ps:servers=1",
                         "--topology", "cloud-25g", "--size", "100MB", "--json")[1])["time_s"]
    many = json.loads(run(capsys, "collective", "--op", "all-reduce", "--algorithm", "ps",
                          "--set", "algorithm.servers=16", "--topology", "cloud-25g", "--size", "100MB",
                          "--json")[1])["time_s"]
    assert many < one


def test_simulate_json_fields(capsys):
    code, out, _ = run(capsys, "simulate", "--model", "resnet50", "--topology", "abci", "--gpus", "64",
                       "--batch", "32", "--algorithm", "multidim-ring", "--dtype", "fp16", "--json")
    data = json.loads(out)
    assert code == 0
    for key in ("step_time_s", "forward_time_s", "backward_time_s", "comm_time_s", "exposed_comm_time_s",
                "bytes_per_gpu", "bytes_per_gpu_intra-node", "bytes_per_gpu_inter-node",
                "throughput_samples_per_s", "scaling_efficiency", "memory_per_gpu_bytes"):
        assert key in data
    assert data["num_gpus"] == 64 and data["config"]["dtype"] == "fp16"


@pytest.mark.parametrize("what", ["models", "topologies", "algorithms", "devices"])
def test_list(capsys, what):
    code, out, _ = run(capsys, "list", what, "--json")
    items = json.loads(out)
    assert code == 0 and items
    if what == "models":
        resnet = next(i for i in items if i["name"] == "resnet50")
        assert resnet["params"] == 25_557_032
        assert resnet["forward_flops_per_sample"] == pytest.approx(2 * 4.089e9, rel=1e-3)


BAD = [
    (["collective", "--op", "all-reduc", "--topology", "torus-8x8", "--size", "1GiB"], r"did you mean 'all-reduce'"),
    (["collective", "--op", "all-reduce", "--topology", "torus2d", "--size", "1GiB"], r"did you mean 'torus-2d'"),
    (["collective", "--op", "all-reduce", "--topology", "nope.yaml", "--size", "1GiB"], r"nope.yaml.*not found"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1"], r"--size: .*no unit"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "0GiB"], r"positive"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--gpus", "32"],
     r"fixed size of 64"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--algorithm", "rng"],
     r"did you mean 'ring'"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--set",
      "topology.bandwidth=25"], r"<cli>: --set topology.bandwidth: .*no unit"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--set",
      "topology.bandwidth=-5 GB/s"], r"bandwidth: must be positive"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--set", "foo=1"],
     r"--set"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--set",
      "network.endpoint_dela=1ns"], r"did you mean 'endpoint_delay'"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--set",
      "topology.bandwith=1GB/s"], r"unknown key.*did you mean 'bandwidth'"),
    (["collective", "--op", "broadcast", "--topology", "torus-8x8", "--size", "1GiB", "--algorithm",
      "multidim-ring"], r"not implemented"),
    (["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB", "--engine", "ns3"],
     r"unknown engine"),
    (["simulate", "--model", "resnt50", "--topology", "abci"], r"did you mean 'resnet50'"),
    (["simulate", "--model", "resnet50", "--topology", "abci", "--gpus", "10"], r"multiple of gpus_per_node"),
    (["simulate", "--model", "resnet50", "--topology", "abci", "--batch", "512"], r"short by"),
    (["simulate", "--model", "resnet50", "--topology", "abci", "--batch", "0"], r"--batch"),
    (["simulate", "--model", "resnet50", "--topology", "abci", "--dtype", "bf16"], r"not supported"),
    (["list", "modls"], r"did you mean 'models'"),
    (["bogus"], r"error: "),
]


@pytest.mark.parametrize(("argv", "pattern"), BAD)
def test_bad_input_is_one_error_line_and_exit_2(capsys, argv, pattern):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err


def test_malformed_topology_yaml(capsys, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nkind: [unclosed\n")
    code, _, err = run(capsys, "collective", "--op", "all-reduce", "--topology", str(path), "--size", "1GiB")
    assert code == 2 and "broken.yaml" in err and "malformed YAML" in err and "line" in err


@pytest.mark.subprocess
def test_console_script_and_module_run_for_real(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "simtrain", "collective", "--op", "all-reduce", "--topology",
                         "torus-2d", "--gpus", "16", "--size", "1GiB", "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["num_ranks"] == 16
    bad = subprocess.run([sys.executable, "-m", "simtrain", "simulate", "--model", "resnt50", "--topology", "abci"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1


def test_simulate_with_the_des_and_a_straggler_writes_a_trace(capsys, tmp_path):
    trace = tmp_path / "step.json"
    code, out, err = run(capsys, "simulate", "--model", "resnet18-cifar", "--topology", "cloud-25g", "--gpus", "16",
                         "--batch", "64", "--engine", "des", "--straggler", "3:1.5", "--trace", str(trace), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["engine"] == "des" and data["perturbation_cost_s"] > 0
    assert data["config"]["perturbations"]["stragglers"] == {"3": 1.5}
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e["pid"] == 3 and e["name"] == "forward" for e in events)
    # an existing output is never overwritten without --force
    code, out, err = run(capsys, "simulate", "--model", "resnet18-cifar", "--topology", "cloud-25g", "--gpus",
                         "16", "--engine", "des", "--trace", str(trace))
    assert code == 2 and "overwrite" in err and out == ""


def test_perturbations_from_yaml(capsys, tmp_path):
    path = tmp_path / "what-if.yaml"
    path.write_text("stragglers: [{rank: 1, factor: 2}]\ndegraded_links: [{link: node0.nic0, factor: 0.5}]\n")
    code, out, _ = run(capsys, "simulate", "--model", "resnet18-cifar", "--topology", "cloud-25g", "--gpus", "16",
                       "--engine", "des", "--perturbations", str(path), "--json")
    assert code == 0 and json.loads(out)["perturbation_cost_s"] > 0
    path.write_text("stragglers: [{rank: 1, factr: 2}]\n")
    code, _, err = run(capsys, "simulate", "--model", "resnet18-cifar", "--topology", "cloud-25g", "--gpus", "16",
                       "--engine", "des", "--perturbations", str(path))
    assert code == 2 and "what-if.yaml" in err and "'factr' a misspelling? did you mean 'factor'" in err


def test_des_only_options_need_the_des(capsys):
    code, _, err = run(capsys, "simulate", "--model", "resnet50", "--topology", "abci", "--straggler", "1:2")
    assert code == 2 and "--engine" in err
    code, _, err = run(capsys, "collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB",
                       "--store-and-forward")
    assert code == 2 and "des" in err


def test_collective_with_the_des(capsys):
    a = json.loads(run(capsys, "collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB",
                       "--algorithm", "multidim-ring", "--json")[1])
    d = json.loads(run(capsys, "collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1GiB",
                       "--algorithm", "multidim-ring", "--engine", "des", "--json")[1])
    assert d["engine"] == "des" and d["time_s"] == pytest.approx(a["time_s"], rel=1e-9)


def test_plot_links(capsys, tmp_path):
    out = tmp_path / "links.png"
    code, _, err = run(capsys, "plot", "links", "--topology", "torus-2d", "--gpus", "16", "--algorithm",
                             "ring", "--size", "256MiB", "--out", str(out))
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, "plot", "links", "--topology", "abci", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "torus" in err and not (tmp_path / "x.png").exists()


def test_traffic_json_fields(capsys):
    code, out, err = run(capsys, "traffic", "--model", "resnet18-cifar", "--gpus", "16", "--batch", "128",
                         "--samples-per-epoch", "50000", "--epochs", "1", "--scheme", "powersgd:rank=1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["baseline_payload_bytes_per_epoch_per_gpu"] / 2**20 == pytest.approx(1023.0, abs=0.05)
    assert round(data["reduction_factor"]) == 243
    assert data["payload_bytes_per_epoch_per_gpu"] == pytest.approx(
        data["baseline_payload_bytes_per_epoch_per_gpu"] / data["reduction_factor"])


def test_traffic_per_link_class(capsys):
    code, out, _ = run(capsys, "traffic", "--model", "resnet50", "--gpus", "16", "--batch", "32",
                       "--samples-per-epoch", "100000", "--scheme", "mstopk:density=0.01", "--topology", "cloud-25g",
                       "--json")
    data = json.loads(out)
    assert code == 0
    assert data["wire_bytes_per_epoch_per_gpu_inter-node"] < data["baseline_wire_bytes_per_epoch_per_gpu_inter-node"]
    assert data["reduction_percent_inter-node"] > 90


def test_simulate_with_a_scheme_reports_phases(capsys):
    code, out, _ = run(capsys, "simulate", "--model", "resnet50", "--topology", "cloud-25g", "--gpus", "32",
                       "--scheme", "local-sgd:period=4", "--json")
    data = json.loads(out)
    assert code == 0 and data["scheme"] == "local-sgd"
    assert data["phase_steps_per_period"] == {"local": 3, "sync": 1}
    mean = (3 * data["phase_step_times_s"]["local"] + data["phase_step_times_s"]["sync"]) / 4
    assert data["step_time_s"] == pytest.approx(mean, rel=1e-12)


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [(["traffic", "--model", "resnet50", "--gpus", "8", "--batch", "32", "--samples-per-epoch", "100",
       "--scheme", "topk"], "less than one step"),
     (["traffic", "--model", "resnet50", "--gpus", "8", "--batch", "32", "--samples-per-epoch", "100000",
       "--scheme", "topk:density=2"], r"<cli>: --scheme topk:density: "),
     (["traffic", "--model", "resnet50", "--gpus", "8", "--batch", "32", "--samples-per-epoch", "100000",
       "--scheme", "local-sgd:period=0"], "at least 1"),
     (["traffic", "--model", "resnet50", "--gpus", "8", "--batch", "32", "--samples-per-epoch", "100000",
       "--scheme", "powersgd:rank=5000"], r"min\(m, n\)"),
     (["simulate", "--model", "resnet50", "--topology", "abci", "--scheme", "topkk"], "did you mean 'topk'"),
     (["plot", "traffic", "--model", "resnet50", "--schemes", "topk", "--sweep", "rank=1,2", "--out", "t.png"],
      "no parameter to sweep")],
)
def test_scheme_bad_input(capsys, tmp_path, monkeypatch, argv, pattern):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and re.search(pattern, err), err
    assert not list(tmp_path.iterdir())  # no partial output


def test_plot_traffic_and_bandwidth_write_figure_and_csv(capsys, tmp_path):
    out = tmp_path / "traffic.png"
    code, _, err = run(capsys, "plot", "traffic", "--model", "resnet18-cifar", "--schemes", "powersgd,cuttlefish",
                       "--sweep", "rank=1,4", "--out", str(out))
    assert code == 0, err
    import pandas as pd

    frame = pd.read_csv(out.with_suffix(".csv"))
    assert set(frame["scheme"]) == {"powersgd", "cuttlefish"} and len(frame) == 4
    assert out.read_bytes()[:4] == b"\x89PNG"
    bw = tmp_path / "bw.svg"
    code, _, err = run(capsys, "plot", "bandwidth", "--model", "resnet18-cifar", "--topology", "cloud-25g",
                       "--gpus", "16", "--schemes", "none,powersgd:rank=2", "--bandwidths", "1Gbit/s,100Gbit/s",
                       "--out", str(bw))
    assert code == 0, err
    frame = pd.read_csv(bw.with_suffix(".csv"))
    slow = frame[frame["bandwidth_Bps"] == frame["bandwidth_Bps"].min()]
    assert slow.set_index("scheme")["step_time_s"]["powersgd:rank=2"] < slow.set_index("scheme")["step_time_s"]["none"]
    assert bw.read_text().startswith("<?xml")


# --- the package: one module per command, Python names mapped to flags in one place -------------------------------
def test_every_command_is_a_module_with_add_parser_and_run():
    import importlib

    from simtrain.cli import COMMANDS, build_parser

    for name in COMMANDS:
        module = importlib.import_module(f"simtrain.cli.{name}")
        assert callable(module.add_parser) and callable(module.run), name
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert set(subcommands) == {"collective", "simulate", "sweep", "quickstart", "plot", "calibrate", "gemm", "layer",
                                "traffic", "list", "place", "validate", "import-trace", "parallelize", "train",
                                "time-to-accuracy"}


def test_nothing_outside_the_cli_imports_it():
    import ast

    package = Path(__file__).resolve().parents[1] / "simtrain"
    offenders = []
    for path in package.rglob("*.py"):
        if path.is_relative_to(package / "cli") or path == package / "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(package)}: {n}" for n in names if n.split(".")[:2] == ["simtrain", "cli"]]
    assert offenders == []


def test_flag_table_is_built_from_the_parser():
    from simtrain.cli import build_parser
    from simtrain.cli._common import flag_table

    tables = flag_table(build_parser())
    assert tables["simulate"]["bucket_size"] == "--bucket-size"
    assert tables["plot"]["samples_per_epoch"] == "--samples-per-epoch"
    assert tables["calibrate"]["dtypes"] == "--dtypes"
    assert tables["place"]["device_type"] == "--device-type"
    assert "help" not in tables["simulate"] and "kind" not in tables["plot"]   # positionals have no flag


@pytest.mark.parametrize(("key", "shown"), [
    ("bucket_size", "--bucket-size"),
    ("scheme powersgd:rank", "--scheme powersgd:rank"),
    ("network.protocol", "--set network.protocol"),
    ("algorithm.servers", "--set algorithm.servers"),
    ("bandwidth/latency", "bandwidth/latency"),   # no such flags in simulate: left as the library said it
    ("not_a_flag", "not_a_flag"),
])
def test_a_python_parameter_error_names_the_flag(key, shown):
    from simtrain.cli import build_parser
    from simtrain.cli._common import flag_table, to_cli_error
    from simtrain.errors import ConfigError

    error = to_cli_error(ConfigError("bad", key=key, value=1), flag_table(build_parser())["simulate"])
    assert error.source == "<cli>" and error.key == shown and error.value == 1


def test_an_error_from_a_file_or_the_cli_is_printed_unchanged():
    from simtrain.cli._common import to_cli_error
    from simtrain.errors import ConfigError

    from_file = ConfigError("bad", source="t.yaml", key="batch")
    from_cli = ConfigError("bad", source="<cli>", key="--out")
    assert to_cli_error(from_file, {"batch": "--batch"}) is from_file
    assert to_cli_error(from_cli, {"out": "--out"}) is from_cli


@pytest.mark.parametrize(("argv", "pattern"), [
    (["calibrate", "--backend", "numba", "--dtypes", "fp16"], r"^error: <cli>: --dtypes: the numba backend"),
    (["calibrate", "--backend", "nmba"], r"^error: <cli>: --backend: unknown backend.*did you mean 'numba'"),
    (["calibrate", "--device", "tpu"], r"^error: <cli>: --device: unknown device"),
    (["plot", "bandwidth", "--topology", "cloud-25g", "--bandwidths", "1Gbit/s", "--schemes", "topkk"],
     r"^error: <cli>: --schemes: .*did you mean 'topk'"),
    (["plot", "traffic", "--schemes", "topk", "--sweep", "rank=1"], r"^error: <cli>: --sweep: .*no parameter"),
    (["plot", "bandwidth", "--topology", "cloud-25g", "--bandwidths", "1Gbit"], r"^error: <cli>: --bandwidths: "),
])
def test_library_errors_are_printed_with_the_commands_flags(capsys, tmp_path, argv, pattern):
    out = tmp_path / ("p.json" if argv[0] == "calibrate" else "p.png")
    code, stdout, err = run(capsys, *argv, "--out", str(out))
    assert code == 2 and stdout == "" and re.search(pattern, err), err
    assert not list(tmp_path.iterdir())


@pytest.mark.subprocess
def test_start_up_imports_only_what_the_command_needs():
    code = ("import sys; from simtrain.cli import main; main(['list', 'devices']); "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'scipy', 'numba', 'simpy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_a_network_key_given_as_null_is_unset(capsys):
    """``--set network.KEY=null`` (YAML's null) is the key left out, not a None that breaks a step later."""
    argv = ["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--size", "1MiB", "--json"]
    assert main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    for key in ("endpoint_delay", "local_reduction_bandwidth", "reduction_memory_passes", "protocol", "max_events"):
        assert main([*argv, "--set", f"network.{key}=null"]) == 0, key
        assert json.loads(capsys.readouterr().out)["time_s"] == plain["time_s"], key


def test_traffic_text_names_an_fp8_runs_gradients_bf16(capsys):
    """The fp8 recipe's gradients are bf16 (2 bytes), and the text report says so."""
    from simtrain.cli import main

    assert main(["traffic", "--model", "resnet18-cifar", "--gpus", "16", "--batch", "128", "--samples-per-epoch",
                 "50000", "--epochs", "1", "--dtype", "fp8"]) == 0
    assert "bf16 gradients (the fp8 recipe's)" in capsys.readouterr().out.splitlines()[0]
