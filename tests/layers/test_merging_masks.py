"""Merging layers propagate masks as Keras' do (merging_test.py's contract)."""

import numpy as np
import pytest

from numnet import layers


@pytest.mark.parametrize("cls", [layers.Add, layers.Subtract, layers.Multiply, layers.Average,
                                 layers.Maximum, layers.Minimum])
def test_elementwise_layers_or_their_masks(cls):
    layer = cls()
    assert layer.supports_masking is True
    x = np.ones((2, 4, 5))
    assert layer.compute_mask([x, x], [None, None]) is None
    a = np.array([[True, False, False, True]] * 2)
    b = np.array([[False, False, True, True]] * 2)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask([x, x], [a, b])), a | b)
    with pytest.raises(ValueError, match="`mask` should be a list."):
        layer.compute_mask([x, x], a)
    with pytest.raises(ValueError, match="`inputs` should be a list."):
        layer.compute_mask(x, [None, None])
    with pytest.raises(ValueError, match=" should have the same length."):
        layer.compute_mask([x, x], [None])


def test_concatenate_mask_counts_unmasked_inputs_as_true():
    x = np.ones((2, 3, 4))
    mask = np.array([[True, False, False]] * 2)
    out = layers.Concatenate(axis=-1).compute_mask([x, x], [mask, None])
    np.testing.assert_array_equal(np.asarray(out), np.ones((2, 3), dtype=bool))
    out = layers.Concatenate(axis=-1).compute_mask([x, x], [mask, mask])
    np.testing.assert_array_equal(np.asarray(out), mask)
