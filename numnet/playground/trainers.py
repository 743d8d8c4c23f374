"""The two ways the playground trains a numnet model.

`NetworkTrainer` builds a numnet `Sequential` stack of `Dense` layers from the
state, compiles it with a numnet optimizer and loss, and trains it with
`Model.fit` on slices of the shuffled training set. `PerceptronTrainer` holds
a single numnet `TLU` and applies Rosenblatt's rule (`TLU.fit_rosenblatt`) to
one misclassified point per update, so the page can show the line move after
each mistake.

Both expose the same small interface to `numnet.playground.engine`:
`model`, `epoch`, `advance(budget)`, `status()` and `output_range`.
"""

import time

import numpy as np

import numnet
from numnet.playground.datasets import FEATURES

INPUT_PREFIX = "features"


def input_name(features):
    """The name of the model's input: it records the feature columns, in order."""
    return "_".join([INPUT_PREFIX] + [name for name in FEATURES if name in features])


def features_from_input_name(name, width):
    """The features recorded by `input_name`, or None when `name` records none."""
    parts = str(name).split("_")
    if parts[0] != INPUT_PREFIX or len(parts) - 1 != width:
        return None
    names = parts[1:]
    if any(item not in FEATURES for item in names) or len(set(names)) != width:
        return None
    return [item for item in FEATURES if item in names]


def _regularizer(state):
    if state["regularization"] == "none" or state["regRate"] == 0:
        return None
    kind = numnet.regularizers.L1 if state["regularization"] == "l1" else numnet.regularizers.L2
    return kind(state["regRate"])


def _kernel_initializer(state, index):
    if state["initZero"]:
        return "zeros"
    return numnet.initializers.GlorotUniform(seed=(state["seed"] + 1 + index) % 2 ** 31)


def make_optimizer(state):
    """The numnet optimizer named by the state, with its learning rate."""
    kinds = {"sgd": numnet.optimizers.SGD, "adam": numnet.optimizers.Adam,
             "rmsprop": numnet.optimizers.RMSprop}
    return kinds[state["optimizer"]](learning_rate=state["learningRate"])


def build_network(state):
    """The compiled numnet `Sequential` model that the state describes."""
    layers = numnet.layers
    classification = state["problem"] == "classification"
    stack = [layers.Input(shape=(len(state["features"]),), name=input_name(state["features"]))]
    for index, units in enumerate(state["layers"]):
        stack.append(layers.Dense(units, activation=state["activation"],
                                  kernel_initializer=_kernel_initializer(state, index),
                                  kernel_regularizer=_regularizer(state),
                                  name=f"hidden_{index + 1}"))
    stack.append(layers.Dense(1, activation="sigmoid" if classification else "linear",
                              kernel_initializer=_kernel_initializer(state, len(state["layers"])),
                              kernel_regularizer=_regularizer(state), name="output"))
    model = numnet.Sequential(stack, name="playground")
    model.compile(optimizer=make_optimizer(state),
                  loss="binary_crossentropy" if classification else "mean_squared_error")
    return model


def build_perceptron(state):
    """A numnet `Sequential` holding one `TLU` with the state's step function."""
    layers = numnet.layers
    return numnet.Sequential(
        [layers.Input(shape=(len(state["features"]),), name=input_name(state["features"])),
         layers.TLU(step=state["step"], name="tlu")], name="perceptron")


