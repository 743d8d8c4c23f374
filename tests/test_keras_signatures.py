"""numnet's functions take Keras' arguments: for every public function of `keras.ops`,
`keras.activations`, `keras.losses`, `keras.metrics`, `keras.random`, `keras.tree`,
`keras.utils`, `keras.backend` and `keras.config` that numnet has under the same name,
the same parameters in the same order with the same defaults (numnet may add parameters
after Keras' own, and give a default where Keras has none). Regenerate the reference with
`fixtures/generate_keras_signatures.py`."""

import inspect
import json
from pathlib import Path

import pytest

import numnet

SIGNATURES = json.loads((Path(__file__).resolve().parent / "fixtures" /
                         "keras_signatures.json").read_text())["signatures"]


def _numnet_function(qualified):
    module_name, name = qualified.split(".", 1)
    module = getattr(numnet, module_name)
    function = getattr(module, name, None)
    return function if callable(function) and not isinstance(function, type) else None


SHARED = sorted(q for q in SIGNATURES if _numnet_function(q) is not None)


def test_numnet_has_a_good_share_of_these_functions():
    assert len(SHARED) > 300


@pytest.mark.parametrize("qualified", SHARED)
def test_the_parameters_are_keras(qualified):
    keras_params = [p for p in SIGNATURES[qualified] if p[1] != "VAR_KEYWORD"]
    mine = [p for p in inspect.signature(_numnet_function(qualified)).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD]
    assert [p.name for p in mine[:len(keras_params)]] == [p[0] for p in keras_params]
    for (name, kind, default), param in zip(keras_params, mine):
        assert param.kind.name == kind, name
        if default is not None:
            assert param.default is not inspect.Parameter.empty, name
            assert repr(param.default) == default, name
