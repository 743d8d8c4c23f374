"""End-to-end training of the textbook models on real data, and the training-loop contract."""

import io
import contextlib

import numpy as np
import pytest

import numnet as keras


@pytest.fixture(scope="module")
def fashion_sample():
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data(sample=True)
    return (x_train / 255.0, y_train), (x_test / 255.0, y_test)


@pytest.fixture(scope="module")
def housing():
    data = keras.datasets.california_housing.fetch()
    rng = np.random.default_rng(42)
    index = rng.permutation(len(data.data))[:4000]
    return data.data[index], data.target[index]


def textbook_classifier():
    return keras.Sequential([
        keras.layers.Input(shape=[28, 28]),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def test_textbook_classifier_learns_real_fashion_mnist(fashion_sample):
    (x_train, y_train), (x_test, y_test) = fashion_sample
    keras.utils.set_random_seed(42)
    model = textbook_classifier()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, validation_split=0.1, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.params == {"verbose": 0, "epochs": 5, "steps": 85}
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.70, accuracy  # chance is 0.10
    probabilities = model.predict(x_test[:7], verbose=0)
    assert probabilities.shape == (7, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_textbook_regressor_learns_real_california_housing(housing):
    x, y = housing
    x_train, y_train, x_test, y_test = x[:3000], y[:3000], x[3000:], y[3000:]
    keras.utils.set_random_seed(42)
    norm_layer = keras.layers.Normalization(input_shape=x_train.shape[1:])
    model = keras.Sequential([norm_layer] + [keras.layers.Dense(50, activation="relu")
                                             for _ in range(3)] + [keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  metrics=["RootMeanSquaredError"])
    norm_layer.adapt(x_train)
    history = model.fit(x_train, y_train, epochs=8, validation_data=(x_test, y_test), verbose=0)
    assert sorted(history.history) == ["RootMeanSquaredError", "loss",
                                       "val_RootMeanSquaredError", "val_loss"]
    mse, rmse = model.evaluate(x_test, y_test, verbose=0)
    assert np.isclose(rmse, np.sqrt(mse), rtol=1e-4)
    assert rmse < 0.75, rmse  # predicting the mean gives about 1.15


def test_fit_continues_where_it_left_off():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5], dtype="float32")

    def make():
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        return m

    once = make()
    once.fit(x, y, epochs=4, verbose=0, shuffle=False)
    twice = make()
    twice.fit(x, y, epochs=2, verbose=0, shuffle=False)
    history = twice.fit(x, y, epochs=4, initial_epoch=2, verbose=0, shuffle=False)
    assert history.epoch == [2, 3]
    for a, b in zip(once.get_weights(), twice.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert int(twice.optimizer.iterations) == 4 * 2


def test_on_batch_methods_and_direct_call():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(4, activation="relu", input_shape=(3,)),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(1).normal(size=(8, 3))
    y = np.array([0, 1] * 4)
    before = model.test_on_batch(x, y)
    result = model.train_on_batch(x, y, return_dict=True)
    assert set(result) == {"loss", "accuracy"}
    assert np.isclose(result["loss"], before[0], rtol=1e-5)  # logs are from before the update
    after = model.test_on_batch(x, y)
    assert after[0] < before[0]
    np.testing.assert_allclose(model.predict_on_batch(x), np.asarray(model(x)), rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict_on_batch(x), rtol=1e-6)


def test_sample_and_class_weights_change_the_loss():
    x = np.eye(4, dtype="float32")
    y = np.array([0, 1, 0, 1])
    model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(4,),
                                                 kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    base = model.evaluate(x, y, verbose=0)
    assert np.isclose(base, np.log(2), rtol=1e-6)
    weighted = model.evaluate(x, y, sample_weight=np.array([1.0, 0.0, 1.0, 0.0]), verbose=0)
    assert np.isclose(weighted, np.log(2) / 2, rtol=1e-6)  # sum_over_batch_size
    history = model.fit(x, y, class_weight={0: 2.0, 1: 0.0}, epochs=1, batch_size=4, verbose=0,
                        shuffle=False)
    assert np.isclose(history.history["loss"][0], np.log(2), rtol=1e-6)


def test_validation_split_takes_the_last_samples_before_shuffling():
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            seen.append(batch)

    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10, dtype="float32")
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, validation_split=0.3, epochs=1, batch_size=2, verbose=0,
                        callbacks=[Spy()])
    assert history.params["steps"] == 4  # 7 training samples
    assert seen == [0, 1]  # 3 validation samples in batches of 2
    expected_val = model.evaluate(x[7:], y[7:], verbose=0, batch_size=2)
    assert np.isclose(history.history["val_loss"][0], expected_val, rtol=1e-6)


def test_verbose_outputs_match_keras_format():
    x = np.zeros((64, 3), dtype="float32")
    y = np.zeros(64, dtype="int64")
    model = keras.Sequential([keras.layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.fit(x, y, epochs=2, verbose=2, validation_data=(x, y))
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2"
    assert lines[1].startswith("2/2 - ")
    assert "/step - accuracy: " in lines[1] and lines[1].endswith(" - val_loss: " + lines[1].split("val_loss: ")[1])
    assert [k.split(":")[0] for k in lines[1].split(" - ")[3:]] == [
        "accuracy", "loss", "val_accuracy", "val_loss"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.fit(x, y, epochs=1, verbose=1)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text  # not a terminal: whole lines only
    assert text.startswith("2/2 ━━━━━━━━━━━━━━━━━━━━ ")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.fit(x, y, epochs=1, verbose=0)
        model.predict(x, verbose=0)
    assert out.getvalue() == ""


def test_custom_training_loop_with_gradient_tape():
    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).normal(size=(32, 2)).astype("float32")
    y = (x[:, :1] * 3 - 1).astype("float32")
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    loss_fn = keras.losses.MeanSquaredError()
    for _ in range(100):
        with keras.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel.ravel(), [3, 0], atol=1e-2)
    np.testing.assert_allclose(bias, [-1], atol=1e-2)


def test_regularization_losses_are_added():
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,), kernel_initializer="ones",
                                                 kernel_regularizer=keras.regularizers.L2(0.5))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((4, 2), dtype="float32")
    y = np.zeros((4, 1), dtype="float32")
    assert np.isclose(model.evaluate(x, y, verbose=0), 0.5 * 2, rtol=1e-6)
    assert len(model.losses) == 1