class NetworkTrainer:
    """Trains a numnet network by mini-batch gradient descent, one epoch per update.

    An update trains the rest of the current pass over the shuffled training
    set, unless that would take longer than `budget` seconds; then it stops
    after the mini-batches that fit, and the epoch ends in a later update.
    """

    def __init__(self, state, x_train, y_train, model=None):
        self.state = state
        self.model = model if model is not None else build_network(state)
        self.x_train = x_train
        self.y_train = y_train.reshape(-1, 1)
        self.epoch = 0
        self.output_range = (0.0, 1.0) if state["problem"] == "classification" else (-1.0, 1.0)
        self._rng = np.random.default_rng([state["seed"], 1])
        self._order = self._rng.permutation(len(x_train))
        self._cursor = 0  # samples of the current pass already trained on
        self._seconds_per_sample = 0.0

    def update_settings(self, state):
        """Takes the learning rate and batch size of `state` from the next update on."""
        self.state = state
        self.model.optimizer.learning_rate = state["learningRate"]

    def advance(self, budget=None):
        """Trains up to the end of the current epoch; returns the samples trained on."""
        batch_size = self.state["batchSize"]
        start = time.perf_counter()
        trained = 0
        while self._cursor < len(self._order):
            elapsed = time.perf_counter() - start
            if budget is not None and trained and elapsed >= budget:
                break
            take = left = len(self._order) - self._cursor
            if budget is not None:  # one batch first, to learn how long a batch takes
                batches = (int((budget - elapsed) / (self._seconds_per_sample * batch_size))
                           if self._seconds_per_sample else 1)
                take = min(left, max(1, batches) * batch_size)
            index = self._order[self._cursor:self._cursor + take]
            began = time.perf_counter()
            self.model.fit(self.x_train[index], self.y_train[index], batch_size=batch_size,
                           epochs=1, shuffle=False, verbose=0)
            per_sample = (time.perf_counter() - began) / len(index)
            self._seconds_per_sample = (per_sample if not self._seconds_per_sample
                                        else 0.7 * self._seconds_per_sample + 0.3 * per_sample)
            self._cursor += len(index)
            trained += len(index)
        if self._cursor >= len(self._order):
            self.epoch += 1
            self._cursor = 0
            self._order = self._rng.permutation(len(self.x_train))
        return trained

    def status(self):
        return {"converged": False, "epochProgress": self._cursor / max(len(self._order), 1)}


class PerceptronTrainer:
    """Rosenblatt's rule on a numnet `TLU`, one misclassified training point per update.

    Points are visited in a fresh random order each epoch; the correctly
    classified points before the next mistake leave the weights unchanged, so
    one batched prediction finds that mistake, and `fit_rosenblatt` on that
    point applies the rule. An epoch without mistakes means convergence.
    """

    def __init__(self, state, x_train, y_train, model=None):
        self.state = state
        self.model = model if model is not None else build_perceptron(state)
        self.layer = self.model.layers[-1]
        self.x_train = x_train
        sign = state["step"] == "sign"
        self.targets = (2.0 * y_train - 1.0 if sign else y_train).astype(np.float32)
        self.output_range = (-1.0, 1.0) if sign else (0.0, 1.0)
        self.epoch = 0
        self.converged = False
        self.errors_this_epoch = 0
        self.errors_last_epoch = None
        self.last_point = None  # index of the training point of the last update
        self._rng = np.random.default_rng([state["seed"], 1])
        self._order = self._rng.permutation(len(x_train))
        self._cursor = 0

    def update_settings(self, state):
        """Takes the learning rate (the rule's eta) of `state` from the next update on."""
        self.state = state

    def _end_epoch(self):
        self.epoch += 1
        self.errors_last_epoch = self.errors_this_epoch
        self.converged = self.errors_this_epoch == 0
        self.errors_this_epoch = 0
        self._cursor = 0
        self._order = self._rng.permutation(len(self.x_train))

    def advance(self, budget=None):
        """Applies the rule to the next misclassified point of this epoch and returns 1,
        or ends the epoch (or does nothing once converged) and returns 0."""
        while not self.converged:
            if self._cursor >= len(self._order):
                self._end_epoch()
                return 0
            rest = self._order[self._cursor:]
            predicted = np.asarray(self.layer(self.x_train[rest]).numpy()).reshape(-1)
            mistakes = np.flatnonzero(predicted != self.targets[rest])
            if not len(mistakes):
                self._cursor = len(self._order)
                continue
            point = int(rest[mistakes[0]])
            self.layer.fit_rosenblatt(self.x_train[point:point + 1],
                                      self.targets[point:point + 1],
                                      learning_rate=self.state["learningRate"], max_iter=1,
                                      shuffle=False)
            self._cursor += int(mistakes[0]) + 1
            self.errors_this_epoch += 1
            self.last_point = point
            return 1
        return 0

    def status(self):
        return {"converged": self.converged, "errorsThisEpoch": self.errors_this_epoch,
                "errorsLastEpoch": self.errors_last_epoch, "lastPoint": self.last_point,
                "epochProgress": self._cursor / max(len(self._order), 1)}
