"""ZeRO-1 as whole-tensor owners (``zero_impl`` ``owner-broadcast``): Colossal-AI's low-level ZeRO and InternLM's
hybrid ZeRO deal the tensors out whole, all-reduce the gradients and broadcast each owner's update."""

from __future__ import annotations

import random

import pytest
from zero_impl_checks import MODEL, check_engines_agree, small_config, stage_costs

from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import memory_per_gpu, stage_params
from simtrain.parallel.owners import owner_elements, owner_shares
from simtrain.parallel.plan import make_plan
from simtrain.run import TrainingRun
from simtrain.topology import load_topology
from simtrain.training import simulate

KEYS = {"micro_batch": 1, "global_batch": 16, "zero": 1}


def _index_rule(sizes: list[int], owners: int) -> list[int]:
    """The sources' own loop: ``numel_per_rank.index(min(numel_per_rank))`` over the tensors, largest first."""
    totals = [0] * owners
    for size in sorted(sizes, reverse=True):
        totals[totals.index(min(totals))] += size
    return totals



def test_the_partition_is_the_sources_greedy_rule() -> None:
    rng = random.Random(7)
    for _ in range(300):
        sizes = [rng.randint(1, 60) for _ in range(rng.randint(0, 50))]
        owners = rng.randint(1, 24)
        assert owner_elements(sizes, owners) == _index_rule(sizes, owners)


@pytest.mark.parametrize("model", [MODEL, "gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000,gated=true"])
def test_the_owners_share_every_parameter_of_the_stage_and_no_more(model: str) -> None:
    """As many elements as the stage holds (stage_params: a tied embedding's copy on the last stage when pp > 1)."""
    c = load_model(model).config
    for parallel, gpus in (("tp=1,pp=1,dp=8", 8), ("tp=2,pp=2,dp=4", 16), ("tp=1,pp=4,dp=2", 8)):
        plan = make_plan(c, gpus, parallel, zero_impl="owner-broadcast", **KEYS)
        for stage in range(plan.pp):
            shares = owner_shares(c, plan, stage)
            assert sum(shares) == stage_params(c, plan, stage)[0], (model, parallel, stage)
            assert 0 < len(shares) <= plan.zero_group


def test_the_largest_tensor_is_one_owners_share_on_many_ranks() -> None:
    c = small_config()   # 4 layers of 6 tensors, the embedding and the head, the final norm: fewer than 64 ranks
    plan = make_plan(c, 64, "tp=1,pp=1,dp=64", zero_impl="owner-broadcast", micro_batch=1, global_batch=64, zero=1)
    shares = owner_shares(c, plan, 0)
    assert len(shares) < 64 and max(shares) == 32000 * 1024


def test_gradients_are_all_reduced_and_each_owner_broadcasts_after_the_update() -> None:
    c = small_config()
    flat = stage_costs(make_plan(c, 8, "tp=1,pp=1,dp=8", **KEYS))
    owned = stage_costs(make_plan(c, 8, "tp=1,pp=1,dp=8", zero_impl="owner-broadcast", **KEYS))
    comms = owned.comms
    # the same buckets at the same readiness, all-reduced (twice a reduce-scatter's traffic) instead
    assert [b.ready for b in owned.dp_buckets[0]] == [b.ready for b in flat.dp_buckets[0]]
    for bucket in owned.dp_buckets[0]:
        assert [s.op for s in bucket.schedules] == ["all-reduce"]
    # after the update: one broadcast per owner, each of its parameters (bf16), one after another
    shares = owner_shares(c, make_plan(c, 8, "tp=1,pp=1,dp=8", zero_impl="owner-broadcast", **KEYS), 0)
    assert owned.owner_broadcasts[0] == [2.0 * e for e in shares]
    assert owned.dp_after_update[0] == pytest.approx(sum(comms.time("broadcast", "dpcp", 2.0 * e) for e in shares),
                                                     rel=1e-12)
    assert flat.owner_broadcasts == []


def test_the_update_is_the_largest_owners() -> None:
    c = small_config()
    compute = ComputeModel.roofline("a100")
    plan = make_plan(c, 64, "tp=1,pp=1,dp=64", zero_impl="owner-broadcast", micro_batch=1, global_batch=64, zero=1)
    costs = StageCosts.build(c, plan, load_topology("dgx-a100", gpus=64), compute, "bf16", "adam")
    assert costs.update[0] == pytest.approx(compute.update_time(max(owner_shares(c, plan, 0)), "bf16", "adam",
                                                                1.0, "fused", 1), rel=1e-12)


def test_hybrid_groups_broadcast_in_the_shard_and_all_reduce_over_all_ranks() -> None:
    c = small_config()
    plan = make_plan(c, 16, "tp=1,pp=1,dp=16", zero_impl="owner-broadcast", zero_shard_size=8, **KEYS)
    costs = stage_costs(plan)
    for bucket in costs.dp_buckets[0]:
        assert [s.op for s in bucket.schedules] == ["all-reduce"]
        assert len(bucket.schedules[0].ranks) == 16   # the whole data-parallel group, not the shard
    assert len(costs.owner_broadcasts[0]) == 8
    whole = stage_costs(make_plan(c, 16, "tp=1,pp=1,dp=16", zero_impl="owner-broadcast", **KEYS))
    assert len(whole.owner_broadcasts[0]) == 16
    assert costs.dp_after_update[0] < whole.dp_after_update[0]   # 8 broadcasts on NVLink, not 16 across nodes


