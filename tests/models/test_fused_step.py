"""The fused training step gives the generic step's numbers, and steps aside when it must.

Every comparison trains the same model twice from the same seed: once with
the default `jit_compile="auto"` (fused) and once with `jit_compile=False`
(the tape-based generic step), then compares weights, optimizer state and
History. The Keras reference tests (test_reference_training.py) run both
paths against real Keras as well.
"""

import numpy as np
import pytest

import numnet as keras
from numnet.models import fused_step

TIGHT = dict(rtol=2e-5, atol=2e-6)


def _data(n=203, d=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng, rng.normal(size=(n, d)).astype(np.float32)


def _train(jit, layers, loss, optimizer, x, y, metrics=None, epochs=3, batch_size=32,
           seed=0, loss_weights=None, weighted_metrics=None, **fit_kwargs):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=x.shape[1:])] + layers())
    model.compile(optimizer=optimizer(), loss=loss, metrics=metrics, jit_compile=jit,
                  loss_weights=loss_weights, weighted_metrics=weighted_metrics)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, **fit_kwargs)
    return model, history


def _assert_same(fused, generic):
    (m1, h1), (m2, h2) = fused, generic
    assert m1._fused_step_reason is None, m1._fused_step_reason
    assert m2._fused_step_reason is not None
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, **TIGHT)
    for a, b in zip(m1.optimizer.get_weights(), m2.optimizer.get_weights()):
        np.testing.assert_allclose(a, b, **TIGHT)
    assert list(h1.history) == list(h2.history)
    for key in h1.history:
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def _both(*args, **kwargs):
    return _assert_same(_train("auto", *args, **kwargs), _train(False, *args, **kwargs))


def _dense(*specs, use_bias=True, prefix=None):
    def make():
        layers = list(prefix()) if prefix else []
        layers += [keras.layers.Dense(units, activation=act, use_bias=use_bias)
                   for units, act in specs]
        return layers
    return make


def _normalization(x):
    def make():
        layer = keras.layers.Normalization()
        layer.adapt(x)
        return [layer]
    return make


LOSS_CASES = {
    "mse": ("mse", (1, None), lambda r, n: r.normal(size=(n, 1)).astype(np.float32),
            ["RootMeanSquaredError", "mae"]),
    "mse_relu_out": ("mse", (3, "relu"), lambda r, n: r.normal(size=(n, 3)),
                     ["mse"]),
    "sparse_softmax": ("sparse_categorical_crossentropy", (4, "softmax"),
                       lambda r, n: r.integers(0, 4, n), ["accuracy"]),
    "sparse_logits": (keras.losses.SparseCategoricalCrossentropy(from_logits=True), (4, None),
                      lambda r, n: r.integers(0, 4, (n, 1)), ["accuracy"]),
    "categorical": ("categorical_crossentropy", (4, "softmax"),
                    lambda r, n: keras.utils.to_categorical(r.integers(0, 4, n), 4),
                    ["accuracy", "mse"]),
    "binary_sigmoid": ("binary_crossentropy", (2, "sigmoid"),
                       lambda r, n: r.integers(0, 2, (n, 2)).astype(np.float32),
                       ["accuracy", "AUC"]),
    "binary_logits": (keras.losses.BinaryCrossentropy(from_logits=True), (1, None),
                      lambda r, n: r.integers(0, 2, n), ["accuracy"]),
}


@pytest.mark.parametrize("case", list(LOSS_CASES))
@pytest.mark.parametrize("use_bias", [True, False])
def test_every_loss_matches_the_generic_step(case, use_bias):
    loss, last, targets, metrics = LOSS_CASES[case]
    rng, x = _data()
    y = targets(rng, len(x))
    layers = _dense((7, "relu"), (5, "tanh"), last, use_bias=use_bias,
                    prefix=_normalization(x))
    _both(layers, loss, keras.optimizers.Adam, x, y, metrics=metrics, validation_split=0.2)


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_sample_weights_and_weighted_metrics(case):
    loss, last, targets, metrics = LOSS_CASES[case]
    rng, x = _data()
    y = targets(rng, len(x))
    weights = rng.uniform(0, 2, len(x))
    weights[::7] = 0
    _both(_dense((7, "relu"), last), loss, keras.optimizers.Adam, x, y, metrics=metrics,
          weighted_metrics=metrics, sample_weight=weights, validation_split=0.2)


def test_class_weights():
    rng, x = _data()
    y = rng.integers(0, 3, len(x))
    _both(_dense((7, "relu"), (3, "softmax")), "sparse_categorical_crossentropy",
          keras.optimizers.SGD, x, y, metrics=["accuracy"], weighted_metrics=["accuracy"],
          class_weight={0: 0.5, 1: 2.0, 2: 1.0})


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear", None, "leaky_relu",
                                        "elu", "selu"])
