"""Where a second BLAS thread starts to pay for a matrix product, on this machine.

Times `(m, k) @ (k, n)` float32 products with 1 and with all cores' threads
(threadpoolctl), medians of interleaved repeats, for the shapes numnet's steps
meet (batch x inputs x units), and prints the ratio and the crossover in
floating-point operations (`2 m k n`) that `numnet.backend.threads.CROSSOVER_FLOPS`
is set from. Run it on a quiet machine.

    python benchmarks/bench_threads.py
"""

import _common  # noqa: F401  (first: thread environment)

import os
import statistics
import timeit

import numpy as np
from threadpoolctl import threadpool_limits

SHAPES = [(32, 50, 50), (32, 784, 300), (128, 784, 300), (256, 784, 300), (1024, 784, 300),
          (1024, 300, 100), (4096, 784, 300), (32, 1024, 1024), (256, 1024, 1024),
          (1024, 1024, 1024)]


def best(fn, seconds=0.05):
    number = max(1, int(seconds / max(timeit.timeit(fn, number=1), 1e-7)))
    return statistics.median(timeit.repeat(fn, number=number, repeat=7)) / number


def main():
    cores = len(os.sched_getaffinity(0))
    rng = np.random.default_rng(0)
    print(f"load average {os.getloadavg()[0]:.2f}, {cores} cores")
    print("| m | k | n | MFLOP | 1 thread | %d threads | speed-up |" % cores)
    print("|---|---|---|---|---|---|---|")
    crossover = None
    for m, k, n in SHAPES:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        times = {}
        for threads in (1, cores):
            with threadpool_limits(threads, user_api="blas"):
                times[threads] = best(lambda: np.matmul(a, b, out=out))
        speedup = times[1] / times[cores]
        flops = 2 * m * k * n
        if crossover is None and speedup > 1.1:
            crossover = flops
        print(f"| {m} | {k} | {n} | {flops / 1e6:.1f} | {times[1] * 1e6:.1f} us | "
              f"{times[cores] * 1e6:.1f} us | {speedup:.2f} |")
    print(f"first shape where {cores} threads are > 10 % faster: "
          f"{'none' if crossover is None else f'{crossover / 1e6:.0f} MFLOP'}")


if __name__ == "__main__":
    main()
