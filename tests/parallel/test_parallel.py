"""Model parallelism: the memory closed forms, the pipeline engines' agreement, plan rules and the report."""

from __future__ import annotations

import pytest

from simtrain.cli import main
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.model import load_model
from simtrain.model.decoder import DecoderConfig
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import activation_bytes_per_layer, in_flight, memory_per_gpu
from simtrain.parallel.pipeline import run_analytical
from simtrain.parallel.plan import ParallelPlan, make_plan
from simtrain.parallel.step import step_time
from simtrain.run import TrainingRun
from simtrain.topology import load_topology
from simtrain.training import simulate

GPT = DecoderConfig.from_mapping({"layers": 24, "hidden": 2048, "heads": 16, "seq": 2048, "vocab": 51200})


# -- memory: Korthikanti et al. 2022, Table 2 and §4.2 -------------------------------------------------------------
@pytest.mark.parametrize("t", [1, 2, 4, 8])
@pytest.mark.parametrize("b", [1, 4])
def test_activation_closed_forms(t: int, b: int) -> None:
    s, h, a = GPT.seq, GPT.hidden, GPT.heads
    exact = {
        ("none", False): s * b * h * (10 + 24 / t + 5 * a * s / (h * t)),
        ("none", True): s * b * h / t * (34 + 5 * a * s / h),
        ("selective", True): s * b * h * 34 / t,
        ("selective", False): s * b * h * (10 + 24 / t),
        ("full", False): 2 * s * b * h,
        ("full", True): 2 * s * b * h / t,
    }
    for (recompute, sp), expected in exact.items():
        assert activation_bytes_per_layer(GPT, b, t, sp=sp, recompute=recompute) == pytest.approx(expected, rel=1e-12)


def test_first_stage_activations_follow_the_schedule() -> None:
    # 1F1B keeps p micro-batches of L/p layers: L layers' worth; interleaved L·(1 + (p − 1)/(p·v)) (paper §4.2.3)
    per_layer = activation_bytes_per_layer(GPT, 1, 2, sp=True, recompute="selective")
    for schedule, chunks, factor in (("1f1b", 1, 1.0), ("interleaved", 2, 1 + 3 / 8), ("interleaved", 3, 1 + 3 / 12)):
        plan = make_plan(GPT, 16, "tp=2,pp=4", micro_batch=1, global_batch=2 * 12,
                         pipeline_schedule=f"{schedule}:chunks={chunks}" if schedule == "interleaved" else schedule,
                         sequence_parallel=True, recompute="selective")
        memory = memory_per_gpu(GPT, plan, "bf16", "adam", stage=0)
        assert memory["activations"] == pytest.approx(per_layer * GPT.layers * factor, rel=1e-12)
    gpipe = ParallelPlan(tp=1, pp=4, dp=1, global_batch=12, schedule="gpipe")
    assert in_flight(gpipe) == 12


def test_zero_shards_optimizer_gradients_and_parameters() -> None:
    m = [memory_per_gpu(GPT, make_plan(GPT, 8, "tp=1,pp=1", micro_batch=1, global_batch=8, zero=z), "bf16", "adam")
         for z in range(4)]
    assert m[1]["optimizer"] == pytest.approx(m[0]["optimizer"] / 8)
    assert m[1]["gradients"] == m[0]["gradients"] and m[2]["gradients"] == pytest.approx(m[0]["gradients"] / 8)
    assert m[2]["parameters"] == m[0]["parameters"] and m[3]["parameters"] == pytest.approx(m[0]["parameters"] / 8)
    # 16 bytes a parameter unsharded (ZeRO paper, mixed-precision Adam): 2 + 2 + 12
    params = load_model("gpt:layers=24,hidden=2048,heads=16,seq=2048,vocab=51200").num_params
    assert m[0]["parameters"] + m[0]["gradients"] + m[0]["optimizer"] == pytest.approx(16 * params, rel=1e-12)


# -- the pipeline -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p, m", [(2, 4), (4, 8), (4, 3), (8, 16)])
def test_1f1b_and_gpipe_match_the_bubble_formula_without_sends(p: int, m: int) -> None:
    f, b = 1.0, 2.0
    for schedule in ("1f1b", "gpipe"):
        timeline = run_analytical([[f]] * p, [[b]] * p, [0.0] * p, [0.0] * p, schedule, m)
        assert timeline.end == pytest.approx((m + p - 1) * (f + b))
        assert timeline.bubble_fraction == pytest.approx((p - 1) / (m + p - 1))


