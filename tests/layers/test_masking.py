"""Keras masks in numnet: which layers make, pass on or drop them, and how merges combine them.

The merge numbers (outputs and masks) come from real Keras through
tests/fixtures/generate_reference_layers.py; losses, metrics and training with masks are
checked against Keras in test_reference_layers.py.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff import Tensor
from numnet.autodiff.ops.masking import get_keras_mask, set_keras_mask

L = keras.layers
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_layers.npz") as _npz:
    REF = {k: v for k, v in _npz.items() if k.startswith("merge/")}
MERGES = ("Add", "Subtract", "Average", "Multiply", "Maximum", "Minimum", "Concatenate")


def _masked(values, mask):
    tensor = Tensor(values)
    set_keras_mask(tensor, Tensor(mask))
    return tensor


@pytest.mark.parametrize("which", ["both", "first"])
@pytest.mark.parametrize("name", MERGES)
def test_merging_layers_combine_masks_as_keras(name, which):
    a = _masked(REF["merge/a"], REF["merge/mask_a"])
    b = _masked(REF["merge/b"], REF["merge/mask_b"]) if which == "both" else \
        Tensor(REF["merge/b"])
    out = getattr(L, name)()([a, b])
    np.testing.assert_allclose(out.data, REF[f"merge/{name}/{which}/output"], rtol=1e-6,
                               atol=1e-7)
    key = f"merge/{name}/{which}/mask"
    if key in REF:
        np.testing.assert_array_equal(get_keras_mask(out).data, REF[key])
    else:
        assert get_keras_mask(out) is None


def test_masks_flow_through_sequential_and_functional_models():
    x = np.ones((4, 3, 2), dtype="float32")
    x[1, 2] = 0.0
    x[3, :2] = 0.0
    masking = L.Masking()
    seq = keras.Sequential([keras.Input(shape=(3, 2)), masking, L.Dense(4), L.Activation("relu"),
                            L.Dropout(0.5), L.BatchNormalization(), L.LayerNormalization(),
                            L.ReLU(), L.Identity(), L.Dense(1)])
    expected = np.any(x != 0, axis=-1)
    out = seq(x, training=True)
    np.testing.assert_array_equal(get_keras_mask(out).data, expected)
    inputs = keras.Input(shape=(3, 2))
    hidden = L.Dense(2)(L.Masking()(inputs))
    model = keras.Model(inputs, L.Add()([hidden, L.Dense(2)(hidden)]))
    np.testing.assert_array_equal(get_keras_mask(model(x)).data, expected)


def test_a_layer_without_mask_support_warns_and_drops_the_mask():
    model = keras.Sequential([keras.Input(shape=(3, 2)), L.Masking(), L.Flatten(), L.Dense(1)])
    with pytest.warns(UserWarning, match="does not support masking"):
        out = model(np.ones((2, 3, 2), dtype="float32"))
    assert get_keras_mask(out) is None


def test_no_warning_without_a_mask():
    model = keras.Sequential([keras.Input(shape=(4,)), L.Dense(3), L.Flatten(), L.Dense(1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(np.ones((2, 4), dtype="float32"))


def test_embedding_mask_zero_and_its_mask_in_losses():
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    model = keras.Sequential([keras.Input(shape=(4,)), L.Embedding(5, 2, mask_zero=True),
                              L.Dense(1)])
    out = model(ids)
    np.testing.assert_array_equal(get_keras_mask(out).data, ids != 0)
    y = np.zeros((2, 4, 1), dtype="float32")
    loss = keras.losses.MeanSquaredError()(y, out)
    kept = (out.data[..., 0] ** 2)[ids != 0]
    np.testing.assert_allclose(float(loss.data), kept.mean(), rtol=1e-6)
    assert L.Embedding(5, 2).compute_mask(Tensor(ids)) is None


def test_call_receives_the_mask_argument():
    seen = {}

    class Recorder(L.Layer):
        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs

    x = np.array([[[1.0], [0.0]]], dtype="float32")
    with pytest.warns(UserWarning, match="does not support masking"):  # Recorder drops it
        keras.Sequential([keras.Input(shape=(2, 1)), L.Masking(), Recorder()])(x)
    np.testing.assert_array_equal(seen["mask"].data, [[True, False]])
    Recorder()(x)
    assert seen["mask"] is None


def test_compute_mask_override_makes_a_layer_produce_masks():
    class PositiveMask(L.Layer):
        def call(self, inputs):
            return inputs

        def compute_mask(self, inputs, previous_mask=None):
            return keras.ops.greater(keras.ops.sum(inputs, axis=-1), 0)

    layer = PositiveMask()
    assert layer.supports_masking
    out = layer(np.array([[1.0, 2.0], [-3.0, 1.0]], dtype="float32"))
    np.testing.assert_array_equal(get_keras_mask(out).data, [True, False])


def test_softmax_layer_mask_argument_and_bad_mask():
    logits = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    out = L.Softmax()(logits, mask=np.array([[True, False, True]]))
    assert out.data[0, 1] == 0.0
    np.testing.assert_allclose(out.data.sum(), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="broadcastable"):
        L.Softmax()(logits, mask=np.ones((1, 2), dtype=bool))


def test_masked_model_saves_and_reloads_with_its_mask_behaviour(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    x[::2] = 0.0
    y = np.ones((8, 1), dtype="float32")
    model = keras.Sequential([keras.Input(shape=(3,)), L.Masking(), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert json.dumps(loaded.evaluate(x, y, verbose=0, return_dict=True), sort_keys=True) == \
        json.dumps(model.evaluate(x, y, verbose=0, return_dict=True), sort_keys=True)


def test_a_masked_input_tensor_reaches_the_layers_of_a_model():
    from numnet.autodiff.ops.masking import set_keras_mask
    model = keras.Sequential([keras.Input(shape=(3, 2)), L.Dense(2)])
    x = np.ones((2, 3, 2), dtype="float32")
    model(x)
    model(x)  # compiled from here on
    masked = Tensor(x)
    set_keras_mask(masked, Tensor(np.array([[True, False, True], [False, True, True]])))
    with pytest.warns(UserWarning, match="does not support masking"):  # as Keras' model
        out = model(masked)
    np.testing.assert_array_equal(get_keras_mask(out).data,
                                  [[True, False, True], [False, True, True]])
