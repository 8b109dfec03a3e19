"""What hides behind compute: pipeline sends (blocking unless --overlap-pp) and ZeRO-3's prefetched gathers."""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel
from simtrain.model import load_model
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.pipeline import run_analytical
from simtrain.parallel.plan import make_plan
from simtrain.parallel.step import step_time
from simtrain.topology import load_topology


def test_a_blocking_send_delays_the_senders_next_operation() -> None:
    # two stages, sends of 0.5 s: GPipe's stage 0 runs F0, waits 0.5 s for its send, then F1
    free = run_analytical([[1.0], [1.0]], [[1.0], [1.0]], [0.5, 0.0], [0.0, 0.5], "gpipe", 2)
    held = run_analytical([[1.0], [1.0]], [[1.0], [1.0]], [0.5, 0.0], [0.0, 0.5], "gpipe", 2, blocking=True)
    assert [op[3] for op in free.ops[0][:2]] == [0.0, 1.0]
    assert [op[3] for op in held.ops[0][:2]] == [0.0, 1.5]
    # the last stage's backwards send to stage 0, so they wait too: B1 starts after B0's send
    assert held.ops[1][-1][3] == pytest.approx(held.ops[1][-2][4] + 0.5)
    assert held.end > free.end


@pytest.mark.parametrize("schedule", ["1f1b", "interleaved:chunks=2"])
@pytest.mark.parametrize("overlap", [False, True])
def test_both_engines_agree_with_and_without_overlap(schedule: str, overlap: bool) -> None:
    c = load_model("gpt:layers=8,hidden=512,heads=8,seq=512,vocab=1000").config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=16)
    plan = make_plan(c, 16, "tp=4,pp=4,dp=1", micro_batch=1, global_batch=8, pipeline_schedule=schedule,
                     overlap_pp=overlap)
    compute = ComputeModel.roofline("a100")
    a = step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam"), plan)
    d = step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam", engine="des"), plan, "des")
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)


def test_overlapping_the_sends_is_never_slower() -> None:
    c = load_model("gpt:layers=8,hidden=1024,heads=8,seq=1024,vocab=1000").config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=16)
    compute = ComputeModel.roofline("a100")
    times = []
    for overlap in (False, True):
        plan = make_plan(c, 16, "tp=2,pp=8,dp=1", micro_batch=2, global_batch=32, overlap_pp=overlap)
        times.append(step_time(StageCosts.build(c, plan, cluster, compute, "bf16", "adam"), plan).step_time_s)
    assert times[1] < times[0]


def test_zero3_exposes_each_passs_first_gather_and_hides_the_rest() -> None:
    """Where compute hides every prefetched gather, what is left exposed is the first layer's gather of each
    forward and each backward, every micro-batch, and the root unit's (the embedding, final norm and head) gather
    at the forward's start and reduce-scatter at the backward's end."""
    from simtrain.model.decoder import embedding_layers, head_layers

    c = load_model("gpt:layers=4,hidden=2048,heads=16,seq=2048,vocab=1000").config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=8)
    plan = make_plan(c, 8, "tp=1,pp=1,dp=8", micro_batch=1, global_batch=16, zero=3)
    costs = StageCosts.build(c, plan, cluster, ComputeModel.roofline("a100"), "bf16", "adam")
    layer_bytes = 12 * 2048**2 * 2 + 13 * 2048 * 2   # a GPT layer's weights and biases in bf16
    gather = costs.comms.time("all-gather", "dpcp", layer_bytes)
    assert 0 < gather < costs.forward[0][0] / 4                      # each layer's compute hides the next gather
    root = 2 * sum(layer.num_params for layer in embedding_layers(c) + head_layers(c))
    edges = costs.comms.time("all-gather", "dpcp", root) + costs.comms.time("reduce-scatter", "dpcp", root)
    assert costs.exposed["dp"] == pytest.approx((2 * gather + edges) * plan.num_micro_batches, rel=1e-6)
