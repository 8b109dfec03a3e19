"""``simtrain traffic``: the traffic of a communication-reduction scheme over a run.

Examples
--------
>>> from simtrain.cli import main
>>> main(["traffic", "--model", "resnet18-cifar", "--gpus", "16", "--batch", "128", "--samples-per-epoch", "50000",
...       "--scheme", "powersgd:rank=1", "--json"])  # doctest: +ELLIPSIS
{"scheme": "powersgd", ...}
0
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from simtrain.cli._common import CLI, count_at_most, emit, number, positive_int, run_default
from simtrain.errors import ConfigError
from simtrain.limits import MAX_GPUS

__all__ = ["add_parser", "run"]


def _change(kept_percent: float, what: str) -> str:
    """A scheme's bytes against the baseline's, as a reduction where it sends less and an increase where it sends
    more (QSGD's all-gather sends 8x the wire bytes of data parallelism: '-700 %' read as a reduction).

    >>> _change(25.0, "payload"), _change(800.0, "inter-node wire"), _change(100.0025, "payload")
    ('4x less payload (75.00 %)', '8x more inter-node wire (+700.00 %)', 'payload unchanged')
    """
    if abs(kept_percent - 100.0) < 0.005:   # below what the two decimals show
        return f"{what} unchanged"
    if kept_percent < 100.0:
        factor = f"{100.0 / kept_percent:.4g}x" if kept_percent > 0 else "all"
        return f"{factor} less {what} ({100.0 - kept_percent:.2f} %)"
    return f"{kept_percent / 100.0:.4g}x more {what} (+{kept_percent - 100.0:.2f} %)"


def add_parser(sub: Any) -> None:
    """Add the ``traffic`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("traffic", help="traffic of a communication-reduction scheme over a run")
    p.add_argument("--model", required=True, help="catalog name, YAML path or module:PATH.py[:FACTORY] (a PyTorch "
                                                  "model)")
    p.add_argument("--gpus", type=count_at_most(MAX_GPUS), required=True, help="data-parallel workers")
    p.add_argument("--batch", type=positive_int, required=True, help="samples per GPU per step")
    p.add_argument("--samples-per-epoch", type=positive_int, required=True, help="samples in one epoch")
    p.add_argument("--epochs", type=number, default=1.0, help="length of the run in epochs")
    p.add_argument("--scheme", default="none", help="NAME[:key=value,...]; see simtrain list schemes")
    p.add_argument("--dtype", default="fp32", help="training precision: its gradients' width (fp32; tf32 sends "
                                                   "fp32; fp16, bf16 and fp8's recipe send 2 bytes)")
    p.add_argument("--topology", help="catalog name or YAML path: wire bytes per link class")
    p.add_argument("--gpus-per-node", type=positive_int, help="node size for in-node groups (default: topology's)")
    p.add_argument("--algorithm", default=run_default("algorithm"),
                   help="algorithm of the all-reduces and all-gathers (auto: what NCCL would pick)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _past_end(args: argparse.Namespace, report: Any) -> str | None:
    from simtrain.compression import SchemeContext, make_scheme
    from simtrain.model import load_model

    ctx = SchemeContext(load_model(args.model), report.num_gpus, report.gpus_per_node, report.dtype,
                        report.steps_per_epoch)
    return make_scheme(args.scheme).past_end(ctx, report.total_steps)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain traffic``; returns the exit status."""
    from simtrain import units
    from simtrain.compression.traffic import traffic
    from simtrain.run import DTYPES

    if args.dtype not in DTYPES:   # the precisions simulate trains in: the same run inputs, the same vocabulary
        raise ConfigError("unknown gradient precision", source=CLI, key="--dtype", value=args.dtype,
                          choices=DTYPES)
    report = traffic(args.scheme, args.model, gpus=args.gpus, batch=args.batch,
                     samples_per_epoch=args.samples_per_epoch, epochs=args.epochs, dtype=args.dtype,
                     topology=args.topology, gpus_per_node=args.gpus_per_node, algorithm=args.algorithm)
    data = report.to_dict()
    warning = _past_end(args, report)
    if warning:  # a warm-up or switch past the end of the run: the scheme never compresses
        print(f"warning: {warning}", file=sys.stderr)
        data["warnings"] = [warning]
    if args.json:
        emit(data)
        return 0
    size = units.format_size
    gradients = "bf16 gradients (the fp8 recipe's)" if data["dtype"] == "fp8" else f"{data['dtype']} gradients"
    print(f"{data['scheme']} on {data['model']}: {data['gpus']} GPUs x batch {data['batch_per_gpu']}, "
          f"{data['steps_per_epoch']} steps per epoch, {data['epochs']:g} epochs ({data['steps']} steps), "
          f"{gradients}" + (f", on {data['topology']}" if data["topology"] else ""))
    rows = [("", "per step", "per epoch", "per run", "baseline / epoch")]
    steps = max(data["steps"], 1)
    rows.append(("payload per GPU", size(data["payload_bytes_per_run_per_gpu"] / steps),
                 size(data["payload_bytes_per_epoch_per_gpu"]), size(data["payload_bytes_per_run_per_gpu"]),
                 size(data["baseline_payload_bytes_per_epoch_per_gpu"])))
    rows.append(("sent per GPU (wire)", size(data["wire_bytes_per_run_per_gpu"] / steps),
                 size(data["wire_bytes_per_epoch_per_gpu"]), size(data["wire_bytes_per_run_per_gpu"]),
                 size(data["baseline_wire_bytes_per_epoch_per_gpu"])))
    for key, value in data.items():
        if key.startswith("wire_bytes_per_epoch_per_gpu_"):
            klass = key.rsplit("_", 1)[-1]
            rows.append((f"  crossing {klass} links", "", size(value), size(value * data["epochs"]),
                         size(data[f"baseline_wire_bytes_per_epoch_per_gpu_{klass}"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  " + row[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(row[1:], widths[1:])))
    print("  reduction: " + _change(100.0 - data["reduction_percent"], "payload") + "".join(
        "; " + _change(100.0 - v, f"{k.rsplit('_', 1)[-1]} wire") for k, v in data.items()
        if k.startswith("reduction_percent_")))
    used = [phase for phase in report.phases if phase.steps > 0]
    if len(used) > 1 or (used and used[0].name != "dense"):
        print("  phases:")
        for phase in used:
            steps = f"{phase.steps:,.0f}" if float(phase.steps).is_integer() else f"{phase.steps:,.2f}"
            print(f"    {phase.name:<16} {steps:>9} steps  payload {size(phase.payload_bytes_per_step)}/step")
    return 0
