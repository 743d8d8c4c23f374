"""Every Keras 3 activation: names, signatures, values and gradients as real Keras computes them.

The reference numbers are in tests/fixtures/reference_activations_losses.npz,
written by tests/fixtures/generate_reference_activations_losses.py with Keras
3.15.1 on TensorFlow. Besides Keras' values this file checks every gradient
by finite differences in float64 and that a model using the activation
trains the same compiled and eagerly.
"""

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

FIXTURES = Path(__file__).resolve().parent / "fixtures"
with np.load(FIXTURES / "reference_activations_losses.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_activations_losses.json").read_text())
CASES = META["activations"]
REQUIRED = "<required>"

FORWARD = dict(rtol=2e-6, atol=1e-6)
GRAD = dict(rtol=1e-5, atol=2e-6)


def signature(fn):
    return {p.name: REQUIRED if p.default is inspect.Parameter.empty else p.default
            for p in inspect.signature(fn).parameters.values()}


def kwargs_of(case):
    kwargs = dict(CASES[case]["kwargs"])
    if isinstance(kwargs.get("axis"), list):  # JSON has no tuples
        kwargs["axis"] = tuple(kwargs["axis"])
    return kwargs


def value_and_gradient(fn, x, w, **kwargs):
    """f(x) and the gradient of sum(f(x) * w) w.r.t. x, through numnet's tape."""
    x = keras.ops.convert_to_tensor(x, dtype=x.dtype)
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = fn(x, **kwargs)
        total = keras.ops.sum(keras.ops.multiply(y, w))
    return np.asarray(y), np.asarray(tape.gradient(total, x))


# ------------------------------------------------------------ the API itself
def test_every_keras_activation_is_here_with_keras_signature():
    for name in META["activation_names"]:
        fn = keras.activations.get(name)
        assert fn is getattr(keras.activations, name), name
        assert signature(fn) == META["activation_signatures"][name], name


@pytest.mark.parametrize("name", sorted(META["ops_signatures"]))
def test_ops_namespace_has_keras_ops_signature(name):
    """`numnet.ops.NAME` takes Keras' `keras.ops.NAME` arguments with the same defaults
    (numnet's `relu` also takes Keras' activation options)."""
    mine = signature(getattr(keras.ops, name))
    for param, default in META["ops_signatures"][name].items():
        assert param in mine and mine[param] == default, (name, param)
    assert all(default != REQUIRED for p, default in mine.items()
               if p not in META["ops_signatures"][name]), name


def test_serialized_names_and_dense_configs_are_keras():
    for name, written in META["activation_serialized"].items():
        assert keras.activations.serialize(keras.activations.get(name)) == written, name
    for name, written in META["activation_dense_config"].items():
        assert keras.layers.Dense(2, activation=name).get_config()["activation"] == written
        restored = keras.layers.Dense.from_config(keras.layers.Dense(2, activation=name)
                                                  .get_config())
        assert restored.activation is keras.activations.get(written), name


def test_aliases_are_the_same_functions_as_in_keras():
    assert keras.activations.swish is keras.activations.silu
    assert keras.activations.hard_swish is keras.activations.hard_silu
    assert keras.ops.hard_swish is keras.ops.hard_silu


def test_fixture_covers_every_keras_activation():
    assert {case["function"] for case in CASES.values()} == set(META["activation_names"])


# ------------------------------------------------------- against real Keras
# Where numnet deliberately differs from Keras 3.15.1 (see numnet.activations):
# sparsemax (Keras' threshold is wrong when the support has more than one
# element) and celu's gradient at exactly 0 (1, the derivative; TF says 2).
SPARSEMAX = [c for c in CASES if CASES[c]["function"] == "sparsemax"]
KERAS_EXACT = [c for c in CASES if c not in SPARSEMAX]


@pytest.mark.parametrize("case", KERAS_EXACT)
def test_activation_matches_keras(case):
    fn = getattr(keras.activations, CASES[case]["function"])
    x, w = REF["act/x"], REF[f"act/{case}/w"]
    y, grad = value_and_gradient(fn, x, w, **kwargs_of(case))
    assert y.dtype == np.float32 and y.shape == REF[f"act/{case}/y"].shape
    np.testing.assert_allclose(y, REF[f"act/{case}/y"], **FORWARD)
    expected = REF[f"act/{case}/grad"].copy()
    if CASES[case]["function"] == "celu":
        zero = x == 0
        assert zero.any() and np.all(expected[zero] == 2 * w[zero])  # TF's 1 + 1 at 0
        expected[zero] = w[zero]  # the derivative: exp(0 / alpha) from the left, 1 right
    np.testing.assert_allclose(grad, expected, **GRAD)


