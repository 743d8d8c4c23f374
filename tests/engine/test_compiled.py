"""The compiled step against the eager (tape) step, over a family of models.

Every case builds the same model twice from the same seed, trains one with
`jit_compile=True` (captured, then replayed) and one with `jit_compile=False`
(every step eager, op by op), and compares the weights after several steps.
Each case also checks that the compiled model really replayed (it has a
program and no fallback reason), so a silent fallback cannot make a case pass.
"""

import numpy as np
import pytest

import numnet as keras
from numnet import ops
from numnet.autodiff.ops.nn import kept_logits
from numnet.backend import blas

RNG = np.random.default_rng(0)
N = 48  # 6 batches of 8: captured on step 1 (and 2 with code of the user's), then replayed


def _data(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(N,) + tuple(s)).astype("float32") for s in shapes]


def _train_both(build, x, y, epochs=3, fit_kwargs=None, compile_kwargs=None, seed=7):
    """Trains `build()` compiled and eagerly; returns both models."""
    models = []
    for jit in (True, False):
        keras.utils.set_random_seed(seed)
        model = build()
        kwargs = compile_kwargs() if callable(compile_kwargs) else compile_kwargs
        model.compile(jit_compile=jit, **(kwargs or {"optimizer": "adam", "loss": "mse"}))
        model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=True,
                  **(fit_kwargs or {}))
        models.append(model)
    compiled, eager = models
    assert compiled.compiled_reason is None, compiled.compiled_reason
    assert compiled.train_function.programs, "the compiled model never replayed"
    assert not eager.train_function.programs
    return compiled, eager


def _assert_same_history(a, b, rtol=1e-6):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=rtol, err_msg=key)


def _assert_same_weights(a, b, rtol=1e-6, atol=1e-7):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ Sequential
def _sequential(hidden="relu", out=None, extra=()):
    def build():
        return keras.Sequential([keras.Input(shape=(6,)), *extra,
                                 keras.layers.Dense(12, activation=hidden),
                                 keras.layers.Dense(8, activation=hidden),
                                 keras.layers.Dense(3, activation=out)])
    return build


ACTIVATIONS = ["relu", "tanh", "sigmoid", "elu", "selu", "leaky_relu", "softplus", "softsign",
               "silu", "gelu", "mish", "hard_sigmoid", "exponential", "relu6", "linear"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation(activation):
    x, y = _data((6,), (3,))
    x *= 0.5  # exponential stays tame
    compiled, eager = _train_both(_sequential(activation), x, y)
    _assert_same_weights(compiled, eager)


LOSSES = {
    "mse": (None, lambda y: y),
    "mae": (None, lambda y: y),
    "huber": (None, lambda y: y),
    "log_cosh": (None, lambda y: y),
    "mean_absolute_percentage_error": (None, lambda y: y + 3.0),
    "mean_squared_logarithmic_error": ("relu", lambda y: np.abs(y)),
    "poisson": ("softplus", lambda y: np.abs(y)),
    "kl_divergence": ("softmax", lambda y: keras.utils.to_categorical(np.argmax(y, 1), 3)),
    "categorical_crossentropy": ("softmax",
                                 lambda y: keras.utils.to_categorical(np.argmax(y, 1), 3)),
    "sparse_categorical_crossentropy": ("softmax", lambda y: np.argmax(y, 1)),
    "binary_crossentropy": ("sigmoid", lambda y: (y > 0).astype("float32")),
    "hinge": ("tanh", lambda y: np.sign(y)),
    "squared_hinge": ("tanh", lambda y: np.sign(y)),
    "categorical_hinge": (None, lambda y: keras.utils.to_categorical(np.argmax(y, 1), 3)),
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss(loss):
    out, target = LOSSES[loss]
    x, y = _data((6,), (3,))
    compiled, eager = _train_both(_sequential("tanh", out), x, target(y),
                                  compile_kwargs={"optimizer": "adam", "loss": loss})
    _assert_same_weights(compiled, eager)


def test_cross_entropies_from_logits_and_metrics():
    x, y = _data((6,), (3,))
    labels = np.argmax(y, 1)
    compiled, eager = _train_both(
        _sequential("relu"), x, labels,
        compile_kwargs={"optimizer": "sgd",
                        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "metrics": ["accuracy", "sparse_top_k_categorical_accuracy"]})
    _assert_same_weights(compiled, eager)
    _assert_same_history(compiled.history.history, eager.history.history)


OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.05),
    "momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    "nesterov": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "amsgrad": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
    "rmsprop_centered": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: keras.optimizers.Adagrad(0.1),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "clipnorm": lambda: keras.optimizers.SGD(0.05, clipnorm=0.1),
    "global_clipnorm": lambda: keras.optimizers.Adam(0.01, global_clipnorm=0.1),
    "clipvalue": lambda: keras.optimizers.SGD(0.05, clipvalue=0.01),
    "ema": lambda: keras.optimizers.Adam(0.01, use_ema=True, ema_overwrite_frequency=4),
    "accumulation": lambda: keras.optimizers.SGD(0.05, gradient_accumulation_steps=3),
    "schedule": lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(
        0.02, decay_steps=3, decay_rate=0.5)),
    "adamax": lambda: keras.optimizers.Adamax(0.01),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "ftrl": lambda: keras.optimizers.Ftrl(0.05, l1_regularization_strength=0.01),
    "lion": lambda: keras.optimizers.Lion(0.001),
    "lamb": lambda: keras.optimizers.Lamb(0.01),
    "adafactor": lambda: keras.optimizers.Adafactor(0.01),
    "schedule_free_adamw": lambda: keras.optimizers.ScheduleFreeAdamW(0.01),
    "muon": lambda: keras.optimizers.Muon(0.01),
    "loss_scale_factor": lambda: keras.optimizers.SGD(0.05, momentum=0.5, loss_scale_factor=8.0),
    "loss_scale_optimizer": lambda: keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(0.01), initial_scale=16.0, dynamic_growth_steps=2),
    "multi_optimizer": lambda: keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(
        keras.optimizers.SGD(0.05, momentum=0.9), {".*/bias": keras.optimizers.Adam(0.01)})),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer(name):
    x, y = _data((6,), (3,))
    compiled, eager = _train_both(_sequential("relu"), x, y,
                                  compile_kwargs=lambda: {"optimizer": OPTIMIZERS[name](),
                                                          "loss": "mse"})
    _assert_same_weights(compiled, eager)
    np.testing.assert_array_equal(compiled.optimizer.iterations.numpy(),
                                  eager.optimizer.iterations.numpy())


