"""The micro-batcher on its own: merging, splitting, waiting, failures (numnet.serve.batching)."""

import asyncio
import concurrent.futures
import threading
import time

import numpy as np
import pytest

from numnet.serve import FunctionModel, TensorSpec
from numnet.serve.batching import MicroBatcher, ModelRunner


class RecordingModel(FunctionModel):
    """y = 2x + row sum; records the batch sizes it ran and the threads it ran on."""

    def __init__(self, delay=0.0, fail=False, trailing=(3,)):
        super().__init__(self._compute, "rec", 1, [TensorSpec("x", "float32", (None,) + trailing)],
                         [TensorSpec("y", "float32", (None,) + trailing)])
        self.delay, self.fail = delay, fail
        self.batches, self.threads = [], set()

    def _compute(self, inputs):
        x = inputs["x"]
        self.batches.append(len(x))
        self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise FloatingPointError("the model broke")
        return {"y": 2 * x + x.reshape(len(x), -1).sum(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))}


def _expected(x):
    return 2 * x + x.reshape(len(x), -1).sum(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))


async def _with_batcher(model, body, **kwargs):
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    batches = []
    batcher = MicroBatcher(model, executor, on_batch=lambda *info: batches.append(info[1:3]),
                           **kwargs)
    batcher.start()
    try:
        return await body(batcher), batches
    finally:
        await batcher.stop()
        executor.shutdown()


def _requests(rng, sizes, trailing=(3,)):
    return [rng.standard_normal((n,) + trailing).astype(np.float32) for n in sizes]


def test_concurrent_requests_merge_and_split_back(rng):
    model = RecordingModel(delay=0.05)
    inputs = _requests(rng, [1, 2, 1, 3, 1, 1])

    async def body(batcher):
        first = asyncio.ensure_future(batcher.predict({"x": inputs[0]}, 1))
        await asyncio.sleep(0.01)  # the first batch is running: the rest queue behind it
        rest = [batcher.predict({"x": x}, len(x)) for x in inputs[1:]]
        return await asyncio.gather(first, *rest)

    results, batches = asyncio.run(_with_batcher(model, body, max_batch_size=64))
    assert model.batches == [1, 8]
    assert batches == [(1, 1), (8, 5)]  # (rows, requests) per batch, as reported to metrics
    for x, out in zip(inputs, results):
        assert out["y"].shape == x.shape
        np.testing.assert_array_equal(out["y"], _expected(x))  # elementwise: exact
    assert threading.get_ident() not in model.threads  # never on the event loop's thread


def test_batches_respect_the_maximum_and_order(rng):
    model = RecordingModel(delay=0.02)
    inputs = _requests(rng, [1, 3, 3, 2, 1, 5, 1])

    async def body(batcher):
        first = asyncio.ensure_future(batcher.predict({"x": inputs[0]}, 1))
        await asyncio.sleep(0.005)
        return await asyncio.gather(first, *[batcher.predict({"x": x}, len(x))
                                             for x in inputs[1:]])

    results, _ = asyncio.run(_with_batcher(model, body, max_batch_size=6))
    # 3+3 fill a batch; 2+1 leave no room for 5, which leads the next batch with 1.
    assert model.batches == [1, 6, 3, 6]
    for x, out in zip(inputs, results):
        np.testing.assert_array_equal(out["y"], _expected(x))


def test_an_oversized_request_runs_alone(rng):
    model = RecordingModel()
    x = rng.standard_normal((10, 3)).astype(np.float32)

    async def body(batcher):
        return await batcher.predict({"x": x}, 10)

    out, _ = asyncio.run(_with_batcher(model, body, max_batch_size=4))
    assert model.batches == [10]
    np.testing.assert_array_equal(out["y"], _expected(x))


def test_batch_size_one_turns_batching_off(rng):
    model = RecordingModel(delay=0.01)
    inputs = _requests(rng, [1] * 5)

    async def body(batcher):
        return await asyncio.gather(*[batcher.predict({"x": x}, 1) for x in inputs])

    results, _ = asyncio.run(_with_batcher(model, body, max_batch_size=1))
    assert model.batches == [1] * 5
    for x, out in zip(inputs, results):
        np.testing.assert_array_equal(out["y"], _expected(x))


