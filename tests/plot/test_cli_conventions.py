"""Issue 17's smaller points: --help shows defaults, --degrade names the nodes in short, per-GPU bytes per class,
busiest links in the order of their utilisation, the packaging files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from simtrain.cli import build_parser, main
from simtrain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _help(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return " ".join(sub.choices[command].format_help().split())


def test_help_shows_defaults_but_not_empty_ones():
    text = _help("plot")
    assert ("--model MODEL traffic/bandwidth: catalog model, YAML path or module:PATH.py[:FACTORY] "
            "(default: resnet50)") in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: 50000)" in _help("plot")


def test_degrade_error_names_nodes_in_ranges_with_a_hint(capsys):
    code = main(["simulate", "--model", "resnet18-cifar", "--topology", "abci", "--gpus", "16", "--engine", "des",
                 "--degrade", "leaf->spine:0.5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "did you mean 'leaf0'?" in err
    assert "gpu0 … gpu15, node0.switch … node3.switch, node0.nic0 … node3.nic1, leaf0, spine" in err
    assert "gpu7, gpu8" not in err   # not every GPU name


def test_resolve_links_error_is_a_config_error_naming_the_key():
    from simtrain.network.perturb import resolve_links
    from simtrain.topology import load_topology

    with pytest.raises(ConfigError) as info:
        resolve_links(load_topology("cloud-25g", gpus=64), "node9.nic0", key="degraded")
    assert info.value.key == "degraded" and "node0.nic0 … node7.nic0" in str(info.value)


def test_collective_bytes_per_gpu_by_class_is_the_total_over_ranks():
    from simtrain.collectives import collective_time
    from simtrain.topology import load_topology

    result = collective_time("all-reduce", "64 MiB", load_topology("abci", gpus=16), "hierarchical")
    per_gpu = result.bytes_per_gpu_by_class
    assert set(per_gpu) == set(result.bytes_by_class) == {"intra-node", "inter-node"}
    for name, total in result.bytes_by_class.items():
        assert per_gpu[name] * result.num_ranks == pytest.approx(total, rel=1e-12)
    assert result.to_dict()["bytes_per_gpu_by_link_class"] == per_gpu


def test_busiest_links_come_in_the_order_of_utilisation():
    from simtrain.training import simulate

    report = simulate("resnet18-cifar", "abci", gpus=16, batch=32, algorithm="hierarchical")
    links = report.timeline.busiest_links(report.step_time_s, count=200)
    utilization = [row["utilization"] for row in links]
    assert utilization == sorted(utilization, reverse=True) and utilization[0] > 0
    assert utilization[0] == pytest.approx(report.max_link_utilization, rel=1e-9)
    # the orders differ here: an NVLink link carries the most bytes, a NIC is the most utilised
    assert links[0]["link_class"] == "inter-node"
    assert max(links, key=lambda row: row["bytes"])["link_class"] == "intra-node"
    assert np.all(np.diff(utilization) <= 0)


def test_packaging_files():
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "simtrain developers" in license_text
    manifest = (ROOT / "MANIFEST.in").read_text().splitlines()
    assert "recursive-include tests *" in manifest
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(re.match(r"pyarrow\b", req) for req in extras["parquet"])


def test_the_shipped_gnmt_graph_is_package_data_and_places(capsys):
    from importlib.resources import files

    folder = files("simtrain.placement") / "data" / "baechi-gnmt"
    assert "University of Illinois" in (folder / "LICENSE").read_text()
    from simtrain.placement.build import load_graph

    graph = load_graph(str(folder / "graph.json.gz"))
    assert graph.name == "baechi-gnmt-v2-forward" and graph.num_ops == 2494
    assert load_graph("baechi-gnmt").num_ops == 2494              # also by its name, from any folder
    tomllib = pytest.importorskip("tomllib")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "placement/data/*/*" in package_data["simtrain"]
