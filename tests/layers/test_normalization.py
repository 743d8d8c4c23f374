"""`Normalization` keeps Keras 3's contract (the behaviours Keras' own tests check)."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers


def test_statistics_keep_the_inputs_broadcast_shape():
    # Keras: axis=(1, 2) on (None, 10, 13, 3) gives mean of shape (1, 10, 13, 1).
    layer = layers.Normalization(axis=(1, 2), mean=np.zeros((10, 13)), variance=np.ones((10, 13)))
    layer.build((None, 10, 13, 3))
    assert tuple(layer.mean.shape) == (1, 10, 13, 1)
    assert layer.weights == []  # given statistics are constants, not weights


def test_given_statistics_align_with_the_last_kept_axes():
    mean = np.arange(1, 6, dtype="float32")
    layer = layers.Normalization(axis=(1, 2), mean=mean, variance=np.ones(5))
    layer.build((2, 7, 5, 3))
    assert tuple(layer.mean.shape) == (1, 7, 5, 1)
    np.testing.assert_array_equal(np.asarray(layer.mean)[0, 3, :, 0], mean)
    middle = layers.Normalization(axis=2, mean=mean, variance=np.ones(5))
    middle.build((2, 4, 5, 3))
    assert tuple(middle.mean.shape) == (1, 1, 5, 1)
    scalar = layers.Normalization(axis=-1, mean=5.0, variance=1.0)
    scalar.build((3, 7))
    np.testing.assert_array_equal(np.asarray(scalar.mean), np.full((1, 7), 5.0))


def test_adapted_weights_are_reduced_and_statistics_broadcast():
    x = np.random.default_rng(0).normal(size=(32, 4, 3, 5)).astype("float32")
    layer = layers.Normalization(axis=(1, 2))
    layer.adapt([x[i:i + 8] for i in range(0, 32, 8)])
    assert [tuple(w.shape) for w in layer.weights] == [(4, 3), (4, 3), ()]
    assert tuple(layer.mean.shape) == (1, 4, 3, 1)
    np.testing.assert_allclose(np.asarray(layer.mean)[0, :, :, 0], x.mean(axis=(0, 3)),
                               rtol=1e-5, atol=1e-6)
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out.var(axis=(0, 3)), 1.0, atol=1e-5)


def test_axis_none_and_invert():
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0], dtype="float32")
    layer = layers.Normalization(axis=None)
    layer.adapt(data)
    expected = (data[:3] - data.mean()) / data.std()
    np.testing.assert_allclose(np.asarray(layer(data[:3])), expected, rtol=1e-6)
    inverse = layers.Normalization(axis=-1, invert=True)
    table = np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0]] * 2, dtype="float32")
    inverse.adapt(table)
    point = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    np.testing.assert_allclose(np.asarray(inverse(point)),
                               table.mean(axis=0) + point * table.std(axis=0), rtol=1e-6)


@pytest.mark.parametrize("axis, shape", [(3, (2, 2)), (-4, (2, 3, 4))])
def test_axis_out_of_range_is_rejected(axis, shape):
    with pytest.raises(ValueError, match="All `axis` values must be in the range"):
        layers.Normalization(axis=axis).build(shape)


def test_bad_arguments_and_data_raise_keras_errors():
    with pytest.raises(ValueError, match="both `mean` and `variance` must be set"):
        layers.Normalization(mean=0.5)
    with pytest.raises(ValueError, match="All `axis` values to be kept"):
        layers.Normalization(axis=1).build((None, None))
    built = layers.Normalization(axis=-1)
    built.build((10, 5))
    with pytest.raises(ValueError, match="an incompatible shape"):
        built.adapt(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="empty iterable"):
        layers.Normalization().adapt(iter(()))
    with pytest.raises(TypeError, match="`.shape`"):
        layers.Normalization().adapt(iter([42]))
    with pytest.raises(ValueError, match="incompatible shape"):
        layers.Normalization().adapt(iter([np.zeros((8, 4)), np.zeros((8, 6))]))


def test_adapt_takes_x_from_tuples_and_sequences():
    x = np.random.default_rng(1).random((24, 3)).astype("float32")

    class Batches:  # a PyDataset-style sequence
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[8 * i:8 * i + 8], np.zeros(8)

    for data in ([(x[i:i + 8], np.zeros(8)) for i in range(0, 24, 8)], Batches()):
        layer = layers.Normalization()
        layer.adapt(data)
        np.testing.assert_allclose(np.asarray(layer.mean)[0], x.mean(axis=0), rtol=1e-5)


def test_config_round_trip_keeps_keras_keys():
    layer = layers.Normalization(axis=(1, 2), mean=3.0, variance=2.0, invert=True)
    config = layer.get_config()
    assert config["axis"] == (1, 2) and config["mean"] == 3.0 and config["invert"] is True
    assert layers.Normalization(axis=-1).get_config()["mean"] is None
    clone = layers.Normalization.from_config(config)
    assert clone.get_config() == config
    assert keras.layers.Normalization().supports_masking is True
