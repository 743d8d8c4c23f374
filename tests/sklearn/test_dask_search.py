"""Hyperparameter search on a Dask cluster: scikit-learn's searches through joblib's Dask backend.

A `LocalCluster` of two worker processes (one thread each) runs the fits of
GridSearchCV / RandomizedSearchCV; the result must be the serial search's:
the same best parameters, and the same scores (every fit is seeded, so it
computes the same numbers wherever it runs).
"""

import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.preprocessing import StandardScaler

import numnet as keras
from numnet.sklearn import KerasClassifier, MLPClassifier

distributed = pytest.importorskip("dask.distributed",
                                  reason="dask[distributed] (numnet[dask]) is not installed")
joblib = pytest.importorskip("joblib")

X, Y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)


def build(meta, n_hidden=1, n_neurons=8, learning_rate=0.01):
    """The textbook's tunable classifier: layers, neurons and learning rate."""
    model = keras.Sequential([keras.layers.Input(meta["X_shape_"][1:])])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(meta["n_classes_"], activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def client():
    # The workers unpickle `build` by value: they cannot import this test module.
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, worker_dashboard_address=None) as \
            cluster, distributed.Client(cluster) as dask_client:
        yield dask_client
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _on_dask(search):
    """The search fitted on the cluster; checks that both workers ran fits."""
    with distributed.get_task_stream() as stream, joblib.parallel_backend("dask"):
        fitted = clone(search).fit(X, Y)
    assert len({task["worker"] for task in stream.data}) == 2
    return fitted


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_of_an_mlp_on_dask_finds_the_serial_best(client):
    search = GridSearchCV(MLPClassifier(max_iter=60, random_state=0),
                          {"hidden_layer_sizes": [(3,), (20,)], "alpha": [1e-4, 1.0]}, cv=3)
    serial = clone(search).fit(X, Y)
    on_dask = _on_dask(search)
    assert on_dask.best_params_ == serial.best_params_
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])


def test_randomized_search_of_a_keras_model_on_dask_finds_the_serial_best(client):
    search = RandomizedSearchCV(
        KerasClassifier(build, epochs=15, batch_size=16, verbose=0, random_state=0),
        {"model__n_hidden": [0, 1, 2], "model__n_neurons": [4, 16],
         "model__learning_rate": [0.001, 0.03]}, n_iter=4, cv=2, random_state=0)
    serial = clone(search).fit(X, Y)
    on_dask = _on_dask(search)
    assert on_dask.best_params_ == serial.best_params_
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
