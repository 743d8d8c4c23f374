"""Indexing with a computed tensor (`table[ops.argmax(x)]`) inside a compiled step.

The index is an op input of `getitem`, so a capture follows it: a replay gathers the rows
the new batch selects (not the ones of the batches it was captured on), and the table's
gradient lands in those rows. Compiled and eager give the same numbers.
"""

import numpy as np

import numnet as keras
from numnet import ops

L = keras.layers


class PickRows(L.Layer):
    """Rows of a learned table, at the position of each sample's largest feature."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=(input_shape[-1], 3), initializer="random_normal",
                                     name="table")

    def call(self, inputs):
        return self.table[ops.argmax(inputs, axis=-1)]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 3)


def _model():
    x = keras.Input(shape=(6,))
    merged = L.Concatenate()([PickRows()(x), L.Dense(4, activation="tanh")(x)])
    return keras.Model(x, L.Dense(2)(merged))


def _data(seed, n=48):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def test_compiled_predict_gathers_the_rows_each_batch_selects():
    keras.utils.set_random_seed(0)
    model = _model()
    for seed in range(4):  # same shapes every time: a replay must not reuse old indices
        x, _ = _data(seed)
        np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0),
                                   model(x).numpy(), rtol=1e-6, atol=1e-6)
    assert model.compiled_reason is None
    assert model.predict_function.programs


def test_compiled_fit_equals_eager_fit():
    x, y = _data(1)
    models = []
    for jit in (True, False):
        keras.utils.set_random_seed(3)
        model = _model()
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=8, epochs=3, shuffle=True, verbose=0)
        models.append(model)
    compiled, eager = models
    assert compiled.compiled_reason is None, compiled.compiled_reason
    assert compiled.train_function.programs and not eager.train_function.programs
    for a, b in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    table = compiled.layers[1].table.numpy()
    initial = _initial_table()
    touched = np.unique(np.argmax(x, axis=-1))
    assert not np.allclose(table[touched], initial[touched])  # the rows used were trained


def _initial_table():
    keras.utils.set_random_seed(3)
    return _model().layers[1].table.numpy()