def test_preprocessing_dropout_regularizers_and_constraints():
    x, = _data((2, 3))
    y = x.reshape(N, 6)[:, :3] * 2
    norm = keras.layers.Normalization()

    def build():
        model = keras.Sequential([
            keras.Input(shape=(2, 3)), norm, keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", kernel_regularizer="l2",
                               bias_regularizer=keras.regularizers.L1(0.01),
                               kernel_constraint=keras.constraints.MaxNorm(1.5)),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(8, activation="elu", activity_regularizer="l1"),
            keras.layers.Dropout(0.2, seed=3),
            keras.layers.Dense(3)])
        return model
    norm.adapt(x)
    compiled, eager = _train_both(build, x, y)
    _assert_same_weights(compiled, eager)


def test_sample_and_class_weights():
    x, y = _data((6,), (3,))
    labels = np.argmax(y, 1)
    weights = np.random.default_rng(1).uniform(0.1, 2.0, size=N).astype("float32")
    kwargs = {"optimizer": "adam", "loss": "sparse_categorical_crossentropy",
              "metrics": ["accuracy"], "weighted_metrics": ["accuracy"]}
    compiled, eager = _train_both(_sequential("relu", "softmax"), x, labels,
                                  compile_kwargs=kwargs, fit_kwargs={"sample_weight": weights})
    _assert_same_weights(compiled, eager)
    compiled, eager = _train_both(_sequential("relu", "softmax"), x, labels,
                                  compile_kwargs=kwargs,
                                  fit_kwargs={"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}})
    _assert_same_weights(compiled, eager)
    _assert_same_history(compiled.history.history, eager.history.history)


# ------------------------------------------------------------------ Functional
def _functional():
    wide = keras.Input(shape=(5,), name="wide")
    deep = keras.Input(shape=(6,), name="deep")
    shared = keras.layers.Dense(6, activation="tanh", name="shared")
    a, b = shared(deep), shared(keras.layers.Dense(6, name="pre")(deep))
    merged = keras.layers.Concatenate()([wide, keras.layers.Add()([a, b]),
                                         keras.layers.Multiply()([a, b])])
    inner = keras.Sequential([keras.Input(shape=(17,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(4)], name="inner")
    main = keras.layers.Dense(1, name="main")(inner(merged))
    aux = keras.layers.Dense(2, activation="softmax", name="aux")(
        keras.layers.Average()([a, b]))
    return keras.Model(inputs={"wide": wide, "deep": deep}, outputs={"main": main, "aux": aux})


def test_functional_merges_shared_nested_dicts():
    xw, xd, ym = _data((5,), (6,), (1,))
    yaux = (xd[:, 0] > 0).astype("int32")
    compiled, eager = _train_both(
        _functional, {"wide": xw, "deep": xd}, {"main": ym, "aux": yaux},
        compile_kwargs={"optimizer": "rmsprop",
                        "loss": {"main": "mse", "aux": "sparse_categorical_crossentropy"},
                        "loss_weights": {"main": 0.9, "aux": 0.1},
                        "metrics": {"main": ["mae"], "aux": ["accuracy"]}})
    _assert_same_weights(compiled, eager)
    _assert_same_history(compiled.history.history, eager.history.history)


class WideAndDeep(keras.Model):
    def __init__(self, units=12, **kwargs):
        super().__init__(**kwargs)
        self.norm_wide = keras.layers.Normalization()
        self.norm_deep = keras.layers.Normalization()
        self.hidden1 = keras.layers.Dense(units, activation="relu")
        self.hidden2 = keras.layers.Dense(units, activation="relu")
        self.main_output = keras.layers.Dense(1)
        self.aux_output = keras.layers.Dense(1)

    def call(self, inputs):
        input_wide, input_deep = inputs
        wide = self.norm_wide(input_wide)
        deep = self.hidden2(self.hidden1(self.norm_deep(input_deep)))
        return self.main_output(ops.concatenate([wide, deep], axis=-1)), self.aux_output(deep)


def test_subclassed_two_outputs():
    xw, xd, y = _data((5,), (6,), (1,))

    def build():
        model = WideAndDeep()
        model.norm_wide.adapt(xw)
        model.norm_deep.adapt(xd)
        return model
    compiled, eager = _train_both(build, (xw, xd), (y, y),
                                  compile_kwargs={"optimizer": "adam", "loss": ("mse", "mse"),
                                                  "loss_weights": (0.9, 0.1),
                                                  "metrics": [["RootMeanSquaredError"], []]})
    _assert_same_weights(compiled, eager)


# --------------------------------------------------- signatures and fallbacks
def test_a_partial_last_batch_gets_its_own_program_and_new_shapes_retrace():
    x, y = _data((6,), (3,))
    keras.utils.set_random_seed(0)
    model = _sequential()()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x[:44], y[:44], batch_size=8, epochs=3, verbose=0)  # 5 of 8 and 1 of 4
    assert len(model.train_function.programs) == 2
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert len(model.train_function.programs) == 3
    assert {p.inputs[0].shape[0] for p in model.train_function.programs} == {8, 4, 16}


class ValueBranch(keras.layers.Layer):
    """Python control flow on a tensor's value: cannot be replayed."""

    def call(self, x):
        return x * 2.0 if float(ops.sum(x)) > 0 else x


class NumpyInside(keras.layers.Layer):
    """Arithmetic on raw arrays outside numnet's ops: cannot be replayed."""

    def call(self, x):
        return x + keras.Tensor(np.tanh(x.data.mean(axis=0)))


class VariableBranch(keras.layers.Layer):
    """Python control flow on a variable's value (a warm-up counter): the branch changes at
    the third step, which neither one nor two captures would see; the read is caught."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.count = keras.Variable(0.0, trainable=False)

    def call(self, x):
        self.count.assign_add(1.0)
        return x * 0.0 if float(self.count) < 3 else x


class BoolMaskIndex(keras.layers.Layer):
    """A boolean mask as an index: the gathered values' count depends on the data."""

    def call(self, x):
        return x + ops.sum(x[x > 0])


@pytest.mark.parametrize("layer, reason", [
    (ValueBranch, "reads a computed tensor's or a variable's value"),
    (BoolMaskIndex, "a boolean mask as an index"),
    (VariableBranch, "reads a computed tensor's or a variable's value"),
    (NumpyInside, "changed between batches"),
])
def test_steps_that_cannot_be_replayed_run_eagerly_and_say_why(layer, reason, capsys):
    x, y = _data((6,), (3,))
    results = []
    for jit in (True, False):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input(shape=(6,)), layer(), keras.layers.Dense(3)])
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=8, epochs=2, verbose=2 if jit else 0)
        results.append(model)
    compiled, eager = results
    assert reason in compiled.compiled_reason
    assert not compiled.train_function.programs
    assert reason in capsys.readouterr().out  # said in the logs at verbose >= 1
    _assert_same_weights(compiled, eager, rtol=0, atol=0)


