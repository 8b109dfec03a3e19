"""The real codecs: exact payload sizes, round trips, shared randomness, unbiasedness, error feedback, bad input."""

from __future__ import annotations

import itertools
import math
import struct
from typing import Any

import numpy as np
import pytest

from simtrain.compression import _codec_kernels as kernels
from simtrain.compression.codecs import CODECS, ErrorFeedback, make_codec, payload_bytes
from simtrain.errors import ConfigError

# (name, params) covering every codec and every value width / index width / level width.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("none", {"value_dtype": "fp16"}),
    ("none", {"value_dtype": "bf16"}),
    ("fp16", {}),
    ("bf16", {}),
    ("topk", {"density": 0.01}),
    ("topk", {"density": 0.3, "value_dtype": "bf16", "index_bytes": 8}),
    ("mstopk", {"density": 0.05}),
    ("mstopk", {"density": 0.9, "rounds": 3, "value_dtype": "fp16"}),
    ("randomk", {"density": 0.01, "seed": 3}),
    ("randomk", {"density": 0.5, "value_dtype": "fp16"}),
    ("qsgd", {}),
    ("qsgd", {"levels": 1000, "seed": 5}),
    ("signsgd", {}),
    ("onebit", {}),
    ("dithering", {"levels": 7}),
    ("dithering", {"levels": 128}),
    ("block", {"fraction": 0.1}),
    ("block", {"fraction": 1.0, "value_dtype": "bf16"}),
    ("powersgd", {"rank": 1}),
    ("powersgd", {"rank": 1, "value_dtype": "fp16"}),
    ("lowrank-factor", {"factor": "A", "rank": 1}),
    ("lowrank-factor", {"factor": "B", "rank": 1, "value_dtype": "bf16"}),
    ("lowrank-factor", {"factor": "S", "rank": 1}),
]
TWO_D_ONLY = {"powersgd", "lowrank-factor"}
SHAPES = [(1,), (7,), (1000,), (65536 + 3,), (1, 1), (7, 1), (3, 7), (40, 25), (16, 3, 3, 3), (8, 4, 5, 5)]


def sample(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_every_codec_is_covered() -> None:
    assert {name for name, _ in VARIANTS} == set(CODECS)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=lambda v: str(v))
def test_payload_length_equals_payload_bytes(name: str, params: dict[str, Any]) -> None:
    checked = 0
    for shape in SHAPES:
        if name in TWO_D_ONLY and len(shape) < 2:
            continue
        codec = make_codec(name, **params)
        state = {"step": 3, "key": "layer.weight"}
        payload = codec.encode(sample(shape), state)
        assert isinstance(payload, bytes)
        assert len(payload) == payload_bytes(name, shape, **params) == codec.payload_bytes(shape)
        decoded = codec.decode(payload, shape, state)
        assert decoded.dtype == np.float32
        if name != "lowrank-factor":
            assert decoded.shape == shape
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=lambda v: str(v))
def test_encoding_is_deterministic(name: str, params: dict[str, Any]) -> None:
    x = sample((12, 10), seed=4)
    first = make_codec(name, **params).encode(x, {"step": 2, "key": 9})
    second = make_codec(name, **params).encode(x.copy(), {"step": 2, "key": 9})
    assert first == second


@pytest.mark.parametrize(
    ("name", "shape", "params", "expected"),
    [
        ("none", (10, 10), {}, 400),
        ("none", (10, 10), {"value_dtype": "bf16"}, 200),
        ("fp16", (3, 5), {}, 30),
        ("topk", (100,), {"density": 0.07}, 7 * 8),  # 0.07·100 is exactly 7 (not 7.000000000000001 → 8)
        ("topk", (1000,), {"density": 0.0001}, 8),  # at least one entry
        ("topk", (10,), {"density": 0.25, "index_bytes": 8, "value_dtype": "fp16"}, 3 * 10),
        ("randomk", (1000,), {"density": 0.01}, 40),
        ("qsgd", (100,), {}, 104),
        ("qsgd", (100,), {"levels": 128}, 204),
        ("dithering", (100,), {"levels": 127}, 104),
        ("dithering", (100,), {"levels": 128}, 204),
        ("signsgd", (9,), {}, 2),
        ("onebit", (64,), {}, 12),
        ("onebit", (65,), {}, 20),
        ("block", (1000,), {"fraction": 0.0125}, 52),
        ("powersgd", (64, 3, 3, 3), {"rank": 4}, (64 + 27) * 4 * 4),
        ("lowrank-factor", (64, 27), {"factor": "A", "rank": 4}, 64 * 4 * 4),
        ("lowrank-factor", (64, 27), {"factor": "B", "rank": 4, "value_dtype": "fp16"}, 4 * 27 * 2),
        ("lowrank-factor", (64, 27), {"factor": "S", "rank": 4}, 4 * 4 * 4),
    ],
)
def test_payload_bytes_formulas(name: str, shape: tuple[int, ...], params: dict[str, Any], expected: int) -> None:
    assert payload_bytes(name, shape, **params) == expected


