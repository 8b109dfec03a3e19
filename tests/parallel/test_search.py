"""The plan search: pruning never loses the best plan; memory filters; schemes join the space."""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.model import load_model
from simtrain.network import NetworkCache
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import memory_per_gpu
from simtrain.parallel.plan import make_plan
from simtrain.parallel.search import candidates, search
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology

MODEL = "gpt:layers=4,hidden=512,heads=8,seq=512,vocab=1000"


def test_pruned_search_finds_the_exhaustive_best() -> None:
    c = load_model(MODEL).config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=8)
    compute = ComputeModel.roofline("a100")
    cache = NetworkCache(cluster)
    times = []
    for keys in candidates(c, 8, 8, 16):
        plan = make_plan(c, 8, **keys)
        if memory_per_gpu(c, plan, "bf16", "adam")["total"] > 80 * 2**30:
            continue
        times.append(step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam", cache=cache),
                               plan).step_time_s)
    result = search(MODEL, "dgx-a100", gpus=8, global_batch=16, top=3)
    assert result.fit == len(times) and result.simulated < result.fit
    assert [row["step_time_s"] for row in result.best] == pytest.approx(sorted(times)[:3], rel=1e-12)


def test_no_plan_fits() -> None:
    with pytest.raises(InfeasibleError, match="no plan of gpt3-175b fits"):
        search("gpt3-175b", "dgx-a100", gpus=8, global_batch=8)


def test_search_needs_a_decoder() -> None:
    with pytest.raises(ConfigError, match="needs a decoder"):
        search("resnet50", "dgx-a100", gpus=8, global_batch=8)


def test_a_scheme_joins_the_space() -> None:
    plain = search("gpt:layers=8,hidden=2048,heads=16,seq=1024,vocab=32000", "cloud-25g", gpus=32,
                   global_batch=32, dtype="fp16", top=1)
    compressed = search("gpt:layers=8,hidden=2048,heads=16,seq=1024,vocab=32000", "cloud-25g", gpus=32,
                        global_batch=32, dtype="fp16", top=1, scheme="powersgd:rank=4")
    assert compressed.space > plain.space
    assert compressed.best[0]["step_time_s"] <= plain.best[0]["step_time_s"]
    assert compressed.best[0]["scheme"] == "powersgd:rank=4"
