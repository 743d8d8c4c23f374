"""The playground state: defaults, checks of every setting, the URL round trip."""

import pytest

from numnet.playground import state
from numnet.playground.datasets import FEATURES
from numnet.playground.state import StateError


def test_defaults_are_tensorflow_playground_defaults():
    defaults = state.defaults()
    assert defaults["layers"] == [4, 2] and defaults["activation"] == "tanh"
    assert defaults["learningRate"] == 0.03 and defaults["batchSize"] == 10
    assert defaults["features"] == ["x1", "x2"] and defaults["trainRatio"] == 50
    assert defaults["regularization"] == "none" and defaults["dataset"] == "circle"
    assert set(defaults) == set(state.FIELDS)


def test_url_strings_are_parsed():
    parsed, errors = state.parse({
        "layers": "8,8,3", "features": "sinx1,x1", "learningRate": "0.1", "noise": "25",
        "showTest": "true", "discretize": "0", "hide": "noise,seed", "seed": "12",
        "dataset": "spiral", "regRate": "0.003", "regularization": "l2"})
    assert errors == []
    assert parsed["layers"] == [8, 8, 3] and parsed["features"] == ["x1", "sinx1"]
    assert parsed["learningRate"] == 0.1 and parsed["noise"] == 25
    assert parsed["showTest"] is True and parsed["discretize"] is False
    assert parsed["hide"] == ["noise", "seed"] and parsed["seed"] == 12
    assert state.parse({"layers": ""})[0]["layers"] == []  # no hidden layer at all


def test_query_round_trip():
    original, _ = state.parse({"layers": "8,2", "learningRate": "0.003", "noise": "10",
                               "features": "x1,x2,x1x2", "mode": "perceptron",
                               "dataset": "xor", "step": "sign", "hideText": "true"})
    again, errors = state.parse(state.to_query(original))
    assert errors == [] and again == original
    assert state.to_query(original)["learningRate"] == "0.003"


@pytest.mark.parametrize("field, value, message", [
    ("layers", "1,2,3,4,5,6,7", "at most 6 hidden layers"),
    ("layers", "4,0", "1 to 8 neurons"),
    ("layers", "4,9", "1 to 8 neurons"),
    ("layers", "4,x", "1 to 8 neurons"),
    ("learningRate", "-0.1", "number > 0"),
    ("learningRate", "0", "number > 0"),
    ("learningRate", "11", "<= 10"),
    ("learningRate", "nan", "number > 0"),
    ("learningRate", True, "number > 0"),
    ("regRate", "-1", ">= 0"),
    ("noise", "55", "0 to 50"),
    ("noise", "2.5", "whole number"),
    ("trainRatio", "5", "10 to 90"),
    ("batchSize", "0", "1 to 30"),
    ("points", "100000", "50 to 1000"),
    ("points", "20", "50 to 1000"),
    ("seed", "-1", "whole number"),
    ("activation", "softmax", "expected one of"),
    ("dataset", "moons", "expected one of"),
    ("features", "", "at least 1"),
    ("features", "x1,x9", "unknown names"),
    ("showTest", "maybe", "true or false"),
    ("hide", "everything", "unknown names"),
    ("colour", "blue", "unknown setting"),
])
def test_bad_values_are_refused_with_the_field_named(field, value, message):
    with pytest.raises(StateError, match=message) as caught:
        state.apply_changes(state.defaults(), {field: value})
    assert caught.value.field == field
    good = ("trainRatio", "70") if field != "trainRatio" else ("noise", "10")
    parsed, errors = state.parse({field: value, good[0]: good[1]})
    assert [error.field for error in errors] == [field]
    assert parsed[good[0]] == int(good[1])  # the rest of the link still applies
    if field in state.FIELDS:
        assert parsed[field] == state.defaults()[field]


def test_apply_changes_is_all_or_nothing():
    before = state.defaults()
    with pytest.raises(StateError):
        state.apply_changes(before, {"noise": 10, "layers": [9]})
    assert before == state.defaults()
    with pytest.raises(StateError, match="expected an object"):
        state.apply_changes(before, ["noise"])


def test_problem_and_dataset_must_agree():
    switched = state.apply_changes(state.defaults(), {"problem": "regression"})
    assert switched["dataset"] == "plane"  # the problem's first data set
    with pytest.raises(StateError, match="not a regression data set") as caught:
        state.apply_changes(state.defaults(), {"problem": "regression", "dataset": "xor"})
    assert caught.value.field == "dataset"
    parsed, errors = state.parse({"problem": "regression", "dataset": "xor", "noise": "5"})
    assert len(errors) == 1 and parsed["dataset"] == "circle" and parsed["noise"] == 5


def test_perceptron_needs_classification():
    with pytest.raises(StateError, match="perceptron is a classifier"):
        state.apply_changes(state.defaults(), {"mode": "perceptron", "problem": "regression"})
    perceptron = state.apply_changes(state.defaults(), {"mode": "perceptron"})
    with pytest.raises(StateError, match="perceptron is a classifier"):
        state.apply_changes(perceptron, {"problem": "regression"})


def test_parse_refuses_a_non_object():
    parsed, errors = state.parse("layers=4")
    assert parsed == state.defaults() and len(errors) == 1


def test_schema_lists_the_page_choices():
    schema = state.schema()
    assert schema["learningRates"][0] == 0.00001 and schema["learningRates"][-1] == 10
    assert [name for name, _ in schema["features"]] == list(FEATURES)
    assert schema["maxLayers"] == 6 and schema["maxNeurons"] == 8
