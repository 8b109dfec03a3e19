"""Cluster builders: link counts, routes checked against networkx shortest paths, and structure."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from simtrain.errors import ConfigError
from simtrain.topology import (
    cloud,
    dimension_stack,
    fat_tree,
    from_graph,
    fully_connected,
    hierarchical,
    near_square_shape,
    ring,
    switch,
    torus,
)

BW = "50 GB/s"
LAT = "1 us"


# ----------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------
def all_pairs(cluster):
    p = cluster.num_gpus
    src, dst = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    return src.ravel(), dst.ravel()


def route_of(routes, flow):
    return routes.links[routes.offsets[flow]:routes.offsets[flow + 1]]


def path_nodes(cluster, links):
    """The node sequence of a route, asserting that consecutive links chain."""
    nodes = [int(cluster.link_src[links[0]])]
    for a, b in itertools.pairwise(links):
        assert cluster.link_dst[a] == cluster.link_src[b], f"links {a} and {b} do not chain"
    nodes += [int(cluster.link_dst[link]) for link in links]
    return nodes


def check_routes_against_networkx(cluster):
    """Every route is a valid path from GPU src to GPU dst in cluster.graph of shortest-path length."""
    graph = cluster.graph
    assert graph.number_of_edges() == cluster.num_links, "duplicate links between the same pair of nodes"
    src, dst = all_pairs(cluster)
    routes = cluster.routes(src, dst)
    assert routes.offsets.shape == (len(src) + 1,)
    assert routes.offsets[0] == 0
    assert routes.offsets[-1] == len(routes.links)
    assert np.all(np.diff(routes.offsets) >= 0)
    if len(routes.links):
        assert routes.links.min() >= 0
        assert routes.links.max() < cluster.num_links
    distance = dict(nx.all_pairs_shortest_path_length(graph))
    for flow, (s, d) in enumerate(zip(src.tolist(), dst.tolist())):
        links = route_of(routes, flow)
        if s == d:
            assert len(links) == 0, f"flow to self {s} has a route"
            continue
        assert len(links) > 0, f"flow {s}->{d} has an empty route"
        nodes = path_nodes(cluster, links)
        assert nodes[0] == s and nodes[-1] == d, (s, d, nodes)
        for a, b, link in zip(nodes, nodes[1:], links):
            assert graph.edges[a, b]["link_id"] == link
        assert len(set(nodes)) == len(nodes), f"route {s}->{d} revisits a node: {nodes}"
        assert len(links) == distance[s][d] == nx.shortest_path_length(graph, s, d), (s, d, nodes)
    # the lengths property and flow_of_entry agree with the CSR
    assert np.array_equal(routes.lengths, np.diff(routes.offsets))
    assert np.array_equal(routes.flow_of_entry, np.repeat(np.arange(len(src)), routes.lengths))
    return routes


def check_batch_independence(cluster, routes):
    """A flow's route does not depend on which other flows are in the batch."""
    src, dst = all_pairs(cluster)
    rng = np.random.default_rng(0)
    for flow in rng.choice(len(src), size=min(len(src), 25), replace=False):
        single = cluster.routes([src[flow]], [dst[flow]])
        assert single.links.tolist() == route_of(routes, flow).tolist()
    reverse = cluster.routes(src[::-1], dst[::-1])
    n = len(src)
    for flow in range(n):
        assert route_of(reverse, n - 1 - flow).tolist() == route_of(routes, flow).tolist()


def check_duplex(cluster):
    pairs = set(zip(cluster.link_src.tolist(), cluster.link_dst.tolist()))
    for a, b in pairs:
        assert (b, a) in pairs, f"link {a}->{b} has no reverse"


def example_graph():
    """Four GPUs: each on two switches (ECMP between them), plus a one-way GPU ring and a one-way chord."""
    g = nx.DiGraph()
    for gpu in ("g0", "g1", "g2", "g3"):
        for sw in ("s0", "s1"):
            g.add_edge(gpu, sw, bandwidth_Bps=1e9, latency_s=1e-6, link_class="fabric")
            g.add_edge(sw, gpu, bandwidth_Bps=1e9, latency_s=1e-6, link_class="fabric")
    for a, b in [("g0", "g1"), ("g1", "g2"), ("g2", "g3"), ("g3", "g0"), ("g0", "g2")]:
        g.add_edge(a, b, bandwidth_Bps=5e9, latency_s=1e-7, link_class="nvlink")
    g.add_edge("s0", "x", bandwidth_Bps=1e9, latency_s=0.0)
    g.add_edge("x", "s1", bandwidth_Bps=1e9, latency_s=0.0)
    return g