def test_interleaving_shrinks_the_bubble() -> None:
    p, m, v = 4, 8, 2
    plain = run_analytical([[1.0]] * p, [[2.0]] * p, [0.0] * p, [0.0] * p, "1f1b", m)
    interleaved = run_analytical([[0.5] * v] * p, [[1.0] * v] * p, [0.0] * p, [0.0] * p, "interleaved", m)
    # Narayanan et al. 2021: the bubble shrinks by V, (p − 1)/V chunks of (f + b)
    assert interleaved.end == pytest.approx(m * 3.0 + (p - 1) * 3.0 / v)
    assert interleaved.end < plain.end


# Where stages' sends and the gradient reductions use different links. (With tp=2,pp=4,dp=2 in Megatron's order
# the last stage's reduction and the backward sends of stage 3 → 2 share GPU 12's NVLink port: the DES is then
# 0.07 % slower, which is the contention the analytical engine does not see.)
@pytest.mark.parametrize("parallel, schedule, extra", [
    ("tp=4,pp=4,dp=1", "1f1b", {}),
    ("tp=4,pp=4,dp=1", "gpipe", {}),
    ("tp=2,pp=4,dp=2", "1f1b", {"rank_order": "tp-cp-pp-dp"}),
    ("tp=2,pp=2,dp=4", "interleaved:chunks=2", {"zero": 1, "rank_order": "tp-cp-pp-dp"}),
    ("tp=4,pp=2,dp=1,cp=2", "1f1b", {"sequence_parallel": True, "recompute": "selective"}),
    ("tp=1,pp=2,dp=8", "1f1b", {"recompute": "full", "zero": 3}),
    ("tp=4,pp=1,dp=4", "1f1b", {"zero": 2}),
])
def test_analytical_and_des_agree_where_nothing_contends(parallel: str, schedule: str, extra: dict) -> None:
    c = load_model("gpt:layers=8,hidden=512,heads=8,seq=512,vocab=1000").config
    assert c is not None
    cluster = load_topology("dgx-a100", gpus=16)
    plan = make_plan(c, 16, parallel, micro_batch=1, global_batch=8 * int(parallel.split("dp=")[1].split(",")[0]),
                     pipeline_schedule=schedule, **extra)
    compute = ComputeModel.roofline("a100")
    analytical = StageCosts.build(c, plan, cluster, compute, "bf16", "adam")
    des = StageCosts.build(c, plan, cluster, compute, "bf16", "adam", engine="des")
    a, d = step_time(analytical, plan), step_time(des, plan, "des")
    assert [len(ops) for ops in d.timeline.ops] == [2 * plan.num_micro_batches * plan.chunks] * plan.pp
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)
    for stage_a, stage_d in zip(a.timeline.ops, d.timeline.ops):
        assert [op[:3] for op in stage_a] == [op[:3] for op in stage_d]
        assert [op[4] for op in stage_d] == pytest.approx([op[4] for op in stage_a], rel=1e-9)


def test_a_straggler_slows_its_stage_in_the_des(tmp_path) -> None:
    base = TrainingRun("gpt:layers=8,hidden=512,heads=8,seq=512,vocab=1000", "dgx-a100", gpus=16,
                       parallel="tp=2,pp=4", micro_batch=1, global_batch=16, dtype="bf16", optimizer="adam",
                       engine="des")
    clean = simulate(base)
    slow = simulate(base.replace(perturbations=_stragglers({5: 1.5})))
    assert slow.step_time_s > clean.step_time_s
    assert slow.clean_step_time_s == pytest.approx(clean.step_time_s)


def _stragglers(factors: dict[int, float]):
    from simtrain.network.perturb import Perturbations

    p = Perturbations()
    p.stragglers.update(factors)
    return p


