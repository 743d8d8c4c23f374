"""Micro-batching: concurrent requests to one model run as one batch on a worker thread.

Requests queue in arrival order. A batch starts as soon as the model is free
and one of these holds: the queued rows fill `max_batch_size`; no other
request for the model is being received (the request handlers announce
themselves before they read their body), so waiting could only add latency;
or the oldest queued request has waited `batch_timeout` seconds. A lone
client therefore never waits, and under load the requests that arrive
while a batch runs form the next one. A request with more rows than
`max_batch_size` runs alone; requests are never split.

Batches run through a `ModelRunner`, which all of an app's batchers share
so that only one model call runs at a time. A call runs on the runner's
worker thread, so the event loop keeps accepting and parsing requests
meanwhile, unless the model is compute-bound and its recent calls of that
size took less CPU time than the runner's `inline_seconds`: then it runs on
the event loop itself. That spares the hand-offs between the threads, which
cost more than such a call: two wake-ups the OS may delay on a busy machine,
and the worker thread waiting for the GIL while the loop parses requests.
The loop is then busy for at most about that long, as it is when it parses
a large request body; requests arriving meanwhile wait in the socket
buffers and form the next batch.

Each request gets its own rows of the batch's outputs back: the same values
as running it alone, up to float rounding (BLAS may order a batch's sums
differently from a single row's).
"""

import asyncio
import collections
import concurrent.futures
import time

import numpy as np


class _Pending:
    __slots__ = ("inputs", "rows", "future", "signature", "arrived")

    def __init__(self, inputs, rows, future, arrived):
        self.inputs = inputs
        self.rows = rows
        self.future = future
        self.arrived = arrived
        # Requests merge only when every input has the same trailing shape and dtype.
        self.signature = tuple((name, a.shape[1:], a.dtype.str) for name, a in inputs.items())


class ModelRunner:
    """Runs model calls one at a time, inline when they are known to be short.

    numnet models keep global state while they run (the autodiff recorders),
    so two calls must never overlap: the worker thread runs one call at a
    time, and a call runs inline only while no call is on the worker thread
    (the inline call then holds the loop until it returns).

    How long a call takes is judged by the CPU time of the thread that ran
    it, not by the clock: on the worker thread a call also waits for the GIL
    while the loop parses requests, and for a CPU on a busy machine
    (measured there: 20-row batches of the textbook classifier took 9 ms by
    the clock for ~0.3 ms of work), so by the clock such a call would never
    look short enough to come back to the loop. CPU
    time tells how long a call holds the loop only for a model whose calls
    compute on the calling thread, so only models that say so
    (`LoadedModel.compute_bound`) ever run inline.

    Args:
        executor: a `concurrent.futures.Executor` with one worker thread.
        inline_seconds: a call of a compute-bound model runs on the event loop
            when its recent calls with about as many rows (the same power of
            two) took less CPU time than this; 0 never runs a call inline.
    """

    # How much each call moves the estimate for its size (an exponentially
    # weighted mean: one slow call, say a cold cache, is soon forgotten).
    SMOOTHING = 0.25

    def __init__(self, executor, inline_seconds=0.0):
        if inline_seconds < 0:
            raise ValueError(f"inline_seconds must be >= 0, got {inline_seconds}.")
        self.executor = executor
        self.inline_seconds = float(inline_seconds)
        self._on_thread = 0
        self._seconds = {}  # (id(model), rows.bit_length()) -> smoothed CPU seconds per call

    def _inline(self, model, key):
        if self._on_thread or not getattr(model, "compute_bound", False):
            return False
        estimate = self._seconds.get(key)
        return estimate is not None and estimate < self.inline_seconds

    async def run(self, model, function, rows):
        """(`function()`, whether it ran inline): a call of `model` on `rows` rows."""
        key = (id(model), rows.bit_length())
        inline = self._inline(model, key)
        if inline:
            result, seconds = _timed(function)
        else:
            self._on_thread += 1
            try:
                result, seconds = await asyncio.get_running_loop().run_in_executor(
                    self.executor, _timed, function)
            finally:
                self._on_thread -= 1
        estimate = self._seconds.get(key)
        self._seconds[key] = seconds if estimate is None else \
            estimate + self.SMOOTHING * (seconds - estimate)
        return result, inline

    def estimate(self, model, rows):
        """The CPU seconds a call of `model` on `rows` rows is expected to take (None: unknown)."""
        return self._seconds.get((id(model), rows.bit_length()))


def _timed(function):
    """(`function()`, the CPU seconds this thread spent in it)."""
    started = time.thread_time()
    result = function()
    return result, time.thread_time() - started


