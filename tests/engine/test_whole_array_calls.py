"""`CompiledFunction.call_array` and `Program.result_buffers`: `model(x)`'s shortest replay."""

import numpy as np

from numnet.autodiff import Variable, ops
from numnet.engine import CompiledFunction


def _function(returns):
    weights = Variable(np.arange(6, dtype="float32").reshape(3, 2) / 10)
    step = CompiledFunction(lambda x: returns(ops.relu(ops.matmul(x, weights)), weights), "call",
                            hoist=False, one_capture=lambda: True)
    return step, weights


def test_one_whole_array_is_replayed_and_its_result_left_in_named_buffers():
    step, weights = _function(lambda y, w: (y, None))
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    assert step.call_array(x) is None  # nothing planned yet
    for _ in range(2):
        step(x)  # the first call runs eagerly, the second is captured and planned
    program = step.call_array(x[::-1].copy())
    assert program is not None
    out, nothing = program.result_buffers
    assert nothing is None
    np.testing.assert_allclose(out, np.maximum(x[::-1] @ weights.numpy(), 0), rtol=1e-6)
    assert program.result()[0].data is out and program.result()[1] is None
    for other in (x[:2], x.astype("float64"), x.reshape(2, 6)):
        assert step.call_array(other) is None  # not the shape and dtype planned


def test_a_result_leaf_that_is_not_an_op_output_has_no_buffers():
    step, weights = _function(lambda y, w: (y, w))  # returns the variable itself
    x = np.ones((4, 3), dtype="float32")
    for _ in range(2):
        step(x)
    program = step.call_array(x)
    assert program is not None and program.result_buffers is None
    assert program.result()[1] is weights
