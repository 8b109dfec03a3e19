"""Collective algorithms, each producing a :class:`Schedule` that both engines evaluate.

Registered algorithms: ``ring``, ``multidim-ring``, ``hierarchical``, ``halving-doubling``,
``double-binary-tree``, ``direct``, ``ps``, ``byteps``, ``nvls``, ``torus-bidir``, ``nccl-tree``, ``collnet`` and
``auto`` (NCCL's choice, :mod:`simtrain.collectives.nccl`). Add one with :func:`register_algorithm` or the
``simtrain.algorithms`` entry point group.

Examples
--------
>>> from simtrain.collectives import ALGORITHMS
>>> ALGORITHMS.names()[:3]
['auto', 'byteps', 'collnet']
"""

from simtrain.collectives import (
    byteps,
    direct,
    halving_doubling,
    hierarchical,
    multidim_ring,
    nccl,
    nvls,
    ps,
    ring,
    torus_bidir,
    tree,
)
from simtrain.collectives.base import (
    ALGORITHMS,
    CollectiveAlgorithm,
    build_grouped_schedule,
    build_schedule,
    collective_time,
    register_algorithm,
)
from simtrain.collectives.schedule import OPERATIONS, Schedule, StepPattern

__all__ = [
    "ALGORITHMS",
    "OPERATIONS",
    "CollectiveAlgorithm",
    "Schedule",
    "StepPattern",
    "build_grouped_schedule",
    "build_schedule",
    "byteps",
    "collective_time",
    "direct",
    "halving_doubling",
    "hierarchical",
    "multidim_ring",
    "nccl",
    "nvls",
    "ps",
    "register_algorithm",
    "ring",
    "torus_bidir",
    "tree",
]
