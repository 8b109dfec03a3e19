"""Network engines that evaluate Schedules: ``analytical`` (closed form over step patterns)."""

from simtrain.network.analytical import CollectiveResult, NetworkOptions, evaluate
from simtrain.network.fairshare import max_min_rates

__all__ = ["ENGINES", "CollectiveResult", "NetworkOptions", "evaluate", "max_min_rates"]

#: Engines available for evaluating Schedules.
ENGINES = ("analytical",)
