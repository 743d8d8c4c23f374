"""The rewrites a regressor's compiled step gets, against the eager step and NumPy.

- `share_batch_sums`: an MSE metric's running mean adds the loss's unscaled sum;
- `widen_relu_gradients`: a relu's gradient (and the input-gradient product making it)
  runs over the whole `[x, 1]` rows of the relu's output;
- the gathered rows of a hoisted Normalization are fed into the whole `[x, 1]` rows.

Weights and logged numbers must equal the eager ones bit for bit, and the metrics also
match NumPy's, computed here from the predictions.
"""

import numpy as np
import pytest

import numnet as keras

RNG = np.random.default_rng(5)
X = RNG.normal(size=(203, 6)).astype("float32")  # 12 full batches of 16 and one of 11
Y3 = np.stack([X[:, 0] * 2 + X[:, 1], X[:, 2] - X[:, 3], X[:, 4] * X[:, 5]], 1)


def _regressor(jit, outputs=1, activation="relu", norm=False, lr=1e-2, units=(9, 7)):
    keras.utils.set_random_seed(3)
    layers = [keras.Input((6,))]
    if norm:
        normalization = keras.layers.Normalization()
        normalization.adapt(X)
        layers.append(normalization)
    layers += [keras.layers.Dense(n, activation=activation) for n in units]
    layers.append(keras.layers.Dense(outputs))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", jit_compile=jit,
                  metrics=["RootMeanSquaredError", "mse"])
    return model


def _fit_both(outputs=1, epochs=3, batch_size=16, **kwargs):
    runs = []
    for jit in ("auto", False):
        model = _regressor(jit, outputs=outputs, **kwargs)
        history = model.fit(X, Y3[:, :outputs], batch_size=batch_size, epochs=epochs,
                            verbose=0)
        runs.append((model, history.history))
    (compiled, logs), (eager, eager_logs) = runs
    assert compiled.compiled_reason is None and compiled.train_function.programs
    for mine, theirs in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert logs == eager_logs
    return compiled


def _rewrites(model, function="train_function"):
    (program,) = [p for p in getattr(model, function).programs if p.stats["fed"]][:1]
    return program.stats["rewrites"]


@pytest.mark.parametrize("outputs", [1, 3])
def test_the_metrics_add_the_loss_sum_with_the_eager_numbers(outputs):
    model = _fit_both(outputs=outputs)
    assert _rewrites(model)["share_batch_sums"] == 2  # the RMSE's and the MSE's means


def test_the_shared_sums_count_every_row_as_numpy_does():
    """With a learning rate of 0 the weights stay put: the logged metrics are then the
    RMSE and MSE of the predictions over all 203 rows (13 batches, the last of 11)."""
    model = _regressor("auto", outputs=3, lr=0.0)
    logs = model.fit(X, Y3, batch_size=16, epochs=2, verbose=0).history
    assert _rewrites(model)["share_batch_sums"] == 2
    errors = model.predict(X, verbose=0).astype(np.float64) - Y3
    mse = np.mean(errors ** 2)
    np.testing.assert_allclose(logs["mse"], [mse, mse], rtol=2e-7)
    np.testing.assert_allclose(logs["loss"], [mse, mse], rtol=2e-7)
    np.testing.assert_allclose(logs["RootMeanSquaredError"], [np.sqrt(mse)] * 2, rtol=2e-7)
    evaluated = model.evaluate(X, Y3, batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(evaluated["mse"], mse, rtol=2e-7)


def test_sample_weights_keep_their_own_sums():
    weights = RNG.uniform(0.5, 2.0, size=len(X)).astype("float32")
    runs = []
    for jit in ("auto", False):
        model = _regressor(jit, outputs=3)
        runs.append((model, model.fit(X, Y3, sample_weight=weights, batch_size=16, epochs=2,
                                      verbose=0).history))
    (compiled, logs), (eager, eager_logs) = runs
    assert "share_batch_sums" not in _rewrites(compiled)  # the weighted sum is not shared
    assert logs == eager_logs
    for mine, theirs in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("norm", [False, True])
def test_relu_gradients_run_over_whole_rows_with_the_eager_numbers(norm):
    model = _fit_both(norm=norm)
    # the two hidden relus: each gradient and the product making it get [x, 1] rows
    assert _rewrites(model)["widen_relu_gradients"] == 2


def test_wide_relu_layers_take_the_boolean_mask_with_the_eager_numbers():
    """32 x 121 rows: past the float mask's limit, the mask is booleans over whole rows."""
    model = _fit_both(units=(120, 110), batch_size=32)
    assert _rewrites(model)["widen_relu_gradients"] == 2


def test_other_activations_keep_their_gradient_buffers():
    model = _fit_both(activation="tanh")
    assert "widen_relu_gradients" not in _rewrites(model)


def test_a_relu_layer_after_a_linear_dense_replays_with_the_eager_numbers():
    """The relu's output is no stacked Dense's: nothing is widened, and the numbers hold."""
    runs = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(4)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8),
                                  keras.layers.Activation("relu"), keras.layers.Dense(5),
                                  keras.layers.ReLU(), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        model.fit(X, Y3[:, :1], batch_size=16, epochs=2, verbose=0)
        runs.append(model)
    for mine, theirs in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert runs[0].train_function.programs


def test_normalized_rows_are_gathered_into_whole_rows():
    model = _fit_both(norm=True)
    (program,) = [p for p in model.train_function.programs if p.stats["hoisted"]][:1]
    # the normalized inputs (6 features) land in their [x, 1] buffer, 7 columns, whole
    assert sorted(buffer.shape for _, buffer in program.feeds) == [(16, 1), (16, 7)]


def test_a_flattened_input_is_gathered_from_the_data_itself():
    """A hoisted view of the data (a Flatten) is not copied whole to give it a column of
    ones: its rows are gathered into the left part of the `[x, 1]` buffer, as before."""
    images = RNG.normal(size=(64, 3, 4)).astype("float32")
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((3, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(5, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(images, images[:, 0, :1], batch_size=16, epochs=2, verbose=0)
    (program,) = model.train_function.programs
    assert program.stats["hoisted"] == 1
    assert sorted(buffer.shape for _, buffer in program.feeds) == [(16, 1), (16, 12)]


def test_a_relu_larger_than_the_shared_zeros_replays_in_blocks_with_the_eager_numbers():
    """A replayed relu is `maximum` calls against shared zeros of at most `ZEROS_CHUNK`
    entries each (`backend.zeros_operands`): a (128, 701) buffer takes two."""
    from numnet.backend.array_module import ZEROS_CHUNK

    model = _fit_both(units=(700, 7), batch_size=128)
    (program,) = [p for p in model.train_function.programs if p.stats["fed"]
                  and p.feeds[0][1].shape[0] == 128]
    relu_calls = [k for k in program.kernels if getattr(k, "func", None) is np.maximum]
    big = [k for k in relu_calls if k.args[1].shape[1:] == (701,)]
    assert len(big) == 2 and sum(len(k.args[1]) for k in big) == 128
    assert all(k.args[1].size <= ZEROS_CHUNK and not k.args[1].any() for k in relu_calls)