class CustomStep(keras.Model):
    """Keras' "customizing what happens in fit": a hand-written train_step."""

    def __init__(self):
        super().__init__()
        self.dense1 = keras.layers.Dense(8, activation="relu")
        self.dense2 = keras.layers.Dense(1)
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, x):
        return self.dense2(self.dense1(x))

    def train_step(self, data):
        x, y = data[0], data[1]
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = ops.mean(ops.square(y_pred - y)) * 2.0
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    @property
    def metrics(self):
        return [self.tracker]


def test_a_custom_train_step_is_compiled_and_gives_the_same_numbers():
    x, = _data((6,))
    y = x[:, :1] * 3
    histories = []
    models = []
    for jit in (True, False):
        keras.utils.set_random_seed(2)
        model = CustomStep()
        model.compile(optimizer="adam", jit_compile=jit)
        histories.append(model.fit(x, y, batch_size=8, epochs=3, verbose=0).history)
        models.append(model)
    assert models[0].train_function.programs and models[0].compiled_reason is None
    _assert_same_weights(*models)
    _assert_same_history(histories[0], histories[1])


class ReplaceWeights(keras.callbacks.Callback):
    """Reads and replaces weights between steps, through every public route."""

    def on_train_batch_end(self, batch, logs=None):
        dense = self.model.layers[0]
        if batch == 3:
            dense.kernel.assign(dense.kernel.numpy() * 0.5)
        if batch == 4:
            dense.set_weights([w + 0.01 for w in dense.get_weights()])
        if batch == 5:
            dense.bias.data = np.ones_like(dense.bias.numpy())  # a new array: copied in place


