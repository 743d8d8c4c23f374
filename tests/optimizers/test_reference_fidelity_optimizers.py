"""Adamax, Adadelta, Ftrl, Lion, Lamb, ScheduleFreeAdamW and Muon (and CosineDecayRestarts,
OrthogonalRegularizer) compared with Keras 3 numbers.

The reference values live in tests/fixtures/reference_fidelity.npz/.json, made by
tests/fixtures/generate_reference_fidelity.py with real Keras (TensorFlow backend):
five `apply_gradients` steps on three variables (one all zeros) per optimizer case,
with and without weight decay and clipping.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import numnet
from numnet import optimizers, regularizers
from numnet.optimizers import schedules

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_fidelity.npz") as _npz:
    REF = dict(_npz)
META = json.loads((FIXTURES / "reference_fidelity.json").read_text())
OPT_CASES = dict(META["optimizers"])
# ScheduleFreeAdamW's and Muon's cases, same layout (generate_reference_more_optimizers.py).
with np.load(FIXTURES / "reference_more_optimizers.npz") as _npz:
    REF.update(_npz)
MORE = json.loads((FIXTURES / "reference_more_optimizers.json").read_text())
OPT_CASES.update(MORE["optimizers"])
CLOSE = {"rtol": 2e-6, "atol": 2e-7}


def _optimizer(case):
    spec = OPT_CASES[case]
    kwargs = dict(spec["kwargs"])
    if isinstance(kwargs.get("learning_rate"), list):  # [schedule class, its kwargs]
        name, schedule_kwargs = kwargs["learning_rate"]
        kwargs["learning_rate"] = getattr(schedules, name)(**schedule_kwargs)
    return getattr(optimizers, spec["class"])(**kwargs)


def _variables(case):
    n = len(OPT_CASES[case]["shapes"])
    return [numnet.Variable(REF[f"opt/{case}/var{i}/init"].copy(), name=f"w{i}")
            for i in range(n)]


def _grads(case, step, n):
    return [REF[f"opt/{case}/grad/step{step}/var{i}"] for i in range(n)]


def _without_suffix(path):
    head, _, tail = path.partition("/")
    return re.sub(r"_\d+$", "", head) + "/" + tail


def test_fixture_covers_every_new_optimizer():
    assert {spec["class"] for spec in OPT_CASES.values()} == {
        "Adamax", "Adadelta", "Ftrl", "Lion", "Lamb", "ScheduleFreeAdamW", "Muon"}


@pytest.mark.parametrize("case", sorted(OPT_CASES))
def test_apply_gradients_matches_keras_step_by_step(case):
    """All variables in one call (numnet then updates them as one packed buffer)."""
    variables = _variables(case)
    optimizer = _optimizer(case)
    for step in range(OPT_CASES[case]["steps"]):
        optimizer.apply_gradients(zip(_grads(case, step, len(variables)), variables))
        for i, v in enumerate(variables):
            np.testing.assert_allclose(v.numpy(), REF[f"opt/{case}/after/step{step}/var{i}"],
                                       err_msg=f"step {step}, variable {i}", **CLOSE)
    slots = optimizer.variables
    assert [_without_suffix(s.path) for s in slots] == \
        [_without_suffix(p) for p in OPT_CASES[case]["slot_paths"]]
    for j, slot in enumerate(slots):
        np.testing.assert_allclose(slot.numpy(), REF[f"opt/{case}/slot{j}"],
                                   err_msg=slot.path, **CLOSE)


def _plain(case):
    """No decay (Muon decays by default), clipping or schedule: `update_step` is the step."""
    optimizer = _optimizer(case)
    return not any(getattr(optimizer, k, None) for k in (
        "weight_decay", "adam_weight_decay", "clipnorm", "clipvalue", "global_clipnorm")) \
        and not isinstance(OPT_CASES[case]["kwargs"]["learning_rate"], list)


PLAIN_CASES = [case for case in OPT_CASES if _plain(case)]


@pytest.mark.parametrize("case", sorted(PLAIN_CASES))
def test_keras_update_step_contract_matches_keras(case):
    """`update_step(gradient, variable, learning_rate)` one variable at a time, as a custom
    training loop or a subclass calls it."""
    variables = _variables(case)
    optimizer = _optimizer(case)
    optimizer.build(variables)
    for step in range(OPT_CASES[case]["steps"]):
        rate = float(optimizer.learning_rate.numpy())
        for grad, variable in zip(_grads(case, step, len(variables)), variables):
            optimizer.update_step(grad, variable, rate)
        optimizer.iterations.assign(int(optimizer.iterations.numpy()) + 1)
        for i, v in enumerate(variables):
            np.testing.assert_allclose(v.numpy(), REF[f"opt/{case}/after/step{step}/var{i}"],
                                       err_msg=f"step {step}, variable {i}", **CLOSE)


@pytest.mark.parametrize("case", sorted(OPT_CASES))
def test_config_round_trips_and_matches_keras(case):
    optimizer = _optimizer(case)
    envelope = optimizers.serialize(optimizer)
    expected = OPT_CASES[case]["serialized"]
    strip = lambda c: {k: v for k, v in c.items() if k != "name"}  # noqa: E731
    assert {**envelope, "config": strip(envelope["config"])} == \
        {**expected, "config": strip(expected["config"])}
    assert list(envelope["config"]) == list(expected["config"])
    rebuilt = optimizers.deserialize(expected)
    assert type(rebuilt) is type(optimizer)
    assert strip(rebuilt.get_config()) == strip(expected["config"])


def test_string_identifiers_resolve_as_in_keras():
    strings = {**META["optimizer_strings"], **MORE["optimizer_strings"]}
    for identifier, expected in strings.items():
        if expected is None:
            with pytest.raises(ValueError, match="Could not interpret optimizer"):
                optimizers.get(identifier)
        else:
            assert type(optimizers.get(identifier)).__name__ == expected


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        optimizers.Ftrl(initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Lion(beta_1=0.0)


# ------------------------------------------------------------- CosineDecayRestarts
@pytest.mark.parametrize("case", sorted(META["schedules"]))
def test_cosine_decay_restarts_matches_keras(case):
    spec = META["schedules"][case]
    schedule = schedules.CosineDecayRestarts(**spec["kwargs"])
    values = np.array([schedule(step) for step in range(len(REF[f"schedule/{case}"]))])
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, REF[f"schedule/{case}"], rtol=3e-6, atol=1e-8)
    assert schedule.get_config() == spec["config"]
    assert schedules.serialize(schedule) == spec["serialized"]
    rebuilt = schedules.deserialize(spec["serialized"])
    assert rebuilt.get_config() == spec["config"]


def test_cosine_decay_restarts_rejects_bad_period():
    with pytest.raises(ValueError, match="first_decay_steps"):
        schedules.CosineDecayRestarts(0.1, first_decay_steps=0)


# ------------------------------------------------------------ OrthogonalRegularizer
@pytest.mark.parametrize("case", sorted(META["regularizers"]))
def test_orthogonal_regularizer_value_gradient_and_config_match_keras(case):
    spec = META["regularizers"][case]
    regularizer = regularizers.OrthogonalRegularizer(**spec["kwargs"])
    x = numnet.Variable(REF[f"reg/{case}/x"].copy())
    with numnet.GradientTape() as tape:
        value = regularizer(x)
    np.testing.assert_allclose(value.numpy(), REF[f"reg/{case}/value"], rtol=2e-6)
    np.testing.assert_allclose(tape.gradient(value, x).numpy(), REF[f"reg/{case}/grad"],
                               rtol=2e-5, atol=1e-7)
    assert regularizer.get_config() == spec["config"]
    assert regularizers.serialize(regularizer) == spec["serialized"]
    assert regularizers.deserialize(spec["serialized"]).get_config() == spec["config"]


def test_orthogonal_regularizer_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(4, 3))
    for mode in ("rows", "columns"):
        regularizer = regularizers.OrthogonalRegularizer(0.3, mode=mode)
        x = numnet.Variable(x0.copy(), dtype="float64")
        with numnet.GradientTape() as tape:
            value = regularizer(x)
        analytic = tape.gradient(value, x).numpy()
        numeric = np.zeros_like(x0)
        h = 1e-6
        for index in np.ndindex(x0.shape):
            up, down = x0.copy(), x0.copy()
            up[index] += h
            down[index] -= h
            numeric[index] = (
                float(regularizer(numnet.Variable(up, dtype="float64")).numpy())
                - float(regularizer(numnet.Variable(down, dtype="float64")).numpy())) / (2 * h)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_orthogonal_regularizer_strings_and_errors():
    for identifier, expected in META["regularizer_strings"].items():
        assert type(regularizers.get(identifier)).__name__ == expected
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2), "float32"))
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="factor"):
        regularizers.OrthogonalRegularizer(factor=-1.0)
