"""Optimizers: the state each keeps per parameter and what one update step reads and writes.

==========  ==================  ================  ==========================================================
optimizer   fp32 state / param  per-layer state   update step (beyond reading weight and gradient, writing weight)
==========  ==================  ================  ==========================================================
sgd         0                   —                 —
momentum    1 (velocity)        —                 read and write the velocity
adam        2 (m, v)            —                 read and write m and v
adamw       2 (m, v)            —                 Adam's, the decoupled weight decay inside the fused kernel (one
                                                  more pass unfused: ``param.mul_(1 - lr * wd)``)
novograd    1 (m)               1 (v, a scalar)   read and write m; one extra read of the gradient for its
                                                  layer norm ‖g‖² (Ginsburg et al. 2019: half of Adam's state)
lamb        2 (m, v)            —                 Adam's update, then a second pass reading weight and update for
                                                  the layer-wise trust ratio ‖w‖/‖u‖ (You et al. 2020)
lars        1 (velocity)        —                 momentum, plus reading weight and gradient once more for the trust
                                                  ratio ‖w‖/(‖g‖ + λ‖w‖) (You et al. 2017)
==========  ==================  ================  ==========================================================

The update's code (``impl``, PyTorch's three kinds of implementation): ``fused`` is one kernel that reads and
writes each tensor once (Apex's and DeepSpeed's FusedAdam, Megatron-LM, ``torch.optim.Adam(fused=True)``: the table
above); ``for-loop`` and ``foreach`` run the update as PyTorch's Python code writes it, one element-wise operator
after another, each a pass over memory: ``for-loop`` launches every operator for every tensor
(``torch.optim``'s ``foreach=False``, PyTorch 1.x's default, Hugging Face Transformers' own ``AdamW``), ``foreach``
for lists of tensors at once (``torch._foreach_*`` through ``multi_tensor_apply``: PyTorch 2's default on CUDA).
:data:`UNFUSED_PASSES` holds the operators, counted from the ATen operators ``torch.optim``'s code dispatches.

Examples
--------
>>> OPTIMIZER_STATES["novograd"], OPTIMIZER_STATES["lamb"], OPTIMIZER_STATES["lars"]
(1, 2, 1)
>>> update_bytes_per_param("lamb", 4) > update_bytes_per_param("adam", 4)
True
>>> update_bytes_per_param("adam", 4), update_bytes_per_param("adam", 4, "for-loop")   # 7 passes instead of 1
(28, 76)
"""

from __future__ import annotations

from dataclasses import dataclass

from simtrain.errors import ConfigError

__all__ = ["OPTIMIZERS", "OPTIMIZER_IMPLS", "OPTIMIZER_STATES", "UNFUSED_PASSES", "Optimizer", "foreach_launches",
           "get_optimizer", "pass_bytes", "state_bytes", "update_bytes_per_param", "update_kernels", "update_passes"]

#: How the update's code runs (module docstring): one fused kernel, or PyTorch's operators per tensor or per list.
OPTIMIZER_IMPLS = ("fused", "foreach", "for-loop")

