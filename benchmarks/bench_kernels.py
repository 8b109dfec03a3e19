"""numba low-rank training step against the NumPy/BLAS reference (issue 5 target).

Run: ``python benchmarks/bench_kernels.py [--threads N]``. Target: numba within 1.5x of NumPy at r >= 32, and faster
at small r and batch, where call overhead dominates. Median of 200 (small) or 30 (large) steps after warm-up,
float32, with both BLAS libraries (NumPy's, and SciPy's that numba calls) pinned to the same thread count (default
1), so the comparison is of the kernels, not of two thread pools.
"""

from __future__ import annotations

import sys

from simtrain.calibration.bench import Shape, blas_threads, measure

SHAPES = [(64, 64, 2, 4), (128, 128, 4, 8), (256, 256, 8, 16), (512, 512, 8, 32), (512, 512, 16, 64),
          (1024, 1024, 32, 64), (1024, 1024, 32, 256), (2048, 2048, 64, 512), (1024, 4096, 128, 256)]


def main() -> None:
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    with blas_threads(threads):
        run(threads)


def run(threads: int) -> None:
    print(f"BLAS threads: {threads}")
    print(f"{'m x n, r, batch':<26} {'numpy':>10} {'numba':>10} {'numba/numpy':>12}  target")
    for m, n, r, b in SHAPES:
        shape = Shape("lowrank", m, n, r, b, "fp32")
        repeats = 200 if m * n * b < 1e8 else 30
        numpy = measure("numpy", "cpu", shape, repeats=repeats, warmup=5).median_s
        numba = measure("numba", "cpu", shape, repeats=repeats, warmup=5).median_s
        ratio = numba / numpy
        if r >= 32:
            target, ok = "<= 1.5", ratio <= 1.5
        elif m * n * b <= 128 * 128 * 8:
            target, ok = "< 1 (small r, batch)", ratio < 1
        else:
            target, ok = "-", True
        print(f"{m}x{n}, r={r}, b={b:<8} {numpy * 1e6:>8.1f}us {numba * 1e6:>8.1f}us {ratio:>12.2f}  {target}"
              f"{'' if ok else '  MISSED'}")


if __name__ == "__main__":
    main()
