"""Layer behaviour Keras 3's own layer tests check, stated here for numnet."""

import numpy as np
import pytest

import numnet as keras
from numnet import layers

STATELESS = [
    lambda: layers.Activation("relu"),
    lambda: layers.Dropout(0.5),
    lambda: layers.ELU(),
    lambda: layers.ReLU(),
    lambda: layers.Softmax(),
    lambda: layers.LeakyReLU(),
    lambda: layers.Identity(),
    lambda: layers.Masking(),
    lambda: layers.UnitNormalization(),
    lambda: layers.GaussianNoise(0.1),
    lambda: layers.GaussianDropout(0.1),
    lambda: layers.AlphaDropout(0.1),
    lambda: layers.ActivityRegularization(l1=0.1),
]


@pytest.mark.parametrize("make", STATELESS)
def test_stateless_layers_are_built_after_init(make):
    """Keras marks a layer that keeps the base `build` as built in its `__init__`."""
    assert make().built


@pytest.mark.parametrize("make", STATELESS)
def test_overriding_build_leaves_the_layer_unbuilt_until_called(make):
    """A subclass that overrides `build` is not built until its first call (Keras' rule)."""
    cls = type(make())
    calls = []

    class OwnBuild(cls):
        def build(self, input_shape):
            calls.append(input_shape)

    config = make().get_config()
    config.pop("name")
    rebuilt = OwnBuild.from_config(config)
    assert not rebuilt.built
    rebuilt(np.ones((2, 3), dtype="float32"))
    assert rebuilt.built and calls == [(2, 3)]

