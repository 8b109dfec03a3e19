"""``tp_overlap async``: a column-parallel layer's backward collectives overlap its own GEMMs (Megatron-LM's
LinearWithGradAccumulationAndAsyncCommunication, flash-attn's fused_dense); ``none`` keeps every one on the
critical path."""

from __future__ import annotations

import json

import pytest

from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.model.decoder import block_layers
from simtrain.parallel.costs import TP_COLUMN_LAYERS, TP_ROW_LAYERS, StageCosts
from simtrain.parallel.plan import make_plan
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology
from simtrain.training.overlap import overlapped

MODEL = "gpt:layers=4,hidden=2048,heads=16,seq=2048,vocab=32000"


def _costs(plan, c, engine: str = "analytical") -> StageCosts:
    return StageCosts.build(c, plan, load_topology("dgx-a100", gpus=plan.num_gpus), ComputeModel.roofline("a100"),
                            "bf16", "adam", engine=engine)


def _plan(c, sp: bool, overlap: str, parallel: str = "tp=4,pp=1", gpus: int = 8):
    return make_plan(c, gpus, parallel, micro_batch=1, global_batch=gpus, sequence_parallel=sp,
                     tp_overlap=overlap)


@pytest.mark.parametrize("sp", [False, True])
def test_backward_hides_each_column_layers_collectives_behind_its_gemms(sp: bool) -> None:
    """Per layer and backward: without sequence parallelism the two input-gradient all-reduces run beside their
    layers' weight-gradient GEMMs (half of each layer's backward); with it the row layers' output-gradient
    all-gathers stay exposed and each column layer's input all-gather and input-gradient reduce-scatter run beside
    its two GEMMs. The forward is unchanged."""
    c = load_model(MODEL).config
    none, overlap = _costs(_plan(c, sp, "none"), c), _costs(_plan(c, sp, "async"), c)
    assert none.forward == overlap.forward
    comms, compute, act = overlap.comms, ComputeModel.roofline("a100"), 2048 * 2048 * 2
    layers = block_layers(c, 0, 4, 1, sp)
    gather, scatter, reduce = (comms.time(op, "tp", act) for op in ("all-gather", "reduce-scatter", "all-reduce"))
    share = {op: comms.share(op, "tp", act) for op in ("all-gather", "reduce-scatter", "all-reduce")}
    expected = 0.0
    for layer in layers:
        if sp and layer.name.endswith(TP_ROW_LAYERS):
            expected += gather
        if layer.name.endswith(TP_COLUMN_LAYERS):
            half = compute.layer_time(layer, 1, "backward", "bf16") / 2
            pairs = [(gather, "all-gather"), (scatter, "reduce-scatter")] if sp else [(reduce, "all-reduce")]
            expected += sum(overlapped(half, [(t, share[op])]) - half for t, op in pairs)
    sync = 2 * (gather + scatter) if sp else 2 * reduce
    per_layer = (none.backward[0][0] - overlap.backward[0][0]) / c.layers
    assert per_layer == pytest.approx(sync - expected, rel=1e-9)
    assert 0 <= expected < sync   # the GEMMs hide most or all of it here
    assert overlap.exposed["tp"] < none.exposed["tp"]


def test_sequence_parallel_counts_the_backward_gathers_of_the_inputs() -> None:
    """Under sequence parallelism each column-parallel layer gathers its saved input again for its weight
    gradient: two all-gathers more per layer and micro-batch (``none`` prices the simpler pattern)."""
    c = load_model(MODEL).config
    none, overlap = _costs(_plan(c, True, "none"), c), _costs(_plan(c, True, "async"), c)
    gathered = none.comms.schedule("all-gather", "tp", 2048 * 2048 * 2)[1].bytes_sent / 8
    micro = _plan(c, True, "none").num_micro_batches
    assert overlap.comms.bytes_per_gpu - none.comms.bytes_per_gpu == pytest.approx(
        2 * c.layers * micro * gathered, rel=1e-9)
    plain = _costs(_plan(c, False, "none"), c)
    assert _costs(_plan(c, False, "async"), c).comms.bytes_per_gpu == plain.comms.bytes_per_gpu


