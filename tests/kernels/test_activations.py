"""The activation table's `keeps_one` flag: it lets the engine run an activation over a
Dense input's whole `[x, 1]` buffer, so it must be true only of elementwise activations
that map 1 to exactly 1 whatever their parameters."""

import numpy as np
import pytest

from numnet.kernels.activations import ACTIVATIONS

PARAMETERS = {"leaky_relu": [{"negative_slope": 0.3}, {"negative_slope": 2.0}],
              "elu": [{"alpha": 0.5}, {"alpha": 3.0}], "celu": [{"alpha": 0.25}]}
KEEPING = sorted(name for name, kernel in ACTIVATIONS.items() if kernel.keeps_one)


def test_the_activations_that_keep_one():
    assert KEEPING == ["celu", "elu", "hard_tanh", "leaky_relu", "relu", "relu6"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", KEEPING)
def test_a_kept_one_column_stays_and_the_rest_is_computed_as_alone(name, dtype):
    rng = np.random.default_rng(0)
    for params in [{}] + PARAMETERS.get(name, []):
        x = (rng.normal(size=(7, 5)) * 4).astype(dtype)
        wide = np.ones((7, 6), dtype=dtype)
        wide[:, :5] = x
        forward = ACTIVATIONS[name].forward
        forward(wide, out=wide, **params)
        np.testing.assert_array_equal(wide[:, 5], np.ones(7, dtype=dtype))
        np.testing.assert_array_equal(wide[:, :5], forward(x, **params))

