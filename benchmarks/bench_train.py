"""``simtrain train`` on the generated digits: accuracy per scheme, epochs to 95 %, time, bytes, compute.

Run: ``python benchmarks/bench_train.py [--models cnn-digits,transformer-digits]
[--schemes none,cuttlefish,oialr,ab-training,powersgd:rank=4] [--workers 4] [--epochs 20] [--seed 0] [--out DIR]
[--profile P]``. For each model and scheme it trains for real (seeded) and prints the final and best test accuracy,
the first epoch at 95 % (target: within 20 epochs), the run's wall-clock and CPU seconds (target for cnn-digits:
20 epochs in at most 2 minutes on 2 cores; the machine is shared, so the CPU seconds are the figure that does not
depend on the other jobs), the bytes each worker sent over the run against the first scheme, the switch epoch and
last ranks, and the forward+backward compute per worker: measured (CPU seconds) against the prediction (target:
within 25 %; by default priced on this machine by :class:`simtrain.lowrank.compute.PassCosts`, with ``--profile``
by that calibration profile through the compute model), and the same for the codec work per worker (encoding,
error feedback, PowerSGD's products). Asserts nothing but bytes_sent == bytes_model.
"""

from __future__ import annotations

import argparse
import time

from simtrain.compute import ComputeModel
from simtrain.lowrank.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn-digits,transformer-digits")
    parser.add_argument("--schemes", default="none,cuttlefish,oialr,ab-training,powersgd:rank=4")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--profile", help="price with this compute profile (default: calibrated on this machine)")
    parser.add_argument("--out", help="folder: one sub-folder of curves and spectra per model and scheme")
    args = parser.parse_args()
    compute = ComputeModel.from_profile(args.profile) if args.profile else None
    print("model               scheme                         final  best   95%@  wall s  CPU s  MB/worker (x first)"
          "  compute/worker: measured CPU s / predicted s (ratio)  codec work (ratio)  switch  last ranks", flush=True)
    for model in args.models.split(","):
        base = None
        for scheme in args.schemes.split(","):
            start, cpu = time.perf_counter(), time.process_time()
            out = f"{args.out}/{model}/{scheme.split(':')[0]}" if args.out else None
            r = train(model, scheme, workers=args.workers, epochs=args.epochs, seed=args.seed, backend=args.backend,
                      compute=compute, out=out)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            acc = [e.test_accuracy for e in r.epochs]
            sent = sum(e.bytes_sent for e in r.epochs)
            assert sent == sum(e.bytes_model for e in r.epochs)
            base = sent if base is None else base
            reach = next((e.epoch for e in r.epochs if e.test_accuracy >= 0.95), None)
            measured = sum(e.compute_measured_s for e in r.epochs)
            predicted = sum(e.compute_predicted_s for e in r.epochs)
            codec = sum(e.codec_measured_s for e in r.epochs)
            codec_predicted = sum(e.codec_predicted_s for e in r.epochs)
            ranks = " ".join(f"{k.removesuffix('.weight')}={v}" for k, v in r.epochs[-1].ranks.items())
            print(f"{model:19s} {scheme:30s} {acc[-1]:.3f}  {max(acc):.3f}  {reach!s:>4}  {wall:6.1f} {cpu:6.1f}  "
                  f"{sent / 1e6:8.2f} ({sent / base:.3f})   {measured:8.2f} / {predicted:8.2f} "
                  f"({measured / predicted:.2f})   {codec:6.2f} / {codec_predicted:6.2f} "
                  f"({codec / codec_predicted:.2f})   {r.switch_epoch!s:>6}  {ranks}", flush=True)


if __name__ == "__main__":
    main()
