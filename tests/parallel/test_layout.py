"""Uneven pipeline layouts: the first/last model chunk's layers, their costs, memory and bad inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.model.decoder import DecoderConfig, embedding_layers
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import memory_per_gpu, stage_params
from simtrain.parallel.plan import chunk_sizes, make_plan
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology
from simtrain.training import simulate

MODEL = "gpt:layers=10,hidden=512,heads=8,seq=512,vocab=1000"


def _config() -> DecoderConfig:
    c = load_model(MODEL).config
    assert c is not None
    return c


def test_chunk_sizes_and_the_stages_layers() -> None:
    assert chunk_sizes(126, 16, 1, "first=7,last=7") == (7,) + (8,) * 14 + (7,)
    assert chunk_sizes(70, 12, 1, "first=5,last=5") == (5,) + (6,) * 10 + (5,)
    assert chunk_sizes(10, 4, 1, "last=1") == (3, 3, 3, 1)
    plan = make_plan(_config(), 16, "tp=2,pp=4", micro_batch=1, global_batch=8,
                     pipeline_schedule="interleaved:chunks=2", pipeline_layout="first=2,last=2")
    assert plan.layout == (2, 1, 1, 1, 1, 1, 1, 2)
    assert sorted(i for s in range(4) for i in plan.stage_layers(s)) == list(range(10))
    assert plan.stage_layers(0) == [0, 1, 5] and plan.stage_layers(3) == [4, 8, 9] and plan.uneven


@pytest.mark.parametrize("layout, message", [
    ("first=3", "must split the other 7 of the 10 layers evenly"),
    ("first=2,last=2,first=2", "unknown or repeated key"),
    ("middle=2", "unknown or repeated key"),
    ("first=x", "first must be a positive integer"),
])
def test_bad_layouts(layout: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        make_plan(_config(), 8, "tp=2,pp=4", micro_batch=1, global_batch=8, pipeline_layout=layout)
    assert info.value.key == "pipeline_layout"


def test_two_chunks_both_given_must_hold_every_layer() -> None:
    assert chunk_sizes(10, 2, 1, "first=4,last=6") == (4, 6)
    with pytest.raises(ConfigError, match="first \\+ last must be the 10 layers"):
        chunk_sizes(10, 2, 1, "first=4,last=4")


def test_a_layout_needs_a_pipeline_and_the_cli_says_so(capsys) -> None:
    with pytest.raises(ConfigError, match="needs more than one model chunk"):
        make_plan(_config(), 8, "tp=8", micro_batch=1, global_batch=8, pipeline_layout="first=2")
    code = main(["simulate", "--model", MODEL, "--topology", "dgx-a100", "--gpus", "8", "--parallel", "tp=2,pp=4",
                 "--micro-batch", "1", "--global-batch", "8", "--pipeline-layout", "first=3", "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--pipeline-layout" in err


def test_an_even_layout_spelled_out_is_the_default() -> None:
    base = {"gpus": 8, "parallel": "tp=2,pp=4", "micro_batch": 1, "global_batch": 16, "dtype": "bf16"}
    even = simulate("gpt:layers=8,hidden=512,heads=8,seq=512,vocab=1000", "dgx-a100", **base)
    spelled = simulate("gpt:layers=8,hidden=512,heads=8,seq=512,vocab=1000", "dgx-a100",
                       pipeline_layout="first=2,last=2", **base)
    assert spelled.step_time_s == pytest.approx(even.step_time_s, rel=1e-12)


def test_the_lighter_stages_compute_less_and_hold_fewer_parameters() -> None:
    c = _config()
    plan = make_plan(c, 8, "tp=2,pp=4", micro_batch=1, global_batch=8, pipeline_layout="first=1,last=3")
    assert [len(plan.stage_layers(s)) for s in range(4)] == [1, 3, 3, 3]
    compute = ComputeModel.roofline("a100")
    costs = StageCosts.build(c, plan, load_topology("dgx-a100", gpus=8), compute, "bf16", "adam")
    layer = (costs.forward[2][0]) / 3   # a middle stage: three layers, no embedding or head
    embed = sum(compute.layer_time(x, 1, "forward", "bf16") for x in embedding_layers(c, 2))
    assert costs.forward[0][0] == pytest.approx(layer + embed, rel=1e-9)   # one layer and the embedding
    assert stage_params(c, plan, 1)[0] == pytest.approx(3 * stage_params(c, plan, 2)[0] / 3)
    assert memory_per_gpu(c, plan, "bf16", "adam")["stage"] in (1, 3)   # the first stage is not the largest now


def test_analytical_and_des_agree_on_an_uneven_interleaved_layout() -> None:
    c = _config()
    cluster = load_topology("dgx-a100", gpus=16)
    plan = make_plan(c, 16, "tp=4,pp=4,dp=1", micro_batch=1, global_batch=8,
                     pipeline_schedule="interleaved:chunks=2", pipeline_layout="first=2,last=2")
    compute = ComputeModel.roofline("a100")
    a = step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam"), plan)
    d = step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam", engine="des"), plan, "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(pp=st.integers(2, 12), chunks=st.integers(1, 3), first=st.integers(1, 6), last=st.integers(0, 6),
       per=st.integers(1, 5))
def test_a_layout_partitions_every_layer_once(pp: int, chunks: int, first: int, last: int, per: int) -> None:
    rest = pp * chunks - 1 - (last > 0)
    layers = first + last + rest * per
    layout = f"first={first}" + (f",last={last}" if last else "")
    c = DecoderConfig.from_mapping({"layers": layers, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100})
    plan = make_plan(c, pp, f"pp={pp}", micro_batch=1, global_batch=pp,
                     pipeline_schedule=f"interleaved:chunks={chunks}" if chunks > 1 else "1f1b",
                     pipeline_layout=layout)
    held = [i for s in range(pp) for i in plan.stage_layers(s)]
    assert sorted(held) == list(range(layers))
    assert len(plan.chunk_layers(0, 0)) == first and len(plan.chunk_layers(pp - 1, chunks - 1)) == (last or per)
