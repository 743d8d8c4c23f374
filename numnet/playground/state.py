"""The playground's whole state: every setting, its default, its allowed values.

The same dict travels in the page's URL (`#dataset=spiral&layers=8,8&...`),
so a link reproduces an experiment. `parse` checks settings coming from the
page or from a URL: values may be JSON values or the strings of a URL, and
anything unknown, out of range or of the wrong kind is refused with a
message naming the setting.
"""

import math

from numnet.playground.datasets import CLASSIFICATION, FEATURE_LABELS, FEATURES, REGRESSION

MAX_LAYERS = 6
MAX_NEURONS = 8
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
# Page controls that `hide=` may hide (for lessons that show a simpler page).
CONTROLS = ("mode", "problem", "dataset", "points", "noise", "trainRatio", "seed", "upload",
            "features", "layers", "activation", "learningRate", "optimizer", "batchSize",
            "regularization", "regRate", "step", "showTest", "discretize", "export",
            "import")


class StateError(ValueError):
    """A refused setting; `field` names it (None for the state as a whole)."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def _choice(options):
    def check(value):
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}; got {value!r}")
        return value
    return check


def _integer(low, high):
    def check(value):
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number from {low} to {high}; got {value!r}")
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(f"expected a whole number from {low} to {high}; "
                                 f"got {value!r}") from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}; got {value!r}")
        return value
    return check


def _number(low, high, low_inclusive):
    bound = f"{'>=' if low_inclusive else '>'} {low:g} and <= {high:g}"

    def check(value):
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(f"expected a number {bound}; got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number {bound}; got {value!r}")
        value = float(value)
        above_low = value >= low if low_inclusive else value > low
        if not math.isfinite(value) or not above_low or value > high:
            raise ValueError(f"expected a number {bound}; got {value!r}")
        return value
    return check


def _boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"expected true or false; got {value!r}")


def _items(value):
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ValueError(f"expected a comma-separated list; got {value!r}")


def _names(options, at_least):
    def check(value):
        items = _items(value)
        unknown = [item for item in items if item not in options]
        if unknown:
            raise ValueError(f"unknown names {unknown}; expected names from {', '.join(options)}")
        if len(items) < at_least:
            raise ValueError(f"choose at least {at_least}")
        return [name for name in options if name in items]  # canonical order, no repeats
    return check


def _layer_sizes(value):
    items = _items(value)
    if len(items) > MAX_LAYERS:
        raise ValueError(f"at most {MAX_LAYERS} hidden layers; got {len(items)}")
    neurons = _integer(1, MAX_NEURONS)
    sizes = []
    for item in items:
        try:
            sizes.append(neurons(item))
        except ValueError:
            raise ValueError(f"each hidden layer needs 1 to {MAX_NEURONS} neurons; "
                             f"got {item!r}") from None
    return sizes


# name -> (check, default). The order is the URL's order.
FIELDS = {
    "mode": (_choice(("network", "perceptron")), "network"),
    "problem": (_choice(("classification", "regression")), "classification"),
    "dataset": (_choice(CLASSIFICATION + REGRESSION + ("csv",)), "circle"),
    "points": (_integer(50, 1000), 500),
    "noise": (_integer(0, 50), 0),
    "trainRatio": (_integer(10, 90), 50),
    "seed": (_integer(0, 2 ** 31 - 1), 1),
    "features": (_names(FEATURES, 1), ["x1", "x2"]),
    "layers": (_layer_sizes, [4, 2]),
    "activation": (_choice(("relu", "tanh", "sigmoid", "linear")), "tanh"),
    "learningRate": (_number(0.0, 10.0, low_inclusive=False), 0.03),
    "optimizer": (_choice(("sgd", "adam", "rmsprop")), "sgd"),
    "batchSize": (_integer(1, 30), 10),
    "regularization": (_choice(("none", "l1", "l2")), "none"),
    "regRate": (_number(0.0, 10.0, low_inclusive=True), 0.0),
    "step": (_choice(("heaviside", "sign")), "heaviside"),
    "initZero": (_boolean, False),
    "showTest": (_boolean, False),
    "discretize": (_boolean, False),
    "hideText": (_boolean, False),
    "hide": (_names(CONTROLS, 0), []),
}

# Settings that change the data, the model, or neither (only the page's view).
DATA_FIELDS = ("problem", "dataset", "points", "noise", "trainRatio", "seed")
MODEL_FIELDS = ("mode", "features", "layers", "activation", "optimizer", "regularization",
                "regRate", "step", "initZero")
LIVE_FIELDS = ("learningRate", "batchSize")  # applied without resetting the training


def defaults():
    """A fresh copy of the default state."""
    return {name: (list(default) if isinstance(default, list) else default)
            for name, (_, default) in FIELDS.items()}


def schema():
    """What the page needs to build its controls: defaults and suggested values."""
    return {"defaults": defaults(), "learningRates": list(LEARNING_RATES),
            "regularizationRates": list(REGULARIZATION_RATES), "maxLayers": MAX_LAYERS,
            "maxNeurons": MAX_NEURONS, "classification": list(CLASSIFICATION),
            "regression": list(REGRESSION),
            "features": [[name, FEATURE_LABELS[name]] for name in FEATURES],
            "controls": list(CONTROLS)}


def _check_field(name, value):
    if name not in FIELDS:
        raise StateError(name, f"unknown setting (known settings: {', '.join(FIELDS)})")
    try:
        return FIELDS[name][0](value)
    except ValueError as error:
        raise StateError(name, str(error)) from None


def _check_together(state, changed):
    """Cross-setting rules; may fix `dataset` when only `problem` was changed."""
    datasets = CLASSIFICATION if state["problem"] == "classification" else REGRESSION
    if state["dataset"] not in datasets + ("csv",):
        if "problem" in changed and "dataset" not in changed:
            state["dataset"] = datasets[0]
        else:
            raise StateError("dataset", f"{state['dataset']!r} is not a {state['problem']} "
                                        f"data set; expected one of {', '.join(datasets)}")
    if state["mode"] == "perceptron" and state["problem"] != "classification":
        raise StateError("mode", "the perceptron is a classifier: choose the classification "
                                 "problem first")


def apply_changes(state, changes):
    """Returns a new state: `state` with `changes` (a dict) applied.

    All or nothing: raises `StateError` for the first refused setting and
    leaves `state` as it was.
    """
    if not isinstance(changes, dict):
        raise StateError(None, f"expected an object of settings; got {type(changes).__name__}")
    new = {**state}
    for name, value in changes.items():
        new[name] = _check_field(str(name), value)
    _check_together(new, set(changes))
    return new


def parse(raw, base=None):
    """Reads a whole state from a URL or a saved link, keeping what is valid.

    Every refused setting keeps its value from `base` (default: the defaults)
    and adds one message to the returned list, so a link with one bad value
    still opens.

    Returns:
        `(state, errors)`: the state dict and a list of `StateError`.
    """
    state = dict(base) if base is not None else defaults()
    errors = []
    if not isinstance(raw, dict):
        return state, [StateError(None, "expected an object of settings")]
    for name, value in raw.items():
        try:
            state[name] = _check_field(str(name), value)
        except StateError as error:
            errors.append(error)
    try:
        _check_together(state, set(raw))
    except StateError as error:
        errors.append(error)
        fallback = dict(base) if base is not None else defaults()
        for name in ("mode", "problem", "dataset"):
            state[name] = fallback[name]
    return state, errors


def to_query(state):
    """The state as URL parameters: `{name: string}` in `FIELDS` order."""
    def text(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ",".join(str(item) for item in value)
        if isinstance(value, float):
            return f"{value:g}" if value == float(f"{value:g}") else repr(value)
        return str(value)
    return {name: text(state[name]) for name in FIELDS}