def test_callbacks_that_read_and_replace_weights_between_steps():
    x, y = _data((6,), (3,))
    compiled, eager = _train_both(_sequential(), x, y, fit_kwargs={"callbacks": [ReplaceWeights()]})
    _assert_same_weights(compiled, eager)


# relu and elu map 1 to 1: they run over the next product's whole `[x, 1]` buffer
@pytest.mark.parametrize("hidden", ["tanh", "relu", "elu"])
def test_inference_is_bit_for_bit_the_eager_result(hidden):
    x, y = _data((6,), (3,))
    keras.utils.set_random_seed(0)
    model = _sequential(hidden, "softmax")()
    model.set_weights([RNG.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    first = [model.predict(x, batch_size=8, verbose=0) for _ in range(4)]
    for later in first[1:]:
        np.testing.assert_array_equal(later, first[0])
    assert model.predict_function.programs
    evaluations = [model.evaluate(x, y, batch_size=8, verbose=0) for _ in range(4)]
    assert all(e == evaluations[0] for e in evaluations)
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=False)
    assert model.evaluate(x, y, batch_size=8, verbose=0) == evaluations[0]


@pytest.mark.parametrize("shape", [(6,), (4, 6)])
def test_a_sparse_cross_entropy_reads_its_softmax_statistics_with_the_same_bits(shape):
    x, = _data(shape)
    labels = (x[..., 0] > 0).astype("int64") + (x[..., 1] > 0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=shape), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_crossentropy"])
    evaluations = [model.evaluate(x, labels, batch_size=8, verbose=0) for _ in range(3)]
    assert [p.stats["rewrites"].get("share_softmax_statistics")
            for p in model.test_function.programs] == [1]
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_crossentropy"], jit_compile=False)
    assert model.evaluate(x, labels, batch_size=8, verbose=0) == evaluations[-1]


def test_invariants_follow_a_new_adapt_and_seeds_reach_dropout():
    x, y = _data((6,), (3,))
    norm = keras.layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([keras.Input(shape=(6,)), norm, keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    before = model.predict(x, batch_size=8, verbose=0)
    norm.adapt(x * 3 + 1)
    after = model.predict(x, batch_size=8, verbose=0)
    expected = model(x).numpy()  # eager
    np.testing.assert_allclose(after, expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(before, after)

    drop = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dropout(0.5),
                             keras.layers.Dense(3)])
    drop.compile(optimizer="sgd", loss="mse")
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(4)
        drop.set_weights([np.ones((6, 3), "float32"), np.zeros(3, "float32")])
        drop.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        runs.append(drop.get_weights())
    assert drop.train_function.programs
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_model_calls_outside_a_tape_are_replayed_with_their_logits():
    x, y = _data((6,), (3,))
    labels = np.argmax(y, 1)
    keras.utils.set_random_seed(0)
    model = _sequential("relu", "softmax")()
    loss = keras.losses.SparseCategoricalCrossentropy()
    calls = [model(x) for _ in range(4)]
    assert model._call_functions[False].programs  # the last calls were replays
    for out in calls[1:]:
        np.testing.assert_array_equal(out.numpy(), calls[0].numpy())
        assert kept_logits(out) is not None  # cross-entropy still reads the logits
        assert float(loss(labels, out)) == float(loss(labels, calls[0]))
    calls[-1].numpy()[...] = 0  # each call's outputs are its own
    np.testing.assert_array_equal(model(x).numpy(), calls[0].numpy())
    with keras.GradientTape() as tape:  # under a tape: the eager call, differentiable
        value = loss(labels, model(x))
    assert all(g is not None for g in tape.gradient(value, model.trainable_weights))


def test_model_calls_on_one_array_take_the_shortest_replay_and_stay_right():
    x, y = _data((6,), (3,))
    keras.utils.set_random_seed(0)
    model = _sequential("relu", "softmax")()
    model.compile(optimizer="sgd", loss="mse")

    def eager(inputs):
        with keras.GradientTape():  # under a tape every call is the eager one
            return model(inputs).numpy()

    for _ in range(3):
        model(x)
    function = model._call_functions[False]
    assert function.call_array(x) is not None  # this shape and dtype go straight to the program
    assert function.call_array(x[:3]) is None and function.call_array(x.astype("float64")) is None
    np.testing.assert_allclose(model(x).numpy(), eager(x), rtol=1e-6)
    model.fit(x, y, epochs=2, verbose=0)  # the weights move into the parameter store, then change
    assert function.call_array(x) is None  # the program read the arrays they left
    np.testing.assert_allclose(model(x).numpy(), eager(x), rtol=1e-6)
    for _ in range(2):
        model(x)
    assert function.call_array(x) is not None  # planned again, on the store
    model.set_weights([w * 0.5 for w in model.get_weights()])
    for inputs in (x, x[::-1].copy(), x[:3], x[:3], x[:3], x, x.astype("float64")):
        np.testing.assert_allclose(model(inputs).numpy(), eager(inputs), rtol=1e-6)
    assert kept_logits(model(x)) is not None
    # every shape planned keeps its shortest replay
    assert function.call_array(x) is not None and function.call_array(x[:3]) is not None
    # a tensor, and `training=False` (or None) said outright, take the same shortest replay
    for call in (lambda v: model(keras.ops.convert_to_tensor(v)),
                 lambda v: model(v, training=False), lambda v: model(v, training=None)):
        expected, replayed = eager(x[::-1].copy()), []
        function.call_array = lambda array, f=function.call_array: replayed.append(f(array)) \
            or replayed[-1]
        np.testing.assert_allclose(call(x[::-1].copy()).numpy(), expected, rtol=1e-6)
        del function.call_array
        assert len(replayed) == 1 and replayed[0] is not None
    with_dropout = model(x, training=True)  # a training call is another function
    np.testing.assert_allclose(with_dropout.numpy(), eager(x), rtol=1e-6)


@pytest.mark.parametrize("out", [None, "sigmoid", "two outputs"])
def test_replayed_model_calls_give_fresh_outputs_and_their_logits(out):
    x, _ = _data((6,), (3,))
    keras.utils.set_random_seed(0)
    if out == "two outputs":
        inputs = keras.Input(shape=(6,))
        hidden = keras.layers.Dense(5, activation="relu")(inputs)
        model = keras.Model(inputs, [keras.layers.Dense(2, activation="softmax")(hidden),
                                     keras.layers.Dense(1)(hidden)])
    else:
        model = _sequential("relu", out)()

    def eager():
        with keras.GradientTape():
            return model(x)

    expected = eager()
    calls = [model(x) for _ in range(4)]
    assert model._call_functions[False].call_array(x) is not None
    for got in calls[2:]:
        for a, b in zip(keras.tree.flatten(got), keras.tree.flatten(expected)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
            assert (kept_logits(a) is None) == (kept_logits(b) is None)
            if kept_logits(a) is not None:
                np.testing.assert_allclose(kept_logits(a).numpy(), kept_logits(b).numpy(),
                                           rtol=1e-6)
    later = [keras.tree.flatten(model(x))[0] for _ in range(2)]
    later[0].numpy()[...] = 7  # each call's outputs and logits are its own
    if kept_logits(later[0]) is not None:
        kept_logits(later[0]).numpy()[...] = 7
    for t in (later[1], keras.tree.flatten(calls[3])[0]):
        np.testing.assert_allclose(t.numpy(), keras.tree.flatten(expected)[0].numpy(), rtol=1e-6)
        if kept_logits(t) is not None:
            np.testing.assert_allclose(kept_logits(t).numpy(),
                                       kept_logits(keras.tree.flatten(expected)[0]).numpy(),
                                       rtol=1e-6)


def test_fit_ends_with_the_ema_weights_as_keras_does():
    x, y = _data((6,), (3,))
    keras.utils.set_random_seed(0)
    model = _sequential()()
    model.compile(optimizer=keras.optimizers.SGD(0.05, use_ema=True), loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    averages = {v.path: v for v in model.optimizer.variables if v.path.endswith("_average")}
    assert averages
    for weight in model.trainable_weights:
        key = weight.path.replace("/", "_") + "_average"
        match = [v for path, v in averages.items() if path.endswith(key)]
        np.testing.assert_array_equal(weight.numpy(), match[0].numpy())


# ------------------------------------- plain SGD: the update inside the products
def _folded(model):
    """Per training program: whether its SGD update was fused into the gradient products."""
    return [p.stats["rewrites"].get("fuse_sgd_updates", 0)
            for p in model.train_function.programs]


class ChangeTheOptimizer(keras.callbacks.Callback):
    """A new learning rate after step 2 and clipping after step 4, as a user might."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            self.model.optimizer.learning_rate.assign(0.2)
        if batch == 4:
            self.model.optimizer.clipvalue = 0.01


def _regularized():
    """W6's shape: L2 on the hidden kernels, Dropout after each hidden layer."""
    l2 = keras.regularizers.L2(0.01)
    return keras.Sequential([
        keras.Input(shape=(6,)), keras.layers.Dense(12, activation="relu", kernel_regularizer=l2),
        keras.layers.Dropout(0.2), keras.layers.Dense(8, activation="relu", kernel_regularizer=l2),
        keras.layers.Dropout(0.2), keras.layers.Dense(3, activation="softmax")])


SGD_CASES = {
    "constant": (lambda: keras.optimizers.SGD(0.05), ()),
    "schedule": (lambda: keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=2, decay_rate=0.5)), ()),
    "changed mid-epoch": (lambda: keras.optimizers.SGD(0.05), (ChangeTheOptimizer(),)),
}
SGD_MODELS = {"plain": _sequential("relu", "softmax"), "L2 and Dropout": _regularized}


@pytest.mark.parametrize("model", sorted(SGD_MODELS))
@pytest.mark.parametrize("case", sorted(SGD_CASES))
def test_plain_sgd_updates_the_weights_inside_the_gradient_products(case, model):
    make_optimizer, callbacks = SGD_CASES[case]
    x, = _data((6,))
    labels = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)
    compiled, eager = _train_both(
        SGD_MODELS[model], x, labels, fit_kwargs={"callbacks": list(callbacks)},
        compile_kwargs=lambda: {"optimizer": make_optimizer(),
                                "loss": "sparse_categorical_crossentropy",
                                "metrics": ["accuracy"]})
    assert _folded(compiled) == [1]  # the full batches' program (the last batch is eager)
    _assert_same_weights(compiled, eager)
    _assert_same_history(compiled.history.history, eager.history.history)
    assert int(compiled.optimizer.iterations.numpy()) == int(eager.optimizer.iterations.numpy()) \
        == 18  # 3 epochs of 6 steps: a fused step still counts


def _wide_and_deep():
    """Two inputs, two outputs, a concatenation: the fusion is per Dense block, not per stack."""
    wide, deep = keras.Input(shape=(5,)), keras.Input(shape=(6,))
    hidden = keras.layers.Dense(7, activation="relu")(deep)
    merged = keras.layers.Concatenate()([wide, hidden])
    return keras.Model([wide, deep], [keras.layers.Dense(1, name="main")(merged),
                                      keras.layers.Dense(1, name="aux")(hidden)])


def _partly_frozen():
    model = _sequential("tanh")()
    model.layers[0].trainable = False
    return model


@pytest.mark.parametrize("case", ["wide and deep", "float64", "partly frozen",
                                  "weights replaced by a callback"])
def test_the_fused_sgd_step_in_other_models(case):
    xw, xd, y = _data((5,), (6,), (1,))
    build, x, targets, callbacks = _sequential("relu"), xd, np.concatenate([y] * 3, 1), []
    if case == "wide and deep":
        build, x, targets = _wide_and_deep, [xw, xd], [y, y * 2]
    elif case == "partly frozen":
        build = _partly_frozen
    elif case == "weights replaced by a callback":
        callbacks = [ReplaceWeights()]
    if case == "float64":
        keras.config.set_floatx("float64")
    try:
        compiled, eager = _train_both(
            build, x, targets, fit_kwargs={"callbacks": callbacks},
            compile_kwargs=lambda: {"optimizer": keras.optimizers.SGD(0.05), "loss": "mse"})
    finally:
        keras.config.set_floatx("float32")
    assert _folded(compiled) == [1]
    if case == "float64":
        assert compiled.get_weights()[0].dtype == np.float64
    _assert_same_weights(compiled, eager)
    _assert_same_history(compiled.history.history, eager.history.history)


def test_a_fused_update_without_a_direct_blas_call_takes_numpy_calls(monkeypatch):
    monkeypatch.setattr(blas, "product_into", lambda a, b, c: None)
    for model in SGD_MODELS:
        test_plain_sgd_updates_the_weights_inside_the_gradient_products("changed mid-epoch",
                                                                        model)


@pytest.mark.skipif(not blas.available("float32"), reason="no direct BLAS call here")
def test_a_decayed_product_split_in_row_blocks_gives_the_eager_numbers(monkeypatch):
    split = []

    def three_blocks(rows, inner, columns, dtype, direct_path=None):
        split.append(rows)  # every product with weight decay, split however large it is
        return [rows * i // 3 for i in range(4)]
    monkeypatch.setattr(blas, "scaling_blocks", three_blocks)
    test_plain_sgd_updates_the_weights_inside_the_gradient_products("changed mid-epoch",
                                                                    "L2 and Dropout")
    assert sorted(set(split)) == [6, 12]  # both regularized kernels' rows


class GradientNorm(keras.Model):
    """A train_step that also reports the norm of the first gradient it applies."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data[0], data[1]
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss, "grad_norm": ops.sqrt(ops.sum(ops.square(grads[0])))}


class KernelReadLate(keras.Model):
    """A train_step reading a kernel after its gradient is computed, before the update."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(4, activation="relu")
        self.out = keras.layers.Dense(3)

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data[0], data[1]
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_variables)
        kernel_sum = ops.sum(self.hidden.kernel)  # must see the weights before this step
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss, "kernel_sum": kernel_sum}