def test_different_trailing_shapes_never_merge(rng):
    model = RecordingModel(delay=0.02, trailing=(None,))
    inputs = _requests(rng, [1], (2,)) + _requests(rng, [1], (3,)) + _requests(rng, [1], (2,)) + \
        _requests(rng, [1], (3,))

    async def body(batcher):
        first = asyncio.ensure_future(batcher.predict({"x": inputs[0]}, 1))
        await asyncio.sleep(0.005)
        return await asyncio.gather(first, *[batcher.predict({"x": x}, 1) for x in inputs[1:]])

    results, _ = asyncio.run(_with_batcher(model, body, max_batch_size=8))
    # Behind the first, the queue is (3,), (2,), (3,): the (3,) pair runs, then the (2,).
    assert model.batches == [1, 2, 1]
    assert [out["y"].shape for out in results] == [(1, 2), (1, 3), (1, 2), (1, 3)]
    for x, out in zip(inputs, results):
        np.testing.assert_array_equal(out["y"], _expected(x))


def test_a_lone_request_does_not_wait_for_the_timeout(rng):
    model = RecordingModel()
    x = _requests(rng, [1])[0]

    async def body(batcher):
        started = time.perf_counter()
        await batcher.predict({"x": x}, 1)
        return time.perf_counter() - started

    elapsed, _ = asyncio.run(_with_batcher(model, body, max_batch_size=64, batch_timeout=60.0))
    assert elapsed < 30.0  # nothing else was being received, so the 60 s timeout never applied


def test_a_batch_waits_for_requests_being_received(rng):
    model = RecordingModel()
    inputs = _requests(rng, [1, 1])

    async def late(batcher):
        with batcher.receiving():  # this request's body is still arriving
            await asyncio.sleep(0.1)
        return await batcher.predict({"x": inputs[1]}, 1)

    async def body(batcher):
        late_task = asyncio.ensure_future(late(batcher))
        await asyncio.sleep(0.01)
        return await asyncio.gather(batcher.predict({"x": inputs[0]}, 1), late_task)

    _, batches = asyncio.run(_with_batcher(model, body, max_batch_size=64, batch_timeout=5.0))
    assert model.batches == [2]

    # ... but no longer than the timeout: here the other request never finishes arriving
    # before the first one is answered.
    model = RecordingModel()

    async def body_timeout(batcher):
        arrived = asyncio.Event()

        async def slow():
            with batcher.receiving():
                await arrived.wait()
            return await batcher.predict({"x": inputs[1]}, 1)
        slow_task = asyncio.ensure_future(slow())
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await batcher.predict({"x": inputs[0]}, 1)
        waited = time.perf_counter() - started
        arrived.set()
        await slow_task
        return waited

    waited, _ = asyncio.run(_with_batcher(model, body_timeout, max_batch_size=64,
                                          batch_timeout=0.05))
    assert model.batches == [1, 1]
    assert waited >= 0.045  # it did wait for the timeout


def test_a_failing_model_fails_its_requests_and_the_batcher_carries_on(rng):
    model = RecordingModel(fail=True)
    x = _requests(rng, [1])[0]

    async def body(batcher):
        with pytest.raises(FloatingPointError, match="the model broke"):
            await batcher.predict({"x": x}, 1)
        model.fail = False
        return await batcher.predict({"x": x}, 1)

    out, _ = asyncio.run(_with_batcher(model, body))
    np.testing.assert_array_equal(out["y"], _expected(x))


def test_stop_finishes_queued_requests(rng):
    model = RecordingModel(delay=0.05)
    inputs = _requests(rng, [1, 1, 1])

    async def main():
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        batcher = MicroBatcher(model, executor, max_batch_size=1)
        batcher.start()
        tasks = [asyncio.ensure_future(batcher.predict({"x": x}, 1)) for x in inputs]
        await asyncio.sleep(0.01)
        await batcher.stop()
        executor.shutdown()
        return [task.result() for task in tasks]

    results = asyncio.run(main())
    for x, out in zip(inputs, results):
        np.testing.assert_array_equal(out["y"], _expected(x))


def test_arguments_are_checked():
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    with pytest.raises(ValueError, match="max_batch_size must be at least 1"):
        MicroBatcher(RecordingModel(), executor, max_batch_size=0)
    with pytest.raises(ValueError, match="batch_timeout must be >= 0"):
        MicroBatcher(RecordingModel(), executor, batch_timeout=-1)
    executor.shutdown()