def chain_graph():
    """A line g0 - r0 - r1 - g1 - r2 - g2 of duplex links (a unique shortest path for every pair)."""
    g = nx.DiGraph()
    for a, b in [("g0", "r0"), ("r0", "r1"), ("r1", "g1"), ("g1", "r2"), ("r2", "g2")]:
        g.add_edge(a, b, bandwidth_Bps=2e9, latency_s=1e-6)
        g.add_edge(b, a, bandwidth_Bps=2e9, latency_s=1e-6)
    return g


CLUSTERS = {
    "ring-2": lambda: ring(2, BW, LAT),
    "ring-3": lambda: ring(3, BW, LAT),
    "ring-5": lambda: ring(5, BW, LAT),
    "ring-6": lambda: ring(6, BW, LAT),
    "torus-3x4": lambda: torus([3, 4], BW, LAT),
    "torus-2x3x4": lambda: torus([2, 3, 4], BW, LAT),
    "torus-4x1x3": lambda: torus([4, 1, 3], BW, LAT),
    "stack-ring-switch-fc": lambda: dimension_stack([
        {"kind": "ring", "size": 3, "bandwidth": "150 GiB/s", "latency": "500 ns"},
        {"kind": "switch", "size": 3, "bandwidth": "25 GiB/s", "latency": "1 us"},
        {"kind": "fully_connected", "size": 3, "bandwidth": "10 GB/s", "latency": "2 us"},
    ]),
    "stack-fc-ring2-switch": lambda: dimension_stack([
        {"kind": "fully_connected", "size": 4, "bandwidth": 1e9, "latency": 0.0},
        {"kind": "ring", "size": 2, "bandwidth": 1e9, "latency": 0.0},
        {"kind": "switch", "size": 2, "bandwidth": 1e9, "latency": 0.0},
    ]),
    "stack-switch-switch": lambda: dimension_stack([
        {"kind": "switch", "size": 3, "bandwidth": 1e9, "latency": 0.0},
        {"kind": "switch", "size": 4, "bandwidth": 1e9, "latency": 0.0},
    ]),
    "switch-5": lambda: switch(5, BW, LAT),
    "fully-connected-5": lambda: fully_connected(5, BW, LAT),
    "hierarchical-3-racks": lambda: hierarchical(
        5, 3, intra_bandwidth="150 GB/s", nics_per_node=2, nic_bandwidth="100 Gbit/s", pcie_bandwidth="16 GB/s",
        nodes_per_rack=2, oversubscription=3, spine_latency="1 us",
    ),
    "hierarchical-fc": lambda: hierarchical(
        3, 4, intra_bandwidth="50 GB/s", intra_kind="fully_connected", nics_per_node=4,
        nic_bandwidth="200 Gbit/s", nodes_per_rack=2, oversubscription=1.5,
    ),
    "hierarchical-one-rack": lambda: hierarchical(3, 2, intra_bandwidth="50 GB/s", nic_bandwidth="25 Gbit/s"),
    "cloud": lambda: cloud(3, 4, nic_bandwidth="25 Gbit/s", per_flow_cap="10 Gbit/s"),
    "fat-tree": lambda: fat_tree(10, bandwidth="50 GB/s", hosts_per_leaf=4, oversubscription=2),
    "from-graph-ecmp": lambda: from_graph(example_graph(), ["g0", "g1", "g2", "g3"]),
    "from-graph-chain": lambda: from_graph(chain_graph(), ["g0", "g1", "g2"]),
}


@pytest.mark.parametrize("name", list(CLUSTERS))
def test_routes_agree_with_networkx(name):
    cluster = CLUSTERS[name]()
    routes = check_routes_against_networkx(cluster)
    check_batch_independence(cluster, routes)


@pytest.mark.parametrize("name", [n for n in CLUSTERS if not n.startswith("from-graph-ecmp")])
def test_builders_make_full_duplex_links(name):
    check_duplex(CLUSTERS[name]())


@pytest.mark.parametrize("name", list(CLUSTERS))
def test_graph_view_matches_the_arrays(name):
    cluster = CLUSTERS[name]()
    graph = cluster.graph
    assert graph.number_of_nodes() == len(cluster.node_names)
    gpus = [n for n, data in graph.nodes(data=True) if data["kind"] == "gpu"]
    assert gpus == list(range(cluster.num_gpus))
    for a, b, data in graph.edges(data=True):
        link = data["link_id"]
        assert (cluster.link_src[link], cluster.link_dst[link]) == (a, b)
        assert data["bandwidth_Bps"] == cluster.link_bandwidth_Bps[link] > 0
        assert data["latency_s"] == cluster.link_latency_s[link] >= 0
        assert data["link_class"] == cluster.class_names[cluster.link_class[link]]


def test_routes_of_an_empty_batch():
    for cluster in (torus([3, 4], BW), hierarchical(2, 2, intra_bandwidth=BW, nic_bandwidth=BW),
                    from_graph(chain_graph(), ["g0", "g1", "g2"])):
        routes = cluster.routes([], [])
        assert routes.offsets.tolist() == [0]
        assert routes.links.size == 0


