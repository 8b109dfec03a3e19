"""The memory models: live frees after consumers, held keeps everything; tracker = replay."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simtrain.errors import ConfigError
from simtrain.placement import GraphBuilder, MemoryTracker, make_devices, place
from simtrain.placement.memory import replay_memory


def _chain():
    b = GraphBuilder("chain")
    ops = [b.add_op(f"op{i}", 1.0, temporary_bytes=2.0) for i in range(4)]
    for u, v in itertools.pairwise(ops):
        b.add_edge(u, v, [b.add_tensor(u, 10.0)])
    return b.build()


def test_live_frees_outputs_after_their_consumers_and_held_keeps_them():
    g = _chain()
    device = np.zeros(4, dtype=np.int64)
    start, end = np.arange(4.0), np.arange(4.0) + 1
    live = replay_memory(g, device, start, end, [np.inf], "live")
    held = replay_memory(g, device, start, end, [np.inf], "held")
    assert live.peak.tolist() == [22.0]          # input 10 + output 10 + temporary 2
    assert held.peak.tolist() == [32.0]          # three outputs of 10 kept, + temporary 2


def test_received_tensor_is_counted_on_the_receiver():
    g = _chain()
    device = np.array([0, 1, 1, 1])
    live = replay_memory(g, device, np.array([0.0, 2, 3, 4]), np.array([1.0, 3, 4, 5]), [np.inf] * 2, "live")
    assert live.peak.tolist() == [12.0, 22.0]


def test_tracker_refuses_an_op_that_does_not_fit():
    g = _chain()
    mem = MemoryTracker(g, [21.0], "live")
    mem.commit(0, 0, 0.0, 1.0)
    assert not mem.fits(1, 0) and mem.shortfall(1, 0) == pytest.approx(1.0)


def test_memory_limit_changes_the_placement():
    g = _chain()
    roomy = place(g, make_devices(2, [100.0, 100.0]), "m-etf", memory_model="held")
    tight = place(g, make_devices(2, [31.0, 31.0]), "m-etf", memory_model="held")
    assert len(set(roomy.device.tolist())) == 1 and len(set(tight.device.tolist())) == 2
    assert (tight.simulation.peak_memory_bytes <= 31.0).all()


def test_unknown_memory_model():
    with pytest.raises(ConfigError, match="did you mean 'live'"):
        MemoryTracker(_chain(), [1.0], "lve")