# ------------------------------------------------------------------ where calls run
class BusyModel(RecordingModel):
    """A compute-bound model: it burns `cpu_seconds` of CPU time per call (no sleeping)."""

    compute_bound = True

    def __init__(self, cpu_seconds=0.0):
        super().__init__()
        self.cpu_seconds = cpu_seconds

    def _compute(self, inputs):
        started = time.thread_time()
        while time.thread_time() - started < self.cpu_seconds:
            pass
        return super()._compute(inputs)


async def _with_runner(models, body, inline_seconds):
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    runner = ModelRunner(executor, inline_seconds)
    places = []
    batchers = [MicroBatcher(model, runner, on_batch=lambda *info: places.append(info[-1]))
                for model in models]
    for batcher in batchers:
        batcher.start()
    try:
        return await body(*batchers), places, runner
    finally:
        for batcher in batchers:
            await batcher.stop()
        executor.shutdown()


def _sequential(x, times):
    async def body(batcher):
        return [await batcher.predict({"x": x}, len(x)) for _ in range(times)]
    return body


def test_short_calls_of_a_compute_bound_model_run_on_the_event_loop(rng):
    model = BusyModel()
    x = _requests(rng, [2])[0]
    results, places, runner = asyncio.run(_with_runner([model], _sequential(x, 4), 0.05))
    # The first call of a size has no estimate yet: the worker thread; then the loop.
    assert places == [False, True, True, True]
    assert threading.get_ident() in model.threads and len(model.threads) == 2
    assert 0 <= runner.estimate(model, 2) < 0.05
    for out in results:
        np.testing.assert_array_equal(out["y"], _expected(x))


def test_long_calls_and_other_models_stay_on_the_worker_thread(rng):
    x = _requests(rng, [1])[0]
    slow = BusyModel(cpu_seconds=0.03)  # compute-bound, but over the 10 ms limit
    _, places, runner = asyncio.run(_with_runner([slow], _sequential(x, 3), 0.01))
    assert places == [False] * 3 and runner.estimate(slow, 1) >= 0.03
    sleepy = RecordingModel()  # not compute_bound: its CPU time says nothing of its time
    _, places, _ = asyncio.run(_with_runner([sleepy], _sequential(x, 3), 10.0))
    assert places == [False] * 3
    assert threading.get_ident() not in slow.threads | sleepy.threads
    fast = BusyModel()
    _, places, _ = asyncio.run(_with_runner([fast], _sequential(x, 3), 0.0))  # 0: never
    assert places == [False] * 3


def test_no_call_runs_inline_while_another_is_on_the_worker_thread(rng):
    x = _requests(rng, [1])[0]
    slow, fast = RecordingModel(delay=0.2), BusyModel()

    async def body(slow_batcher, fast_batcher):
        for _ in range(2):  # the fast model's estimate: known and short
            await fast_batcher.predict({"x": x}, 1)
        running = asyncio.ensure_future(slow_batcher.predict({"x": x}, 1))
        await asyncio.sleep(0.05)  # the slow call is on the worker thread now
        await fast_batcher.predict({"x": x}, 1)
        waited_for_slow = running.done()
        await running
        await fast_batcher.predict({"x": x}, 1)
        return waited_for_slow

    waited, places, _ = asyncio.run(_with_runner([slow, fast], body, 1.0))
    # fast, fast (inline), slow (thread), fast queued behind it (thread), fast (inline)
    assert places == [False, True, False, False, True]
    assert waited  # the fast call ran after the slow one, never beside it


def test_a_model_failing_on_the_event_loop_fails_its_requests_only(rng):
    model = BusyModel()
    x = _requests(rng, [1])[0]

    async def body(batcher):
        await batcher.predict({"x": x}, 1)  # on the worker thread: the estimate is known
        model.fail = True
        with pytest.raises(FloatingPointError, match="the model broke"):
            await batcher.predict({"x": x}, 1)
        model.fail = False
        return await batcher.predict({"x": x}, 1)

    out, places, _ = asyncio.run(_with_runner([model], body, 1.0))
    assert places == [False, True]  # the failed batch reports nothing to the metrics
    assert model.batches == [1, 1, 1] and threading.get_ident() in model.threads
    np.testing.assert_array_equal(out["y"], _expected(x))


def test_runner_arguments_are_checked():
    with pytest.raises(ValueError, match="inline_seconds must be >= 0"):
        ModelRunner(None, -1)
