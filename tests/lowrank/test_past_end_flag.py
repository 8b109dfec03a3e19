"""A warm-up or switch past the end of the run: `simtrain traffic` warns, a study row flags it."""

from __future__ import annotations

import pytest

from simtrain.compression import SchemeContext, make_scheme
from simtrain.compression.traffic import traffic
from simtrain.model import load_model
from simtrain.study.point import run_point

BASE = {"model": "vgg16-cifar", "topology": "dgx-a100", "gpus": 8, "batch": 128, "samples_per_epoch": 50000}


@pytest.mark.parametrize(("scheme", "epochs"), [("ab-training", 30), ("ab-training", 300), ("oialr:warmup=2000", 40),
                                                ("oialr:warmup=2000", 41), ("cuttlefish:switch_epoch=20", 20),
                                                ("cuttlefish:switch_epoch=20", 21), ("none", 1)])
def test_row_flag_matches_the_traffic_warning(scheme, epochs):
    row = run_point({**BASE, "scheme": scheme, "epochs": epochs}, seed=0)
    assert row["status"] == "ok", row["error"]
    report = traffic(scheme, "vgg16-cifar", gpus=8, batch=128, samples_per_epoch=50000, epochs=epochs,
                     topology="dgx-a100")
    ctx = SchemeContext(load_model("vgg16-cifar"), 8, report.gpus_per_node, report.dtype, report.steps_per_epoch)
    warned = make_scheme(scheme).past_end(ctx, report.total_steps) is not None
    assert row["warmup_past_end"] is warned
    # 48 steps per epoch: 9,300 warm-up steps are 193.75 epochs, 2,000 are 41.67
    assert warned == ((scheme == "ab-training" and epochs * 48 <= 9300) or (scheme.startswith("oialr") and
                                                                             epochs * 48 <= 2000)
                      or (scheme.startswith("cuttlefish") and epochs <= 20))


def test_flag_is_empty_without_the_run_length():
    row = run_point({**BASE, "scheme": "ab-training"}, seed=0)
    assert row["status"] == "ok" and row["warmup_past_end"] is None
