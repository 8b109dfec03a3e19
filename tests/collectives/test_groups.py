"""``simtrain.collectives.groups``: a scheme communication's rank groups and the Schedule that carries it."""

from __future__ import annotations

import pytest

from simtrain.collectives import build_grouped_schedule
from simtrain.collectives.groups import comm_schedule, comm_sizes, node_local, rank_groups
from simtrain.compression.base import Communication
from simtrain.errors import ConfigError
from simtrain.topology import hierarchical, switch


def test_rank_groups_of_every_group_name():
    assert [g.tolist() for g in rank_groups("world", 4, 2)] == [[0, 1, 2, 3]]
    assert [g.tolist() for g in rank_groups("node", 4, 2)] == [[0, 1], [2, 3]]
    assert [g.tolist() for g in rank_groups("peers", 4, 2)] == [[0, 2], [1, 3]]
    assert [g.tolist() for g in rank_groups("leaders", 4, 2)] == [[0, 2]]
    assert [g.tolist() for g in rank_groups("groups:2", 6, 3)] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ConfigError, match="must divide"):
        rank_groups("groups:4", 6, 3)
    assert node_local("groups:2", 4) and not node_local("groups:8", 4) and not node_local("peers", 4)


def test_group_payloads_alternate_over_the_groups():
    comm = Communication("A or B", "all-reduce", 3.0, "groups:2", group_payloads=(2.0, 4.0))
    groups, sizes = comm_sizes(comm, 8, 1)
    assert len(groups) == 4 and sizes == [2.0, 4.0, 2.0, 4.0]


def test_comm_schedule_is_the_grouped_schedule_and_falls_back_to_a_ring():
    cluster = switch(8, 1e9)
    comm = Communication("g", "all-reduce", 1e6, "node")
    expected = build_grouped_schedule("all-reduce", [1e6, 1e6], cluster, "ring", rank_groups("node", 8, 4))
    got = comm_schedule(comm, cluster, 4)
    assert got.bytes_sent == expected.bytes_sent and got.algorithm == "ring"
    gather = comm_schedule(Communication("v", "all-gather", 1e3), cluster, 1, "hierarchical")
    assert gather.algorithm == "ring"                       # hierarchical has no all-gather
    push = comm_schedule(Communication("s", "push-pull", 1e3, servers=1), cluster, 1)
    assert push.algorithm == "ps" and push.params["servers"] == 1


def test_comm_schedule_applies_the_algorithm_spec_parameters_where_it_runs():
    cluster = hierarchical(2, 4, intra_bandwidth="100 GB/s", nics_per_node=4, nic_bandwidth="10 GB/s")
    comm = Communication("g", "all-reduce", 1e6)
    assert comm_schedule(comm, cluster, 4, "ring:channels=4").params == {"channels": 4}
    with pytest.raises(ConfigError) as info:
        comm_schedule(comm, cluster, 4, "ring:channels=0")
    assert info.value.key == "algorithm ring:channels"
