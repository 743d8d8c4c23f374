"""The Python script the page exports: it rebuilds and trains the page's model with numnet.

`render(state, epochs)` writes a standalone script: the same data (from
`numnet.playground.datasets`, or the uploaded CSV file), the same features,
a `build_model()` that gives the same architecture and the same initial
weights, then `fit` (or Rosenblatt's rule) for the epochs trained on the
page. The page shuffles each epoch with its own generator, so the weights
after training differ in the last digits; the `.keras` export holds the
page's exact weights.
"""

from numnet.playground.datasets import FEATURES
from numnet.playground.trainers import input_name

_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}


def _data_lines(state):
    if state["dataset"] == "csv":
        return [
            "# The CSV file uploaded to the page (rows of x1, x2, label).",
            'with open("data.csv", encoding="utf-8") as file:',
            f'    points, labels = datasets.parse_csv(file.read(), "{state["problem"]}")',
            f'data = datasets.split(points, labels, train_percent={state["trainRatio"]}, '
            f'seed={state["seed"]})',
        ]
    return [f'data = datasets.make_data("{state["dataset"]}", n_points={state["points"]}, '
            f'noise={state["noise"] / 100:g}, train_percent={state["trainRatio"]}, '
            f'seed={state["seed"]})']


def _initializer(state, index):
    if state["initZero"]:
        return '"zeros"'
    return f"keras.initializers.GlorotUniform(seed={(state['seed'] + 1 + index) % 2 ** 31})"


def _regularizer(state):
    if state["regularization"] == "none" or state["regRate"] == 0:
        return ""
    kind = state["regularization"].upper()
    return f",\n                           kernel_regularizer=keras.regularizers.{kind}" \
           f"({state['regRate']:g})"


def _network_lines(state):
    classification = state["problem"] == "classification"
    lines = ["    model = keras.Sequential(["]
    layers = [(units, state["activation"], f"hidden_{i + 1}")
              for i, units in enumerate(state["layers"])]
    layers.append((1, "sigmoid" if classification else "linear", "output"))
    lines.append(f'        keras.layers.Input(shape=({len(state["features"])},), '
                 f'name="{input_name(state["features"])}"),')
    for index, (units, activation, name) in enumerate(layers):
        lines.append(f'        keras.layers.Dense({units}, activation="{activation}", '
                     f'name="{name}",')
        lines.append(f"                           kernel_initializer="
                     f"{_initializer(state, index)}{_regularizer(state)}),")
    loss, metrics = (("binary_crossentropy", '["accuracy"]') if classification
                     else ("mean_squared_error", '["mean_absolute_error"]'))
    optimizer = _OPTIMIZERS[state["optimizer"]]
    lines += ['    ], name="playground")',
              f"    model.compile(optimizer=keras.optimizers.{optimizer}(learning_rate="
              f"{state['learningRate']:g}),",
              f'                  loss="{loss}", metrics={metrics})',
              "    return model"]
    return lines


def _perceptron_lines(state):
    return ["    return keras.Sequential([",
            f'        keras.layers.Input(shape=({len(state["features"])},), '
            f'name="{input_name(state["features"])}"),',
            f'        keras.layers.TLU(step="{state["step"]}", name="tlu"),',
            '    ], name="perceptron")']


def _main_lines(state, epochs):
    if state["mode"] == "perceptron":
        targets = ("2 * data.y_train - 1", "2 * data.y_test - 1") if state["step"] == "sign" \
            else ("data.y_train", "data.y_test")
        return [
            "    model = build_model()",
            "    # Rosenblatt's rule, one instance at a time, until an epoch makes no error.",
            f"    history = model.layers[-1].fit_rosenblatt(x_train, {targets[0]}, "
            f"learning_rate={state['learningRate']:g},",
            f"                                              max_iter=EPOCHS, "
            f"seed={state['seed']})",
            '    print("converged:", history["converged"], "after", history["epochs"], '
            '"epochs")',
            f'    print("test error rate:", (model.predict(x_test, verbose=0)[:, 0] != '
            f'{targets[1]}).mean())',
            '    model.save("perceptron.keras")']
    return [
        "    model = build_model()",
        f"    model.fit(x_train, data.y_train, batch_size={state['batchSize']}, epochs=EPOCHS,",
        "              validation_data=(x_test, data.y_test), verbose=2)",
        '    print("test loss and metric:", model.evaluate(x_test, data.y_test, verbose=0))',
        '    model.save("playground.keras")']


def render(state, epochs):
    """The script for `state`, training for `epochs` epochs (100 when 0)."""
    features = [name for name in FEATURES if name in state["features"]]
    what = "perceptron" if state["mode"] == "perceptron" else "network"
    source = "the uploaded CSV file" if state["dataset"] == "csv" else (
        f'{state["dataset"]}, {state["points"]} points, noise {state["noise"]} %')
    lines = [
        f'"""Rebuilds and trains the numnet playground\'s {what} with numnet.',
        "",
        f"Data: {source}, {state['trainRatio']} % for training, seed {state['seed']}.",
        "Written by the numnet playground; run it with `python this_file.py`.",
        '"""',
        "",
        "import numnet as keras",
        "from numnet.playground import datasets",
        "",
        f"EPOCHS = {epochs if epochs > 0 else 100}"
        + ("  # as trained on the page" if epochs > 0 else ""),
        f"FEATURES = {features!r}",
        "",
        *_data_lines(state),
        "x_train = datasets.feature_matrix(data.x_train, FEATURES)",
        "x_test = datasets.feature_matrix(data.x_test, FEATURES)",
        "",
        "",
        "def build_model():",
        f'    """The {what} drawn on the page, with the same initial weights."""',
        *(_perceptron_lines(state) if state["mode"] == "perceptron"
          else _network_lines(state)),
        "",
        "",
        'if __name__ == "__main__":',
        *_main_lines(state, epochs),
    ]
    return "\n".join(lines) + "\n"