class MicroBatcher:
    """Queues the requests of one model and runs them in batches.

    Args:
        model: a `LoadedModel`.
        runner: the `ModelRunner` that runs the model (shared by an app's
            batchers), or a `concurrent.futures.Executor` with one thread
            (every call then runs on it).
        max_batch_size: the most rows in one batch; 1 turns batching off.
        batch_timeout: seconds the oldest request may wait for a fuller batch.
        on_batch: called on the event loop after each batch with
            `(model, rows, requests, seconds, inline)`, for metrics.
    """

    def __init__(self, model, runner, max_batch_size=64, batch_timeout=0.002, on_batch=None):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}.")
        if batch_timeout < 0:
            raise ValueError(f"batch_timeout must be >= 0 seconds, got {batch_timeout}.")
        self.model = model
        self.max_batch_size = int(max_batch_size)
        self.batch_timeout = float(batch_timeout)
        if isinstance(runner, concurrent.futures.Executor):
            runner = ModelRunner(runner)
        self._runner = runner
        self._on_batch = on_batch
        self._queue = collections.deque()
        self._queued_rows = 0
        self._receiving = 0
        self._busy = False
        self._wakeup = None  # set when the queue gains a request (wakes the idle task)
        self._more = None  # while a batch waits for more requests: resolved to stop waiting
        self._task = None

    def start(self):
        """Starts the batching task on the running event loop."""
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self):
        """Runs what is queued and the batch in progress, then stops the batching task."""
        if self._task is None:
            return
        while (self._queue or self._busy) and not self._task.done():
            await asyncio.sleep(0.001)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    def receiving(self):
        """A context manager around receiving and parsing one request, before `predict`.

        While any request is announced this way and the queued rows do not
        fill a batch, a ready batch waits for it (at most `batch_timeout`).
        Leave the block before awaiting `predict`.
        """
        return _Receiving(self)

    async def predict(self, inputs, rows):
        """This request's outputs `{name: array}`; `inputs` is `{name: array with `rows` rows}`."""
        if self._task is None:
            raise RuntimeError("The batcher is not running; call start() first.")
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(inputs, rows, future, time.perf_counter()))
        self._queued_rows += rows
        self._wakeup.set()
        self._stop_waiting_if_pointless()
        return await future

    async def _run(self):
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._wait_for_more()
                batch = self._take_batch()
                if batch:
                    await self._run_batch(batch)

    async def _run_batch(self, batch):
        self._busy = True
        rows = sum(item.rows for item in batch)
        started = time.perf_counter()
        try:
            outputs, inline = await self._runner.run(self.model, lambda: self._infer(batch),
                                                     rows)
        except BaseException as error:  # every request of the batch learns what happened
            failure = error if isinstance(error, Exception) else \
                RuntimeError("The server stopped before the model answered.")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(failure)
            if not isinstance(error, Exception):
                raise
            return
        finally:
            self._busy = False
        self._deliver(batch, outputs)
        if self._on_batch is not None:
            self._on_batch(self.model, rows, len(batch), time.perf_counter() - started, inline)

    def _worth_waiting(self):
        return self._receiving > 0 and self._queued_rows < self.max_batch_size

    def _stop_waiting_if_pointless(self):
        if self._more is not None and not self._worth_waiting():
            _resolve(self._more)

    async def _wait_for_more(self):
        """Holds the batch while requests are being received, up to the oldest's deadline."""
        if self.batch_timeout <= 0 or self.max_batch_size == 1 or not self._worth_waiting():
            return
        remaining = self._queue[0].arrived + self.batch_timeout - time.perf_counter()
        if remaining <= 0:
            return
        loop = asyncio.get_running_loop()
        self._more = loop.create_future()
        timer = loop.call_later(remaining, _resolve, self._more)
        try:
            await self._more  # one wake-up per batch, not one per arriving request
        finally:
            timer.cancel()
            self._more = None

    def _take_batch(self):
        first = self._queue.popleft()
        batch, rows = [first], first.rows
        skipped = []
        while self._queue and rows < self.max_batch_size:
            item = self._queue.popleft()
            if item.signature == first.signature and rows + item.rows <= self.max_batch_size:
                batch.append(item)
                rows += item.rows
            else:
                skipped.append(item)
                if item.signature == first.signature:
                    break  # too many rows for this batch: it leads the next one
        self._queue.extendleft(reversed(skipped))
        self._queued_rows -= rows
        return [item for item in batch if not item.future.done()]  # drop cancelled requests

    def _infer(self, batch):
        if len(batch) == 1:
            return self.model.predict(batch[0].inputs)
        names = batch[0].inputs.keys()
        merged = {name: np.concatenate([item.inputs[name] for item in batch]) for name in names}
        return self.model.predict(merged)

    @staticmethod
    def _deliver(batch, outputs):
        start = 0
        for item in batch:
            stop = start + item.rows
            if not item.future.done():
                item.future.set_result({name: out[start:stop] for name, out in outputs.items()})
            start = stop


def _resolve(future):
    if not future.done():
        future.set_result(None)


class _Receiving:
    __slots__ = ("batcher",)

    def __init__(self, batcher):
        self.batcher = batcher

    def __enter__(self):
        self.batcher._receiving += 1
        return self

    def __exit__(self, *exc_info):
        self.batcher._receiving -= 1
        self.batcher._stop_waiting_if_pointless()
        return False
