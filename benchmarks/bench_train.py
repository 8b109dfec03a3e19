"""``simtrain train`` on the generated digits: accuracy per scheme, epochs to 95 %, wall-clock, bytes, compute.

Run: ``python benchmarks/bench_train.py [--models cnn-digits,transformer-digits] [--schemes none,cuttlefish,oialr]
[--workers 4] [--epochs 20] [--seed 0] [--out DIR]``. For each model and scheme it trains for real (seeded) and
prints the final and best test accuracy, the first epoch at 95 %, the run's wall-clock (target for cnn-digits:
20 epochs in at most 2 minutes on 2 cores), the bytes each worker sent over the run against ``none``, the switch
epoch and last ranks, and the measured forward+backward compute against the compute model's prediction (target:
within 25 %; it holds only with a profile calibrated on the machine that trains, ``--profile``). Asserts nothing
but bytes_sent == bytes_model.
"""

from __future__ import annotations

import argparse
import time

from simtrain.compute import ComputeModel
from simtrain.lowrank.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn-digits,transformer-digits")
    parser.add_argument("--schemes", default="none,cuttlefish,oialr")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--profile", help="compute profile (default: the shipped cpu-numba)")
    parser.add_argument("--out", help="folder: one sub-folder of curves and spectra per model and scheme")
    args = parser.parse_args()
    compute = ComputeModel.from_profile(args.profile) if args.profile else None
    for model in args.models.split(","):
        base = None
        for scheme in args.schemes.split(","):
            start = time.perf_counter()
            out = f"{args.out}/{model}/{scheme.split(':')[0]}" if args.out else None
            r = train(model, scheme, workers=args.workers, epochs=args.epochs, seed=args.seed, backend=args.backend,
                      compute=compute, out=out)
            wall = time.perf_counter() - start
            acc = [e.test_accuracy for e in r.epochs]
            sent = sum(e.bytes_sent for e in r.epochs)
            assert sent == sum(e.bytes_model for e in r.epochs)
            base = sent if base is None else base
            reach = next((e.epoch for e in r.epochs if e.test_accuracy >= 0.95), None)
            measured = sum(e.compute_measured_s for e in r.epochs)
            predicted = sum(e.compute_predicted_s for e in r.epochs)
            print(f"{model:19s} {r.scheme:45s} final {acc[-1]:.4f} best {max(acc):.4f} 95% at epoch {reach} "
                  f"wall {wall:6.1f} s  MB/worker {sent / 1e6:8.2f} ({sent / base:.3f} of the first scheme) "
                  f"switch {r.switch_epoch} ranks {r.epochs[-1].ranks}  compute measured {measured:.2f} s "
                  f"predicted {predicted:.2f} s (x{measured / predicted:.2f})", flush=True)


if __name__ == "__main__":
    main()
