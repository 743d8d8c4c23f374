"""Adafactor, gradient accumulation with weight decay, and `overwrite_with_gradient`,
compared with Keras 3.15.1 step by step.

The reference values live in tests/fixtures/reference_api.npz/.json, made by
tests/fixtures/generate_reference_api.py with real Keras (TensorFlow backend): each
case calls `apply_gradients` on three variables (shapes (3, 4), (4,), (2, 3, 4)).
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import numnet
from numnet import optimizers
from numnet.optimizers import schedules

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_api.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_api.json").read_text())
CASES = META["optimizers"]
CLOSE = {"rtol": 2e-6, "atol": 2e-7}


def _optimizer(case):
    spec = CASES[case]
    kwargs = dict(spec["kwargs"])
    if isinstance(kwargs.get("learning_rate"), list):  # [schedule class, its kwargs]
        name, schedule_kwargs = kwargs["learning_rate"]
        kwargs["learning_rate"] = getattr(schedules, name)(**schedule_kwargs)
    return getattr(optimizers, spec["class"])(**kwargs)


def _variables(case):
    variables = [numnet.Variable(REF[f"opt/{case}/var{i}/init"].copy(), name=f"w{i}")
                 for i in range(len(CASES[case]["shapes"]))]
    for i in CASES[case]["overwrite"]:
        variables[i].overwrite_with_gradient = True
    return variables


def _without_suffix(path):
    head, _, tail = path.partition("/")
    return re.sub(r"_\d+$", "", head) + "/" + tail


@pytest.mark.parametrize("case", sorted(CASES))
def test_apply_gradients_matches_keras_step_by_step(case):
    variables = _variables(case)
    optimizer = _optimizer(case)
    for step in range(CASES[case]["steps"]):
        grads = [REF[f"opt/{case}/grad/step{step}/var{i}"] for i in range(len(variables))]
        optimizer.apply_gradients(zip(grads, variables))
        for i, v in enumerate(variables):
            np.testing.assert_allclose(v.numpy(), REF[f"opt/{case}/after/step{step}/var{i}"],
                                       err_msg=f"step {step}, variable {i}", **CLOSE)
    assert int(optimizer.iterations) == CASES[case]["iterations"]
    slots = optimizer.variables
    assert [_without_suffix(s.path) for s in slots] == \
        [_without_suffix(p) for p in CASES[case]["slot_paths"]]
    for j, slot in enumerate(slots):
        expected = REF[f"opt/{case}/slot{j}"]
        assert slot.numpy().dtype == expected.dtype, slot.path
        np.testing.assert_allclose(slot.numpy(), expected, err_msg=slot.path, **CLOSE)


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c]["class"] == "Adafactor"))
def test_adafactor_config_round_trips_and_matches_keras(case):
    optimizer = _optimizer(case)
    envelope = optimizers.serialize(optimizer)
    expected = CASES[case]["serialized"]
    strip = lambda c: {k: v for k, v in c.items() if k != "name"}  # noqa: E731
    assert list(envelope["config"]) == list(expected["config"])
    assert {**envelope, "config": strip(envelope["config"])} == \
        {**expected, "config": strip(expected["config"])}
    rebuilt = optimizers.deserialize(expected)
    assert type(rebuilt) is optimizers.Adafactor
    assert strip(rebuilt.get_config()) == strip(expected["config"])


def test_get_resolves_adafactor_and_none_as_keras():
    for identifier, expected in META["optimizer_strings"].items():
        if expected is None:
            with pytest.raises(ValueError, match="Could not interpret optimizer"):
                optimizers.get(identifier)
        else:
            assert type(optimizers.get(identifier)).__name__ == expected
    assert META["optimizer_get_none"] is None and optimizers.get(None) is None


def test_overwrite_with_gradient_is_a_boolean_flag():
    v = numnet.Variable(np.ones((2, 2), "float32"))
    assert v.overwrite_with_gradient is False
    with pytest.raises(TypeError, match="must be a boolean"):
        v.overwrite_with_gradient = 1
    v.overwrite_with_gradient = True
    import pickle
    assert pickle.loads(pickle.dumps(v)).overwrite_with_gradient is True


def test_constraints_apply_to_variables_outside_layers():
    """Keras applies `variable.constraint` after every update, whoever owns the variable."""
    v = numnet.Variable(np.array([[-0.5, 0.2], [0.3, -0.1]], "float32"))
    v.constraint = numnet.constraints.NonNeg()
    optimizers.SGD(learning_rate=0.0001).apply_gradients([(np.zeros((2, 2), "float32"), v)])
    np.testing.assert_array_equal(v.numpy(), np.array([[0.0, 0.2], [0.3, 0.0]], "float32"))
