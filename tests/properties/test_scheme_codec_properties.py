"""For every scheme, the bytes the traffic model charges equal the bytes the real codecs encode.

Each scheme's documented encoding is applied tensor by tensor to random arrays of a small model's shapes, with
the real codecs, and the encoded lengths are summed and compared with the phase payload the scheme charges.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.compression import SchemeContext, make_scheme
from simtrain.compression.codecs import make_codec
from simtrain.compression.lowrank import weight_matrices
from simtrain.model import model_from_dict

MODEL = model_from_dict({
    "name": "small", "input": {"image": [3, 12, 12]},
    "layers": [
        {"kind": "conv2d", "name": "c1", "out": 16, "kernel": 3, "padding": 1, "bias": False},
        {"kind": "batchnorm2d", "name": "bn1"},
        {"kind": "conv2d", "name": "c2", "out": 24, "kernel": 3, "padding": 1},
        {"kind": "conv2d", "name": "c3", "out": 32, "kernel": 1},
        {"kind": "conv2d", "name": "c4", "out": 32, "kernel": 3, "padding": 1},
        {"kind": "adaptive_avgpool2d", "output": 2},
        {"kind": "flatten"},
        {"kind": "linear", "name": "fc1", "out": 48},
        {"kind": "linear", "name": "fc2", "out": 10},
    ],
})
RNG = np.random.default_rng(7)
ARRAYS = {t.name: RNG.standard_normal(t.shape).astype(np.float32) for t in MODEL.tensors}


def encoded(codec: str, tensors, **params) -> int:
    enc = make_codec(codec, **params)
    return sum(len(enc.encode(ARRAYS[t.name], {"key": t.name, "step": 3})) for t in tensors)


def payload(spec: str, phase: int, gpus_per_node: int = 1, num_gpus: int = 4) -> float:
    ctx = SchemeContext(MODEL, num_gpus=num_gpus, gpus_per_node=gpus_per_node)
    return make_scheme(spec).phases(ctx)[phase].payload_bytes(MODEL.tensors)


@settings(max_examples=25, deadline=None)
@given(density=st.sampled_from([0.01, 0.1, 0.5, 1.0]), index_bytes=st.sampled_from([4, 8]))
def test_sparsification(density, index_bytes):
    assert payload(f"topk:density={density},index_bytes={index_bytes}", 0) == encoded(
        "topk", MODEL.tensors, density=density, index_bytes=index_bytes)
    assert payload(f"randomk:density={density}", 0) == encoded("randomk", MODEL.tensors, density=density)


@settings(max_examples=10, deadline=None)
@given(levels=st.sampled_from([1, 4, 127, 128, 1000]))
def test_quantisation(levels):
    assert payload(f"qsgd:levels={levels}", 0) == encoded("qsgd", MODEL.tensors, levels=levels)
    assert payload("signsgd", 0) == encoded("signsgd", MODEL.tensors)
    assert payload("onebit", 0) == encoded("onebit", MODEL.tensors)
    assert payload("fp16", 0) == encoded("fp16", MODEL.tensors)
    assert payload("bf16", 0) == encoded("bf16", MODEL.tensors)
    assert payload("none", 0) == encoded("none", MODEL.tensors)


@settings(max_examples=10, deadline=None)
@given(rank=st.integers(1, 16))
def test_powersgd(rank):
    scheme = make_scheme(f"powersgd:rank={rank}")
    matrices = [t for t in MODEL.tensors if scheme.compressed(t)]
    rest = [t for t in MODEL.tensors if not scheme.compressed(t)]
    expected = sum(len(make_codec("powersgd", rank=min(rank, *t.matrix_shape)).encode(ARRAYS[t.name], {}))
                   for t in matrices) + encoded("none", rest)
    assert payload(f"powersgd:rank={rank}", 1) == expected


@settings(max_examples=10, deadline=None)
@given(r1=st.integers(1, 9), r2=st.integers(1, 9))
def test_periodic(r1, r2):
    assert payload(f"cser:r1={r1},r2={r2}", 0) == encoded("block", MODEL.tensors, fraction=1 / r1)
    assert payload(f"cser:r1={r1},r2={r2}", 1) == encoded("block", MODEL.tensors, fraction=1 / r2)
    assert payload("local-sgd", 1) == encoded("none", MODEL.tensors)
    assert payload("local-adaalter", 1) == 2 * encoded("none", MODEL.tensors)


@settings(max_examples=10, deadline=None)
@given(compressor=st.sampled_from(["onebit", "topk", "randomk", "dithering"]))
def test_byteps_compress_push(compressor):
    params = {"onebit": {}, "topk": {"density": 0.01}, "randomk": {"density": 0.01}, "dithering": {"levels": 127}}
    ctx = SchemeContext(MODEL, num_gpus=8, gpus_per_node=4)
    comms = make_scheme(f"byteps-compress:compressor={compressor}").phases(ctx)[0].comms(MODEL.tensors)
    push = next(c for c in comms if c.op == "push-pull")
    assert push.payload_bytes == encoded(compressor, MODEL.tensors, **params[compressor])


def test_mstopk_shards():
    ctx = SchemeContext(MODEL, num_gpus=8, gpus_per_node=4)
    comms = make_scheme("mstopk:density=0.1").phases(ctx)[0].comms(MODEL.tensors)
    shard = next(c for c in comms if c.group == "peers")
    enc = make_codec("mstopk", density=0.1)
    expected = 0
    for t in MODEL.tensors:
        flat = ARRAYS[t.name].ravel()
        expected += len(enc.encode(flat[: math.ceil(flat.size / 4)], {}))
    assert shard.payload_bytes == expected


@settings(max_examples=10, deadline=None)
@given(fraction=st.sampled_from([0.1, 0.25, 0.5, 1.0]))
def test_low_rank_factor_gradients(fraction):
    ctx = SchemeContext(MODEL, num_gpus=4, gpus_per_node=4)
    # AB-training's sync sends both factors of every factorised layer, plus the rest uncompressed
    ab = make_scheme(f"ab-training:rank_fraction={fraction}")
    factorised = ab.factorised(MODEL)
    ranks, _ = ab.ranks(ctx, factorised)
    rest = [t for t in MODEL.tensors if t not in factorised]
    both = sum(len(make_codec("lowrank-factor", factor=f, rank=ranks.rank_of(t)).encode(ARRAYS[t.name], {}))
               for t in factorised for f in ("A", "B"))
    assert make_scheme(f"ab-training:rank_fraction={fraction}").phases(ctx)[2].payload_bytes(MODEL.tensors) \
        == both + encoded("none", rest)
    # OIALR's low-rank steps send S (k x k) of each converted layer
    oialr = make_scheme(f"oialr:rank_fraction={fraction}")
    converted = oialr.factorised(MODEL)
    ranks, _ = oialr.ranks(ctx, converted)
    s_bytes = sum(len(make_codec("lowrank-factor", factor="S", rank=ranks.rank_of(t)).encode(ARRAYS[t.name], {}))
                  for t in converted)
    others = [t for t in MODEL.tensors if t not in converted]
    assert oialr.phases(ctx)[1].payload_bytes(MODEL.tensors) == s_bytes + encoded("none", others)
    # Cuttlefish's factorised layers send both factors
    cf = make_scheme(f"cuttlefish:rank_fraction={fraction}")
    fact = cf.factorised(MODEL)
    ranks, _ = cf.ranks(ctx, fact)
    factors = sum(len(make_codec("lowrank-factor", factor=f, rank=ranks.rank_of(t)).encode(ARRAYS[t.name], {}))
                  for t in fact for f in ("A", "B"))
    assert cf.phases(ctx)[1].payload_bytes(MODEL.tensors) == factors + encoded(
        "none", [t for t in MODEL.tensors if t not in fact])
    assert set(t.name for t in fact) < set(t.name for t in weight_matrices(MODEL))
