"""``simtrain train``: real data-parallel training of a digits model with a (low-rank) scheme.

Examples
--------
>>> from simtrain.cli import main
>>> main(["train", "--model", "cnn-digits", "--scheme", "none", "--workers", "2", "--epochs", "1",
...       "--max-steps", "2", "--json"])  # doctest: +ELLIPSIS
{"model": "cnn-digits", ...}
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import announce, emit, number, positive_int

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``train`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("train", help="train a digits model for real in K simulated data-parallel workers")
    p.add_argument("--model", required=True, help="cnn-digits or transformer-digits")
    p.add_argument("--scheme", default="none",
                   help="none, cuttlefish, oialr, ab-training, powersgd, topk, mstopk, qsgd or onebit, with "
                        "parameters as in traffic (e.g. powersgd:rank=4)")
    p.add_argument("--workers", type=positive_int, default=4, help="data-parallel workers")
    p.add_argument("--epochs", type=positive_int, default=20, help="passes over the 3,000 training images")
    p.add_argument("--batch", type=positive_int, default=32, help="samples per worker per step")
    p.add_argument("--lr", type=number, help="learning rate (default: 0.01 CNN, 0.002 Transformer)")
    p.add_argument("--optimizer", help="sgd, momentum or adam (default: momentum CNN, adam Transformer)")
    p.add_argument("--backend", default="numba", help="GEMM backend: numba or torch (CUDA when torch sees one)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    p.add_argument("--threads", type=positive_int, default=1, help="BLAS threads")
    from simtrain.lowrank.ranks import OIALR_CUTOFF

    p.add_argument("--oialr-cutoff", type=number, help="OIALR's relative singular-value cutoff (--scheme oialr "
                                                       f"only); default {OIALR_CUTOFF}")
    p.add_argument("--max-steps", type=positive_int, help="steps per epoch at most (smoke runs)")
    p.add_argument("--profile", help="price each epoch with this compute profile (default: the pass's kernels "
                                     "timed on this machine)")
    p.add_argument("--out", help="folder for spectra.npz, curve.json and ranks.yaml")
    p.add_argument("--alds-budget", type=number,
                   help="also write OUT/alds.yaml: ALDS ranks of the last epoch's weights under this parameter budget "
                        "(a fraction <= 1 of the weights' dense parameters, or a count)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no announcement on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain train``; returns the exit status."""
    from simtrain.compute import ComputeModel
    from simtrain.errors import ConfigError
    from simtrain.lowrank.ranks import profile_from_spectra, write_profile
    from simtrain.lowrank.train import train

    if args.oialr_cutoff is not None:   # read by OIALR alone: with another scheme it would be silently ignored
        from simtrain.registry import parse_spec

        name, _ = parse_spec(args.scheme, key="scheme")
        if name.strip() != "oialr":
            raise ConfigError("is read only by --scheme oialr", key="oialr_cutoff", value=args.oialr_cutoff,
                              allowed="--scheme oialr, or leave it unset")
    if args.alds_budget is not None:   # checked before the run: the model's shapes decide the cheapest allocation
        from simtrain.lowrank.nets import weight_shapes
        from simtrain.lowrank.ranks import check_budget

        if not args.out:
            raise ConfigError("needs --out (the spectra it allocates from)", key="alds_budget",
                              value=args.alds_budget)
        check_budget(args.alds_budget, weight_shapes(args.model), key="alds_budget")
    compute = ComputeModel.from_profile(args.profile) if args.profile else None
    from simtrain.progress import ProgressBar

    bar = ProgressBar(args.epochs, "epochs", quiet=args.quiet)
    result = train(args.model, args.scheme, workers=args.workers, epochs=args.epochs, batch=args.batch, lr=args.lr,
                   optimizer=args.optimizer, backend=args.backend, seed=args.seed, out=args.out, compute=compute,
                   max_steps=args.max_steps, threads=args.threads,
                   **({} if args.oialr_cutoff is None else {"oialr_cutoff": args.oialr_cutoff}),
                   announce=None if args.quiet else announce,   # its cost, once the inputs are checked
                   progress=bar.callback)
    bar.close()
    data: dict[str, Any] = result.to_dict()
    if args.alds_budget is not None:
        from pathlib import Path

        alds = profile_from_spectra(Path(args.out) / "spectra.npz", args.alds_budget)   # its budget was checked
        path = write_profile(alds, Path(args.out) / "alds.yaml",
                             f"ALDS ranks of {args.model} (budget {args.alds_budget:g}) from its last epoch")
        data["alds_profile"] = str(path)
    if args.json:
        emit(data)
        return 0
    print(f"{data['scheme']} on {data['model']}: {data['workers']} workers x batch {data['batch_per_worker']}, "
          f"{data['steps_per_epoch']} steps per epoch, {data['optimizer']} lr {data['lr']:g}, {data['backend']} "
          f"on {data['device']}" + ("" if data.get("switch_epoch") is None else
                                    f"; switch after epoch {data['switch_epoch']}"))
    print("  epoch  accuracy    loss   MB sent/worker   compute measured / predicted (CPU s)   ranks")
    for e in data["epochs"]:
        ranks = " ".join(f"{k.removesuffix('.weight')}={v}" for k, v in e["ranks"].items())
        print(f"  {e['epoch']:5d}  {e['test_accuracy']:8.4f}  {e['loss']:6.4f}  {e['bytes_sent'] / 1e6:15.3f}"
              f"   {e['compute_measured_s']:10.3f} / {e['compute_predicted_s']:<10.3f}          {ranks}")
    return 0
