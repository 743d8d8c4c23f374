"""What a new user meets first: epochs, shapes, NaN, splits and data of the wrong kind.

Each behaviour follows what Keras 3.15.1 does with the same call (checked in the
reference environment when this was written), except where numnet is
deliberately stricter and says why: `epochs=-1`, and targets wider than the
output (Keras silently broadcasts a `Dense(1)` output against `(n, 2)` targets
under `mse`).
"""

import warnings

import numpy as np
import pytest

import numnet as keras
from numnet.callbacks import Callback, History


def _model(units=3, inputs=4, jit_compile=True, loss="mse", seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=[inputs]), keras.layers.Dense(units)])
    model.compile(optimizer="sgd", loss=loss, jit_compile=jit_compile)
    return model


def _data(n=100, inputs=4, units=3):
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, inputs)).astype("float32"),
            rng.normal(size=(n, units)).astype("float32"))


# ------------------------------------------------------------------ epochs
def test_zero_epochs_return_an_empty_history():
    model = _model()
    before = model.get_weights()
    history = model.fit(*_data(), epochs=0, verbose=0)
    assert isinstance(history, History) and history is model.history
    assert history.history == {} and history.epoch == []
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("epochs", [-1, 1.5, True, "2"])
def test_bad_epochs_are_refused(epochs):
    with pytest.raises(ValueError, match=r"`epochs` must be a non-negative integer"):
        _model().fit(*_data(), epochs=epochs, verbose=0)


# ------------------------------------------------------------ target shapes
@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "mae"])
def test_targets_wider_than_the_output_name_loss_output_and_shapes(loss, jit_compile):
    model = _model(units=1, jit_compile=jit_compile, loss=loss)
    x, y = _data(units=2)
    name = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}.get(loss, loss)
    output = model.layers[-1].name
    with pytest.raises(ValueError, match=rf"'{name}' of output '{output}'.*`y` has shape "
                                         r"\(None, 2\).*output has shape \(None, 1\)"):
        model.fit(x, np.abs(y) / 4, epochs=1, verbose=0)


def test_targets_that_broadcast_onto_the_output_still_train_as_in_keras():
    x, y = _data(units=1)
    _model(units=3).fit(x, y, epochs=1, verbose=0)  # (n, 1) targets, (n, 3) output
    # A custom loss may take targets of any shape: no check applies to it.
    model = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: keras.ops.mean(
        keras.ops.square(y_pred - y_true[:, :1]), axis=-1))
    model.fit(x, np.concatenate([y, y], axis=1), epochs=1, verbose=0)


# --------------------------------------------------------------------- NaN
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NumPy's own
@pytest.mark.parametrize("jit_compile", [True, False])
def test_predict_with_nan_inputs_returns_nan_rows_like_keras(jit_compile):
    model = _model(jit_compile=jit_compile)
    x, _ = _data()
    clean = model.predict(x, verbose=0)
    x[[3, 40], 1] = np.nan
    x[77, 0] = np.inf
    with pytest.warns(UserWarning, match="3 NaN or infinite value"):
        out = model.predict(x, batch_size=16, verbose=0)
    bad = np.zeros(len(x), bool)
    bad[[3, 40, 77]] = True
    assert not np.isfinite(out[bad]).any()
    np.testing.assert_array_equal(out[~bad], clean[~bad])
    with pytest.warns(UserWarning, match="NaN"):
        assert np.isnan(model.predict_on_batch(x[:5])[3]).all()


def test_nan_messages_name_the_call():
    model = _model()
    x, y = _data()
    x[0, 0] = np.nan
    # Keras accepts NaN data; numnet warns, naming the call (see test_bad_input.py).
    from numnet.models.data_adapter import NonFiniteDataWarning
    with pytest.warns(NonFiniteDataWarning, match="before training"):
        model.fit(x, y, verbose=0)
    with pytest.warns(NonFiniteDataWarning, match="before evaluating"):
        model.evaluate(x, y, verbose=0)
    clean, _ = _data()
    with pytest.warns(NonFiniteDataWarning,
                      match=r"`validation_data\[0\]` contains 1 .*before validating"):
        model.fit(clean, y, validation_data=(x, y), verbose=0)


