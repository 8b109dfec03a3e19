"""Topology YAML files: the catalog at default and chosen sizes, every kind from a file, and precise errors."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from simtrain.catalog import names
from simtrain.errors import ConfigError
from simtrain.topology import load_topology, topology_from_dict
from simtrain.topology.loader import KINDS

# catalog name -> (default GPUs, default grid, a valid other size, its grid)
CATALOG = {
    "abci": (128, (4, 32), 16, (4, 4)),
    "cloud-25g": (128, (8, 16), 16, (8, 2)),
    "dgx-a100": (32, (8, 4), 16, (8, 2)),
    "dgx-h100": (32, (8, 4), 16, (8, 2)),
    "mi300x": (32, (8, 4), 16, (8, 2)),
    "ring-switch": (128, (8, 16), 128, (8, 16)),
    "torus-2d": (64, (8, 8), 32, (4, 8)),
    "torus-3d": (64, (4, 4, 4), 8, (2, 2, 2)),
    "torus-8x8": (64, (8, 8), 64, (8, 8)),
}


def test_the_catalog_is_covered():
    assert sorted(CATALOG) == names("topologies")


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_topology_default_size(name):
    gpus, grid, _, _ = CATALOG[name]
    cluster = load_topology(name)
    assert cluster.num_gpus == gpus
    assert cluster.grid == grid
    assert math.prod(cluster.grid) == cluster.num_gpus
    assert cluster.name == name
    assert cluster.source.endswith(f"{name}.yaml")
    assert np.all(cluster.link_bandwidth_Bps > 0)
    assert np.all(cluster.link_latency_s >= 0)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_topology_at_a_valid_size(name):
    _, _, gpus, grid = CATALOG[name]
    cluster = load_topology(name, gpus=gpus)
    assert cluster.num_gpus == gpus
    assert cluster.grid == grid
    routes = cluster.routes([0, gpus - 1], [gpus - 1, 0])
    assert routes.lengths.min() > 0


def test_torus_2d_at_32_is_4_by_8():
    cluster = load_topology("torus-2d", gpus=32)
    assert cluster.grid == (4, 8)
    assert cluster.num_links == 4 * 8 * 4
    assert np.all(cluster.link_bandwidth_Bps == 50 * 2**30)
    assert np.all(cluster.link_latency_s == 5e-7)
    assert cluster.device == "a100"


def test_torus_3d_at_64_is_cubic():
    assert load_topology("torus-3d", gpus=64).grid == (4, 4, 4)


def test_abci_at_1024():
    cluster = load_topology("abci", gpus=1024)
    assert cluster.grid == (4, 256)
    assert cluster.num_gpus == 1024
    leaves = [n for n in cluster.node_names if n.startswith("leaf")]
    assert len(leaves) == 8  # ceil(256 / 34)
    spine = cluster.node_names.index("spine")
    uplinks = np.sort(cluster.link_bandwidth_Bps[cluster.link_dst == spine])
    # 7 full racks of 34 nodes and one of 18, 2 x 100 Gbit/s each, 3:1 oversubscribed
    assert uplinks.tolist() == pytest.approx([18 * 2 * 12.5e9 / 3] + [34 * 2 * 12.5e9 / 3] * 7, rel=1e-12)
    assert cluster.device == "v100"


def test_dgx_h100_at_64_has_8_nodes():
    cluster = load_topology("dgx-h100", gpus=64)
    assert cluster.grid == (8, 8)
    assert cluster.params["nodes"] == 8
    assert cluster.gpus_per_node == 8
    assert sum(n.endswith(".switch") for n in cluster.node_names) == 8


def test_cloud_25g_at_64_has_8_instances():
    cluster = load_topology("cloud-25g", gpus=64)
    assert cluster.grid == (8, 8)
    assert cluster.params["nodes"] == 8
    assert cluster.flow_rate_cap_Bps == math.inf
    inter = cluster.link_class == cluster.class_names.index("inter-node")
    nic_links = [link for link in np.flatnonzero(inter) if "nic" in cluster.node_names[cluster.link_src[link]]
                 and cluster.node_names[cluster.link_dst[link]].startswith("leaf")]
    assert len(nic_links) == 8
    assert set(cluster.link_bandwidth_Bps[nic_links].tolist()) == {3.125e9}


def test_fixed_size_torus_rejects_another_size():
    with pytest.raises(ConfigError) as info:
        load_topology("torus-8x8", gpus=32)
    message = str(info.value)
    assert "64" in message
    assert "fixed size" in message
    assert info.value.key == "gpus"
    assert info.value.value == 32


def test_fixed_size_stack_rejects_another_size():
    with pytest.raises(ConfigError, match="fixed size of 128 GPUs"):
        load_topology("ring-switch", gpus=64)


@pytest.mark.parametrize("gpus", [10, 6, 2])
def test_abci_needs_a_multiple_of_4(gpus):
    with pytest.raises(ConfigError) as info:
        load_topology("abci", gpus=gpus)
    cut = f"; fewer GPUs than a node are a node of that many: --set topology.gpus_per_node={gpus}" if gpus < 4 else ""
    assert str(info.value) == (
        f"gpus: must be a multiple of gpus_per_node = 4 for topology 'abci'{cut} (got {gpus})"
    )
    if gpus < 4:   # the hint's command runs
        assert load_topology("abci", gpus=gpus, overrides=[("gpus_per_node", gpus)]).num_gpus == gpus


def test_cloud_needs_a_multiple_of_instance_size():
    with pytest.raises(ConfigError, match="multiple of gpus_per_instance = 8"):
        load_topology("cloud-25g", gpus=12)


@pytest.mark.parametrize("gpus", [0, -4, True, 2.0, "8"])
def test_bad_gpu_count(gpus):
    with pytest.raises(ConfigError, match=r"^gpus: must be a positive integer"):
        load_topology("torus-2d", gpus=gpus)


def test_unknown_topology_name():
    with pytest.raises(ConfigError, match=r"did you mean 'torus-2d'\?"):
        load_topology("torus-2e")


# ----------------------------------------------------------------------------------------------------------
# every kind from a file
# ----------------------------------------------------------------------------------------------------------
FILES = {
    "stack": ("""
        name: my-stack
        kind: stack
        device: h100
        description: two dims
        dimensions:
          - {kind: ring, size: 4, bandwidth: 150 GiB/s, latency: 500 ns}
          - {kind: switch, size: 2, bandwidth: 25 GiB/s, latency: 1 us}
          - {kind: fully_connected, size: 3, bandwidth: 10 GB/s, latency: 2 us}
        """, 24, (4, 2, 3)),
    "torus-dims": ("""
        name: t
        kind: torus
        device: a100
        dims: [3, 4]
        bandwidth: 50 GiB/s
        latency: 500 ns
        """, 12, (3, 4)),
    "torus-ndim": ("""
        name: t3
        kind: torus
        device: a100
        ndim: 3
        gpus: 12
        bandwidth: 50 GiB/s
        latency: 500 ns
        """, 12, (2, 2, 3)),
    "ring": ("""
        name: r
        kind: ring
        device: v100
        gpus: 6
        bandwidth: 25 Gbit/s
        latency: 2 us
        """, 6, (6,)),
    "switch": ("""
        name: s
        kind: switch
        device: p40
        gpus: 5
        bandwidth: 10 GB/s
        """, 5, (5,)),
    "fully_connected": ("""
        name: fc
        kind: fully_connected
        device: h200
        gpus: 4
        bandwidth: 100 GB/s
        latency: 1 us
        """, 4, (4,)),
    "hierarchical": ("""
        name: h
        kind: hierarchical
        device: h100
        gpus_per_node: 4
        nodes: 5
        intra_node: {kind: fully_connected, bandwidth: 150 GB/s, latency: 1 us}
        nic: {count: 2, bandwidth: 100 Gbit/s, latency: 1 us}
        pcie: {bandwidth: 16 GB/s, latency: 0.5 us}
        fabric: {nodes_per_rack: 2, oversubscription: 3, latency: 1 us}
        per_flow_cap: 40 Gbit/s
        """, 20, (4, 5)),
    "hierarchical-minimal": ("""
        name: hm
        kind: hierarchical
        device: a100
        gpus_per_node: 2
        nodes: 3
        intra_node: {bandwidth: 150 GB/s}
        nic: {bandwidth: 25 Gbit/s}
        """, 6, (2, 3)),
    "cloud": ("""
        name: c
        kind: cloud
        device: v100
        gpus_per_instance: 4
        instances: 3
        nic_bandwidth: 25 Gbit/s
        intra_bandwidth: 150 GB/s
        per_flow_cap: 10 Gbit/s
        """, 12, (4, 3)),
    "fat_tree": ("""
        name: ft
        kind: fat_tree
        device: h100
        hosts: 10
        bandwidth: 50 GB/s
        latency: 1 us
        hosts_per_leaf: 4
        oversubscription: 2
        """, 10, (10,)),
    "graph": ("""
        name: gr
        kind: graph
        device: h100
        gpus: [g0, g1, g2]
        gpus_per_node: 3
        links:
          - {src: g0, dst: sw, bandwidth: 10 GB/s, latency: 1 us, class: fabric}
          - {src: g1, dst: sw, bandwidth: 10 GB/s, latency: 1 us, class: fabric}
          - {src: g2, dst: sw, bandwidth: 10 GB/s}
          - {src: g0, dst: g1, bandwidth: 50 GB/s, class: nvlink, duplex: false}
        """, 3, (3,)),
}


def write(tmp_path, text, name="topo.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", list(FILES))
def test_every_kind_loads_from_a_file(tmp_path, kind):
    text, gpus, grid = FILES[kind]
    path = write(tmp_path, text)
    cluster = load_topology(path)
    assert cluster.num_gpus == gpus
    assert cluster.grid == grid
    assert cluster.source == str(path)
    assert load_topology(str(path)).num_gpus == gpus


def test_every_kind_has_a_file():
    kinds = set()
    for text, _, _ in FILES.values():
        for line in textwrap.dedent(text).splitlines():
            if line.startswith("kind:"):
                kinds.add(line.split(":", 1)[1].strip())
    assert kinds == set(KINDS)


def test_file_quantities_are_converted(tmp_path):
    cluster = load_topology(write(tmp_path, FILES["ring"][0]))
    assert np.all(cluster.link_bandwidth_Bps == 3.125e9)
    assert np.all(cluster.link_latency_s == 2e-6)
    assert cluster.device == "v100"
    hier = load_topology(write(tmp_path, FILES["hierarchical"][0], "h.yaml"))
    assert hier.flow_rate_cap_Bps == 5e9
    assert hier.params["oversubscription"] == 3.0
    cloud = load_topology(write(tmp_path, FILES["cloud"][0], "c.yaml"))
    assert cloud.flow_rate_cap_Bps == 1.25e9
    graph = load_topology(write(tmp_path, FILES["graph"][0], "g.yaml"))
    assert set(graph.class_names) == {"fabric", "link", "nvlink"}
    assert graph.num_links == 7  # three duplex links and one simplex link
    assert graph.gpus_per_node == 3


def test_scalable_file_kinds_take_a_gpu_count(tmp_path):
    assert load_topology(write(tmp_path, FILES["ring"][0]), gpus=9).grid == (9,)
    assert load_topology(write(tmp_path, FILES["torus-ndim"][0]), gpus=30).grid == (2, 3, 5)
    assert load_topology(write(tmp_path, FILES["hierarchical"][0]), gpus=8).grid == (4, 2)
    assert load_topology(write(tmp_path, FILES["fat_tree"][0]), gpus=7).grid == (7,)
    with pytest.raises(ConfigError, match="fixed size of 3 GPUs"):
        load_topology(write(tmp_path, FILES["graph"][0]), gpus=4)
    with pytest.raises(ConfigError, match="fixed size of 12 GPUs"):
        load_topology(write(tmp_path, FILES["torus-dims"][0]), gpus=16)


# ----------------------------------------------------------------------------------------------------------
# errors from files: each names the file and the key
# ----------------------------------------------------------------------------------------------------------
HIER = FILES["hierarchical"][0]
BAD = [
    ("bandwidth without unit", FILES["ring"][0].replace("25 Gbit/s", "25"), "bandwidth", "no unit"),
    ("bandwidth number without unit", HIER.replace("bandwidth: 100 Gbit/s", "bandwidth: 100"), "nic.bandwidth",
     "bare number"),
    ("negative bandwidth", FILES["switch"][0].replace("10 GB/s", "-10 GB/s"), "bandwidth", "must be positive"),
    ("zero bandwidth", HIER.replace("bandwidth: 150 GB/s", "bandwidth: 0 GB/s"), "intra_node.bandwidth",
     "must be positive"),
    ("zero stack bandwidth", FILES["stack"][0].replace("25 GiB/s", "0 GiB/s"), "dimensions[1].bandwidth",
     "must be positive"),
    ("unknown kind", FILES["ring"][0].replace("kind: ring", "kind: rnig"), "kind", "did you mean 'ring'?"),
    ("unknown dimension kind", FILES["stack"][0].replace("kind: switch", "kind: swtch"), "dimensions[1].kind",
     "did you mean 'switch'?"),
    ("unknown key", FILES["ring"][0] + "latncy: 1 us\n", "latncy", "did you mean 'latency'?"),
    ("unknown nested key", HIER.replace("count: 2", "cout: 2"), "nic.cout", "did you mean 'count'?"),
    ("unknown dimension key", FILES["stack"][0].replace("latency: 2 us", "latency: 2 us, sise: 3"),
     "dimensions[2].sise", "unknown key"),
    ("unknown device", FILES["ring"][0].replace("device: v100", "device: v1000"), "device",
     "did you mean 'v100'?"),
    ("missing key", FILES["ring"][0].replace("bandwidth: 25 Gbit/s", ""), "bandwidth", "missing required key"),
    ("missing nested key", HIER.replace("nic: {count: 2, bandwidth: 100 Gbit/s, latency: 1 us}",
                                        "nic: {count: 2, latency: 1 us}"), "nic.bandwidth", "missing required key"),
    ("missing name", FILES["ring"][0].replace("name: r", ""), "name", "missing required key"),
    ("string for size", FILES["stack"][0].replace("size: 2", "size: two"), "dimensions[1].size",
     "must be an integer"),
    ("string for gpus", FILES["ring"][0].replace("gpus: 6", "gpus: six"), "gpus", "must be an integer"),
    ("zero size", FILES["stack"][0].replace("size: 2", "size: 0"), "dimensions[1].size", "at least 1"),
    ("oversubscription below 1", HIER.replace("oversubscription: 3", "oversubscription: 0.5"),
     "fabric.oversubscription", "must be at least 1"),
    ("fat tree oversubscription below 1", FILES["fat_tree"][0].replace("oversubscription: 2",
                                                                        "oversubscription: 0.5"),
     "oversubscription", "must be at least 1"),
    ("oversubscription nan", HIER.replace("oversubscription: 3", "oversubscription: .nan"),
     "fabric.oversubscription", "finite number"),
    ("negative latency", FILES["ring"][0].replace("2 us", "-2 us"), "latency", "must not be negative"),
    ("latency without unit", HIER.replace("latency: 0.5 us", "latency: 0.5"), "pcie.latency", "bare number"),
    ("infinite bandwidth", FILES["ring"][0].replace("25 Gbit/s", "inf Gbit/s"), "bandwidth", "could not read"),
    ("per-flow cap without unit", FILES["cloud"][0].replace("10 Gbit/s", "10"), "per_flow_cap", "no unit"),
    ("graph self loop", FILES["graph"][0].replace("{src: g2, dst: sw", "{src: g2, dst: g2"), "links[2].dst",
     "itself"),
    ("graph disconnected", FILES["graph"][0].replace("{src: g2, dst: sw", "{src: g2, dst: sw2"), "links",
     "disconnected"),
    ("graph one-way", FILES["graph"][0].replace("bandwidth: 10 GB/s}", "bandwidth: 10 GB/s, duplex: false}"),
     "links", "disconnected"),
    ("graph gpus not a list", FILES["graph"][0].replace("gpus: [g0, g1, g2]", "gpus: g0"), "gpus",
     "non-empty list"),
    ("graph nodes not filled", FILES["graph"][0].replace("gpus_per_node: 3", "gpus_per_node: 2"), "gpus_per_node",
     "must divide the 3 GPUs"),
    ("graph gpu named like a link", FILES["graph"][0].replace("gpus: [g0, g1, g2]", "gpus: [g0, g1, 'g2->x']"),
     "gpus", "no '->'"),
    ("graph duplicate gpus", FILES["graph"][0].replace("gpus: [g0, g1, g2]", "gpus: [g0, g1, g2, g1]"), "gpus",
     "unique"),
    ("graph bad duplex", FILES["graph"][0].replace("duplex: false", "duplex: maybe"), "links[3].duplex",
     "true or false"),
    ("torus dims bad", FILES["torus-dims"][0].replace("[3, 4]", "[3, 0]"), "dims", "integer of at least 1"),
    ("torus ndim too big", FILES["torus-ndim"][0].replace("ndim: 3", "ndim: 7"), "ndim", "at most 6"),
    ("dimensions not a list", FILES["stack"][0].split("dimensions:")[0] + "dimensions: ring\n", "dimensions",
     "must be a list"),
    ("nested section not a mapping", HIER.replace("pcie: {bandwidth: 16 GB/s, latency: 0.5 us}", "pcie: 16 GB/s"),
     "pcie", "expected a mapping"),
    ("intra-node kind", HIER.replace("kind: fully_connected", "kind: fully-connected"), "intra_node.kind",
     "did you mean 'fully_connected'?"),
    ("nodes per rack zero", HIER.replace("nodes_per_rack: 2", "nodes_per_rack: 0"), "fabric.nodes_per_rack",
     "at least 1"),
    ("nic count bool", HIER.replace("count: 2", "count: true"), "nic.count", "must be an integer"),
]


@pytest.mark.parametrize(("text", "key", "fragment"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_file_errors_name_the_file_and_key(tmp_path, text, key, fragment):
    path = write(tmp_path, text, "bad-topology.yaml")
    with pytest.raises(ConfigError) as info:
        load_topology(path)
    err = info.value
    message = str(err)
    assert err.source == str(path), message
    assert err.key == key, message
    assert message.startswith(f"{path}: {key}: "), message
    assert fragment in message


def test_malformed_yaml_topology(tmp_path):
    path = write(tmp_path, "name: x\nkind: [ring\n")
    with pytest.raises(ConfigError, match="malformed YAML") as info:
        load_topology(path)
    assert str(path) in str(info.value)
    assert "line 3" in str(info.value)


def test_topology_file_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping") as info:
        load_topology(path)
    assert info.value.source == str(path)


def test_missing_topology_file(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="file not found") as info:
        load_topology(path)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------------------------------------------
# overrides
# ----------------------------------------------------------------------------------------------------------
def test_override_changes_the_cloud_nic_bandwidth():
    base = load_topology("cloud-25g")
    faster = load_topology("cloud-25g", overrides=[("nic_bandwidth", "100 Gbit/s")])
    assert faster.num_gpus == base.num_gpus == 128
    nic = [link for link in range(faster.num_links)
           if ".nic" in faster.node_names[faster.link_src[link]]
           and faster.node_names[faster.link_dst[link]].startswith("leaf")]
    assert len(nic) == 16
    assert set(faster.link_bandwidth_Bps[nic].tolist()) == {12.5e9}
    assert set(base.link_bandwidth_Bps[nic].tolist()) == {3.125e9}
    # intra-node links are untouched
    intra = faster.link_class == faster.class_names.index("intra-node")
    assert np.array_equal(faster.link_bandwidth_Bps[intra], base.link_bandwidth_Bps[intra])


def test_override_adds_a_per_flow_cap_and_changes_size():
    cluster = load_topology("cloud-25g", gpus=32, overrides=[("per_flow_cap", "10 Gbit/s")])
    assert cluster.flow_rate_cap_Bps == 1.25e9
    assert cluster.grid == (8, 4)


def test_override_nested_and_indexed():
    abci = load_topology("abci", overrides=[("fabric.oversubscription", 1), ("nic.count", 1)])
    spine = abci.node_names.index("spine")
    assert abci.link_bandwidth_Bps[abci.link_dst == spine].tolist() == [32 * 12.5e9]
    stack = load_topology("ring-switch", overrides=[("dimensions.1.size", 4)])
    assert stack.grid == (8, 4)
    assert stack.num_gpus == 32


def test_bad_override_value_is_reported_against_the_override_not_the_file():
    """The value came from the override (``--set``, a study's ``topology.`` key), so the error names it; a bad value
    the file itself holds still names the file."""
    from simtrain.config import OVERRIDES

    with pytest.raises(ConfigError) as info:
        load_topology("cloud-25g", overrides=[("nic_bandwidth", "100")])
    assert info.value.key == "topology.nic_bandwidth" and info.value.source == OVERRIDES
    with pytest.raises(ConfigError) as info:
        load_topology("mi300x", overrides=[("intra_node.in_switch_reduction", True)])
    assert info.value.key == "topology.intra_node.in_switch_reduction" and "needs a switch" in str(info.value)
    with pytest.raises(ConfigError) as info:   # an override elsewhere does not take the blame for the file
        topology_from_dict({"name": "x", "kind": "hierarchical", "device": "h100", "gpus_per_node": 8, "nodes": 1,
                            "intra_node": {"kind": "fully_connected", "bandwidth": "64 GB/s",
                                           "in_switch_reduction": True},
                            "nic": {"count": 1, "bandwidth": "1 GB/s"}}, source="x.yaml")
    assert info.value.source == "x.yaml" and info.value.key == "intra_node.in_switch_reduction"
    with pytest.raises(ConfigError, match="no list item '5'"):
        load_topology("ring-switch", overrides=[("dimensions.5.size", 4)])
    with pytest.raises(ConfigError, match="unknown key"):
        load_topology("torus-2d", overrides=[("bandwith", "1 GB/s")])


def test_overrides_do_not_leak_between_loads():
    load_topology("cloud-25g", overrides=[("nic_bandwidth", "100 Gbit/s")])
    again = load_topology("cloud-25g")
    assert again.link_bandwidth_Bps[again.link_class == 1].min() == 3.125e9


# ----------------------------------------------------------------------------------------------------------
# topology_from_dict
# ----------------------------------------------------------------------------------------------------------
def test_topology_from_dict_source_in_errors():
    data = {"name": "r", "kind": "ring", "device": "a100", "gpus": 8, "bandwidth": "50 GB/s", "latency": "1 us"}
    assert topology_from_dict(data).num_gpus == 8
    assert topology_from_dict(dict(data), gpus=3).num_gpus == 3
    with pytest.raises(ConfigError, match=r"^<dict>: bandwidth: "):
        topology_from_dict({**data, "bandwidth": 50})
    with pytest.raises(ConfigError, match=r"^study\.yaml: gpus: must be at least 1"):
        topology_from_dict({**data, "gpus": 0}, source="study.yaml")