def test_moe_layers_overlap_their_attention_only() -> None:
    """A MoE layer's experts keep their collectives as they were; its attention's are overlapped."""
    c = load_model("gpt:layers=2,hidden=1024,heads=16,seq=1024,vocab=1000,experts=8,top_k=2").config
    plan = {o: make_plan(c, 16, "tp=2,pp=1,dp=8,ep=8", micro_batch=1, global_batch=8, tp_overlap=o)
            for o in ("none", "async")}
    none, overlap = _costs(plan["none"], c), _costs(plan["async"], c)
    comms = overlap.comms
    act = 1024 * 1024 * 2
    reduce = comms.time("all-reduce", "tp", act)
    qkv = next(layer for layer in block_layers(c, 0, 2) if layer.name.endswith(".attention.qkv"))
    half = ComputeModel.roofline("a100").layer_time(qkv, 1, "backward", "bf16") / 2
    hidden = reduce - (overlapped(half, [(reduce, comms.share("all-reduce", "tp", act))]) - half)
    assert (none.backward[0][0] - overlap.backward[0][0]) / c.layers == pytest.approx(hidden, rel=1e-9)


def test_both_engines_agree_and_one_rank_changes_nothing() -> None:
    c = load_model(MODEL).config
    for sp in (False, True):
        plan = make_plan(c, 16, "tp=4,pp=2", micro_batch=1, global_batch=8, sequence_parallel=sp,
                         tp_overlap="async")
        a = step_time(_costs(plan, c), plan)
        d = step_time(_costs(plan, c, "des"), plan, "des")
        assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)
    one = {o: _costs(make_plan(c, 8, "tp=1,pp=1", micro_batch=1, global_batch=8, tp_overlap=o), c)
           for o in ("none", "async")}
    assert one["none"].backward == one["async"].backward


def test_bad_values_and_runs_without_a_plan(capsys) -> None:
    c = load_model(MODEL).config
    with pytest.raises(ConfigError, match="tp_overlap"):
        make_plan(c, 8, "tp=2", micro_batch=1, global_batch=8, tp_overlap="later")
    args = ["simulate", "--model", MODEL, "--topology", "dgx-a100", "--gpus", "8"]
    assert main([*args, "--parallel", "tp=2", "--micro-batch", "1", "--global-batch", "8", "--tp-overlap",
                 "sideways"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tp-overlap" in err[0] and "async" in err[0]
    assert main([*args, "--tp-overlap", "async"]) == 2   # a plan-only option without a plan: refused
    assert "tp-overlap" in capsys.readouterr().err
    assert main([*args, "--parallel", "tp=2", "--micro-batch", "1", "--global-batch", "8", "--tp-overlap",
                 "async", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tp_overlap"] == "async"


@pytest.mark.parametrize("model, sp, gathers, reductions", [
    ("gpt:layers=2,hidden=1024,heads=16,seq=1024,vocab=1000,gated=true,gate_up=split", False, 0, 1),
    ("gpt:layers=2,hidden=1024,heads=16,seq=1024,vocab=1000,gated=true,gate_up=split", True, 3, 1),
    ("gpt:layers=2,hidden=1024,heads=16,seq=1024,vocab=1000,experts=8,top_k=2", True, 1, 0),
])
def test_the_bytes_count_each_overlapped_column_layers_collectives(model: str, sp: bool, gathers: int,
                                                                   reductions: int) -> None:
    """A split gate and up are two column-parallel layers: three input-gradient reductions a layer's backward where
    the pattern has two; under sequence parallelism each overlapped column layer gathers its saved input again (a
    MoE layer's attention alone)."""
    c = load_model(model).config
    ep = {"parallel": "tp=2,pp=1,dp=4,ep=4"} if c.experts else {"parallel": "tp=2,pp=1,dp=4"}
    plans = {o: make_plan(c, 8, ep["parallel"], micro_batch=1, global_batch=8, sequence_parallel=sp, tp_overlap=o)
             for o in ("none", "async")}
    none, overlap = (_costs(plans[o], c) for o in ("none", "async"))
    act = 1024 * 1024 * 2
    per_gpu = {op: none.comms.schedule(op, "tp", act)[1].bytes_sent / 8
               for op in ("all-gather", "reduce-scatter", "all-reduce")}
    reduce = per_gpu["reduce-scatter" if sp else "all-reduce"]
    expected = plans["none"].num_micro_batches * c.layers * (gathers * per_gpu["all-gather"] + reductions * reduce)
    assert overlap.comms.bytes_per_gpu - none.comms.bytes_per_gpu == pytest.approx(expected, rel=1e-9)
