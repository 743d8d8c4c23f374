"""numnet.sklearn.KerasClassifier / KerasRegressor: SciKeras' conventions on numnet models."""

import doctest
import pickle

import numpy as np
import pytest

import sklearn  # noqa: F401  (a test dependency: fail loudly if it is missing)

from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import numnet as keras
from numnet.sklearn import KerasClassifier, KerasRegressor, _keras_wrappers

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
IRIS_X = StandardScaler().fit_transform(IRIS_X)
REG_X, REG_Y = make_regression(120, 5, noise=5.0, random_state=0)
REG_Y = REG_Y / REG_Y.std()


def build_classifier(meta, compile_kwargs, hidden_layer_sizes=(16,)):
    """A classifier for whatever target the estimator checks give (compiled here)."""
    model = keras.Sequential([keras.layers.Input(meta["X_shape_"][1:])])
    for units in hidden_layer_sizes:
        model.add(keras.layers.Dense(units, activation="relu"))
    if meta["target_type_"] in ("binary", "multilabel-indicator"):
        units = 1 if meta["target_type_"] == "binary" else meta["n_classes_"]
        model.add(keras.layers.Dense(units, activation="sigmoid"))
        loss = "binary_crossentropy"
    else:
        model.add(keras.layers.Dense(meta["n_classes_"], activation="softmax"))
        loss = "sparse_categorical_crossentropy"
    model.compile(optimizer=compile_kwargs["optimizer"], loss=loss)
    return model


def build_regressor(meta, n_hidden=1, n_neurons=16):
    """The textbook's tunable regression MLP (left uncompiled: the wrapper compiles it)."""
    model = keras.Sequential([keras.layers.Input(meta["X_shape_"][1:])])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(meta["n_outputs_"]))
    return model


