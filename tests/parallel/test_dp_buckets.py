"""A plan's data-parallel reduction in buckets (``dp_bucket_size``: Megatron-core's ``--ddp-bucket-size``, XLA's
all-reduce combine threshold): layers merged in backward order, the same bytes, fewer and later collectives."""

from __future__ import annotations

import json

import pytest

from simtrain.cli import main
from simtrain.parallel.costs import merge_buckets

PLAN = ["simulate", "--model", "gpt:layers=8,hidden=1024,heads=16,seq=1024,vocab=32000", "--topology", "dgx-h100",
        "--gpus", "16", "--parallel", "tp=1,pp=1", "--micro-batch", "1", "--global-batch", "16", "--dtype", "bf16",
        "--optimizer", "adam", "--zero", "1", "--json"]


def _run(capsys, *extra: str) -> dict:
    assert main([*PLAN, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_merge_keeps_every_byte_and_the_last_layers_ready_time():
    layers = [(float(i), 10.0, 1.0 if i % 2 else 0.0) for i in range(1, 8)]
    for size in (0.0, 5.0, 25.0, 1e9):
        merged = merge_buckets(layers, size)
        assert sum(d for _, d, _ in merged) == 70.0 and sum(e for _, _, e in merged) == 4.0
        assert [r for r, _, _ in merged] == sorted(r for r, _, _ in merged)
        assert merged[-1][0] == 7.0   # the last bucket waits for the last layer
        assert all(d + e >= size for _, d, e in merged[:-1])
    assert len(merge_buckets(layers, 0.0)) == 7 and len(merge_buckets(layers, 1e9)) == 1


def test_at_most_closes_a_bucket_before_it_would_pass_the_size():
    """XLA's combiner: layers join while the total stays within the threshold; a larger layer is its own."""
    layers = [(float(i), 10.0, 1.0 if i % 2 else 0.0) for i in range(1, 8)]
    for size in (5.0, 25.0, 35.0, 1e9):
        merged = merge_buckets(layers, size, "at-most")
        assert sum(d for _, d, _ in merged) == 70.0 and sum(e for _, _, e in merged) == 4.0
        assert merged[-1][0] == 7.0
        assert all(d + e <= size or (r, d, e) in layers for r, d, e in merged)   # within it, or one layer alone
        assert len(merged) >= len(merge_buckets(layers, size))   # never fewer than at-least's
    assert len(merge_buckets(layers, 5.0, "at-most")) == 7   # every layer is larger than 5
    assert [d + e for _, d, e in merge_buckets(layers, 21.0, "at-most")] == [21.0, 21.0, 21.0, 11.0]
    assert [d + e for _, d, e in merge_buckets(layers, 21.0)] == [21.0, 21.0, 21.0, 11.0]
    assert [d + e for _, d, e in merge_buckets(layers, 20.0, "at-most")] == [11.0, 10.0, 11.0, 10.0, 11.0, 10.0, 11.0]
    assert [d + e for _, d, e in merge_buckets(layers, 20.0)] == [21.0, 21.0, 21.0, 11.0]


def test_the_rule_needs_a_size_and_at_most_makes_more_buckets(capsys):
    at_least = _run(capsys, "--dp-bucket-size", "100MiB")
    at_most = _run(capsys, "--dp-bucket-size", "100MiB", "--dp-bucket-rule", "at-most")
    assert at_most["num_buckets"] > at_least["num_buckets"]   # 3 against 2: the rule reaches the plan
    assert at_most["bytes_per_gpu_by_class"] == at_least["bytes_per_gpu_by_class"]
    assert main([*PLAN, "--dp-bucket-rule", "at-most"]) == 2   # typed alone, a slip
    assert "--dp-bucket-size" in capsys.readouterr().err


def test_one_replica_keeps_the_size_and_changes_nothing(capsys):
    """At dp·cp = 1 there is no data-parallel reduction: a sweep's one-replica row keeps its bucket size."""
    one = [*PLAN[:PLAN.index("--parallel")], "--parallel", "tp=8,pp=2", *PLAN[PLAN.index("--parallel") + 2:]]
    assert main(one) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*one, "--dp-bucket-size", "1GiB"]) == 0
    bucketed = json.loads(capsys.readouterr().out)
    assert bucketed["step_time_s"] == plain["step_time_s"] and bucketed["num_buckets"] == plain["num_buckets"]


