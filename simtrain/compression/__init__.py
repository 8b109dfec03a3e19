"""Communication-reduction schemes: plugins that say what each step communicates, and real codecs.

Schemes (``simtrain list schemes``): ``none``, ``fp16``, ``bf16``, ``topk``, ``mstopk``, ``randomk``, ``qsgd``,
``signsgd``, ``onebit``, ``powersgd``, ``byteps-compress``, ``cser``, ``local-sgd``, ``local-adaalter``,
``ab-training``, ``oialr``, ``cuttlefish``, ``resist``, ``gist``. Name one as ``NAME:key=value,...``.

Examples
--------
>>> from simtrain.compression import make_scheme
>>> make_scheme("powersgd:rank=2")
PowerSGD(rank=2, min_compression_rate=2.0, start_iter=0)
"""

from simtrain.compression import byteps, dense, lowrank, periodic, powersgd, quantized, sparse, subnetwork
from simtrain.compression.base import (
    Block,
    Communication,
    Phase,
    Scheme,
    SchemeContext,
    Segment,
    steps_per_phase,
)
from simtrain.compression.registry import SCHEMES, make_scheme, register_scheme

__all__ = [
    "SCHEMES",
    "Block",
    "Communication",
    "Phase",
    "Scheme",
    "SchemeContext",
    "Segment",
    "byteps",
    "dense",
    "lowrank",
    "make_scheme",
    "periodic",
    "powersgd",
    "quantized",
    "register_scheme",
    "sparse",
    "steps_per_phase",
    "subnetwork",
]
