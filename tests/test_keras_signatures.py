"""numnet takes Keras' arguments: for every public function of `keras.ops`,
`keras.activations`, `keras.losses`, `keras.metrics`, `keras.random`, `keras.tree`,
`keras.utils`, `keras.backend` and `keras.config`, and every public class constructor of
`keras.layers`, `.optimizers`, `.callbacks`, `.losses`, `.metrics`, `.initializers`,
`.regularizers`, `.constraints`, `.models` and `.utils`, that numnet has under the same
name: the same positional parameters in the same order, the same keyword-only ones, with
the same defaults (numnet may add parameters after Keras' own, and give a default where
Keras has none). Regenerate the reference with `fixtures/generate_keras_signatures.py`."""

import inspect
import json
from pathlib import Path

import pytest

import numnet

REFERENCE = json.loads((Path(__file__).resolve().parent / "fixtures" /
                        "keras_signatures.json").read_text())


def _numnet_object(qualified, want_class):
    *path, name = qualified.split(".")
    module = numnet
    for part in path:
        module = getattr(module, part, None)
        if module is None:
            return None
    value = getattr(module, name, None)
    if value is None or isinstance(value, type) != want_class or not callable(value):
        return None
    return value


FUNCTIONS = sorted(q for q in REFERENCE["signatures"] if _numnet_object(q, False) is not None)
CLASSES = sorted(q for q in REFERENCE["constructors"] if _numnet_object(q, True) is not None)


def test_numnet_has_a_good_share_of_them():
    assert len(FUNCTIONS) > 300 and len(CLASSES) > 200


def _check(keras_params, mine):
    """Keras' parameters (name, kind, default repr) against numnet's `inspect` parameters."""
    keras_params = [p for p in keras_params if p[1] not in ("VAR_KEYWORD", "VAR_POSITIONAL")]
    mine = {p.name: p for p in mine if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    positional = [p[0] for p in keras_params if p[1] != "KEYWORD_ONLY"]
    mine_positional = [name for name, p in mine.items() if p.kind is not p.KEYWORD_ONLY]
    assert mine_positional[:len(positional)] == positional
    for name, kind, default in keras_params:
        assert name in mine, name
        if default is not None:
            assert mine[name].default is not inspect.Parameter.empty, name
            assert repr(mine[name].default) == default, name


@pytest.mark.parametrize("qualified", FUNCTIONS)
def test_functions_take_keras_parameters(qualified):
    _check(REFERENCE["signatures"][qualified],
           inspect.signature(_numnet_object(qualified, False)).parameters.values())


@pytest.mark.parametrize("qualified", CLASSES)
def test_constructors_take_keras_parameters(qualified):
    parameters = list(inspect.signature(_numnet_object(qualified, True).__init__)
                      .parameters.values())[1:]
    _check(REFERENCE["constructors"][qualified], parameters)
