"""Reading batches ahead of the training step, on background threads (or processes).

Two readers, both iterators of ready batches in their original order:

- `Prefetcher(iterator, depth)`: one thread pulls from an iterator (a
  generator, a dataset's epoch) and keeps up to `depth` items ready;
- `OrderedFetcher(fetch, keys, workers, depth)`: a pool of threads (or
  processes) calls `fetch(key)` for the keys in order, at most `depth` ahead,
  and hands the results back in key order (Keras' `OrderedEnqueuer`).

When input is faster than compute the next batch is always ready: the step
never waits on it. An exception raised while reading comes out of `next()`
in the consuming thread, with its traceback. `close()` stops the reader and
waits for the item in progress (bounded: it never abandons a thread inside
user code that it could still call).
"""

import collections
import contextlib
import queue
import threading

from numnet.backend.global_state import ThreadStack

_ITEM, _END, _ERROR = range(3)
_NO_KEY = object()

# The re-entrant locks this thread took, once per level held (a model's `turn_lock`, pushed
# by each `fit`, `evaluate` or `predict` call holding it): while the thread waits for a
# reader it steps aside from them, so that a reader whose batches call that model (a
# `PyDataset` making targets with it) can take its turn.
STEP_ASIDE = ThreadStack()


@contextlib.contextmanager
def waiting():
    """Context manager around a wait for a reader's threads: every level of the `STEP_ASIDE`
    locks is released meanwhile and taken back after."""
    levels = collections.Counter(map(id, STEP_ASIDE.items))
    locks = {id(lock): lock for lock in STEP_ASIDE.items}
    for key, count in levels.items():
        for _ in range(count):
            locks[key].release()
    try:
        yield
    finally:
        for key, count in levels.items():
            for _ in range(count):
                locks[key].acquire()


class Prefetcher:
    """Iterates `iterator` on a background thread, `depth` items ahead."""

    def __init__(self, iterator, depth=2, name="numnet-prefetch"):
        self._iterator = iterator
        self._queue = queue.Queue(maxsize=max(1, int(depth)))
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self):
        iterator = iter(self._iterator)
        try:
            while not self._stop.is_set():  # (checked before pulling: close() pulls no more)
                try:
                    item = next(iterator)
                except StopIteration:
                    self._put((_END, None))
                    return
                if not self._put((_ITEM, item)):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put((_ERROR, error))

    def _put(self, entry):
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        try:
            kind, value = self._queue.get_nowait()
        except queue.Empty:
            with waiting():
                kind, value = self._queue.get()
        if kind == _ITEM:
            return value
        self._finished = True
        if kind == _END:
            raise StopIteration
        raise value

    def pause(self):
        """Nothing to do: an iterator has no hooks that reading ahead could race with."""

    def close(self):
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        with waiting():
            self._thread.join()
        self._finished = True


class OrderedFetcher:
    """`fetch(key)` for each key, on `workers` threads (or processes), results in key order.

    Args:
        fetch: called with one key; for processes, a picklable top-level function.
        keys: an iterable of keys (e.g. batch indices), pulled as needed.
        workers: pool size (at least 1).
        depth: how many results may be computed ahead of the consumer.
        processes: use a process pool (`initializer(*initargs)` runs in each
            process first); a new pool starts after every `pause()`, from the
            parent's state at that time, as Keras' enqueuer does per epoch.
        post: applied to each result in the consuming thread (None: as is).
    """

    def __init__(self, fetch, keys, workers=1, depth=2, processes=False, initializer=None,
                 initargs=(), post=None):
        self._fetch = fetch
        self._keys = iter(keys)
        self._workers = max(1, int(workers))
        self._depth = max(1, int(depth))
        self._processes = processes
        self._initializer, self._initargs = initializer, initargs
        self._post = post
        self._pending = collections.deque()  # [key, future or None], in key order
        self._keys_done = False
        self._pool = None

    def _start_pool(self):
        import concurrent.futures  # (with multiprocessing: loaded when a pool is first needed)
        import multiprocessing

        if self._processes:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self._workers, mp_context=context, initializer=self._initializer,
                initargs=self._initargs)
        else:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self._workers, thread_name_prefix="numnet-fetch")

    def _top_up(self):
        if self._pool is None:
            self._start_pool()
        for entry in self._pending:
            if entry[1] is None:
                entry[1] = self._pool.submit(self._fetch, entry[0])
        while not self._keys_done and len(self._pending) < self._depth:
            key = next(self._keys, _NO_KEY)
            if key is _NO_KEY:
                self._keys_done = True
                break
            self._pending.append([key, self._pool.submit(self._fetch, key)])

    def __iter__(self):
        return self

    def __next__(self):
        self._top_up()
        if not self._pending:
            raise StopIteration
        _, future = self._pending.popleft()
        if future.done():
            result = future.result()
        else:
            with waiting():
                result = future.result()
        return result if self._post is None else self._post(result)

    def pause(self):
        """Stops all reading (cancelled keys are fetched again later); nothing runs after it."""
        import concurrent.futures

        for entry in self._pending:
            future = entry[1]
            if future is not None and future.cancel():
                entry[1] = None
        with waiting():
            for entry in self._pending:
                if entry[1] is not None:
                    concurrent.futures.wait([entry[1]])
            if self._processes and self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def close(self):
        self._keys_done = True
        if self._pool is not None:
            with waiting():
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()


__all__ = ["OrderedFetcher", "Prefetcher", "STEP_ASIDE", "waiting"]
