"""The optimizer step's code (``optimizer_impl``): fused, foreach and for-loop updates (simtrain.optimizers)."""

from __future__ import annotations

import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.optimizers import UNFUSED_PASSES, update_bytes_per_param, update_kernels, update_passes
from simtrain.run import TrainingRun
from simtrain.training import simulate
from tests.cli_checks import refused

# torch.optim's constructor for each optimizer of UNFUSED_PASSES
_TORCH = {"sgd": ("SGD", {}), "momentum": ("SGD", {"momentum": 0.9}), "adam": ("Adam", {}),
          "adamw": ("AdamW", {"weight_decay": 0.01})}


def _dispatched(name: str, foreach: bool) -> list[tuple[str, int, int]]:
    """The element-wise operators one torch.optim step dispatches: (operator, bytes read, bytes written) per fp32
    parameter, over 3 tensors of 4,096 parameters (a second step: the first creates the state)."""
    torch = pytest.importorskip("torch")
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    params = [torch.nn.Parameter(torch.randn(4096)) for _ in range(3)]
    cls, options = _TORCH[name]
    opt = getattr(torch.optim, cls)(params, lr=1e-3, foreach=foreach, **options)
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    seen: list[tuple[str, int, int]] = []

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            kwargs = kwargs or {}
            out = func(*args, **kwargs)

            def size(values: object) -> int:
                return sum(t.numel() * t.element_size() for t in tree_flatten(values)[0]
                           if isinstance(t, torch.Tensor) and t.numel() > 1)

            schema = func._schema
            written = sum(size(args[i] if i < len(args) else kwargs.get(a.name))
                          for i, a in enumerate(schema.arguments) if a.alias_info is not None and a.alias_info.is_write)
            returned = out if isinstance(out, (tuple, list)) and len(schema.returns) > 1 else [out]
            fresh = sum(size(v) for r, v in zip(schema.returns, returned) if r.alias_info is None)
            read = size((args, kwargs))
            if read or written or fresh:   # scalar bookkeeping (the step counter) is not a pass over parameters
                seen.append((str(func), read, written + fresh))
            return out

    with Count():
        opt.step()
    return seen


@pytest.mark.parametrize("name", sorted(UNFUSED_PASSES))
@pytest.mark.parametrize("foreach", [False, True])
def test_passes_are_the_operators_torch_optim_dispatches(name: str, foreach: bool) -> None:
    ops = _dispatched(name, foreach)
    params = 3 * 4096
    passes = UNFUSED_PASSES[name]
    # foreach: one operator per pass over all the tensors; for-loop: one per pass and tensor
    assert len(ops) == len(passes) * (1 if foreach else 3)
    read, written = sum(r for _, r, _ in ops) / params, sum(w for _, _, w in ops) / params
    assert (read, written) == (4 * sum(r for r, _, _ in passes), 4 * sum(w for _, w, _ in passes))
    assert update_bytes_per_param(name, 4, "foreach" if foreach else "for-loop") == read + written


def test_fused_bytes_unchanged_and_unfused_bytes_are_fp32_at_any_width() -> None:
    assert update_bytes_per_param("adam", 4) == 28 and update_bytes_per_param("adam", 2) == 30
    assert update_bytes_per_param("adam", 4, "for-loop") == update_bytes_per_param("adam", 2, "for-loop") == 76
    assert update_bytes_per_param("sgd", 4, "foreach") == 12