def test_single_gpu_cluster_has_no_links_and_empty_self_route():
    cluster = ring(1, BW)
    assert cluster.num_links == 0
    routes = cluster.routes([0], [0])
    assert routes.lengths.tolist() == [0]


# ----------------------------------------------------------------------------------------------------------
# link counts
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "gpus", "links"),
    [
        (lambda: ring(8, BW), 8, 16),
        (lambda: ring(3, BW), 3, 6),
        (lambda: ring(2, BW), 2, 2),
        (lambda: ring(1, BW), 1, 0),
        (lambda: torus([4, 4], BW), 16, 64),
        (lambda: torus([2, 4], BW), 8, 8 + 16),
        (lambda: torus([2, 2], BW), 4, 8),
        (lambda: torus([4, 4, 4], BW), 64, 384),
        (lambda: switch(4, BW), 4, 8),
        (lambda: switch(1, BW), 1, 0),
        (lambda: fully_connected(4, BW), 4, 12),
        (lambda: fully_connected(2, BW), 2, 2),
        (lambda: dimension_stack([
            {"kind": "ring", "size": 3, "bandwidth": BW, "latency": LAT},
            {"kind": "switch", "size": 3, "bandwidth": BW, "latency": LAT},
            {"kind": "fully_connected", "size": 3, "bandwidth": BW, "latency": LAT},
        ]), 27, 54 + 54 + 54),
        (lambda: dimension_stack([
            {"kind": "ring", "size": 8, "bandwidth": "150 GiB/s", "latency": "500 ns"},
            {"kind": "switch", "size": 16, "bandwidth": "25 GiB/s", "latency": "500 ns"},
        ]), 128, 16 * 16 + 8 * 32),
    ],
)
def test_link_counts(build, gpus, links):
    cluster = build()
    assert cluster.num_gpus == gpus
    assert cluster.num_links == links
    assert cluster.graph.number_of_edges() == links


def test_ring_of_two_has_one_link_each_way():
    cluster = ring(2, BW)
    assert sorted(zip(cluster.link_src.tolist(), cluster.link_dst.tolist())) == [(0, 1), (1, 0)]


def test_switch_nodes():
    cluster = switch(4, BW)
    assert len(cluster.node_names) == 5
    assert cluster.node_names[4].startswith("switch")
    stack = dimension_stack([{"kind": "ring", "size": 3, "bandwidth": BW, "latency": LAT},
                             {"kind": "switch", "size": 4, "bandwidth": BW, "latency": LAT}])
    assert len(stack.node_names) == 12 + 3  # one switch per line of dimension 1


def test_hierarchical_link_counts():
    c = hierarchical(5, 3, intra_bandwidth=BW, nics_per_node=2, nic_bandwidth=BW, nodes_per_rack=2)
    # intra 2 per GPU, pcie 2 per GPU, nic 2 per NIC, spine 2 per rack
    assert c.num_links == 2 * 15 + 2 * 15 + 2 * 10 + 2 * 3
    assert len(c.node_names) == 15 + 5 + 10 + 3 + 1
    fc = hierarchical(2, 4, intra_bandwidth=BW, intra_kind="fully_connected", nic_bandwidth=BW)
    assert fc.num_links == 2 * 12 + 2 * 8 + 2 * 2 + 2 * 1


def test_stack_attributes():
    c = torus([3, 4], "50 GiB/s", "500 ns")
    assert c.grid == (3, 4)
    assert c.class_names == ("dim0", "dim1")
    assert c.gpus_per_node == 3
    assert np.all(c.link_bandwidth_Bps == 50 * 2**30)
    assert np.all(c.link_latency_s == 5e-7)
    custom = dimension_stack([{"kind": "ring", "size": 2, "bandwidth": 1e9, "latency": 0.0},
                              {"kind": "switch", "size": 2, "bandwidth": 2e9, "latency": 1e-6}],
                             class_names=["nvlink", "ib"])
    assert custom.class_names == ("nvlink", "ib")
    assert set(custom.link_bandwidth_Bps[custom.link_class == 1].tolist()) == {2e9}
    assert set(custom.link_latency_s[custom.link_class == 1].tolist()) == {1e-6}


# ----------------------------------------------------------------------------------------------------------
# dimension-order routing
# ----------------------------------------------------------------------------------------------------------
def classes_of(cluster, links):
    return [cluster.class_names[cluster.link_class[link]] for link in links]


def test_torus_routes_dimension_zero_first():
    cluster = torus([4, 4], BW, LAT)
    routes = cluster.routes([0], [5])
    links = route_of(routes, 0)
    assert classes_of(cluster, links) == ["dim0", "dim1"]
    assert path_nodes(cluster, links) == [0, 1, 5]


