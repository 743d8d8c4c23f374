"""Losses given as structures over a model's outputs, as Keras 3.15.1 resolves them: a loss
on several outputs at once, dicts and tuples inside lists, namedtuple and nested outputs,
per-loss weights, and the names of each loss in the logs.

Reference: tests/fixtures/reference_api.* (`structured_losses`), the same models evaluated
and trained one step by Keras (tests/fixtures/generate_reference_api.py).
"""

import json
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_api.npz") as _npz:
    REF = {k: v for k, v in _npz.items() if k.startswith("struct/")}
META = json.loads((FIXTURES / "reference_api.json").read_text())
CASES = META["structured_losses"]
Y = namedtuple("Y", ["y1", "y2"])


def _sum_of_mae(y_true, y_pred):
    """A loss on a structure of outputs: the sum of each pair's mean absolute error."""
    total = 0
    for t, p in zip(keras.tree.flatten(y_true), keras.tree.flatten(y_pred)):
        total = total + keras.losses.mean_absolute_error(t, p)
    return total


def _mse(y_true, y_pred):
    return keras.losses.mean_squared_error(y_true, y_pred)


def _heads(n=2):
    x = keras.Input((3,), name="x")
    return x, [keras.layers.Dense(1, name=f"y{i + 1}", activation="sigmoid")(x)
               for i in range(n)]


def _case(name):
    if name == "tuple_outputs":
        x, (y1, y2) = _heads()
        return (keras.Model(x, (y1, y2)), [_sum_of_mae, (_mse, _sum_of_mae)],
                [0.3, (0.5, 0.7)], lambda a, b, c: (a, b))
    if name == "list_outputs":
        x, (y1, y2) = _heads()
        return (keras.Model(x, [y1, y2]), (_sum_of_mae, [_sum_of_mae, _mse]), None,
                lambda a, b, c: [a, b])
    if name == "dict_outputs":
        x, (y1, y2) = _heads()
        return (keras.Model(x, {"a": y1, "b": y2}),
                [_sum_of_mae, {"a": _mse, "b": _sum_of_mae}], [1.0, {"a": 0.2, "b": 2.0}],
                lambda a, b, c: {"a": a, "b": b})
    if name == "namedtuple_outputs":
        x, (y1, y2) = _heads()
        return (keras.Model(x, Y(y1, y2)), [_sum_of_mae, Y(_mse, _mse)], None,
                lambda a, b, c: Y(a, b))
    x, (y1, y2, y3) = _heads(3)
    return (keras.Model(x, {"a": (y1, y2), "b": {"b1": y1, "b2": y2},
                            "c": {"c1": (y1, y2), "c2": y2}, "d": y3}),
            {"a": [_sum_of_mae, (None, _mse)], "b": [_sum_of_mae, {"b1": _mse}],
             "c": [_sum_of_mae, {"c1": _sum_of_mae}], "d": _mse},
            None,
            lambda a, b, c: {"a": (a, b), "b": {"b1": a, "b2": b},
                             "c": {"c1": (a, b), "c2": b}, "d": c})


def _data():
    return [REF[f"struct/data/{k}"] for k in ("x", "y1", "y2", "y3")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_structured_losses_evaluate_and_train_as_keras(case):
    model, loss, weights, make_y = _case(case)
    n = CASES[case]["n_weights"]
    model.set_weights([REF[f"struct/{case}/w{i}"] for i in range(n)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, loss_weights=weights)
    x, y1, y2, y3 = _data()
    y = make_y(y1, y2, y3)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(result) == CASES[case]["keys"]
    np.testing.assert_allclose([result[k] for k in sorted(result)],
                               REF[f"struct/{case}/evaluate"], rtol=2e-6, atol=1e-7)
    model.train_on_batch(x, y)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, REF[f"struct/{case}/after/w{i}"], rtol=1e-5, atol=1e-6)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert sorted(history) == CASES[case]["keys"]


def test_a_dict_loss_naming_a_missing_output_is_a_keras_key_error():
    x = keras.Input((3,), name="input_a")
    model = keras.Model(x, {"output_a": keras.layers.Dense(1, name="output_a")(x),
                            "output_b": keras.layers.Dense(1, name="output_b")(x)})
    model.compile(optimizer="sgd", loss={"output_a": "mse", "output_c": "mse"})
    inputs, y1, y2, _ = _data()
    with pytest.raises(KeyError) as info:
        model.fit(inputs, (y1, y2), verbose=0)
    kind, message = META["structured_losses_unknown_key"]
    assert kind == "KeyError" and info.value.args[0] == message.strip('"')


def test_a_custom_compute_loss_may_split_the_outputs():
    """Keras' test: one output, turned into two by `compute_loss`; each loss is logged under
    its own name."""
    class Split(keras.Model):
        def __init__(self):
            inputs = keras.Input(shape=(3,), name="inputs")
            super().__init__(inputs=inputs, outputs=keras.layers.Dense(1, name="a")(inputs))

        def compute_loss(self, x, y, y_pred, sample_weight=None, **kwargs):
            return super().compute_loss(x=x, y=y, y_pred=[y_pred, y_pred],
                                        sample_weight=sample_weight, **kwargs)

    model = Split()
    model.compile(optimizer="sgd", loss=["mean_squared_error", "binary_crossentropy"])
    x, y1, y2, _ = _data()
    history = model.fit(x, (y1, (y2 > 0.5).astype("float32")), batch_size=2, verbose=0)
    assert sorted(history.history) == ["binary_crossentropy_loss", "loss",
                                       "mean_squared_error_loss"]


def test_none_for_a_required_input_names_it():
    x = keras.Input((3,), name="x")
    model = keras.Model(x, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="The input 'x' is not optional"):
        model.fit([None], np.ones((4, 1)), epochs=1, verbose=0)