NOT_FOLDED = {
    "momentum": lambda: (_sequential(), keras.optimizers.SGD(0.05, momentum=0.5)),
    "adam": lambda: (_sequential(), keras.optimizers.Adam(0.01)),
    # an L1 term (not weight decay) joins the kernel's gradient after the product
    "L1": lambda: (lambda: keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(
        5, kernel_regularizer=keras.regularizers.L1(0.01)), keras.layers.Dense(3)]),
        keras.optimizers.SGD(0.05)),
    # so does an L2 term on a bias (the decay would apply to the kernel rows only)
    "L2 on a bias": lambda: (lambda: keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(
        5, bias_regularizer=keras.regularizers.L2(0.01)), keras.layers.Dense(3)]),
        keras.optimizers.SGD(0.05)),
    "no bias": lambda: (lambda: keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(
        3, use_bias=False)]), keras.optimizers.SGD(0.05)),
    # the step reads a gradient besides the update
    "gradient read": lambda: (GradientNorm, keras.optimizers.SGD(0.05)),
    "weights read after their gradient": lambda: (KernelReadLate, keras.optimizers.SGD(0.05)),
}


@pytest.mark.parametrize("case", sorted(NOT_FOLDED))
def test_other_updates_stay_apart_from_the_products(case):
    build, _ = NOT_FOLDED[case]()
    x, y = _data((6,), (3,))
    compiled, eager = _train_both(
        build, x, y, compile_kwargs=lambda: {"optimizer": NOT_FOLDED[case]()[1], "loss": "mse"})
    assert _folded(compiled) == [0]
    _assert_same_weights(compiled, eager)
    _assert_same_history(compiled.history.history, eager.history.history)