def test_none_is_bit_exact() -> None:
    bits = np.array([0, 0x80000000, 1, 0x007FFFFF, 0x7F7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00001, 0x3F800000],
                    dtype=np.uint32)
    x = np.concatenate([bits.view(np.float32), sample((1000,))]).reshape(-1, 1)
    codec = make_codec("none")
    assert codec.lossless
    decoded = codec.decode(codec.encode(x), x.shape)
    np.testing.assert_array_equal(decoded.view(np.uint32), x.view(np.uint32))
    assert not make_codec("none", value_dtype="fp16").lossless
    assert not make_codec("topk", density=1.0).lossless


def test_topk_keeps_the_k_largest_bit_exactly() -> None:
    rng = np.random.default_rng(1)
    magnitudes = rng.permutation(np.arange(1, 2001, dtype=np.float32)) / np.float32(7)  # distinct |x|
    x = (magnitudes * rng.choice([-1, 1], size=2000)).astype(np.float32).reshape(40, 50)
    codec = make_codec("topk", density=0.013)
    payload = codec.encode(x)
    k = math.ceil(0.013 * 2000)
    indices = np.frombuffer(payload, dtype="<u4", count=k)
    assert np.all(np.diff(indices.astype(np.int64)) > 0)  # sorted ascending, no duplicates
    expected = np.sort(np.argsort(-np.abs(x.ravel()))[:k])
    np.testing.assert_array_equal(indices, expected)
    decoded = codec.decode(payload, x.shape)
    keep = np.zeros(x.size, dtype=bool)
    keep[expected] = True
    np.testing.assert_array_equal(decoded.ravel()[keep].view(np.uint32), x.ravel()[keep].view(np.uint32))
    assert np.all(decoded.ravel()[~keep] == 0)


def test_topk_with_eight_byte_indices() -> None:
    x = sample((500,), seed=2)
    codec = make_codec("topk", density=0.02, index_bytes=8)
    payload = codec.encode(x)
    indices = np.frombuffer(payload, dtype="<u8", count=10)
    np.testing.assert_array_equal(indices, np.sort(np.argsort(-np.abs(x))[:10]))


def test_topk_at_full_density_is_exact() -> None:
    x = sample((33, 3), seed=3)
    codec = make_codec("topk", density=1.0)
    np.testing.assert_array_equal(codec.decode(codec.encode(x), x.shape), x)


@pytest.mark.parametrize("density", [0.001, 0.01, 0.2, 0.6, 0.95])
def test_mstopk_selects_exactly_the_top_k_for_distinct_values(density: float) -> None:
    x = sample((5000,), seed=5)
    k = math.ceil(density * 5000)
    top = make_codec("topk", density=density)
    approx = make_codec("mstopk", density=density, rounds=20)
    assert approx.encode(x) == top.encode(x)
    assert len(approx.encode(x)) == k * 8


@pytest.mark.parametrize("rounds", [1, 2, 20])
def test_mstopk_sends_exactly_k_entries_with_ties(rounds: int) -> None:
    x = np.repeat(np.array([1.0, -2.0, 3.0, 0.5], dtype=np.float32), 250)  # heavy ties
    codec = make_codec("mstopk", density=0.3, rounds=rounds)
    payload = codec.encode(x)
    indices = np.frombuffer(payload, dtype="<u4", count=300)
    assert np.unique(indices).size == 300
    decoded = codec.decode(payload, x.shape)
    assert np.count_nonzero(decoded) == 300
    assert np.all(np.abs(decoded[decoded != 0]) >= 2.0)  # the 250 threes, then 50 of the -2s
    assert np.count_nonzero(decoded == 3.0) == 250
    chosen_twos = np.flatnonzero(decoded == -2.0)
    np.testing.assert_array_equal(chosen_twos, np.flatnonzero(x == -2.0)[:50])  # ties go to the lowest indices
    assert payload == make_codec("topk", density=0.3).encode(x)


