"""ZeRO-2 as DeepSpeed's stage 2 without contiguous gradients (``zero_impl`` ``allreduce-gather``): every gradient
bucket all-reduced whole over the data-parallel group, each rank keeping its partition, the updated partitions
all-gathered."""

from __future__ import annotations

import pytest
from zero_impl_checks import MODEL, check_engines_agree, small_config, stage_costs

from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.parallel.memory import memory_per_gpu
from simtrain.parallel.plan import make_plan
from simtrain.run import TrainingRun
from simtrain.training import simulate

KEYS = {"micro_batch": 1, "global_batch": 16, "zero": 2}



def test_buckets_are_all_reduced_as_zero_0_and_the_partitions_gathered_as_zero_2() -> None:
    c = small_config()
    flat = stage_costs(make_plan(c, 16, "dp=16", **KEYS))
    whole = stage_costs(make_plan(c, 16, "dp=16", **{**KEYS, "zero": 0}))
    gather = stage_costs(make_plan(c, 16, "dp=16", zero_impl="allreduce-gather", **KEYS))
    # the buckets of ZeRO-0, at the same readiness and the same price
    assert [(b.ready, b.seconds) for b in gather.dp_buckets[0]] == \
        [(b.ready, b.seconds) for b in whole.dp_buckets[0]]
    for bucket in gather.dp_buckets[0]:
        assert [s.op for s in bucket.schedules] == ["all-reduce"]
    for bucket in flat.dp_buckets[0]:
        assert [s.op for s in bucket.schedules] == ["reduce-scatter"]
    # the all-gather after the update and the sharded update are ZeRO-2's
    assert gather.dp_after_update == flat.dp_after_update and gather.dp_after_update[0] > 0
    assert gather.update == flat.update
    assert sum(b.seconds for b in gather.dp_buckets[0]) > sum(b.seconds for b in flat.dp_buckets[0])


def test_the_bytes_sent_count_an_all_reduce_and_a_gather() -> None:
    keys = {"model": MODEL, "topology": "dgx-a100", "gpus": 16, "parallel": "dp=16", "micro_batch": 1,
            "global_batch": 16, "dtype": "bf16", "check_memory": False}
    sent = {name: simulate(TrainingRun.from_mapping({**keys, **extra})).bytes_per_gpu
            for name, extra in (("zero0", {"zero": 0}), ("zero2", {"zero": 2}),
                                ("gather", {"zero": 2, "zero_impl": "allreduce-gather"}))}
    # an all-reduce sends twice a reduce-scatter's bytes; the gather adds a reduce-scatter's worth again
    assert sent["zero0"] == pytest.approx(sent["zero2"], rel=1e-3)
    assert sent["gather"] == pytest.approx(1.5 * sent["zero2"], rel=1e-3)


