"""Muon's pieces, each against an independent computation: the Newton-Schulz iteration
against the same polynomial applied to the singular values of a float64 SVD, the
learning-rate adjustment, and which variables take the AdamW step. (The whole step is
compared with real Keras in test_reference_fidelity_optimizers.py.)"""

import numpy as np
import pytest

import numnet as keras
from numnet.optimizers import Muon

RNG = np.random.default_rng(3)


def _svd_reference(x, steps, a=3.4445, b=-4.7750, c=2.0315):
    """NS5 maps U S V^T to U p(S) V^T with p(s) = a s + b s^3 + c s^5, after scaling by the
    Frobenius norm: applied here to the singular values, in float64."""
    x = x.astype("float64")
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    s = s / (np.sqrt(np.sum(x * x)) + 1e-7)
    for _ in range(steps):
        s = a * s + b * s ** 3 + c * s ** 5
    return (u * s) @ vt


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5)])
@pytest.mark.parametrize("steps", [1, 5])
def test_newton_schulz_is_the_polynomial_of_the_singular_values(shape, steps):
    x = RNG.normal(size=shape).astype("float32")
    got = Muon().zeropower_via_newtonschulz5(x, steps)
    assert got.shape == shape and got.dtype == np.float32
    np.testing.assert_allclose(got, _svd_reference(x, steps), rtol=0, atol=1e-6)  # seen: 6e-7


def test_newton_schulz_needs_a_matrix():
    with pytest.raises(ValueError, match="at least 2 dimensions.*shape=\\(3,\\)"):
        Muon().zeropower_via_newtonschulz5(np.ones(3, "float32"), 5)


def test_the_step_scales_by_the_root_of_the_larger_side():
    x = RNG.normal(size=(4, 9)).astype("float32")
    np.testing.assert_allclose(Muon(rms_rate=0.2).lr_adjust(x), x * 3.0 * 0.2, rtol=1e-6)
    assert Muon(rms_rate=None).lr_adjust(x) is x


def test_which_variables_take_the_adamw_step():
    model = keras.Sequential([keras.Input((3,), dtype="int32"),
                              keras.layers.Embedding(10, 4, name="embedding"),
                              keras.layers.Flatten(), keras.layers.Dense(2, name="hidden"),
                              keras.layers.Dense(1, name="last")], name="m")
    optimizer = Muon(exclude_layers=["last"])
    chosen = {v.path: optimizer._should_use_adamw(v) for v in model.trainable_weights}
    assert chosen == {"m/embedding/embeddings": True, "m/hidden/kernel": False,
                      "m/hidden/bias": True, "m/last/kernel": True, "m/last/bias": True}
    optimizer.build(model.trainable_weights)
    slots = [v.path.split("/", 1)[1] for v in optimizer.variables[2:]]
    assert slots[:3] == ["m_embedding_embeddings_momentum", "m_embedding_embeddings_velocity",
                         "m_hidden_kernel_momentum"]  # no velocity for a Muon matrix
