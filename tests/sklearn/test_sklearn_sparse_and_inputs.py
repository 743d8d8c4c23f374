"""numnet.sklearn against scikit-learn on sparse X, string inputs and split errors.

Each estimator is fitted side by side with scikit-learn's on the same input
and the same `random_state`; the fitted weights must agree to ~1e-10.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import sklearn  # noqa: F401  (a test dependency: fail loudly if it is missing)

from sklearn import linear_model, neural_network
from sklearn.datasets import load_iris, make_classification, make_regression

from numnet.sklearn import MLPClassifier, MLPRegressor, Perceptron, _core

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

IRIS_X, IRIS_Y = load_iris(return_X_y=True)


def _sparse_classification(n=150, features=12, seed=0):
    X, y = make_classification(n, features, n_informative=5, n_classes=3, random_state=seed)
    X[np.random.default_rng(seed).random(X.shape) < 0.6] = 0.0  # 60 % zeros
    return X, y


def _assert_same_weights(ours, ref, atol=1e-10):
    assert ours.n_iter_ == ref.n_iter_
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_array, sp.coo_matrix])
@pytest.mark.parametrize("params", [
    {},
    {"solver": "sgd", "activation": "tanh", "batch_size": 16},
    {"early_stopping": True, "shuffle": False},
    {"solver": "lbfgs", "activation": "logistic"},
])
def test_mlp_classifier_on_sparse_x_matches_sklearn(container, params):
    X, y = _sparse_classification()
    kw = {"hidden_layer_sizes": (9, 6), "random_state": 0, "max_iter": 25, **params}
    ours = MLPClassifier(**kw).fit(container(X), y)
    ref = neural_network.MLPClassifier(**kw).fit(container(X), y)
    _assert_same_weights(ours, ref, atol=1e-6 if kw.get("solver") == "lbfgs" else 1e-10)
    for data in (container(X), X):
        np.testing.assert_allclose(ours.predict_proba(data), ref.predict_proba(data),
                                   rtol=0, atol=1e-6)
    # The sparse fit is the dense fit: same algorithm, same draws.
    dense = MLPClassifier(**kw).fit(X, y)
    _assert_same_weights(ours, dense, atol=1e-6 if kw.get("solver") == "lbfgs" else 1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_regressor_on_sparse_x_matches_sklearn(dtype):
    X, y = make_regression(120, 10, n_targets=2, random_state=1)
    X[np.abs(X) < 0.7] = 0.0
    X = sp.csr_matrix(X.astype(dtype))
    kw = {"hidden_layer_sizes": (8,), "random_state": 3, "max_iter": 20}
    ours = MLPRegressor(**kw).fit(X, y)
    ref = neural_network.MLPRegressor(**kw).fit(X, y)
    _assert_same_weights(ours, ref, atol=1e-10 if dtype == np.float64 else 1e-5)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-5 if dtype == np.float32
                               else 1e-10)
    ours.partial_fit(X, y)
    ref.partial_fit(X, y)
    _assert_same_weights(ours, ref, atol=1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize("params", [
    {}, {"penalty": "l1", "alpha": 1e-3}, {"penalty": "elasticnet", "alpha": 1e-3},
    {"penalty": "l2"}, {"early_stopping": True}, {"class_weight": "balanced", "shuffle": False},
])
def test_perceptron_on_sparse_x_matches_sklearn(container, params):
    for X, y in [_sparse_classification(), (IRIS_X, IRIS_Y == 1)]:
        ours = Perceptron(random_state=4, **params).fit(container(X), y)
        ref = linear_model.Perceptron(random_state=4, **params).fit(container(X), y)
        assert ours.n_iter_ == ref.n_iter_
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-10)
        np.testing.assert_array_equal(ours.predict(container(X)), ref.predict(container(X)))
        np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X),
                                   atol=1e-9)


def test_perceptron_sparse_intercept_moves_by_a_hundredth_as_in_sklearn():
    # In this order all three instances are misclassified whatever the intercept:
    # updates +x1, -x2, +x3, so w = [0, 2] and b = 1 (dense) or 0.01 (sparse).
    X, y = np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0]]), np.array([1, 0, 1])
    kw = {"max_iter": 1, "tol": None, "shuffle": False}
    ref = linear_model.Perceptron(**kw).fit(sp.csr_matrix(X), y)
    dense = Perceptron(**kw).fit(X, y)
    sparse = Perceptron(**kw).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, ref.coef_, atol=1e-15)
    np.testing.assert_allclose(sparse.intercept_, ref.intercept_, atol=1e-15)
    np.testing.assert_array_equal(dense.coef_, [[0.0, 2.0]])
    np.testing.assert_array_equal(sparse.coef_, [[0.0, 2.0]])
    np.testing.assert_array_equal(dense.intercept_, [1.0])
    np.testing.assert_allclose(sparse.intercept_, [0.01], rtol=1e-15)


def test_perceptron_partial_fit_and_sparsified_coef_on_sparse_x():
    X, y = _sparse_classification()
    ours = Perceptron(random_state=1)
    ref = linear_model.Perceptron(random_state=1)
    for _ in range(3):
        ours.partial_fit(sp.csr_matrix(X), y, classes=[0, 1, 2])
        ref.partial_fit(sp.csr_matrix(X), y, classes=[0, 1, 2])
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-10)
    expected = ref.sparsify().decision_function(sp.csr_matrix(X))
    np.testing.assert_allclose(ours.sparsify().decision_function(sp.csr_matrix(X)), expected,
                               atol=1e-9)


def test_sparse_duplicate_entries_are_summed():
    X, y = _sparse_classification(60, 8)
    coo = sp.coo_matrix(X)
    # Every stored value split into two halves at the same position.
    doubled = sp.csr_matrix((np.r_[coo.data / 2, coo.data / 2],
                             (np.r_[coo.row, coo.row], np.r_[coo.col, coo.col])), shape=X.shape)
    doubled.has_canonical_format = False
    ours = Perceptron(random_state=0).fit(doubled, y)
    ref = Perceptron(random_state=0).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-10)


# ------------------------------------------------------------- string inputs
STRING_X = np.array([["1", "2"], ["3", "4"], ["5", "7"], ["8", "6"]] * 5)


@pytest.mark.parametrize("make", [
    lambda: (MLPRegressor(max_iter=3, random_state=0),
             neural_network.MLPRegressor(max_iter=3, random_state=0)),
    lambda: (MLPClassifier(max_iter=3, random_state=0),
             neural_network.MLPClassifier(max_iter=3, random_state=0)),
    lambda: (Perceptron(), linear_model.Perceptron()),
])
def test_numeric_string_x_fits_but_does_not_predict_as_in_sklearn(make):
    ours, ref = make()
    y = np.array([0, 1, 1, 0] * 5)
    ours.fit(STRING_X, y)  # fit converts (dtype=float), as scikit-learn's does
    ref.fit(STRING_X, y)
    np.testing.assert_allclose(ours.predict(STRING_X.astype(float)),
                               ref.predict(STRING_X.astype(float)), rtol=1e-12)
    for estimator in (ours, ref):
        with pytest.raises(ValueError, match="dtype='numeric' is not compatible with arrays "
                                             "of bytes/strings"):
            estimator.predict(STRING_X)


def test_regressor_refuses_string_targets():
    X = STRING_X.astype(float)
    y = np.array(["1.5", "2", "3", "4"] * 5)
    with pytest.raises(TypeError):  # scikit-learn fails inside its loss
        neural_network.MLPRegressor(max_iter=3).fit(X, y)
    for fit in (lambda est: est.fit(X, y), lambda est: est.partial_fit(X, y)):
        with pytest.raises(ValueError, match=r"MLPRegressor needs numeric targets, got y of "
                                             r"dtype <U3"):
            fit(MLPRegressor(max_iter=3))
    # Numbers in an object array are numbers (scikit-learn converts them too).
    ours = MLPRegressor(max_iter=3, random_state=0).fit(X, y.astype(object))
    ref = neural_network.MLPRegressor(max_iter=3, random_state=0).fit(X, y.astype(object))
    _assert_same_weights(ours, ref)


@pytest.mark.parametrize("labels", [[0, 0, 0, 1], ["a", "a", "a", "b"], [False] * 3 + [True]])
def test_stratified_early_stopping_error_names_the_class_as_sklearn(labels):
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    with pytest.raises(ValueError) as ref_error:
        neural_network.MLPClassifier(early_stopping=True).fit(X, labels)
    with pytest.raises(ValueError) as our_error:
        MLPClassifier(early_stopping=True).fit(X, labels)
    assert str(our_error.value) == str(ref_error.value)
    assert "Classes with too few members are: ['True']" in str(our_error.value)


# ------------------------------------------------- gradients of the core
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
# One output for the squared error: with several, scikit-learn's reported loss averages over
# the outputs while its gradient (and so numnet's) sums over them.
@pytest.mark.parametrize("loss,outputs", [("squared_error", 1), ("log_loss", 3),
                                          ("binary_log_loss", 1), ("poisson", 2)])
@pytest.mark.parametrize("sparse_input", [False, True])
def test_backprop_matches_finite_differences(activation, loss, outputs, sparse_input):
    rng = np.random.default_rng(7)
    n, units = 6, [5, 4, outputs]
    X = rng.normal(size=(n, units[0]))
    X[rng.random(X.shape) < 0.4] = 0.0
    if loss == "log_loss":
        y = np.eye(outputs)[rng.integers(0, outputs, n)]
    elif loss == "binary_log_loss":
        y = rng.integers(0, 2, (n, 1)).astype(float)
    else:
        y = np.abs(rng.normal(size=(n, outputs)))
    out_activation = {"squared_error": "identity", "log_loss": "softmax",
                      "binary_log_loss": "logistic", "poisson": "exp"}[loss]
    sample_weight = rng.uniform(0.5, 2.0, n)
    shapes = [(a, b) for a, b in zip(units[:-1], units[1:])] + [(u,) for u in units[1:]]
    flat, views = _core.flat_views(shapes, np.float64)
    flat[...] = rng.normal(scale=0.5, size=flat.size)
    net = _core.Network(views[:2], views[2:], n, activation, out_activation, 0.3, loss,
                        input_buffer=False)
    batch = sp.csr_matrix(X) if sparse_input else X

    def loss_at(params):
        flat[...] = params
        return net.backprop(batch, y, sample_weight)

    theta = flat.copy()
    loss_at(theta)
    analytic = net.flat_grad.copy()
    numeric = np.empty_like(theta)
    step = 1e-6
    for i in range(theta.size):
        bump = np.zeros_like(theta)
        bump[i] = step
        numeric[i] = (loss_at(theta + bump) - loss_at(theta - bump)) / (2 * step)
    # relu's kink is never within `step` of a pre-activation here (checked by the tolerance).
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
