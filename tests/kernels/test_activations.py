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



@pytest.mark.parametrize("shape", [(), (7,), (32, 51), (3, 4, 5), (300, 301), (2, 70_000)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_relu_against_shared_zeros_is_numpys_maximum_with_zero(shape, dtype):
    """relu runs `maximum` against shared zeros in blocks of rows (NumPy vectorizes the
    two-array loop): the same numbers as `maximum(x, 0)`, NaN kept, for any size."""
    rng = np.random.default_rng(1)
    x = np.asarray(rng.normal(size=shape) * 5).astype(dtype)
    if x.dtype.kind == "f" and x.size:
        x.reshape(-1)[::7] = np.nan
    relu = ACTIVATIONS["relu"].forward
    expected = np.maximum(x, 0)
    fresh = relu(x)
    assert fresh is not x and fresh.dtype == x.dtype
    np.testing.assert_array_equal(fresh, expected)
    in_place = x.copy()
    assert relu(in_place, out=in_place) is in_place
    np.testing.assert_array_equal(in_place, expected)


def test_relu_of_strided_views_and_of_plain_sequences():
    relu = ACTIVATIONS["relu"].forward
    table = np.random.default_rng(2).normal(size=(40, 9)).astype(np.float32)
    for view in (table[:, 2:7], table[::3], table.T):
        out = np.full(view.shape, 7.0, dtype=np.float32)
        relu(view, out=out)
        np.testing.assert_array_equal(out, np.maximum(view, 0))
    np.testing.assert_array_equal(relu([-1.0, 2.0]), [0.0, 2.0])