# ------------------------------------------------------- estimator checks
@parametrize_with_checks(
    [KerasClassifier(build_classifier, optimizer=keras.optimizers.Adam(learning_rate=0.02),
                     epochs=40, verbose=0),
     KerasRegressor(build_regressor, loss="mse",
                    optimizer=keras.optimizers.Adam(learning_rate=0.02), epochs=40, verbose=0)],
    expected_failed_checks=lambda estimator: {
        # Keras averages a weighted loss over the samples of the batch, not over their
        # weights, so a weight of 2 is not a repeated sample (scikit-learn lists the same
        # expected failure for its own SGD estimators).
        "check_sample_weight_equivalence_on_dense_data":
            "Keras' loss reduction: sample_weight is not equivalent to repeating samples.",
    })
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_docstring_examples_run():
    result = doctest.testmod(_keras_wrappers, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


# ------------------------------------------------------------- numbers
def test_regressor_trains_exactly_as_the_same_numnet_code():
    reg = KerasRegressor(build_regressor, loss="mse", optimizer="sgd",
                         optimizer__learning_rate=0.05, model__n_hidden=2, n_neurons=8,
                         batch_size=16, epochs=4, verbose=0, random_state=7)
    reg.fit(REG_X, REG_Y)
    # The same steps by hand: seeded build, compile, seeded fit.
    keras.utils.set_random_seed(7)
    model = build_regressor({"X_shape_": REG_X.shape, "n_outputs_": 1}, n_hidden=2, n_neurons=8)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    keras.utils.set_random_seed(7)
    history = model.fit(REG_X, REG_Y, batch_size=16, epochs=4, verbose=0)
    for ours, ref in zip(reg.model_.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, ref)
    assert reg.history_["loss"] == history.history["loss"]
    expected = model.predict(REG_X, verbose=0).ravel()
    np.testing.assert_array_equal(reg.predict(REG_X), expected.astype(np.float64))
    assert reg.predict(REG_X).shape == (120,) and reg.predict(REG_X).dtype == np.float64
    assert reg.score(REG_X, REG_Y) == pytest.approx(
        1 - ((REG_Y - expected) ** 2).sum() / ((REG_Y - REG_Y.mean()) ** 2).sum(), rel=1e-5)


def test_random_state_reproduces_and_leaves_global_generators_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    kw = dict(loss="mse", epochs=3, verbose=0, batch_size=8)
    a = KerasRegressor(build_regressor, random_state=3, **kw).fit(REG_X, REG_Y).predict(REG_X)
    b = KerasRegressor(build_regressor, random_state=3, **kw).fit(REG_X, REG_Y).predict(REG_X)
    c = KerasRegressor(build_regressor, random_state=4, **kw).fit(REG_X, REG_Y).predict(REG_X)
    rs = np.random.RandomState(9)
    d = KerasRegressor(build_regressor, random_state=rs, **kw).fit(REG_X, REG_Y).predict(REG_X)
    e = KerasRegressor(build_regressor, random_state=rs, **kw).fit(REG_X, REG_Y).predict(REG_X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(d, e)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# ------------------------------------------------------------- routing
def _huber_at_error_one(loss):
    """Huber loss of an error of 1: 0.5 for delta >= 1, delta * (1 - delta / 2) below."""
    return float(np.asarray(loss(np.zeros((1, 1)), np.ones((1, 1)))))


def test_routed_parameters_reach_their_destinations():
    seen = {}

    def build(n_hidden, meta, compile_kwargs, params, activation="relu"):
        seen.update(n_hidden=n_hidden, activation=activation, meta=meta,
                    compile_kwargs=compile_kwargs, params=params)
        return build_regressor(meta, n_hidden=n_hidden)

    class Recorder(keras.callbacks.Callback):
        def __init__(self, tag, every=1):
            super().__init__()
            self.tag, self.every, self.batches = tag, every, []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append(batch)

    reg = KerasRegressor(
        build, model__n_hidden=2, activation="tanh", optimizer=keras.optimizers.SGD,
        optimizer__learning_rate=0.03, optimizer__momentum=0.5,
        loss=keras.losses.Huber, loss__delta=0.5, metrics=[keras.metrics.MeanAbsoluteError],
        metrics__0__name="mae_x", callbacks=Recorder, callbacks__tag="shared",
        callbacks__every=2, fit__batch_size=40, predict__batch_size=7, compile__jit_compile=False,
        epochs=2, verbose=0, random_state=0)
    reg.fit(REG_X, REG_Y)
    assert seen["n_hidden"] == 2 and seen["activation"] == "tanh"
    assert seen["meta"]["n_features_in_"] == 5 and seen["meta"]["n_outputs_"] == 1
    assert seen["params"]["optimizer__momentum"] == 0.5
    given = seen["compile_kwargs"]["optimizer"]  # compiled objects, for builders that compile
    assert isinstance(given, keras.optimizers.SGD) and given.momentum == 0.5
    assert isinstance(seen["compile_kwargs"]["loss"], keras.losses.Huber)
    optimizer = reg.model_.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert float(np.asarray(optimizer.learning_rate)) == pytest.approx(0.03)
    assert optimizer.momentum == 0.5
    assert isinstance(reg.model_.loss, keras.losses.Huber)
    assert _huber_at_error_one(reg.model_.loss) == pytest.approx(0.375)  # delta=0.5
    assert "mae_x" in reg.history_ and len(reg.history_["loss"]) == 2
    assert reg.model_.jit_compile is False
    (callback,) = reg._fit_callbacks
    assert (callback.tag, callback.every) == ("shared", 2)
    assert callback.batches == [0, 1, 2] * 2  # 120 samples in batches of 40, two epochs
    assert reg.predict(REG_X).shape == (120,)


def test_batch_size_minus_one_and_score_routing():
    batches = []
    counter = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(batch))
    clf = KerasClassifier(build_softmax, loss="sparse_categorical_crossentropy", batch_size=-1,
                          epochs=2, verbose=0, random_state=0, callbacks=[counter],
                          score__normalize=False)
    clf.fit(IRIS_X, IRIS_Y)
    assert batches == [0, 0]  # all 150 samples in one batch, two epochs
    correct = clf.score(IRIS_X, IRIS_Y)  # accuracy_score(normalize=False): a count
    assert correct == (clf.predict(IRIS_X) == IRIS_Y).sum()


def test_list_and_dict_routing():
    made = _keras_wrappers.instantiate(
        [keras.losses.Huber, keras.losses.MeanSquaredError], {"name": "x", "0__delta": 1.5},
        _keras_wrappers._loss_class, "loss")
    assert _huber_at_error_one(made[0]) == 0.5 and made[0].name == "x" and made[1].name == "x"
    made = _keras_wrappers.instantiate(
        {"a": "huber", "b": "mse"}, {"a__delta": 3.0}, _keras_wrappers._loss_class, "loss")
    assert isinstance(made["a"], keras.losses.Huber) and _huber_at_error_one(made["a"]) == 0.5
    assert made["b"] == "mse"  # no parameters: the name is left for compile

    class Schedule:
        def __init__(self, coef=0.1):
            self.coef = coef

        def __call__(self, epoch, lr):
            return lr

    callback = _keras_wrappers.instantiate(
        keras.callbacks.LearningRateScheduler, {"0": Schedule, "0__coef": 0.2}, what="callbacks")
    assert isinstance(callback.schedule, Schedule) and callback.schedule.coef == 0.2


def test_clone_get_params_and_set_params_keep_routed_parameters():
    reg = KerasRegressor(build_regressor, loss="mse", model__n_hidden=3, optimizer__momentum=0.9)
    params = reg.get_params()
    assert params["model__n_hidden"] == 3 and params["optimizer__momentum"] == 0.9
    twin = clone(reg)
    assert twin.get_params() == params
    twin.set_params(model__n_neurons=5, optimizer__learning_rate=0.1, epochs=3)
    assert twin.model__n_neurons == 5 and twin.epochs == 3
    assert "model__n_neurons" in clone(twin).get_params()
    with pytest.raises(ValueError, match="Extra parameters of KerasRegressor are set at "
                                         "construction"):
        twin.set_params(n_layers=2)


def test_grid_search_tunes_layers_neurons_learning_rate_and_batch_size():
    reg = KerasRegressor(build_regressor, loss="mse", optimizer="adam", epochs=5, verbose=0,
                         random_state=0)
    grid = {"model__n_hidden": [1, 2], "model__n_neurons": [4, 16],
            "optimizer__learning_rate": [1e-3, 3e-2], "batch_size": [16, 64]}
    search = GridSearchCV(reg, grid, cv=2).fit(REG_X, REG_Y)
    assert len(search.cv_results_["params"]) == 16
    assert set(search.best_params_) == set(grid)
    best = search.best_estimator_
    assert best.model__n_hidden == search.best_params_["model__n_hidden"]
    n_dense = sum(isinstance(layer, keras.layers.Dense) for layer in best.model_.layers)
    assert n_dense == best.model__n_hidden + 1
    assert best.model_.layers[0].units == best.model__n_neurons
    assert search.best_score_ > 0.5  # noise is 5 % of the signal's scale here
    # RandomizedSearchCV in a pipeline, with a distribution over the learning rate.
    from scipy.stats import loguniform

    pipe = make_pipeline(StandardScaler(), reg)
    search = RandomizedSearchCV(pipe, {"kerasregressor__optimizer__learning_rate":
                                       loguniform(1e-3, 1e-1),
                                       "kerasregressor__model__n_neurons": [8, 16]},
                                n_iter=3, cv=2, random_state=0).fit(REG_X, REG_Y)
    assert search.best_estimator_.predict(REG_X).shape == (120,)


# ---------------------------------------------------------- classifier
def build_softmax(meta, units=16):
    return keras.Sequential([keras.layers.Input((meta["n_features_in_"],)),
                             keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(meta["n_classes_"], activation="softmax")])


def test_classifier_string_labels_probabilities_and_score():
    labels = np.array(["setosa", "versicolor", "virginica"])[IRIS_Y]
    clf = KerasClassifier(build_softmax, loss="sparse_categorical_crossentropy",
                          optimizer="adam", optimizer__learning_rate=0.05, metrics=["accuracy"],
                          epochs=30, verbose=0, random_state=0).fit(IRIS_X, labels)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    assert clf.n_classes_ == 3 and clf.target_type_ == "multiclass"
    proba = clf.predict_proba(IRIS_X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    raw = clf.model_.predict(IRIS_X, verbose=0)
    np.testing.assert_array_equal(proba, raw)
    np.testing.assert_array_equal(clf.predict(IRIS_X), clf.classes_[raw.argmax(axis=1)])
    assert clf.score(IRIS_X, labels) == pytest.approx((clf.predict(IRIS_X) == labels).mean())
    assert clf.score(IRIS_X, labels) > 0.9
    assert "accuracy" in clf.history_


def test_classifier_one_hot_binary_sigmoid_and_class_weight():
    onehot = KerasClassifier(build_softmax, loss="categorical_crossentropy", epochs=2,
                             verbose=0, random_state=0).fit(IRIS_X, IRIS_Y)
    encoded = onehot.target_encoder_.transform(IRIS_Y)
    assert encoded.shape == (150, 3) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded.argmax(axis=1), IRIS_Y)

    def build_sigmoid(meta):
        return keras.Sequential([keras.layers.Input((meta["n_features_in_"],)),
                                 keras.layers.Dense(1, activation="sigmoid")])

    y = IRIS_Y == 2
    weighted = KerasClassifier(build_sigmoid, loss="binary_crossentropy", epochs=2, verbose=0,
                               random_state=0, class_weight={False: 1.0, True: 3.0}).fit(IRIS_X, y)
    by_hand = KerasClassifier(build_sigmoid, loss="binary_crossentropy", epochs=2, verbose=0,
                              random_state=0).fit(IRIS_X, y, sample_weight=np.where(y, 3.0, 1.0))
    np.testing.assert_array_equal(weighted.predict_proba(IRIS_X), by_hand.predict_proba(IRIS_X))
    proba = weighted.predict_proba(IRIS_X)
    p = weighted.model_.predict(IRIS_X, verbose=0)
    np.testing.assert_array_equal(proba, np.hstack([1 - p, p]))
    np.testing.assert_array_equal(weighted.predict(IRIS_X), p.ravel() > 0.5)


def test_partial_fit_warm_start_and_history():
    clf = KerasClassifier(build_softmax, loss="sparse_categorical_crossentropy", verbose=0,
                          random_state=0)
    clf.partial_fit(IRIS_X[:40], IRIS_Y[:40], classes=[0, 1, 2])
    model = clf.model_
    clf.partial_fit(IRIS_X[40:], IRIS_Y[40:])
    assert clf.model_ is model and clf.current_epoch == 2 and len(clf.history_["loss"]) == 2
    with pytest.raises(ValueError, match=r"labels that are not in classes_ \[0, 1, 2\]: \[7\]"):
        clf.partial_fit(IRIS_X[:2], [0, 7])
    with pytest.raises(TypeError, match="partial_fit takes no `epochs`"):
        clf.partial_fit(IRIS_X, IRIS_Y, epochs=3)
    clf.set_params(warm_start=True, epochs=3).fit(IRIS_X, IRIS_Y)
    assert clf.model_ is model and len(clf.history_["loss"]) == 3  # epochs restart at 0
    clf.set_params(warm_start=False).fit(IRIS_X, IRIS_Y)
    assert clf.model_ is not model


def test_pickle_roundtrip_predicts_the_same():
    reg = KerasRegressor(build_regressor, loss="mse", epochs=2, verbose=0, random_state=0)
    reg.fit(REG_X, REG_Y)
    copy = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(copy.predict(REG_X), reg.predict(REG_X))


def test_clear_errors():
    with pytest.raises(ValueError, match="No loss to train with: pass loss=... to KerasRegressor"):
        KerasRegressor(build_regressor, verbose=0).fit(REG_X, REG_Y)
    with pytest.raises(ValueError, match=r"does not take \['n_layers'\]"):
        KerasRegressor(build_regressor, loss="mse", model__n_layers=2).fit(REG_X, REG_Y)
    with pytest.raises(ValueError, match="optimizer got routed parameters \\['learning_rate'\\]"):
        KerasRegressor(build_regressor, loss="mse", optimizer=keras.optimizers.SGD(),
                       optimizer__learning_rate=0.1).fit(REG_X, REG_Y)
    with pytest.raises(ValueError, match="The model's output has 1 units but y has 2 outputs"):
        KerasRegressor(lambda meta: build_regressor({**meta, "n_outputs_": 1}), loss="mse",
                       verbose=0).fit(REG_X, np.c_[REG_Y, REG_Y])
    with pytest.raises(ValueError, match="The model's output has 3 units but y has 2 classes"):
        KerasClassifier(lambda meta: build_softmax({**meta, "n_classes_": 3}),
                        loss="sparse_categorical_crossentropy").fit(IRIS_X, IRIS_Y == 0)
    with pytest.raises(ValueError, match="KerasRegressor needs numeric targets"):
        KerasRegressor(build_regressor, loss="mse").fit(REG_X, REG_Y.astype(str))
    with pytest.raises(TypeError, match="must return a numnet Model"):
        KerasRegressor(lambda: "model", loss="mse").fit(REG_X, REG_Y)
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        KerasRegressor(build_regressor, loss="mse", verbose=0).fit(REG_X, REG_Y).predict(
            REG_X[:, :, None])


def test_images_keep_their_shape():
    rng = np.random.default_rng(0)
    X = rng.random((60, 4, 4))
    y = (X.mean(axis=(1, 2)) > 0.5).astype(int)

    def build(meta):
        return keras.Sequential([keras.layers.Input(meta["X_shape_"][1:]),
                                 keras.layers.Flatten(),
                                 keras.layers.Dense(2, activation="softmax")])

    clf = KerasClassifier(build, loss="sparse_categorical_crossentropy", epochs=2, verbose=0,
                          random_state=0).fit(X, y)
    assert clf.n_features_in_ == 4 and clf.X_shape_ == (60, 4, 4)
    assert clf.predict(X).shape == (60,)


def test_prebuilt_model_and_subclass_build_fn():
    model = build_regressor({"X_shape_": REG_X.shape, "n_outputs_": 1})
    reg = KerasRegressor(model, loss="mse", epochs=1, verbose=0).fit(REG_X, REG_Y)
    assert reg.model_ is model

    class TextbookRegressor(KerasRegressor):
        def _keras_build_fn(self, meta, n_neurons=4):
            return build_regressor(meta, n_neurons=n_neurons)

    reg = TextbookRegressor(loss="mse", epochs=1, verbose=0, model__n_neurons=3)
    assert reg.fit(REG_X, REG_Y).model_.layers[0].units == 3
    with pytest.warns(FutureWarning, match="build_fn"):
        KerasRegressor(build_fn=build_regressor, loss="mse", verbose=0, epochs=1).fit(REG_X, REG_Y)


def test_tuning_example_runs(capsys):
    import pathlib
    import runpy

    path = pathlib.Path(__file__).parents[2] / "examples" / "tune_california_housing.py"
    main = runpy.run_path(str(path))["main"]
    search, test_rmse = main(["--n-iter", "3", "--epochs", "5", "--train-size", "2000"])
    out = capsys.readouterr().out
    assert "2000 training rows, 1000 test rows; 3 settings x 3 folds" in out
    assert f"Best model's test RMSE: {test_rmse:.4f}" in out
    assert len(search.cv_results_["params"]) == 3
    best = search.best_params_
    assert best["kerasregressor__model__n_hidden"] in (0, 1, 2, 3)
    assert 3e-4 <= best["kerasregressor__optimizer__learning_rate"] <= 3e-2
    # The best setting's cross-validated RMSE beats predicting the mean on the same folds.
    from sklearn.dummy import DummyRegressor
    from sklearn.model_selection import cross_val_score, train_test_split

    housing = keras.datasets.california_housing.fetch(sample=True)
    x_train, _, y_train, _ = train_test_split(housing.data, housing.target, train_size=2000,
                                              test_size=1000, random_state=42)
    baseline = -cross_val_score(DummyRegressor(), x_train, y_train, cv=3,
                                scoring="neg_root_mean_squared_error").mean()
    assert -search.best_score_ < 0.8 * baseline
    assert np.isfinite(test_rmse)
