"""Speed of ``--algorithm auto`` (issue 14 target: ``simulate`` with auto within 2x of today's time per point).

Run: ``python benchmarks/bench_nccl_auto.py``. A point mix like the quickstart's (ResNet-50 and BERT-base, three
clusters, schemes none / PowerSGD rank 4 / AB-training, 8 to 4,096 GPUs), each point simulated from a fresh run cache
(templates, routes and the NCCL tuner built inside the timing, as a study worker's first point), once with the
algorithm the quickstart used before (multidim-ring on the torus, hierarchical on ABCI and the cloud) and once with
``auto``. Prints the best-of-3 mean time per point of each and their ratio, then the same with a warm cache (a
study's later points on the same cluster).
"""

from __future__ import annotations

import itertools
import sys
import time

from simtrain.training import simulate
from simtrain.training.run_cache import RunCache

BEFORE = {"torus-2d": "multidim-ring", "abci": "hierarchical", "cloud-25g": "hierarchical"}
POINTS = list(itertools.product(["resnet50", "bert-base"], list(BEFORE), ["none", "powersgd:rank=4", "ab-training"],
                                [8, 64, 512, 4096]))


def per_point(algorithm: str | None, warm: bool, repeat: int = 3) -> float:
    """Best of ``repeat`` passes over the point mix: mean seconds per point."""
    best = float("inf")
    shared = RunCache()
    for _ in range(repeat):
        start = time.perf_counter()
        for model, topology, scheme, gpus in POINTS:
            cache = shared if warm else RunCache()
            simulate(model, topology, gpus=gpus, batch=32, dtype="fp16", scheme=scheme,
                     algorithm=algorithm or BEFORE[topology], cache=cache)
        best = min(best, (time.perf_counter() - start) / len(POINTS))
    return best


def main() -> int:
    for warm in (False, True):
        before = per_point(None, warm)
        auto = per_point("auto", warm)
        state = "warm cache" if warm else "fresh cache"
        print(f"{state}: {len(POINTS)} points; before (named algorithms) {before * 1e3:.1f} ms/point, "
              f"auto {auto * 1e3:.1f} ms/point, ratio {auto / before:.2f} (target <= 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