def test_validation_in_fit_gives_the_same_numbers_as_evaluate_in_small_batches():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    x_val = rng.normal(size=(1500, 6)).astype("float32")
    y_val = (x_val[:, 0] > 0).astype("int64")
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(6,),
                                                 kernel_regularizer="l2"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=1)])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x_val, y_val))
    expected = model.evaluate(x_val, y_val, batch_size=32, verbose=0, return_dict=True)
    for key, value in expected.items():
        assert np.isclose(history.history[f"val_{key}"][0], value, rtol=1e-5), key


class _RecordingModel(keras.Sequential):
    """Records the first feature of every training batch (generic step)."""

    seen = None

    def train_step(self, data):
        self.seen.append([int(v) for v in np.asarray(data[0])[:, 0]])
        return super().train_step(data)


@pytest.mark.parametrize("steps_per_epoch, batches, warnings_expected", [
    # Observed with Keras 3.15 (TensorFlow backend), 10 samples, batch_size=2, 3 epochs:
    # an epoch continues the current pass over the data; a pass that runs out ends it.
    (3, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [0, 1], [2, 3], [4, 5]], 1),
    (7, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]] * 3, 3),
    (None, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]] * 3, 0),
])
def test_steps_per_epoch_continues_the_pass_over_the_data(steps_per_epoch, batches,
                                                          warnings_expected):
    x = np.arange(10, dtype="float32").reshape(-1, 1)
    model = _RecordingModel([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.seen = []
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns() if warnings_expected else contextlib.nullcontext() as record:
        history = model.fit(x, x, batch_size=2, epochs=3, steps_per_epoch=steps_per_epoch,
                            shuffle=False, verbose=0)
    assert model.seen == batches
    assert history.epoch == [0, 1, 2]
    if warnings_expected:
        ran_out = [w for w in record if "ran out of data" in str(w.message)]
        assert len(ran_out) == warnings_expected


def test_steps_per_epoch_is_the_same_on_the_compiled_step():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 4)), rng.normal(size=(48, 1))  # 6 batches: 2 epochs a pass
    weights = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),
                                  keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=8, epochs=4, steps_per_epoch=3, verbose=0)
        assert bool(model.train_function.programs) == (jit == "auto")
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_per_class_metric_results_in_fit_logs(tmp_path):
    # R2Score(class_aggregation=None) returns one value per output: Keras keeps the
    # array in History, shows its mean on the progress bar and writes "[a, b]" to CSV.
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 3)), rng.random((40, 2))
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse", metrics=[keras.metrics.R2Score(class_aggregation=None)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = model.fit(x, y, epochs=1, verbose=2, validation_split=0.25,
                            callbacks=[keras.callbacks.CSVLogger(tmp_path / "log.csv")])
    scores = history.history["r2_score"][0]
    assert scores.shape == (2,)
    assert f"r2_score: {scores.mean():.4f}" in out.getvalue()
    row = (tmp_path / "log.csv").read_text().splitlines()[1]
    assert '"""[' + ", ".join(map(str, scores)) + ']"""' in row
    loss, per_class = model.evaluate(x, y, verbose=0)
    assert per_class.shape == (2,)


