"""Gradient accumulation for data parallelism: micro_batch and global_batch without parallel."""

from __future__ import annotations

import pytest

from simtrain.errors import ConfigError
from simtrain.training import simulate


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_accumulation_adds_whole_passes_before_the_reduction(engine: str) -> None:
    plain = simulate("resnet50", "torus-2d", gpus=16, batch=16, engine=engine)
    accumulated = simulate("resnet50", "torus-2d", gpus=16, micro_batch=16, global_batch=16 * 16 * 3, engine=engine)
    # the typical GPU's pass, stretched as the slowest of the 16 GPUs runs it (gpu_spread)
    one_pass = (plain.forward_time_s + plain.backward_time_s) * plain.slowest_gpu_factor
    assert plain.slowest_gpu_factor > 1
    # the reduction overlaps only the last pass's backward: two more passes before it, nothing else changes
    assert accumulated.step_time_s == pytest.approx(plain.step_time_s + 2 * one_pass, rel=1e-9)
    assert accumulated.global_batch == 768 and accumulated.batch_per_gpu == 16
    assert accumulated.throughput_samples_per_s == pytest.approx(768 / accumulated.step_time_s)
    assert accumulated.memory_per_gpu_bytes == plain.memory_per_gpu_bytes
    assert accumulated.bytes_per_gpu == plain.bytes_per_gpu


def test_global_batch_alone_is_the_batch_per_gpu_times_gpus() -> None:
    assert simulate("resnet50", "torus-2d", gpus=16, global_batch=256).step_time_s == \
        simulate("resnet50", "torus-2d", gpus=16, batch=16).step_time_s


@pytest.mark.parametrize("params, message", [
    ({"micro_batch": 16, "global_batch": 300}, "multiple of micro_batch"),
    ({"micro_batch": 16, "global_batch": 320}, "multiple of micro_batch × GPUs = 16 × 16 = 256"),
    ({"global_batch": 100}, "must be a multiple of the 16 GPUs"),
    ({"micro_batch": 16, "batch": 8}, "does not combine with micro_batch"),
])
def test_bad_accumulation(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate("resnet50", "torus-2d", gpus=16, **params)
