"""Keras 3's newer losses: signatures, configs, reductions, values and gradients as in Keras.

CosineSimilarity, BinaryFocalCrossentropy, CategoricalFocalCrossentropy,
CategoricalGeneralizedCrossEntropy, Dice, Tversky and Circle (and their
function forms). The reference numbers are in
tests/fixtures/reference_activations_losses.npz, written by
tests/fixtures/generate_reference_activations_losses.py with Keras 3.15.1 on
TensorFlow. Besides Keras' values this file checks every gradient by finite
differences in float64 and that a model trained with each loss trains the
same compiled and eagerly.
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
CASES = META["losses"]
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none"]
REQUIRED = "<required>"
VALUES = dict(rtol=2e-6, atol=1e-6)
GRAD = dict(rtol=1e-5, atol=1e-7)


def loss_object(case, **overrides):
    return getattr(keras.losses, CASES[case]["class"])(**{**CASES[case]["kwargs"], **overrides})


def case_data(case):
    return tuple(REF[f"loss/{case}/{key}"] for key in ("y_true", "y_pred", "sample_weight"))


def gradient(loss, y_true, y_pred, dtype=None):
    y_pred = keras.ops.convert_to_tensor(y_pred, dtype=dtype)
    with keras.GradientTape() as tape:
        tape.watch(y_pred)
        value = loss(y_true, y_pred)
    return value, np.asarray(tape.gradient(value, y_pred))


# ------------------------------------------------------------ the API itself
@pytest.mark.parametrize("name", sorted(set(META["loss_signatures"]) - {"CTC", "ctc"}))
def test_signature_is_keras(name):
    """Every public class and function of `keras.losses` but CTC (a loss over label
    sequences, not dense outputs)."""
    fn = getattr(keras.losses, name)
    mine = {p.name: REQUIRED if p.default is inspect.Parameter.empty else p.default
            for p in inspect.signature(fn).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD}
    assert mine == META["loss_signatures"][name]


def test_every_keras_identifier_resolves_except_ctc():
    """CTC is a loss over label sequences, not dense outputs: numnet leaves it out."""
    for identifier in META["loss_identifiers"]:
        if identifier.lower() == "ctc" or identifier in ("Loss", "LossFunctionWrapper"):
            continue
        found = keras.losses.get(identifier)
        assert callable(found), identifier


@pytest.mark.parametrize("case", list(CASES))
def test_config_and_serialization_are_keras(case):
    loss = loss_object(case)
    assert loss.get_config() == CASES[case]["config"]
    envelope = keras.losses.serialize(loss)
    expected = CASES[case]["serialized"]
    assert {k: envelope[k] for k in ("module", "class_name", "config")} == \
        {k: expected[k] for k in ("module", "class_name", "config")}
    restored = keras.losses.deserialize(envelope)
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()


def test_function_identifiers_map_to_their_classes():
    for name, cls in [("cosine_similarity", "CosineSimilarity"), ("dice", "Dice"),
                      ("tversky", "Tversky"), ("circle", "Circle"),
                      ("binary_focal_crossentropy", "BinaryFocalCrossentropy"),
                      ("categorical_focal_crossentropy", "CategoricalFocalCrossentropy")]:
        assert keras.losses.get(name) is getattr(keras.losses, name)
        assert type(keras.losses.as_loss_object(name)).__name__ == cls
        assert type(keras.losses.get(cls)).__name__ == cls


def test_generalized_cross_entropy_checks_q():
    with pytest.raises(ValueError, match=r"q must be in the interval \(0, 1\)"):
        keras.losses.CategoricalGeneralizedCrossEntropy(q=1.0)


def test_dtype_argument_makes_the_loss_compute_in_that_dtype():
    loss = keras.losses.BinaryFocalCrossentropy(dtype="float64", from_logits=True)
    assert loss.dtype == META["float64"]["loss_dtype"] == "float64"
    value = loss(REF["loss/float64/y_true"], REF["loss/float64/y_pred"])
    assert np.asarray(value).dtype == np.dtype(META["float64"]["dtype"])
    np.testing.assert_allclose(np.asarray(value), REF["loss/float64/value"], rtol=1e-12)
    assert keras.losses.Dice().dtype == "float32"


# ------------------------------------------------------- against real Keras
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_reduction_matches_keras(case, reduction):
    y_true, y_pred, sample_weight = case_data(case)
    loss = loss_object(case, reduction=reduction)
    for suffix, kwargs in (("", {}), ("/weighted", {"sample_weight": sample_weight})):
        value = np.asarray(loss(y_true, y_pred, **kwargs))
        expected = REF[f"loss/{case}/{reduction}{suffix}"]
        assert value.shape == expected.shape and value.dtype == np.float32
        np.testing.assert_allclose(value, expected, err_msg=suffix, **VALUES)


def test_reduction_none_is_reduction_string_none():
    y_true, y_pred, sample_weight = case_data("bfce")
    np.testing.assert_array_equal(
        np.asarray(loss_object("bfce", reduction=None)(y_true, y_pred, sample_weight)),
        np.asarray(loss_object("bfce", reduction="none")(y_true, y_pred, sample_weight)))


@pytest.mark.parametrize("case", list(CASES))
def test_function_form_matches_keras(case):
    y_true, y_pred, _ = case_data(case)
    fn = getattr(keras.losses, CASES[case]["function"])
    value = np.asarray(fn(y_true, y_pred, **CASES[case]["function_kwargs"]))
    np.testing.assert_allclose(value, REF[f"loss/{case}/function"], **VALUES)


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_matches_keras(case):
    y_true, y_pred, _ = case_data(case)
    _, grad = gradient(loss_object(case), y_true, y_pred)
    expected = REF[f"loss/{case}/grad"]
    broken = ~np.isfinite(expected)
    if broken.any():
        # Keras' generalized cross-entropy picks p with a one-hot product: at p = 0 the
        # other entries of the row get 0 * inf = NaN; numnet gives them 0 (only the
        # label's entry depends on p) and the label's entry the same -inf.
        assert CASES[case]["class"] == "CategoricalGeneralizedCrossEntropy"
        assert np.all(np.isnan(expected[broken]) | (expected[broken] == grad[broken]))
        assert np.all(grad[np.isnan(expected)] == 0)
    np.testing.assert_allclose(grad[~broken], expected[~broken],
                               rtol=GRAD["rtol"],
                               atol=GRAD["atol"] * max(1.0, np.abs(expected[~broken]).max()))


def test_circle_leaves_samples_without_pairs_out_of_the_average():
    """The sample whose label appears once has loss 0 and is masked out, as in Keras."""
    y_true, y_pred, _ = case_data("circle")
    values = np.asarray(keras.losses.Circle(reduction="none")(y_true, y_pred))
    alone = np.array([list(y_true).count(v) == 1 for v in y_true])
    assert alone.any() and np.all(values[alone] == 0) and np.all(values[~alone] > 0)
    mean = np.asarray(keras.losses.Circle()(y_true, y_pred))
    np.testing.assert_allclose(mean, values[~alone].mean(), rtol=1e-6)


def test_generalized_cross_entropy_accepts_column_labels():
    """Deliberate difference: `(batch, 1)` labels count as `(batch,)` (Keras 3.15.1 would
    broadcast them into a `(batch, batch)` matrix of losses)."""
    y_true, y_pred, _ = case_data("cgce")
    loss = keras.losses.CategoricalGeneralizedCrossEntropy(reduction="none")
    np.testing.assert_array_equal(np.asarray(loss(y_true[:, None], y_pred)),
                                  np.asarray(loss(y_true, y_pred)))
    with pytest.raises(ValueError, match="one per sample"):
        loss(y_true[:3], y_pred)


def test_focal_crossentropies_refuse_mismatched_shapes():
    y_pred = np.full((3, 3), 0.3, dtype="float32")
    with pytest.raises(ValueError, match="must have the same shape"):
        keras.losses.BinaryFocalCrossentropy()(np.zeros((3, 1)), y_pred)
    with pytest.raises(ValueError, match="must have the same shape"):
        keras.losses.CategoricalFocalCrossentropy()(np.zeros((3, 2)), y_pred)


# ------------------------------------------------------ finite differences
def _float64_case(case):
    y_true, y_pred, _ = case_data(case)
    y_pred = y_pred.astype(np.float64)
    if np.any((y_pred == 0) | (y_pred == 1)):  # clipped plateaus and p = 0: no derivative
        y_pred = np.clip(y_pred, 0.05, 0.95)
    if CASES[case]["class"] == "CosineSimilarity":
        y_pred = y_pred + 0.5  # away from tiny norms
    return y_true, y_pred


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_by_finite_differences(case):
    y_true, y_pred = _float64_case(case)
    loss = loss_object(case, dtype="float64")
    value, analytic = gradient(loss, y_true, y_pred, dtype="float64")
    assert np.asarray(value).dtype == np.float64
    numeric = np.zeros_like(y_pred)
    eps = 1e-6
    for index in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (float(np.asarray(loss(y_true, up))) -
                          float(np.asarray(loss(y_true, down)))) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6,
                               atol=1e-7 * max(1.0, np.abs(numeric).max()))


# ------------------------------------------------------- compiled == eager
def _model_and_data(case):
    """A small model whose output suits the loss, and data for it."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 6)).astype("float32")
    kind = CASES[case]["class"]
    if kind in ("BinaryFocalCrossentropy", "Dice", "Tversky"):
        y = (rng.uniform(size=(32, 3)) > 0.5).astype("float32")
        logits = CASES[case]["kwargs"].get("from_logits", False)
        out = keras.layers.Dense(3, activation=None if logits else "sigmoid")
    elif kind == "CategoricalFocalCrossentropy":
        y = np.eye(4, dtype="float32")[rng.integers(0, 4, size=32)]
        logits = CASES[case]["kwargs"].get("from_logits", False)
        out = keras.layers.Dense(4, activation=None if logits else "softmax")
    elif kind == "CategoricalGeneralizedCrossEntropy":
        y = rng.integers(0, 4, size=32).astype("int32")
        out = keras.layers.Dense(4, activation="softmax")
    elif kind == "Circle":
        y = rng.integers(0, 3, size=32).astype("int32")
        out = keras.layers.Dense(4, activation="tanh")
    else:
        y = rng.normal(size=(32, 3)).astype("float32")
        out = keras.layers.Dense(3)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(8, activation="relu"),
                              out])
    return model, x, y


def _fit(case, jit_compile):
    keras.utils.set_random_seed(3)
    model, x, y = _model_and_data(case)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss_object(case),
                  jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model, history


FIT_CASES = ["cosine", "bfce", "bfce_logits", "bfce_balanced", "cfce", "cfce_logits",
             "cfce_smoothing", "cgce", "dice", "tversky_weighted", "circle"]


@pytest.mark.parametrize("case", FIT_CASES)
def test_fit_compiled_equals_eager(case):
    compiled, compiled_history = _fit(case, "auto")
    eager, eager_history = _fit(case, False)
    assert compiled.compiled_reason is None
    assert compiled.train_function.programs
    np.testing.assert_allclose(compiled_history.history["loss"], eager_history.history["loss"],
                               rtol=1e-6)
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
