"""Expert tensor parallelism (``etp`` in ``--parallel``, Megatron-core's ``--expert-tensor-parallel-size``): the
expert layout, the rules, the experts' GEMMs, memory and communication, and the engines' agreement."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.model.decoder import block_layers
from simtrain.network import NetworkCache
from simtrain.parallel.costs import Comms, StageCosts, expert_block
from simtrain.parallel.memory import memory_per_gpu, stage_params
from simtrain.parallel.plan import ParallelPlan, make_plan
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology
from simtrain.training import simulate

MOE = "gpt:layers=4,hidden=512,heads=8,seq=512,vocab=1000,experts=8,top_k=2,gated=true"


def _config(extra: str = "") -> object:
    c = load_model(MOE + extra).config
    assert c is not None
    return c


def _megatron_groups(sizes: dict[str, int], order: list[str], dim: str) -> set[tuple[int, ...]]:
    """Groups as Megatron's RankGenerator defines them, written out rank by rank: a rank's coordinates are its
    mixed-radix digits over ``order`` (innermost first); a group is the ranks that differ only in ``dim``."""
    groups: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for rank in range(int(np.prod(list(sizes.values())))):
        rest, coords = rank, {}
        for d in order:
            coords[d] = rest % sizes[d]
            rest //= sizes[d]
        key = tuple(coords[d] for d in order if d != dim)
        groups.setdefault(key, []).append((coords[dim], rank))
    return {tuple(r for _, r in sorted(members)) for members in groups.values()}


# -- the expert layout -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("tp, cp, dp, pp, ep, etp, order", [
    (4, 2, 8, 2, 8, 1, "tp-cp-dp-pp"),      # the Grok-1 NeMo 25.04 shape, two stages
    (2, 1, 4, 2, 4, 1, "tp-cp-dp-pp"),
    (4, 1, 4, 1, 2, 2, "tp-cp-dp-pp"),
    (2, 2, 2, 2, 2, 4, "tp-cp-dp-pp"),      # etp larger than tp
    (2, 2, 4, 2, 4, 1, "tp-dp-cp-pp"),
    (2, 1, 4, 2, 2, 1, "dp-tp-cp-pp"),
])
def test_expert_groups_follow_megatron_cores_expert_rank_generator(tp: int, cp: int, dp: int, pp: int, ep: int,
                                                                     etp: int, order: str) -> None:
    """``initialize_model_parallel`` builds the expert layout from the same order string with tp read as etp, cp as 1
    and ep just inside dp; its expert data parallelism is world / (pp · ep · etp)."""
    plan = ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, etp=etp, rank_order=tuple(order.split("-")))
    world = tp * cp * dp * pp
    edp = world // (pp * ep * etp)
    assert plan.expert_dp == edp
    expert_order = [{"tp": "etp", "dp": "ep"}.get(d, d) for d in order.split("-") if d != "cp"]
    expert_order.insert(expert_order.index("ep") + 1, "edp")
    sizes = {"etp": etp, "ep": ep, "edp": edp, "pp": pp}
    for dim in ("etp", "ep", "edp"):
        groups = plan.groups(dim)
        assert {tuple(g) for g in groups.tolist()} == _megatron_groups(sizes, expert_order, dim), dim
        assert groups.shape == (world // sizes[dim], sizes[dim])
        # every expert group lies inside one pipeline stage, so the pipeline groups are the dense layout's
        stage_of = groups // plan.rank(pp=1) % pp if order.endswith("pp") else None
        if stage_of is not None:
            assert (stage_of == stage_of[:, :1]).all()


def test_etp_equal_to_tp_is_the_carved_layout() -> None:
    """With Megatron's order the expert generator at etp = tp gives the groups simtrain carves out of dp · cp."""
    for tp, cp, dp, ep in itertools.product((1, 2, 4), (1, 2), (2, 4), (2, 4)):
        if (cp * dp) % ep:
            continue
        carved = ParallelPlan(tp=tp, pp=2, dp=dp, cp=cp, ep=ep)
        generated = ParallelPlan(tp=tp, pp=2, dp=dp, cp=cp, ep=ep, etp=tp)
        for dim in ("ep", "edp"):
            assert {tuple(g) for g in carved.groups(dim).tolist()} == \
                {tuple(g) for g in generated._expert_groups(dim).tolist()}
        assert (carved.groups("etp") == carved.groups("tp")).all()


