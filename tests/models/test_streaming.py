"""Streamed input: generators, PyDatasets, re-iterable datasets and memory-mapped arrays.

Each streamed input gives the same batches as some in-memory call, so the
tests compare: a model trained on the stream against the same model trained
on the arrays, with the same batches in the same order, must end with the
same weights (the kernels are the same; only where the rows come from
differs). Keras 3.15.1's behaviour (PyDataset hooks, running out of data,
the arguments a stream refuses) is stated where it is tested.
"""

import math
import threading
import time
import warnings

import numpy as np
import pytest

import numnet as keras
from numnet.models.data_adapter import NonFiniteDataWarning
from numnet.models.prefetch import OrderedFetcher, Prefetcher

N, FEATURES, BATCH = 50, 4, 16  # 4 batches a pass: the last one holds 2 rows


def _data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.25]], "float32") + 0.1).astype("float32")
    return x, y


def _model(seed=0, normalize=False, jit_compile=True):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape=[FEATURES])]
    if normalize:
        norm = keras.layers.Normalization()
        norm.adapt(_data()[0])
        layers.append(norm)
    layers += [keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(1)]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"],
                  jit_compile=jit_compile)
    return model


def _batches(x, y=None, sw=None, batch=BATCH):
    for start in range(0, len(x), batch):
        rows = slice(start, start + batch)
        parts = (x[rows],) + tuple(a[rows] for a in (y, sw) if a is not None)
        yield parts if len(parts) > 1 else parts[0]


