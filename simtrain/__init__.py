"""simtrain: simulate and analyse distributed neural-network training when communication is the bottleneck.

The public API is function-first; heavy modules load on first use so that ``import simtrain`` stays fast.

Examples
--------
>>> import simtrain
>>> cluster = simtrain.load_topology("torus-2d", gpus=16)
>>> result = simtrain.collective_time("all-reduce", "256 MiB", cluster, algorithm="multidim-ring")
>>> result.time_s > 0
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from simtrain._version import __version__

if TYPE_CHECKING:  # the names _LAZY loads on first use, visible to type checkers (never imported at runtime here)
    from simtrain.collectives import build_schedule, collective_time
    from simtrain.errors import ConfigError, InfeasibleError
    from simtrain.model import load_model
    from simtrain.topology import load_topology
    from simtrain.training import simulate

__all__ = [
    "ConfigError",
    "InfeasibleError",
    "__version__",
    "build_schedule",
    "collective_time",
    "load_model",
    "load_topology",
    "simulate",
]

_LAZY = {
    "ConfigError": "simtrain.errors",
    "InfeasibleError": "simtrain.errors",
    "build_schedule": "simtrain.collectives",
    "collective_time": "simtrain.collectives",
    "load_model": "simtrain.model",
    "load_topology": "simtrain.topology",
    "simulate": "simtrain.training",
}


if not TYPE_CHECKING:  # hidden from type checkers: a module __getattr__ would let them accept any name

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'simtrain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
