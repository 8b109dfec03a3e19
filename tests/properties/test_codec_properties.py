"""Properties of the real codecs over random shapes, parameters and values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simtrain.compression.codecs import CODECS, make_codec, payload_bytes

VALUE_DTYPES = st.sampled_from(["fp32", "fp16", "bf16"])
DENSITY = st.floats(min_value=1e-4, max_value=1.0, exclude_min=False)
SEED = st.integers(min_value=0, max_value=2**31)
TWO_D_ONLY = {"powersgd", "lowrank-factor"}


@st.composite
def shapes(draw: st.DrawFn, min_dims: int = 1) -> tuple[int, ...]:
    dims = draw(st.integers(min_value=min_dims, max_value=4))
    shape = tuple(draw(st.integers(min_value=1, max_value=9)) for _ in range(dims))
    if dims == 1:
        shape = (draw(st.integers(min_value=1, max_value=3000)),)
    return shape


def params_for(name: str, shape: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid parameters of codec ``name`` for a tensor of ``shape``."""
    if name == "none":
        return st.fixed_dictionaries({"value_dtype": VALUE_DTYPES})
    if name in ("fp16", "bf16", "signsgd", "onebit"):
        return st.just({})
    if name == "topk":
        return st.fixed_dictionaries({"density": DENSITY, "value_dtype": VALUE_DTYPES,
                                      "index_bytes": st.sampled_from([4, 8])})
    if name == "mstopk":
        return st.fixed_dictionaries({"density": DENSITY, "rounds": st.integers(1, 30), "value_dtype": VALUE_DTYPES,
                                      "index_bytes": st.sampled_from([4, 8])})
    if name == "randomk":
        return st.fixed_dictionaries({"density": DENSITY, "seed": SEED, "value_dtype": VALUE_DTYPES})
    if name in ("qsgd", "dithering"):
        return st.fixed_dictionaries({"levels": st.integers(1, 32767), "seed": SEED})
    if name == "block":
        return st.fixed_dictionaries({"fraction": DENSITY, "seed": SEED, "value_dtype": VALUE_DTYPES})
    m, n2 = shape[0], math.prod(shape[1:])
    rank = st.integers(min_value=1, max_value=min(m, n2))
    if name == "powersgd":
        return st.fixed_dictionaries({"rank": rank, "seed": SEED, "value_dtype": VALUE_DTYPES})
    assert name == "lowrank-factor"
    return st.fixed_dictionaries({"factor": st.sampled_from(["A", "B", "S"]), "rank": rank,
                                  "value_dtype": VALUE_DTYPES})


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, tuple[int, ...], dict[str, Any], np.ndarray, dict[str, Any]]:
    name = draw(st.sampled_from(CODECS))
    shape = draw(shapes(min_dims=2 if name in TWO_D_ONLY else 1))
    params = draw(params_for(name, shape))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    magnitude = draw(st.sampled_from([1e-3, 1.0, 30.0]))  # fp16 factor gradients stay finite
    x = (np.random.default_rng(seed).standard_normal(shape) * magnitude).astype(np.float32)
    state = {"step": draw(st.integers(0, 10_000)), "key": draw(st.one_of(st.integers(0, 100), st.text(max_size=8)))}
    return name, shape, params, x, state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_payload_matches_payload_bytes_and_decodes_to_finite_values(
    case: tuple[str, tuple[int, ...], dict[str, Any], np.ndarray, dict[str, Any]],
) -> None:
    name, shape, params, x, state = case
    codec = make_codec(name, **params)
    payload = codec.encode(x, state)
    assert len(payload) == payload_bytes(name, shape, **params)
    decoded = codec.decode(payload, shape, state)
    assert decoded.dtype == np.float32
    if name == "lowrank-factor":
        m, n2 = shape[0], math.prod(shape[1:])
        r = params["rank"]
        assert decoded.shape == {"A": (m, r), "B": (r, n2), "S": (r, r)}[params["factor"]]
    else:
        assert decoded.shape == shape
    assert np.all(np.isfinite(decoded))
    if codec.lossless:
        np.testing.assert_array_equal(decoded.view(np.uint32), x.view(np.uint32))


@settings(max_examples=60, deadline=None)
@given(shapes(), st.integers(min_value=0, max_value=2**32 - 1), st.sampled_from([4, 8]))
def test_topk_at_full_density_decodes_exactly(shape: tuple[int, ...], seed: int, index_bytes: int) -> None:
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    for name in ("topk", "mstopk"):
        codec = make_codec(name, density=1.0, index_bytes=index_bytes)
        payload = codec.encode(x)
        assert len(payload) == x.size * (index_bytes + 4) > x.nbytes
        np.testing.assert_array_equal(codec.decode(payload, shape), x)


@settings(max_examples=60, deadline=None)
@given(shapes(), st.integers(min_value=0, max_value=2**32 - 1), st.floats(min_value=1e-3, max_value=1.0))
def test_sparse_codecs_send_exactly_k_distinct_entries(shape: tuple[int, ...], seed: int, density: float) -> None:
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    n = x.size
    k = payload_bytes("randomk", shape, density=density) // 4
    assert 1 <= k <= n
    assert k >= min(n, math.ceil(density * n - 1e-9))
    top = make_codec("topk", density=density)
    approx = make_codec("mstopk", density=density, rounds=5)
    ref = np.sort(np.abs(x.ravel()))[::-1][k - 1]  # the k-th largest magnitude
    for codec in (top, approx):
        indices = np.frombuffer(codec.encode(x), dtype="<u4", count=k)
        assert np.unique(indices).size == k
        assert np.all(np.abs(x.ravel()[indices]) >= ref)  # exactly the top-k (up to ties at the k-th)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=200))
def test_bf16_is_the_nearest_bfloat16(words: list[int]) -> None:
    x = np.array(words, dtype=np.uint32).view(np.float32)
    finite = np.isfinite(x)
    codec = make_codec("bf16")
    decoded = codec.decode(codec.encode(x), x.shape)
    assert np.array_equal(np.isnan(decoded), np.isnan(x))
    xf, df = x[finite].astype(np.float64), decoded[finite].astype(np.float64)
    # Nearest: the error is at most half a bfloat16 ulp of the result's binade (8 significant bits).
    exponent = np.floor(np.log2(np.maximum(np.abs(xf), 2.0**-126)))
    half_ulp = 2.0 ** (exponent - 8)
    overflow = np.isinf(df)
    assert np.all(np.abs(df[~overflow] - xf[~overflow]) <= half_ulp[~overflow])
    # Exactly the values at or past the midpoint between the largest bfloat16 and 2**128 overflow (ties to even).
    np.testing.assert_array_equal(overflow, np.abs(xf) >= (2 - 2.0**-8) * 2.0**127)
