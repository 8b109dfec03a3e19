"""Speed of the foundation (issue 2 targets): collectives on big tori, a ResNet-50 step, the whole CLI process.

Run: ``python benchmarks/bench_foundation.py``. Times are the best of several runs in a warmed-up process
(topology construction included), and the median of whole ``simtrain collective`` processes.
Reference (ASTRA-sim analytical backend, C++, same machine class): ~1.6 s on 64x64, ~28 s on 128x128,
256x256 fails (one trace file per GPU exceeds the open-file limit).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _timing import best_of

from simtrain.collectives import collective_time
from simtrain.topology import load_topology
from simtrain.training import simulate


def main() -> None:
    rows = []
    for side, target in ((64, 0.020), (128, 0.060), (256, 0.250)):
        for algorithm in ("multidim-ring", "ring"):
            def run(side: int = side, algorithm: str = algorithm) -> None:
                cluster = load_topology("torus-2d", gpus=side * side)
                collective_time("all-reduce", "1 GiB", cluster, algorithm)
            rows.append((f"all-reduce 1 GiB, {algorithm}, {side}x{side} torus (build + evaluate)",
                         best_of(run), target))
    for topology in ("abci", "torus-2d"):
        cluster = load_topology(topology, gpus=4096)
        rows.append((f"ResNet-50 data-parallel step, 4096 GPUs, {topology}",
                     best_of(lambda c=cluster: simulate("resnet50", c, batch=32, algorithm="multidim-ring",
                                                        dtype="fp16")), 0.020))
    command = [sys.executable, "-m", "simtrain", "collective", "--op", "all-reduce", "--algorithm",
               "multidim-ring", "--topology", "torus-2d", "--gpus", "4096", "--size", "1GiB", "--json"]
    subprocess.run(command, check=True, capture_output=True)
    wall = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall.append(time.perf_counter() - start)
    rows.append(("whole `simtrain collective` process, 64x64 torus (median of 5)", statistics.median(wall), 2.0))

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'time':>10}  {'target':>8}  ok")
    for label, seconds, target in rows:
        verdict = "yes" if seconds <= target else "NO"
        print(f"{label:<{width}}  {seconds * 1e3:>8.1f} ms  {target * 1e3:>6.0f} ms  {verdict}")


if __name__ == "__main__":
    main()
