"""The DES training step with symmetry classes equals the per-GPU step, clean and perturbed."""

from __future__ import annotations

import numpy as np
import pytest

from simtrain.network.perturb import Perturbations
from simtrain.run import TrainingRun
from simtrain.training import des_step
from simtrain.training.data_parallel import plan, resolve, run_plan


def _outcomes(monkeypatch, grouped: bool, model: str, topology: str, **params):
    """Every phase's communication outcome, with classes (``grouped``) or GPU by GPU."""
    if not grouped:
        monkeypatch.setattr(des_step.Symmetry, "of", classmethod(lambda cls, *a, **k: None))
    else:
        monkeypatch.undo()
    resolved = resolve(TrainingRun(model, topology, engine="des", **params))
    return run_plan(resolved, plan(resolved))


CASES = [
    ("resnet50", "abci", {"gpus": 64, "batch": 16}),  # NCCL's tree across nodes, 4 rails
    ("bert-base", "dgx-h100", {"gpus": 32, "batch": 16}),  # NVLS in the switch, tree across nodes
    ("resnet50", "abci", {"gpus": 32, "batch": 16, "algorithm": "hierarchical"}),
    ("resnet50", "abci", {"gpus": 32, "batch": 16, "perturbations": Perturbations(stragglers={5: 1.1})}),
    ("resnet50", "abci", {"gpus": 32, "batch": 16, "perturbations": Perturbations(degraded=[("node2.nic0", 0.5)])}),
    ("resnet18-cifar", "cloud-25g", {"gpus": 32, "batch": 32, "algorithm": "halving-doubling",
                                     "perturbations": Perturbations(background=[("node0.nic0", 2e9)])}),
    ("vgg16-cifar", "torus-2d", {"gpus": 16, "batch": 32, "algorithm": "direct",
                                 "perturbations": Perturbations(failed=["gpu0<->gpu1"])}),
    ("resnet50", "abci", {"gpus": 32, "batch": 16, "compute_jitter": 0.05}),
    ("resnet50", "abci", {"gpus": 32, "batch": 16, "scheme": "local-sgd:period=2"}),  # averaging after the update
    ("resnet50", "abci", {"gpus": 32, "batch": 16, "scheme": "powersgd"}),  # several collectives a bucket
]


@pytest.mark.parametrize(("model", "topology", "params"), CASES)
def test_grouped_step_equals_the_per_gpu_step(monkeypatch, model, topology, params):
    """Every bucket's start and end on every GPU, the stream's end, and every link's bytes."""
    reference = _outcomes(monkeypatch, False, model, topology, **params)
    grouped = _outcomes(monkeypatch, True, model, topology, **params)
    assert len(grouped) == len(reference)
    for (_, _, a, step_a), (_, _, b, step_b) in zip(reference, grouped):
        assert step_b == pytest.approx(step_a, rel=1e-9)
        np.testing.assert_allclose(b.comm_end, a.comm_end, rtol=1e-9, atol=1e-15)
        for got, want in ((b.bucket_start, a.bucket_start), (b.bucket_end, a.bucket_end), (b.finish, a.finish)):
            assert (got is None) == (want is None)  # no overlapped buckets in an averaging phase; no finish without
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(b.link_bytes, a.link_bytes, rtol=1e-9, atol=1e-3)
        np.testing.assert_allclose([(t.start_s, t.end_s) for t in b.buckets],
                                   [(t.start_s, t.end_s) for t in a.buckets], rtol=1e-9)


def test_the_step_finds_classes_and_a_straggler_splits_them(monkeypatch):
    """The clean step has classes (the rails); a straggler is never alike another GPU."""
    found = []
    original = des_step.Symmetry.of.__func__

    def spy(cls, *args, **kwargs):
        result = original(cls, *args, **kwargs)
        found.append(result)
        return result

    monkeypatch.setattr(des_step.Symmetry, "of", classmethod(spy))
    for perturbations in (None, Perturbations(stragglers={5: 1.1})):
        resolved = resolve(TrainingRun("resnet50", "abci", gpus=64, batch=16, engine="des",
                                       perturbations=perturbations))
        run_plan(resolved, plan(resolved))
    clean, slow = found[0], found[-1]
    assert clean is not None and clean.num_rank_classes < 64
    # the straggler's lateness reaches every node through the trees: no class is left, the step runs per GPU
    assert slow is None or ((slow.rank_class == slow.rank_class[5]).sum() == 1
                            and slow.num_rank_classes > clean.num_rank_classes)
