"""numnet.sklearn vs scikit-learn: the same estimators, settings and seeds, side by side.

1. California housing (full, scikit-learn's 8 derived features), the textbook's
   split (`train_test_split(..., random_state=42)` twice), a StandardScaler
   pipeline around `MLPRegressor(hidden_layer_sizes=[50, 50, 50],
   early_stopping=True, random_state=42)`: validation RMSE and fit time.
2. Fashion-MNIST (full: 60,000 training / 10,000 test images, pixels / 255 in
   float32): `MLPClassifier(hidden_layer_sizes=(300, 100), early_stopping=True,
   max_iter=--fashion-epochs, random_state=42)`: test accuracy and fit time.

Runs are interleaved (numnet, scikit-learn, numnet, ...) and the median time is
reported, with the BLAS thread count.

Usage: python benchmarks/bench_sklearn.py [--rounds 1] [--threads 1] [--fashion-epochs 15]
       [--skip-fashion]
"""

import statistics
import time
import warnings

import _common
import numpy as np


def _fit_timed(make, X, y):
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X, y)
        return model, time.perf_counter() - start


def _compare(title, makers, X, y, score, rounds):
    times = {name: [] for name in makers}
    models = {}
    for _ in range(rounds):
        for name, make in makers.items():
            models[name], seconds = _fit_timed(make, X, y)
            times[name].append(seconds)
    print(f"\n{title}")
    print(f"{'implementation':<26}{'fit time (s)':>14}{'epochs':>8}{'s/epoch':>10}  score")
    for name, model in models.items():
        est = model[-1] if hasattr(model, "steps") else model
        t = statistics.median(times[name])
        print(f"{name:<26}{t:>14.2f}{est.n_iter_:>8}{t / est.n_iter_:>10.4f}  {score(model)}")
    return models, times


def california(rounds):
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from numnet.datasets import california_housing
    from numnet.sklearn import MLPRegressor

    housing = california_housing.fetch()
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        housing.data, housing.target, random_state=42)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_train_full, y_train_full, random_state=42)
    settings = dict(hidden_layer_sizes=[50, 50, 50], early_stopping=True, random_state=42)
    makers = {
        "numnet.sklearn": lambda: make_pipeline(StandardScaler(), MLPRegressor(**settings)),
        "scikit-learn": lambda: make_pipeline(StandardScaler(), SkMLPRegressor(**settings)),
    }

    def rmse(model):
        return "valid RMSE %.4f" % np.sqrt(np.mean((model.predict(X_valid) - y_valid) ** 2))

    _compare("California housing, MLPRegressor([50, 50, 50], early_stopping=True, "
             "random_state=42), %d training rows" % len(X_train), makers, X_train, y_train,
             rmse, rounds)


def fashion(rounds, epochs):
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from numnet.datasets import fashion_mnist
    from numnet.sklearn import MLPClassifier

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    X_train = (x_train.reshape(len(x_train), -1) / np.float32(255)).astype(np.float32)
    X_test = (x_test.reshape(len(x_test), -1) / np.float32(255)).astype(np.float32)
    settings = dict(hidden_layer_sizes=(300, 100), early_stopping=True, max_iter=epochs,
                    random_state=42)
    makers = {"numnet.sklearn": lambda: MLPClassifier(**settings),
              "scikit-learn": lambda: SkMLPClassifier(**settings)}

    def accuracy(model):
        return "test accuracy %.4f" % np.mean(model.predict(X_test) == y_test)

    _compare("Fashion-MNIST, MLPClassifier((300, 100), early_stopping=True, max_iter=%d, "
             "random_state=42), float32, %d training images" % (epochs, len(X_train)),
             makers, X_train, y_train, accuracy, rounds)


def main():
    parser = _common.make_parser(__doc__.splitlines()[0], rounds=1)
    parser.add_argument("--fashion-epochs", type=int, default=15)
    parser.add_argument("--skip-fashion", action="store_true")
    parser.add_argument("--skip-california", action="store_true")
    args = parser.parse_args()
    import sklearn
    _common.limit_threads(args.threads)
    print(f"numnet.sklearn vs scikit-learn {sklearn.__version__}, NumPy {np.__version__}, "
          f"{args.threads} BLAS thread(s), median of {args.rounds} interleaved round(s)")
    if not args.skip_california:
        california(args.rounds)
    if not args.skip_fashion:
        fashion(args.rounds, args.fashion_epochs)


if __name__ == "__main__":
    main()