def test_torus_dimension_order_longer_route():
    cluster = torus([4, 4], BW, LAT)
    # (3, 0) -> (1, 3): dim 0 is a tie (two hops either way) so it goes forward 3 -> 0 -> 1, then dim 1
    # goes backward 0 -> 3 in one hop
    src, dst = 3, 1 + 4 * 3
    links = route_of(cluster.routes([src], [dst]), 0)
    assert classes_of(cluster, links) == ["dim0", "dim0", "dim1"]
    assert path_nodes(cluster, links) == [3, 0, 1, 13]
    # (2, 0) -> (1, 3): dim 0 backward one hop, dim 1 backward one hop
    links = route_of(cluster.routes([2], [13]), 0)
    assert path_nodes(cluster, links) == [2, 1, 13]


def test_stack_routes_in_dimension_order():
    cluster = dimension_stack([
        {"kind": "ring", "size": 3, "bandwidth": BW, "latency": LAT},
        {"kind": "switch", "size": 3, "bandwidth": BW, "latency": LAT},
        {"kind": "fully_connected", "size": 3, "bandwidth": BW, "latency": LAT},
    ])
    src, dst = all_pairs(cluster)
    routes = cluster.routes(src, dst)
    for flow in range(len(src)):
        dims = [int(c[3:]) for c in classes_of(cluster, route_of(routes, flow))]
        assert dims == sorted(dims)


@pytest.mark.parametrize(("k", "src", "dst", "expected"), [
    (4, 0, 2, [0, 1, 2]),
    (4, 2, 0, [2, 3, 0]),
    (4, 1, 3, [1, 2, 3]),
    (6, 0, 3, [0, 1, 2, 3]),
    (6, 3, 0, [3, 4, 5, 0]),
    (6, 5, 2, [5, 0, 1, 2]),
    (2, 1, 0, [1, 0]),
])
def test_ring_ties_go_forward(k, src, dst, expected):
    cluster = ring(k, BW)
    assert path_nodes(cluster, route_of(cluster.routes([src], [dst]), 0)) == expected


@pytest.mark.parametrize(("src", "dst", "expected"), [
    (0, 1, [0, 1]),
    (0, 2, [0, 1, 2]),
    (0, 3, [0, 1, 2, 3]),
    (0, 4, [0, 6, 5, 4]),
    (0, 5, [0, 6, 5]),
    (1, 5, [1, 0, 6, 5]),
    (5, 1, [5, 6, 0, 1]),
    (6, 0, [6, 0]),
])
def test_ring_takes_the_shorter_direction(src, dst, expected):
    cluster = ring(7, BW)
    assert path_nodes(cluster, route_of(cluster.routes([src], [dst]), 0)) == expected


def test_torus_tie_goes_forward_in_every_dimension():
    cluster = torus([4, 4], BW)
    # (0,0) -> (2,2): forward 0->1->2 in dim 0, then 2 -> 6 -> 10 in dim 1
    assert path_nodes(cluster, route_of(cluster.routes([0], [10]), 0)) == [0, 1, 2, 6, 10]


def test_switch_route_goes_through_the_switch():
    cluster = switch(4, BW)
    nodes = path_nodes(cluster, route_of(cluster.routes([1], [3]), 0))
    assert nodes == [1, 4, 3]


def test_fully_connected_route_is_direct():
    cluster = fully_connected(5, BW)
    src, dst = all_pairs(cluster)
    routes = cluster.routes(src, dst)
    assert routes.lengths.tolist() == [0 if s == d else 1 for s, d in zip(src, dst)]


# ----------------------------------------------------------------------------------------------------------
# hierarchical clusters
# ----------------------------------------------------------------------------------------------------------
def test_hierarchical_structure_and_classes():
    c = hierarchical(4, 8, intra_bandwidth="150 GB/s", nic_bandwidth="25 Gbit/s")
    assert (c.num_gpus, c.grid, c.class_names, c.gpus_per_node) == (32, (8, 4), ("intra-node", "inter-node"), 8)
    intra = c.link_class == 0
    assert np.all(c.link_bandwidth_Bps[intra] == 150e9)
    assert np.all(c.link_bandwidth_Bps[~intra][:64] == 3.125e9)  # GPU<->NIC defaults to the NIC bandwidth
    assert c.flow_rate_cap_Bps == math.inf
    assert c.params["nodes_per_rack"] == 4


def hierarchical_3_racks():
    return hierarchical(
        5, 3, intra_bandwidth="150 GB/s", nics_per_node=2, nic_bandwidth="100 Gbit/s", pcie_bandwidth="16 GB/s",
        nodes_per_rack=2, oversubscription=3,
    )


def test_flow_within_a_node_uses_only_intra_node_links():
    c = hierarchical_3_racks()
    src, dst = all_pairs(c)
    routes = c.routes(src, dst)
    for flow, (s, d) in enumerate(zip(src, dst)):
        classes = set(classes_of(c, route_of(routes, flow)))
        if s != d and s // 3 == d // 3:
            assert classes == {"intra-node"}
        elif s // 3 != d // 3:
            assert classes == {"inter-node"}