@pytest.mark.parametrize("name", ["topk", "mstopk"])
@pytest.mark.parametrize("nonzero", [0.0, 0.003, 0.1, 0.5])
def test_top_k_of_mostly_zero_tensors(name: str, nonzero: float) -> None:
    rng = np.random.default_rng(21)
    x = (rng.standard_normal(20_000) * (rng.random(20_000) < nonzero)).astype(np.float32)
    codec = make_codec(name, density=0.01)
    payload = codec.encode(x)
    indices = np.frombuffer(payload, dtype="<u4", count=200)
    np.testing.assert_array_equal(indices, kernels.topk_indices_numpy(x, 200))
    decoded = codec.decode(payload, x.shape)
    np.testing.assert_array_equal(decoded[indices], x[indices])


def test_mstopk_with_heavy_tails_and_an_outlier() -> None:
    rng = np.random.default_rng(22)
    cauchy = rng.standard_cauchy(30_000).astype(np.float32)
    outlier = np.concatenate([rng.standard_normal(29_999), [1e6]]).astype(np.float32)
    uniform = rng.random(30_000).astype(np.float32)
    for x in (cauchy, outlier, uniform):
        for density in (0.001, 0.01, 0.3):
            for rounds in (1, 4, 20):
                got = make_codec("mstopk", density=density, rounds=rounds).encode(x)
                assert got == make_codec("topk", density=density).encode(x)


def test_randomk_workers_share_indices_and_nothing_else_is_sent() -> None:
    x = sample((4000,), seed=6) + np.float32(10)  # no zeros
    state = {"step": 7, "key": "conv1.weight"}
    worker_a = make_codec("randomk", density=0.01, seed=11)
    worker_b = make_codec("randomk", density=0.01, seed=11)
    decoded_a = worker_a.decode(worker_a.encode(x, state), x.shape, state)
    other = sample((4000,), seed=7) + np.float32(10)
    decoded_b = worker_b.decode(worker_b.encode(other, dict(state)), x.shape, dict(state))
    chosen = np.flatnonzero(decoded_a)
    assert chosen.size == 40
    np.testing.assert_array_equal(np.flatnonzero(decoded_b), chosen)
    np.testing.assert_array_equal(decoded_a[chosen], x[chosen])
    np.testing.assert_array_equal(decoded_b[chosen], other[chosen])
    next_step = {"step": 8, "key": "conv1.weight"}
    moved = np.flatnonzero(worker_a.decode(worker_a.encode(x, next_step), x.shape, next_step))
    assert not np.array_equal(moved, chosen)
    other_key = {"step": 7, "key": "conv2.weight"}
    assert not np.array_equal(np.flatnonzero(worker_a.decode(worker_a.encode(x, other_key), x.shape, other_key)),
                              chosen)


def test_block_is_one_shared_contiguous_block() -> None:
    x = sample((1000,), seed=8) + np.float32(10)
    state = {"step": 2, "key": 5}
    a, b = make_codec("block", fraction=0.05, seed=1), make_codec("block", fraction=0.05, seed=1)
    decoded_a = a.decode(a.encode(x, state), x.shape, state)
    decoded_b = b.decode(b.encode(x * 2, state), x.shape, state)
    chosen = np.flatnonzero(decoded_a)
    assert chosen.size == 50
    assert np.all(np.diff(chosen) == 1)
    np.testing.assert_array_equal(np.flatnonzero(decoded_b), chosen)
    np.testing.assert_array_equal(decoded_a[chosen], x[chosen])
    offsets = set()
    for step in range(20):
        st = {"step": step, "key": 5}
        offsets.add(int(np.flatnonzero(a.decode(a.encode(x, st), x.shape, st))[0]))
    assert len(offsets) > 1


