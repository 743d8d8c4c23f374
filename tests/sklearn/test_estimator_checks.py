"""scikit-learn's own estimator checks on numnet's estimators.

The only checks expected to fail are the ones scikit-learn itself marks as
expected failures for its own version of the estimator (read from its
per-estimator list when available).
"""

import pytest

import sklearn  # noqa: F401  (a test dependency: fail loudly if it is missing)

from sklearn import linear_model, neural_network
from sklearn.utils.estimator_checks import parametrize_with_checks

from numnet.sklearn import MLPClassifier, MLPRegressor, Perceptron

_SKLEARN_TWIN = {Perceptron: linear_model.Perceptron, MLPClassifier: neural_network.MLPClassifier,
                 MLPRegressor: neural_network.MLPRegressor}
_FALLBACK = {linear_model.Perceptron: {
    "check_sample_weight_equivalence_on_dense_data":
        "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data":
        "sample_weight is not equivalent to removing/repeating samples.",
}}


def expected_failed_checks(estimator):
    """scikit-learn's own expected failures for the twin of `estimator`."""
    twin = _SKLEARN_TWIN[type(estimator)]
    try:
        from sklearn.utils._test_common.instance_generator import PER_ESTIMATOR_XFAIL_CHECKS
    except ImportError:
        PER_ESTIMATOR_XFAIL_CHECKS = _FALLBACK
    return dict(PER_ESTIMATOR_XFAIL_CHECKS.get(twin, {}))


ESTIMATORS = [
    Perceptron(),
    MLPClassifier(hidden_layer_sizes=(20,), learning_rate_init=0.01, max_iter=200),
    MLPRegressor(hidden_layer_sizes=(20,), learning_rate_init=0.01, max_iter=200),
    MLPClassifier(solver="sgd", hidden_layer_sizes=(20,), learning_rate_init=0.05, tol=1e-2),
    MLPRegressor(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=200),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
