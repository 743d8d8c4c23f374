"""A model used from several threads at once gives each thread its own answers.

A compiled step computes in buffers of its own, so the model's calls, `fit`,
`evaluate`, `predict` and their one-batch forms take turns (`Model.turn_lock`).
Tapes, captures and scopes are per thread (`numnet.backend.global_state.ThreadStack`),
as TensorFlow's are: what one thread computes is never recorded by another's tape. A call
waiting for its reader threads steps aside (`numnet.models.prefetch.waiting`), so readers
whose batches call the model do not wait for the call that waits for them.
"""

import threading

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff.tape import GradientTape
from numnet.backend.global_state import ThreadStack

THREADS, CALLS = 4, 60


def _model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(5, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    return model


def _in_threads(work, count=THREADS):
    """Runs `work(i)` in `count` threads at once; re-raises the first error."""
    errors = []
    start = threading.Barrier(count)

    def run(i):
        try:
            start.wait()
            work(i)
        except BaseException as error:  # noqa: BLE001 (handed to the main thread)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]


CALLERS = {
    "model(x)": lambda model, x: np.asarray(model(x)),
    "model(x, training=False)": lambda model, x: np.asarray(model(x, training=False)),
    "predict": lambda model, x: model.predict(x, verbose=0),
    "predict_on_batch": lambda model, x: model.predict_on_batch(x),
}


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_concurrent_inference_gives_each_thread_its_own_outputs(caller):
    model = _model()
    rng = np.random.default_rng(0)
    inputs = [rng.random((32, 16), dtype=np.float32) for _ in range(THREADS)]
    call = CALLERS[caller]
    expected = [np.asarray(model(x, training=False)) for x in inputs]
    call(model, inputs[0])  # the first calls plan the replays
    call(model, inputs[0])
    wrong = [0] * THREADS

    def work(i):
        for _ in range(CALLS):
            wrong[i] += not np.array_equal(call(model, inputs[i]), expected[i])
    _in_threads(work)
    assert wrong == [0] * THREADS


def test_first_calls_from_several_threads_build_one_replay_that_stays_right():
    model = _model()  # nothing planned yet: the threads race to capture
    rng = np.random.default_rng(1)
    inputs = [rng.random((8, 16), dtype=np.float32) for _ in range(THREADS)]
    expected = [np.asarray(model(x, training=False)) for x in inputs]
    fresh = _model()
    wrong = [0] * THREADS

    def work(i):
        for _ in range(20):
            wrong[i] += not np.array_equal(fresh.predict(inputs[i], verbose=0), expected[i])
    _in_threads(work)
    assert wrong == [0] * THREADS
    assert len(fresh.predict_function.programs) == 1


def test_fit_in_one_thread_and_evaluate_of_another_model_in_others():
    x = np.random.default_rng(2).random((256, 16), dtype=np.float32)
    y = (x[:, 0] * 5).astype("int64") % 5
    alone = _model()
    alone.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
    trained, other = _model(), _model()
    expected = other.evaluate(x, y, verbose=0)
    results = {}

    def work(i):
        if i == 0:
            trained.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
        else:
            results[i] = [other.evaluate(x, y, verbose=0) for _ in range(10)]
    _in_threads(work, 3)
    # The same weights as training alone: no other thread's ops joined its steps.
    for a, b in zip(trained.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert all(value == expected for values in results.values() for value in values)


def test_a_tape_does_not_record_what_another_thread_computes():
    x = keras.Variable(np.float32(2.0))
    found = {}
    with GradientTape(persistent=True) as tape:
        def elsewhere():
            found["y"] = x * 3.0
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        here = x * 5.0
    assert tape.gradient(found["y"], x) is None
    assert float(tape.gradient(here, x)) == 5.0


def test_custom_object_scopes_are_per_thread():
    class Mine:
        pass
    seen = {}
    with keras.saving.custom_object_scope({"Mine": Mine}):
        thread = threading.Thread(
            target=lambda: seen.setdefault("other", keras.saving.get_registered_object("Mine")))
        thread.start()
        thread.join()
        seen["here"] = keras.saving.get_registered_object("Mine")
    assert seen == {"other": None, "here": Mine}


def test_a_thread_stack_is_a_list_of_its_own_in_each_thread():
    stack = ThreadStack("bottom")
    stack.append("top")
    seen = {}
    thread = threading.Thread(target=lambda: seen.update(items=list(stack), length=len(stack)))
    thread.start()
    thread.join()
    assert seen == {"items": ["bottom"], "length": 1}
    assert list(stack) == ["bottom", "top"] and stack[-1] == "top" and bool(stack)
    assert stack.pop() == "top"
    stack.remove("bottom")
    assert not stack and len(stack) == 0


def test_the_lock_is_left_behind_by_copies_and_reentrant():
    import copy
    model = _model()
    lock = model.turn_lock
    assert model.turn_lock is lock
    with lock:
        with model.turn_lock:  # re-entrant: a callback may call the model
            model(np.zeros((1, 16), np.float32))
    clone = copy.deepcopy(model)
    assert clone.turn_lock is not lock


# ------------------------------------------------ readers that call the model being fitted
def _finishes(work, seconds=60):
    """Runs `work()` in a thread; True when it ended (with no error) within `seconds`."""
    errors, thread = [], None

    def run():
        try:
            work()
        except BaseException as error:  # noqa: BLE001 (handed to the main thread)
            errors.append(error)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if errors:
        raise errors[0]
    return not thread.is_alive()


@pytest.mark.parametrize("workers", [1, 3])
def test_a_pydataset_whose_batches_call_the_model_being_fitted_does_not_wait_forever(workers):
    """Its reader threads take their turn while `fit` (or `evaluate`, `predict`) waits for a
    batch: the call does not hold the model against the reader it waits for."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)).astype("float32")
    model = _model()

    class Targets(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            rows = x[index * 16:(index + 1) * 16]
            return rows, np.argmax(model.predict(rows, verbose=0), axis=1)

    history = {}
    assert _finishes(lambda: history.update(model.fit(Targets(workers=workers), epochs=2,
                                                      verbose=0).history))
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()
    assert model.train_function.programs  # the steps were replayed, not eager
    assert _finishes(lambda: model.evaluate(Targets(workers=workers), verbose=0))
    predictions = []
    assert _finishes(lambda: predictions.append(model.predict(Targets(workers=workers),
                                                              verbose=0)))
    np.testing.assert_allclose(predictions[0], model.predict(x, batch_size=16, verbose=0),
                               rtol=1e-6)


def test_a_generator_that_calls_the_model_being_fitted_does_not_wait_forever():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 16)).astype("float32")
    model = _model()

    def batches():
        for index in range(4):
            rows = x[index * 16:(index + 1) * 16]
            yield rows, np.argmax(model(rows).numpy(), axis=1)
    assert _finishes(lambda: model.fit(batches(), epochs=1, verbose=0))


def test_waiting_steps_aside_from_every_level_and_takes_them_back():
    """`prefetch.waiting` releases each `STEP_ASIDE` lock as many times as it was pushed
    (a call inside a call holds the lock twice) and re-takes every level after."""
    from numnet.models.prefetch import STEP_ASIDE, waiting

    lock = threading.RLock()
    taken_meanwhile = []
    with lock, lock:
        STEP_ASIDE.append(lock)
        STEP_ASIDE.append(lock)
        try:
            with waiting():
                other = threading.Thread(target=lambda: taken_meanwhile.append(
                    lock.acquire(timeout=5) and (lock.release() or True)))
                other.start()
                other.join(10)
        finally:
            STEP_ASIDE.pop()
            STEP_ASIDE.pop()
        assert taken_meanwhile == [True]
        blocked = []
        probe = threading.Thread(target=lambda: blocked.append(lock.acquire(timeout=0.05)))
        probe.start()
        probe.join()
        assert blocked == [False]  # both levels are held again
    # Released exactly twice by the two `with`s: nothing is held now.
    assert lock.acquire(blocking=False)
    lock.release()