#: The operators of an unfused update, each ``(reads, writes, lists)``: parameter-sized fp32 tensors read and
#: written (a tensor passed twice is read twice, as the operator's kernel does) and the tensor lists its ``foreach``
#: form takes (an in-place operator writes into one it reads; ``sqrt`` makes a new one), counted with PyTorch's
#: dispatch mode over ``torch.optim``'s ``_single_tensor_*`` and ``_multi_tensor_*`` code (PyTorch 2.13; the two
#: dispatch the same operators, as lists in ``foreach``; tests/test_optimizer_impl.py counts them again). sgd:
#: ``param.add_(grad)``; momentum: ``buf.mul_(m).add_(grad)``, ``param.add_(buf)``; adam: ``exp_avg.lerp_(grad)``,
#: ``exp_avg_sq.mul_(b2).addcmul_(grad, grad)``, ``denom = exp_avg_sq.sqrt()`` (a new tensor),
#: ``.div_(bias_correction2)``, ``.add_(eps)``, ``param.addcdiv_(exp_avg, denom)``: 76 bytes a parameter at fp32
#: against the fused kernel's 28; adamw (``torch.optim.AdamW``) the decoupled decay's ``param.mul_`` first, 84 bytes.
#: Hugging Face's ``AdamW`` without weight decay (the Trainer's default) makes seven passes of the same 76 bytes
#: (``mul_`` and ``add_`` where ``lerp_`` is one, no ``div_``); PyTorch 1.x's ``Adam`` eight, 84 bytes (its
#: ``mul_``/``add_`` before ``lerp_``), priced as 2.x's seven. SGD's coupled weight decay (``grad.add(param)``) is one
#: more pass, 12 bytes, not priced. LAMB, LARS and NovoGrad exist only fused (Apex).
UNFUSED_PASSES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "sgd": ((2, 1, 2),),
    "momentum": ((1, 1, 1), (2, 1, 2), (2, 1, 2)),
    "adam": ((2, 1, 2), (1, 1, 1), (3, 1, 3), (1, 1, 2), (1, 1, 1), (1, 1, 1), (3, 1, 3)),
    # torch.optim.AdamW: Adam's passes after the decoupled decay ``param.mul_(1 - lr * weight_decay)``
    "adamw": ((1, 1, 1), (2, 1, 2), (1, 1, 1), (3, 1, 3), (1, 1, 2), (1, 1, 1), (1, 1, 1), (3, 1, 3)),
}

# multi_tensor_apply (ATen's MultiTensorApply.cuh): at most this many tensors per launch by the number of tensor
# lists an operator takes (1 to 5), 320 blocks of 65,536 elements per launch
_FOREACH_TENSORS = (110, 64, 48, 36, 30)
_FOREACH_BLOCKS, _FOREACH_CHUNK = 320, 65536


@dataclass(frozen=True)
class Optimizer:
    """One optimizer's memory and update traffic.

    Attributes
    ----------
    name : str
    states : int
        fp32 tensors of the parameters' size it keeps.
    layer_states : int
        fp32 scalars per layer (NovoGrad's second moment).
    extra_reads : int
        fp32-wide reads per parameter beyond the plain update (layer norms of the trust ratio or of the gradient).
    """

    name: str
    states: int
    layer_states: int = 0
    extra_reads: int = 0


#: The optimizers, by name.
OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in (
    Optimizer("sgd", 0),
    Optimizer("momentum", 1),
    Optimizer("adam", 2),
    Optimizer("adamw", 2),
    Optimizer("novograd", 1, layer_states=1, extra_reads=1),
    Optimizer("lamb", 2, extra_reads=2),
    Optimizer("lars", 1, extra_reads=2),
)}

#: Optimizer state tensors per parameter (fp32 each).
OPTIMIZER_STATES: dict[str, int] = {name: o.states for name, o in OPTIMIZERS.items()}


def get_optimizer(name: str) -> Optimizer:
    """The optimizer called ``name``.

    Examples
    --------
    >>> get_optimizer("lars").extra_reads
    2
    """
    if name not in OPTIMIZERS:
        raise ConfigError("unknown optimizer", key="optimizer", value=name, choices=list(OPTIMIZERS))
    return OPTIMIZERS[name]


def state_bytes(name: str, num_params: int, num_layers: int = 0) -> int:
    """Bytes of optimizer state for ``num_params`` parameters in ``num_layers`` layers.

    Examples
    --------
    >>> state_bytes("adam", 1000), state_bytes("novograd", 1000, num_layers=3)
    (8000, 4012)
    """
    opt = get_optimizer(name)
    return 4 * (opt.states * num_params + opt.layer_states * num_layers)


def update_passes(name: str, impl: str) -> tuple[tuple[int, int, int], ...] | None:
    """The operators of ``name``'s update under ``impl`` (:data:`UNFUSED_PASSES`; None: one fused kernel).

    Raises
    ------
    ConfigError
        For an unknown optimizer or implementation, or an optimizer that exists only fused.

    Examples
    --------
    >>> len(update_passes("adam", "foreach")), update_passes("adam", "fused")
    (7, None)
    >>> update_passes("lamb", "for-loop")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: optimizer_impl: lamb has no for-loop implementation ...; allowed: fused
    """
    if impl not in OPTIMIZER_IMPLS:
        raise ConfigError("unknown value", key="optimizer_impl", value=impl, choices=list(OPTIMIZER_IMPLS))
    get_optimizer(name)
    if impl == "fused":
        return None
    if name not in UNFUSED_PASSES:
        raise ConfigError(f"{name} has no {impl} implementation (Apex's fused kernel only)", key="optimizer_impl",
                          value=impl, allowed="fused")
    return UNFUSED_PASSES[name]


