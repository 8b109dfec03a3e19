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
    assert two.params.get("channels", 1) in (1, 8)
