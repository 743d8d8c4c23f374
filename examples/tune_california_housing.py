"""Tuning the textbook's regression MLP with scikit-learn's RandomizedSearchCV.

The book's advice: wrap the Keras model in a scikit-learn estimator and let
RandomizedSearchCV explore the number of hidden layers, the neurons per layer,
the learning rate and the batch size. `numnet.sklearn.KerasRegressor` takes the
model-building function SciKeras-style: `model__NAME` goes to the function,
`optimizer__learning_rate` to the optimizer, `callbacks__patience` to
EarlyStopping. Runs on the California housing copy shipped with numnet (a
subset of its rows, to stay fast), then prints the best parameters and the
test RMSE of the refitted best model.

    python examples/tune_california_housing.py [--n-iter 10] [--epochs 30] [--train-size 2000]
"""

import argparse
import time

import numpy as np

import numnet as keras


def build_model(meta, n_hidden=1, n_neurons=30):
    """The textbook's regressor: `n_hidden` Dense(n_neurons, relu) layers, then Dense(1)."""
    model = keras.Sequential([keras.layers.Input(shape=(meta["n_features_in_"],))])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(1))
    return model  # not compiled: the wrapper compiles it with the routed optimizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=10, help="parameter settings tried")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        from scipy.stats import loguniform
        from sklearn.model_selection import RandomizedSearchCV, train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as error:
        raise SystemExit("This example needs scikit-learn: "
                         "pip install 'numnet[sklearn]'") from error
    from numnet.sklearn import KerasRegressor

    housing = keras.datasets.california_housing.fetch(sample=True)
    x_train, x_test, y_train, y_test = train_test_split(
        housing.data, housing.target, train_size=args.train_size, test_size=1000,
        random_state=args.seed)

    regressor = KerasRegressor(
        build_model, loss="mse", optimizer="sgd", optimizer__learning_rate=3e-3,
        model__n_hidden=1, model__n_neurons=30, batch_size=32, epochs=args.epochs,
        validation_split=0.1, callbacks=keras.callbacks.EarlyStopping,
        callbacks__patience=3, callbacks__restore_best_weights=True,
        verbose=0, random_state=args.seed)
    pipeline = make_pipeline(StandardScaler(), regressor)
    distributions = {
        "kerasregressor__model__n_hidden": [0, 1, 2, 3],
        "kerasregressor__model__n_neurons": np.arange(1, 100),
        "kerasregressor__optimizer__learning_rate": loguniform(3e-4, 3e-2),
        "kerasregressor__batch_size": [16, 32, 64],
    }
    search = RandomizedSearchCV(pipeline, distributions, n_iter=args.n_iter, cv=3,
                                scoring="neg_root_mean_squared_error", random_state=args.seed)
    start = time.perf_counter()
    search.fit(x_train, y_train)
    seconds = time.perf_counter() - start

    print(f"California housing (shipped copy): {len(x_train)} training rows, "
          f"{len(x_test)} test rows; {args.n_iter} settings x 3 folds in {seconds:.1f} s")
    for rank, index in enumerate(np.argsort(search.cv_results_["rank_test_score"])[:3], 1):
        params = ", ".join(f"{key.split('__', 1)[1]}={value:.3g}"
                           for key, value in search.cv_results_["params"][index].items())
        rmse = -search.cv_results_["mean_test_score"][index]
        print(f"  #{rank}: validation RMSE {rmse:.4f}  {params}")
    best = search.best_estimator_
    test_rmse = float(np.sqrt(np.mean((best.predict(x_test) - y_test) ** 2)))
    print(f"Best model's test RMSE: {test_rmse:.4f}")
    return search, test_rmse


if __name__ == "__main__":
    main()
