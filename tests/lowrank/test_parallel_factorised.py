"""A factorising scheme on the data-parallel dimension of a hybrid plan (``--parallel``): the factor GEMMs and the
factors' optimizer step are priced there as in the data-parallel step; with tensor parallelism it is refused."""

from __future__ import annotations

import pytest

from simtrain.compression import SchemeContext, make_scheme
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.model.decoder import block_layers, embedding_layers, head_layers
from simtrain.parallel.costs import StageCosts
from simtrain.parallel.memory import stage_params
from simtrain.parallel.plan import make_plan
from simtrain.parallel.search import search
from simtrain.topology import load_topology
from simtrain.training import simulate
from simtrain.training.data_parallel import _layer_times

GPT = "gpt:layers=4,hidden=512,heads=8,seq=256,vocab=1000"
CUTTLEFISH = "cuttlefish:rank_fraction=0.1,switch_epoch=0"
KW = {"gpus": 16, "global_batch": 64, "micro_batch": 1, "dtype": "fp16", "check_memory": False}


def _setup(parallel: str, scheme: str):
    spec = load_model(GPT)
    cluster = load_topology("cloud-25g", gpus=16)
    compute = ComputeModel.roofline(cluster.device)
    plan = make_plan(spec.config, 16, parallel, micro_batch=1, global_batch=64)
    ctx = SchemeContext(spec, plan.dp * plan.cp, 8, "fp16")
    phase = next(p for p in make_scheme(scheme).phases(ctx) if p.trained_params is not None)
    return spec, cluster, compute, plan, phase


def test_pure_data_parallel_plan_prices_the_factor_gemms_as_the_data_parallel_step():
    spec, cluster, compute, plan, phase = _setup("dp=16", CUTTLEFISH)
    costs = StageCosts.build(spec.config, plan, cluster, compute, "fp16", "adam", phase=phase)
    forward, backward = _layer_times(spec, phase.factorised, compute, 1, "fp16")
    assert costs.forward[0][0] == pytest.approx(sum(forward))
    assert costs.backward[0][0] == pytest.approx(sum(backward))
    dense_forward, _ = _layer_times(spec, None, compute, 1, "fp16")
    assert costs.forward[0][0] < sum(dense_forward)


@pytest.mark.parametrize("scheme", [CUTTLEFISH, "oialr:warmup=0,rank_fraction=0.1"])
def test_each_stage_updates_the_parameters_it_trains(scheme):
    spec, cluster, compute, plan, phase = _setup("pp=2", scheme)
    costs = StageCosts.build(spec.config, plan, cluster, compute, "fp16", "adam", phase=phase)
    c = spec.config
    for stage in range(plan.pp):
        tensors = [t for i in plan.stage_layers(stage) for layer in block_layers(c, i, 1, 1, False)
                   for t in layer.tensors]
        edge = (embedding_layers(c, 1, 1) if stage == 0 else []) + (head_layers(c, 1, 1) if stage == 1 else [])
        tensors += [t for layer in edge for t in layer.tensors]
        dense, _ = stage_params(c, plan, stage)
        trained = dense - (sum(t.numel for t in tensors) - phase.updated_params(tensors))
        assert trained < dense
        assert costs.update[stage] == pytest.approx(compute.update_time(int(trained), "fp16", "adam"))


def test_hybrid_step_is_faster_after_the_switch_and_reports_the_scheme():
    dense = simulate(GPT, "cloud-25g", parallel="pp=2", **KW)
    low = simulate(GPT, "cloud-25g", parallel="pp=2", scheme=CUTTLEFISH, **KW)
    assert low.forward_time_s < dense.forward_time_s and low.update_time_s < dense.update_time_s
    assert low.scheme == CUTTLEFISH and set(low.phase_step_times_s) == {"low-rank"}


def test_tensor_parallelism_is_refused_in_one_line():
    with pytest.raises(ConfigError) as info:
        simulate(GPT, "cloud-25g", parallel="tp=2", scheme=CUTTLEFISH, **KW)
    message = str(info.value)
    assert "\n" not in message and "tp 1" in message and message.startswith("scheme:")
    # schemes that rebuild W and run dense GEMMs stay allowed with tensor parallelism
    simulate(GPT, "cloud-25g", parallel="tp=2", scheme="oialr:warmup=0,rank_fraction=0.1", **KW)


def test_the_plan_search_offers_the_factorising_scheme_only_without_tensor_parallelism():
    result = search(GPT, "cloud-25g", gpus=16, global_batch=64, dtype="fp16", top=50, scheme=CUTTLEFISH)
    with_scheme = [row for row in result.best if row["scheme"] == CUTTLEFISH]
    assert with_scheme and all(row["parallel"].startswith("tp=1,") for row in with_scheme)