def test_stop_gradient_in_a_custom_layer_is_replayed_with_the_eager_numbers(monkeypatch):
    """`ops.stop_gradient` is a recorded op: a step using it is replayed, not run eagerly
    (it used to hand the capture a constant that changed between batches)."""
    from numnet.engine.plan import Program

    class Detached(keras.layers.Layer):
        def build(self, shape):
            self.kernel = self.add_weight(shape=(shape[-1], 2), initializer="glorot_uniform")

        def call(self, x):
            z = ops.matmul(x, self.kernel)
            return z + ops.stop_gradient(z * 2.0)

    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    results = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((3,)), Detached(), keras.layers.Dense(1)])
        model.compile("sgd", "mse", jit_compile=jit)
        replays = []
        run = Program.run
        monkeypatch.setattr(Program, "run", lambda self: replays.append(1) or run(self))
        history = model.fit(x, x[:, :1], epochs=2, batch_size=8, verbose=0)
        monkeypatch.setattr(Program, "run", run)
        results.append((history.history["loss"], model.get_weights(), len(replays),
                        model.make_train_function().reason))
    (compiled_loss, compiled_weights, replayed, reason), (eager_loss, eager_weights, _, _) = \
        results
    assert replayed > 0 and reason is None
    assert compiled_loss == eager_loss
    for mine, theirs in zip(compiled_weights, eager_weights):
        np.testing.assert_array_equal(mine, theirs)


