"""The new NumPy-style ops where Keras on TensorFlow is no reference (NumPy is): `vstack`
of 1-D tensors and `pad`'s copying modes; their errors; and the ops inside compiled steps."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet import GradientTape, ops

_spec = importlib.util.spec_from_file_location(
    "gradient_helpers", Path(__file__).with_name("test_gradients.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
check = _helpers.check
RNG = np.random.default_rng(3)


def test_vstack_of_vectors_makes_rows_as_numpy():
    a, b = RNG.normal(size=6).astype("float32"), RNG.normal(size=6).astype("float32")
    np.testing.assert_array_equal(np.asarray(ops.vstack([a, b])), np.vstack([a, b]))
    check(lambda x, y: ops.vstack([x, y]), a, b)


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap"])
def test_copying_pad_modes_match_numpy_and_their_gradients_sum_the_copies(mode):
    x = RNG.normal(size=(3, 4)).astype("float32")
    widths = ((2, 1), (3, 2))
    np.testing.assert_array_equal(np.asarray(ops.pad(x, widths, mode=mode)),
                                  np.pad(x, widths, mode=mode))
    check(lambda t: ops.pad(t, widths, mode=mode), x)


@pytest.mark.parametrize("call, message", [
    (lambda: ops.pad(np.ones((2, 2)), 1, mode="mean"), "mode must be"),
    (lambda: ops.pad(np.ones((2, 2)), 1, mode="edge", constant_values=1.0), "constant_values"),
    (lambda: ops.split(np.ones((5, 2)), 2), "equal sections"),
    (lambda: ops.unstack(np.ones((3, 2)), num=2), "does not match"),
    (lambda: ops.tril(np.ones(3)), "at least 2 dimensions"),
    (lambda: ops.top_k(np.ones((2, 3)), 4), "out of range"),
    (lambda: ops.tensordot(np.ones((2, 3)), np.ones((4, 2)), axes=1), "different lengths"),
    (lambda: ops.einsum("ij,jk->ik", np.ones((2, 3))), "names 2 operands"),
    (lambda: ops.norm(np.ones((2, 2)), ord=3), "Invalid norm order 3 for matrices"),
    (lambda: ops.moveaxis(np.ones((2, 3)), (0, 1), 0), "same number of axes"),
    (lambda: ops.unstack(np.ones((2, 3)), axis=10), "axis 10 is out of bounds"),
    (lambda: ops.scan(lambda c, x: (c, x), 0.0, np.ones(3), unroll=-1),
     "must be an positive integer or boolean"),
    (lambda: ops.scan(lambda c, x: (c, x), 0.0), "to scan over"),
])
def test_bad_arguments_get_errors_that_name_the_op(call, message):
    with pytest.raises((ValueError, NotImplementedError), match=message):
        call()


def test_einsum_gradients_it_cannot_take_say_so():
    x = keras.Variable(np.ones((3, 3)))
    with GradientTape() as tape:
        y = ops.sum(ops.einsum("ii->i", x))
    with pytest.raises(NotImplementedError, match="einsum"):
        tape.gradient(y, x)


class _OpsLayer(keras.layers.Layer):
    """A layer of the new ops, as a user would write one with `keras.ops`."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4), initializer="glorot_uniform")

    def call(self, x):
        o = keras.ops
        h = o.einsum("bi,ij->bj", x, self.kernel)
        h = o.cumsum(o.tanh(h), axis=-1) * 0.25 + o.flip(h, axis=-1) * 0.5
        values, _ = o.top_k(h, 3)
        h = o.concatenate([values, o.pad(o.norm(h, axis=-1, keepdims=True), ((0, 0), (0, 1)))],
                          axis=-1)
        return o.fori_loop(0, 2, lambda i, t: t + o.tanh(t) * 0.1, h)


def _fit(jit):
    keras.utils.set_random_seed(5)
    x = np.random.default_rng(8).normal(size=(37, 6)).astype("float32")
    y = x[:, :1] - x[:, 1:2]
    model = keras.Sequential([keras.Input((6,)), _OpsLayer(), keras.layers.Dense(1)])
    model.compile("adam", "mse", jit_compile=jit)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    return model, history.history["loss"]


def test_a_layer_of_the_new_ops_trains_compiled_with_the_eager_numbers():
    compiled, compiled_loss = _fit("auto")
    eager, eager_loss = _fit(False)
    function = compiled.make_train_function()
    assert function.programs and function.reason is None  # it was replayed, not eager
    np.testing.assert_array_equal(compiled_loss, eager_loss)
    for mine, theirs in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_a_cond_on_a_tensor_value_runs_eagerly_and_says_why():
    class Branching(keras.layers.Layer):
        def call(self, x):
            return ops.cond(ops.sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0)

    model = keras.Sequential([keras.Input((3,)), Branching(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = RNG.normal(size=(12, 3)).astype("float32")
    model.fit(x, x[:, :1], epochs=2, batch_size=4, verbose=0)
    assert "eagerly" in model.make_train_function().reason


def test_isclose_calls_equal_infinities_close_as_numpy():
    x = np.array([np.inf, -np.inf, np.nan, 1.0], np.float32)
    y = np.array([np.inf, np.inf, np.nan, 1.0 + 1e-9], np.float32)
    for equal_nan in (False, True):
        np.testing.assert_array_equal(np.asarray(ops.isclose(x, y, equal_nan=equal_nan)),
                                      np.isclose(x, y, equal_nan=equal_nan))


def test_slice_update_sends_the_gradient_to_the_block_or_the_rest():
    """(TensorFlow defines no gradient for it, so this is the only check of its rule.)"""
    inputs, updates = RNG.normal(size=(4, 5)), RNG.normal(size=(2, 3))
    check(lambda a, u: ops.slice_update(a, (1, 2), u), inputs, updates)
    with pytest.raises(ValueError, match="do not fit"):
        ops.slice_update(np.zeros((2, 2)), (1, 1), np.ones((2, 2)))


def test_segments_bins_and_searches_with_unknown_sizes_read_the_ids():
    data, ids = RNG.normal(size=(5, 3)).astype("float32"), np.array([2, 0, 2, 4, 0])
    expected = np.zeros((5, 3), "float32")
    np.add.at(expected, ids, data)  # num_segments: the largest id + 1
    np.testing.assert_allclose(np.asarray(ops.segment_sum(data, ids)), expected, rtol=1e-6)
    rows = np.array([[0, 1, 1], [2, 2, 2]])  # a 2-D x: each row counted on its own
    np.testing.assert_array_equal(np.asarray(ops.bincount(rows)),
                                  [np.bincount(row, minlength=3) for row in rows])
    with pytest.raises(ValueError, match="1-D"):
        ops.searchsorted(np.zeros((2, 2)), np.zeros(3))


def test_scan_needs_a_callable():
    with pytest.raises(TypeError, match="should be a callable"):
        ops.scan(123, 0.0, np.ones(3))