def test_kernels_per_implementation() -> None:
    assert update_kernels("adam", "fused", 10**9, 500) == 1
    assert update_kernels("momentum", "for-loop", 10**6, 40) == 3 * 40
    # foreach: few large tensors are bounded by the 320 chunks of a launch, many small ones by its tensor count
    chunks = -(-10**9 // 65536) + 4
    assert update_kernels("sgd", "foreach", 10**9, 4) == -(-chunks // 320)
    assert update_kernels("sgd", "foreach", 1000, 1000) == -(-1000 // 64)   # add_ takes two lists: 64 a launch
    assert update_kernels("adam", "foreach", 1000, 1000) < update_kernels("adam", "for-loop", 1000, 1000)


def test_update_time_orders_the_implementations() -> None:
    cm = ComputeModel.roofline("v100")
    # many small tensors: launch-bound, so the per-tensor loop pays for every launch
    small = [cm.update_time(200_000, "fp32", "adam", optimizer_impl=impl, tensors=2000) for impl in ("fused", "foreach",
                                                                                              "for-loop")]
    assert small[0] < small[1] < small[2]
    # a few large tensors: bandwidth-bound, foreach and for-loop move the same bytes
    large = [cm.update_time(10**9, "fp16", "adam", optimizer_impl=impl, tensors=4) for impl in ("fused", "foreach",
                                                                                       "for-loop")]
    assert large[1] == large[2] == pytest.approx(large[0] * 76 / 30)


def test_only_fused_optimizers_refuse_unfused_code() -> None:
    for name in ("lamb", "lars", "novograd"):
        assert update_passes(name, "fused") is None
        with pytest.raises(ConfigError, match="optimizer_impl"):
            TrainingRun("resnet50", "abci", optimizer=name, optimizer_impl="for-loop")
    with pytest.raises(ConfigError, match="allowed: for-loop, foreach, fused"):
        TrainingRun("resnet50", "abci", optimizer_impl="loop")


def test_cli_refuses_lamb_for_loop_in_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    refused(capsys, ["simulate", "--model", "resnet50", "--topology", "abci", "--gpus", "8", "--optimizer", "lamb",
                     "--optimizer-impl", "for-loop"], "--optimizer-impl", "lamb", "for-loop", "allowed: fused")


def test_step_grows_by_the_update_alone() -> None:
    """Data parallelism and a plan: the unfused update lengthens the step by exactly its extra time (identical GPUs:
    the slowest GPU's stretch applies to the update too)."""
    common = {"gpus": 8, "dtype": "fp16", "optimizer": "adam", "gpu_spread": 0.0}
    for extra in ({"batch": 8}, {"parallel": "tp=1,pp=1,dp=8", "micro_batch": 2, "global_batch": 16}):
        fused = simulate("gpt2-small" if "batch" in extra else "gpt:layers=4,hidden=512,heads=8,seq=512,vocab=8000",
                         "dgx-a100", **common, **extra)
        loop = simulate("gpt2-small" if "batch" in extra else "gpt:layers=4,hidden=512,heads=8,seq=512,vocab=8000",
                        "dgx-a100", optimizer_impl="for-loop", **common, **extra)
        assert loop.update_time_s > 1.5 * fused.update_time_s
        assert loop.step_time_s - fused.step_time_s == pytest.approx(loop.update_time_s - fused.update_time_s,
                                                                     rel=1e-9)


def test_placement_graph_prices_each_layers_update_as_its_code_runs() -> None:
    from simtrain.placement.build import graph_from_model

    cm = ComputeModel.roofline("v100")
    graphs = {impl: graph_from_model("resnet18-cifar", batch=32, compute=cm, optimizer="momentum",
                                     optimizer_impl=impl) for impl in ("fused", "for-loop")}
    updates = {impl: [g.compute_s[i] for i, name in enumerate(g.op_names) if name.endswith("/update")]
               for impl, g in graphs.items()}
    assert len(updates["fused"]) == len(updates["for-loop"]) > 0
    assert all(loop >= fused for fused, loop in zip(updates["fused"], updates["for-loop"]))
    assert sum(updates["for-loop"]) > sum(updates["fused"])
    assert graphs["for-loop"].info["optimizer_impl"] == "for-loop"
    with pytest.raises(ConfigError, match="optimizer_impl"):
        graph_from_model("resnet18-cifar", batch=32, compute=cm, optimizer="lars", optimizer_impl="foreach")


@pytest.mark.parametrize("keys, named", [
    ({"optimizer": "lamb", "optimizer_impl": "foreach"}, "optimizer_impl"),
    ({"memory_format": "nchw", "profile": "a100-cutlass"}, "memory_format"),
])
def test_a_study_refuses_the_combinations_when_it_loads(keys, named) -> None:
    """A study checks every point's combination before running any (one error, not failed rows)."""
    from simtrain.study.spec import study_from_dict

    with pytest.raises(ConfigError, match=named):
        study_from_dict({"name": "s", "base": {"model": "resnet50", "topology": "abci", "gpus": 8},
                         "sweep": {"grid": {key: [value] for key, value in keys.items()}}})


def test_place_refuses_the_update_flags_with_a_graph_file(capsys) -> None:  # type: ignore[no-untyped-def]
    refused(capsys, ["place", "--graph", "baechi-gnmt", "--devices", "4", "--optimizer-impl", "for-loop"],
            "--optimizer-impl", "--graph")
