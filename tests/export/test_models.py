"""Export round trips of every layer, every activation and every kind of model (ONNX and NumPy)."""

import numpy as np
import pytest

import numnet as keras
from numnet import activations, ops
from export_cases import activation_for
from export_helpers import export_and_compare


def _dense_activation(name):
    # exp(exp(x)) would overflow float32: exponential runs once, in the Activation layer.
    return None if name == "exponential" else activation_for(name)

L = keras.layers


def _x(rng, *shape, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype("float32")


# ---------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", sorted(activations.ALL_ACTIVATIONS))
def test_every_activation_in_dense_and_activation_layers(name, rng, tmp_path):
    # Dense fuses linear/relu/tanh into its own op; the others follow it as separate ops.
    model = keras.Sequential([L.Input(shape=(4,)), L.Dense(8, activation=_dense_activation(name)),
                              L.Activation(activation_for(name))])
    export_and_compare(model, _x(rng, 6, 4), tmp_path)


@pytest.mark.parametrize("options", [
    {"negative_slope": 0.1}, {"max_value": 1.5}, {"threshold": 0.5},
    {"negative_slope": 0.1, "max_value": 2.0, "threshold": -0.5},
])
def test_relu_options(options, rng, tmp_path):
    model = keras.Sequential([L.Input(shape=(4,)),
                              L.Activation(lambda t: activations.relu(t, **options))])
    export_and_compare(model, _x(rng, 8, 4), tmp_path)


@pytest.mark.parametrize("function", [
    lambda t: activations.gelu(t, approximate=True), lambda t: activations.elu(t, alpha=0.5),
    lambda t: activations.leaky_relu(t, negative_slope=0.05),
    lambda t: activations.softmax(t, axis=1), lambda t: activations.log_softmax(t, axis=1),
    lambda t: activations.celu(t, alpha=0.5), lambda t: activations.hard_shrink(t, 1.0),
    lambda t: activations.soft_shrink(t, 0.25), lambda t: activations.squareplus(t, b=1),
    lambda t: activations.threshold(t, -0.5, 2.0), lambda t: activations.sparsemax(t, axis=1),
    lambda t: ops.concatenate([activations.glu(t, axis=2)] * 2, axis=2),
], ids=["gelu_tanh", "elu_alpha", "leaky_slope", "softmax_axis1", "log_softmax_axis1",
        "celu_alpha", "hard_shrink_1", "soft_shrink_quarter", "squareplus_b1", "threshold",
        "sparsemax_axis1", "glu_axis2"])
def test_activation_parameters(function, rng, tmp_path):
    model = keras.Sequential([L.Input(shape=(3, 4)), L.Activation(function), L.Flatten()])
    export_and_compare(model, _x(rng, 5, 3, 4), tmp_path)


def test_activations_far_from_zero(tmp_path):
    x = np.float32([[-80, -20, 0, 20, 80, -1, 1, -0.5]])
    for name in ("softplus", "mish", "sigmoid", "softmax", "log_sigmoid", "sparsemax",
                 "sparse_plus", "sparse_sigmoid", "celu", "squareplus", "soft_shrink",
                 "hard_shrink", "tanh_shrink"):
        model = keras.Sequential([L.Input(shape=(8,)), L.Activation(name)])
        export_and_compare(model, x, tmp_path, name=name, extra_batches=())


# ---------------------------------------------------------------------------------- layers
def _adapted(layer, data):
    layer.adapt(data)
    return layer


LAYER_CASES = {
    "dense_rank3": lambda rng: (keras.Sequential(
        [L.Input(shape=(3, 4)), L.Dense(5, activation="relu"), L.Dense(2)]), _x(rng, 6, 3, 4)),
    "flatten_reshape": lambda rng: (keras.Sequential(
        [L.Input(shape=(2, 3, 2)), L.Flatten(), L.Reshape((3, 4)), L.Reshape((-1,)),
         L.Dense(2)]), _x(rng, 6, 2, 3, 2)),
    "dropout": lambda rng: (keras.Sequential(
        [L.Input(shape=(4,)), L.Dropout(0.5), L.Dense(3), L.Dropout(0.2, seed=1)]),
        _x(rng, 6, 4)),
    "normalization": lambda rng: (keras.Sequential(
        [L.Input(shape=(4,)), _adapted(L.Normalization(), _x(rng, 50, 4) + 3), L.Dense(2)]),
        _x(rng, 6, 4)),
    "normalization_invert": lambda rng: (keras.Sequential(
        [L.Input(shape=(4,)), _adapted(L.Normalization(invert=True), _x(rng, 50, 4))]),
        _x(rng, 6, 4)),
    "normalization_fixed": lambda rng: (keras.Sequential(
        [L.Input(shape=(4,)), L.Normalization(mean=[1, 2, 3, 4], variance=[1, 4, 0, 16])]),
        _x(rng, 6, 4)),
    "normalization_axes": lambda rng: (keras.Sequential(
        [L.Input(shape=(3, 4)), _adapted(L.Normalization(axis=1), _x(rng, 20, 3, 4)),
         _adapted(L.Normalization(axis=None), _x(rng, 20, 3, 4)), L.Flatten()]),
        _x(rng, 6, 3, 4)),
    "perceptron": lambda rng: (_with_weights(keras.Sequential(
        [L.Input(shape=(4,)), L.Perceptron(3)]), rng), _x(rng, 8, 4)),
    "tlu_sign": lambda rng: (_with_weights(keras.Sequential(
        [L.Input(shape=(4,)), L.TLU(step="sign", use_bias=False)]), rng), _x(rng, 8, 4)),
}


def _with_weights(model, rng):
    model.set_weights([rng.standard_normal(w.shape).astype("float32") for w in model.weights])
    return model


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_round_trip(case, rng, tmp_path):
    model, x = LAYER_CASES[case](rng)
    export_and_compare(model, x, tmp_path)


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                   "Minimum", "Concatenate"])
def test_merging_layers(merge, rng, tmp_path):
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(4,), name="b")
    layer = getattr(L, merge)()
    model = keras.Model([a, b], L.Dense(2)(layer([a, L.Dense(4)(b)])))
    export_and_compare(model, [_x(rng, 6, 4), _x(rng, 6, 4)], tmp_path)


