"""ZeRO-3 without re-sharding after forward (``zero_reshard``) and hybrid sharding (``zero_shard_size``): the groups,
the memory closed forms, the bytes each link class carries, both engines, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.model.decoder import block_layers, embedding_layers, head_layers
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import edge_params, memory_per_gpu, stage_params
from simtrain.parallel.plan import make_plan
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology
from simtrain.training import simulate

MODEL = "gpt:layers=4,hidden=1024,heads=16,seq=1024,vocab=32000"
WIDTH = 2   # bf16


def _config():
    c = load_model(MODEL).config
    assert c is not None
    return c


def _layer_bytes(c) -> float:
    """One transformer layer's weights in bf16, counted from its layers (no TP)."""
    return WIDTH * sum(layer.num_params for layer in block_layers(c, 0))


def _root_bytes(c, tp: int = 1, width: int = WIDTH) -> float:
    """ZeRO-3's root unit on one GPU of a one-stage plan: the embedding, the final norm and the head."""
    return width * sum(layer.num_params for layer in embedding_layers(c, tp) + head_layers(c, tp))


def _costs(plan, engine: str = "analytical") -> StageCosts:
    return StageCosts.build(_config(), plan, load_topology("dgx-a100", gpus=plan.num_gpus),
                            ComputeModel.roofline("a100"), "bf16", "adam", engine=engine)


# -- groups ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["tp-cp-dp-pp", "tp-cp-pp-dp"])
def test_shard_and_replica_groups_partition_each_data_parallel_group(order: str) -> None:
    plan = make_plan(_config(), 32, "tp=2,pp=2,dp=8", micro_batch=1, global_batch=16, zero=3, zero_shard_size=4,
                     rank_order=order)
    shard, replica, dpcp = plan.groups("shard"), plan.groups("replica"), plan.groups("dpcp")
    assert shard.shape == (8, 4) and replica.shape == (16, 2)   # 32 GPUs in groups of 4 and of 2
    for row in dpcp:   # each data-parallel group is its shard groups, and its replica groups, exactly
        members = set(row.tolist())
        assert sorted(m for g in shard if set(g) <= members for m in g) == sorted(members)
        assert sorted(m for g in replica if set(g) <= members for m in g) == sorted(members)
    # a shard group and a replica group meet in one rank
    assert all(len(set(s) & set(r)) <= 1 for s in shard for r in replica)


# -- memory -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("zero", [1, 2, 3])
def test_hybrid_sharding_memory_divides_by_the_shard_size(zero: int) -> None:
    c = _config()
    plan = make_plan(c, 16, "tp=1,pp=1,dp=16", micro_batch=1, global_batch=32, zero=zero, zero_shard_size=4)
    m = memory_per_gpu(c, plan, "bf16", "adam")
    dense, expert = stage_params(c, plan, 0)
    assert expert == 0
    params = dense   # everything on the one stage: layers, embedding and head
    assert m["optimizer"] == pytest.approx((4 + 4 + 4) * params / 4)   # fp32 master, Adam's two states
    assert m["gradients"] == pytest.approx(WIDTH * params / (4 if zero >= 2 else 1))
    assert m["parameters"] == pytest.approx(WIDTH * params / (4 if zero >= 3 else 1))
    # the shard group of the whole data-parallel group is plain ZeRO
    whole = make_plan(c, 16, "tp=1,pp=1,dp=16", micro_batch=1, global_batch=32, zero=zero, zero_shard_size=16)
    plain = make_plan(c, 16, "tp=1,pp=1,dp=16", micro_batch=1, global_batch=32, zero=zero)
    assert memory_per_gpu(c, whole, "bf16", "adam") == memory_per_gpu(c, plain, "bf16", "adam")


