"""Training-step simulation: the data-parallel step and its report.

Examples
--------
>>> from simtrain.training import simulate
>>> simulate("resnet50", "torus-2d", gpus=16, batch=32).num_buckets  # 102 MB of fp32: 1 MiB (DDP), 4 x 25 MiB
5
"""

from simtrain.training.data_parallel import memory_per_gpu, simulate
from simtrain.training.report import BucketTiming, StepReport

__all__ = ["BucketTiming", "StepReport", "memory_per_gpu", "simulate"]