def test_normalization_is_inside_the_onnx_graph(rng, tmp_path):
    data = _x(rng, 100, 4) * 5 + 10
    norm = _adapted(L.Normalization(), data)
    model = keras.Sequential([L.Input(shape=(4,)), norm, L.Dense(1)])
    exported = export_and_compare(model, data[:8], tmp_path)
    import onnx
    graph = onnx.load(exported["onnx"].path).graph
    initializers = {i.name for i in graph.initializer}
    assert {f"{norm.name}/shift", f"{norm.name}/scale"} <= initializers
    assert [n.op_type for n in graph.node][:2] == ["Add", "Mul"]


# ---------------------------------------------------------------------------------- models
def _textbook_classifier():
    return keras.Sequential([
        L.Input(shape=[28, 28]), L.Flatten(), L.Dense(300, activation="relu"),
        L.Dense(100, activation="relu"), L.Dense(10, activation="softmax")])


def test_textbook_classifier_after_training(rng, tmp_path):
    model = _textbook_classifier()
    x = rng.random((64, 28, 28)).astype("float32")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, rng.integers(0, 10, 64), epochs=1, verbose=0)
    exported = export_and_compare(model, x[:16], tmp_path)
    assert exported["onnx"].inputs[0].shape == (None, 28, 28)
    assert exported["onnx"].outputs[0].shape == (None, 10)


def test_functional_several_inputs_and_outputs_keep_names(rng, tmp_path):
    wide = keras.Input(shape=(5,), name="wide_input")
    deep = keras.Input(shape=(6,), name="deep_input")
    hidden = L.Dense(30, activation="relu")(deep)
    concat = L.concatenate([wide, L.Dense(30, activation="relu")(hidden)])
    main = L.Dense(1, name="output")(concat)
    aux = L.Dense(1, name="aux_output")(hidden)
    model = keras.Model(inputs=[wide, deep], outputs=[main, aux])
    x = [_x(rng, 8, 5), _x(rng, 8, 6)]
    exported = export_and_compare(model, x, tmp_path)
    for loaded in exported.values():
        assert loaded.input_names == ("wide_input", "deep_input")
        assert loaded.output_names == ("output_0", "output_1")


def test_functional_dict_inputs_and_outputs(rng, tmp_path):
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    h = L.Dense(4, activation="tanh")(L.concatenate([a, b]))
    model = keras.Model({"a": a, "b": b}, {"score": L.Dense(1)(h),
                                           "probs": L.Dense(3, activation="softmax")(h)})
    exported = export_and_compare(model, {"a": _x(rng, 6, 3), "b": _x(rng, 6, 2)}, tmp_path)
    for loaded in exported.values():
        assert loaded.input_names == ("a", "b")
        assert loaded.output_names == ("probs", "score")


def test_outputs_that_repeat_or_pass_an_input_through(rng, tmp_path):
    a = keras.Input(shape=(3,), name="a")
    h = L.Dense(2)(a)
    model = keras.Model(a, [h, h, a])
    exported = export_and_compare(model, _x(rng, 5, 3), tmp_path)
    assert exported["numpy"].output_names == ("output_0", "output_1", "output_2")


