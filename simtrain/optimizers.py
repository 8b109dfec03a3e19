"""Optimizers: the state each keeps per parameter and what one update step reads and writes.

==========  ==================  ================  ==========================================================
optimizer   fp32 state / param  per-layer state   update step (beyond reading weight and gradient, writing weight)
==========  ==================  ================  ==========================================================
sgd         0                   —                 —
momentum    1 (velocity)        —                 read and write the velocity
adam        2 (m, v)            —                 read and write m and v
novograd    1 (m)               1 (v, a scalar)   read and write m; one extra read of the gradient for its
                                                  layer norm ‖g‖² (Ginsburg et al. 2019: half of Adam's state)
lamb        2 (m, v)            —                 Adam's update, then a second pass reading weight and update for
                                                  the layer-wise trust ratio ‖w‖/‖u‖ (You et al. 2020)
lars        1 (velocity)        —                 momentum, plus reading weight and gradient once more for the trust
                                                  ratio ‖w‖/(‖g‖ + λ‖w‖) (You et al. 2017)
==========  ==================  ================  ==========================================================

Examples
--------
>>> OPTIMIZER_STATES["novograd"], OPTIMIZER_STATES["lamb"], OPTIMIZER_STATES["lars"]
(1, 2, 1)
>>> update_bytes_per_param("lamb", 4) > update_bytes_per_param("adam", 4)
True
"""

from __future__ import annotations

from dataclasses import dataclass

from simtrain.errors import ConfigError

__all__ = ["OPTIMIZERS", "OPTIMIZER_STATES", "Optimizer", "get_optimizer", "state_bytes", "update_bytes_per_param"]


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


def update_bytes_per_param(name: str, width: int) -> int:
    """Bytes one update step moves per parameter of width ``width`` (fp32 master copy when ``width`` < 4).

    Reads weight, gradient, master and states; writes weight, master and states; plus the optimizer's extra
    fp32 reads.

    Examples
    --------
    >>> update_bytes_per_param("momentum", 4)      # 2 x 4 (weight) + 4 (gradient) + 2 x 4 x 1 (velocity)
    20
    """
    opt = get_optimizer(name)
    master = 4 if width < 4 else 0
    return 2 * width + width + 2 * master + 2 * 4 * opt.states + 4 * opt.extra_reads
