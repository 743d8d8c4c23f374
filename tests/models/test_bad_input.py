"""Bad input gets a clear error naming what was wrong, before any training step."""

import warnings

import numpy as np
import pytest

import numnet as keras


def compiled(loss="sparse_categorical_crossentropy", n_in=4, n_out=3):
    model = keras.Sequential([keras.layers.Dense(5, activation="relu", input_shape=(n_in,),
                                                 name="hidden"),
                              keras.layers.Dense(n_out, activation="softmax", name="head")])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    return model


def test_wrong_feature_count_names_the_layer_and_shapes():
    model = compiled()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"hidden.*expected last axis of size 4.*\(1, 7\)"):
        model.fit(np.zeros((10, 7)), np.zeros(10), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_labels_out_of_range():
    with pytest.raises(ValueError, match=r"label value of 3.*\[0, 2\]"):
        compiled().fit(np.zeros((10, 4)), np.full(10, 3), verbose=0)
    with pytest.raises(ValueError, match=r"label value of -1"):
        compiled().fit(np.zeros((10, 4)), np.full(10, -1), verbose=0)


def test_nan_inf_and_empty_inputs():
    # Keras trains on NaN/inf data (those batches' loss is NaN); numnet does too, warning
    # with the count, and refuses it when the warning is made an error.
    from numnet.models.data_adapter import NonFiniteDataWarning
    x = np.zeros((10, 4))
    x[3, 1] = np.nan
    with pytest.warns(NonFiniteDataWarning, match=r"`x` contains 1 NaN or infinite"):
        history = compiled().fit(x, np.zeros(10), verbose=0)
    assert np.isnan(history.history["loss"][0])
    with pytest.warns(NonFiniteDataWarning, match=r"`y` contains 1 NaN"):
        compiled(loss="mse", n_out=1).fit(np.zeros((3, 4)), np.array([1.0, np.inf, 0]),
                                          verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteDataWarning)
        with pytest.raises(NonFiniteDataWarning, match=r"`y` contains"):
            compiled(loss="mse", n_out=1).fit(np.zeros((3, 4)), np.array([1.0, np.inf, 0]),
                                              verbose=0)
    with pytest.raises(ValueError, match="non-empty"):
        compiled().fit(np.zeros((0, 4)), np.zeros(0), verbose=0)
    x = np.zeros((10, 4), dtype=np.float32)
    x[:, 0] = np.float32(3e38)  # finite, but their float32 sum overflows
    x[2, 3] = -np.inf
    with pytest.warns(NonFiniteDataWarning, match=r"`x` contains 1 NaN or infinite"):
        compiled().fit(x, np.zeros(10), verbose=0)
    x[2, 3] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteDataWarning)
        compiled().predict(x, verbose=0)  # huge but finite: accepted, without a warning


def test_non_finite_check_of_column_slices_counts_only_their_own_entries():
    # A table's column slice is checked through its whole rows first (faster): NaN in the
    # columns left out must not be counted, NaN in the slice must.
    from numnet.models.data_adapter import NonFiniteDataWarning
    table = np.zeros((12, 8), dtype=np.float32)
    table[4, 0] = np.nan
    table[6, 7] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteDataWarning)
        compiled(loss="mse", n_in=6, n_out=1).fit(table[:, 1:7], np.zeros(12), verbose=0)
    with pytest.warns(NonFiniteDataWarning, match=r"`x` contains 1 NaN or infinite"):
        compiled(loss="mse", n_in=6, n_out=1).fit(table[:, 2:], np.zeros(12), verbose=0)


def test_mismatched_sample_counts_and_strings():
    with pytest.raises(ValueError, match="same number of samples"):
        compiled().fit(np.zeros((10, 4)), np.zeros(9), verbose=0)
    with pytest.raises(ValueError, match="must hold numbers"):
        compiled().fit(np.array([["a"] * 4] * 2), np.zeros(2), verbose=0)


def test_unknown_identifiers():
    with pytest.raises(ValueError, match="Unknown activation: 'relux'"):
        keras.layers.Dense(3, activation="relux")
    with pytest.raises(ValueError, match="Unknown loss: 'msee'"):
        keras.Sequential([keras.layers.Dense(1)]).compile(loss="msee")
    with pytest.raises(ValueError, match="sgdd"):
        keras.Sequential([keras.layers.Dense(1)]).compile(optimizer="sgdd", loss="mse")
    with pytest.raises(ValueError, match="accurracy"):
        model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
        model.compile(loss="mse", metrics=["accurracy"])
        model.fit(np.zeros((2, 2)), np.zeros(2), verbose=0)
    with pytest.raises(ValueError, match="Unknown initializer|glorot_unifrom"):
        keras.layers.Dense(3, kernel_initializer="glorot_unifrom")


def test_invalid_arguments():
    with pytest.raises(ValueError, match="invalid value for `units`"):
        keras.layers.Dense(0)
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense"):
        keras.layers.Dense(3, unit=4)
    with pytest.raises(RuntimeError, match="compile"):
        keras.Sequential([keras.layers.Dense(1)]).fit(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="batch_size"):
        compiled().fit(np.zeros((4, 4)), np.zeros(4), batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        compiled().fit(np.zeros((4, 4)), np.zeros(4), validation_split=1.5, verbose=0)


def test_categorical_crossentropy_with_integer_labels_explains_the_fix():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        compiled(loss="categorical_crossentropy").fit(np.zeros((4, 4)), np.zeros(4), verbose=0)


def test_unbuilt_sequential_needs_a_shape():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="count_params"):
        model.layers[0].count_params()
    with pytest.raises(ValueError, match="input shape"):
        model.build()
