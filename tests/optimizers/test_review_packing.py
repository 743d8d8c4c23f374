"""Review: the optimizer's flat-buffer packing must not change which slot goes with which variable."""
import numpy as np

import numnet as keras
from numnet.autodiff.tensor import Variable


def _vars(shapes):
    return [Variable(np.ones(s, np.float32)) for s in shapes]


def test_review_pack_first_apply_on_subset_of_built_variables():
    # Built on all variables (as loading a saved optimizer does), first applied
    # to a subset (e.g. after freezing a layer): must update like the unpacked rule.
    opt = keras.optimizers.Adam(0.1)
    vs = _vars([(3, 3), (3,), (3, 2), (2,)])
    opt.build(vs)
    grads = [np.ones(v.data.shape, np.float32) for v in vs]
    opt.apply(grads[2:], vs[2:])
    np.testing.assert_allclose(vs[2].data, 0.9, rtol=1e-5)
    np.testing.assert_allclose(vs[0].data, 1.0)
    opt.apply(grads, vs)
    np.testing.assert_allclose(vs[0].data, 0.925587, rtol=1e-5)  # Adam at t=2


def test_review_pack_apply_order_differs_from_build_order():
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    vs = _vars([(4,), (4,), (4,), (4,)])
    opt.build(vs)
    opt.momentums[0].data[...] = -1.0  # restored state: only variable 0 has momentum
    grads = [np.zeros(4, np.float32) for _ in range(4)]
    opt.apply(grads[::-1], vs[::-1])  # same pairs, another order
    np.testing.assert_allclose(vs[0].data, 0.1, rtol=1e-5)
    for v in vs[1:]:
        np.testing.assert_allclose(v.data, 1.0)