@pytest.mark.parametrize("case", SPARSEMAX)
def test_sparsemax_is_the_simplex_projection(case):
    """Against an independent float64 projection (bisection on the threshold), and against
    Keras itself on the rows where Keras 3.15.1 is right (a support of one element)."""
    axis = kwargs_of(case)["axis"] if "axis" in kwargs_of(case) else -1
    x, w = REF["act/x"], REF[f"act/{case}/w"]
    y, grad = value_and_gradient(keras.activations.sparsemax, x, w, axis=axis)
    np.testing.assert_allclose(y, REF[f"act/{case}/projection"], rtol=1e-6, atol=2e-7)
    np.testing.assert_allclose(grad, REF[f"act/{case}/projection_grad"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-6)
    single = REF[f"act/{case}/single"]
    assert single.any() and not single.all()
    rows = (slice(None), single) if axis == 0 else (single,)
    np.testing.assert_allclose(y[rows], REF[f"act/{case}/y"][rows], **FORWARD)
    np.testing.assert_allclose(grad[rows], REF[f"act/{case}/grad"][rows], **GRAD)
    keras_sums = REF[f"act/{case}/y"].sum(axis=axis)
    assert np.all(np.abs(keras_sums[~single] - 1) > 1e-3)  # the upstream bug, still there


@pytest.mark.parametrize("case", ["relu_threshold", "relu_all", "relu_slope_threshold",
                                  "relu_threshold_max"])
def test_relu_threshold_zeroes_the_threshold_itself(case):
    """Keras passes only `x > threshold`: at `x == threshold` relu gives 0 (minus the leak's
    0), and its gradient there is 0 (plus the leak's slope only below the threshold)."""
    x = REF["act/x"]
    at = x == kwargs_of(case)["threshold"]
    assert at.any()
    y, grad = value_and_gradient(keras.activations.relu, x, np.ones_like(x), **kwargs_of(case))
    assert np.all(REF[f"act/{case}/y"][at] == 0) and np.all(y[at] == 0)
    assert np.all(REF[f"act/{case}/grad"][at] == 0) and np.all(grad[at] == 0)


def test_threshold_requires_its_arguments_and_glu_an_even_axis():
    x = np.ones((2, 3), dtype="float32")
    with pytest.raises(TypeError):
        keras.activations.threshold(x)
    with pytest.raises(ValueError, match="axis size must be divisible by 2"):
        keras.activations.glu(x)


def test_softmax_over_a_size_one_axis_warns_as_keras_does():
    with pytest.warns(UserWarning, match="This axis has size 1"):
        keras.ops.softmax(np.ones((3, 1), dtype="float32"))


# ------------------------------------------------------ finite differences
def _away_from_kinks(x):
    """Moves inputs at least 0.01 away from every activation's kinks (FD is only valid
    where the function is smooth)."""
    kinks = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, 1.5, 0.25, -0.25, 2.0])
    for k in kinks:
        near = np.abs(x - k) < 0.01
        x = np.where(near, k + 0.02, x)
    return x


def numeric_gradient(fn, x, w, eps=1e-6, **kwargs):
    """Central differences of sum(fn(x) * w), in float64."""
    f64 = lambda a: keras.ops.convert_to_tensor(a, dtype="float64")  # noqa: E731
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (np.sum(np.asarray(fn(f64(up), **kwargs)) * w) -
                       np.sum(np.asarray(fn(f64(down), **kwargs)) * w)) / (2 * eps)
    return grad


@pytest.mark.parametrize("case", list(CASES))
def test_activation_gradient_by_finite_differences(case):
    fn = getattr(keras.activations, CASES[case]["function"])
    kwargs = kwargs_of(case)
    rng = np.random.default_rng(len(case))
    x = _away_from_kinks(rng.normal(scale=2.5, size=(4, 6)))
    if CASES[case]["function"] == "sparsemax":
        x = x * 0.3  # several entries in each support
    y = np.asarray(fn(keras.ops.convert_to_tensor(x, dtype="float64"), **kwargs))
    assert y.dtype == np.float64  # float64 in, float64 out
    w = rng.normal(size=y.shape)
    _, analytic = value_and_gradient(fn, x, w, **kwargs)
    np.testing.assert_allclose(analytic, numeric_gradient(fn, x, w, **kwargs),
                               rtol=1e-6, atol=1e-8)


def test_celu_gradient_at_zero_is_its_derivative():
    x = np.array([0.0], dtype=np.float64)
    for alpha in (1.0, 2.0):
        _, analytic = value_and_gradient(keras.activations.celu, x, np.ones(1), alpha=alpha)
        numeric = numeric_gradient(keras.activations.celu, x, np.ones(1), alpha=alpha)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
        assert analytic[0] == 1.0


# ------------------------------------------------------- compiled == eager
FIT_ACTIVATIONS = sorted(set(META["activation_names"]) - {"threshold"}) + [
    "threshold", "relu_options", "sparsemax_axis0"]


def _activation_for(name):
    if name == "threshold":
        return lambda x: keras.activations.threshold(x, 0.1, -0.2)
    if name == "relu_options":
        return lambda x: keras.activations.relu(x, negative_slope=0.1, max_value=1.0,
                                                threshold=0.05)
    if name == "sparsemax_axis0":
        return lambda x: keras.activations.sparsemax(x, axis=0)
    return name


class GLU(keras.layers.Layer):
    """glu halves its axis, which a Dense layer's output shape cannot say."""

    def call(self, inputs):
        return keras.activations.glu(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] // 2,)


def _fit(name, jit_compile):
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    hidden = [keras.layers.Dense(8), GLU()] if name == "glu" else \
        [keras.layers.Dense(8, activation=_activation_for(name))]
    model = keras.Sequential([keras.Input(shape=(5,)), *hidden, keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse",
                  jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model, history


@pytest.mark.parametrize("name", FIT_ACTIVATIONS)
def test_fit_compiled_equals_eager(name):
    compiled, compiled_history = _fit(name, "auto")
    eager, eager_history = _fit(name, False)
    assert compiled.compiled_reason is None
    assert compiled.train_function.programs
    assert eager.compiled_reason is not None
    np.testing.assert_allclose(compiled_history.history["loss"], eager_history.history["loss"],
                               rtol=1e-6)
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