def test_flow_across_racks_crosses_the_spine():
    c = hierarchical_3_racks()
    spine = c.node_names.index("spine")
    assert spine == len(c.node_names) - 1
    src, dst = all_pairs(c)
    routes = c.routes(src, dst)
    for flow, (s, d) in enumerate(zip(src.tolist(), dst.tolist())):
        links = route_of(routes, flow)
        nodes = path_nodes(c, links) if len(links) else [s]
        rack_s, rack_d = (s // 3) // 2, (d // 3) // 2
        assert (spine in nodes) == (rack_s != rack_d), (s, d, nodes)
        if rack_s != rack_d:
            assert len(links) == 6
            assert c.node_names[nodes[2]] == f"leaf{rack_s}"
            assert c.node_names[nodes[4]] == f"leaf{rack_d}"
        elif s // 3 != d // 3:
            assert len(links) == 4


def test_gpu_uses_its_nic():
    c = hierarchical_3_racks()
    # GPU l of a node uses NIC l * nics // gpus_per_node: locals 0, 1 -> nic0; local 2 -> nic1
    for rank, nic in [(0, "node0.nic0"), (1, "node0.nic0"), (2, "node0.nic1"), (5, "node1.nic1"), (14, "node4.nic1")]:
        other = 0 if rank >= 3 else 3
        nodes = path_nodes(c, route_of(c.routes([rank], [other]), 0))
        assert c.node_names[nodes[1]] == nic


@pytest.mark.parametrize(("nodes", "rack", "nics", "oversub"), [(5, 2, 2, 3.0), (7, 3, 1, 1.5), (4, 4, 8, 1.0),
                                                                 (256, 34, 2, 3.0)])
def test_spine_uplink_bandwidth(nodes, rack, nics, oversub):
    nic_bw = 12.5e9
    c = hierarchical(nodes, 4, intra_bandwidth=BW, nics_per_node=nics, nic_bandwidth="100 Gbit/s",
                     nodes_per_rack=rack, oversubscription=oversub)
    spine = c.node_names.index("spine")
    racks = -(-nodes // rack)
    up = np.flatnonzero(c.link_dst == spine)
    down = np.flatnonzero(c.link_src == spine)
    assert len(up) == len(down) == racks
    for r in range(racks):
        in_rack = min(rack, nodes - r * rack)
        expected = in_rack * nics * nic_bw / oversub
        leaf = c.node_names.index(f"leaf{r}")
        (u,) = [link for link in up if c.link_src[link] == leaf]
        (d,) = [link for link in down if c.link_dst[link] == leaf]
        assert c.link_bandwidth_Bps[u] == pytest.approx(expected, rel=1e-12)
        assert c.link_bandwidth_Bps[d] == pytest.approx(expected, rel=1e-12)
    if nodes % rack:  # the partially filled last rack gets a proportionally smaller uplink
        last = c.link_bandwidth_Bps[up].min()
        assert last == pytest.approx((nodes % rack) * nics * nic_bw / oversub, rel=1e-12)


def test_pcie_bandwidth_is_used_for_gpu_to_nic_links():
    c = hierarchical_3_racks()
    nic0 = c.node_names.index("node0.nic0")
    gpu_to_nic = [link for link in range(c.num_links) if c.link_src[link] == 0 and c.link_dst[link] == nic0]
    assert c.link_bandwidth_Bps[gpu_to_nic].tolist() == [16e9]


def test_cloud_flow_cap_and_defaults():
    c = cloud(16, 8, nic_bandwidth="25 Gbit/s", per_flow_cap="10 Gbit/s")
    assert c.num_gpus == 128
    assert c.flow_rate_cap_Bps == 1.25e9
    assert c.device == "v100"
    uncapped = cloud(2, 8, nic_bandwidth="25 Gbit/s")
    assert uncapped.flow_rate_cap_Bps == math.inf
    nic0 = uncapped.node_names.index("node0.nic0")
    nic_links = np.flatnonzero(uncapped.link_src == nic0)
    assert 15e-6 in uncapped.link_latency_s[nic_links].tolist()
    assert cloud(2, 2, nic_bandwidth=1e9, per_flow_cap=5e8).flow_rate_cap_Bps == 5e8


def test_fat_tree_grid():
    c = fat_tree(16, bandwidth="50 GB/s", hosts_per_leaf=4, oversubscription=2)
    assert c.num_gpus == 16
    assert c.grid == (16,)
    assert c.gpus_per_node == 1


# ----------------------------------------------------------------------------------------------------------
# explicit graphs
# ----------------------------------------------------------------------------------------------------------
def test_from_graph_classes_and_attributes():
    c = from_graph(example_graph(), ["g0", "g1", "g2", "g3"], groups=2)
    assert c.num_gpus == 4
    assert c.node_names[:4] == ["g0", "g1", "g2", "g3"]
    assert set(c.class_names) == {"fabric", "nvlink", "link"}
    assert c.gpus_per_node == 2
    # g0 -> g1 is one NVLink hop
    links = route_of(c.routes([0], [1]), 0)
    assert classes_of(c, links) == ["nvlink"]
    assert c.link_bandwidth_Bps[links].tolist() == [5e9]


def test_from_graph_disconnected():
    g = chain_graph()
    g.add_edge("g3", "r9", bandwidth_Bps=1e9, latency_s=0.0)
    g.add_edge("r9", "g3", bandwidth_Bps=1e9, latency_s=0.0)
    with pytest.raises(ConfigError, match="disconnected") as info:
        from_graph(g, ["g0", "g1", "g2", "g3"])
    assert info.value.key == "links"
    assert "g3" in str(info.value)


def test_from_graph_one_way_reachability_is_disconnected():
    g = nx.DiGraph()
    g.add_edge("a", "b", bandwidth_Bps=1e9, latency_s=0.0)
    with pytest.raises(ConfigError, match="disconnected"):
        from_graph(g, ["a", "b"])


def test_from_graph_self_loop():
    g = chain_graph()
    g.add_edge("r1", "r1", bandwidth_Bps=1e9, latency_s=0.0)
    with pytest.raises(ConfigError, match="itself") as info:
        from_graph(g, ["g0", "g1", "g2"])
    assert info.value.key == "links"


def test_from_graph_unknown_gpu():
    with pytest.raises(ConfigError, match="GPUs not in the graph") as info:
        from_graph(chain_graph(), ["g0", "g1", "g7"])
    assert info.value.value == ["g7"]
    assert info.value.key == "gpus"


def test_from_graph_duplicate_gpu():
    with pytest.raises(ConfigError, match="unique"):
        from_graph(chain_graph(), ["g0", "g1", "g0"])


@pytest.mark.parametrize("bandwidth", [0.0, -1.0, math.nan, math.inf, None])
def test_from_graph_bad_bandwidth(bandwidth):
    g = chain_graph()
    if bandwidth is None:
        del g.edges["g0", "r0"]["bandwidth_Bps"]
    else:
        g.edges["g0", "r0"]["bandwidth_Bps"] = bandwidth
    with pytest.raises(ConfigError, match="must be a positive bandwidth") as info:
        from_graph(g, ["g0", "g1", "g2"])
    assert "g0 -> r0" in info.value.key


# ----------------------------------------------------------------------------------------------------------
# builder argument errors
# ----------------------------------------------------------------------------------------------------------
def test_stack_argument_errors():
    with pytest.raises(ConfigError, match="at least one dimension"):
        dimension_stack([])
    with pytest.raises(ConfigError) as info:
        dimension_stack([{"kind": "rnig", "size": 2, "bandwidth": BW, "latency": LAT}])
    assert "(did you mean 'ring'?)" in str(info.value)
    assert info.value.key == "dimensions[0].kind"
    for size in (0, -1, 2.0, True, "4", None):
        with pytest.raises(ConfigError, match="positive integer"):
            dimension_stack([{"kind": "ring", "size": 4, "bandwidth": BW, "latency": LAT},
                             {"kind": "ring", "size": size, "bandwidth": BW, "latency": LAT}])
    for bandwidth in (0, -1e9, "0 GB/s", math.inf, math.nan):
        with pytest.raises(ConfigError, match="positive bandwidth") as info:
            ring(4, bandwidth)
        assert info.value.key == "bandwidth"   # ring's own argument (and a ring file's key), not a dimension's
    for latency in (-1e-6, "-1 us", math.nan):
        with pytest.raises(ConfigError, match="non-negative time"):
            ring(4, BW, latency)


def test_string_quantities_need_units_in_builders():
    with pytest.raises(ValueError, match="unit"):
        ring(4, "50")


def test_hierarchical_argument_errors():
    with pytest.raises(ConfigError, match="unknown intra-node kind") as info:
        hierarchical(2, 2, intra_bandwidth=BW, nic_bandwidth=BW, intra_kind="swich")
    assert "(did you mean 'switch'?)" in str(info.value)
    for oversub in (0.5, 0, -1, math.inf, math.nan, "3"):
        with pytest.raises(ConfigError, match="at least 1") as info:
            hierarchical(2, 2, intra_bandwidth=BW, nic_bandwidth=BW, oversubscription=oversub)
        assert info.value.key == "fabric.oversubscription"
    for key, kwargs in [("nodes", {"num_nodes": 0}), ("gpus_per_node", {"gpus_per_node": 0}),
                        ("nics_per_node", {"nics_per_node": 0})]:
        args = {"num_nodes": 2, "gpus_per_node": 2, "nics_per_node": 1, **kwargs}
        with pytest.raises(ConfigError, match="positive integer") as info:
            hierarchical(args["num_nodes"], args["gpus_per_node"], nics_per_node=args["nics_per_node"],
                         intra_bandwidth=BW, nic_bandwidth=BW)
        assert info.value.key == key
    with pytest.raises(ConfigError) as info:
        hierarchical(2, 2, intra_bandwidth=BW, nic_bandwidth=0)
    assert info.value.key == "nic.bandwidth"
    with pytest.raises(ConfigError) as info:
        cloud(2, 2, nic_bandwidth=BW, per_flow_cap=-1)
    assert info.value.key == "per_flow_cap"


# ----------------------------------------------------------------------------------------------------------
# near_square_shape
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "ndim", "expected"), [
    (64, 2, [8, 8]),
    (32, 2, [4, 8]),
    (64, 3, [4, 4, 4]),
    (7, 2, [1, 7]),
    (97, 2, [1, 97]),
    (13, 3, [1, 1, 13]),
    (12, 3, [2, 2, 3]),
    (30, 3, [2, 3, 5]),
    (1024, 2, [32, 32]),
    (2048, 2, [32, 64]),
    (128, 3, [4, 4, 8]),
    (1, 2, [1, 1]),
    (1, 1, [1]),
    (24, 1, [24]),
    (16, 4, [2, 2, 2, 2]),
    (22, 2, [2, 11]),
    (18, 3, [2, 3, 3]),
])
def test_near_square_shape_examples(n, ndim, expected):
    assert near_square_shape(n, ndim) == expected