class _CountingModel(keras.Sequential):
    """Counts test steps (compiled eagerly: a replay does not call `test_step`)."""
    test_steps = 0

    def compile(self, **kwargs):
        super().compile(jit_compile=False, **kwargs)

    def test_step(self, data):
        self.test_steps += 1
        return super().test_step(data)


class _WatchValidationBatches(keras.callbacks.Callback):
    def on_test_batch_end(self, batch, logs=None):
        pass


@pytest.mark.parametrize("verbose, callbacks, steps", [
    (0, [], 1), (1, [], 1), (2, [], 1),  # the progress bar ignores validation batches in fit
    (2, [_WatchValidationBatches()], 10),  # a callback watching them gets Keras' batches
])
def test_validation_runs_in_big_chunks_unless_batches_are_watched(verbose, callbacks, steps):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 1))
    model = _CountingModel([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(x, y, batch_size=10, epochs=1, verbose=verbose, callbacks=callbacks,
                  validation_data=(x, y))
    assert model.test_steps == steps


def test_progress_bar_logs_are_only_computed_when_drawn(monkeypatch):
    # Not a terminal: the bar draws once per epoch, so fit computes the batch logs once.
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 1))
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    calls = []
    original = type(model).get_metrics_result
    monkeypatch.setattr(type(model), "get_metrics_result",
                        lambda self: calls.append(1) or original(self))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.fit(x, y, batch_size=10, epochs=2, verbose=1)
    assert len(calls) == 2 * 2  # per epoch: the last batch's bar and the epoch's logs
    assert out.getvalue().count("10/10") == 2


def test_silent_evaluate_runs_in_big_chunks_with_the_same_numbers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = keras.utils.to_categorical(rng.integers(0, 3, 300), 3)
    model = _CountingModel([keras.Input(shape=(3,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=["accuracy", "AUC"])
    silent = model.evaluate(x, y, verbose=0)
    assert model.test_steps == 1
    with contextlib.redirect_stdout(io.StringIO()):
        shown = model.evaluate(x, y, verbose=1)
    assert model.test_steps == 1 + 10  # batch_size 32, as Keras shows them
    np.testing.assert_allclose(silent, shown, rtol=1e-6)
