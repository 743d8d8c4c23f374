"""Micro-batching: concurrent requests to one model run as one batch on a worker thread.

Requests queue in arrival order. A batch starts as soon as the model is free
and one of these holds: the queued rows fill `max_batch_size`; no other
request for the model is being received (the request handlers announce
themselves before they read their body), so waiting could only add latency;
or the oldest queued request has waited `batch_timeout` seconds. A lone
client therefore never waits, and under load the requests that arrive
while a batch runs form the next one. A request with more rows than
`max_batch_size` runs alone; requests are never split.

The model runs on the given executor (one worker thread), never on the
event loop, so the server keeps accepting and parsing requests meanwhile.
Each request gets its own rows of the batch's outputs back: the same values
as running it alone, up to float rounding (BLAS may order a batch's sums
differently from a single row's).
"""

import asyncio
import collections
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


class MicroBatcher:
    """Queues the requests of one model and runs them in batches.

    Args:
        model: a `LoadedModel`.
        executor: a `concurrent.futures.Executor` that runs the model (one thread).
        max_batch_size: the most rows in one batch; 1 turns batching off.
        batch_timeout: seconds the oldest request may wait for a fuller batch.
        on_batch: called on the event loop after each batch with
            `(model, rows, requests, seconds)`, for metrics.
    """

    def __init__(self, model, executor, max_batch_size=64, batch_timeout=0.002, on_batch=None):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}.")
        if batch_timeout < 0:
            raise ValueError(f"batch_timeout must be >= 0 seconds, got {batch_timeout}.")
        self.model = model
        self.max_batch_size = int(max_batch_size)
        self.batch_timeout = float(batch_timeout)
        self._executor = executor
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
        started = time.perf_counter()
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._infer, batch)
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
            self._on_batch(self.model, sum(item.rows for item in batch), len(batch),
                           time.perf_counter() - started)

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
