"""The micro-batcher on its own: merging, splitting, waiting, failures (numnet.serve.batching)."""

import asyncio
import concurrent.futures
import threading
import time

import numpy as np
import pytest

from numnet.serve import FunctionModel, TensorSpec
from numnet.serve.batching import MicroBatcher


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