class _MatrixOps(keras.layers.Layer):
    """A layer using the square-matrix and scatter ops (their indices come from the batch)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(3, 3), initializer="orthogonal")

    def call(self, x):
        spd = keras.ops.matmul(keras.ops.transpose(self.w), self.w) + keras.ops.eye(3) * 2.0
        solved = keras.ops.solve(spd, keras.ops.transpose(x[:, :3]))
        columns = keras.ops.cast(keras.ops.abs(x[:, 3]) * 2, "int32") % 3
        places = keras.ops.stack([keras.ops.arange(x.shape[0], dtype="int32"), columns], 1)
        bumped = keras.ops.scatter_update(keras.ops.transpose(solved), places, x[:, 4],
                                          reduction="add")
        return bumped * keras.ops.logdet(spd) + keras.ops.det(self.w)


def test_matrix_and_scatter_ops_replay_with_the_eager_numbers():
    x, = _data((5,))
    y = x[:, :3] * 0.5

    def build():
        return keras.Sequential([keras.Input((5,)), _MatrixOps()])
    compiled, eager = _train_both(build, x, y)
    _assert_same_weights(compiled, eager)


def test_wider_layers_replay_their_input_gradients_with_the_eager_numbers():
    """Batches of 32 through Dense(120) and Dense(60): the 60-unit layer's input gradient
    is in the range where it is multiplied through a column-ordered copy of `dz` when
    NumPy's BLAS has a direct small-matrix path (`blas.copy_left_pays`), replayed or not."""
    x, y = _data((20,), (3,), seed=5)
    x, y = np.concatenate([x, x]), np.concatenate([y, y])  # 96 rows: 3 batches of 32
    models = []
    for jit in (True, False):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input(shape=(20,)),
                                  keras.layers.Dense(120, activation="relu"),
                                  keras.layers.Dense(60, activation="relu"),
                                  keras.layers.Dense(3)])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=True)
        models.append(model)
    compiled, eager = models
    assert compiled.compiled_reason is None and compiled.train_function.programs
    assert blas.copy_left_pays(32, 60, 120, "float32") == blas.has_direct_path()
    _assert_same_history(compiled.history.history, eager.history.history)
    _assert_same_weights(compiled, eager)


