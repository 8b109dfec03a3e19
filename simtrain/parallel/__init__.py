"""Model parallelism for decoder models: tensor, pipeline, data, context and expert parallelism with ZeRO.

:mod:`~simtrain.parallel.plan` validates a plan and places its ranks, :mod:`~simtrain.parallel.memory` gives the
bytes one GPU holds, :mod:`~simtrain.parallel.costs` prices a stage's compute and communication with the compute
model and the network engines, :mod:`~simtrain.parallel.pipeline` runs the pipeline schedule (analytical list
scheduling, or the DES), :mod:`~simtrain.parallel.step` makes the step report and :mod:`~simtrain.parallel.search`
finds the best plans. ``docs/parallelism.md`` describes the model.
"""

from simtrain.parallel.plan import ParallelPlan, make_plan

__all__ = ["ParallelPlan", "make_plan"]
