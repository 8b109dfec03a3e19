"""``simtrain time-to-accuracy``: per scheme, the wall-clock to a target accuracy on a cluster, and its figure.

Examples
--------
>>> import os, tempfile
>>> from simtrain.cli import main
>>> d = tempfile.mkdtemp()
>>> _ = open(os.path.join(d, "sgd.csv"), "w").write("epoch,test_accuracy,model,scheme,batch_per_worker,"
...     "samples_per_epoch\\n1,0.7,resnet18-cifar,none,128,50000\\n2,0.93,resnet18-cifar,none,128,50000\\n")
>>> main(["time-to-accuracy", "--curves", d, "--topology", "torus-2d", "--gpus", "16", "--target", "0.9",
...       "--json"])  # doctest: +ELLIPSIS
[{"name": "sgd", "scheme": "none", ...}]
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import count_at_most, emit, new_output, number
from simtrain.limits import MAX_GPUS

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``time-to-accuracy`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("time-to-accuracy", help="wall-clock to a target accuracy per scheme on a cluster")
    p.add_argument("--curves", required=True,
                   help="folder of curves: simtrain train --out folders (curve.json) or CSV files with "
                        "epoch,test_accuracy and model, scheme, batch_per_worker, samples_per_epoch")
    p.add_argument("--topology", required=True, help="catalog name or YAML path")
    p.add_argument("--gpus", type=count_at_most(MAX_GPUS), required=True, help="GPUs of the cluster")
    p.add_argument("--target", type=number, required=True, help="test accuracy to reach, a fraction")
    p.add_argument("--plot", metavar="FILE.png",
                   help="PNG, SVG or PDF: accuracy against simulated wall-clock and against bytes sent")
    p.add_argument("--force", action="store_true", help="overwrite an existing --plot")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain time-to-accuracy``; returns the exit status."""
    from simtrain import units
    from simtrain.lowrank.tta import plot_time_to_accuracy, read_curves, time_to_accuracy

    plot = new_output(args.plot, args.force, "--plot", figure=True) if args.plot else None   # before any curve
    results = time_to_accuracy(read_curves(args.curves), args.topology, gpus=args.gpus, target=args.target)
    if plot is not None:
        plot_time_to_accuracy(results, plot, f"{args.topology}, {args.gpus} GPUs", args.target)
    if args.json:
        emit([r.to_dict() for r in results])
        return 0
    print(f"time to {args.target:g} test accuracy on {args.topology} with {args.gpus} GPUs")
    for r in results:
        if r.time_to_target_s is not None and r.bytes_to_target is not None:
            reached = (f"epoch {r.epoch_reached}: {units.format_time(r.time_to_target_s)}, "
                       f"{units.format_size(r.bytes_to_target)} per GPU")
        else:
            reached = f"not reached in {len(r.epochs)} epochs (best {max(r.accuracy):.4f})"
        print(f"  {r.name:24s} {r.scheme.split(':')[0]:12s} {reached}")
    if args.plot:
        print(f"  figure: {args.plot}")
    return 0