# ------------------------------------------------------------ input shapes
def test_one_dimensional_x_for_an_input_of_shape_one_as_in_keras():
    """The classic first example, `y = 2x - 1` with `Input(shape=[1])` and a 1-D `x`."""
    xs = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 4.0], dtype="float32")
    ys = 2 * xs - 1
    flat, column = _model(units=1, inputs=1), _model(units=1, inputs=1)
    flat.fit(xs, ys, epochs=5, verbose=0, shuffle=False)
    column.fit(xs[:, None], ys, epochs=5, verbose=0, shuffle=False)
    for a, b in zip(flat.get_weights(), column.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert flat.predict(np.array([10.0]), verbose=0).shape == (1, 1)
    assert flat.evaluate(xs, ys, verbose=0) == column.evaluate(xs[:, None], ys, verbose=0)


def test_inputs_of_the_wrong_rank_raise_as_in_keras():
    model = _model()
    with pytest.raises(ValueError, match=r"expected shape \(None, 4\).*shape \(4,\).*x\[None\]"):
        model.predict(np.ones(4, "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"expected shape \(None, 4\).*\(50, 2, 4\)"):
        model.predict(np.ones((50, 2, 4), "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"in fit\(\).*\(50, 2, 4\)"):
        model.fit(np.ones((50, 2, 4)), np.ones((50, 3)), verbose=0)
    x, _ = _data()
    # A trailing axis of size 1 goes, as Keras squeezes it.
    np.testing.assert_array_equal(model.predict(x[:, :, None], verbose=0),
                                  model.predict(x, verbose=0))


# --------------------------------------------------------- validation split
def test_validation_split_leaving_no_training_sample_raises_like_keras():
    with pytest.raises(ValueError, match=r"Training data contains 100 samples, which is not "
                                         r"sufficient.*validation_split=0.999"):
        _model().fit(*_data(), validation_split=0.999, verbose=0)


class _CountBatches(Callback):
    def __init__(self):
        super().__init__()
        self.train = self.val = 0

    def on_train_batch_end(self, batch, logs=None):
        self.train += 1

    def on_test_batch_end(self, batch, logs=None):
        self.val += 1


def test_validation_split_sizes_follow_keras():
    """Keras trains on floor(n * (1 - split)) samples: 7 of 10 for 0.25 (3 validate)."""
    counter = _CountBatches()
    x, y = _data(n=10)
    _model().fit(x, y, validation_split=0.25, batch_size=1, epochs=1, verbose=0,
                 callbacks=[counter])
    assert (counter.train, counter.val) == (7, 3)


# -------------------------------------------------------------- data kinds
def test_a_generator_with_y_says_the_targets_belong_in_the_generator():
    """Generators are read (tests/models/test_streaming.py); `y` beside one is refused as in Keras."""
    x, y = _data()
    with pytest.raises(ValueError, match=r"When providing `x` as a generator, `y` should not be "
                                         r"passed"):
        _model().evaluate(iter([x]), y, verbose=0)


def test_a_dict_for_a_sequential_model_says_what_it_takes():
    x, y = _data()
    with pytest.raises(ValueError, match=r"Sequential model '.*' takes one input array of "
                                         r"shape \(None, 4\), but `x` is a dict with keys \['a'\]"):
        _model().fit({"a": x}, y, verbose=0)


def test_a_one_element_list_or_tuple_is_the_single_input():
    x, y = _data()
    model = _model()
    expected = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict([x], verbose=0), expected)
    np.testing.assert_array_equal(model.predict((x,), verbose=0), expected)
    a, b = _model(seed=3), _model(seed=3)
    a.fit(x, y, epochs=1, verbose=0, shuffle=False)
    b.fit((x,), y, epochs=1, verbose=0, shuffle=False)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_an_object_that_is_not_data_names_its_type():
    with pytest.raises(ValueError, match=r"`x` must be array data; received a object"):
        _model().predict(object())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _model().predict(np.zeros((2, 4), "float32"), verbose=0)  # clean data: no warning