def test_memory_holds_one_bucket_of_whole_gradients_besides_the_partition() -> None:
    """The largest bucket as the step fills them: a layer's gradients (the head's first, the embedding's last)
    without a bucket size, else the cap (at-most; a larger layer alone) or the cap and one layer more (at-least)."""
    from simtrain.parallel.memory import stage_params

    c = small_config()

    def gradients(**keys) -> float:
        return memory_per_gpu(c, make_plan(c, 16, "dp=16", **{**KEYS, **keys}), "bf16", "adam")["gradients"]

    flat = gradients()
    dense = stage_params(c, make_plan(c, 16, "dp=16", **KEYS), 0)[0]
    layer = 12 * 1024 * 1024 + 13 * 1024   # attention and MLP weights, their biases and two norms of one layer
    head = 2 * 1024   # the final norm's (the head is tied): reduced first
    item = max(layer, head, dense - c.layers * layer - head)   # the embedding, reduced last: larger than a layer
    assert item == dense - c.layers * layer - head
    held = 2 * (1 - 1 / 16)   # bf16 bytes of a whole gradient, less the partition's share already counted
    assert gradients(zero_impl="allreduce-gather") == pytest.approx(flat + held * item, rel=1e-12)
    cap = 2 * layer   # bytes of bf16 gradients: half the layers' elements
    assert gradients(zero_impl="allreduce-gather", dp_bucket_size=cap, dp_bucket_rule="at-most") == pytest.approx(
        flat + held * item, rel=1e-12)   # the embedding travels alone, the largest bucket
    big = 4 * item   # a cap of twice the embedding's elements
    assert gradients(zero_impl="allreduce-gather", dp_bucket_size=big, dp_bucket_rule="at-most") == pytest.approx(
        flat + held * 2 * item, rel=1e-12)
    assert gradients(zero_impl="allreduce-gather", dp_bucket_size=big) == pytest.approx(
        flat + held * min(dense, 3 * item), rel=1e-12)   # at-least: the cap and one item more
    huge = memory_per_gpu(c, make_plan(c, 16, "dp=16", **{**KEYS, "zero": 0}), "bf16", "adam")["gradients"]
    assert gradients(zero_impl="allreduce-gather", dp_bucket_size=4 * dense) == pytest.approx(
        flat + (huge - flat), rel=1e-12)   # a bucket of them all: ZeRO-0's gradients
    one = make_plan(c, 1, "dp=1", zero_impl="allreduce-gather", **{**KEYS, "global_batch": 1})
    assert memory_per_gpu(c, one, "bf16", "adam")["gradients"] == pytest.approx(
        memory_per_gpu(c, make_plan(c, 1, "dp=1", **{**KEYS, "global_batch": 1}), "bf16", "adam")["gradients"])


def test_both_engines_agree_and_the_report_says_which_ran() -> None:
    check_engines_agree("tp=2,dp=8", 2, "allreduce-gather")


@pytest.mark.parametrize("zero", [0, 1, 3])
def test_allreduce_gather_needs_zero_2(zero: int) -> None:
    with pytest.raises(ConfigError, match="needs zero 2"):
        make_plan(small_config(), 8, "dp=8", micro_batch=1, global_batch=8, zero=zero, zero_impl="allreduce-gather")


def test_allreduce_gather_refuses_what_it_does_not_price() -> None:
    """Hybrid sharding, pipeline stages, experts and accumulation: DeepSpeed's stage 2 of the time has none of the
    first three, and reduces after every micro-batch, where simtrain prices one reduction a step."""
    with pytest.raises(ConfigError, match="hybrid"):
        make_plan(small_config(), 16, "dp=16", zero_impl="allreduce-gather", zero_shard_size=8, **KEYS)
    with pytest.raises(ConfigError, match="pp = 2"):
        make_plan(small_config(), 16, "pp=2,dp=8", zero_impl="allreduce-gather", **KEYS)
    moe = load_model("gpt:layers=2,hidden=512,heads=8,seq=256,vocab=1000,experts=8,top_k=2").config
    with pytest.raises(ConfigError, match="experts"):
        make_plan(moe, 8, "dp=8", micro_batch=1, global_batch=8, zero=2, zero_impl="allreduce-gather")
    with pytest.raises(ConfigError, match="accumulates 2 micro-batches"):
        make_plan(small_config(), 16, "dp=16", zero_impl="allreduce-gather", **{**KEYS, "global_batch": 32})


def test_the_search_prices_its_zero2_plans_with_it() -> None:
    from simtrain.parallel.search import search

    result = search(MODEL, "dgx-a100", gpus=16, global_batch=64, zero_impl="allreduce-gather", top=200)
    impls = {(row["zero"], row["zero_impl"]) for row in result.best}
    assert (2, "allreduce-gather") in impls
    assert all(impl == "flat" for zero, impl in impls if zero != 2)
    # the ZeRO-2 plans it refuses (hybrid-sharded, pipelined, accumulating) stay flat
    for row in result.best:
        if row["zero"] == 2:
            fits = not row["zero_shard_size"] and "pp=1," in row["parallel"] and row["num_micro_batches"] == 1
            assert row["zero_impl"] == ("allreduce-gather" if fits else "flat"), row
