"""The textbook's Wide & Deep models, written as Keras code and run on numnet.

Four variants on California housing (scikit-learn's `fetch_california_housing`
view), each printing its test RMSE:

1. one input: Normalization -> Dense(30) -> Dense(30), concatenated with the
   normalized input -> Dense(1);
2. two named inputs, `input_wide` (features 0-4) and `input_deep`
   (features 2-7), fed by tuple and by dict;
3. the same with an auxiliary output and `loss_weights=(0.9, 0.1)`;
4. the subclassed `WideAndDeepModel`.

    NUMNET_DATA=/path/to/datasets python examples/wide_and_deep.py [--epochs 20]
"""

import argparse

import numpy as np

import numnet as keras


def split(data, target, seed=42):
    """Shuffles once, then 60% train / 20% validation / 20% test."""
    order = np.random.default_rng(seed).permutation(len(data))
    data, target = data[order].astype("float32"), target[order].reshape(-1, 1).astype("float32")
    a, b = int(0.6 * len(data)), int(0.8 * len(data))
    return (data[:a], target[:a]), (data[a:b], target[a:b]), (data[b:], target[b:])


def wide_and_deep_single_input(x_train):
    normalization_layer = keras.layers.Normalization()
    hidden_layer1 = keras.layers.Dense(30, activation="relu")
    hidden_layer2 = keras.layers.Dense(30, activation="relu")
    concat_layer = keras.layers.Concatenate()
    output_layer = keras.layers.Dense(1)

    input_ = keras.layers.Input(shape=x_train.shape[1:])
    normalized = normalization_layer(input_)
    hidden1 = hidden_layer1(normalized)
    hidden2 = hidden_layer2(hidden1)
    concat = concat_layer([normalized, hidden2])
    output = output_layer(concat)
    model = keras.Model(inputs=[input_], outputs=[output])
    normalization_layer.adapt(x_train)
    return model


def wide_and_deep_two_inputs(x_train_wide, x_train_deep, aux_output=False):
    input_wide = keras.layers.Input(shape=[5], name="input_wide")
    input_deep = keras.layers.Input(shape=[6], name="input_deep")
    norm_layer_wide = keras.layers.Normalization()
    norm_layer_deep = keras.layers.Normalization()
    norm_wide = norm_layer_wide(input_wide)
    norm_deep = norm_layer_deep(input_deep)
    hidden1 = keras.layers.Dense(30, activation="relu")(norm_deep)
    hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
    concat = keras.layers.concatenate([norm_wide, hidden2])
    output = keras.layers.Dense(1, name="output")(concat)
    norm_layer_wide.adapt(x_train_wide)
    norm_layer_deep.adapt(x_train_deep)
    if not aux_output:
        return keras.Model(inputs=[input_wide, input_deep], outputs=[output])
    aux = keras.layers.Dense(1, name="aux_output")(hidden2)
    return keras.Model(inputs=[input_wide, input_deep], outputs=[output, aux])


class WideAndDeepModel(keras.Model):
    """The subclassed Wide & Deep model with an auxiliary output."""

    def __init__(self, units=30, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.norm_layer_wide = keras.layers.Normalization()
        self.norm_layer_deep = keras.layers.Normalization()
        self.hidden1 = keras.layers.Dense(units, activation=activation)
        self.hidden2 = keras.layers.Dense(units, activation=activation)
        self.main_output = keras.layers.Dense(1)
        self.aux_output = keras.layers.Dense(1)

    def call(self, inputs, training=None):
        input_wide, input_deep = inputs
        norm_wide = self.norm_layer_wide(input_wide)
        norm_deep = self.norm_layer_deep(input_deep)
        hidden1 = self.hidden1(norm_deep)
        hidden2 = self.hidden2(hidden1)
        concat = keras.layers.concatenate([norm_wide, hidden2])
        return self.main_output(concat), self.aux_output(hidden2)


def run_all(epochs=20, n_rows=None, verbose=0, seed=42):
    """Trains the four variants; returns `{variant: test RMSE}`."""
    keras.utils.set_random_seed(seed)
    housing = keras.datasets.california_housing.fetch()
    data, target = housing.data, housing.target
    if n_rows:
        data, target = data[:n_rows], target[:n_rows]
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = split(data, target, seed)
    results = {}

    def optimizer():
        return keras.optimizers.Adam(learning_rate=1e-3)

    # 1. One input.
    model = wide_and_deep_single_input(x_train)
    model.compile(loss="mse", optimizer=optimizer(), metrics=["RootMeanSquaredError"])
    model.fit(x_train, y_train, epochs=epochs, validation_data=(x_valid, y_valid),
              verbose=verbose)
    results["single_input"] = model.evaluate(x_test, y_test, verbose=0)[1]

    # 2. Two inputs, by tuple for fit and by dict for evaluate.
    x_train_wide, x_train_deep = x_train[:, :5], x_train[:, 2:]
    x_valid_wide, x_valid_deep = x_valid[:, :5], x_valid[:, 2:]
    x_test_wide, x_test_deep = x_test[:, :5], x_test[:, 2:]
    model = wide_and_deep_two_inputs(x_train_wide, x_train_deep)
    model.compile(loss="mse", optimizer=optimizer(), metrics=["RootMeanSquaredError"])
    model.fit((x_train_wide, x_train_deep), y_train, epochs=epochs,
              validation_data=((x_valid_wide, x_valid_deep), y_valid), verbose=verbose)
    results["two_inputs"] = model.evaluate(
        {"input_wide": x_test_wide, "input_deep": x_test_deep}, y_test, verbose=0)[1]

    # 3. Two inputs, two outputs.
    model = wide_and_deep_two_inputs(x_train_wide, x_train_deep, aux_output=True)
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer=optimizer(),
                  metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    model.fit((x_train_wide, x_train_deep), (y_train, y_train), epochs=epochs,
              validation_data=((x_valid_wide, x_valid_deep), (y_valid, y_valid)),
              verbose=verbose)
    logs = model.evaluate((x_test_wide, x_test_deep), (y_test, y_test), return_dict=True,
                          verbose=0)
    results["aux_output"] = logs["output_RootMeanSquaredError"]

    # 4. Subclassed.
    model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer=optimizer(),
                  metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    model.norm_layer_wide.adapt(x_train_wide)
    model.norm_layer_deep.adapt(x_train_deep)
    model.fit((x_train_wide, x_train_deep), (y_train, y_train), epochs=epochs,
              validation_data=((x_valid_wide, x_valid_deep), (y_valid, y_valid)),
              verbose=verbose)
    y_pred_main, _ = model.predict((x_test_wide, x_test_deep), verbose=0)
    results["subclassed"] = float(np.sqrt(np.mean((y_pred_main - y_test) ** 2)))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=None, help="use only the first N rows")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)
    for name, rmse in run_all(args.epochs, args.rows, args.verbose).items():
        print(f"{name:>13}: test RMSE {rmse:.4f}")


if __name__ == "__main__":
    main()