@pytest.mark.parametrize("output_activation", [None, "same"])
def test_hidden_and_output_activations(activation, output_activation):
    rng, x = _data()
    x[:5] = 0  # zero rows: pre-activations exactly 0 on the first step (biases start at 0)
    y = rng.normal(size=(len(x), 2))
    last = activation if output_activation == "same" else None
    _both(_dense((6, activation), (5, activation), (2, last)), "mse",
          lambda: keras.optimizers.SGD(0.05, momentum=0.9), x, y)


@pytest.mark.parametrize("rates", [(0.3, 0.5), (0.0, 0.2), (0.9, 0.0)])
@pytest.mark.parametrize("seeded", [False, True])
def test_dropout_between_dense_layers(rates, seeded):
    rng, x = _data()
    y = rng.integers(0, 3, len(x))
    seeds = (11, 12) if seeded else (None, None)

    def layers():
        return [keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dropout(rates[0], seed=seeds[0]),
                keras.layers.Dense(7, activation="elu", use_bias=False),
                keras.layers.Dropout(rates[1], seed=seeds[1]),
                keras.layers.Dense(3, activation="softmax")]
    _both(layers, "sparse_categorical_crossentropy", keras.optimizers.Adam, x, y,
          metrics=["accuracy"], sample_weight=rng.uniform(0.5, 1.5, len(x)),
          validation_split=0.2)


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.SGD(0.1),
    lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.RMSprop(0.01),
    lambda: keras.optimizers.Adagrad(0.1),
    lambda: keras.optimizers.Nadam(0.01),
    lambda: keras.optimizers.Adam(amsgrad=True),
    lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),  # not a plain step: apply()
    lambda: keras.optimizers.Adam(clipnorm=0.1),
    lambda: keras.optimizers.SGD(0.1, global_clipnorm=0.1),
    lambda: keras.optimizers.Adam(use_ema=True),  # not packed: per-variable arrays
    lambda: keras.optimizers.SGD(0.1, gradient_accumulation_steps=2),
    lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.01, 3, 0.5)),
])
def test_every_optimizer_matches_the_generic_step(optimizer):
    rng, x = _data()
    y = rng.integers(0, 3, len(x))
    _both(_dense((8, "relu"), (3, "softmax")), "sparse_categorical_crossentropy", optimizer,
          x, y, metrics=["accuracy"])


def test_unpacked_optimizer_sees_shared_weight_blocks():
    # EMA keeps the optimizer from packing; the step then owns kernel+bias blocks.
    rng, x = _data()
    model, _ = _train("auto", _dense((8, "relu"), (1, None)), "mse",
                      lambda: keras.optimizers.Adam(use_ema=True), x,
                      rng.normal(size=(len(x), 1)), epochs=1)
    assert model._fused_step_reason is None
    dense = model.layers[0]
    assert dense.kernel.data.base is not None
    assert dense.kernel.data.base is dense.bias.data.base


@pytest.mark.parametrize("batch_size", [1, 7, 32, 500])
@pytest.mark.parametrize("shuffle", [True, False])
def test_batch_sizes_and_order(batch_size, shuffle):
    rng, x = _data(n=61)
    y = rng.normal(size=(61, 1))
    _both(_dense((5, "relu"), (1, None), prefix=_normalization(x)), "mse",
          keras.optimizers.Adam, x, y, batch_size=batch_size, shuffle=shuffle,
          validation_data=(x[:9], y[:9]), metrics=["RootMeanSquaredError"])


@pytest.mark.parametrize("prefix", ["flatten", "normalization", "none"])
def test_large_data_gathers_batch_by_batch(monkeypatch, prefix):
    monkeypatch.setattr(fused_step, "_EPOCH_GATHER_BYTES", 0)
    rng = np.random.default_rng(3)
    x = rng.random((90, 4, 3))
    if prefix == "flatten":
        layers = lambda: [keras.layers.Flatten()]  # noqa: E731
    elif prefix == "normalization":
        x = x.reshape(90, 12)
        layers = _normalization(x)
    else:
        x = x.reshape(90, 12)  # float64 input: cast per batch
        layers = None
    y = rng.integers(0, 3, 90)
    _both(_dense((6, "relu"), (3, "softmax"), prefix=layers), "sparse_categorical_crossentropy",
          keras.optimizers.SGD, x, y, batch_size=16, metrics=["accuracy"],
          sample_weight=rng.uniform(0.5, 1.5, 90))