def brute_force_shape(n, ndim):
    best = None
    for shape in itertools.product(range(1, n + 1), repeat=ndim):
        if math.prod(shape) != n or list(shape) != sorted(shape):
            continue
        key = (shape[-1] - shape[0], shape[-1])
        if best is None or key < best[0]:
            best = (key, list(shape))
    return best[1]


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_near_square_shape_is_an_optimal_sorted_factorisation(ndim):
    for n in range(1, 73 if ndim < 3 else 49):
        shape = near_square_shape(n, ndim)
        assert len(shape) == ndim
        assert math.prod(shape) == n
        assert shape == sorted(shape)
        assert shape == brute_force_shape(n, ndim), n
        if ndim == 2:  # the smaller factor is the largest divisor not above sqrt(n)
            assert shape[0] == max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)


@pytest.mark.parametrize("n", [2, 3, 5, 101, 997, 4096, 1000, 360, 720])
def test_near_square_shape_larger(n):
    for ndim in (2, 3):
        shape = near_square_shape(n, ndim)
        assert math.prod(shape) == n
        assert shape == sorted(shape)
        assert len(shape) == ndim


# ----------------------------------------------------------------------------------------------------------
# argument validation gaps (these tests fail against the current builders; see the report)
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nodes_per_rack", [0, -1, 2.5])
def test_hierarchical_rejects_a_bad_rack_size(nodes_per_rack):
    # nodes, gpus_per_node and nics_per_node are validated; nodes_per_rack must be too: 0 is silently read as
    # "one rack" (``nodes_per_rack or num_nodes``), -1 fails inside numpy and 2.5 with a TypeError
    with pytest.raises(ConfigError) as info:
        hierarchical(4, 2, intra_bandwidth=BW, nic_bandwidth=BW, nodes_per_rack=nodes_per_rack)
    assert "nodes_per_rack" in str(info.value)


