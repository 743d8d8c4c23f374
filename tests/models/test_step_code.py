"""One capture plans a step made only of numnet's code; anything of the user's keeps two.

See `numnet.models.step_code`. The compiled-against-eager tests in `tests/engine`
and `tests/layers` check that numnet's own layers, losses and metrics give the
eager numbers when planned this way.
"""

import numpy as np
import pytest

import numnet as keras
from numnet import ops
from numnet.models import trainer

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
    assert _planned_after(model, 1)
    assert model.train_function.captures_to_plan == 1
    assert model.compiled_reason is None


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)


class Readout(keras.layers.Layer):
    """A plain `call` using a helper method, a list of layers, a closure-free comprehension,
    numnet functions and a constant."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.heads = [keras.layers.Dense(2), keras.layers.Dense(2, activation="tanh")]
        self.factor = 0.5

    def call(self, x, training=None):
        outputs = [head(x) for head in self.heads]
        return self._merged(outputs) if training else self._merged(outputs[:1] * 2)

    def _merged(self, outputs):
        return keras.ops.relu(keras.layers.concatenate(outputs)) * self.factor


class Helper(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.history = []

    def call(self, x):
        return self._scaled(x)

    def _scaled(self, x):
        self.history.append(1)  # state: not plain
        return x * 2.0


class Aliased(keras.layers.Layer):
    def call(self, x):
        me = self  # `self` handed on: not followed
        return me._scaled(x)

    def _scaled(self, x):
        return x * 2.0


class LocalAlias(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.history = []

    def call(self, x):
        history = self.history  # a container of its own, mutated through a local name
        history.append(1)
        return x * 2.0


class RawArray(keras.layers.Layer):
    def call(self, x):
        return x * ops.convert_to_tensor(x.data.mean())  # NumPy on the raw array: a constant


class WithNumpy(keras.layers.Layer):
    def call(self, x):
        return x * float(np.sqrt(2.0))  # a global of the user's (NumPy): not followed


class WithProperty(keras.layers.Layer):
    @property
    def scale(self):
        return 2.0

    def call(self, x):
        return x * self.scale  # reading it would run the user's code: not followed


class WithSuper(keras.layers.Dense):
    def call(self, x):
        return super().call(x) * 2.0


class OwnStep(Subclassed):
    def train_step(self, data):
        return super().train_step(data)


class OwnCall(keras.layers.Layer):
    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs)

    def call(self, x):
        return x * 2.0


class TrainingBranch(keras.Model):
    """A layer used only in training: first built inside the captured step."""

    def __init__(self):
        super().__init__()
        self.first = keras.layers.Dense(3)
        self.extra = keras.layers.Dense(3, activation="tanh")
        self.last = keras.layers.Dense(1)

    def call(self, x, training=None):
        hidden = self.first(x)
        if training:
            hidden = self.extra(hidden)
        return self.last(hidden)


def _nonlocal_counter():
    calls = 0

    class NonLocal(keras.layers.Layer):
        def call(self, x):
            nonlocal calls  # state in a closure: not plain
            calls += 1
            return x * 2.0

    return NonLocal()


SEEN = []  # a global list a function of the user's appends to: not plain


def _remembering_loss(y, p):
    SEEN.append(1)
    return ops.mean(ops.square(y - p), axis=-1)


def _users_helper(x):
    return x + 1.0


# Plain code of the user's: a function or `call` reaching only numnet, layers and constants.
PLAIN_CASES = {
    "layer": lambda: (_sequential(Doubling()), {}),
    "subclassed_model": lambda: (Subclassed(), {}),
    "helper_method": lambda: (_sequential(Readout()), {}),
    "training_branch": lambda: (TrainingBranch(), {}),
    "activation": lambda: (_sequential(activation=lambda x: x * 0.5), {}),
    "regularizer": lambda: (
        _sequential(kernel_regularizer=lambda w: 0.01 * ops.sum(ops.square(w))), {}),
    "loss": lambda: (_sequential(), {"loss": lambda y, p: ops.mean(ops.square(y - p), axis=-1)}),
    "metric": lambda: (_sequential(), {"metrics": [lambda y, p: ops.mean(p, axis=-1)]}),
    "lambda": lambda: (_sequential(keras.layers.Lambda(lambda x: x + 1.0)), {}),
}


@pytest.mark.parametrize("case", sorted(PLAIN_CASES))
def test_a_users_plain_code_is_planned_after_one_capture(case):
    """Plain `call`s and functions need no second capture, and the replay still gives the
    eager step's weights bit for bit."""
    fitted = {}
    for compiled in (True, False):
        keras.utils.set_random_seed(5)
        model, compile_kwargs = PLAIN_CASES[case]()
        model.compile(optimizer="adam", jit_compile=compiled,
                      **({"loss": "mse"} | compile_kwargs))
        model.fit(X, Y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        fitted[compiled] = model
    assert fitted[True].train_function.captures_to_plan == 1
    assert fitted[True].train_function.programs and fitted[True].compiled_reason is None
    for a, b in zip(fitted[True].get_weights(), fitted[False].get_weights()):
        np.testing.assert_array_equal(a, b)  # the replay computes as the eager step


@pytest.mark.parametrize("case", ["activation", "regularizer", "loss", "metric", "lambda",
                                  "counting", "mutating_helper", "alias", "numpy",
                                  "property", "super", "train_step", "dunder_call",
                                  "nonlocal", "local_alias", "raw_array"])
def test_anything_else_of_the_users_keeps_the_second_capture(case):
    compile_kwargs = {}
    layers = {"counting": Counting, "mutating_helper": Helper, "alias": Aliased,
              "numpy": WithNumpy, "property": WithProperty, "dunder_call": OwnCall,
              "local_alias": LocalAlias, "raw_array": RawArray}
    if case in layers:
        model = _sequential(layers[case]())
    elif case == "super":
        model = _sequential(WithSuper(3))
    elif case == "nonlocal":
        model = _sequential(_nonlocal_counter())
    elif case == "train_step":
        model = OwnStep()
    elif case == "activation":  # reads NumPy
        model = _sequential(activation=lambda x: x * float(np.float32(0.5)))
    elif case == "regularizer":  # calls a function of the user's
        model = _sequential(kernel_regularizer=lambda w: 0.01 * ops.sum(_users_helper(w)))
    elif case == "loss":  # appends to a global list
        model = _sequential()
        compile_kwargs["loss"] = _remembering_loss
    elif case == "metric":  # reads NumPy
        model = _sequential()
        compile_kwargs["metrics"] = [lambda y, p: ops.mean(p, axis=-1) * np.float32(1.0)]
    else:  # calls a function of the user's
        model = _sequential(keras.layers.Lambda(lambda x: _users_helper(x)))
    model.compile(optimizer="sgd", **({"loss": "mse"} | compile_kwargs))
    assert not _planned_after(model, 1)
    assert model.train_function.captures_to_plan == 2
    if case in ("counting", "raw_array"):
        return  # its ops change from batch to batch: never planned (the next test)
    model.fit(X[:16], Y[:16], batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert model.train_function.programs and model.compiled_reason is None


def test_a_users_layer_with_changing_python_state_is_still_caught():
    model = _sequential(Counting())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    assert not model.train_function.programs
    assert "changed" in model.compiled_reason


# ---------------------------------------------------------------------------
# The assumption behind one capture, checked layer by layer: with the second capture
# forced back on, every numnet layer's training step traces the same ops on every batch
# (no fallback), so planning it from its first capture loses nothing.
L = keras.layers
IDS = RNG.integers(0, 6, size=(24, 4))
FLOATS = RNG.normal(size=(24, 6)).astype("float32")
TARGETS = RNG.normal(size=(24, 2)).astype("float32")


def _around(*layers):
    return keras.Sequential([keras.Input(shape=(6,)), L.Dense(6), *layers, L.Flatten(),
                             L.Dense(2)])


def _merged(merge):
    inputs = keras.Input(shape=(6,))
    a, b = L.Dense(4)(inputs), L.Dense(4, activation="tanh")(inputs)
    return keras.Model(inputs, L.Dense(2)(merge([a, b])))


def _categorical(*layers):
    return keras.Sequential([keras.Input(shape=(4,), dtype="int64"), *layers, L.Flatten(),
                             L.Dense(2)])


LAYER_CASES = {
    "Activation": lambda: _around(L.Activation("softplus")),
    "ActivityRegularization": lambda: _around(L.ActivityRegularization(l1=0.01, l2=0.01)),
    "Add": lambda: _merged(L.Add()),
    "AlphaDropout": lambda: _around(L.AlphaDropout(0.2)),
    "Average": lambda: _merged(L.Average()),
    "BatchNormalization": lambda: _around(L.BatchNormalization(momentum=0.8)),
    "CategoryEncoding": lambda: _categorical(L.CategoryEncoding(6, output_mode="count")),
    "Concatenate": lambda: _merged(L.Concatenate()),
    "Dense": lambda: _around(L.Dense(3, activation="relu", kernel_regularizer="l2",
                                     kernel_constraint="max_norm")),
    "Discretization": lambda: keras.Sequential([
        keras.Input(shape=(6,)), L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5],
                                                  output_mode="one_hot"),
        L.Flatten(), L.Dense(2)]),
    "Dot": lambda: _merged(L.Dot(axes=1, normalize=True)),
    "Dropout": lambda: _around(L.Dropout(0.3)),
    "ELU": lambda: _around(L.ELU()),
    "Embedding": lambda: _categorical(L.Embedding(6, 3, embeddings_regularizer="l2")),
    "Flatten": lambda: _around(L.Flatten()),
    "GaussianDropout": lambda: _around(L.GaussianDropout(0.2)),
    "GaussianNoise": lambda: _around(L.GaussianNoise(0.1, seed=3)),
    "Hashing": lambda: keras.Sequential([  # one id per sample: Keras' one-hot shape
        keras.Input(shape=(1,), dtype="int64"), L.Hashing(5, output_mode="one_hot"),
        L.Dense(2)]),
    "Identity": lambda: _around(L.Identity()),
    "IntegerLookup": lambda: _categorical(L.IntegerLookup(vocabulary=[1, 2, 3],
                                                          output_mode="one_hot")),
    "LayerNormalization": lambda: _around(L.LayerNormalization()),
    "LeakyReLU": lambda: _around(L.LeakyReLU(0.2)),
    "Masking": lambda: keras.Sequential([keras.Input(shape=(6,)), L.Masking(0.0),
                                         L.Dense(2)]),
    "Maximum": lambda: _merged(L.Maximum()),
    "Minimum": lambda: _merged(L.Minimum()),
    "Multiply": lambda: _merged(L.Multiply()),
    "Normalization": lambda: keras.Sequential([keras.Input(shape=(6,)),
                                               L.Normalization(mean=0.5, variance=2.0),
                                               L.Dense(2)]),
    "PReLU": lambda: _around(L.PReLU()),
    "Permute": lambda: _around(L.Reshape((2, 3)), L.Permute((2, 1))),
    "ReLU": lambda: _around(L.ReLU(max_value=6.0)),
    "RepeatVector": lambda: _around(L.RepeatVector(2)),
    "Rescaling": lambda: _around(L.Rescaling(0.5, offset=0.1)),
    "Resizing": lambda: _around(L.Reshape((2, 3, 1)), L.Resizing(3, 2)),
    "CenterCrop": lambda: _around(L.Reshape((3, 2, 1)), L.CenterCrop(2, 2)),
    "Reshape": lambda: _around(L.Reshape((3, 2))),
    "Softmax": lambda: _around(L.Softmax()),
    "Subtract": lambda: _merged(L.Subtract()),
    "UnitNormalization": lambda: _around(L.UnitNormalization()),
}
NOT_IN_A_TRAINING_STEP = {
    "InputLayer": "in every case above",
    "Lambda": "runs the user's function: always captured twice",
    "Layer": "the base class",
    "Wrapper": "abstract; its subclasses wrap a layer",
    "Perceptron": "trained by Rosenblatt's rule (fit_rosenblatt), not by a compiled step",
    "TLU": "a Perceptron with a Heaviside step, which has no gradient",
    "StringLookup": "string inputs: its lookup runs before any float op",
}


def test_every_layer_class_is_checked():
    import inspect
    classes = {name for name in dir(L)
               if inspect.isclass(getattr(L, name)) and issubclass(getattr(L, name), L.Layer)}
    assert classes == set(LAYER_CASES) | set(NOT_IN_A_TRAINING_STEP)


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_each_numnet_layer_traces_alike_on_every_batch(name, monkeypatch):
    def fitted():
        keras.utils.set_random_seed(5)
        model = LAYER_CASES[name]()
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        x = FLOATS
        if model.inputs[0].dtype.startswith("int"):
            x = IDS[:, :model.inputs[0].shape[-1]]
        model.fit(x, TARGETS, batch_size=8, epochs=1, verbose=0)
        return model

    assert fitted().train_function.captures_to_plan == 1  # numnet's code: one capture
    # Compare two captures, as for code of the user's.
    monkeypatch.setattr(trainer, "only_numnet_code", lambda model, layers: False)
    model = fitted()
    assert model.train_function.captures_to_plan == 2
    assert model.compiled_reason is None, model.compiled_reason
    assert model.train_function.programs