def test_signsgd_signs_are_exact() -> None:
    x = np.concatenate([sample((1001,), seed=9), np.array([0.0, -0.0], dtype=np.float32)])
    codec = make_codec("signsgd")
    payload = codec.encode(x)
    assert len(payload) == math.ceil(1003 / 8)
    decoded = codec.decode(payload, x.shape)
    np.testing.assert_array_equal(decoded, np.where(x >= 0, 1.0, -1.0).astype(np.float32))


def test_onebit_signs_and_scale() -> None:
    x = sample((130,), seed=10)
    codec = make_codec("onebit")
    payload = codec.encode(x)
    assert len(payload) == 8 * 3 + 4
    (scale,) = struct.unpack("<f", payload[-4:])
    assert scale == pytest.approx(float(np.mean(np.abs(x.astype(np.float64)))), rel=1e-6)
    words = np.frombuffer(payload[:24], dtype="<u8")
    bits = [(int(words[i // 64]) >> (i % 64)) & 1 for i in range(130)]
    np.testing.assert_array_equal(bits, (x >= 0).astype(int))
    assert all((int(words[2]) >> i) & 1 == 0 for i in range(130 - 128, 64))  # padding bits are zero
    decoded = codec.decode(payload, x.shape)
    np.testing.assert_array_equal(decoded, np.float32(scale) * np.where(x >= 0, 1, -1).astype(np.float32))


def test_fp16_matches_numpy() -> None:
    x = np.concatenate([sample((999,), seed=11) * 100, np.array([1e-8, 65504.0, -0.0], dtype=np.float32)])
    codec = make_codec("fp16")
    decoded = codec.decode(codec.encode(x), x.shape)
    np.testing.assert_array_equal(decoded, x.astype(np.float16).astype(np.float32))


def reference_bf16(value: np.float32) -> int:
    """Round one float32 to bfloat16 bits by comparing the two neighbours in float64 (ties to even)."""
    bits = int(np.array([value], dtype=np.float32).view(np.uint32)[0])
    if math.isnan(float(value)):
        return (bits >> 16) | 0x0040
    low = bits & 0xFFFF0000
    high = low + 0x10000
    lo_val = float(np.array([low], dtype=np.uint32).view(np.float32)[0])
    if (high & 0x7F800000) == 0x7F800000 and (high & 0x007FFFFF) == 0:  # rounding up reaches infinity
        hi_val = math.copysign(2.0**128, lo_val)
    else:
        hi_val = float(np.array([high & 0xFFFFFFFF], dtype=np.uint32).view(np.float32)[0])
    v = float(value)
    d_lo, d_hi = abs(v - lo_val), abs(hi_val - v)
    if d_lo < d_hi:
        return low >> 16
    if d_hi < d_lo:
        return (high >> 16) & 0xFFFF
    return (low >> 16) if (low >> 16) % 2 == 0 else (high >> 16) & 0xFFFF


def test_bf16_rounds_to_nearest_even() -> None:
    ties_and_edges = np.array(
        [
            0x3F808000,  # tie, lower neighbour even → down
            0x3F818000,  # tie, lower neighbour odd → up
            0xBF818000,  # negative tie → up in magnitude
            0x3F808001,  # just above the tie → up
            0x3F807FFF,  # just below the tie → down
            0x7F7FFFFF,  # rounds to infinity
            0x00000001,  # smallest subnormal → 0
            0x7F800000,  # infinity
            0xFF800000,  # -infinity
            0x80000000,  # -0
        ],
        dtype=np.uint32,
    ).view(np.float32)
    x = np.concatenate([ties_and_edges, sample((500,), seed=12) * 1000])
    codec = make_codec("bf16")
    payload = codec.encode(x)
    got = np.frombuffer(payload, dtype="<u2")
    expected = np.array([reference_bf16(v) for v in x], dtype=np.uint16)
    np.testing.assert_array_equal(got, expected)
    assert list(got[:6]) == [0x3F80, 0x3F82, 0xBF82, 0x3F81, 0x3F80, 0x7F80]
    decoded = codec.decode(payload, x.shape)
    np.testing.assert_array_equal(decoded.view(np.uint32), expected.astype(np.uint32) << 16)


def test_bf16_keeps_nan() -> None:
    x = np.array([0x7F800001, 0xFFC00000], dtype=np.uint32).view(np.float32)
    codec = make_codec("bf16")
    assert np.all(np.isnan(codec.decode(codec.encode(x), x.shape)))


@pytest.mark.parametrize(("name", "levels"), [("qsgd", 4), ("qsgd", 300), ("dithering", 3), ("dithering", 200)])
def test_stochastic_quantisers_are_unbiased(name: str, levels: int) -> None:
    x = np.concatenate([sample((40,), seed=13), np.array([0.0, 1.5, -1.5], dtype=np.float32)])
    codec = make_codec(name, levels=levels, seed=2)
    trials = 3000
    draws = np.stack([codec.decode(codec.encode(x, {"step": s, "key": "w"}), x.shape, {"step": s})
                      for s in range(trials)]).astype(np.float64)
    mean = draws.mean(axis=0)
    stderr = draws.std(axis=0) / math.sqrt(trials)
    scale = float(np.linalg.norm(x)) if name == "qsgd" else float(np.max(np.abs(x)))
    assert np.all(np.abs(mean - x) <= 5 * stderr + 1e-6 * scale)
    assert np.any(stderr > 0)  # it really is stochastic
    assert np.all(draws[:, 40] == 0)
    step = scale / levels  # every decoded value is a multiple of the level step
    np.testing.assert_allclose(draws / step, np.round(draws / step), atol=1e-3)


def test_qsgd_payload_layout() -> None:
    x = np.array([3.0, -4.0, 0.0], dtype=np.float32)
    payload = make_codec("qsgd", levels=5).encode(x)
    assert struct.unpack("<f", payload[:4])[0] == 5.0
    assert list(np.frombuffer(payload[4:], dtype=np.int8)) == [3, -4, 0]  # 5·|x|/5 lands exactly on levels


def test_quantisers_of_zero_tensor() -> None:
    for name in ("qsgd", "dithering", "onebit"):
        codec = make_codec(name)
        x = np.zeros((5, 3), dtype=np.float32)
        np.testing.assert_array_equal(codec.decode(codec.encode(x), x.shape), x)


def test_numba_kernels_match_their_numpy_twins() -> None:
    rng = np.random.default_rng(14)
    x = np.concatenate([rng.standard_normal(10_001).astype(np.float32),
                        np.array([0.0, -0.0, 1.0, -1.0, 2.5], dtype=np.float32)])
    got = kernels.abs_stats(x)
    want = kernels.abs_stats_numpy(x)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert kernels.abs_stats(np.zeros(0, dtype=np.float32)) == kernels.abs_stats_numpy(np.zeros(0)) == (0, 0, 0)
    u = rng.random(x.size, dtype=np.float32)
    u[:5] = [0.0, 0.999_999_9, 0.5, 0.25, 0.999_999_9]
    for scale, levels, dtype in ((127 / 4.0, 127, np.int8), (3.0, 3, np.int8), (32767 / 4.0, 32767, np.int16),
                                 (300.0, 200, np.int16)):
        a = kernels.quantize(x, u, scale, levels, dtype)
        b = kernels.quantize_numpy(x, u, scale, levels, dtype)
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
        assert int(np.max(np.abs(a.astype(np.int64)))) <= levels
    with pytest.raises(ValueError, match="one random number per element"):
        kernels.quantize(x, u[:3], 1.0, 3, np.int8)


def test_selection_kernels_match_their_numpy_twins() -> None:
    rng = np.random.default_rng(23)
    specials = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 1e-45, -3.0, 3.0], dtype=np.float32)
    arrays = [
        rng.standard_normal(5000).astype(np.float32),
        rng.integers(-3, 4, 5000).astype(np.float32),  # heavy ties
        (rng.standard_normal(5000) * (rng.random(5000) < 0.02)).astype(np.float32),
        np.concatenate([rng.standard_normal(3000), specials, -specials]).astype(np.float32),
        np.zeros(7, dtype=np.float32),
        np.ones(1, dtype=np.float32),
    ]
    for x in arrays:
        for k in sorted({0, 1, min(2, x.size), x.size // 3, x.size - 1, x.size}):
            np.testing.assert_array_equal(kernels.topk_indices(x, k), kernels.topk_indices_numpy(x, k))
        for t in (0.0, 0.5, 1.0, 2.5, float("inf")):
            assert kernels.count_above(x, t) == kernels.count_above_numpy(x, t)
            idx, vals = kernels.select_above(x, t)
            idx_np, vals_np = kernels.select_above_numpy(x, t)
            np.testing.assert_array_equal(idx, idx_np)
            np.testing.assert_array_equal(vals, vals_np)
            idx_known, _ = kernels.select_above(x, t, kernels.count_above(x, t))
            np.testing.assert_array_equal(idx_known, idx_np)
    x = arrays[0]
    assert list(kernels.topk_indices(arrays[3], 2)) == list(np.flatnonzero(np.isnan(arrays[3])))  # NaN first
    with pytest.raises(ValueError, match="k must be in"):
        kernels.topk_indices(x, x.size + 1)
    with pytest.raises(ValueError, match="does not match"):
        kernels.select_above(x, 1.0, kernels.count_above(x, 1.0) + 1)


def test_powersgd_recovers_a_low_rank_matrix_in_one_step() -> None:
    rng = np.random.default_rng(15)
    for shape, true_rank in (((20, 30), 3), ((30, 20), 20), ((8, 2, 3, 3), 5)):
        m, n2 = shape[0], math.prod(shape[1:])
        x = (rng.standard_normal((m, true_rank)) @ rng.standard_normal((true_rank, n2))).astype(np.float32)
        x = x.reshape(shape)
        codec = make_codec("powersgd", rank=min(m, n2))
        state: dict[str, Any] = {}
        decoded = codec.decode(codec.encode(x, state), shape, state)
        np.testing.assert_allclose(decoded, x, rtol=1e-4, atol=1e-4 * float(np.max(np.abs(x))))
        assert state["Q"].shape == (n2, min(m, n2))


def test_powersgd_warm_start_improves_the_approximation() -> None:
    rng = np.random.default_rng(16)
    x = (rng.standard_normal((40, 3)) @ np.diag([5.0, 2.0, 1.0]) @ rng.standard_normal((3, 30))
         + 0.3 * rng.standard_normal((40, 30))).astype(np.float32)
    codec = make_codec("powersgd", rank=2, seed=4)
    state: dict[str, Any] = {"key": "fc"}
    errors = []
    for _ in range(12):
        decoded = codec.decode(codec.encode(x, state), x.shape, state)
        errors.append(float(np.linalg.norm(decoded.astype(np.float64) - x)))
    assert errors[-1] < 0.5 * errors[0]
    assert all(b <= a * (1 + 1e-5) for a, b in itertools.pairwise(errors))
    singular = np.linalg.svd(x.astype(np.float64), compute_uv=False)
    best = math.sqrt(float(np.sum(singular[2:] ** 2)))  # Eckart–Young optimum for rank 2
    assert errors[-1] == pytest.approx(best, rel=1e-3)


def test_powersgd_payload_is_p_then_q() -> None:
    x = sample((6, 4), seed=17)
    codec = make_codec("powersgd", rank=2)
    state: dict[str, Any] = {}
    payload = codec.encode(x, state)
    p = np.frombuffer(payload[: 6 * 2 * 4], dtype="<f4").reshape(6, 2)
    q = np.frombuffer(payload[6 * 2 * 4 :], dtype="<f4").reshape(4, 2)
    np.testing.assert_allclose(p.T @ p, np.eye(2), atol=1e-5)  # orthonormal
    np.testing.assert_array_equal(state["Q"], q)
    np.testing.assert_allclose(q, x.T.astype(np.float64) @ p, rtol=1e-5, atol=1e-6)


def test_lowrank_factor_gradients_match_numpy() -> None:
    rng = np.random.default_rng(18)
    m, n2, r = 12, 9, 3
    grad = rng.standard_normal((m, n2)).astype(np.float32)
    a, b = rng.standard_normal((m, r)), rng.standard_normal((r, n2))
    u, v = np.linalg.qr(rng.standard_normal((m, r)))[0], np.linalg.qr(rng.standard_normal((n2, r)))[0]
    g = grad.astype(np.float64)
    for factor, state, expected in (
        ("A", {"A": a, "B": b}, g @ b.T),
        ("B", {"A": a, "B": b}, a.T @ g),
        ("S", {"U": u, "V": v}, u.T @ g @ v),
    ):
        codec = make_codec("lowrank-factor", factor=factor, rank=r)
        decoded = codec.decode(codec.encode(grad, state), grad.shape, state)
        assert decoded.shape == expected.shape
        np.testing.assert_allclose(decoded, expected, rtol=1e-5, atol=1e-5)


def test_lowrank_factor_builds_factors_from_the_weight_or_the_gradient() -> None:
    rng = np.random.default_rng(19)
    weight = rng.standard_normal((10, 2, 4))
    grad = rng.standard_normal((10, 2, 4)).astype(np.float32)
    w2 = weight.reshape(10, 8)
    u, s, vt = np.linalg.svd(w2, full_matrices=False)
    state: dict[str, Any] = {"weight": weight}
    codec = make_codec("lowrank-factor", factor="A", rank=2)
    decoded = codec.decode(codec.encode(grad, state), grad.shape, state)
    np.testing.assert_allclose(state["A"] @ state["B"], (u[:, :2] * s[:2]) @ vt[:2], atol=1e-10)
    np.testing.assert_allclose(decoded, grad.reshape(10, 8).astype(np.float64) @ state["B"].T, rtol=1e-5, atol=1e-5)
    state_s: dict[str, Any] = {}
    codec_s = make_codec("lowrank-factor", factor="S", rank=2)
    decoded_s = codec_s.decode(codec_s.encode(grad, state_s), grad.shape)
    g = grad.reshape(10, 8).astype(np.float64)
    _, sg, _ = np.linalg.svd(g, full_matrices=False)
    np.testing.assert_allclose(decoded_s, np.diag(sg[:2]), rtol=1e-5, atol=1e-5)  # Uᵀ G V of G's own SVD
    with pytest.raises(ValueError, match="expected"):
        codec.encode(grad, {"A": np.ones((10, 3)), "B": np.ones((3, 8))})


def error_feedback_run(name: str, params: dict[str, Any], x: np.ndarray, steps: int) -> tuple[np.ndarray, list]:
    ef = ErrorFeedback(make_codec(name, **params))
    total = np.zeros(x.shape, dtype=np.float64)
    norms = []
    for step in range(steps):
        state = {"step": step}
        total += ef.decode(ef.encode("w", x, state), x.shape, state)
        norms.append(float(np.linalg.norm(ef.residual["w"])))
    return total, norms


@pytest.mark.parametrize(("name", "params", "delta"), [("topk", {"density": 0.1}, 0.1), ("onebit", {}, 1 / 64)])
def test_error_feedback_tracks_the_sum_of_inputs(name: str, params: dict[str, Any], delta: float) -> None:
    x = sample((64,), seed=20)
    steps = 200
    total, norms = error_feedback_run(name, params, x, steps)
    gap = float(np.linalg.norm(total - steps * x.astype(np.float64)))
    assert gap <= norms[-1] * (1 + 1e-4) + 1e-4 * steps * float(np.linalg.norm(x))
    assert gap == pytest.approx(norms[-1], rel=1e-3, abs=1e-3)
    # A δ-contraction keeps the residual below sqrt(1-δ)/(1-sqrt(1-δ))·|x| (δ = k/n for top-k, ≥ 1/n for onebit).
    c = math.sqrt(1 - delta)
    assert max(norms) <= c / (1 - c) * float(np.linalg.norm(x)) * (1 + 1e-4)


def test_error_feedback_rejects_factor_codecs_and_shape_changes() -> None:
    with pytest.raises(ConfigError, match="error feedback"):
        ErrorFeedback(make_codec("lowrank-factor", rank=1))
    ef = ErrorFeedback(make_codec("signsgd"))
    ef.encode("w", np.ones(4))
    np.testing.assert_array_equal(ef.residual["w"], np.zeros(4))
    with pytest.raises(ValueError, match="changed shape"):
        ef.encode("w", np.ones(5))


@pytest.mark.parametrize(
    ("name", "params", "shape", "key", "match"),
    [
        ("topk", {"density": 0}, None, "codec topk:density", "greater than 0"),
        ("topk", {"density": 1.5}, None, "codec topk:density", "at most 1"),
        ("randomk", {"density": -0.1}, None, "codec randomk:density", "greater than 0"),
        ("block", {"fraction": 0}, None, "codec block:fraction", "greater than 0"),
        ("powersgd", {"rank": 0}, None, "codec powersgd:rank", "at least 1"),
        ("powersgd", {"rank": 6}, (5, 8), "codec powersgd:rank", "exceeds min"),
        ("lowrank-factor", {"rank": 9}, (16, 8), "codec lowrank-factor:rank", "exceeds min"),
        ("powersgd", {"rank": 1}, (10,), "shape", "at least 2 dimensions"),
        ("qsgd", {"levels": 0}, None, "codec qsgd:levels", "at least 1"),
        ("dithering", {"levels": 40000}, None, "codec dithering:levels", "at most 32767"),
        ("mstopk", {"rounds": 0}, None, "codec mstopk:rounds", "at least 1"),
        ("topk", {"index_bytes": 2}, None, "codec topk:index_bytes", "at least 4"),
        ("topk", {"index_bytes": 6}, None, "codec topk:index_bytes", "must be 4 or 8"),
        ("none", {"value_dtype": "fp8"}, None, "codec none:value_dtype", "unknown value"),
        ("lowrank-factor", {"factor": "C"}, None, "codec lowrank-factor:factor", "unknown value"),
        ("powersgd", {"rank": 1.5}, None, "codec powersgd:rank", "must be an integer"),
        ("topk", {"density": "lots"}, None, "codec topk:density", "must be a finite number"),
        ("topk", {"density": True}, None, "codec topk:density", "must be a finite number"),
    ],
)
def test_bad_parameters_raise_config_error(name: str, params: dict[str, Any], shape: Any, key: str,
                                           match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        payload_bytes(name, shape or (4, 4), **params)
    assert info.value.key == key
    assert info.value.source is None
    if shape is not None:
        with pytest.raises(ConfigError, match=match):
            make_codec(name, **params).encode(np.ones(shape, dtype=np.float32))


def test_unknown_codec_and_parameter_suggest_the_right_name() -> None:
    with pytest.raises(ConfigError) as info:
        make_codec("topkk")
    assert info.value.key == "codec"
    assert "unknown codec" in str(info.value)
    assert "did you mean 'topk'?" in str(info.value)
    with pytest.raises(ConfigError) as info:
        make_codec("topk", densty=0.1)
    assert info.value.key == "codec topk:densty"
    assert "did you mean 'density'?" in str(info.value)
    with pytest.raises(ConfigError, match=r"allowed: \(none\)") as info:
        payload_bytes("signsgd", (3,), density=0.5)
    assert info.value.key == "codec signsgd:density"


def test_parameters_are_read_as_declared() -> None:
    """An integral float is an integer (as YAML gives ``4.0``); a string is not a number (as for schemes)."""
    assert make_codec("powersgd", rank=2.0).params["rank"] == 2
    assert make_codec("topk", density=np.float32(0.5), index_bytes=np.int64(8)).params == {
        "density": 0.5, "value_dtype": "fp32", "index_bytes": 8}
    assert make_codec("topk:density=0.5,index_bytes=8").params["index_bytes"] == 8
    for bad in ({"density": "0.5"}, {"index_bytes": "8"}):
        with pytest.raises(ConfigError, match="must be"):
            make_codec("topk", **bad)


def test_decode_rejects_a_payload_of_the_wrong_length() -> None:
    codec = make_codec("qsgd")
    payload = codec.encode(np.ones(10))
    with pytest.raises(ValueError, match="must have 14 bytes"):
        codec.decode(payload + b"\0", (10,))
    with pytest.raises(ValueError, match="non-negative integers"):
        codec.decode(payload, (-10,))


def test_empty_and_scalar_tensors() -> None:
    for name, params in VARIANTS:
        if name in TWO_D_ONLY:
            continue
        codec = make_codec(name, **params)
        for shape in ((0,), ()):
            x = np.ones(shape, dtype=np.float32)
            payload = codec.encode(x, {"step": 1})
            assert len(payload) == payload_bytes(name, shape, **params)
            assert codec.decode(payload, shape, {"step": 1}).shape == shape


def test_state_key_must_be_int_or_str() -> None:
    with pytest.raises(TypeError, match="must be an int or a str"):
        make_codec("randomk").encode(np.ones(10), {"key": 1.5})