def test_fat_tree_rejects_a_zero_leaf_size():
    with pytest.raises(ConfigError):
        fat_tree(8, bandwidth=BW, hosts_per_leaf=0)


@pytest.mark.parametrize("build", [lambda: ring(2.5, BW), lambda: torus([4, 2.5], BW)], ids=["ring", "torus"])
def test_uniform_builders_reject_fractional_sizes(build):
    # dimension_stack rejects a float size, but ring/torus/switch/fully_connected truncate it with int() first
    with pytest.raises(ConfigError, match="positive integer"):
        build()


def test_uniform_builders_accept_numpy_integers():
    assert ring(np.int64(4), BW).num_gpus == 4
    assert torus(np.array([2, 3]), BW).grid == (2, 3)


def random_graph_cluster(seed: int, nodes: int = 24, gpus: int = 10):
    """A connected random graph with full-duplex links: many equal shortest paths (ECMP)."""
    rng = np.random.default_rng(seed)
    g = nx.DiGraph()
    names = [f"n{i}" for i in range(nodes)]
    for i in range(1, nodes):   # a random tree keeps it connected, extra links make paths equal
        j = int(rng.integers(0, i))
        for a, b in ((names[i], names[j]), (names[j], names[i])):
            g.add_edge(a, b, bandwidth_Bps=1e9, latency_s=1e-6)
    for _ in range(nodes):
        i, j = rng.choice(nodes, 2, replace=False)
        for a, b in ((names[i], names[j]), (names[j], names[i])):
            g.add_edge(a, b, bandwidth_Bps=1e9, latency_s=1e-6)
    return from_graph(g, names[:gpus])


