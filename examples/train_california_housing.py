"""The textbook's regression MLP, written as Keras code and run on numnet.

Normalization (adapted on the training set) -> 3 x Dense(50, relu) -> Dense(1),
Adam(1e-3), MSE, RootMeanSquaredError, 20 epochs, on California housing split
as the book does it (scikit-learn's train_test_split with random_state=42,
twice). Prints the test RMSE.

    python examples/train_california_housing.py [--epochs 20]
"""

import argparse
import time

import numpy as np

import numnet as keras


def textbook_split(data, target):
    """The book's split: train_test_split(random_state=42) twice (test, then validation)."""
    try:
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise SystemExit("This example needs scikit-learn for the book's split: "
                         "pip install scikit-learn") from error
    x_train_full, x_test, y_train_full, y_test = train_test_split(data, target, random_state=42)
    x_train, x_valid, y_train, y_valid = train_test_split(x_train_full, y_train_full,
                                                          random_state=42)
    return (x_train, y_train), (x_valid, y_valid), (x_test, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    housing = keras.datasets.california_housing.fetch()
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = textbook_split(
        housing.data, housing.target)
    print(f"California housing: {len(x_train)} train, {len(x_valid)} validation, "
          f"{len(x_test)} test rows")

    keras.utils.set_random_seed(args.seed)
    norm_layer = keras.layers.Normalization(input_shape=x_train.shape[1:])
    model = keras.Sequential([
        norm_layer,
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(50, activation="relu"),
        keras.layers.Dense(1),
    ])
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss="mse", optimizer=optimizer, metrics=["RootMeanSquaredError"])
    norm_layer.adapt(x_train)
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, validation_data=(x_valid, y_valid), verbose=2)
    seconds = time.perf_counter() - start
    mse_test, rmse_test = model.evaluate(x_test, y_test, verbose=0)
    print(f"\nTrained {args.epochs} epochs in {seconds:.1f} s")
    print(f"Test MSE: {mse_test:.4f}  test RMSE: {rmse_test:.4f}")
    print("Predictions for 3 test districts:",
          np.round(model.predict(x_test[:3], verbose=0).ravel(), 3), "true:", y_test[:3])


if __name__ == "__main__":
    main()