def test_etp1_puts_an_expert_parallel_group_on_one_node() -> None:
    """Grok-1's plan: tp=4, cp=2, dp=8, ep=8, etp=1 — EP over 8 consecutive ranks (a DGX node) instead of ranks 4
    apart over 4 nodes; the all-to-alls stay on NVLink."""
    c = load_model("gpt:layers=8,hidden=512,heads=8,seq=1024,vocab=1000,experts=8,top_k=2,gated=true").config
    folded = make_plan(c, 128, "tp=4,pp=2,cp=2,dp=8,ep=8,etp=1", sequence_parallel=True)
    split = make_plan(c, 128, "tp=4,pp=2,cp=2,dp=8,ep=8", sequence_parallel=True)
    assert folded.groups("ep")[0].tolist() == list(range(8))
    assert split.groups("ep")[0].tolist() == list(range(0, 32, 4))
    cluster = load_topology("dgx-h100", gpus=128)
    inter = {}
    for name, plan in (("folded", folded), ("split", split)):
        comms = Comms(cluster, plan, NetworkCache.for_cluster(cluster, None), None)
        comms.count("all-to-all", "ep", 2**20, 1)
        inter[name] = comms.bytes_by_class["inter-node"]
    assert inter["folded"] == 0 and inter["split"] > 0


