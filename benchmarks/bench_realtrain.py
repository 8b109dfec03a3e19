"""Real data-parallel training of the digits MLP under four schemes: accuracy, bytes really sent, compute time.

Run: ``python benchmarks/bench_realtrain.py [--workers K] [--batch B] [--epochs E] [--lr LR]`` (on the
generated digits of simtrain.lowrank.data, 8 x 8). For each scheme it prints the final test accuracy, the bytes
each worker really sent beside the simulator's count for the same run (they must be equal), the reduction against
``none``, and the measured median forward+backward time of one worker step beside the roofline prediction of the
``cpu`` device. Asserts nothing but the byte equality.
"""

from __future__ import annotations

import argparse
import time

from simtrain.calibration.realtrain import real_train, simulated_message_bytes

SCHEMES = [
    "none",
    "powersgd:rank=2",
    "ab-training:rank=16,warmup=11,sync_every=11,rebound=2,keep_first=false",
    "oialr:rank=16,warmup=11,stability_frequency=5",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()

    print(f"{'scheme':<72} {'acc':>6} {'bytes/worker':>13} {'simulated':>13} {'x less':>7} "
          f"{'meas. us':>9} {'pred. us':>9} {'run s':>6}")
    baseline = None
    for spec in SCHEMES:
        start = time.perf_counter()
        r = real_train(spec, workers=args.workers, batch=args.batch, epochs=args.epochs, lr=args.lr)
        elapsed = time.perf_counter() - start
        simulated = simulated_message_bytes(spec, args.workers, args.batch, r.steps)
        assert r.message_bytes_per_worker == simulated, (spec, r.message_bytes_per_worker, simulated)
        baseline = baseline or r.message_bytes_per_worker
        print(f"{spec:<72} {r.accuracy_per_epoch[-1]:>6.3f} {r.message_bytes_per_worker:>13,.0f} "
              f"{simulated:>13,.0f} {baseline / r.message_bytes_per_worker:>7.2f} "
              f"{r.measured_compute_s_per_step * 1e6:>9.1f} {r.predicted_compute_s_per_step * 1e6:>9.1f} "
              f"{elapsed:>6.2f}")


if __name__ == "__main__":
    main()