@pytest.mark.parametrize("seed", range(6))
def test_graph_routes_are_shortest_paths_and_spread_over_equal_ones(seed):
    cluster = random_graph_cluster(seed)
    check_routes_against_networkx(cluster)
    # the same flows routed in another order, or again, take the same paths (a pure function of the flow's ends)
    src, dst = all_pairs(cluster)
    first = cluster.routes(src, dst)
    again = random_graph_cluster(seed).routes(src[::-1], dst[::-1])
    for flow in range(len(src)):
        assert route_of(first, flow).tolist() == route_of(again, len(src) - 1 - flow).tolist()


def test_graph_ecmp_uses_every_equal_path():
    """Two GPUs joined through four switches in parallel: flows between them spread over the four."""
    g = nx.DiGraph()
    gpus = [f"g{i}" for i in range(40)]
    for k in range(4):
        for i, gpu in enumerate(gpus):
            side = "a" if i < 20 else "b"
            for x, y in ((gpu, f"{side}{k}"), (f"{side}{k}", gpu)):
                g.add_edge(x, y, bandwidth_Bps=1e9, latency_s=0.0)
        g.add_edge(f"a{k}", f"b{k}", bandwidth_Bps=1e9, latency_s=0.0)
        g.add_edge(f"b{k}", f"a{k}", bandwidth_Bps=1e9, latency_s=0.0)
    cluster = from_graph(g, gpus)
    src = np.repeat(np.arange(20), 20)
    dst = np.tile(np.arange(20, 40), 20)
    routes = cluster.routes(src, dst)
    names = cluster.node_names
    middles = {names[int(cluster.link_dst[route_of(routes, f)[0]])] for f in range(len(src))}
    assert middles == {"a0", "a1", "a2", "a3"}


def test_graph_routes_past_the_entry_bound_are_refused(monkeypatch):
    from simtrain.topology import builders

    g = nx.DiGraph()
    names = [f"g{i}" for i in range(64)]
    for a, b in zip(names, names[1:] + names[:1]):
        for x, y in ((a, b), (b, a)):
            g.add_edge(x, y, bandwidth_Bps=1e9, latency_s=0.0)
    cluster = from_graph(g, names)
    src, dst = all_pairs(cluster)
    monkeypatch.setattr(builders, "MAX_ROUTE_ENTRIES", 1000)
    with pytest.raises(ConfigError, match="link entries"):
        cluster.routes(src, dst)


def test_routes_of_many_flows_are_batched_and_bounded(monkeypatch):
    """Flows routed in batches give the routes one call gives; past the entry bound, a batch is refused before
    the next one is routed."""
    from simtrain import limits
    from simtrain.topology import cluster as cluster_module
    from simtrain.topology import ring as ring_topology

    c = ring_topology(32, "1 GB/s")
    src, dst = all_pairs(c)
    whole = c.routes(src, dst)
    monkeypatch.setattr(cluster_module, "_ROUTE_BATCH", 100)
    batched = c.routes(src, dst)
    assert np.array_equal(batched.offsets, whole.offsets) and np.array_equal(batched.links, whole.links)
    monkeypatch.setattr(limits, "MAX_ROUTE_ENTRIES", int(whole.links.size) - 1)
    with pytest.raises(ConfigError, match="link entries"):
        c.routes(src, dst)


def test_graph_ecmp_chooses_each_hop_on_its_own():
    """In a k = 4 fat-tree (edge, aggregation, core), all-pairs flows reach every core switch from every
    aggregation switch: each hop's choice is its own hash, not the previous hop's choice again."""
    k = 4
    g = nx.DiGraph()

    def link(a, b):
        for x, y in ((a, b), (b, a)):
            g.add_edge(x, y, bandwidth_Bps=1e10, latency_s=1e-6)

    gpus = []
    for pod in range(k):
        for e in range(k // 2):
            for h in range(k // 2):
                gpus.append(f"g{pod}.{e}.{h}")
                link(gpus[-1], f"L{pod}.{e}")
            for a in range(k // 2):
                link(f"L{pod}.{e}", f"A{pod}.{a}")
        for a in range(k // 2):
            for c in range(k // 2):
                link(f"A{pod}.{a}", f"C{a}.{c}")
    cluster = from_graph(g, gpus)
    src, dst = all_pairs(cluster)
    apart = src != dst
    loads = np.bincount(cluster.routes(src[apart], dst[apart]).links, minlength=cluster.num_links)
    names = cluster.node_names
    up = [int(loads[link]) for link in range(cluster.num_links)
          if names[cluster.link_src[link]].startswith("A") and names[cluster.link_dst[link]].startswith("C")]
    assert len(up) == k * (k // 2) ** 2 and min(up) > 0
