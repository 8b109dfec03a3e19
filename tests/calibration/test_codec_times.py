"""Measured codec kernels: the codecs are timed for real, the times travel in a profile, and the step prices a
scheme's compute from them (the analytical fallback where a profile has none)."""

from __future__ import annotations

import json

import pytest

from simtrain.calibration.codec_times import MEASURED_CODECS, CodecTimes, measure_codec_times, scheme_codec
from simtrain.calibration.profile import load_profile
from simtrain.catalog import resolve
from simtrain.compression import make_scheme
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.training import simulate


def test_every_measured_codec_is_timed_and_grows_with_the_gradient():
    times = measure_codec_times(MEASURED_CODECS, sizes=(1 << 10, 1 << 18), repeats=2)
    assert times.codecs == sorted(MEASURED_CODECS)
    for codec in MEASURED_CODECS:
        small, large = times.seconds(codec, 1 << 10), times.seconds(codec, 1 << 18)
        assert 0 < small < large          # 256x the values: more time (these kernels stream the gradient)
        assert times.seconds(codec, 1 << 19) == pytest.approx(2 * large)    # proportional above the table
        assert times.seconds(codec, 10) == small                            # the call's cost below it


def test_codec_times_round_trip_through_a_profile_and_bad_entries_fail(tmp_path):
    doc = json.loads(resolve("profiles", "cpu-numba").read_text())
    assert load_profile(resolve("profiles", "cpu-numba")).codecs is None     # measured before codecs were timed
    times = measure_codec_times(["topk", "qsgd"], sizes=(512, 4096), repeats=1)
    doc["codecs"] = times.to_dict()
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    loaded = load_profile(path)
    assert loaded.codecs is not None and loaded.codecs.to_dict() == times.to_dict()
    assert json.loads(json.dumps(loaded.to_dict()))["codecs"] == times.to_dict()
    for bad, key in (({"nocodec": {}}, "codecs.nocodec"),
                     ({"topk": {"elements": [4, 2], "encode_s": [1, 1], "decode_s": [1, 1]}}, "codecs.topk.elements"),
                     ({"topk": {"elements": [2], "encode_s": [1, 1], "decode_s": [1]}}, "codecs.topk.encode_s"),
                     ({"topk": {"elements": [2], "encode_s": [1], "decode_s": [-1]}}, "codecs.topk.decode_s")):
        doc["codecs"] = bad
        path.write_text(json.dumps(doc))
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_profile(path)


def test_schemes_name_their_codec():
    assert scheme_codec(make_scheme("qsgd")) == ("qsgd", 1)
    assert scheme_codec(make_scheme("fp16")) == ("fp16", 1)
    assert scheme_codec(make_scheme("byteps-compress")) == ("onebit", 2)
    assert scheme_codec(make_scheme("none")) == (None, 0)


def test_the_step_prices_a_scheme_from_the_measured_codec_times(tmp_path):
    doc = json.loads(resolve("profiles", "cpu-numba").read_text())
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(doc))
    # a deliberately slow top-k (1 s per 2^20 values) makes the measured path visible in the step
    slow = {"topk": {"params": {"density": 0.01}, "elements": [1 << 20], "encode_s": [0.5], "decode_s": [0.5]}}
    doc["codecs"] = slow
    timed = tmp_path / "timed.json"
    timed.write_text(json.dumps(doc))
    run = {"gpus": 4, "batch": 32, "scheme": "topk"}
    base = simulate("resnet18-cifar", "torus-2d", **run, compute=ComputeModel.from_profile(plain))
    measured = simulate("resnet18-cifar", "torus-2d", **run, compute=ComputeModel.from_profile(timed))
    assert measured.step_time_s > base.step_time_s + 0.5
    # the dense scheme has no codec: the same step with and without codec times
    dense = {**run, "scheme": "none"}
    assert (simulate("resnet18-cifar", "torus-2d", **dense, compute=ComputeModel.from_profile(timed)).step_time_s
            == simulate("resnet18-cifar", "torus-2d", **dense, compute=ComputeModel.from_profile(plain)).step_time_s)


def test_codec_time_falls_back_to_the_analytical_price():
    cm = ComputeModel.roofline("v100")
    assert cm.codec_time("topk", 1, 1e6, 2e7, 1.2e7) == cm.kernel_time(2e7, 1.2e7, "fp32")
    assert cm.codec_time(None, 0, 1e6, 2e7, 1.2e7) == cm.kernel_time(2e7, 1.2e7, "fp32")
    table = CodecTimes.from_dict({"topk": {"elements": [100], "encode_s": [1.0], "decode_s": [2.0]}})
    assert table.seconds("topk", 100, "encode") == 1.0 and table.seconds("topk", 100, "decode") == 2.0