def _assert_same_weights(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def _fit_arrays(epochs=2, **kwargs):
    x, y = _data()
    model = _model(**kwargs)
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
    return model, history


# --------------------------------------------------------------- generators
def test_a_generator_trains_like_the_same_batches_in_memory():
    x, y = _data()
    expected, expected_history = _fit_arrays(epochs=3)

    def forever():
        while True:
            yield from _batches(x, y)
    model = _model()
    with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored"):
        history = model.fit(forever(), steps_per_epoch=math.ceil(N / BATCH), epochs=3,
                            verbose=0)
    _assert_same_weights(model, expected)
    assert history.history == expected_history.history
    assert model.compiled_reason is None and model.train_function.programs


def test_a_generator_without_steps_runs_one_pass_then_reports_running_out():
    """Keras learns a generator's length from its first pass; a second pass has no data."""
    x, y = _data()
    expected, _ = _fit_arrays(epochs=1)
    model = _model()
    with pytest.warns(UserWarning, match="Your input ran out of data; interrupting training"):
        history = model.fit(_batches(x, y), epochs=3, shuffle=False, verbose=0)
    assert history.epoch == [0]
    _assert_same_weights(model, expected)


def test_a_generator_that_runs_out_mid_epoch_ends_that_epoch_and_training():
    x, y = _data()
    model = _model()
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        history = model.fit(_batches(x, y), steps_per_epoch=3, epochs=5, shuffle=False,
                            verbose=0)
    assert history.epoch == [0, 1]  # 3 batches, then the 4th and last


def test_generators_with_sample_weights_evaluate_and_predict_like_arrays():
    x, y = _data()
    sw = np.linspace(0.5, 2.0, N).astype("float32")
    a, b = _model(), _model()
    a.fit(x, y, sample_weight=sw, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    b.fit((batch for _ in range(2) for batch in _batches(x, y, sw)), steps_per_epoch=4,
          epochs=2, shuffle=False, verbose=0)
    _assert_same_weights(a, b)
    # (steps: a silent evaluate of arrays would otherwise use chunks of 1,024)
    assert a.evaluate(x, y, batch_size=BATCH, steps=4, verbose=0) == \
        b.evaluate(_batches(x, y), verbose=0)
    np.testing.assert_array_equal(a.predict(x, batch_size=BATCH, verbose=0),
                                  b.predict(_batches(x), verbose=0))
    # (x, y) batches for predict: y is ignored, as in Keras
    np.testing.assert_array_equal(a.predict(x, batch_size=BATCH, verbose=0),
                                  b.predict(_batches(x, y), verbose=0))
    assert b.predict(_batches(x), steps=2, verbose=0).shape == (2 * BATCH, 1)


def test_streamed_batches_hoist_nothing_and_keep_per_epoch_work_per_epoch():
    """With a Normalization, in-memory data hoists the normalization out of the step; a
    stream cannot (there is no whole data), and must give the same numbers."""
    x, y = _data()
    expected = _model(normalize=True)
    expected.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    assert any(p.stats["hoisted"] for p in expected.train_function.programs)
    model = _model(normalize=True)
    model.fit((b for _ in range(3) for b in _batches(x, y)), steps_per_epoch=4, epochs=3,
              shuffle=False, verbose=0)
    programs = model.train_function.programs
    assert programs and all(p.stats["hoisted"] == 0 for p in programs)
    for u, v in zip(model.get_weights(), expected.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def test_a_bad_batch_is_reported_with_its_position():
    x, y = _data()

    def batches(last):
        yield from list(_batches(x, y))[:2]
        yield last
    with pytest.raises(ValueError, match=r"`x` \(generator\), batch 2: Invalid input shape for "
                                         r"input '\w+' of model '\w+' in fit\(\): expected shape "
                                         r"\(None, 4\) .* incompatible shape \(4, 4, 2\)"):
        _model().fit(batches((np.stack([x[:4]] * 2, axis=-1), y[:4])), epochs=1, shuffle=False,
                     verbose=0)
    # Sizes may vary from batch to batch (as in Keras) where the model's inputs allow it;
    # where they do not, the layer says so.
    with pytest.raises(ValueError, match=r"'dense_\d+' \(Dense\) is incompatible with the layer: "
                                         r"expected last axis of size 4, received input with "
                                         r"shape \(4, 3\)"):
        _model().fit(batches((x[:4, :3], y[:4])), epochs=1, shuffle=False, verbose=0)

    def with_nan():
        bad = x[:4].copy()
        bad[1, 2] = np.nan
        yield bad, y[:4]
    with pytest.warns(NonFiniteDataWarning, match=r"`x` contains 1 NaN"):  # as for arrays
        _model().fit(with_nan(), epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=r"batch 0: a batch must be a tuple"):
        _model().fit(iter(["not a batch"]), epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="must yield at least one batch"):
        _model().fit(iter([]), epochs=1, shuffle=False, verbose=0)


def test_what_a_generator_refuses_as_in_keras():
    x, y = _data()
    for kwargs, message in (({"sample_weight": y[:, 0]}, "`sample_weights` should not be "),
                            ({"class_weight": {0: 1.0}}, "`class_weight` is not supported"),
                            ({"validation_split": 0.2}, "`validation_split` is only supported")):
        with pytest.raises(ValueError, match=message):
            _model().fit(_batches(x, y), verbose=0, shuffle=False, **kwargs)


def test_generator_validation_data_gives_the_arrays_numbers():
    x, y = _data()
    xv, yv = _data(n=20, seed=1)
    a, b = _model(), _model()
    ha = a.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
               validation_data=(xv, yv), validation_batch_size=BATCH)

    def validation():
        while True:
            yield from _batches(xv, yv)
    hb = b.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
               validation_data=validation(), validation_steps=2)
    assert ha.history == hb.history


# ---------------------------------------------------------------- PyDataset
class Batches(keras.utils.PyDataset):
    """The arrays in batches; records which batches were read and the epoch hooks."""

    def __init__(self, x, y, batch_size=BATCH, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.read, self.epochs_begun, self.epochs_ended = [], 0, 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        self.read.append(int(index))
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]

    def on_epoch_begin(self):
        self.epochs_begun += 1

    def on_epoch_end(self):
        self.epochs_ended += 1


@pytest.mark.parametrize("workers, processes", [(0, False), (1, False), (3, False), (2, True)])
def test_a_pydataset_trains_like_the_arrays_with_any_workers(workers, processes):
    x, y = _data()
    expected, expected_history = _fit_arrays(epochs=2)
    data = Batches(x, y, workers=workers, use_multiprocessing=processes, max_queue_size=2)
    model = _model()
    history = model.fit(data, epochs=2, shuffle=False, verbose=0)
    _assert_same_weights(model, expected)
    assert history.history == expected_history.history
    assert data.epochs_begun == data.epochs_ended == 2
    if not processes:  # the first batch is read once more to build the model
        assert data.read == [0] + [0, 1, 2, 3] * 2


def test_a_pydataset_is_shuffled_by_batch_each_epoch_with_the_global_seed():
    x, y = _data(n=160)
    first, second = Batches(x, y), Batches(x, y)
    _model(seed=4).fit(first, epochs=3, verbose=0)
    _model(seed=4).fit(second, epochs=3, verbose=0)
    epochs = [first.read[1 + 10 * e: 11 + 10 * e] for e in range(3)]
    assert all(sorted(e) == list(range(10)) for e in epochs)   # every batch once an epoch
    assert epochs[0] != list(range(10)) and epochs[0] != epochs[1]
    assert first.read == second.read  # keras.utils.set_random_seed makes it reproducible


def test_an_endless_pydataset_needs_steps_per_epoch():
    x, y = _data()

    class Endless(Batches):
        num_batches = None

        def __getitem__(self, index):
            return super().__getitem__(index % 4)
    with pytest.raises(ValueError, match="has no length.*steps_per_epoch"):
        _model().fit(Endless(x, y), epochs=1, verbose=0, shuffle=False)
    expected, _ = _fit_arrays(epochs=2)
    model = _model()
    with pytest.warns(UserWarning, match="infinite PyDataset"):
        model.fit(Endless(x, y), steps_per_epoch=4, epochs=2, verbose=0)
    _assert_same_weights(model, expected)


def test_pydataset_without_super_init_warns_and_uses_the_defaults():
    class Lazy(keras.utils.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

        def __getitem__(self, index):
            return _data(n=8)
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        _model().fit(Lazy(), epochs=1, verbose=0)
    assert keras.utils.Sequence is keras.utils.PyDataset


def test_pydataset_validation_and_steps_per_epoch_spanning_epochs():
    """steps_per_epoch=3 of 4 batches: epoch 2 takes batch 3, then the pass ends and so does
    the epoch, with Keras' warning (Keras 3.15.1's EpochIterator does the same); epoch 3
    starts a new pass. (workers=0: no batch is read ahead, so `read` is exactly what
    was used.)"""
    x, y = _data()
    xv, yv = _data(n=20, seed=1)
    train, val = Batches(x, y, workers=0), Batches(xv, yv, workers=0)
    model = _model()
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        history = model.fit(train, steps_per_epoch=3, epochs=3, shuffle=False, verbose=0,
                            validation_data=val)
    assert train.read == [0, 0, 1, 2, 3, 0, 1, 2]
    assert val.read == [0] + [0, 1] * 3 and val.epochs_ended == 3
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}


def test_a_failing_getitem_is_raised_with_its_own_traceback():
    x, y = _data()

    class Broken(Batches):
        def __getitem__(self, index):
            if index == 2:
                raise KeyError("no batch 2 here")
            return super().__getitem__(index)
    for workers in (0, 1, 3):
        with pytest.raises(KeyError, match="no batch 2 here"):
            _model().fit(Broken(x, y, workers=workers), epochs=1, shuffle=False, verbose=0)


# ------------------------------------------------------------ memory maps
def _memmaps(tmp_path, x, y):
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")


def test_memory_mapped_arrays_train_evaluate_and_predict_like_in_memory(tmp_path):
    x, y = _data()
    xm, ym = _memmaps(tmp_path, x, y)
    a, b = _model(), _model()
    keras.utils.set_random_seed(7)
    ha = a.fit(x, y, batch_size=BATCH, epochs=3, verbose=0)  # shuffled: the same permutation
    keras.utils.set_random_seed(7)
    hb = b.fit(xm, ym, batch_size=BATCH, epochs=3, verbose=0)
    _assert_same_weights(a, b)
    assert ha.history == hb.history
    assert all(p.stats["hoisted"] == 0 for p in b.train_function.programs)
    assert a.evaluate(x, y, verbose=0) == b.evaluate(xm, ym, verbose=0)
    np.testing.assert_array_equal(a.predict(x, batch_size=BATCH, verbose=0),
                                  b.predict(xm, batch_size=BATCH, verbose=0))
    # validation split of a memory map: views of the file, read batch by batch
    keras.utils.set_random_seed(7)
    hv = _model().fit(xm, ym, batch_size=BATCH, epochs=1, verbose=0, validation_split=0.2)
    keras.utils.set_random_seed(7)
    hx = _model().fit(x, y, batch_size=BATCH, epochs=1, verbose=0, validation_split=0.2)
    assert hv.history == hx.history


def test_memory_mapped_bytes_are_cast_batch_by_batch(tmp_path):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 255, size=(40, FEATURES), dtype=np.uint8)
    _, y = _data(n=40)
    xm, ym = _memmaps(tmp_path, images, y)
    assert xm.dtype == np.uint8
    a, b = _model(), _model()
    a.fit(images.astype("float32"), y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    b.fit(xm, ym, batch_size=8, epochs=2, shuffle=False, verbose=0)
    _assert_same_weights(a, b)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_in_a_memory_map_is_found_in_its_batch(tmp_path):
    x, y = _data()
    x[37, 1] = np.inf
    xm, ym = _memmaps(tmp_path, x, y)
    model = _model()
    with pytest.warns(NonFiniteDataWarning, match=r"`x` contains 1 NaN or infinite value"):
        model.fit(xm, ym, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    # predict keeps NaN rows, with a warning, as for in-memory data
    with pytest.warns(UserWarning, match="NaN"):
        model.predict(xm, verbose=0)


# ------------------------------------------------------------ re-iterables
class Epochs:
    """A re-iterable dataset: each iter() is one pass (like a DataLoader)."""

    def __init__(self, x, y):
        self.x, self.y, self.passes = x, y, 0

    def __len__(self):
        return math.ceil(len(self.x) / BATCH)

    def __iter__(self):
        self.passes += 1
        return _batches(self.x, self.y)


def test_a_reiterable_dataset_is_one_pass_per_epoch():
    x, y = _data()
    expected, expected_history = _fit_arrays(epochs=3)
    data = Epochs(x, y)
    model = _model()
    with pytest.warns(UserWarning, match="will be ignored since the data `x` was provided as a "
                                         "dataset"):
        history = model.fit(data, epochs=3, verbose=0)
    assert data.passes == 3
    _assert_same_weights(model, expected)
    assert history.history == expected_history.history


# ------------------------------------------------------------- read-ahead
def test_the_prefetcher_reads_ahead_and_stops():
    produced = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i
    reader = Prefetcher(source(), depth=3)
    assert next(reader) == 0
    deadline = time.monotonic() + 10
    while len(produced) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(produced) == 5  # one taken, three waiting, one blocked on the full queue
    reader.close()
    assert len(produced) == 5


def test_the_ordered_fetcher_keeps_key_order_with_many_workers():
    def slow_square(i):
        time.sleep(0.01 * ((7 * i) % 5))
        return i * i, threading.current_thread().name
    results = list(OrderedFetcher(slow_square, range(20), workers=4, depth=6))
    assert [r for r, _ in results] == [i * i for i in range(20)]
    assert len({name for _, name in results}) > 1


def test_reading_overlaps_the_steps():
    """Input as fast as compute: with read-ahead an epoch takes ~one of them, not both."""
    x, y = _data(n=8 * 12)
    delay = 0.03

    class SlowRead(Batches):
        def __getitem__(self, index):
            time.sleep(delay)
            return super().__getitem__(index)

    class SlowStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(delay)
    model = _model()
    model.fit(SlowRead(x, y, batch_size=8), epochs=1, verbose=0, shuffle=False)  # build
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(SlowRead(x, y, batch_size=8), epochs=1, verbose=0, shuffle=False,
                  callbacks=[SlowStep()])
    elapsed = time.perf_counter() - start
    assert elapsed < 0.75 * 2 * 12 * delay, elapsed  # serial would take 24 delays


# ------------------------------------------------- bounded memory, enforced
_BOUNDED_SCRIPT = r"""
import json, resource, sys
import numpy as np
import numnet as keras
path, labels, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])

def status_mib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

# The budget is what training may allocate beyond the imports (whose address space,
# OpenBLAS' buffers and the like, is most of 100 MiB and varies with the machine).
limit = int(status_mib("VmData:") * 2**20) + budget
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
anonymous_at_start = status_mib("RssAnon:")

def anonymous_mib():
    return status_mib("RssAnon:") - anonymous_at_start

class Peak(keras.callbacks.Callback):
    peak = 0.0
    def on_train_batch_end(self, batch, logs=None):
        Peak.peak = max(Peak.peak, anonymous_mib())

x = np.load(path, mmap_mode="r")
y = np.load(labels)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input(shape=x.shape[1:]), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
before = [w.copy() for w in model.get_weights()]
history = model.fit(x, y, batch_size=1024, epochs=1, verbose=0, callbacks=[Peak()])
try:
    np.array(x)  # the whole file in memory: the limit must refuse it
    copied = True
except MemoryError:
    copied = False
print(json.dumps({"loss": history.history["loss"], "peak_anonymous_mib": Peak.peak,
                  "moved": any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())),
                  "whole_copy_allowed": copied}))
"""


def test_training_on_a_memory_map_four_times_larger_than_the_memory_limit(tmp_path):
    """A 512 MiB float32 .npy file, trained on (shuffled) in a process that may allocate
    128 MiB beyond its imports. The limit is RLIMIT_DATA: it bounds everything the process
    allocates (heap, NumPy arrays, thread stacks), but not the file mapping, whose pages are
    the page cache's. (RLIMIT_AS counts the mapping itself, so a file larger than it cannot
    even be opened.) Set after the imports: their address space alone is about 100 MiB, so
    a limit from the start left the training a margin that a busy machine could exhaust."""
    import json
    import os
    import subprocess
    import sys

    rows, features, limit = 131_072, 1024, 128 * 2**20
    path = tmp_path / "big.npy"
    try:
        data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                         shape=(rows, features))
        rng = np.random.default_rng(0)
        for start in range(0, rows, 16_384):
            data[start:start + 16_384] = rng.random((16_384, features), dtype=np.float32)
        data.flush()
        del data
        np.save(tmp_path / "y.npy", rng.random((rows, 1), dtype=np.float32))
        assert path.stat().st_size >= 4 * limit
        # (one BLAS thread: OpenBLAS reserves a buffer of its own per thread)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        done = subprocess.run([sys.executable, "-c", _BOUNDED_SCRIPT, str(path),
                               str(tmp_path / "y.npy"), str(limit)],
                              capture_output=True, text=True, timeout=300, env=env)
    finally:
        path.unlink(missing_ok=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print("bounded-memory run:", result)
    assert result["moved"] and np.isfinite(result["loss"][0])
    assert not result["whole_copy_allowed"]
    assert result["peak_anonymous_mib"] < limit / 2**20


def test_a_two_input_model_reads_dicts_from_a_generator_and_predicts_from_a_pydataset():
    x, y = _data()
    xa, xb = x[:, :2], x[:, 2:]

    def model():
        keras.utils.set_random_seed(0)
        a, b = keras.Input(shape=[2], name="a"), keras.Input(shape=[2], name="b")
        out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
        net = keras.Model({"a": a, "b": b}, out)
        net.compile(optimizer="sgd", loss="mse")
        return net
    expected, streamed = model(), model()
    expected.fit({"a": xa, "b": xb}, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)

    def batches():
        for _ in range(2):
            for start in range(0, N, BATCH):
                rows = slice(start, start + BATCH)
                yield {"b": xb[rows], "a": xa[rows]}, y[rows]
    streamed.fit(batches(), steps_per_epoch=4, epochs=2, shuffle=False, verbose=0)
    _assert_same_weights(streamed, expected)

    class Inputs(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            rows = slice(index * BATCH, (index + 1) * BATCH)
            return ({"a": xa[rows], "b": xb[rows]},)
    np.testing.assert_array_equal(streamed.predict(Inputs(), verbose=0),
                                  expected.predict({"a": xa, "b": xb}, batch_size=BATCH,
                                                   verbose=0))
