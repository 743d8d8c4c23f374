"""`Loss.__call__` as Keras 3.15.1 runs it: inputs converted to the loss' dtype, the mask
attached to `y_pred` (`set_keras_mask`) honoured at any rank, results in the loss' dtype.

Reference values: tests/fixtures/reference_api.* (tests/fixtures/generate_reference_api.py),
computed by Keras with the same custom loss.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from numnet import losses, ops
from numnet.autodiff.ops.masking import set_keras_mask

FIXTURES = Path(__file__).resolve().parent / "fixtures"
with np.load(FIXTURES / "reference_api.npz") as _npz:
    REF = {k: v for k, v in _npz.items() if k.startswith("loss/")}
CASES = json.loads((FIXTURES / "reference_api.json").read_text())["losses"]


class SquaredError(losses.Loss):
    """The custom loss of Keras' own loss tests; its `call` gets what `__call__` converts."""

    def call(self, y_true, y_pred):
        return (y_true - y_pred) ** 2


def _data(name):
    return None if name is None else REF[f"loss/data/{name}"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_custom_loss_matches_keras(case):
    spec = CASES[case]
    y_pred = ops.convert_to_tensor(_data(spec["y_pred"]))
    if spec["mask"] is not None:
        set_keras_mask(y_pred, _data(spec["mask"]))
    value = SquaredError(**spec["kwargs"])(_data(spec["y_true"]), y_pred,
                                           sample_weight=_data(spec["sample_weight"]))
    assert value.dtype == spec["dtype"]
    np.testing.assert_allclose(value.numpy(), REF[f"loss/{case}/value"], rtol=1e-6, atol=1e-7)


def test_builtin_loss_with_a_mask_of_lower_rank_matches_keras():
    y_pred = ops.convert_to_tensor(REF["loss/mse_masked/y_pred"])
    set_keras_mask(y_pred, REF["loss/data/m"])
    value = losses.MeanSquaredError()(REF["loss/mse_masked/y_true"], y_pred)
    np.testing.assert_allclose(value.numpy(), REF["loss/mse_masked/value"], rtol=1e-6)


def test_custom_call_receives_tensors_in_the_loss_dtype():
    seen = []

    class Recording(losses.Loss):
        def call(self, y_true, y_pred):
            seen.append((type(y_true).__name__, y_true.dtype, y_pred.dtype))
            return ops.square(y_true - y_pred)

    Recording()(np.array([1.0, 0.0]), np.array([0.5, 0.5]))
    Recording(dtype="float64")(np.array([1.0, 0.0], "float32"), np.array([0.5, 0.5], "float32"))
    assert seen == [("Tensor", "float32", "float32"), ("Tensor", "float64", "float64")]