def test_nested_models_and_shared_layers(rng, tmp_path):
    inner = keras.Sequential([L.Input(shape=(4,)), L.Dense(6, activation="relu")], name="inner")
    shared = L.Dense(3, name="shared")
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(4,), name="b")
    model = keras.Model([a, b], L.Add()([shared(inner(a)), shared(inner(b))]))
    exported = export_and_compare(model, [_x(rng, 6, 4), _x(rng, 6, 4)], tmp_path)
    source = open(exported["numpy"].path + "/model.py").read()
    assert "# inner/dense" in source and "# shared (Dense)" in source


class WideAndDeepModel(keras.Model):
    """The textbook's subclassed model (two inputs, two outputs)."""

    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.norm_layer_wide = L.Normalization()
        self.norm_layer_deep = L.Normalization()
        self.hidden1 = L.Dense(units, activation=activation)
        self.hidden2 = L.Dense(units, activation=activation)
        self.main_output = L.Dense(1)
        self.aux_output = L.Dense(1)

    def call(self, inputs):
        input_wide, input_deep = inputs
        norm_wide = self.norm_layer_wide(input_wide)
        norm_deep = self.norm_layer_deep(input_deep)
        hidden1 = self.hidden1(norm_deep)
        hidden2 = self.hidden2(hidden1)
        concat = L.concatenate([norm_wide, hidden2])
        return self.main_output(concat), self.aux_output(hidden2)


def test_subclassed_wide_and_deep(rng, tmp_path):
    model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
    x_wide, x_deep = _x(rng, 40, 5) + 1, _x(rng, 40, 6) - 2
    model.norm_layer_wide.adapt(x_wide)
    model.norm_layer_deep.adapt(x_deep)
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="adam")
    model.fit((x_wide, x_deep), (x_wide[:, :1], x_deep[:, :1]), epochs=2, verbose=0)
    exported = export_and_compare(model, [x_wide[:8], x_deep[:8]], tmp_path)
    assert exported["onnx"].input_names == ("input_0", "input_1")


def test_subclassed_model_with_ops_in_call(rng, tmp_path):
    class Residual(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = L.Dense(4, activation="tanh")

        def call(self, inputs):
            return ops.maximum(inputs + self.dense(inputs) * 0.5, 0.0)

    model = Residual()
    model(_x(rng, 2, 4))
    export_and_compare(model, _x(rng, 6, 4), tmp_path)


@pytest.mark.parametrize("spec", [
    lambda: keras.Input(shape=(4,), name="features"),
    lambda: L.InputSpec(shape=(None, 4), dtype="float32", name="features"),
    lambda: L.InputSpec(shape=(8, 4), name="features"),  # the batch size is always dynamic
], ids=["Input", "InputSpec", "InputSpec_fixed_batch"])
def test_input_signature(spec, rng, tmp_path):
    model = keras.Sequential([L.Dense(3, activation="relu"), L.Dense(2)])
    model.build((None, 4))
    exported = export_and_compare(model, _x(rng, 5, 4), tmp_path, input_signature=[spec()])
    assert exported["onnx"].inputs[0].name == "features"


def test_exporting_leaves_the_model_as_it_was(tmp_path):
    def train(export):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([L.Input(shape=(4,)), L.Dense(8, activation="relu"),
                                  L.Dense(1)])
        if export:
            model.export(tmp_path / "before", format="numpy", verbose=False)
        model.compile(loss="mse", optimizer="adam")
        x = np.random.default_rng(0).random((64, 4)).astype("float32")
        history = model.fit(x, x.sum(axis=1, keepdims=True), epochs=3, verbose=0)
        if export:
            model.export(tmp_path / "after", format="numpy", verbose=False)
        return model.get_weights(), history.history["loss"], model.predict(x, verbose=0)

    plain, exported = train(False), train(True)
    for a, b in zip(plain[0], exported[0]):
        np.testing.assert_array_equal(a, b)
    assert plain[1] == exported[1]
    np.testing.assert_array_equal(plain[2], exported[2])


def test_tracing_leaves_every_layer_call_as_it_was(tmp_path):
    inner = L.Dense(3, name="patched")
    plain_call = inner.call
    object.__setattr__(inner, "call", lambda inputs: plain_call(inputs) * 2.0)  # user's own
    model = keras.Sequential([L.Input(shape=(4,)), L.Dense(4), inner])
    x = np.ones((2, 4), "float32")
    export_and_compare(model, x, tmp_path, formats=("numpy",))
    assert "call" not in vars(model.layers[0])
    np.testing.assert_allclose(inner(model.layers[0](x)).numpy(),
                               plain_call(model.layers[0](x)).numpy() * 2.0)
