"""What the ZeRO-implementation tests share (tests/parallel/test_owner_broadcast.py, test_allreduce_gather.py): a
small decoder and its plan costs on one DGX A100 cluster."""

from __future__ import annotations

from typing import Any

from simtrain.compute import ComputeModel
from simtrain.model import load_model
from simtrain.parallel.costs import StageCosts
from simtrain.topology import load_topology

#: four layers of hidden 1,024: small enough to plan in milliseconds, large enough for several buckets
MODEL = "gpt:layers=4,hidden=1024,heads=16,seq=1024,vocab=32000"


def small_config() -> Any:
    """The decoder config of :data:`MODEL`."""
    c = load_model(MODEL).config
    assert c is not None
    return c


def stage_costs(plan: Any) -> StageCosts:
    """:data:`MODEL`'s costs under ``plan`` on as many GPUs of ``dgx-a100``, bf16, Adam."""
    return StageCosts.build(small_config(), plan, load_topology("dgx-a100", gpus=plan.num_gpus),
                            ComputeModel.roofline("a100"), "bf16", "adam")


def check_engines_agree(parallel: str, zero: int, impl: str) -> None:
    """:data:`MODEL` on 16 GPUs of ``dgx-a100`` under ``parallel`` with ZeRO ``zero`` as ``impl``: the DES's step is
    the analytical engine's, and the report says which implementation ran."""
    import pytest

    from simtrain.run import TrainingRun
    from simtrain.training import simulate

    keys = {"model": MODEL, "topology": "dgx-a100", "gpus": 16, "parallel": parallel, "micro_batch": 1,
            "global_batch": 8, "dtype": "bf16", "zero": zero, "zero_impl": impl, "check_memory": False}
    analytical = simulate(TrainingRun.from_mapping(keys))
    des = simulate(TrainingRun.from_mapping({**keys, "engine": "des"}))
    assert des.step_time_s == pytest.approx(analytical.step_time_s, rel=1e-6)
    assert analytical.to_dict()["zero_impl"] == impl
