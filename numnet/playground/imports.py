"""Reading an uploaded `.keras` file into playground settings and weights.

The file is opened with numnet's safe loader (`numnet.models.load_model`,
`safe_mode=True`: no code from the file ever runs, sizes are checked). The
playground can draw a model that is a chain of `Dense` layers — at most six
hidden layers of 1 to 8 units sharing one activation (ReLU, tanh, sigmoid or
linear), then one output unit (sigmoid: classification, linear:
regression) — or a single numnet `TLU`/`Perceptron` unit. Its input width
picks the features: the ones named by a numnet playground export, else the
enabled ones if the width matches, else x1, x2 (width 2) or all seven (7).
"""

import numpy as np

import numnet
from numnet.layers.input_layer import InputLayer
from numnet.layers.perceptron import Perceptron
from numnet.playground.datasets import FEATURES
from numnet.playground.state import MAX_LAYERS, MAX_NEURONS, StateError
from numnet.playground.trainers import features_from_input_name

_HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")


def _refuse(message):
    raise StateError("import", message)


def _load(path):
    try:
        return numnet.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # any file: the loader's own message says what is wrong
        _refuse(f"not a model file numnet can load: {error}")


def _features(model, width, state):
    if not 1 <= width <= len(FEATURES):
        _refuse(f"the model takes {width} inputs; the playground feeds 1 to {len(FEATURES)} "
                f"features ({', '.join(FEATURES)})")
    named = features_from_input_name(getattr(model.inputs[0], "name", ""), width)
    if named:
        return named
    if len(state["features"]) == width:
        return list(state["features"])
    if width == 2:
        return ["x1", "x2"]
    if width == len(FEATURES):
        return list(FEATURES)
    _refuse(f"the model takes {width} inputs: enable {width} features first (they feed the "
            f"model in the order {', '.join(FEATURES)})")


def _activation(layer):
    return numnet.activations.serialize(layer.activation)


def _regularization(layer):
    regularizer = getattr(layer, "kernel_regularizer", None)
    config = regularizer.get_config() if regularizer is not None else {}
    l1, l2 = float(config.get("l1", 0.0) or 0.0), float(config.get("l2", 0.0) or 0.0)
    if l1 > 0 and not l2 > 0 and l1 <= 10:
        return {"regularization": "l1", "regRate": l1}
    if l2 > 0 and not l1 > 0 and l2 <= 10:
        return {"regularization": "l2", "regRate": l2}
    return {"regularization": "none"}


def _network_changes(layers):
    if not all(type(layer) is numnet.layers.Dense for layer in layers):
        names = sorted({type(layer).__name__ for layer in layers} - {"Dense"})
        _refuse(f"the playground draws chains of Dense layers; this model also has {names}")
    hidden, output = layers[:-1], layers[-1]
    if len(hidden) > MAX_LAYERS:
        _refuse(f"the model has {len(hidden)} hidden layers; the playground shows at most "
                f"{MAX_LAYERS}")
    if any(layer.units > MAX_NEURONS for layer in hidden):
        _refuse(f"a hidden layer has more than {MAX_NEURONS} units: "
                f"{[layer.units for layer in hidden]}")
    if output.units != 1:
        _refuse(f"the output layer must have 1 unit; it has {output.units}")
    if not all(layer.use_bias for layer in layers):
        _refuse("every Dense layer needs a bias (use_bias=True)")
    activations = {_activation(layer) for layer in hidden}
    if len(activations) > 1 or not activations <= set(_HIDDEN_ACTIVATIONS):
        _refuse(f"the hidden layers must share one activation among "
                f"{', '.join(_HIDDEN_ACTIVATIONS)}; got {sorted(activations)}")
    problems = {"sigmoid": "classification", "linear": "regression"}
    if _activation(output) not in problems:
        _refuse(f"the output activation must be sigmoid (classification) or linear "
                f"(regression); got {_activation(output)!r}")
    changes = {"mode": "network", "problem": problems[_activation(output)],
               "layers": [layer.units for layer in hidden], **_regularization(layers[0])}
    if activations:
        changes["activation"] = activations.pop()
    return changes


def read_model(path, state):
    """Loads the `.keras` file at `path` for display in a playground with `state`.

    Returns:
        `(changes, weights, probe, expected)`: settings to apply, the
        `(kernel, bias)` of each layer, and the loaded model's predictions
        `expected` on the random inputs `probe`, to check the rebuilt model.

    Raises:
        StateError: a file the safe loader refuses or a model the playground
            cannot draw, with the reason.
    """
    model = _load(path)
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 2:
        _refuse("the model must have a single input of shape (batch, features)")
    width = inputs[0].shape[-1]
    layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    if not layers:
        _refuse("the model has no layers")
    changes = {"features": _features(model, width, state)}
    if len(layers) == 1 and isinstance(layers[0], Perceptron):
        if layers[0].units != 1 or not layers[0].use_bias:
            _refuse("the playground draws a single TLU with a bias; this Perceptron has "
                    f"{layers[0].units} units")
        changes.update(mode="perceptron", problem="classification", step=layers[0].step)
    else:
        changes.update(_network_changes(layers))
    width_in = width
    for layer in layers:
        if layer.kernel.shape[0] != width_in:
            _refuse("the layers do not form a chain from the input to the output")
        width_in = layer.kernel.shape[1]
    weights = [(layer.kernel.numpy(), layer.bias.numpy()) for layer in layers]
    probe = np.random.default_rng(0).uniform(-6.0, 6.0, (64, width)).astype(np.float32)
    expected = np.asarray(model.predict(probe, verbose=0))
    return changes, weights, probe, expected
