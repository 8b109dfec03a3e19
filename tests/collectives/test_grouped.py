"""Grouped schedules: copying the first group's patterns onto the others equals building every group."""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.collectives import ALGORITHMS, build_grouped_schedule, build_schedule
from simtrain.collectives.base import merge_group_patterns
from simtrain.errors import ConfigError
from simtrain.topology import load_topology

CLUSTERS = [("abci", 64), ("cloud-25g", 32), ("torus-2d", 64), ("dgx-h100", 32), ("torus-3d", 64)]


def group_sets(cluster):
    g, n = cluster.gpus_per_node, cluster.num_gpus
    return {"node": [np.arange(i, i + g) for i in range(0, n, g)],
            "peers": [np.arange(local, n, g) for local in range(g)],
            "pairs": [np.arange(i, i + 2) for i in range(0, n, 2)]}


@pytest.mark.parametrize(("topology", "gpus"), CLUSTERS)
@pytest.mark.parametrize("op", ["all-reduce", "all-gather", "reduce-scatter", "broadcast"])
def test_relabelled_groups_equal_per_group_builds(topology, gpus, op):
    cluster = load_topology(topology, gpus=gpus)
    compared = 0
    for name in ALGORITHMS.names():
        if name == "auto":
            continue   # chooses per size: groups of different sizes built alone may choose differently (its own test)
        for groups in group_sets(cluster).values():
            sizes = [1e6 * (1 + i % 3) for i in range(len(groups))]
            try:
                parts = [build_schedule(op, s, cluster, name, ranks=g) for s, g in zip(sizes, groups)]
            except ConfigError:
                continue   # the algorithm does not apply to this group shape
            expected = merge_group_patterns([p.patterns for p in parts], [len(g) for g in groups])
            got = build_grouped_schedule(op, sizes, cluster, name, groups).patterns
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                assert np.array_equal(a.src, b.src) and np.array_equal(a.dst, b.dst)
                np.testing.assert_allclose(a.nbytes, b.nbytes, rtol=1e-12)
                assert (a.repeat, a.stages, a.label) == (b.repeat, b.stages, b.label)
                assert a.reduce_bytes == pytest.approx(b.reduce_bytes, rel=1e-12)
                assert (a.chain_id is None) == (b.chain_id is None)
                if a.chain_id is not None:
                    assert np.array_equal(a.chain_id, b.chain_id)
                if a.stage_of_flow is not None:
                    assert np.array_equal(a.stage_of_flow, b.stage_of_flow)
            compared += 1
    assert compared >= 6


def test_groups_of_different_sizes_are_refused():
    cluster = load_topology("abci", gpus=16)
    with pytest.raises(ConfigError, match="equal size"):
        build_grouped_schedule("all-reduce", [1e6, 1e6], cluster, "ring", [np.arange(4), np.arange(4, 12)])
