"""One capture plans a step made only of numnet's code; anything of the user's keeps two.

See `numnet.models.step_code`. The compiled-against-eager tests in `tests/engine`
and `tests/layers` check that numnet's own layers, losses and metrics give the
eager numbers when planned this way.
"""

import numpy as np
import pytest

import numnet as keras
from numnet import ops

RNG = np.random.default_rng(3)
X = RNG.normal(size=(16, 4)).astype("float32")
Y = RNG.normal(size=(16, 1)).astype("float32")


def _sequential(*middle, **dense_kwargs):
    return keras.Sequential([keras.Input(shape=(4,)), *middle,
                             keras.layers.Dense(3, **dense_kwargs), keras.layers.Dense(1)])


def _planned_after(model, batches):
    """Whether the training step has a program after `batches` steps of 8 samples."""
    model.fit(X[:8 * batches], Y[:8 * batches], batch_size=8, epochs=1, verbose=0,
              shuffle=False)
    return bool(model.train_function.programs)


class Doubling(keras.layers.Layer):
    def call(self, x):
        return x * 2.0


class Counting(keras.layers.Layer):
    """Python state that changes a constant from batch to batch: must not be frozen."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, x):
        self.calls += 1
        return x * float(self.calls)


def test_numnet_layers_losses_and_metrics_are_planned_after_one_capture():
    model = _sequential(keras.layers.Normalization(mean=0.0, variance=1.0),
                        keras.layers.Dropout(0.1), activation="relu",
                        kernel_regularizer="l2")
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", "RootMeanSquaredError"])
    assert model._runs_only_numnet_code()
    assert _planned_after(model, 1)
    assert model.compiled_reason is None


@pytest.mark.parametrize("case", ["layer", "activation", "regularizer", "loss", "metric",
                                  "lambda", "subclassed_model"])
def test_anything_of_the_users_keeps_the_second_capture(case):
    compile_kwargs = {}
    if case == "layer":
        model = _sequential(Doubling())
    elif case == "activation":
        model = _sequential(activation=lambda x: x * 0.5)
    elif case == "regularizer":
        model = _sequential(kernel_regularizer=lambda w: 0.01 * ops.sum(ops.square(w)))
    elif case == "loss":
        model = _sequential()
        compile_kwargs["loss"] = lambda y, p: ops.mean(ops.square(y - p), axis=-1)
    elif case == "metric":
        model = _sequential()
        compile_kwargs["metrics"] = [lambda y, p: ops.mean(p, axis=-1)]
    elif case == "lambda":
        model = _sequential(keras.layers.Lambda(lambda x: x + 1.0))
    else:
        class Subclassed(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(1)

            def call(self, x):
                return self.dense(x)
        model = Subclassed()
    model.compile(optimizer="sgd", **({"loss": "mse"} | compile_kwargs))
    assert not model._runs_only_numnet_code()
    assert not _planned_after(model, 1)
    model.fit(X[:16], Y[:16], batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert model.train_function.programs and model.compiled_reason is None


def test_a_users_layer_with_changing_python_state_is_still_caught():
    model = _sequential(Counting())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    assert not model.train_function.programs
    assert "changed" in model.compiled_reason