# -- rules -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, gpus, parallel, keys, message", [
    ("gpt:layers=4,hidden=512,heads=8,seq=512,vocab=1000", 8, "tp=2,dp=4,etp=1", {"sequence_parallel": True},
     "parallel: etp = 1 differs from tp = 2: expert tensor parallelism needs a mixture-of-experts model"),
    (MOE, 8, "tp=4,dp=2,ep=8,etp=2", {"sequence_parallel": True}, "etp·ep = 16 must divide a stage's tp·cp·dp = 8"),
    (MOE, 16, "tp=2,dp=8,ep=16,etp=1", {"sequence_parallel": True}, "ep = 16 must divide the 8 experts"),
    (MOE + ",moe_ffn=1020", 8, "tp=1,dp=8,etp=8", {}, "etp = 8 must divide the experts' inner width \\(1020\\)"),
    (MOE, 8, "tp=2,dp=4,ep=4,etp=1", {}, "needs sequence parallelism"),
    (MOE, 16, "tp=2,pp=2,dp=4,ep=4,etp=1", {"sequence_parallel": True, "rank_order": "tp-cp-pp-dp"},
     "rank_order: etp = 1 differs from tp = 2: needs pp outermost"),
    (MOE, 8, "tp=2,dp=4,etp=1", {"sequence_parallel": True, "zero": 1, "zero_shard_size": 2},
     "zero_shard_size: hybrid sharding with expert parallelism is not modelled"),
])
def test_bad_expert_tensor_parallelism(model: str, gpus: int, parallel: str, keys: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_plan(load_model(model).config, gpus, parallel, **keys)


def test_etp_equal_to_tp_changes_nothing() -> None:
    c = _config()
    plain = make_plan(c, 16, "tp=2,pp=2,dp=4,ep=4", sequence_parallel=True, global_batch=16)
    same = make_plan(c, 16, "tp=2,pp=2,dp=4,ep=4,etp=2", sequence_parallel=True, global_batch=16)
    assert not same.folded and same.describe() == plain.describe()
    cluster = load_topology("dgx-a100", gpus=16)
    compute = ComputeModel.roofline("a100")
    a = step_time(StageCosts.build(c, plain, cluster, compute, "bf16", "adam"), plain)
    b = step_time(StageCosts.build(c, same, cluster, compute, "bf16", "adam"), same)
    assert a.step_time_s == b.step_time_s


def test_a_scheme_refuses_expert_tensor_parallelism() -> None:
    with pytest.raises(ConfigError, match=r"scheme: .*no expert \(or expert tensor\) parallelism"):
        simulate(MOE, "dgx-a100", gpus=8, parallel="tp=2,dp=4,etp=1", sequence_parallel=True, micro_batch=1,
                 global_batch=8, dtype="bf16", scheme="powersgd:rank=2")


def test_the_cli_says_what_is_wrong_in_one_line(capsys) -> None:
    code = main(["simulate", "--model", MOE, "--topology", "dgx-a100", "--gpus", "8", "--parallel",
                 "tp=2,dp=4,ep=4,etp=1", "--micro-batch", "1", "--global-batch", "8", "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "parallel" in err and "sequence parallelism" in err


# -- compute and memory ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tp, cp, etp", [(4, 1, 1), (4, 2, 2), (2, 1, 4), (8, 2, 1)])
def test_expert_gemms_are_the_same_flops_in_another_shape(tp: int, cp: int, etp: int) -> None:
    """Per GPU the experts run etp/tp of the s/cp tokens (times top-k) at 1/etp of the inner width."""
    c = _config()
    plan = ParallelPlan(tp=tp, pp=1, dp=8, cp=cp, ep=2, etp=etp, sequence_parallel=True)
    folded = {layer.name: layer for layer in expert_block(c, 0, plan)}
    split = {layer.name: layer for layer in block_layers(c, 0, tp, cp, True)}
    assert folded.keys() == split.keys()
    for name, layer in folded.items():
        assert layer.forward_flops == pytest.approx(split[name].forward_flops, rel=1e-12), name
        if ".experts." not in name:
            assert layer == split[name]
    rows = c.seq // cp * etp // tp * c.top_k
    assert folded["layers.0.mlp.experts.up"].gemm == (rows, 2 * c.moe_ffn // etp, c.hidden)
    assert folded["layers.0.mlp.experts.down"].gemm == (rows, c.hidden, c.moe_ffn // etp)


@pytest.mark.parametrize("etp, ep, zero", [(1, 4, 1), (1, 8, 2), (2, 4, 1), (4, 2, 3)])
def test_expert_states_shard_at_etp_and_over_the_expert_data_parallel_group(etp: int, ep: int, zero: int) -> None:
    """Closed form: a GPU holds experts/ep experts of 3·h·F/etp weights (gated, no biases) per layer; ZeRO shards
    them over tp·cp·dp/(etp·ep) ranks; the dense weights as before."""
    c = _config()
    h, f, w = c.hidden, c.moe_ffn, 2
    plan = make_plan(c, 32, f"tp=4,pp=2,dp=4,ep={ep},etp={etp}", sequence_parallel=True, micro_batch=1,
                     global_batch=16, zero=zero)
    layers = c.layers // 2
    expert = layers * (c.experts // ep) * 3 * h * f / etp
    dense, got = stage_params(c, plan, 0)
    assert got == expert
    edp = 4 * 4 // (etp * ep)
    assert plan.expert_dp == edp
    m = memory_per_gpu(c, plan, "bf16", "adam", stage=0)
    assert m["optimizer"] == pytest.approx(12 * (dense / 4 + expert / edp), rel=1e-12)
    assert m["gradients"] == pytest.approx(w * (dense / (4 if zero >= 2 else 1) + expert / (edp if zero >= 2 else 1)),
                                           rel=1e-12)
    assert m["parameters"] == pytest.approx(w * (dense / (4 if zero >= 3 else 1) + expert / (edp if zero >= 3
                                                                                            else 1)), rel=1e-12)
    # the activations' split MLP terms are the same at etp as at tp
    unfolded = make_plan(c, 32, "tp=4,pp=2,dp=4", sequence_parallel=True, micro_batch=1, global_batch=16, zero=zero)
    assert m["activations"] == memory_per_gpu(c, unfolded, "bf16", "adam", stage=0)["activations"]


# -- communication ---------------------------------------------------------------------------------------------------
def _costs(c: object, plan: ParallelPlan, gpus: int, engine: str = "analytical") -> StageCosts:
    cluster = load_topology("dgx-h100", gpus=gpus)
    return StageCosts.build(c, plan, cluster, ComputeModel.roofline("h100"), "bf16", "adam", engine=engine)


@pytest.mark.parametrize("shared", [0, 1])
def test_a_folded_moe_layer_has_the_attention_tp_collectives_and_the_etp_gather(shared: int) -> None:
    """Megatron-core's alltoall dispatcher: the tokens stay sequence-parallel through the MoE layer (no TP
    all-gather/reduce-scatter around it, but the shared experts'), the EP all-to-all carries each rank's s/(tp·cp)
    tokens times top-k, and the etp ranks of an expert all-gather what they received (reduce-scatter on the way
    back)."""
    c = _config(f",shared_experts={shared}")
    plan = make_plan(c, 16, "tp=4,pp=1,dp=4,ep=8,etp=2", sequence_parallel=True, micro_batch=1, global_batch=8)
    costs = _costs(c, plan, 16)
    comms = costs.comms
    assert plan.groups("etp")[0].tolist() == [0, 1]
    activation = c.seq * c.hidden * 2
    dispatch = activation / 4 * c.top_k
    tp_pair = comms.time("all-gather", "tp", activation) + comms.time("reduce-scatter", "tp", activation)
    etp_pair = comms.time("all-gather", "etp", 2 * dispatch) + comms.time("reduce-scatter", "etp", 2 * dispatch)
    assert etp_pair > 0
    m = plan.num_micro_batches
    per_pass = (2 if shared else 1) * tp_pair + etp_pair
    assert costs.exposed["tp"] == pytest.approx(m * c.layers * 2 * per_pass, rel=1e-12)
    assert costs.exposed["ep"] == pytest.approx(m * c.layers * 4 * comms.time("all-to-all", "ep", dispatch),
                                                rel=1e-12)


def test_expert_gradients_reduce_over_the_expert_data_parallel_group() -> None:
    c = _config()
    plan = make_plan(c, 16, "tp=2,pp=1,dp=8,ep=4,etp=1", sequence_parallel=True, micro_batch=1, global_batch=8)
    assert plan.groups("edp").shape[1] == 16 // (1 * 4 * 1)
    costs = _costs(c, plan, 16)
    comms = costs.comms
    _, expert = stage_params(c, plan, 0)
    expert_bytes = 2 * expert / c.layers
    layer_dense = 2 * sum(layer.num_params for layer in block_layers(c, 0, 2, 1, True) if ".experts." not in
                          layer.name)
    # after the head's, the last layer's bucket: dense over dp·cp, experts over the expert DP
    first = costs.dp_buckets[0][1]
    expected = comms.time("all-reduce", "dpcp", layer_dense) + comms.time("all-reduce", "edp", expert_bytes)
    assert first[1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("parallel, keys", [
    ("tp=2,pp=1,dp=8,ep=8,etp=1", {}),
    ("tp=4,pp=1,dp=4,ep=8,etp=2", {"zero": 1}),
    ("tp=2,pp=1,dp=8,ep=4,etp=1", {"zero": 3}),
    ("tp=2,pp=2,dp=4,ep=8,etp=1", {"pipeline_schedule": "interleaved:chunks=2"}),
    ("tp=2,pp=2,dp=4,ep=4,etp=1", {"recompute": "full"}),
])
def test_analytical_and_des_agree_where_nothing_contends(parallel: str, keys: dict) -> None:
    c = _config()
    plan = make_plan(c, 16, parallel, sequence_parallel=True, micro_batch=1, global_batch=32, **keys)
    a = step_time(_costs(c, plan, 16), plan)
    d = step_time(_costs(c, plan, 16, "des"), plan, "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)


def test_the_report_names_the_expert_layout() -> None:
    r = simulate(MOE, "dgx-h100", gpus=16, parallel="tp=2,pp=2,dp=4,ep=8,etp=1", sequence_parallel=True,
                 micro_batch=1, global_batch=16, dtype="bf16", optimizer="adam")
    assert r.parallel["plan"] == "tp=2,pp=2,dp=4,ep=8,etp=1"
    assert (r.parallel["etp"], r.parallel["expert_dp"]) == (1, 1)
    assert r.parallel["exposed_comm_s"]["ep"] > 0