def test_keeping_gathered_parameters_holds_the_stages_whole_weights() -> None:
    c = _config()
    kwargs = {"micro_batch": 1, "global_batch": 32, "zero": 3}
    resharded = make_plan(c, 16, "tp=2,pp=2,dp=4", **kwargs)
    kept = make_plan(c, 16, "tp=2,pp=2,dp=4", zero_reshard=False, **kwargs)
    for stage in (0, 1):
        a = memory_per_gpu(c, resharded, "bf16", "adam", stage)
        b = memory_per_gpu(c, kept, "bf16", "adam", stage)
        dense, _ = stage_params(c, kept, stage)
        per_stage = len(kept.stage_layers(stage))
        assert b["parameters"] == pytest.approx(WIDTH * dense / 4 + WIDTH * dense)
        # the two prefetched layers' buffers are part of what is held, and the root unit (the stage's edge
        # layers), gathered from forward to backward
        root = WIDTH * sum(edge_params(c, kept.tp, kept.pp, stage))
        assert root > 0
        assert a["workspace"] - b["workspace"] == pytest.approx(2 * WIDTH * dense / per_stage + root)
        assert (b["gradients"], b["optimizer"], b["activations"]) == (a["gradients"], a["optimizer"],
                                                                      a["activations"])


# -- communication ------------------------------------------------------------------------------------------------
def test_hsdp_keeps_zero3_traffic_inside_a_node() -> None:
    """dgx-a100, 16 GPUs of pure data parallelism, shard groups of 8 (one node): gathers and reduce-scatters stay on
    NVSwitch; the inter-node bytes are the all-reduce of 1/8 of each layer's gradient between the 2 nodes (a ring of
    two sends the whole buffer once: 2·(2 − 1)/2)."""
    c = _config()
    m = 2   # micro-batches: 32 / (1 × 16)
    layer = _layer_bytes(c)
    plan = make_plan(c, 16, "tp=1,pp=1,dp=16", micro_batch=1, global_batch=32, zero=3, zero_shard_size=8)
    got = _costs(plan).comms.bytes_by_class
    root = _root_bytes(c)
    assert got["inter-node"] == pytest.approx((c.layers * layer + root) / 8, rel=1e-9)
    # ring all-gather and reduce-scatter over 8 ranks send 7/8 of the buffer: two gathers and one scatter per
    # layer and micro-batch, one of each for the root unit (gathered from forward to backward)
    assert got["intra-node"] == pytest.approx((3 * c.layers * layer + 2 * root) * m * 7 / 8, rel=1e-9)
    flat = _costs(make_plan(c, 16, "tp=1,pp=1,dp=16", micro_batch=1, global_batch=32, zero=3)).comms.bytes_by_class
    assert flat["inter-node"] > 4 * got["inter-node"]


@pytest.mark.parametrize("zero", [1, 2])
def test_hybrid_zero12_reduce_scatters_in_the_node_and_all_reduces_the_shard(zero: int) -> None:
    c = _config()
    layer = _layer_bytes(c)
    plan = make_plan(c, 16, "tp=1,pp=1,dp=16", micro_batch=1, global_batch=32, zero=zero, zero_shard_size=8)
    got = _costs(plan).comms.bytes_by_class
    root = _root_bytes(c)   # the embedding, final norm and head, reduced and gathered like a layer
    assert got["inter-node"] == pytest.approx((c.layers * layer + root) / 8, rel=1e-9)
    # once per step: the reduce-scatter and the all-gather after the update
    assert got["intra-node"] == pytest.approx(2 * (c.layers * layer + root) * 7 / 8, rel=1e-9)


def test_no_resharding_gathers_once_per_micro_batch() -> None:
    c = _config()
    m, layer, g = 2, _layer_bytes(c), 16
    kwargs = {"micro_batch": 1, "global_batch": 32, "zero": 3}
    a = _costs(make_plan(c, 16, "tp=1,pp=1,dp=16", **kwargs))
    b = _costs(make_plan(c, 16, "tp=1,pp=1,dp=16", zero_reshard=False, **kwargs))
    saved = a.comms.bytes_per_gpu - b.comms.bytes_per_gpu
    assert saved == pytest.approx(m * c.layers * layer * (g - 1) / g, rel=1e-9)
    # backward has nothing left to gather: never slower, and what is exposed only shrinks
    assert b.exposed["dp"] <= a.exposed["dp"]
    assert all(sb <= sa for ra, rb in zip(a.backward, b.backward) for sa, sb in zip(ra, rb))
    assert b.forward == a.forward


