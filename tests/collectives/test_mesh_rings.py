"""Rings on a full mesh (AMD xGMI nodes, ``fully_connected`` dimensions): channels on edge-disjoint cycles."""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.collectives import build_schedule, collective_time
from simtrain.collectives.ring import MESH_RANKS, mesh_ring_count, mesh_rings
from simtrain.topology import fully_connected, hierarchical, load_topology, ring


def directed_edges(rings: np.ndarray) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for row in rings for a, b in zip(row, np.roll(row, -1))]


@pytest.mark.parametrize("p", [*range(2, 29), 31, 32, 64])
def test_mesh_rings_are_hamiltonian_and_edge_disjoint(p):
    rings = mesh_rings(p)
    assert rings[0].tolist() == list(range(p))
    for row in rings:
        assert sorted(row.tolist()) == list(range(p))
    edges = directed_edges(rings)
    assert len(set(edges)) == len(edges)                     # no directed link carries two rings
    # Tillson: p - 1 exist for p not 4 or 6; the search finds them up to 27, the fallbacks stay close beyond
    if p in (4, 6):
        assert len(rings) == p - 2
    elif p <= 27:
        assert len(rings) == p - 1
    else:
        assert len(rings) >= p - 6


def test_mesh_rings_are_a_fixed_function_of_p():
    first = mesh_rings(12).copy()
    mesh_rings(13), mesh_rings(5)
    assert np.array_equal(mesh_rings(12), first)
    assert not mesh_rings(12).flags.writeable
    with pytest.raises(ValueError):
        mesh_rings(MESH_RANKS + 1)


def test_only_a_full_mesh_of_own_links_counts_as_a_mesh():
    assert mesh_ring_count(np.arange(8), fully_connected(8, "64 GB/s")) == 7
    mi300x = load_topology("mi300x", gpus=16)
    assert mesh_ring_count(np.arange(8), mi300x) == 7
    assert mesh_ring_count(np.arange(8, 16), mi300x) == 7
    assert mesh_ring_count(np.array([1, 3, 5]), mi300x) == 2  # any subset of a mesh is a mesh
    assert mesh_ring_count(np.arange(16), mi300x) == 1        # across the NICs
    assert mesh_ring_count(np.arange(8), load_topology("dgx-h100", gpus=8)) == 1   # through the NVSwitch
    assert mesh_ring_count(np.arange(6), ring(6, "10 GB/s")) == 1
    assert mesh_ring_count(np.array([0, 0, 1]), fully_connected(4, "1 GB/s")) == 1


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_mesh_channels_use_every_link_in_both_engines(engine):
    mesh = hierarchical(1, 8, intra_bandwidth="64 GB/s", intra_kind="fully_connected", nic_bandwidth="50 GB/s")
    one = collective_time("all-reduce", 2**28, mesh, "ring", engine=engine)
    seven = collective_time("all-reduce", 2**28, mesh, "ring", engine=engine, channels=7)
    assert one.time_s / seven.time_s == pytest.approx(7.0, rel=1e-6)
    # past the mesh's rings, channels share cycles: no faster than the rings that exist
    fourteen = collective_time("all-reduce", 2**28, mesh, "ring", engine=engine, channels=14)
    assert fourteen.time_s == pytest.approx(seven.time_s, rel=1e-6)
    schedule = build_schedule("all-reduce", 2**28, mesh, "ring", channels=7)
    assert schedule.bytes_sent == pytest.approx(build_schedule("all-reduce", 2**28, mesh, "ring").bytes_sent)


def test_auto_runs_a_channel_per_mesh_ring_and_nccls_model_sees_them():
    cluster = load_topology("mi300x", gpus=8)
    schedule = build_schedule("all-reduce", 2**30, cluster, "auto")
    assert schedule.params["nccl"] == "ring" and schedule.params["channels"] == 7
    busbw = collective_time("all-reduce", 2**30, cluster, "auto").busbw_Bps
    # seven links of 64 GB/s at the xgmi efficiency (0.75), less latency: above what any single ring could reach
    assert 0.9 * 7 * 64e9 * 0.75 < busbw <= 7 * 64e9 * 0.75
    # two nodes: the rings cross the NICs, a channel per NIC, as on any cluster
    two = build_schedule("all-reduce", 2**30, load_topology("mi300x", gpus=16), "auto")
    assert two.params["channels"] == 8


@pytest.mark.parametrize("gpus_per_node,channels", [(8, 8), (8, 4), (8, 2), (4, 4), (3, 3), (6, 6), (8, 16)])
def test_rings_across_mesh_nodes_cross_each_node_on_their_own_links(gpus_per_node, channels):
    from simtrain.collectives.ring import channel_orders, mesh_channel_orders

    cluster = hierarchical(3, gpus_per_node, intra_bandwidth="64 GB/s", intra_kind="fully_connected",
                           nics_per_node=gpus_per_node, nic_bandwidth="400 Gbit/s")
    ranks = np.arange(3 * gpus_per_node)
    orders = mesh_channel_orders(ranks, cluster, channels)
    rotated = channel_orders(ranks, gpus_per_node, channels)
    assert orders.shape == rotated.shape
    g = gpus_per_node
    for row, plain in zip(orders, rotated):
        assert sorted(row.tolist()) == ranks.tolist()
        assert (row // g).tolist() == (ranks // g).tolist()            # nodes in the same order
        runs, plain_runs = row.reshape(-1, g), plain.reshape(-1, g)
        assert (runs[:, 0] == plain_runs[:, 0]).all() and (runs[:, -1] == plain_runs[:, -1]).all()   # same NICs
    # in each node, paths from distinct entries share no directed link (a full set exists for these sizes but 3, 4)
    entries = sorted({(c * g) // channels for c in range(channels)})
    paths = {int(row[0]): row[:g] for row in orders}
    hops = [(int(a), int(b)) for s in entries for a, b in zip(paths[s][:-1], paths[s][1:])]
    if g not in (3, 4):
        assert len(set(hops)) == len(hops)


def test_multi_node_mesh_rings_reach_the_nics_in_both_engines():
    cluster = load_topology("mi300x", gpus=16)
    nic_bound = 8 * 50e9 * 0.95          # eight 400 Gbit/s NICs at the RDMA efficiency
    auto = collective_time("all-reduce", 2**33, cluster, "auto")
    assert 0.95 * nic_bound < auto.busbw_Bps <= nic_bound
    for engine in ("analytical", "des"):
        ring = collective_time("all-reduce", 2**28, cluster, "ring", engine=engine, channels=8)
        assert ring.busbw_Bps > 0.9 * 8 * 50e9   # line rate: on one shared xGMI link it was ~64 GB/s
    # NVSwitch nodes keep their rotated rings
    from simtrain.collectives.ring import mesh_channel_orders

    assert mesh_channel_orders(np.arange(16), load_topology("dgx-h100", gpus=16), 8) is None


def test_trees_on_mesh_nodes_reduce_inside_on_every_link():
    cluster = load_topology("mi300x", gpus=16)
    tree = build_schedule("all-reduce", 2**26, cluster, "nccl-tree")
    inside = [p for p in tree.patterns if p.label.startswith("reduce-scatter")]
    links = cluster.routes(inside[0].src, inside[0].dst).links
    assert np.unique(links).size == links.size == 2 * 8 * 7   # two nodes, 7 rings x 8 GPUs each, no link shared
