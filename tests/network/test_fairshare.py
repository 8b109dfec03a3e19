"""Max-min fair rates: hand-worked cases and a property test of the bottleneck characterisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.network.fairshare import max_min_rates


def csr(paths):
    """Offsets and links of a list of per-flow link lists."""
    offsets = np.zeros(len(paths) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in paths], out=offsets[1:])
    links = np.array([link for p in paths for link in p], dtype=np.int64)
    return offsets, links


def rates_of(paths, capacity, flow_cap=np.inf, active=None):
    offsets, links = csr(paths)
    return max_min_rates(offsets, links, np.asarray(capacity, dtype=np.float64), flow_cap, active)


# ----------------------------------------------------------------------------------------------------------
# hand cases
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 7, 16])
def test_one_link_shared_by_k_flows(k):
    rates = rates_of([[0]] * k, [12.0])
    assert rates.tolist() == pytest.approx([12.0 / k] * k, rel=1e-15)


def test_docstring_two_link_example():
    # two flows share link 0 (10 B/s); the second also crosses link 1 (4 B/s)
    rates = rates_of([[0], [0, 1]], [10.0, 4.0])
    assert rates.tolist() == [6.0, 4.0]


def test_classic_three_flow_line():
    # a long flow over links 0 and 1, a short flow on each; all capacities 1 -> everyone gets 1/2
    assert rates_of([[0, 1], [0], [1]], [1.0, 1.0]).tolist() == [0.5, 0.5, 0.5]
    # link 1 twice as big: the long flow is held to 1/2 by link 0, the short flow on link 1 takes the rest
    assert rates_of([[0, 1], [0], [1]], [1.0, 2.0]).tolist() == [0.5, 0.5, 1.5]


def test_multi_level_filling():
    # link 0 (cap 3) has flows a, b, c; link 1 (cap 10) has c, d. a = b = c = 1, d takes the remaining 9.
    assert rates_of([[0], [0], [0, 1], [1]], [3.0, 10.0]).tolist() == pytest.approx([1.0, 1.0, 1.0, 9.0])


def test_flow_cap_binds():
    rates = rates_of([[0], [0]], [8.0], flow_cap=3.0)
    assert rates.tolist() == [3.0, 3.0]
    # a cap on one flow releases bandwidth to the other
    rates = rates_of([[0], [0]], [8.0], flow_cap=np.array([1.0, np.inf]))
    assert rates.tolist() == [1.0, 7.0]
    # a cap above the fair share does not bind
    assert rates_of([[0], [0]], [8.0], flow_cap=5.0).tolist() == [4.0, 4.0]


def test_flow_without_links_gets_its_cap_or_inf():
    rates = rates_of([[], [0], []], [5.0])
    assert rates[0] == math.inf
    assert rates[1] == 5.0
    assert rates[2] == math.inf
    capped = rates_of([[], [0]], [5.0], flow_cap=np.array([2.0, 9.0]))
    assert capped.tolist() == [2.0, 5.0]


def test_inactive_flows_get_zero_and_take_nothing():
    active = np.array([True, False, True, False])
    rates = rates_of([[0], [0], [0, 1], []], [6.0, 10.0], active=active)
    assert rates.tolist() == [3.0, 0.0, 3.0, 0.0]
    none_active = rates_of([[0], [0]], [6.0], active=np.zeros(2, dtype=bool))
    assert none_active.tolist() == [0.0, 0.0]


def test_active_mask_is_not_modified():
    active = np.array([True, False])
    rates_of([[0], [0]], [6.0], active=active)
    assert active.tolist() == [True, False]


def test_no_flows():
    offsets = np.zeros(1, dtype=np.int64)
    rates = max_min_rates(offsets, np.zeros(0, dtype=np.int64), np.array([1.0]))
    assert rates.shape == (0,)


def test_unused_links_and_zero_capacity():
    # link 1 is unused; link 2 has no capacity, so its flow gets 0 and the other flows are unaffected
    assert rates_of([[0], [0, 2]], [4.0, 1.0, 0.0]).tolist() == [4.0, 0.0]


def test_inputs_are_not_modified():
    offsets, links = csr([[0], [0, 1]])
    capacity = np.array([10.0, 4.0])
    max_min_rates(offsets, links, capacity)
    assert capacity.tolist() == [10.0, 4.0]


def test_symmetric_ring_pattern_gets_equal_rates():
    # 8 flows on a unidirectional ring of 8 links, each crossing 3 consecutive links: each link carries 3 flows
    paths = [[(i + j) % 8 for j in range(3)] for i in range(8)]
    rates = rates_of(paths, [9.0] * 8)
    assert rates.tolist() == pytest.approx([3.0] * 8, rel=1e-15)


# ----------------------------------------------------------------------------------------------------------
# property test: the bottleneck characterisation of max-min fairness
# ----------------------------------------------------------------------------------------------------------
@st.composite
def instances(draw):
    num_links = draw(st.integers(min_value=1, max_value=8))
    capacity = draw(st.lists(
        st.floats(min_value=0.01, max_value=1e4, allow_nan=False, allow_infinity=False),
        min_size=num_links, max_size=num_links,
    ))
    num_flows = draw(st.integers(min_value=0, max_value=12))
    paths = [sorted(draw(st.sets(st.integers(min_value=0, max_value=num_links - 1), max_size=num_links)))
             for _ in range(num_flows)]
    paths = [draw(st.permutations(p)) if p else p for p in paths]
    cap_kind = draw(st.sampled_from(["none", "scalar", "per-flow"]))
    if cap_kind == "none":
        flow_cap = np.inf
    elif cap_kind == "scalar":
        flow_cap = draw(st.floats(min_value=0.01, max_value=1e4, allow_nan=False))
    else:
        flow_cap = np.array(draw(st.lists(
            st.floats(min_value=0.01, max_value=1e4, allow_nan=False) | st.just(np.inf),
            min_size=num_flows, max_size=num_flows,
        )), dtype=np.float64)
    active = None
    if draw(st.booleans()):
        active = np.array(draw(st.lists(st.booleans(), min_size=num_flows, max_size=num_flows)), dtype=bool)
    return paths, np.array(capacity), flow_cap, active


@settings(max_examples=300, deadline=None)
@given(instance=instances())
def test_max_min_fairness_bottleneck_property(instance):
    paths, capacity, flow_cap, active = instance
    num_flows = len(paths)
    rates = rates_of(paths, capacity, flow_cap, active)
    caps = np.broadcast_to(np.asarray(flow_cap, dtype=np.float64), (num_flows,))
    is_active = np.ones(num_flows, dtype=bool) if active is None else active

    assert rates.shape == (num_flows,)
    assert not np.isnan(rates).any()
    assert np.all(rates[~is_active] == 0.0)
    assert np.all(rates >= 0.0)
    # no flow exceeds its cap
    assert np.all(rates <= caps * (1 + 1e-9))

    # (a) feasibility
    load = np.zeros(len(capacity))
    for f, path in enumerate(paths):
        if is_active[f]:
            for link in path:
                load[link] += rates[f]
    assert np.all(load <= capacity * (1 + 1e-9)), (load, capacity)
    saturated = load >= capacity * (1 - 1e-9)

    # (b) every active flow is at its cap or has a saturated bottleneck link where it has the largest rate
    for f, path in enumerate(paths):
        if not is_active[f]:
            continue
        if not path:
            assert rates[f] == caps[f]
            continue
        assert math.isfinite(rates[f])
        if rates[f] >= caps[f] * (1 - 1e-9):
            continue
        bottlenecks = []
        for link in path:
            if not saturated[link]:
                continue
            on_link = [g for g, other in enumerate(paths) if is_active[g] and link in other]
            largest = max(rates[g] for g in on_link)
            if rates[f] >= largest * (1 - 1e-9):
                bottlenecks.append(link)
        assert bottlenecks, f"flow {f} (rate {rates[f]}, path {path}) has no bottleneck link"


@settings(max_examples=200, deadline=None)
@given(instance=instances(), scale=st.sampled_from([0.5, 2.0, 1024.0]))
def test_rates_scale_with_capacities_and_caps(instance, scale):
    paths, capacity, flow_cap, active = instance
    rates = rates_of(paths, capacity, flow_cap, active)
    scaled = rates_of(paths, capacity * scale, np.asarray(flow_cap) * scale, active)
    finite = np.isfinite(rates)
    assert np.array_equal(np.isfinite(scaled), finite)
    assert np.allclose(scaled[finite], rates[finite] * scale, rtol=1e-9, atol=0.0)


@settings(max_examples=200, deadline=None)
@given(instance=instances(), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_rates_do_not_depend_on_flow_order(instance, seed):
    paths, capacity, flow_cap, active = instance
    rates = rates_of(paths, capacity, flow_cap, active)
    order = np.random.default_rng(seed).permutation(len(paths))
    caps = np.broadcast_to(np.asarray(flow_cap, dtype=np.float64), (len(paths),))
    shuffled = rates_of([paths[i] for i in order], capacity, caps[order].copy(),
                        None if active is None else active[order])
    assert np.allclose(shuffled, rates[order], rtol=1e-9, atol=0.0, equal_nan=False)


def _progressive_filling(paths, capacity, caps):
    """Textbook progressive filling, one rate level per round: raise every unfrozen flow's rate together until a
    link fills or a cap binds, freeze those flows, repeat."""
    rates = [0.0] * len(paths)
    frozen = [False] * len(paths)
    remaining = list(capacity)
    for f, path in enumerate(paths):
        if not path:
            rates[f], frozen[f] = caps[f], True
    while not all(frozen):
        level = math.inf
        for link, left in enumerate(remaining):
            users = sum(1 for f, p in enumerate(paths) if not frozen[f] and link in p)
            if users:
                level = min(level, left / users)
        level = min([level] + [caps[f] for f in range(len(paths)) if not frozen[f]])
        full = {link for link, left in enumerate(remaining)
                if any(not frozen[f] and link in p for f, p in enumerate(paths))
                and left / sum(1 for f, p in enumerate(paths) if not frozen[f] and link in p) <= level * (1 + 1e-12)}
        for f, path in enumerate(paths):
            if not frozen[f] and (caps[f] <= level * (1 + 1e-12) or full & set(path)):
                rates[f], frozen[f] = level, True
                for link in path:
                    remaining[link] -= level
    return rates


@settings(max_examples=300, deadline=None)
@given(instance=instances())
def test_equals_textbook_progressive_filling(instance):
    # the implementation freezes every link that is the bottleneck of all its flows at once (fewer rounds than
    # distinct rates); the allocation is the one-level-per-round filling's
    paths, capacity, flow_cap, active = instance
    is_active = np.ones(len(paths), dtype=bool) if active is None else active
    caps = np.broadcast_to(np.asarray(flow_cap, dtype=np.float64), (len(paths),))
    taking_part = [f for f in range(len(paths)) if is_active[f]]
    expected = _progressive_filling([paths[f] for f in taking_part], capacity.tolist(), [caps[f] for f in taking_part])
    rates = rates_of(paths, capacity, flow_cap, active)
    np.testing.assert_allclose(rates[taking_part], expected, rtol=1e-9)
    assert np.all(rates[~is_active] == 0.0)


def test_a_staircase_of_independent_bottlenecks():
    # five links of growing capacity, each with its own two flows, and one flow across all: every rate differs,
    # yet the links do not wait on one another
    paths = [[i] for i in range(5) for _ in range(2)] + [list(range(5))]
    capacity = [3.0, 6.0, 9.0, 12.0, 15.0]
    rates = rates_of(paths, capacity)
    assert rates.tolist() == pytest.approx([1.0, 1.0, 2.5, 2.5, 4.0, 4.0, 5.5, 5.5, 7.0, 7.0, 1.0])


def test_an_infinite_link_stays_infinite_and_weights_must_be_positive():
    from simtrain.network._fairshare_numba import max_min_rates_weighted_kernel

    # flow 0 alone behind an infinite link it shares with flow 1, which a 4 B/s link holds: no inf - inf
    offsets, links = csr([[0], [0, 1]])
    capacity = np.array([np.inf, 4.0])
    with np.errstate(all="raise"):
        rates = max_min_rates(offsets, links, capacity)
    assert rates.tolist() == [math.inf, 4.0]
    kernel = max_min_rates_weighted_kernel(offsets, links, np.ones(3), capacity, np.full(2, np.inf),
                                           np.ones(2, dtype=bool))
    assert kernel.tolist() == [math.inf, 4.0]
    with pytest.raises(ValueError, match="positive"):
        max_min_rates(offsets, links, capacity, weights=np.array([0.0, 1.0, 1.0]))