def test_backward_of_a_kept_chunk_exposes_only_the_reduce_scatter_excess() -> None:
    c = _config()
    plan = make_plan(c, 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=16, zero=3, zero_reshard=False)
    costs = _costs(plan)
    scatter = costs.comms.time("reduce-scatter", "dpcp", _layer_bytes(c))
    b_layer = sum(ComputeModel.roofline("a100").layer_time(layer, 1, "backward", "bf16")
                  for layer in block_layers(c, 0))
    # no layer's backward waits for a gather: each exposes at most what its reduce-scatter exceeds its compute by
    plain = _costs(make_plan(c, 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=16, zero=0))
    extra = costs.backward[0][0] - plain.backward[0][0]
    root = costs.comms.time("reduce-scatter", "dpcp", _root_bytes(c))   # the root unit's, at the backward's end
    assert extra == pytest.approx(c.layers * max(0.0, scatter - b_layer) + root, abs=1e-12)


@pytest.mark.parametrize("parallel, keys", [
    ("tp=2,pp=1,dp=16", {"zero": 3, "zero_shard_size": 4}),
    ("tp=2,pp=1,dp=16", {"zero": 3, "zero_reshard": False}),
    ("tp=2,pp=2,dp=8", {"zero": 3, "zero_reshard": False}),
    ("tp=1,pp=1,dp=32", {"zero": 3, "zero_shard_size": 2, "zero_reshard": False}),
    ("tp=2,pp=1,dp=16", {"zero": 2, "zero_shard_size": 4}),
    ("tp=1,pp=1,dp=32", {"zero": 1, "zero_shard_size": 8}),
    ("tp=2,pp=1,dp=16", {"zero": 2, "zero_shard_size": 8, "overlap_dp": False}),
])
def test_both_engines_agree(parallel: str, keys: dict) -> None:
    """Where nothing contends: with pp > 1 on this cluster a stage's gradient reduction shares its node's NICs with
    the pipeline's sends in the DES (as it does without these options), so the hybrid cases run one stage."""
    plan = make_plan(_config(), 32, parallel, micro_batch=1, global_batch=32, **keys)
    a = step_time(_costs(plan), plan)
    d = step_time(_costs(plan, "des"), plan, "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)
    if plan.hybrid:   # the replica all-reduce is a bucket on each stage
        assert all(stage for stage in _costs(plan).dp_buckets)


def test_the_report_says_which_sharding_ran() -> None:
    r = simulate(MODEL, "dgx-a100", gpus=16, parallel="tp=1,pp=1,dp=16", micro_batch=1, global_batch=32,
                 dtype="bf16", optimizer="adam", zero=3, zero_shard_size=8, zero_reshard=False)
    assert r.parallel["zero_shard_size"] == 8 and r.parallel["zero_reshard"] is False
    plain = simulate(MODEL, "dgx-a100", gpus=16, parallel="tp=1,pp=1,dp=16", micro_batch=1, global_batch=32,
                     dtype="bf16", optimizer="adam", zero=3)
    assert plain.parallel["zero_shard_size"] == 16 and plain.parallel["zero_reshard"] is True
    assert np.isfinite(r.step_time_s) and r.step_time_s <= plain.step_time_s


# -- bad inputs ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"zero": 3, "zero_shard_size": 3}, "zero_shard_size: must divide dp·cp = 16"),
    ({"zero": 0, "zero_shard_size": 8}, "zero_shard_size: hybrid sharding needs zero 1, 2 or 3"),
    ({"zero": 2, "zero_reshard": False}, "zero_reshard: false needs zero 3"),
    ({"zero": 3, "zero_shard_size": 0}, "zero_shard_size"),
])
def test_bad_zero_options(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate(MODEL, "dgx-a100", gpus=16, parallel="tp=1,pp=1,dp=16", micro_batch=1, global_batch=32,
                 dtype="bf16", **params)


def test_hybrid_sharding_refuses_expert_parallelism() -> None:
    c = load_model("gpt:layers=2,hidden=256,heads=4,seq=256,vocab=100,experts=4,top_k=2").config
    with pytest.raises(ConfigError, match="zero_shard_size: hybrid sharding with expert parallelism"):
        make_plan(c, 8, "tp=1,pp=1,dp=8,ep=2", micro_batch=1, global_batch=8, zero=3, zero_shard_size=4)


@pytest.mark.parametrize("flags, name", [
    (["--zero", "3", "--zero-shard-size", "5"], "--zero-shard-size"),
    (["--zero", "1", "--no-zero-reshard"], "--zero-reshard"),
])
def test_the_cli_says_what_is_wrong_in_one_line(capsys, flags: list[str], name: str) -> None:
    code = main(["simulate", "--model", MODEL, "--topology", "dgx-a100", "--gpus", "16", "--parallel",
                 "tp=1,pp=1,dp=16", "--micro-batch", "1", "--global-batch", "32", *flags, "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and name in err


# -- the search ---------------------------------------------------------------------------------------------------
def test_the_search_adds_node_sized_shards_and_kept_parameters() -> None:
    from simtrain.parallel.search import candidates

    c = _config()
    variants: dict[tuple, list[tuple]] = {}
    for keys in candidates(c, 16, 8, 32):
        base = tuple(sorted((k, v) for k, v in keys.items() if k not in ("zero_shard_size", "zero_reshard")))
        variants.setdefault(base, []).append((keys["zero_shard_size"], keys["zero_reshard"]))
        if keys["zero_shard_size"] is not None:   # the shard group is the data-parallel ranks of one node
            plan = make_plan(c, 16, **keys)
            assert plan.hybrid and all(len(set((row // 8).tolist())) == 1 for row in plan.groups("shard"))
    for base, found in variants.items():
        keys = dict(base)
        shards = {s for s, _ in found}
        assert shards == {None} or (keys["zero"] and len(shards) == 2)
        reshards = [True, False] if keys["zero"] == 3 else [True]
        assert sorted(found, key=str) == sorted(((s, r) for s in shards for r in reshards), key=str), base
        tp, dp = (int(part.split("=")[1]) for part in keys["parallel"].split(",")[0:3:2])
        if keys["zero"] and keys["rank_order"] == "tp-cp-dp-pp" and 1 < 8 // tp < dp:   # Megatron's order
            assert shards == {None, 8 // tp}


def test_hybrid_sharding_shards_experts_like_dense_weights_without_ep() -> None:
    c = load_model("gpt:layers=2,hidden=256,heads=4,seq=256,vocab=100,experts=4,top_k=2").config
    plan = make_plan(c, 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=8, zero=3, zero_shard_size=4)
    dense, expert = stage_params(c, plan, 0)
    assert expert > 0
    m = memory_per_gpu(c, plan, "bf16", "adam")
    assert m["parameters"] == pytest.approx(WIDTH * (dense + expert) / 4)
    assert m["optimizer"] == pytest.approx(12 * (dense + expert) / 4)


# -- zero_impl: FSDP2's copies --------------------------------------------------------------------------------------
@pytest.mark.parametrize("reshard, recompute", [(True, "none"), (False, "none"), (True, "full")])
def test_fsdp2_adds_its_copies_to_each_layers_compute(reshard: bool, recompute: str) -> None:
    """Forward: the copy-out of the layer's gathered bytes (read and write); backward: the copy-out again where the
    layer gathers again, and the copy-in of its gradients (read at the parameters' width, written at the
    reduction's); a recomputed forward copies nothing more."""
    c = _config()
    compute = ComputeModel.roofline("a100")
    kwargs = {"micro_batch": 1, "global_batch": 16, "zero": 3, "zero_reshard": reshard, "recompute": recompute}
    flat = _costs(make_plan(c, 8, "tp=1,pp=1,dp=8", **kwargs))
    fsdp2 = _costs(make_plan(c, 8, "tp=1,pp=1,dp=8", zero_impl="fsdp2", **kwargs))
    layer = _layer_bytes(c)   # bf16 parameters, gradients reduced in bf16 (reduce_dtype auto)
    out = compute.kernel_time(0.0, 2 * layer, "bf16")
    into = compute.kernel_time(0.0, 2 * layer, "bf16")
    root = compute.kernel_time(0.0, 2 * _root_bytes(c), "bf16")   # the root unit's, out and in, never gathered again
    assert sum(fsdp2.forward_compute[0]) - sum(flat.forward_compute[0]) == pytest.approx(c.layers * out + root,
                                                                                        rel=1e-9)
    more = (out if reshard else 0.0) + into
    assert sum(fsdp2.backward_compute[0]) - sum(flat.backward_compute[0]) == pytest.approx(c.layers * more + root,
                                                                                          rel=1e-9)
    assert fsdp2.comms.bytes_per_gpu == flat.comms.bytes_per_gpu   # the collectives are the same


def test_fsdp2_copies_the_gradients_into_the_reductions_width() -> None:
    c = _config()
    compute = ComputeModel.roofline("a100")
    plan = make_plan(c, 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=16, zero=3, zero_impl="fsdp2")
    cluster = load_topology("dgx-a100", gpus=8)
    bf16 = StageCosts.build(c, plan, cluster, compute, "bf16", "adam")
    fp32 = StageCosts.build(c, plan, cluster, compute, "bf16", "adam", reduce_dtype="fp32")
    layer = _layer_bytes(c)   # bf16 bytes: the parameter count is layer / 2
    # read 2 bytes a parameter and write 4 (fp32) instead of 2: 3 layers' bf16 bytes against 2
    grow = compute.kernel_time(0.0, 3 * layer, "bf16") - compute.kernel_time(0.0, 2 * layer, "bf16")
    root = _root_bytes(c)
    grow_root = compute.kernel_time(0.0, 3 * root, "bf16") - compute.kernel_time(0.0, 2 * root, "bf16")
    assert sum(fp32.backward_compute[0]) - sum(bf16.backward_compute[0]) == pytest.approx(c.layers * grow + grow_root,
                                                                                          rel=1e-9)


def test_fsdp2_runs_in_both_engines_and_reports_itself() -> None:
    keys = {"model": MODEL, "topology": "dgx-a100", "gpus": 8, "parallel": "dp=8", "micro_batch": 1,
            "global_batch": 8, "dtype": "bf16", "zero": 3, "check_memory": False}
    from simtrain.run import TrainingRun

    flat = simulate(TrainingRun.from_mapping(keys))
    for engine in ("analytical", "des"):
        r = simulate(TrainingRun.from_mapping({**keys, "zero_impl": "fsdp2", "engine": engine}))
        assert r.step_time_s > flat.step_time_s and r.to_dict()["zero_impl"] == "fsdp2"


@pytest.mark.parametrize("zero", [0, 1, 2])
def test_fsdp2_needs_zero_3(zero: int) -> None:
    with pytest.raises(ConfigError, match="needs zero 3"):
        make_plan(_config(), 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=8, zero=zero, zero_impl="fsdp2")


@pytest.mark.parametrize("model, gpus, parallel, keys, autocast", [
    (MODEL, 16, "tp=2,pp=1,dp=8", {"sequence_parallel": True}, False),              # TP-local parameters
    (MODEL, 16, "tp=1,pp=1,dp=16", {"zero_shard_size": 8}, False),                   # hybrid sharding
    (MODEL, 8, "tp=1,pp=1,dp=8", {}, True),                                           # autocast: fp32 parameters
    ("gpt:layers=2,hidden=512,heads=8,seq=256,vocab=1000,experts=8,top_k=2", 8, "tp=1,pp=1,dp=8,ep=4", {}, False),
])
def test_fsdp2_copies_count_what_each_gpu_gathers(model: str, gpus: int, parallel: str, keys: dict,
                                                  autocast: bool) -> None:
    """Per micro-batch, FSDP2's copies move (per layer) the GPU's gathered parameters four times (copied out
    forward and again backward: read and write each) and its gradients twice (read, and written in the reduction's
    width): the TP-local share, the expert layers' 1/ep, whatever the shard group, fp32 under autocast."""
    c = load_model(model).config
    compute = ComputeModel.roofline("a100", autocast=autocast)
    plan = make_plan(c, gpus, parallel, micro_batch=1, global_batch=2 * gpus, zero=3, zero_impl="fsdp2", **keys)
    costs = StageCosts.build(c, plan, load_topology("dgx-a100", gpus=gpus), compute, "bf16", "adam")
    width = 4 if autocast else 2   # the parameters' and (reduce_dtype auto) the gradients'
    expected = 0.0
    for index in range(c.layers):
        layers = block_layers(c, index, plan.tp, plan.cp, plan.sequence_parallel)
        count = sum(layer.num_params / (plan.ep if ".experts." in layer.name else 1) for layer in layers)
        expected += 2 * compute.kernel_time(0.0, 2 * count * width, "bf16") \
            + compute.kernel_time(0.0, 2 * count * width, "bf16")
    # the root unit (the embedding, final norm and head, whole on every expert rank): out once, in once
    expected += 2 * compute.kernel_time(0.0, 2 * _root_bytes(c, plan.tp, width), "bf16")
    assert costs.copies[0] == pytest.approx(expected, rel=1e-9)
