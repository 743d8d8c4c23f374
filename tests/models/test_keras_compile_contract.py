"""`compile` structures, History names and pickling as in Keras 3.15.

The expected log names are the ones Keras 3.15.1's models/model_test.py checks.
"""

import pickle

import numpy as np
import pytest

import numnet as keras
from numnet import layers


def _single_output(wrap):
    x = keras.Input(shape=(3,), name="input_a")
    out = layers.Dense(1, name="output_a")(x)
    return keras.Model(x, wrap(out))


def _two_outputs(as_dict=False):
    x = keras.Input(shape=(3,), name="input_a")
    a = layers.Dense(1, name="output_a")(x)
    b = layers.Dense(1, name="output_b", activation="sigmoid")(x)
    return keras.Model(x, {"output_a": a, "output_b": b} if as_dict else [a, b])


def _fit_keys(model, y):
    x = np.random.default_rng(0).random((8, 3))
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    return sorted(history.history)


@pytest.mark.parametrize("wrap", [lambda o: o, lambda o: [o], lambda o: {"output_a": o}])
@pytest.mark.parametrize("loss", ["mean_squared_error", ["mean_squared_error"],
                                  {"output_a": "mean_squared_error"},
                                  {"output_a": ["mean_squared_error"]}])
def test_single_output_losses_and_weighted_metric_names(wrap, loss):
    model = _single_output(wrap)
    model.compile(optimizer="sgd", loss=loss,
                  metrics={"output_a": ["mean_squared_error", "mean_absolute_error"]},
                  weighted_metrics={"output_a": "mean_squared_error"})
    assert _fit_keys(model, np.random.random((8, 1))) == [
        "loss", "mean_absolute_error", "mean_squared_error", "weighted_mean_squared_error"]


def test_multi_output_weighted_metric_names():
    model = _two_outputs()
    model.compile(optimizer="sgd",
                  loss={"output_a": "mean_squared_error", "output_b": "binary_crossentropy"},
                  metrics={"output_a": ["mean_squared_error"],
                           "output_b": ["mean_squared_error"]},
                  weighted_metrics={"output_a": ["mean_squared_error"], "output_b": ["accuracy"]})
    y = (np.random.random((8, 1)), np.random.randint(0, 2, (8, 1)))
    # A metric only in `weighted_metrics` keeps its name (no `weighted_` prefix).
    assert _fit_keys(model, y) == sorted([
        "loss", "output_a_loss", "output_a_mean_squared_error",
        "output_a_weighted_mean_squared_error", "output_b_accuracy", "output_b_loss",
        "output_b_mean_squared_error"])


def test_nested_list_losses_and_abbreviations():
    model = _two_outputs()
    model.compile(optimizer="sgd", loss=["mse", ["bce"]],
                  metrics=[["bce", "mse", "mae"], ["mse", "acc"]], loss_weights=[0.1, 2])
    y = (np.random.random((8, 1)), np.random.randint(0, 2, (8, 1)))
    assert _fit_keys(model, y) == sorted([
        "loss", "output_a_loss", "output_a_bce", "output_a_mae", "output_a_mse",
        "output_b_acc", "output_b_loss", "output_b_mse"])
    model = _two_outputs()
    model.compile(optimizer="sgd", loss=["mse", ["mse", "binary_crossentropy"]])
    assert _fit_keys(model, y) == ["loss", "output_a_loss", "output_b_loss"]


def test_dict_outputs_with_a_loss_on_one_output_only():
    model = _two_outputs(as_dict=True)
    model.compile(optimizer="sgd", loss={"output_b": ["binary_crossentropy"]},
                  metrics={"output_b": ["mean_squared_error", "accuracy"]},
                  weighted_metrics={"output_b": ["mean_squared_error", "accuracy"]})
    y = {"output_a": np.random.random((8, 1)), "output_b": np.random.randint(0, 2, (8, 1))}
    assert _fit_keys(model, y) == sorted([
        "loss", "output_b_accuracy", "output_b_mean_squared_error",
        "output_b_weighted_accuracy", "output_b_weighted_mean_squared_error"])


def test_bad_loss_and_metric_keys():
    model = _two_outputs()
    model.compile(optimizer="sgd", loss={"output_a": "mse", "output_c": "bce"})
    with pytest.raises(ValueError, match="Expected keys"):
        model.fit(np.zeros((4, 3)), (np.zeros((4, 1)), np.zeros((4, 1))), verbose=0)
    model = _two_outputs()
    model.compile(optimizer="sgd", loss="mse", metrics={"output_c": ["mse"]})
    with pytest.raises(ValueError, match="(?s)Invalid `metrics`.*output_c"):
        model.fit(np.zeros((4, 3)), (np.zeros((4, 1)), np.zeros((4, 1))), verbose=0)


def test_pickled_model_predicts_the_same():
    model = _single_output(lambda o: [o])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(1).random((8, 3))
    model.fit(x, np.ones((8, 1)), verbose=0)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))
    assert copy.optimizer.iterations.numpy() == model.optimizer.iterations.numpy()


def test_model_subclass_with_inputs_and_outputs_is_functional():
    class MyModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

        def describe(self):
            return "mine"

    inputs = keras.Input((4,))
    model = MyModel(inputs, layers.Dense(2)(inputs))
    assert isinstance(model, keras.models.Functional) and model.describe() == "mine"
    revived = MyModel.from_config(model.get_config())
    assert type(revived) is MyModel and revived(np.ones((1, 4))).shape == (1, 2)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_a_model_without_trainable_weights_trains_nothing_and_says_so(jit_compile):
    """Keras warns "The model does not have any trainable weights." and takes no step."""
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    before = model.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = model.fit(np.ones((4, 3)), np.zeros((4, 1)), epochs=2, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert history.history["loss"][0] == history.history["loss"][1]
    assert int(model.optimizer.iterations.numpy()) == 0