# -- the report -----------------------------------------------------------------------------------------------------
def test_report_keys_and_units() -> None:
    r = simulate("gpt:layers=8,hidden=1024,heads=16,seq=1024,vocab=32000", "dgx-a100", gpus=32,
                 parallel="tp=4,pp=2", micro_batch=2, global_batch=64, dtype="bf16", optimizer="adam",
                 recompute="full")
    d = r.to_dict()
    for key in ("step_time_s", "tokens_per_s", "tflops_per_gpu", "hw_tflops_per_gpu", "mfu", "hfu",
                "bubble_fraction", "exposed_comm_s", "bytes_per_gpu_by_class", "memory_per_gpu_bytes",
                "memory_by_category_bytes"):
        assert key in d, key
    assert set(d["exposed_comm_s"]) == {"tp", "pp", "dp", "cp", "ep"}
    assert set(d["memory_by_category_bytes"]) == {"parameters", "gradients", "optimizer", "activations", "workspace"}
    assert 0 < d["mfu"] < d["hfu"] <= 1 and 0 <= d["bubble_fraction"] <= 1
    # full recomputation: hardware FLOPs are model FLOPs plus one more forward of the layers (4/3 of them, less
    # the output head, which is not recomputed)
    assert 1.2 < d["hw_tflops_per_gpu"] / d["tflops_per_gpu"] < 4 / 3
    assert d["tokens_per_s"] == pytest.approx(64 * 1024 / d["step_time_s"])
    assert d["memory_per_gpu_bytes"] == pytest.approx(sum(d["memory_by_category_bytes"].values()))


def test_megatron_flops_formula() -> None:
    # Narayanan et al. 2021 eq. (3) without recomputation: 72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h))
    B, s, layers, h, V = 64, 1024, 8, 1024, 32000
    r = simulate(f"gpt:layers={layers},hidden={h},heads=16,seq={s},vocab={V}", "dgx-a100", gpus=16,
                 parallel="tp=2,pp=2", micro_batch=1, global_batch=B, dtype="bf16", optimizer="adam")
    expected = 72 * B * s * layers * h**2 * (1 + s / (6 * h) + V / (12 * layers * h))
    assert r.parallel["model_flops_per_step"] == pytest.approx(expected, rel=1e-12)


