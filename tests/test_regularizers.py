"""`numnet.regularizers` against Keras 3.15.1's answers (tests/fixtures/reference_api.json)."""

import json
import math
from pathlib import Path

import pytest

from numnet import regularizers
from numnet.regularizers import validate_float_arg

META = json.loads((Path(__file__).parent / "fixtures" / "reference_api.json").read_text())
REF = META["regularizers"]


@pytest.mark.parametrize("name", sorted(REF["strings"]))
def test_get_resolves_the_names_keras_resolves(name):
    expected = REF["strings"][name]
    if expected is None:
        with pytest.raises(ValueError, match="regularizer"):
            regularizers.get(name)
        return
    obj = regularizers.get(name)
    assert type(obj).__name__ == expected[0]
    if expected[1] is not None:
        assert obj.get_config() == expected[1]


def test_lower_case_names_are_the_classes_with_keras_3_defaults():
    assert regularizers.l1_l2 is regularizers.L1L2
    assert regularizers.l1_l2().get_config() == REF["l1_l2()"]
    assert regularizers.l1_l2(l1=0.1).get_config() == REF["l1_l2(l1=0.1)"]
    assert regularizers.L1(None).get_config() == REF["L1(None)"]
    assert regularizers.L2(None).get_config() == REF["L2(None)"]


# The values behind the generator's keys (the same literals).
GOOD = {"1": 1, "1.0": 1.0, "0": 0, "1e-10": 1e-10, "1e6": 1e6}
BAD = {"'x'": "x", "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-1": -1,
       "-0.001": -0.001, "None": None, "[0.1]": [0.1]}


def test_validate_float_arg_returns_floats():
    assert sorted(GOOD) == sorted(REF["validate_ok"])
    for text, value in GOOD.items():
        result = validate_float_arg(value, "test")
        assert type(result) is float and result == REF["validate_ok"][text]


@pytest.mark.parametrize("text", sorted(BAD))
def test_validate_float_arg_refuses_what_keras_refuses(text):
    kind, message = REF["validate_bad"][text]
    assert kind == "ValueError"
    with pytest.raises(ValueError, match="expected a non-negative float") as info:
        validate_float_arg(BAD[text], "test")
    prefix = "Invalid value for argument test: expected a non-negative float."
    assert message.startswith(prefix) and str(info.value).startswith(prefix)


@pytest.mark.parametrize("cls, kwargs", [(regularizers.L1, {"l1": -1}),
                                         (regularizers.L2, {"l2": "0.1"}),
                                         (regularizers.L1L2, {"l1": float("nan")})])
def test_penalty_factors_are_validated(cls, kwargs):
    with pytest.raises(ValueError, match="expected a non-negative float"):
        cls(**kwargs)