def test_memory_holds_the_largest_owners_optimizer_state() -> None:
    c = small_config()
    plan = make_plan(c, 64, "tp=1,pp=1,dp=64", zero_impl="owner-broadcast", micro_batch=1, global_batch=64, zero=1)
    flat = make_plan(c, 64, "tp=1,pp=1,dp=64", micro_batch=1, global_batch=64, zero=1)
    states = 4 * 2 + 4   # Adam's two fp32 moments and the fp32 master copy of bf16 parameters
    assert memory_per_gpu(c, plan, "bf16", "adam")["optimizer"] == states * max(owner_shares(c, plan, 0))
    assert memory_per_gpu(c, plan, "bf16", "adam")["optimizer"] > memory_per_gpu(c, flat, "bf16", "adam")["optimizer"]


def test_both_engines_agree_and_the_report_says_which_ran() -> None:
    check_engines_agree("tp=2,pp=2,dp=4", 1, "owner-broadcast")


def test_more_owners_across_nodes_cost_more() -> None:
    """ZeRO-1 over all ranks broadcasts through every node; over each node's 8 GPUs it stays on NVLink, and
    the flat ZeRO-1's one all-gather is cheaper than either at this size."""
    base = {"model": MODEL, "topology": "dgx-a100", "gpus": 64, "parallel": "dp=64", "micro_batch": 1,
            "global_batch": 64, "dtype": "bf16", "zero": 1, "check_memory": False}
    flat = simulate(TrainingRun.from_mapping(base)).step_time_s
    node = simulate(TrainingRun.from_mapping({**base, "zero_impl": "owner-broadcast",
                                              "zero_shard_size": 8})).step_time_s
    every = simulate(TrainingRun.from_mapping({**base, "zero_impl": "owner-broadcast"})).step_time_s
    assert flat < node < every


@pytest.mark.parametrize("zero", [0, 2, 3])
def test_owner_broadcast_needs_zero_1(zero: int) -> None:
    with pytest.raises(ConfigError, match="needs zero 1"):
        make_plan(small_config(), 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=8, zero=zero,
                  zero_impl="owner-broadcast")


def test_owner_broadcast_refuses_experts() -> None:
    c = load_model("gpt:layers=2,hidden=512,heads=8,seq=256,vocab=1000,experts=8,top_k=2").config
    with pytest.raises(ConfigError, match="experts"):
        make_plan(c, 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=8, zero=1, zero_impl="owner-broadcast")


@pytest.mark.parametrize("impl, zero, needs", [("owner-broadcast", "2", "needs zero 1"),
                                              ("allreduce-gather", "1", "needs zero 2")])
def test_the_cli_says_what_is_wrong_in_one_line(capsys, impl: str, zero: str, needs: str) -> None:
    """A ZeRO implementation at a stage it does not implement (owner-broadcast's and allreduce-gather's)."""
    code = main(["simulate", "--model", MODEL, "--topology", "dgx-a100", "--gpus", "8", "--parallel", "dp=8",
                 "--micro-batch", "1", "--global-batch", "8", "--zero", zero, "--zero-impl", impl])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--zero-impl" in err and needs in err


def test_the_search_prices_its_zero1_plans_with_owners() -> None:
    from simtrain.parallel.search import search

    result = search(MODEL, "dgx-a100", gpus=16, global_batch=64, zero_impl="owner-broadcast", top=200)
    impls = {(row["zero"], row["zero_impl"]) for row in result.best}
    assert (1, "owner-broadcast") in impls and {zero for zero, _ in impls} > {1}
    assert all(impl == ("owner-broadcast" if zero == 1 else "flat") for zero, impl in impls)


def test_each_bucket_copies_on_the_communication_stream_in_series_with_its_all_reduce() -> None:
    """InternLM's _reduce_and_copy: torch.cat into one buffer and its div_ before the all-reduce, the copy back after,
    each a read and a write of the bucket on the communication stream; flat ZeRO-1 runs none."""
    c = small_config()
    owner = make_plan(c, 16, "tp=1,pp=1,dp=16", zero_impl="owner-broadcast", dp_bucket_size=16 * 2**20, **KEYS)
    flat = make_plan(c, 16, "tp=1,pp=1,dp=16", dp_bucket_size=16 * 2**20, **KEYS)
    compute = ComputeModel.roofline("a100")
    buckets = stage_costs(owner).dp_buckets[0]
    assert len(buckets) > 1
    for bucket in buckets:
        nbytes = sum(s.size_bytes for s in bucket.schedules)   # all-reduces of the whole gradients (bf16)
        copy = compute.kernel_time(0.0, 2.0 * nbytes, "bf16")
        assert (bucket.before, bucket.after) == pytest.approx((2 * copy, copy), rel=1e-12)
    assert all(b.before == b.after == 0.0 for b in stage_costs(flat).dp_buckets[0])
    # the slowest GPU stretches them as every other kernel
    stretched = stage_costs(owner).stretched([1.5])
    assert stretched.dp_buckets[0][0].after == pytest.approx(1.5 * buckets[0].after)

