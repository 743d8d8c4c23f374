"""One playground experiment, without the web: its data, its numnet model, its frames.

`Playground` holds the state (`numnet.playground.state`), the data set, and a
trainer (`numnet.playground.trainers`) around a real numnet model. The server
calls `advance()` to train and `frame()` to get what the page draws: one
batched forward pass of the model over the input-plane grid and the data
gives the decision boundary, every neuron's small heat map and the losses.

```python
from numnet.playground.engine import Playground
playground = Playground()
playground.change({"dataset": "spiral", "layers": [8, 8, 8]})
for _ in range(100):
    playground.advance()
print(playground.frame()["testLoss"])
```
"""

import base64
import time

import numpy as np

import numnet
from numnet.playground import datasets, state as state_module, trainers
from numnet.playground.state import StateError

GRID = 100         # cells per side of the decision-boundary heat map
NEURON_STEP = 5    # every neuron's heat map samples every 5th cell: 20 x 20
MAX_WEIGHT = 1000.0


def encode_float32(values):
    """Base64 of little-endian float32 values (the page reads a Float32Array)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def encode_unit(values):
    """Base64 of values in [-1, 1] quantized to bytes 0..255 (clipped)."""
    return encode_unit_maps(np.asarray(values)[None])[0]


def encode_unit_maps(maps):
    """`encode_unit` of each map along the first axis, quantized in one pass."""
    finite = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0)
    quantized = np.rint((np.clip(finite, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return [base64.b64encode(row.tobytes()).decode("ascii")
            for row in quantized.reshape(len(quantized), -1)]


def _json_number(value):
    """`value` as a float, or None when it is not finite (JSON has no NaN)."""
    return float(value) if np.isfinite(value) else None


def _json_numbers(array):
    """Nested lists of floats rounded to 6 decimals, None where not finite."""
    rounded = np.round(np.asarray(array, dtype=float), 6)
    return np.where(np.isfinite(rounded), rounded, None).tolist()


def grid_points(domain, size=GRID):
    """The centres of a `size` x `size` grid over [-domain, domain]^2, row by row
    from the top (largest x2) so that cell k is pixel k of the drawn image."""
    centres = (np.arange(size) + 0.5) / size * 2 * domain - domain
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1).astype(np.float32)


def layer_outputs(model, inputs):
    """Each layer's output (NumPy) for `inputs`: one forward pass through numnet layers."""
    outputs = []
    hidden = inputs
    for layer in model.layers:
        hidden = layer(hidden)
        outputs.append(np.asarray(hidden.numpy()))
    return outputs


