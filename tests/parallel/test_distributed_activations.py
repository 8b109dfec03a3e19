"""Distributed saved activations (``--distribute-saved-activations``, metaseq's
``--distribute-checkpointed-activations``): with full recomputation each layer's saved input is split over the TP
group and all-gathered before the layer is recomputed."""

from __future__ import annotations

import pytest

from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.network import NetworkCache
from simtrain.parallel.costs import Comms, StageCosts
from simtrain.parallel.memory import in_flight, memory_per_gpu
from simtrain.parallel.plan import make_plan
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology
from simtrain.training import simulate

MODEL = "gpt:layers=8,hidden=1024,heads=16,seq=1024,vocab=1000,dropout=0.1"


def _config() -> object:
    c = load_model(MODEL).config
    assert c is not None
    return c


def _costs(plan: object, engine: str = "analytical") -> StageCosts:
    cluster = load_topology("dgx-a100", gpus=plan.num_gpus)
    return StageCosts.build(_config(), plan, cluster, ComputeModel.roofline("a100"), "bf16", "adam", engine=engine)


@pytest.mark.parametrize("t", [2, 4, 8])
@pytest.mark.parametrize("b", [1, 4])
def test_saved_inputs_are_split_over_the_tp_group(t: int, b: int) -> None:
    """Closed form: each of a stage's L layers keeps w·s·b·h / t for every micro-batch in flight (w·sbh without)."""
    c = _config()
    s, h = c.seq, c.hidden
    for parallel in (f"tp={t},pp=1", f"tp={t},pp=2"):
        plan = make_plan(c, 2 * t, parallel, micro_batch=b, global_batch=8 * b, recompute="full",
                         distribute_saved_activations=True)
        plain = make_plan(c, 2 * t, parallel, micro_batch=b, global_batch=8 * b, recompute="full")
        got = memory_per_gpu(c, plan, "bf16", "adam", stage=0)
        assert got["activations"] == pytest.approx(plan.layers_per_stage * in_flight(plan) * 2 * s * b * h / t,
                                                   rel=1e-12)
        assert memory_per_gpu(c, plain, "bf16", "adam", stage=0)["activations"] == pytest.approx(
            t * got["activations"], rel=1e-12)


@pytest.mark.parametrize("recompute, layers", [("full", 8), ("full:layers=3", 3)])
def test_each_recomputed_layer_all_gathers_its_input_first(recompute: str, layers: int) -> None:
    """Backward of a stage grows by one TP all-gather of the layer input per recomputed layer; the report's exposed
    TP communication and bytes grow by as many gathers per micro-batch."""
    c = _config()
    plan = make_plan(c, 8, "tp=8,pp=1", micro_batch=2, global_batch=4, recompute=recompute,
                     distribute_saved_activations=True)
    plain = make_plan(c, 8, "tp=8,pp=1", micro_batch=2, global_batch=4, recompute=recompute)
    costs, base = _costs(plan), _costs(plain)
    activation = 2 * c.seq * c.hidden * 2
    gather = costs.comms.time("all-gather", "tp", activation)
    assert gather > 0
    assert costs.backward[0][0] - base.backward[0][0] == pytest.approx(layers * gather, rel=1e-9)
    assert costs.forward == base.forward
    m = plan.num_micro_batches
    assert costs.exposed["tp"] - base.exposed["tp"] == pytest.approx(m * layers * gather, rel=1e-9)
    cluster = load_topology("dgx-a100", gpus=8)
    one = Comms(cluster, plan, NetworkCache.for_cluster(cluster, None), None)
    one.count("all-gather", "tp", activation, m * layers)
    assert costs.comms.bytes_per_gpu - base.comms.bytes_per_gpu == pytest.approx(one.bytes_per_gpu, rel=1e-9)
    assert costs.hardware_flops == base.hardware_flops


@pytest.mark.parametrize("parallel, keys", [
    ("tp=4,pp=2,dp=2", {}),
    # (with Megatron's order the last stage's reduction and the sends share a port: the DES is 0.02 % slower, with or
    # without distributed activations)
    ("tp=2,pp=4,dp=2", {"pipeline_schedule": "interleaved:chunks=2", "rank_order": "tp-cp-pp-dp"}),
    ("tp=8,pp=1,dp=2", {"zero": 3, "zero_reshard": False}),
])
def test_analytical_and_des_agree(parallel: str, keys: dict) -> None:
    plan = make_plan(_config(), 16, parallel, micro_batch=1, global_batch=16, recompute="full",
                     distribute_saved_activations=True, **keys)
    a = step_time(_costs(plan), plan)
    d = step_time(_costs(plan, "des"), plan, "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)


@pytest.mark.parametrize("parallel, keys", [
    ("tp=8,pp=1", {"recompute": "selective"}),
    ("tp=8,pp=1", {"recompute": "none"}),
    ("tp=1,pp=8", {"recompute": "full"}),
    ("tp=8,pp=1", {"recompute": "full", "sequence_parallel": True}),
])
def test_bad_combinations(parallel: str, keys: dict) -> None:
    with pytest.raises(ConfigError, match="distribute_saved_activations: needs full recomputation, tp > 1 and no "
                                          "sequence parallelism"):
        make_plan(_config(), 8, parallel, distribute_saved_activations=True, **keys)


def test_the_cli_flag_and_its_error(capsys) -> None:
    base = ["simulate", "--model", MODEL, "--topology", "dgx-a100", "--gpus", "8", "--parallel", "tp=8",
            "--micro-batch", "1", "--global-batch", "2", "--dtype", "bf16", "--distribute-saved-activations"]
    assert main([*base, "--recompute", "full", "--json"]) == 0
    capsys.readouterr()
    code = main([*base, "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--distribute-saved-activations: needs full" in err


def test_opt_175b_fits_once_its_checkpoints_are_distributed() -> None:
    """metaseq's OPT-175B launch (tp=8, 8 sequences per rank, full checkpointing, FSDP keeping gathered weights):
    96 layers × 2·s·b·h bytes of checkpoints are 36 GiB per GPU, 4.5 GiB split over the TP group."""
    keys = dict(gpus=992, parallel="tp=8,pp=1", micro_batch=8, global_batch=992, dtype="fp16", optimizer="adam",
                recompute="full", zero=3, zero_reshard=False)
    with pytest.raises(Exception, match="short by"):
        simulate("opt-175b:dropout=0.1", "dgx-a100", **keys)
    r = simulate("opt-175b:dropout=0.1", "dgx-a100", distribute_saved_activations=True, **keys)
    checkpoints = 96 * 2 * 2048 * 8 * 12288 / 8
    assert r.parallel["memory_by_category_bytes"]["activations"] == pytest.approx(checkpoints, rel=1e-12)
    assert checkpoints / 2**30 == pytest.approx(4.5)
    assert r.memory_per_gpu_bytes < r.memory_capacity_bytes
    assert r.parallel["distribute_saved_activations"] is True


@pytest.mark.parametrize(("args", "message"), [
    (["--batch", "8", "--recompute", "full"], "needs a parallel plan"),
    (["--parallel", "tp=8", "--micro-batch", "1", "--global-batch", "2", "--recompute", "full:layers=0"],
     "needs full recomputation of at least one layer"),
])
def test_the_flag_is_refused_where_it_would_split_nothing(capsys, args: list, message: str) -> None:
    # before, both ran and silently ignored the flag
    code = main(["simulate", "--model", MODEL, "--topology", "dgx-a100", "--gpus", "8", "--dtype", "bf16", *args,
                 "--distribute-saved-activations"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"--distribute-saved-activations: {message}" in err
