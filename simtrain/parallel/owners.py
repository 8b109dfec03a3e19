"""Whole-tensor ZeRO: each data-parallel rank owns whole tensors, updates them and broadcasts them.

ZeRO-1 as Colossal-AI's low-level ZeRO optimizer and InternLM's hybrid ZeRO (which derives from it) run it
(``zero_impl`` ``owner-broadcast``; docs/parallelism.md, "Whole-tensor owners"), not as DeepSpeed and Megatron-LM
do (a flat buffer cut into equal shards, a reduce-scatter and an all-gather):

* the parameters are dealt out whole: sorted by element count, largest first, each to the rank of the ZeRO group
  that holds the fewest elements so far (``_partition_param_list``); with more ranks than tensors the largest
  tensor is one rank's whole share and some ranks own nothing;
* every rank keeps the gradients whole: each bucket is all-reduced over the data-parallel group
  (``reduce_tensor`` with no destination rank);
* each owner updates its tensors, as one flat fp32 buffer, and then broadcasts its updated flat buffer of the
  parameters to the ZeRO group, one broadcast per owner, each from its owner, all waited for before the step ends
  (``broadcast_params(overlap=False)``).

So the step pays the largest owner's update, and one broadcast per owner where the flat design pays one all-gather.
This module holds the partition; :mod:`simtrain.parallel.costs` prices it and :mod:`simtrain.parallel.memory`
counts the largest owner's optimizer state.

Examples
--------
>>> owner_elements([10, 40, 30, 20], 2)            # 40 to rank 0, 30 to rank 1, 20 to rank 1, 10 to rank 0
[50, 50]
>>> owner_elements([100, 1, 1], 4)                 # more ranks than tensors: one owns nothing
[100, 1, 1, 0]

On 1,024 ranks the 7B model's 195 tensors go to 195 owners, the largest owning the 423 M-element embedding:

>>> from simtrain.model import load_model
>>> from simtrain.parallel.plan import make_plan
>>> c = load_model("gpt:layers=32,hidden=4096,heads=32,seq=2048,vocab=103168,gated=true").config
>>> shares = owner_shares(c, make_plan(c, 1024, "dp=1024", micro_batch=1, global_batch=1024, zero=1), 0)
>>> len(shares), max(shares)
(195, 422576128)
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Sequence
from typing import Any

from simtrain.parallel.memory import stage_tensors

__all__ = ["owner_elements", "owner_shares"]


def owner_elements(sizes: Sequence[int], owners: int) -> list[int]:
    """Elements each of ``owners`` ranks owns when the tensors of ``sizes`` elements are dealt out whole, largest
    first, each to the rank holding the fewest elements so far (the lowest rank among equals), as Colossal-AI's and
    InternLM's ``_partition_param_list`` deal them.

    Parameters
    ----------
    sizes : sequence of int
        Element count of each tensor.
    owners : int
        Ranks in the ZeRO group (at least 1).

    Returns
    -------
    list of int
        Per rank, in rank order, the elements it owns (0 where it owns none).

    Examples
    --------
    >>> owner_elements([6, 5, 4, 3, 2, 1], 3)
    [7, 7, 7]
    >>> owner_elements([], 2)
    [0, 0]
    """
    totals = [0] * owners
    heap = [(0, rank) for rank in range(owners)]   # (elements so far, rank): the least, lowest rank first
    for size in sorted((int(s) for s in sizes), reverse=True):
        held, rank = heapq.heappop(heap)
        totals[rank] = held + size
        heapq.heappush(heap, (held + size, rank))
    return totals


@functools.lru_cache(maxsize=256)
def owner_shares(c: Any, plan: Any, stage: int) -> tuple[int, ...]:
    """Elements each owner of pipeline ``stage``'s ZeRO group owns, for the owners that own any: the tensors one GPU
    of the stage holds (:func:`~simtrain.parallel.memory.stage_tensors`, and the copy of a tied embedding the last
    stage holds when pp > 1, as :func:`~simtrain.parallel.memory.stage_params` counts it) dealt out over the plan's
    ZeRO group
    (:attr:`~simtrain.parallel.plan.ParallelPlan.zero_group`) by :func:`owner_elements`.

    Parameters
    ----------
    c : DecoderConfig
        The model.
    plan : ParallelPlan
        The plan (frozen, so the partition is kept per plan and stage).
    stage : int
        The pipeline stage.

    Returns
    -------
    tuple of int
        The owners' elements, in rank order, owners of nothing left out.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> from simtrain.parallel.plan import make_plan
    >>> c = load_model("gpt:layers=2,hidden=256,heads=8,seq=128,vocab=1000").config
    >>> owner_shares(c, make_plan(c, 4, "dp=4", micro_batch=1, global_batch=4, zero=1), 0)
    (518144, 458752, 458752, 433152)
    """
    sizes = [t.numel for t in stage_tensors(c, plan, stage)]
    if stage == plan.pp - 1 and c.tied and plan.pp > 1:   # the last stage's copy of a tied embedding, for the head
        sizes.append(c.vocab // plan.tp * c.hidden)
    return tuple(e for e in owner_elements(sizes, plan.zero_group) if e > 0)