def test_flatten_prefix_on_images_and_uint8_targets():
    rng = np.random.default_rng(4)
    x = rng.random((70, 5, 4)).astype(np.float32)
    y = rng.integers(0, 3, 70).astype(np.uint8)
    _both(_dense((6, "relu"), (3, "softmax"), prefix=lambda: [keras.layers.Flatten()]),
          "sparse_categorical_crossentropy", keras.optimizers.SGD, x, y,
          metrics=["accuracy"], validation_split=0.1)


def test_scalar_loss_weight():
    rng, x = _data()
    _both(_dense((5, "relu"), (1, None)), "mse", keras.optimizers.SGD, x,
          rng.normal(size=(len(x), 1)), loss_weights=0.5, metrics=["mse"])


def test_fit_continues_where_it_left_off():
    rng, x = _data()
    y = rng.normal(size=(len(x), 1))
    once, _ = _train("auto", _dense((5, "relu"), (1, None)), "mse", keras.optimizers.Adam,
                     x, y, epochs=2, shuffle=False)
    keras.utils.set_random_seed(0)
    twice = keras.Sequential([keras.Input(shape=(6,))] + _dense((5, "relu"), (1, None))())
    twice.compile(optimizer="adam", loss="mse")
    twice.fit(x, y, epochs=1, shuffle=False, verbose=0)
    twice.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert int(twice.optimizer.iterations) == int(once.optimizer.iterations) == 14
    for a, b in zip(once.get_weights(), twice.get_weights()):
        np.testing.assert_allclose(a, b, **TIGHT)


class _ReplaceWeights(keras.callbacks.Callback):
    """Replaces a kernel's array mid-epoch (as code assigning `.data` might)."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            kernel = self.model.layers[0].kernel
            kernel.data = kernel.data * 0.5


class _ReplaceWeightsAtEpochBegin(keras.callbacks.Callback):
    """The same, from an epoch hook only (no batch hooks to trigger a per-step look)."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            kernel = self.model.layers[0].kernel
            kernel.data = kernel.data * 0.5


class _RecordLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


@pytest.mark.parametrize("callback", [_ReplaceWeights, _ReplaceWeightsAtEpochBegin])
def test_replaced_weight_arrays_fall_back_to_the_generic_step(callback):
    rng, x = _data()
    y = rng.normal(size=(len(x), 1))
    fused = _train("auto", _dense((5, "relu"), (1, None)), "mse", keras.optimizers.Adam, x, y,
                   callbacks=[callback()])
    generic = _train(False, _dense((5, "relu"), (1, None)), "mse", keras.optimizers.Adam, x, y,
                     callbacks=[callback()])
    assert fused[0]._fused_step_reason == "a callback replaced weight arrays"
    for a, b in zip(fused[0].get_weights(), generic[0].get_weights()):
        np.testing.assert_allclose(a, b, **TIGHT)
    for key in fused[1].history:
        np.testing.assert_allclose(fused[1].history[key], generic[1].history[key], rtol=1e-5)


def test_batch_logs_seen_by_callbacks_match():
    rng, x = _data()
    y = rng.integers(0, 3, len(x))
    records = []
    for jit in ("auto", False):
        recorder = _RecordLogs()
        _train(jit, _dense((5, "relu"), (3, "softmax")), "sparse_categorical_crossentropy",
               keras.optimizers.SGD, x, y, metrics=["accuracy"], epochs=1,
               callbacks=[recorder])
        records.append(recorder.logs)
    assert len(records[0]) == len(records[1]) == 7
    for a, b in zip(*records):
        assert list(a) == list(b)
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5), key


def _reason(layers, loss="mse", y=None, **compile_kwargs):
    rng, x = _data(n=40)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(6,))] + layers)
    model.compile(optimizer="sgd", loss=loss, **compile_kwargs)
    model.fit(x, rng.normal(size=(40, 1)) if y is None else y, epochs=1, verbose=0)
    return model._fused_step_reason


