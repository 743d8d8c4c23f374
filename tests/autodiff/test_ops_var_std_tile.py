"""`ops.var`, `ops.std` and `ops.tile`: values and gradients from Keras 3.15.1
(tests/fixtures/reference_api.*), and finite-difference checks of their backward rules."""

import json
from pathlib import Path

import numpy as np
import pytest

from numnet.autodiff import GradientTape, Tensor, ops

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_api.npz") as _npz:
    REF = {k: v for k, v in _npz.items() if k.startswith("ops/")}
META = json.loads((FIXTURES / "reference_api.json").read_text())


def _kwargs(case):
    kwargs = dict(META["ops"][case]["kwargs"])
    for key in ("axis", "repeats"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    return kwargs


@pytest.mark.parametrize("case", sorted(META["ops"]))
def test_value_and_gradient_match_keras(case):
    op = getattr(ops, META["ops"][case]["op"])
    x = Tensor(REF["ops/x"])
    with GradientTape() as tape:
        tape.watch(x)
        y = op(x, **_kwargs(case))
        total = ops.sum(ops.multiply(y, REF[f"ops/{case}/w"]))
    assert y.dtype == META["ops"][case]["dtype"]
    np.testing.assert_allclose(y.numpy(), REF[f"ops/{case}/y"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(tape.gradient(total, x)), REF[f"ops/{case}/grad"],
                               rtol=2e-5, atol=1e-6)


def test_integer_inputs_give_float32_as_in_keras():
    x = REF["ops/int_x"]
    assert [ops.var(x).dtype, ops.std(x).dtype] == META["ops_int_dtypes"]
    np.testing.assert_allclose(ops.var(x, axis=1).numpy(), REF["ops/int_var"], rtol=1e-6)
    np.testing.assert_allclose(ops.std(x).numpy(), REF["ops/int_std"], rtol=1e-6)


@pytest.mark.parametrize("case", sorted(META["ops"]))
def test_gradient_matches_finite_differences(case):
    op, kwargs = getattr(ops, META["ops"][case]["op"]), _kwargs(case)
    x = REF["ops/x"].astype("float64")
    w = REF[f"ops/{case}/w"].astype("float64")

    def total(values):
        return float(np.sum(op(Tensor(values, dtype="float64"), **kwargs).numpy() * w))

    tensor = Tensor(x, dtype="float64")
    with GradientTape() as tape:
        tape.watch(tensor)
        out = ops.sum(ops.multiply(op(tensor, **kwargs), w))
    analytic = np.asarray(tape.gradient(out, tensor))
    numeric = np.zeros_like(x)
    eps = 1e-6
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (total(plus) - total(minus)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
