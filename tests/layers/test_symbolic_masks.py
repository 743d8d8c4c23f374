"""Symbolic masks, as Keras 3.15.1 attaches them: a layer called on `KerasTensor`s gives its
outputs the mask `compute_mask` makes, so a model can return `get_keras_mask(output)`.

Reference values: tests/fixtures/reference_api.* (`symbolic_masks`), from the same models
built with Keras.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff.ops.masking import get_keras_mask

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_api.npz") as _npz:
    REF = {k: v for k, v in _npz.items() if k.startswith("mask/")}
META = json.loads((FIXTURES / "reference_api.json").read_text())["symbolic_masks"]


def _models():
    layers = keras.layers
    models = {}
    a, b = keras.Input((4, 2)), keras.Input((4, 2))
    models["concat_time_axis"] = ([a, b], layers.Concatenate(axis=1)([layers.Masking()(a), b]))
    a, b = keras.Input((4, 2)), keras.Input((4, 2))
    models["concat_last_axis"] = ([a, b], layers.Concatenate()([layers.Masking()(a), b]))
    a, b = keras.Input((4, 2)), keras.Input((4, 2))
    models["add_two_masks"] = ([a, b], layers.Add()([layers.Masking()(a), layers.Masking()(b)]))
    a = keras.Input((4, 2))
    models["masking_dense"] = ([a], layers.Dense(3)(layers.Masking()(a)))
    ids = keras.Input((5,), dtype="int32")
    models["embedding"] = ([ids], layers.Embedding(7, 3, mask_zero=True)(ids))
    return models


@pytest.mark.parametrize("name", sorted(META))
def test_a_model_returning_a_symbolic_mask_computes_keras_mask(name):
    inputs, output = _models()[name]
    mask = get_keras_mask(output)
    assert (mask.shape, mask.dtype) == (tuple(META[name]["shape"]), META[name]["dtype"])
    xs = [REF[f"mask/{name}/x{i}"] for i in range(len(inputs))]
    value = keras.Model(inputs, mask)(xs)
    np.testing.assert_array_equal(value.numpy(), REF[f"mask/{name}/value"])


def test_concatenate_compute_mask_with_symbolic_inputs_and_real_masks():
    """Keras' merging test: the inputs are symbolic, the masks are values."""
    a, b = keras.Input((4, 5)), keras.Input((4, 5))
    ones = np.ones((2, 4, 5), bool)
    mask = keras.layers.Concatenate().compute_mask([a, b], [ones, ones])
    assert mask.shape == (2, 4) and np.all(np.asarray(mask))
    assert keras.layers.Concatenate().compute_mask([a, b], [None, None]) is None


def test_an_unmasked_graph_has_no_symbolic_masks():
    a = keras.Input((3,))
    assert get_keras_mask(keras.layers.Dense(2)(a)) is None


def test_a_compute_mask_written_with_numpy_leaves_the_symbolic_output_without_mask():
    class NumpyMask(keras.layers.Layer):
        def call(self, inputs):
            return inputs

        def compute_mask(self, inputs, mask=None):
            return np.any(np.asarray(inputs) != 0, axis=-1)

    a = keras.Input((4, 2))
    out = NumpyMask()(a)
    assert get_keras_mask(out) is None
    model = keras.Model(a, out)
    x = np.array([[[0, 0], [1, 2], [0, 0], [3, 4]]], "float32")
    np.testing.assert_array_equal(get_keras_mask(model(x)).numpy(), [[False, True, False, True]])
