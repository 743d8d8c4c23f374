"""`Capture.suspended()`: nothing is recorded inside, nesting included, and recording resumes."""

import numpy as np

from numnet.autodiff import Tensor, ops
from numnet.autodiff.primitive import CAPTURES, READ_HOOKS, RECORDERS
from numnet.engine.capture import Capture


def test_a_suspension_records_nothing_and_nests():
    x = Tensor(np.ones((2, 3), "float32"))
    with Capture([x]) as capture:
        ops.add(x, 1.0)
        recorded = len(capture.steps)
        with capture.suspended():
            ops.multiply(x, 2.0)
            with capture.suspended():  # a host call inside a host call
                ops.subtract(x, 1.0)
            assert capture not in RECORDERS  # still suspended after the inner one ends
            ops.exp(x)
        assert len(capture.steps) == recorded
        assert capture in RECORDERS and capture.read in READ_HOOKS and capture in CAPTURES
        ops.add(x, 3.0)
        assert len(capture.steps) == recorded + 1
    assert capture not in RECORDERS and capture not in CAPTURES
