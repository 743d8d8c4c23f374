"""Probabilistic, regression and hinge metrics compared with Keras 3 numbers.

The reference values live in tests/fixtures/reference_metrics.npz/.json and were
made by tests/fixtures/generate_reference_metrics.py with real Keras
(TensorFlow backend); the tests only read them.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet import losses, metrics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_metrics.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_metrics.json").read_text())
CASES = META["cases"]
BATCHES = [slice(start, stop) for start, stop in META["batches"]]
CLOSE = {"rtol": 1e-5, "atol": 1e-6}

NEW_CLASSES = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "KLDivergence", "Poisson", "MeanSquaredLogarithmicError", "CosineSimilarity",
    "LogCoshError", "R2Score", "Hinge", "SquaredHinge", "CategoricalHinge",
]


def _make(case, **overrides):
    spec = CASES[case]
    return getattr(metrics, spec["class"])(**{**spec["kwargs"], **overrides})


def _inputs(case):
    spec = CASES[case]
    return (REF[f"data/{spec['y_true']}"], REF[f"data/{spec['y_pred']}"],
            REF[f"data/{spec['sample_weight']}"])


def _stream(metric, case, weighted):
    y_true, y_pred, weights = _inputs(case)
    results = []
    for batch in BATCHES:
        kwargs = {"sample_weight": weights[batch]} if weighted else {}
        metric.update_state(y_true[batch], y_pred[batch], **kwargs)
        with warnings.catch_warnings():
            # r2_adjusted_fallback warns on its first batch (checked elsewhere).
            warnings.filterwarnings("ignore", "Division by zero in Adjusted R2")
            results.append(metric.result())
    return results


def test_fixture_covers_every_new_metric_class():
    assert {spec["class"] for spec in CASES.values()} == set(NEW_CLASSES)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_streamed_results_match_keras(case, weighted):
    results = _stream(_make(case), case, weighted)
    for result in results:
        assert np.asarray(result).dtype == np.float32
    expected = REF[f"metric/{case}/{'weighted' if weighted else 'unweighted'}"]
    np.testing.assert_allclose(np.stack(results), expected, **CLOSE)


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_serialization_and_direction_match_keras(case):
    spec = CASES[case]
    metric = _make(case)
    expected = dict(spec["config"])
    if spec["class"] == "CosineSimilarity" and spec["kwargs"].get("axis", -1) != -1:
        # Keras leaves `axis` out of the config; numnet adds it when it is not the default.
        expected["axis"] = spec["kwargs"]["axis"]
    assert metric.get_config() == expected
    assert metrics.serialize(metric) == {**spec["serialized"], "config": expected}
    assert metric._direction == spec["direction"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_from_config_and_deserialize_rebuild_the_same_metric(case):
    metric = _make(case, name="my_metric")
    for clone in (type(metric).from_config(metric.get_config()),
                  metrics.deserialize(metrics.serialize(metric)),
                  metrics.get(metrics.serialize(metric))):
        assert type(clone) is type(metric)
        assert clone.name == "my_metric"
        assert clone.get_config() == metric.get_config()
        np.testing.assert_allclose(np.stack(_stream(clone, case, True)),
                                   REF[f"metric/{case}/weighted"], **CLOSE)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reset_state_and_call(case):
    metric = _make(case)
    _stream(metric, case, weighted=True)
    metric.reset_state()
    assert all(np.all(v.data == 0) for v in metric.variables)
    y_true, y_pred, _ = _inputs(case)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Division by zero in Adjusted R2")
        first = metric(y_true[BATCHES[0]], y_pred[BATCHES[0]])
    np.testing.assert_allclose(first, REF[f"metric/{case}/unweighted"][0], **CLOSE)


@pytest.mark.parametrize("identifier", sorted(META["strings"]))
def test_string_identifiers_resolve_like_keras(identifier):
    expected = META["strings"][identifier]
    metric = metrics.get(identifier)
    assert type(metric).__name__ == expected["class"]
    assert metric.name == expected["name"]
    # In compile, the string becomes the metric's name (and its log key).
    compiled = metrics.get_metric(identifier)
    assert type(compiled).__name__ == expected["class"] and compiled.name == identifier


@pytest.mark.parametrize("identifier", META["rejected_strings"])
def test_strings_keras_rejects_are_rejected(identifier):
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        metrics.get(identifier)


def test_per_sample_metric_functions():
    y_true, y_pred = REF["data/dist_true"], REF["data/dist_pred"]
    np.testing.assert_allclose(metrics.kl_divergence(y_true, y_pred),
                               REF["loss_fn/kl_divergence/values"], **CLOSE)
    for name in ("kl_divergence", "poisson", "hinge", "squared_hinge", "categorical_hinge",
                 "log_cosh", "binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "mean_squared_logarithmic_error",
                 "cosine_similarity"):
        fn = getattr(metrics, name)
        assert metrics.get_function(name) is fn
        assert metrics.get(fn) is fn
    assert metrics.msle is metrics.MSLE is metrics.mean_squared_logarithmic_error
    # Wrapping one of them round-trips through its name, like Keras' MeanMetricWrapper
    # (whose config holds Keras 3.15's function envelope).
    wrapper = metrics.MeanMetricWrapper(metrics.categorical_crossentropy, name="cce",
                                        from_logits=True)
    config = wrapper.get_config()
    assert config == {"name": "cce", "dtype": "float32", "from_logits": True, "fn": {
        "module": "builtins", "class_name": "function", "config": "categorical_crossentropy",
        "registered_name": "function"}}
    clone = metrics.MeanMetricWrapper.from_config(config)
    assert clone._direction == "down"
    np.testing.assert_allclose(
        np.stack(_stream(clone, "cce_logits", True)), REF["metric/cce_logits/weighted"], **CLOSE)


def test_cosine_similarity_is_the_negated_loss_direction():
    # Zero vectors give 0, identical directions 1, opposite -1.
    y_true = np.array([[0.0, 0.0], [1.0, 2.0], [1.0, 0.0]], np.float32)
    y_pred = np.array([[1.0, 1.0], [2.0, 4.0], [-3.0, 0.0]], np.float32)
    np.testing.assert_allclose(metrics.cosine_similarity(y_true, y_pred), [0.0, 1.0, -1.0],
                               atol=1e-6)


def test_inputs_of_other_dtypes_give_float32_results():
    y_true, y_pred = REF["data/count_true"], REF["data/count_pred"]
    for cls in (metrics.Poisson, metrics.MeanSquaredLogarithmicError):
        m32, m64 = cls(), cls()
        m32.update_state(y_true, y_pred)
        m64.update_state(y_true.astype(np.int64), y_pred.astype(np.float64))
        assert m64.result().dtype == np.float32
        np.testing.assert_allclose(m64.result(), m32.result(), rtol=1e-6)
    m = metrics.Hinge()
    m.update_state([[1, 0], [0, 1]], [[2, -1], [1, 1]])  # integer predictions too
    assert m.result().dtype == np.float32 and float(m.result()) == pytest.approx(0.5)


def test_sparse_categorical_crossentropy_ignore_class():
    y_true = np.array([0, 2, 1, 2])
    y_pred = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]],
                      np.float32)
    per_sample = -np.log([0.7, 0.8, 0.5, 0.1])
    m = metrics.SparseCategoricalCrossentropy(ignore_class=2)
    m.update_state(y_true, y_pred)  # ignored targets add 0 but still count, as in Keras
    assert float(m.result()) == pytest.approx((per_sample[0] + per_sample[2]) / 4, rel=1e-6)
    m.reset_state()
    m.update_state(y_true[:, None], y_pred, sample_weight=[1.0, 5.0, 3.0, 5.0])
    assert float(m.result()) == pytest.approx((per_sample[0] + 3 * per_sample[2]) / 4,
                                              rel=1e-6)


def test_r2_score_state_warnings_and_errors():
    m = metrics.R2Score()
    assert np.isnan(m.result()) and [v.name for v in m.variables] == ["num_samples"]
    y_true, y_pred = REF["data/reg_true"], REF["data/reg_pred"]
    m.update_state(y_true, y_pred)
    assert [v.name for v in m.variables] == [
        "num_samples", "squared_sum", "sum", "residual", "count"]
    assert float(m.num_samples.data) == y_true.size
    np.testing.assert_allclose(m.result(), REF["metric/r2/unweighted"][-1], **CLOSE)
    # The state can be copied into a fresh (unbuilt) metric.
    store = {}
    m.save_own_variables(store)
    clone = metrics.R2Score()
    clone.load_own_variables(store)
    assert clone.result() == m.result()
    m.reset_state()
    assert np.isnan(m.result())

    none = metrics.R2Score(class_aggregation=None)
    none.update_state(y_true, y_pred)
    assert none.result().shape == (3,) and none.result().dtype == np.float32

    fallback = metrics.R2Score(num_regressors=11)
    fallback.update_state(y_true[:4], y_pred[:4])  # 12 entries: 11 == n - 1
    with pytest.warns(UserWarning, match="Division by zero"):
        value = fallback.result()
    np.testing.assert_allclose(value, REF["metric/r2_adjusted_fallback/unweighted"][0], **CLOSE)
    too_many = metrics.R2Score(num_regressors=50)
    too_many.update_state(y_true, y_pred)
    with pytest.warns(UserWarning, match="More independent predictors"):
        too_many.result()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.R2Score(num_regressors=2)(y_true, y_pred)

    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="sum")
    with pytest.raises(ValueError, match="num_regressors"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match="2D inputs"):
        metrics.R2Score().update_state(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))


# --------------------------------------------------------------------------
# The loss functions and classes added to numnet.losses for these metrics
# --------------------------------------------------------------------------

# name -> (y_true key, y_pred key) in the fixture's data
LOSS_FUNCTIONS = {name: tuple(spec["inputs"]) for name, spec in META["loss_classes"].items()}


@pytest.mark.parametrize("name", sorted(LOSS_FUNCTIONS))
def test_new_loss_functions_values_and_gradients_match_keras(name):
    true_key, pred_key = LOSS_FUNCTIONS[name]
    y_true, y_pred = REF[f"data/{true_key}"], REF[f"data/{pred_key}"]
    fn = losses.get(name)
    assert fn is getattr(losses, name)
    variable = keras.Variable(y_pred)
    with keras.GradientTape() as tape:
        values = fn(y_true, variable)
        total = keras.ops.sum(keras.ops.multiply(values, REF["data/sw"]))
    np.testing.assert_allclose(values.data, REF[f"loss_fn/{name}/values"], **CLOSE)
    grad = tape.gradient(total, variable)
    np.testing.assert_allclose(grad.data if hasattr(grad, "data") else grad,
                               REF[f"loss_fn/{name}/grad"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(LOSS_FUNCTIONS))
def test_new_loss_classes_match_keras(name):
    spec = META["loss_classes"][name]
    cls = getattr(losses, spec["class"])
    loss = cls()
    assert loss.get_config() == spec["config"]
    assert type(losses.get(spec["class"])) is cls
    assert type(losses.as_loss_object(name)) is cls
    true_key, pred_key = LOSS_FUNCTIONS[name]
    y_true, y_pred = REF[f"data/{true_key}"], REF[f"data/{pred_key}"]
    np.testing.assert_allclose(loss(y_true, y_pred).data, REF[f"loss_obj/{name}/default"],
                               **CLOSE)
    np.testing.assert_allclose(loss(y_true, y_pred, sample_weight=REF["data/sw"]).data,
                               REF[f"loss_obj/{name}/weighted"], **CLOSE)
    assert type(cls.from_config(loss.get_config())) is cls


def test_kld_loss_alias():
    assert losses.get("kld") is losses.get("KLD") is losses.kl_divergence


@pytest.mark.parametrize("loss", ["kl_divergence", "poisson", "hinge", "squared_hinge",
                                  "categorical_hinge", "log_cosh", "kld"])
def test_new_losses_train_a_model(loss):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=32)]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss=loss)
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]


# --------------------------------------------------------------------------
# compile / fit
# --------------------------------------------------------------------------


def test_compile_fit_logs_string_metrics_under_keras_keys():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.set_weights([REF["fit/w0"], REF["fit/w1"]])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss="categorical_crossentropy",
                  metrics=["categorical_crossentropy", "kl_divergence"])
    history = model.fit(REF["fit/x"], REF["fit/y"], verbose=0, **META["fit"]["fit"])
    assert sorted(history.history) == sorted(META["fit"]["history_keys"])
    for key in META["fit"]["history_keys"]:
        np.testing.assert_allclose(history.history[key], REF[f"fit/hist/{key}"],
                                   rtol=1e-5, atol=1e-6, err_msg=key)
    # The metric sees the same predictions as the loss: identical values.
    np.testing.assert_allclose(history.history["categorical_crossentropy"],
                               history.history["loss"], rtol=1e-6)
