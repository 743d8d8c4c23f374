"""GradientTape semantics beyond single gradients (see also test_gradients.py)."""

import numpy as np
import pytest

import numnet

@pytest.mark.parametrize("make_optimizer", [lambda: numnet.optimizers.SGD(0.5),
                                            lambda: numnet.optimizers.Adam(0.5)])
def test_persistent_tape_differentiates_at_the_forward_values(make_optimizer):
    # An optimizer step between two gradient() calls updates the weights in place;
    # the second call must still use the values the forward pass saw (TensorFlow's
    # semantics), and must leave the updated weights as they are.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    numnet.utils.set_random_seed(0)
    model = numnet.Sequential([numnet.Input(shape=(3,)),
                               numnet.layers.Dense(4, activation="tanh"),
                               numnet.layers.Dense(1)])
    optimizer = make_optimizer()
    with numnet.GradientTape() as warm_up:  # the first step builds (and packs) the optimizer
        loss = numnet.ops.mean(numnet.ops.square(model(x)))
    optimizer.apply(warm_up.gradient(loss, model.trainable_weights), model.trainable_weights)
    initial = [w.copy() for w in model.get_weights()]
    with numnet.GradientTape(persistent=True) as tape:
        out = model(x)
        first = numnet.ops.mean(numnet.ops.square(out))
        second = numnet.ops.mean(out)
    optimizer.apply(tape.gradient(first, model.trainable_weights), model.trainable_weights)
    updated = [w.copy() for w in model.get_weights()]
    late = tape.gradient(second, model.trainable_weights)
    for a, b in zip(updated, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(initial, updated))

    model.set_weights(initial)
    with numnet.GradientTape() as fresh:
        expected = fresh.gradient(numnet.ops.mean(model(x)), model.trainable_weights)
    for got, want in zip(late, expected):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
