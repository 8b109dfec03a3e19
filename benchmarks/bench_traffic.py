"""Speed of the traffic model (issue 4 target): a 100-epoch ResNet-50 run, ImageNet-sized epochs.

Run: ``python benchmarks/bench_traffic.py``. 16 GPUs x batch 16 = 256 per step, 1,281,167 images, so 5,004 steps
per epoch and 500,400 steps per run. Target: <= 1 s per scheme (schedules are periodic: a period is evaluated once
and multiplied, exactly). Figures are the best of 3 in a warmed-up process.
"""

from __future__ import annotations

import time

from simtrain.compression import SCHEMES
from simtrain.compression.traffic import traffic

SPECS = {"ab-training": "ab-training:rank_fraction=0.1", "oialr": "oialr:rank_fraction=0.1",
         "cuttlefish": "cuttlefish:rank_fraction=0.1", "resist": "resist", "gist": "gist"}


def main() -> None:
    print(f"{'scheme':<18} {'seconds':>8} {'steps':>9} {'payload/run/GPU':>16} {'reduction':>10}  ok")
    for name in SCHEMES.names():
        spec = SPECS.get(name, name)
        best, report = float("inf"), None
        for _ in range(3):
            start = time.perf_counter()
            report = traffic(spec, "resnet50", gpus=16, batch=16, samples_per_epoch=1_281_167, epochs=100)
            best = min(best, time.perf_counter() - start)
        assert report is not None
        tib = report.payload_bytes_per_run_per_gpu / 2**40
        print(f"{name:<18} {best:>8.3f} {report.total_steps:>9,} {tib:>12.3f} TiB"
              f" {report.reduction_factor:>9.2f}x  {'yes' if best <= 1.0 else 'NO'}")


if __name__ == "__main__":
    main()
