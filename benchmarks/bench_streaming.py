"""Streaming input: a training epoch from a memory-mapped .npy file against the same arrays in memory.

The textbook classifier (W1's model, SGD, shuffled) on the 55,000
Fashion-MNIST training images stored as a float32 .npy file on disk and
opened with `np.load(path, mmap_mode="r")`: every batch is gathered from the
file by a background thread while the step computes. Three ways, alternated
round by round:

- in memory: the arrays in RAM (numnet's in-memory path: rows gathered
  straight into the step's input buffers); a fit's second epoch;
- memory map, warm: a fit's second epoch on a memory map of the file, whose
  pages are then in the OS page cache and mapped (the usual case from the
  second epoch on, when the file fits in RAM);
- memory map, cold: a fit's first epoch on a new memory map of the file, its
  pages dropped from the page cache just before (`posix_fadvise(DONTNEED)` on
  this file only, while no mapping of it is open), so the batches read the
  disk (and the step is captured during it, on its first batches).

    python benchmarks/bench_streaming.py [--rounds 3] [--batch-size 32]
"""

import _common  # first: sets the thread environment before NumPy loads

import os
import sys
import tempfile
import time

import numpy as np



def main():
    parser = _common.make_parser(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dir", default=None, help="where to write the .npy file (default: "
                                                    "a temporary folder)")
    args = parser.parse_args()
    _common.header(__doc__.splitlines()[0], args)
    _common.limit_threads(args.threads)
    import numnet as keras

    keras.config.set_num_threads(args.threads)  # numnet would pick its own count per call

    (x, y), _, _, note = _common.load_fashion_mnist()
    print(note)
    folder = tempfile.mkdtemp(dir=args.dir)
    path = os.path.join(folder, "x_train.npy")
    np.save(path, x)
    print(f"file: {path}, {os.path.getsize(path) / 2**20:.0f} MiB; batch {args.batch_size}")

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    def epoch(kind, seed):
        """One epoch's seconds: "memory" and "warm" time a fit's second epoch (the file's
        pages then in memory and mapped), "cold" the first, the file dropped from the page
        cache before it (each run opens a new memory map and closes it after)."""
        if kind == "cold":
            _drop_from_page_cache(path)  # (no mapping of the file is open here)
        data = x if kind == "memory" else np.load(path, mmap_mode="r")
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
            keras.layers.Dense(300, activation="relu"),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=keras.optimizers.SGD(0.01), metrics=["accuracy"])
        timer = EpochTimes()
        timer.times = []
        model.fit(data, y, batch_size=args.batch_size, epochs=1 if kind == "cold" else 2,
                  verbose=0, callbacks=[timer])
        return timer.times[-1]

    try:
        results = _common.interleave({
            "in memory": lambda: epoch("memory", 0),
            "memory map, warm": lambda: epoch("warm", 0),
            "memory map, cold": lambda: epoch("cold", 0),
        }, args.rounds, args.warmup)
    finally:
        os.remove(path)
        os.rmdir(folder)
    medians = _common.print_table(results, refs=("in memory",), unit_title="epoch (median)")
    for name in ("memory map, warm", "memory map, cold"):
        if name in medians:
            print(f"{name}: {medians['in memory'] / medians[name]:.2f} x the in-memory "
                  "epoch's speed")


def _drop_from_page_cache(path):
    """Evicts this file's pages from the OS page cache (Linux; a no-op elsewhere)."""
    if not hasattr(os, "posix_fadvise"):
        print("posix_fadvise unavailable: the 'cold' epoch is warm", file=sys.stderr)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