def test_larger_buckets_start_later_and_move_the_same_bytes(capsys):
    per_layer = _run(capsys)
    counts, exposed = [per_layer["num_buckets"]], [per_layer["exposed_comm_s"]["dp"]]
    for size in ("64MiB", "256MiB", "1PiB"):
        row = _run(capsys, "--dp-bucket-size", size)
        assert row["bytes_per_gpu_by_class"] == per_layer["bytes_per_gpu_by_class"]
        counts.append(row["num_buckets"])
        exposed.append(row["exposed_comm_s"]["dp"])
    assert counts == sorted(counts, reverse=True) and counts[-1] == 1 and counts[0] > 1
    # one bucket starts when backward ends: more of the reduction is exposed than with a reduction per layer
    assert exposed[-1] > exposed[0]
    # but less than running the per-layer reductions one after another after backward
    assert exposed[-1] < _run(capsys, "--no-overlap-dp")["exposed_comm_s"]["dp"]


@pytest.mark.parametrize("argv,words", [
    (["simulate", "--model", "resnet50", "--topology", "dgx-h100", "--gpus", "16", "--dp-bucket-size", "1GiB"],
     ("--dp-bucket-size", "parallel plan", "1 GiB")),
    ([*PLAN[:-3], "--zero", "3", "--dp-bucket-size", "1GiB"], ("--dp-bucket-size", "zero 3", "zero_shard_size")),
    ([*PLAN, "--dp-bucket-size", "0B"], ("--dp-bucket-size",)),
])
def test_a_bucket_size_nothing_reads_is_refused(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    for word in words:
        assert word in err, err


def test_hybrid_zero3_buckets_its_replicas_all_reduce_by_the_shard(capsys):
    """Under hybrid sharding each replica all-reduces its shard (1/S of a layer's gradients): the bucket is sized by
    that operand, as XLA's combine threshold sizes the all-reduce it merges."""
    argv = [*PLAN[:-3], "--zero", "3", "--zero-shard-size", "8", "--json"]
    assert main(argv) == 0
    per_layer = json.loads(capsys.readouterr().out)
    assert main([*argv, "--dp-bucket-size", "1PiB"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["num_buckets"] == 1 < per_layer["num_buckets"]
    assert one["bytes_per_gpu_by_class"] == per_layer["bytes_per_gpu_by_class"]


@pytest.mark.parametrize("tied", [False, True])
def test_the_head_is_reduced_first_and_the_embedding_last(tied):
    """Backward opens with the loss, the head and the final norm: their gradients fill the first bucket (DDP and
    Megatron-LM bucket in reverse registration order); the layers' follow from the end of the head's backward and
    the embedding's come last, after its own backward."""
    from simtrain.compute import ComputeModel
    from simtrain.model import load_model
    from simtrain.model.decoder import embedding_layers, head_layers
    from simtrain.parallel import make_plan
    from simtrain.parallel.costs import StageCosts
    from simtrain.topology import load_topology

    c = load_model(f"gpt:layers=4,hidden=512,heads=8,seq=256,vocab=32000,tied={str(tied).lower()}").config
    plan = make_plan(c, 8, "tp=1,pp=1", micro_batch=1, global_batch=8)
    compute = ComputeModel.roofline("a100")
    costs = StageCosts.build(c, plan, load_topology("dgx-a100", gpus=8), compute, "bf16", "adam")
    buckets = costs.dp_buckets[0]
    assert len(buckets) == c.layers + 2   # the head's, one a layer, the embedding's
    head_b = sum(compute.layer_time(layer, 1, "backward", "bf16") for layer in head_layers(c))
    embed_b = sum(compute.layer_time(layer, 1, "backward", "bf16") for layer in embedding_layers(c))
    assert buckets[0].ready == pytest.approx(head_b)
    assert buckets[-1].ready == pytest.approx(costs.backward[0][0]) and embed_b > 0
    assert [b.ready for b in buckets] == sorted(b.ready for b in buckets)
    head_bytes = sum(layer.num_params for layer in head_layers(c)) * 2
    assert buckets[0].schedules[0].size_bytes == pytest.approx(head_bytes)   # tied: the final norm's alone
    assert (head_bytes > c.vocab * c.hidden) != tied


@pytest.mark.parametrize("schedule", ["1f1b", "interleaved:chunks=2"])
def test_each_stage_reduces_its_own_edges(schedule):
    """Two stages, an untied head: the last stage's first bucket is the head's, ready after the head's backward
    (with interleaving the head's chunk is done before chunk 0's backward: ready at once); the first stage's last
    bucket is the embedding's, ready when its backward ends; the middle buckets are the layers'."""
    from simtrain.compute import ComputeModel
    from simtrain.model import load_model
    from simtrain.model.decoder import head_layers
    from simtrain.parallel import make_plan
    from simtrain.parallel.costs import StageCosts
    from simtrain.topology import load_topology

    c = load_model("gpt:layers=8,hidden=512,heads=8,seq=256,vocab=32000,tied=false").config
    plan = make_plan(c, 8, "tp=1,pp=2", micro_batch=1, global_batch=8, pipeline_schedule=schedule)
    compute = ComputeModel.roofline("a100")
    costs = StageCosts.build(c, plan, load_topology("dgx-a100", gpus=8), compute, "bf16", "adam")
    first, last = costs.dp_buckets
    head_b = sum(compute.layer_time(layer, 1, "backward", "bf16") for layer in head_layers(c))
    assert last[0].ready == pytest.approx(head_b if plan.chunks == 1 else 0.0)
    assert last[0].schedules[0].size_bytes == 2 * sum(layer.num_params for layer in head_layers(c))
    assert first[-1].ready == pytest.approx(costs.backward[0][0])
    assert len(first) == len(last) == c.layers // 2 + 1


def test_hybrid_zero3_waits_for_the_heads_backward_and_reduces_the_root_last():
    """Hybrid ZeRO-3 (shard groups of 8 on 16 GPUs): the layers' replica all-reduces start after the head's
    backward, the root unit's (the embedding, final norm and untied head) when the backward ends; the compute part
    of that readiness leaves out the root's reduce-scatter (communication, not stretched for slow GPUs)."""
    from simtrain.compute import ComputeModel
    from simtrain.model import load_model
    from simtrain.model.decoder import block_layers, embedding_layers, head_layers
    from simtrain.parallel import make_plan
    from simtrain.parallel.costs import StageCosts
    from simtrain.topology import load_topology

    c = load_model("gpt:layers=4,hidden=512,heads=8,seq=256,vocab=32000,tied=false").config
    plan = make_plan(c, 16, "tp=1,pp=1,dp=16", micro_batch=1, global_batch=16, zero=3, zero_shard_size=8)
    compute = ComputeModel.roofline("a100")
    costs = StageCosts.build(c, plan, load_topology("dgx-a100", gpus=16), compute, "bf16", "adam")
    buckets = costs.dp_buckets[0]
    head_b = sum(compute.layer_time(layer, 1, "backward", "bf16") for layer in head_layers(c))
    embed_b = sum(compute.layer_time(layer, 1, "backward", "bf16") for layer in embedding_layers(c))
    assert len(buckets) == c.layers + 1
    # the last layer's backward (its ZeRO-3 exposure with it) after the head's
    assert buckets[0].ready > head_b + compute.layer_time(block_layers(c)[-1], 1, "backward", "bf16")
    root_scatter = costs.comms.time("reduce-scatter", "shard",
                                    2 * sum(layer.num_params for layer in embedding_layers(c) + head_layers(c)))
    assert buckets[-1].ready - buckets[-2].ready == pytest.approx(embed_b + root_scatter)
    assert buckets[-1].ready == pytest.approx(costs.backward[0][0])
    assert costs.dp_ready_compute[0][-1] == pytest.approx(costs.backward_compute[0][0])
    assert costs.backward_compute[0][0] < costs.backward[0][0]   # the root's reduce-scatter is not compute
