"""Shared helpers for the benchmarks: threads, timing, medians, tables, data.

Import this module FIRST in every benchmark script: it reads `--threads`
from the command line and sets the BLAS/OpenMP environment variables before
NumPy (or anything else that loads a BLAS) is imported.
"""

import os
import statistics
import sys
import time
import warnings


def _threads_from_argv(argv):
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


THREADS = _threads_from_argv(sys.argv)
if THREADS:  # 0: leave the libraries' defaults (numnet then chooses per call)
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(THREADS)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

_LIMITER = None


def make_parser(description, rounds=3):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds,
                        help=f"timed rounds per implementation, interleaved (default {rounds})")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed warm-up rounds per implementation, interleaved too (default 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS / OpenMP / torch intra-op threads for every implementation (default 1)")
    parser.add_argument("--keras", action="store_true",
                        help="also run Keras 3 on TensorFlow (slow to import)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    return parser


def limit_threads(n):
    """Caps every thread pool already loaded (and torch) at `n` threads (0: no cap)."""
    global _LIMITER
    if not n:
        return
    from threadpoolctl import threadpool_limits
    _LIMITER = threadpool_limits(limits=n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
        try:
            sys.modules["torch"].set_num_interop_threads(1)
        except RuntimeError:
            pass


def thread_report():
    """One line per thread pool loaded in this process, from threadpoolctl."""
    from threadpoolctl import threadpool_info
    lines = []
    for pool in threadpool_info():
        lib = os.path.basename(pool.get("filepath", "?"))
        extra = pool.get("internal_api", "")
        if pool.get("architecture"):
            extra += f" {pool['architecture']}"
        lines.append(f"  {pool['user_api']:7s} {lib:40s} {extra:28s} threads={pool['num_threads']}")
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        lines.append(f"  torch   intra-op threads={torch.get_num_threads()} "
                     f"inter-op={torch.get_num_interop_threads()}")
    return "\n".join(lines)


def header(title, args):
    print(f"== {title} ==")
    print(f"date {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} logical CPUs, "
          f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"load average at start {os.getloadavg()[0]:.2f} (> 0.3 means other work shares the CPUs)")
    print(f"threads: {args.threads} for every implementation (threadpoolctl limit + "
          f"OPENBLAS/OMP/MKL_NUM_THREADS + torch.set_num_threads); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")


class Timer:
    """`with Timer() as t: ...` then `t.elapsed` in seconds (perf_counter)."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.start
        return False


def per_call_args(doc, title, calls):
    """The options of a per-call kernel benchmark (`--calls` among them), parsed, with the
    threads limited and the header printed."""
    parser = make_parser(doc.splitlines()[0], rounds=7)
    parser.add_argument("--calls", type=int, default=calls, help="calls per timed round")
    args = parser.parse_args()
    limit_threads(args.threads)
    header(title, args)
    return args


def per_call(function, calls):
    """A round for `interleave`: `calls` calls of `function`, returning seconds per call."""
    def run():
        with Timer() as t:
            for _ in range(calls):
                function()
        return t.elapsed / calls
    return run


def interleave(impls, rounds, warmup=1):
    """Runs `impls` (name -> callable returning seconds) round-robin.

    The first `warmup` rounds are run the same way and discarded. Returns
    name -> list of seconds, or the error string when a call raised.
    """
    results = {name: [] for name in impls}
    for r in range(-warmup, rounds):
        for name, fn in impls.items():
            if isinstance(results[name], str):
                continue
            try:
                sec = float(fn())
                if r >= 0:
                    results[name].append(sec)
            except Exception as e:  # report, do not hide, do not abort the others
                import traceback
                tb = traceback.format_exc().strip().splitlines()
                results[name] = f"{type(e).__name__}: {e} [{' | '.join(tb[-4:-1])}]"
            print(f"  {'warm-up' if r < 0 else 'round'} {r + 1}/{rounds} {name}: "
                  f"{'FAILED' if isinstance(results[name], str) else fmt_time(sec)}",
                  file=sys.stderr, flush=True)
    return results


def median(xs):
    return statistics.median(xs)


def fmt_time(s):
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def print_table(results, refs=("PyTorch", "NumPy loop"), unit_title="median", rows_order=None):
    """Prints name | median | min | ratios vs refs | all rounds."""
    names = rows_order or list(results)
    meds = {n: median(v) for n, v in results.items() if not isinstance(v, str) and v}
    ref_cols = [r for r in refs if r in meds]
    head = ["implementation", unit_title, "min"] + [f"x {r}" for r in ref_cols] + ["rounds"]
    rows = []
    for n in names:
        v = results.get(n)
        if v is None:
            continue
        if isinstance(v, str):
            rows.append([n, "FAILED", "", *[""] * len(ref_cols), v[:200]])
            continue
        m = meds[n]
        rows.append([n, fmt_time(m), fmt_time(min(v)),
                     *[f"{m / meds[r]:.2f}" for r in ref_cols],
                     " ".join(fmt_time(x) for x in v)])
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head) - 1)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + f" | {r[-1]} |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    for r in rows:
        print(line(r))
    return meds


# ---------------------------------------------------------------- data

def load_fashion_mnist():
    """(x_train, y_train), (x_valid, y_valid), (x_test, y_test), note.

    x as float32 in [0, 1] (pixels / 255), y as int64; train = first 55,000,
    valid = last 5,000 of the 60,000 training images.
    """
    from numnet.datasets import fashion_mnist
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (x, y), (xt, yt) = fashion_mnist.load_data()
    sample = any("sample" in str(w.message).lower() for w in caught)
    x = (x / np.float32(255)).astype(np.float32)
    xt = (xt / np.float32(255)).astype(np.float32)
    y, yt = y.astype(np.int64), yt.astype(np.int64)
    n_valid = 5000 if len(x) == 60000 else len(x) // 12
    note = (f"data: Fashion-MNIST from {_data_origin()}: {len(x) - n_valid} train / "
            f"{n_valid} valid / {len(xt)} test")
    if sample:
        note = ("data: WARNING full Fashion-MNIST not found, using numnet's shipped SAMPLE: "
                f"{len(x) - n_valid} train / {n_valid} valid / {len(xt)} test (timings not comparable)")
    return (x[:-n_valid], y[:-n_valid]), (x[-n_valid:], y[-n_valid:]), (xt, yt), note


def _data_origin():
    """Where the loaders looked: `$NUMNET_DATA`, else their cache (downloading into it)."""
    folder = os.environ.get("NUMNET_DATA")
    return f"NUMNET_DATA={folder}" if folder else "the loaders' cache (~/.numnet)"


def _train_test_split(x, y, random_state=42):
    try:
        from sklearn.model_selection import train_test_split
        return train_test_split(x, y, random_state=random_state)
    except ImportError:  # sklearn's ShuffleSplit permutation, test_size=0.25
        n = len(x)
        n_test = int(np.ceil(0.25 * n))
        perm = np.random.RandomState(random_state).permutation(n)
        te, tr = perm[:n_test], perm[n_test:]
        return x[tr], x[te], y[tr], y[te]


def load_california_housing():
    """(x_train, y_train), (x_valid, y_valid), note; float32, y shaped (n, 1).

    Split as the book does: train_test_split(random_state=42) twice.
    """
    from numnet.datasets import california_housing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, target = california_housing.fetch(return_X_y=True)
    sample = any("sample" in str(w.message).lower() for w in caught)
    x_full, _, y_full, _ = _train_test_split(data, target)
    x_tr, x_va, y_tr, y_va = _train_test_split(x_full, y_full)
    f = lambda a: np.ascontiguousarray(a, dtype=np.float32)
    note = (f"data: California housing from {_data_origin()}: "
            f"{len(x_tr)} train / {len(x_va)} valid")
    if sample:
        note = "data: WARNING using numnet's shipped SAMPLE of California housing: " + note[6:]
    return (f(x_tr), f(y_tr).reshape(-1, 1)), (f(x_va), f(y_va).reshape(-1, 1)), note


def glorot_uniform(rng, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def run_epoch_benchmark(args, title, note, data, epochs):
    """Times one epoch per implementation, interleaved, and prints the table.

    `epochs` maps implementation names (numnet's ones, "NumPy loop", "PyTorch"
    and "Keras 3 / TF") to functions `(data, seed) -> seconds`; PyTorch and
    Keras run only when asked for (and importable). Returns name -> median seconds.
    """
    import itertools
    seeds = itertools.count(1)
    names = [name for name in epochs if name not in ("PyTorch", "Keras 3 / TF")]
    if not args.no_torch:
        import torch  # noqa: F401
        names.append("PyTorch")
    if args.keras:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import keras  # noqa: F401
        names.append("Keras 3 / TF")
    impls = {name: (lambda fn=epochs[name]: fn(data, seed=next(seeds))) for name in names}
    import numnet  # noqa: F401
    limit_threads(args.threads)
    header(title, args)
    print(note)
    print("thread pools (threadpoolctl):\n" + thread_report())
    results = interleave(impls, args.rounds, args.warmup)
    print(f"\nmedian of {args.rounds} interleaved rounds after {args.warmup} warm-up; "
          "'x REF' = median / REF's median (< 1 is faster than REF)")
    return print_table(results)