def test_a_custom_layers_matmul_replays_its_backward_products_with_the_eager_numbers():
    """The textbook's own Dense (`ops.matmul(x, kernel) + bias`): its input gradient
    `g @ kernel.T` is a product with a transposed right operand, replayed through a
    column-ordered copy of `g` where `blas.copy_left_pays` says so."""

    class MyDense(keras.layers.Layer):
        def __init__(self, units, activation=None, **kwargs):
            super().__init__(**kwargs)
            self.units, self.activation = units, keras.activations.get(activation)

        def build(self, input_shape):
            self.kernel = self.add_weight(name="kernel", shape=[input_shape[-1], self.units],
                                          initializer="glorot_normal")
            self.bias = self.add_weight(name="bias", shape=[self.units], initializer="zeros")

        def call(self, inputs):
            return self.activation(ops.matmul(inputs, self.kernel) + self.bias)

    x, y = _data((20,), (3,), seed=6)
    x, y = np.concatenate([x, x]), np.concatenate([y, y])  # 96 rows: 3 batches of 32
    models = []
    for jit in (True, False):
        keras.utils.set_random_seed(4)
        model = keras.Sequential([keras.Input(shape=(20,)), MyDense(120, "relu"),
                                  MyDense(60, "relu"), MyDense(3)])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        model.fit(x, y, batch_size=32, epochs=3, verbose=0)
        models.append(model)
    compiled, eager = models
    assert compiled.compiled_reason is None
    copies = [k for k in compiled.train_function.programs[0].kernels
              if getattr(k, "func", None) is np.copyto and k.args[0].flags.f_contiguous and
              k.args[0].shape == (32, 60)]
    assert len(copies) == int(blas.copy_left_pays(32, 60, 120, "float32"))
    _assert_same_history(compiled.history.history, eager.history.history)
    _assert_same_weights(compiled, eager)