@pytest.mark.parametrize("layers, loss, compile_kwargs, expected", [
    ([keras.layers.Dense(1)], "mse", {"jit_compile": False}, "turned off"),
    ([keras.layers.Dense(1)], "mse", {"run_eagerly": True}, "turned off"),
    ([keras.layers.Dense(3), keras.layers.Dropout(0.5, noise_shape=(None, 1)),
      keras.layers.Dense(1)], "mse", {}, "follows a Dense layer"),
    ([keras.layers.Dropout(0.5), keras.layers.Dense(1)], "mse", {}, "not plain preprocessing"),
    ([keras.layers.Dense(3), keras.layers.Dropout(0.5), keras.layers.Dropout(0.5),
      keras.layers.Dense(1)], "mse", {}, "follows a Dense layer"),
    ([keras.layers.Dense(3), keras.layers.Dropout(0.5)], "mse", {}, "follows a Dense layer"),
    ([keras.layers.Dense(1, kernel_regularizer="l2")], "mse", {}, "regularizer"),
    ([keras.layers.Dense(1, activation="softplus")], "mse", {}, "mean squared error after"),
    ([keras.layers.Dense(1)], "mae", {}, "loss 'mean_absolute_error'"),
    ([keras.layers.Dense(1, activation="sigmoid")],
     keras.losses.BinaryCrossentropy(label_smoothing=0.1), {}, "options"),
    ([keras.layers.Dense(1)], "binary_crossentropy", {}, "without logits"),
])
def test_models_it_does_not_cover_take_the_generic_step(layers, loss, compile_kwargs, expected):
    y = None if "binary" not in str(loss) and not isinstance(loss, keras.losses.Loss) else \
        np.random.default_rng(0).integers(0, 2, (40, 1)).astype(np.float32)
    reason = _reason(layers, loss, y, **compile_kwargs)
    assert reason is not None and expected in reason, reason


def test_custom_steps_and_functional_models_take_the_generic_step():
    rng, x = _data(n=40)
    y = rng.normal(size=(40, 1))

    class Custom(keras.Sequential):
        def train_step(self, data):
            return super().train_step(data)

    custom = Custom([keras.Input(shape=(6,)), keras.layers.Dense(1)])
    custom.compile(optimizer="sgd", loss="mse")
    custom.fit(x, y, verbose=0)
    assert "train_step" in custom._fused_step_reason

    inputs = keras.Input(shape=(6,))
    functional = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    functional.compile(optimizer="sgd", loss="mse")
    functional.fit(x, y, verbose=0)
    assert "Sequential" in functional._fused_step_reason


@pytest.mark.parametrize("jit_compile", ["auto", False])
def test_labels_out_of_range_fail_before_any_step(jit_compile):
    rng, x = _data(n=100)
    y = np.zeros(100, dtype=int)
    y[77] = 7  # in the third batch
    model = keras.Sequential([keras.Input(shape=(6,)),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  jit_compile=jit_compile)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"label value of 7, which is outside the valid "
                                         r"range \[0, 2\] .*shape \(100, 3\)"):
        model.fit(x, y, verbose=0)
    assert int(model.optimizer.iterations) == 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    y = np.zeros(100)
    y[50] = 1.5
    with pytest.raises(ValueError, match="label value of 1.5, which is not a whole number"):
        model.fit(x, y, verbose=0)


def test_the_textbook_models_are_fused():
    rng = np.random.default_rng(0)
    classifier = keras.Sequential([
        keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    classifier.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                       metrics=["accuracy"])
    classifier.fit(rng.random((64, 28, 28)), rng.integers(0, 10, 64), verbose=0)
    assert classifier._fused_step_reason is None

    x = rng.normal(size=(64, 8))
    norm = keras.layers.Normalization()
    norm.adapt(x)
    regressor = keras.Sequential([keras.layers.Input(shape=[8]), norm] +
                                 [keras.layers.Dense(50, activation="relu") for _ in range(3)] +
                                 [keras.layers.Dense(1)])
    regressor.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                      metrics=["RootMeanSquaredError"])
    regressor.fit(x, rng.normal(size=64), verbose=0)
    assert regressor._fused_step_reason is None


def test_weight_arrays_replaced_between_fits():
    # A replaced array (not an in-place assign) must be trained from its new values,
    # with the optimizer's packed buffers taking it back in.
    rng, x = _data()
    y = rng.normal(size=(len(x), 1))
    results = []
    for jit in ("auto", False):
        model, _ = _train(jit, _dense((5, "relu"), (1, None)), "mse", keras.optimizers.Adam,
                          x, y, epochs=1)
        kernel = model.layers[0].kernel
        kernel.data = kernel.data * 0.5
        model.fit(x, y, epochs=2, verbose=0)
        assert (model._fused_step_reason is None) == (jit == "auto")
        results.append(model.get_weights() + model.optimizer.get_weights())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **TIGHT)


def test_compile_resolves_and_saves_jit_compile_and_run_eagerly():
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert model.jit_compile is True and model.run_eagerly is False
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    assert model.jit_compile is False
    with pytest.warns(UserWarning, match="`jit_compile` cannot also be True"):
        model.compile(optimizer="sgd", loss="mse", run_eagerly=True, jit_compile=True)
    assert model.jit_compile is False
    config = model.get_compile_config()
    assert config["run_eagerly"] is True and config["jit_compile"] is False
    clone = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    clone.compile_from_config(config)
    assert clone.run_eagerly is True and clone.jit_compile is False