def pass_bytes(passes: tuple[tuple[int, int, int], ...], width: int = 4) -> int:
    """Bytes ``passes`` (``(reads, writes, lists)`` each, as :data:`UNFUSED_PASSES`) move per parameter over tensors
    of ``width`` bytes a value.

    Examples
    --------
    >>> pass_bytes(UNFUSED_PASSES["adam"])      # Adam's seven operators over fp32 tensors
    76
    """
    return width * sum(r + w for r, w, _ in passes)


def update_bytes_per_param(name: str, width: int, impl: str = "fused", grad_width: int | None = None) -> int:
    """Bytes one update step moves per parameter of width ``width`` (fp32 master copy when ``width`` < 4).

    Fused: reads weight, gradient, master and states; writes weight, master and states; plus the optimizer's extra
    fp32 reads. ``for-loop`` and ``foreach``: every operator of :data:`UNFUSED_PASSES` reads and writes its fp32
    tensors, at any ``width``: PyTorch's optimizers run on the model's parameters, which autocast keeps in fp32.

    Examples
    --------
    >>> update_bytes_per_param("momentum", 4)      # 2 x 4 (weight) + 4 (gradient) + 2 x 4 x 1 (velocity)
    20
    >>> update_bytes_per_param("momentum", 4, "foreach")    # 3 passes: 5 reads, 3 writes
    32
    """
    opt = get_optimizer(name)
    passes = update_passes(name, impl)
    if passes is None:   # the gradient read at its own width (``grad_width``: an fp32 accumulation buffer)
        master = 4 if width < 4 else 0
        return 2 * width + (grad_width or width) + 2 * master + 2 * 4 * opt.states + 4 * opt.extra_reads
    return pass_bytes(passes)


def update_kernels(name: str, impl: str, num_params: int, tensors: int) -> int:
    """Kernels one update step launches over ``tensors`` tensors holding ``num_params`` parameters.

    ``fused``: one (a multi-tensor kernel's launches are few and its time is its bytes); ``for-loop``: each operator
    for each tensor; ``foreach``: each operator once per ``multi_tensor_apply`` launch, which takes at most 110 to
    30 tensors (by how many lists the operator takes) and 320 chunks of 65,536 elements.

    Examples
    --------
    >>> update_kernels("adam", "for-loop", 124_000_000, 148)       # GPT-2 small: 7 operators x 148 tensors
    1036
    >>> update_kernels("adam", "foreach", 124_000_000, 148), update_kernels("adam", "fused", 124_000_000, 148)
    (49, 1)
    """
    passes = update_passes(name, impl)
    if passes is None:
        return 1
    if impl == "for-loop":
        return len(passes) * max(tensors, 1)
    return foreach_launches(passes, num_params, tensors)


def foreach_launches(passes: tuple[tuple[int, int, int], ...], num_params: int, tensors: int) -> int:
    """Kernels ``passes`` (``(reads, writes, lists)`` each, as :data:`UNFUSED_PASSES`) launch as ``torch._foreach_*``
    operators over ``tensors`` tensors holding ``num_params`` parameters: each ``multi_tensor_apply`` launch takes
    at most 110 to 30 tensors (by how many lists the operator takes) and 320 chunks of 65,536 elements.

    Examples
    --------
    >>> foreach_launches(((1, 1, 1),), 124_000_000, 148)    # one list over GPT-2 small: 1,892 + 148 chunks
    7
    """
    chunks = -(-num_params // _FOREACH_CHUNK) + tensors   # at most one partial chunk per tensor
    return sum(max(-(-tensors // _FOREACH_TENSORS[lists - 1]), -(-chunks // _FOREACH_BLOCKS))
               for _, _, lists in passes)
