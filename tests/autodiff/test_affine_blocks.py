"""`affine` over many rows of a few features runs in tiled blocks: the same bits as
`(x + shift) * scale` computed directly, for every layout the rows can come in."""

import numpy as np
import pytest

from numnet.autodiff import ops

RNG = np.random.default_rng(11)


def _direct(x, shift, scale):
    return (x + shift) * scale


@pytest.mark.parametrize("rows", [257, 11610, 4096])
@pytest.mark.parametrize("columns", [slice(None), slice(0, 5), slice(2, None)])
@pytest.mark.parametrize("vector_shape", ["row", "flat"])
def test_blocks_give_the_direct_formulas_bits(rows, columns, vector_shape):
    x = RNG.standard_normal((rows, 8)).astype("float32")[:, columns]  # a table's columns
    features = x.shape[1]
    shape = (1, features) if vector_shape == "row" else (features,)
    shift = RNG.standard_normal(shape).astype("float32")
    scale = RNG.standard_normal(shape).astype("float32")
    got = ops.affine(x, shift, scale).data
    expected = _direct(x, shift, scale)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got.view("uint32"), expected.view("uint32"))


def test_other_shapes_keep_numpys_broadcasting():
    x = RNG.standard_normal((600, 4)).astype("float32")
    shift = RNG.standard_normal((1, 4)).astype("float32")
    two = np.float32(2.0)  # one scale for all features: broadcast as NumPy does
    np.testing.assert_array_equal(ops.affine(x, shift, two).data, (x + shift) * two)
    wide = RNG.standard_normal((600, 300)).astype("float32")  # rows long enough already
    vec = RNG.standard_normal((300,)).astype("float32")
    np.testing.assert_array_equal(ops.affine(wide, vec, vec).data, (wide + vec) * vec)