class Playground:
    """An experiment: state, data and a numnet model with its trainer.

    Args:
        state: a complete, valid state dict (default: the defaults).
    """

    def __init__(self, state=None):
        self.state = state_module.defaults() if state is None else dict(state)
        self.generation = 0   # bumped whenever the data, the model or a weight changes
        self.imported = False  # the weights came from an uploaded file
        self._csv_text = None
        self._new_data()
        self._new_model()

    # ------------------------------------------------------------ settings
    def load(self, raw):
        """Takes a state from a link, keeping the valid settings; returns the refusals."""
        new, errors = state_module.parse(raw)
        if new["dataset"] == "csv" and self._csv_text is None:
            errors.append(StateError("dataset", "uploaded CSV data cannot travel in a link; "
                                                "upload the file again"))
            fallback = state_module.defaults()
            new["problem"], new["dataset"] = fallback["problem"], fallback["dataset"]
        self._replace_state(new, rebuild_data=True)
        return errors

    def change(self, changes):
        """Applies settings from the page (all or nothing; raises `StateError`).

        Returns what had to be rebuilt: `"data"`, `"model"` or `None`.
        """
        new = state_module.apply_changes(self.state, changes)
        if new["dataset"] == "csv" and self._csv_text is None:
            raise StateError("dataset", "upload a CSV file first")
        changed = {name for name in new if new[name] != self.state[name]}
        if changed & set(state_module.DATA_FIELDS):
            if new["dataset"] == "csv":
                self._parse_csv(self._csv_text, new["problem"])  # may refuse the problem
            self._replace_state(new, rebuild_data=True)
            return "data"
        if changed & set(state_module.MODEL_FIELDS):
            self._replace_state(new, rebuild_data=False)
            return "model"
        self.state = new
        self.trainer.update_settings(new)
        return None

    def _replace_state(self, new, rebuild_data):
        old = self.state
        self.state = new
        try:
            if rebuild_data:
                self._new_data()
            self._new_model()
        except Exception:
            self.state = old
            raise

    # ------------------------------------------------------------ data
    def _parse_csv(self, text, problem):
        try:
            return datasets.parse_csv(text, problem)
        except ValueError as error:
            raise StateError("upload", f"cannot read the CSV file: {error}") from None

    def upload_csv(self, text):
        """Uses uploaded `x1, x2, label` rows as the data set (raises `StateError`)."""
        self._parse_csv(text, self.state["problem"])
        old_text = self._csv_text
        self._csv_text = text
        try:
            self._replace_state({**self.state, "dataset": "csv"}, rebuild_data=True)
        except Exception:
            self._csv_text = old_text
            raise

    def _new_data(self):
        s = self.state
        if s["dataset"] == "csv":
            points, labels = self._parse_csv(self._csv_text, s["problem"])
            self.data = datasets.split(points, labels, s["trainRatio"], s["seed"])
        else:
            self.data = datasets.make_data(s["dataset"], s["points"], s["noise"] / 100.0,
                                           s["trainRatio"], s["seed"])
        self.grid = grid_points(self.data.domain)

    # ------------------------------------------------------------ model
    def _new_model(self, model=None):
        features = self.state["features"]
        self.inputs = {"grid": datasets.feature_matrix(self.grid, features),
                       "train": datasets.feature_matrix(self.data.x_train, features),
                       "test": datasets.feature_matrix(self.data.x_test, features)}
        kind = (trainers.PerceptronTrainer if self.state["mode"] == "perceptron"
                else trainers.NetworkTrainer)
        self.trainer = kind(self.state, self.inputs["train"], self.data.y_train, model=model)
        self.model = self.trainer.model
        self.imported = model is not None
        self.generation += 1

    def reset(self):
        """Starts the training again from the seeded initial weights."""
        self._new_model()

    def dense_layers(self):
        """The model's layers that carry a kernel and a bias, in order."""
        return [layer for layer in self.model.layers if getattr(layer, "kernel", None) is not None]

    def set_weight(self, layer, source, target, value):
        """Sets one weight (`source` input of layer `layer` to its unit `target`)."""
        self._set_parameter(layer, "kernel", (source, target), value)

    def set_bias(self, layer, target, value):
        """Sets the bias of unit `target` of layer `layer`."""
        self._set_parameter(layer, "bias", (target,), value)

    def _set_parameter(self, layer, kind, index, value):
        layers = self.dense_layers()
        if not isinstance(layer, int) or isinstance(layer, bool) or not 0 <= layer < len(layers):
            raise StateError("weight", f"no layer {layer!r}; the network has layers 0 to "
                                       f"{len(layers) - 1}")
        variable = getattr(layers[layer], kind)
        if variable is None:
            raise StateError("weight", f"layer {layer} has no {kind}")
        shape = variable.shape
        if (len(index) != len(shape) or
                any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n
                    for i, n in zip(index, shape))):
            raise StateError("weight", f"no {kind} entry {list(index)} in layer {layer} "
                                       f"(shape {list(shape)})")
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not np.isfinite(value) or abs(value) > MAX_WEIGHT):
            raise StateError("weight", f"expected a number from {-MAX_WEIGHT:g} to "
                                       f"{MAX_WEIGHT:g}; got {value!r}")
        updated = variable.numpy()
        updated[index] = value
        variable.assign(updated)
        self.generation += 1

    def export_model(self, path):
        """Saves the current model (numnet's `.keras` format) to `path`."""
        self.model.save(path)

    def import_model(self, path):
        """Shows the model in the `.keras` file `path`, loaded by numnet's safe loader.

        Raises `StateError` for a file that is not a model the playground can
        draw (see `imports.read_model`).
        """
        from numnet.playground.imports import read_model
        changes, weights, probe, expected = read_model(path, self.state)
        new = state_module.apply_changes(self.state, changes)
        built = (trainers.build_perceptron(new) if new["mode"] == "perceptron"
                 else trainers.build_network(new))
        kernels = [layer for layer in built.layers if getattr(layer, "kernel", None) is not None]
        for layer, (kernel, bias) in zip(kernels, weights):
            layer.kernel.assign(kernel)
            layer.bias.assign(bias)
        if not np.allclose(built.predict(probe, verbose=0), expected, rtol=1e-5, atol=1e-6):
            raise StateError("import", "the model does not compute a plain chain of its "
                                       "layers, so the playground cannot draw it")
        old = (self.state, self.data, self.grid, self.trainer, self.model, self.inputs,
               self.imported)
        try:
            self.state = new
            if new["problem"] != old[0]["problem"]:
                self._new_data()
            self._new_model(built)
        except Exception:
            (self.state, self.data, self.grid, self.trainer, self.model, self.inputs,
             self.imported) = old
            raise

    # ------------------------------------------------------------ training and frames
    def advance(self, budget=None):
        """One update: an epoch of gradient descent (or part of one, within `budget`
        seconds), or one step of Rosenblatt's rule. Returns the samples used."""
        with np.errstate(all="ignore"):  # a diverging network shows up in the frame
            return self.trainer.advance(budget)

    @property
    def converged(self):
        return self.trainer.status()["converged"]

    def _scores(self, predictions, labels):
        """(loss, accuracy): the error rate for the perceptron, accuracy only when
        classifying with a network."""
        if self.state["mode"] == "perceptron":
            targets = 2.0 * labels - 1.0 if self.state["step"] == "sign" else labels
            return float(np.mean(predictions != targets)), None
        if self.state["problem"] == "regression":
            loss = numnet.losses.MeanSquaredError()(labels[:, None], predictions[:, None])
            return float(np.asarray(loss.numpy())), None
        loss = numnet.losses.BinaryCrossentropy()(labels[:, None], predictions[:, None])
        accuracy = float(np.mean((predictions >= 0.5) == (labels >= 0.5)))
        return float(np.asarray(loss.numpy())), accuracy

    def frame(self):
        """What the page draws now, from one forward pass over grid, train and test points."""
        started = time.perf_counter()
        n_grid, n_train = len(self.inputs["grid"]), len(self.inputs["train"])
        stacked = np.concatenate([self.inputs["grid"], self.inputs["train"], self.inputs["test"]])
        with np.errstate(all="ignore"):
            outputs = layer_outputs(self.model, stacked)
        prediction = outputs[-1][:, 0]
        train_loss, train_accuracy = self._scores(prediction[n_grid:n_grid + n_train],
                                                  self.data.y_train)
        test_loss, test_accuracy = self._scores(prediction[n_grid + n_train:], self.data.y_test)
        neurons = []
        for hidden in outputs[:-1]:
            maps = hidden[:n_grid].reshape(GRID, GRID, -1)[NEURON_STEP // 2::NEURON_STEP,
                                                          NEURON_STEP // 2::NEURON_STEP]
            neurons.append(encode_unit_maps(np.moveaxis(maps, -1, 0)))
        layers = self.dense_layers()
        return {
            "type": "frame", "generation": self.generation, "epoch": self.trainer.epoch,
            "trainLoss": _json_number(train_loss), "testLoss": _json_number(test_loss),
            "trainAccuracy": train_accuracy, "testAccuracy": test_accuracy,
            "output": encode_float32(prediction[:n_grid]),
            "outputRange": list(self.trainer.output_range),
            "neurons": neurons,
            "weights": [_json_numbers(layer.kernel.numpy()) for layer in layers],
            "biases": [_json_numbers(layer.bias.numpy()) for layer in layers],
            "status": self.trainer.status(),
            "diverged": not (np.isfinite(train_loss) and np.isfinite(test_loss)),
            "frameMs": (time.perf_counter() - started) * 1000.0,
        }

    def describe(self):
        """The data, the network's shape and the input features' heat maps."""
        maps = {}
        sample = self.grid.reshape(GRID, GRID, 2)[NEURON_STEP // 2::NEURON_STEP,
                                                  NEURON_STEP // 2::NEURON_STEP].reshape(-1, 2)
        for name in datasets.FEATURES:
            column = datasets.feature_matrix(sample, [name])[:, 0]
            maps[name] = encode_unit(column / max(float(np.abs(column).max()), 1e-12))

        def rows(points, labels):
            return np.round(np.column_stack([points, labels]).astype(float), 4).tolist()
        return {
            "type": "network", "generation": self.generation, "mode": self.state["mode"],
            "step": self.state["step"],
            "problem": self.state["problem"], "features": list(self.state["features"]),
            "layers": [layer.units for layer in self.dense_layers()[:-1]],
            "grid": GRID, "neuronStep": NEURON_STEP, "domain": self.data.domain,
            "featureMaps": maps, "imported": self.imported,
            "train": rows(self.data.x_train, self.data.y_train),
            "test": rows(self.data.x_test, self.data.y_test),
        }


def dataset_thumbnails(n_points=120):
    """A few noise-free points of every data set, for the page's data set buttons."""
    thumbnails = {}
    for name in datasets.CLASSIFICATION + datasets.REGRESSION:
        points, labels = datasets.generate(name, n_points, 0.0, seed=0)
        thumbnails[name] = np.round(np.column_stack([points, labels]).astype(float), 3).tolist()
    return thumbnails