# -- bad inputs -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"parallel": "tp=8,pp=3"}, "tp·pp·cp = 24 must divide the 64 GPUs"),
    ({"parallel": "tp=4,pp=2,dp=4"}, "must equal the 64 GPUs"),
    ({"parallel": "tp=32,pp=2"}, "must divide the heads"),
    ({"parallel": "tp=2,pp=32"}, "must divide the 24 layers"),
    ({"parallel": "tp=8,pp=2", "micro_batch": 3, "global_batch": 16}, "multiple of micro_batch"),
    ({"parallel": "tp=8,pp=2", "micro_batch": 2, "global_batch": 18}, "multiple of micro_batch × dp = 2 × 4"),
    ({"parallel": "tp=8,pp=2,ep=2"}, "dense"),
    ({"parallel": "tp=8,pp=2", "batch": 8}, "batch: does not combine with parallel"),
    ({"micro_batch": 2, "batch": 8}, "batch: does not combine with micro_batch"),
    ({"parallel": "tp=8,xp=2"}, "unknown degree"),
    ({"parallel": "tp=8,pp=2", "pipeline_schedule": "zigzag"}, "unknown pipeline schedule"),
    ({"parallel": "tp=8,pp=2", "recompute": "partial"}, "unknown recomputation"),
    ({"parallel": "tp=8,pp=2", "rank_order": "tp-dp-pp"}, "rank_order"),
])
def test_bad_plans(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate("gpt:layers=24,hidden=2048,heads=16,seq=2048,vocab=51200", "dgx-a100", gpus=64, dtype="bf16",
                 **params)


def test_parallel_needs_a_decoder() -> None:
    with pytest.raises(ConfigError, match="needs a decoder model"):
        simulate("resnet50", "dgx-a100", gpus=16, parallel="tp=2")


def test_a_plan_that_does_not_fit_names_the_shortfall() -> None:
    with pytest.raises(InfeasibleError, match=r"short by .*GiB"):
        simulate("gpt3-175b", "dgx-a100", gpus=64, parallel="tp=8,pp=8", micro_batch=1, global_batch=64,
                 dtype="bf16", optimizer="adam")


def test_cli_refuses_batch_with_parallel(capsys) -> None:
    code = main(["simulate", "--model", "gpt:layers=2,hidden=64,heads=4,seq=64,vocab=100", "--topology",
                 "dgx-a100", "--gpus", "8", "--parallel", "tp=2", "--batch", "32", "--json"])
    assert code == 2
    assert "--batch" in capsys.readouterr().err


def test_compression_applies_to_the_data_parallel_dimension() -> None:
    kw = dict(gpus=64, parallel="tp=8,pp=2", micro_batch=1, global_batch=32, dtype="fp16", optimizer="adam")
    model = "gpt:layers=8,hidden=2048,heads=16,seq=1024,vocab=32000"
    dense = simulate(model, "cloud-25g", **kw)
    powersgd = simulate(model, "cloud-25g", scheme="powersgd:rank=4", **kw)
    # the TP and PP traffic are the plan's; only the DP gradients shrink (rank-4 factors instead of the matrices)
    assert powersgd.parallel["exposed_comm_s"]["tp"] == dense.parallel["exposed_comm_s"]["tp"]
    assert powersgd.bytes_per_gpu_by_class["inter-node"] < dense.bytes_per_gpu_by_class["inter-node"] / 10
    assert powersgd.step_time_s < dense.step_time_s
    assert powersgd.scheme == "powersgd:rank=4" and set(powersgd.phase_step_times_s) == {"compressed"}
    with pytest.raises(ConfigError, match="needs zero 0"):
        simulate(model, "cloud-25g", scheme="powersgd:rank=4", zero=1, **kw)


def test_a_plans_compute_time_is_compute_and_its_exposed_tp_is_communication() -> None:
    # the TP all-reduces a stage's passes expose are reported once, as communication, not also as compute: with
    # one stage and no data parallelism the step is the two together
    r = simulate("gpt:layers=4,hidden=1024,heads=16,seq=512,vocab=1000", "cloud-25g", gpus=16, parallel="tp=16",
                 micro_batch=1, global_batch=4, dtype="fp16", gpu_spread=0)
    exposed = r.parallel["exposed_comm_s"]
    assert exposed["tp"] > r.compute_time_s > 0   # TP across 25 Gb/s nodes dominates
    assert r.compute_time_s == pytest.approx(r.forward_time_s + r.backward_time_s + r.update_time_s, rel=1e-12)
    assert r.compute_time_s + sum(exposed.values()) == pytest.approx(r.step_time_s, rel=1e-12)
    assert r.scaling_efficiency == pytest.approx(r.compute_time_s / r.step_time_s, rel=1e-12)
    assert r.scaling_efficiency < 0.5


@pytest.mark.parametrize("scheme", ["powersgd:rank=4", "topk", "qsgd"])
def test_a_schemes_codecs_run_in_both_engines_of_a_plan(scheme) -> None:
    # a bucket's codec is GPU compute before its collectives: the DES runs it as the analytical engine does
    kw = dict(gpus=16, parallel="tp=2,pp=2", micro_batch=1, global_batch=16, dtype="bf16", scheme=scheme)
    model = "gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000"
    analytical = simulate(model, "dgx-a100", **kw)
    des = simulate(model, "dgx-a100", engine="des", **kw)
    assert des.step_time_s == pytest.approx(analytical.step_time_s, rel=1e-9)


def test_a_plans_codecs_are_the_data_parallel_steps_and_a_slow_gpu_stretches_them() -> None:
    from simtrain.calibration.codec_times import scheme_codec
    from simtrain.compression import SchemeContext, make_scheme
    from simtrain.model.decoder import block_layers

    spec = load_model("gpt:layers=2,hidden=256,heads=4,seq=128,vocab=100")
    cluster = load_topology("dgx-a100", gpus=16)
    plan = make_plan(spec.config, 16, "tp=2", micro_batch=1, global_batch=8)
    scheme = make_scheme("topk")
    phase = scheme.phases(SchemeContext(spec, 16, 8, "bf16"))[0]
    compute = ComputeModel.roofline("a100")
    costs = StageCosts.build(spec.config, plan, cluster, compute, "bf16", "adam", phase=phase,
                             codec=scheme_codec(scheme))
    last = costs.dp_buckets[0][0]   # the last layer's bucket, as its TP rank holds it
    tensors = [t for layer in block_layers(spec.config, 1, 2, 1, plan.sequence_parallel) for t in layer.tensors]
    assert last.codec == phase.codec_seconds(tensors, compute, 2, scheme_codec(scheme)) > 0
    assert costs.stretched([1.5]).dp_buckets[0][0].codec == pytest.approx(1.5 * last.codec, rel=1e-12)
    # the codec is not part of the collectives' seconds (without a profile both are the analytical fallback's)
    unnamed = StageCosts.build(spec.config, plan, cluster, compute, "bf16", "adam", phase=phase)
    other = unnamed.dp_buckets[0][0]
    assert (other.ready, other.seconds, other.share, other.codec) == (last.ready, last.seconds, last.share, last.codec)
