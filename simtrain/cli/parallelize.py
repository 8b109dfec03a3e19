"""``simtrain parallelize``: search the model-parallel plans of a decoder on a cluster and print the best.

Examples
--------
>>> from simtrain.cli import main
>>> main(["parallelize", "--model", "gpt:layers=4,hidden=256,heads=4,seq=256,vocab=100", "--topology", "dgx-a100",
...       "--gpus", "8", "--global-batch", "16", "--top", "2", "--json"])  # doctest: +ELLIPSIS
{"space": ...}
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import emit, positive_int
from simtrain.cli._run_flags import add_run_flags, run_values

__all__ = ["add_parser", "run"]

#: The run parameters the search takes; the plan's own keys are what it searches.
_FLAGS = ("model", "topology", "gpus", "global_batch", "dtype", "optimizer", "optimizer_impl", "clip_grad", "autocast",
          "reduce_dtype", "zero_impl", "tp_overlap", "profile", "algorithm", "scheme", "gpu_spread")
#: Plan keys the search takes as a setting: validated by the search (a run without a plan refuses them).
_PLAN_SETTINGS = ("zero_impl", "tp_overlap")
#: Large models train in bf16 with Adam: the plan search's defaults, where a run's are fp32 and momentum.
_DEFAULTS = {"dtype": "bf16", "optimizer": "adam"}


def add_parser(sub: Any) -> None:
    """Add the ``parallelize`` sub-command."""
    p = sub.add_parser("parallelize", help="find the fastest model-parallel plans that fit in memory")
    add_run_flags(p, _FLAGS, defaults=_DEFAULTS)
    p.add_argument("--top", type=positive_int, default=5, metavar="K", help="how many plans to print; default 5")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no announcement on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain parallelize``; returns the exit status."""
    from simtrain import units
    from simtrain.errors import ConfigError
    from simtrain.parallel.plan import ZERO_IMPL_STAGE
    from simtrain.parallel.search import search
    from simtrain.run import TrainingRun

    values = run_values(args, _FLAGS)
    if values.get("global_batch") is None:
        raise ConfigError("is required: the samples per optimizer step to plan for", key="global_batch")
    for name, value in _DEFAULTS.items():
        values.setdefault(name, value)
    settings = {name: values.pop(name) for name in _PLAN_SETTINGS if name in values}
    checked = TrainingRun(**values)   # every value validated as a run's
    from simtrain.progress import ProgressBar

    bar = ProgressBar(0, "plans simulated (of those that fit)", quiet=args.quiet)
    result = search(checked.model, checked.topology, gpus=checked.gpus, global_batch=values["global_batch"],
                    dtype=checked.dtype, optimizer=checked.optimizer, top=args.top, profile=checked.profile,
                    algorithm=checked.algorithm, scheme=values.get("scheme"), progress=bar.callback,
                    gpu_spread=checked.gpu_spread, optimizer_impl=checked.optimizer_impl, autocast=checked.autocast,
                    clip_grad=checked.clip_grad, reduce_dtype=checked.reduce_dtype, **settings)
    bar.close()
    if args.json:
        emit(result.to_dict())
        return 0
    config = result.config
    print(f"{config['model']} on {config['topology']}: {config['gpus']} x {config['device']}, global batch "
          f"{config['global_batch']}, {config['dtype']}{' under autocast' if config['autocast'] else ''}, "
          f"{config['optimizer']} ({config['optimizer_impl']}{', clipped' if config['clip_grad'] else ''})"
          + (f", ZeRO-{ZERO_IMPL_STAGE[config['zero_impl']]} as {config['zero_impl']}"
             if config["zero_impl"] != "flat" else "")
          + (f", TP communication {config['tp_overlap']}" if config["tp_overlap"] != "none" else ""))
    print(f"  {result.space} valid plans, {result.fit} fit in memory, {result.simulated} simulated (the rest cannot "
          "beat the best by their lower bound)")
    for rank, row in enumerate(result.best, 1):
        flags = (f"--parallel {row['parallel']} --micro-batch {row['micro_batch']} --pipeline-schedule "
                 f"{row['pipeline_schedule']} --recompute {row['recompute']} --zero {row['zero']}"
                 + (" --sequence-parallel" if row["sequence_parallel"] else "") + f" --rank-order {row['rank_order']}"
                 + (f" --zero-shard-size {row['zero_shard_size']}" if row["zero_shard_size"] else "")
                 + ("" if row["zero_reshard"] else " --no-zero-reshard")
                 + (f" --zero-impl {row['zero_impl']}" if row["zero_impl"] != "flat" else "")
                 + (f" --tp-overlap {row['tp_overlap']}" if row["tp_overlap"] != "none" else "")
                 + (f" --scheme {row['scheme']}" if row["scheme"] != "none" else ""))
        print(f"{rank}. {units.format_time(row['step_time_s'])}, {row['tokens_per_s']:,.0f} tokens/s, MFU "
              f"{100 * row['mfu']:.1f} %, {units.format_size(row['memory_per_gpu_bytes'])} per GPU")
        print(f"   {flags}")
        print(f"   why: {row['why']}; bubble {100 * row['bubble_fraction']:.1f} %, exposed TP "
              f"{units.format_time(row['exposed_tp_s'])}, DP {units.format_time(row['exposed_dp_s'])}")
    scheme = values.get("scheme")
    if scheme and scheme != "none" and result.best and all(row["scheme"] == "none" for row in result.best):
        # a scheme compresses ZeRO-0's gradient all-reduce only; sharded plans that ranked higher run without it
        print(f"  none of these plans runs --scheme {scheme}: it applies to ZeRO-0 plans, and those ranked lower "
              "or did not fit")
    return 0
