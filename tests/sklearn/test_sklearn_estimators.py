"""numnet.sklearn against scikit-learn itself: same numbers, same API, numnet extras."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import sklearn  # noqa: F401  (a test dependency: fail loudly if it is missing)

from sklearn import linear_model, neural_network
from sklearn.datasets import (
    load_iris,
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from numnet.sklearn import MLPClassifier, MLPRegressor, Perceptron

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

IRIS_X, IRIS_Y = load_iris(return_X_y=True)


def test_import_numnet_does_not_import_sklearn():
    code = "import sys, numnet; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ Perceptron
def test_perceptron_textbook_iris():
    X = IRIS_X[:, 2:4]
    y = IRIS_Y == 0
    clf = Perceptron(random_state=42).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, [[-1.4, -2.2]])
    np.testing.assert_array_equal(clf.intercept_, [4.0])
    assert clf.n_iter_ == 7 and clf.t_ == 7 * len(X) + 1
    np.testing.assert_array_equal(clf.predict([[2, 0.5], [3, 1]]), [True, False])
    assert not hasattr(clf, "predict_proba")


@pytest.mark.parametrize("params", [
    {}, {"random_state": 42}, {"penalty": "l2"}, {"penalty": "elasticnet", "alpha": 1e-3},
    {"class_weight": "balanced"}, {"early_stopping": True}, {"fit_intercept": False},
    {"shuffle": False},
])
def test_perceptron_matches_sklearn(params):
    datasets = [(IRIS_X, IRIS_Y), make_classification(150, 5, random_state=3)]
    for X, y in datasets:
        ours = Perceptron(**params).fit(X, y)
        ref = linear_model.Perceptron(**params).fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-10)
        assert ours.n_iter_ == ref.n_iter_
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
        np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X),
                                   atol=1e-9)


def test_perceptron_matches_sgd_classifier_and_partial_fit():
    X, y = make_classification(120, 4, random_state=0)
    sgd = linear_model.SGDClassifier(loss="perceptron", eta0=1, learning_rate="constant",
                                     penalty=None, random_state=5).fit(X, y)
    ours = Perceptron(random_state=5).fit(X, y)
    np.testing.assert_allclose(ours.coef_, sgd.coef_, atol=1e-10)
    a = Perceptron(random_state=1).partial_fit(X, y, classes=[0, 1]).partial_fit(X, y)
    b = linear_model.Perceptron(random_state=1).partial_fit(X, y, classes=[0, 1])
    b.partial_fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)


# ----------------------------------------------------------------------- MLPs
def _assert_same_net(ours, ref, atol=1e-10):
    assert ours.n_iter_ == ref.n_iter_ and ours.t_ == ref.t_
    assert ours.out_activation_ == ref.out_activation_ and ours.n_layers_ == ref.n_layers_
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, atol=atol)
    if hasattr(ref, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
        if ref.best_loss_ is None:
            assert ours.best_loss_ is None
        else:
            assert ours.best_loss_ == pytest.approx(ref.best_loss_)
    else:
        assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-6)


@pytest.mark.parametrize("params", [
    {},
    {"solver": "sgd", "learning_rate": "invscaling", "activation": "logistic"},
    {"solver": "sgd", "learning_rate": "adaptive", "nesterovs_momentum": False,
     "activation": "tanh", "max_iter": 60},
    {"early_stopping": True, "alpha": 0.01},
    {"batch_size": 32, "shuffle": False, "activation": "identity"},
    {"solver": "lbfgs"},
])
def test_mlp_classifier_matches_sklearn(params):
    kw = {"hidden_layer_sizes": (7, 5), "random_state": 0, "max_iter": 40, **params}
    ours = MLPClassifier(**kw).fit(IRIS_X, IRIS_Y)
    ref = neural_network.MLPClassifier(**kw).fit(IRIS_X, IRIS_Y)
    _assert_same_net(ours, ref, atol=1e-6 if params.get("solver") == "lbfgs" else 1e-10)
    np.testing.assert_allclose(ours.predict_proba(IRIS_X), ref.predict_proba(IRIS_X), atol=1e-6)
    if getattr(ref, "validation_scores_", None) is not None:
        np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_)
        assert ours.best_validation_score_ == ref.best_validation_score_


def test_mlp_binary_multilabel_and_sample_weight_match_sklearn():
    X, Y = make_multilabel_classification(120, 6, n_classes=3, random_state=0)
    sw = np.random.default_rng(0).uniform(0.5, 2, len(X))
    for y, weight in [(Y, None), (Y[:, 0], sw), (Y[:, 1].astype(str), None)]:
        kw = dict(hidden_layer_sizes=(10,), random_state=1, max_iter=30)
        ours = MLPClassifier(**kw).fit(X, y, sample_weight=weight)
        ref = neural_network.MLPClassifier(**kw).fit(X, y, sample_weight=weight)
        _assert_same_net(ours, ref)
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
        np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert ours.out_activation_ == "logistic"


@pytest.mark.parametrize("params", [{}, {"loss": "poisson"}, {"early_stopping": True},
                                    {"solver": "sgd", "learning_rate_init": 1e-4}])
def test_mlp_regressor_multioutput_matches_sklearn(params):
    X, y = make_regression(200, 6, n_targets=2, random_state=0)
    if params.get("loss") == "poisson":
        y = np.abs(y) / 100
    kw = dict(hidden_layer_sizes=(16, 8), random_state=0, max_iter=30, **params)
    ours = MLPRegressor(**kw).fit(X, y)
    ref = neural_network.MLPRegressor(**kw).fit(X, y)
    _assert_same_net(ours, ref, atol=1e-8)
    assert ours.predict(X).shape == (200, 2) and ours.n_outputs_ == 2


def test_partial_fit_and_warm_start_match_sklearn():
    kw = dict(hidden_layer_sizes=(6,), random_state=0)
    ours, ref = MLPClassifier(**kw), neural_network.MLPClassifier(**kw)
    for _ in range(3):
        ours.partial_fit(IRIS_X, IRIS_Y, classes=[0, 1, 2])
        ref.partial_fit(IRIS_X, IRIS_Y, classes=[0, 1, 2])
    _assert_same_net(ours, ref)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(IRIS_X, IRIS_Y)
    kw = dict(hidden_layer_sizes=(6,), random_state=0, max_iter=5, warm_start=True)
    ours, ref = MLPRegressor(**kw), neural_network.MLPRegressor(**kw)
    for _ in range(2):
        ours.fit(IRIS_X, IRIS_Y)
        ref.fit(IRIS_X, IRIS_Y)
    _assert_same_net(ours, ref)


def test_float32_stays_float32():
    X32 = IRIS_X.astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(5,), random_state=0, max_iter=5).fit(X32, IRIS_Y)
    assert all(w.dtype == np.float32 for w in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_log_proba(X32).shape == (150, 3)


def test_pipeline_grid_search_cross_val_score():
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(10,),
                                                         random_state=0, max_iter=300))
    assert cross_val_score(pipe, IRIS_X, IRIS_Y, cv=3).mean() > 0.85
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3).fit(IRIS_X, IRIS_Y)
    assert grid.best_score_ > 0.85
    perceptron = make_pipeline(StandardScaler(), Perceptron())
    assert cross_val_score(perceptron, IRIS_X, IRIS_Y, cv=3).mean() > 0.6
    assert MLPClassifier().get_params()["hidden_layer_sizes"] == (100,)
    assert MLPRegressor().set_params(alpha=0.5).alpha == 0.5


def test_to_keras_and_callbacks(tmp_path):
    clf = MLPClassifier(hidden_layer_sizes=(8, 4), random_state=0, max_iter=20)
    epochs = []

    class Recorder:
        def on_train_begin(self, logs=None):
            pass

        def on_epoch_end(self, epoch, logs=None):
            epochs.append((epoch, logs["loss"]))
            if epoch == 4:
                clf.stop_training = True

        def on_train_end(self, logs=None):
            pass

    clf.set_params(callbacks=[Recorder()]).fit(IRIS_X, IRIS_Y)
    assert clf.n_iter_ == 5 and [e for e, _ in epochs] == [0, 1, 2, 3, 4]
    assert [loss for _, loss in epochs] == clf.loss_curve_
    model = clf.to_keras()
    np.testing.assert_array_equal(model(IRIS_X).numpy(), clf.predict_proba(IRIS_X))
    np.testing.assert_allclose(model.predict(IRIS_X, verbose=0), clf.predict_proba(IRIS_X),
                               rtol=1e-6, atol=1e-7)
    clf.save(tmp_path / "clf.keras")
    import numnet

    loaded = numnet.saving.load_model(tmp_path / "clf.keras")
    np.testing.assert_array_equal(loaded(IRIS_X).numpy(), clf.predict_proba(IRIS_X))
    X, y = make_regression(50, 3, n_targets=2, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(5,), activation="tanh", random_state=0,
                       max_iter=5).fit(X, y)
    np.testing.assert_array_equal(reg.to_keras()(X).numpy(), reg.predict(X))


def test_lbfgs_and_errors():
    reg = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(5,), random_state=0, max_iter=50)
    reg.fit(IRIS_X, IRIS_Y.astype(float))
    assert not hasattr(reg, "loss_curve_") and reg.n_iter_ >= 1
    with pytest.raises(AttributeError):
        reg.partial_fit(IRIS_X, IRIS_Y)
    with pytest.raises(ValueError):
        MLPClassifier(activation="softplus").fit(IRIS_X, IRIS_Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            MLPClassifier(max_iter=1).fit(IRIS_X, IRIS_Y)


def test_perceptron_vs_logistic_example_runs(capsys):
    import pathlib
    import runpy

    path = pathlib.Path(__file__).parents[2] / "examples" / "perceptron_vs_logistic.py"
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert "has predict_proba: False" in out and "[[-1.4 -2.2]]" in out
