"""The link classes a flow crosses, as the cache numbers them (what traffic per class and protocol costs read)."""

from __future__ import annotations

import numpy as np
import pytest

import simtrain.network.cache as cache_module
from simtrain.collectives import build_schedule
from simtrain.network.cache import NetworkCache
from simtrain.topology import load_topology, torus


def _crosses(cluster, pattern) -> np.ndarray:
    """The same question asked link by link."""
    routes = cluster.routes(pattern.src, pattern.dst)
    out = np.zeros((pattern.num_flows, len(cluster.class_names)), dtype=bool)
    for flow in range(pattern.num_flows):
        out[flow, cluster.link_class[routes.links[routes.offsets[flow]:routes.offsets[flow + 1]]]] = True
    return out


@pytest.mark.parametrize("table", [True, False], ids=["table", "sorted"])
@pytest.mark.parametrize("cluster", [torus([4, 4, 2], 1e9), load_topology("abci", gpus=32)], ids=["torus", "abci"])
def test_flow_classes_match_the_links(cluster, table, monkeypatch):
    if not table:   # the branch for clusters of many classes
        monkeypatch.setattr(cache_module, "TABLE_CLASSES", 0)
    schedule = build_schedule("all-reduce", 2**20, cluster, "halving-doubling")
    for pattern in schedule.patterns:
        kind, sets = NetworkCache(cluster).flow_classes(pattern)
        assert len(np.unique(sets, axis=0)) == len(sets)   # each set once
        np.testing.assert_array_equal(sets[kind], _crosses(cluster, pattern))


@pytest.mark.parametrize("table", [True, False], ids=["table", "sorted"])
def test_flow_classes_of_no_flows_and_of_local_copies(table, monkeypatch):
    from simtrain.collectives.schedule import StepPattern

    if not table:
        monkeypatch.setattr(cache_module, "TABLE_CLASSES", 0)
    cluster = torus([4, 4], 1e9)
    kind, sets = NetworkCache(cluster).flow_classes(StepPattern(np.zeros(0, int), np.zeros(0, int), 1.0))
    assert kind.shape == (0,) and sets.shape[1] == 2
    kind, sets = NetworkCache(cluster).flow_classes(StepPattern([0, 3], [0, 3], 1.0))   # copies cross nothing
    assert sets[kind].tolist() == [[False, False], [False, False]]
    assert not kind.flags.writeable and not sets.flags.writeable   # cached, shared by every caller
