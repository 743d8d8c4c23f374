"""Finite-difference checks of the backward rules of the ops `fixtures/ops_cases.py` lists
as differentiable (float64, central differences, the helper of test_gradients.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from numnet import GradientTape, ops
from numnet.autodiff import Tensor

HERE = Path(__file__).resolve().parent


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


numeric_grad = _load("gradient_helpers", HERE / "test_gradients.py").numeric_grad
cases = _load("ops_cases", HERE.parent / "fixtures" / "ops_cases.py")
# Ties make the value a kink (the gradient picks one side; differences average both).
KINKED = {"top_k_ties"}
# divide_no_nan jumps where its divisor is 0 (its gradient is 0 there, as Keras'; the
# reference test compares that): differences are taken for the dividend only.
WRT = {"divide_no_nan": [0]}
# A Cholesky factorization reads the lower triangle of its symmetric input, and its
# gradient is TensorFlow's symmetrized one (half to each of a_ij and a_ji): central
# differences of the lower entries then see g_ij + g_ji off the diagonal, and nothing above.
LOWER_TRIANGLE_READ = {"cholesky", "cholesky_upper", "logdet"}
# A custom gradient that is by design not the derivative (a clipped one): its numbers are
# compared with Keras' (test_reference_ops.py), not with differences.
NOT_THE_DERIVATIVE = {"custom_gradient_clipped"}
DIFFERENTIABLE = sorted(name for name, (_, _, wrt) in cases.CASES.items()
                        if wrt and name not in KINKED | NOT_THE_DERIVATIVE)


def _flat_float_output(name, tensors):
    """The case's float outputs, flattened and joined (so one weighted sum covers them);
    NaN outputs (the quantile of a slice of NaNs only) count as 0."""
    fn = cases.CASES[name][0]
    result = fn(ops, *tensors)
    parts = list(result) if isinstance(result, (tuple, list)) else [result]
    floats = [ops.reshape(ops.where(ops.isnan(p), 0.0, p), (-1,)) for p in parts
              if np.asarray(p).dtype.kind == "f"]
    return floats[0] if len(floats) == 1 else ops.concatenate(floats, axis=0)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_backward_rule_matches_central_differences(name):
    _, input_names, wrt = cases.CASES[name]
    wrt = WRT.get(name, wrt)
    arrays = [cases.INPUTS[n].astype(np.float64) if cases.INPUTS[n].dtype.kind == "f"
              else cases.INPUTS[n] for n in input_names]
    as_tensors = lambda values: [Tensor(v) for v in values]  # noqa: E731
    weights = np.random.default_rng(0).normal(
        size=np.shape(np.asarray(_flat_float_output(name, as_tensors(arrays)))))

    def scalar(*values):
        return float(np.sum(np.asarray(_flat_float_output(name, as_tensors(values))) * weights))

    for index in wrt:
        tensors = as_tensors(arrays)
        with GradientTape() as tape:
            tape.watch(tensors[index])
            total = ops.sum(_flat_float_output(name, tensors) * weights)
        analytic = tape.gradient(total, tensors[index])
        assert analytic is not None, f"no gradient reached input {index}"
        analytic = np.asarray(analytic)
        if name in LOWER_TRIANGLE_READ:
            np.testing.assert_allclose(analytic, analytic.T, rtol=1e-12, atol=1e-12)
            analytic = np.tril(analytic + analytic.T, -1) + np.diag(np.diag(analytic))
        np.testing.assert_allclose(analytic, numeric_grad(scalar, arrays, index),
                                   rtol=1e-6, atol=1e-8, err_msg=f"input {index}")
