"""W1 under load: one epoch of the textbook classifier with numnet's default settings,
on a quiet machine and while another process keeps one core busy.

numnet chooses the BLAS threads of its own calls (see `numnet.backend.threads`):
this measures what that buys when the machine is shared. For context it also
times the same epoch with OpenBLAS' default thread count forced on numnet's
calls (`numnet.config.set_num_threads(cores)`), the situation numnet avoids.
Target: numnet's default at most 1.3 x its quiet time.

    python benchmarks/bench_w1_under_load.py [--rounds 3]
"""

import _common  # first (with --threads 0: the libraries' own defaults)

import os
import subprocess
import sys

import bench_w1_classifier as w1


def busy_process():
    """A process keeping one core busy until killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main():
    sys.argv += ["--threads", "0"] if "--threads" not in sys.argv else []
    args = _common.make_parser(__doc__.splitlines()[0], rounds=3).parse_args()
    train, valid, _, note = _common.load_fashion_mnist()
    data = (train, valid)
    import numnet
    cores = len(os.sched_getaffinity(0))
    _common.header("W1 under load: seconds per epoch, numnet's default thread choice", args)
    print(note)
    print("thread pools (threadpoolctl):\n" + _common.thread_report())
    seeds = iter(range(1, 1000))

    def default():
        numnet.config.set_num_threads(None)
        return w1.numnet_epoch(data, next(seeds))

    def forced():
        numnet.config.set_num_threads(cores)
        try:
            return w1.numnet_epoch(data, next(seeds))
        finally:
            numnet.config.set_num_threads(None)

    quiet = _common.interleave({"default, quiet": default, f"{cores} threads, quiet": forced},
                               args.rounds, args.warmup)
    busy = busy_process()
    try:
        loaded = _common.interleave({"default, one core busy": default,
                                     f"{cores} threads, one core busy": forced},
                                    args.rounds, 0)
    finally:
        busy.kill()
    results = {**quiet, **loaded}
    meds = _common.print_table(results, refs=("default, quiet",))
    ratio = meds["default, one core busy"] / meds["default, quiet"]
    print(f"target under load at most 1.3 x quiet: {ratio:.2f} x -> "
          f"{'MET' if ratio <= 1.3 else 'NOT MET'}")


if __name__ == "__main__":
    main()
