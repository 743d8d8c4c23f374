"""`numnet.random`: `SeedGenerator` and the seeded draws, against Keras 3.15.1's behaviour
(tests/fixtures/reference_api.json, `random`). The values drawn are NumPy's, so only the
seeding rules, states and configs are compared with Keras, not the numbers."""

import json
from pathlib import Path

import numpy as np
import pytest

import numnet
import numnet as keras
from numnet import initializers, random
from numnet.serialization import deserialize_keras_object, serialize_keras_object

REF = json.loads((Path(__file__).parent / "fixtures" / "reference_api.json").read_text())["random"]


def test_state_and_next_follow_keras():
    gen = random.SeedGenerator(1337, name="gen")
    assert gen.state.numpy().tolist() == REF["state"]
    assert gen.state.dtype == REF["state_dtype"] and gen.state.path == REF["state_path"]
    assert [gen.next().numpy().tolist() for _ in range(3)] == REF["ordered"]
    assert [gen.next(ordered=False).numpy().tolist() for _ in range(3)] == REF["unordered"]
    assert gen.state.numpy().tolist() == REF["state_after"]


def test_config_and_serialization_match_keras():
    gen = random.SeedGenerator(1337, name="gen")
    assert gen.get_config() == REF["config"]
    assert serialize_keras_object(gen) == REF["serialized"]
    rebuilt = deserialize_keras_object(REF["serialized"])
    assert isinstance(rebuilt, random.SeedGenerator)
    assert rebuilt.state.numpy().tolist() == REF["state"]
    assert random.SeedGenerator().get_config()["seed"] == REF["default_config_seed"]
    with pytest.raises(ValueError) as info:
        random.SeedGenerator("x")
    assert str(info.value) == REF["bad_seed"][1]


def test_a_seed_generator_seeds_initializers_as_in_keras():
    init = initializers.RandomNormal(seed=random.SeedGenerator(7, name="s"))
    assert init.get_config() == REF["initializer_config"]
    first, second = init((3,)), init((3,))
    assert bool(np.allclose(first, second)) == REF["initializer_repeats"]
    again = initializers.RandomNormal.from_config(REF["initializer_config"])
    np.testing.assert_array_equal(again((3,)), first)  # same seed, same sequence
    fixed = initializers.RandomNormal(seed=7)
    assert bool(np.allclose(fixed((3,)), fixed((3,)))) == REF["int_seed_repeats"]
    with pytest.raises(ValueError, match="SeedGenerator"):
        initializers.RandomNormal(seed=1.5)
    assert REF["bad_initializer_seed"][0] == "ValueError"


def test_draws_repeat_for_an_int_seed_and_advance_for_a_seed_generator():
    same = [random.normal((3,), seed=5).numpy() for _ in range(2)]
    assert bool(np.allclose(*same)) == REF["normal_int_seed_repeats"]
    gen = random.SeedGenerator(5)
    moving = [random.normal((3,), seed=gen).numpy() for _ in range(2)]
    assert bool(np.allclose(*moving)) == REF["normal_generator_repeats"]
    replay = random.SeedGenerator(5)
    np.testing.assert_array_equal(random.normal((3,), seed=replay).numpy(), moving[0])
    for draw in (random.uniform((4,), seed=3), random.truncated_normal((4,), seed=3),
                 random.randint((4,), 0, 9, seed=3), random.shuffle(np.arange(4), seed=3)):
        assert draw.shape == (4,)
    assert np.all(np.abs(random.truncated_normal((200,), seed=1).numpy()) <= 2.0)
    kept = random.dropout(np.ones((50, 4), "float32"), 0.5, noise_shape=(None, 1), seed=2)
    assert set(np.unique(kept.numpy())) <= {0.0, 2.0}
    assert np.all(kept.numpy() == kept.numpy()[:, :1])  # shared along the noise axis


def test_a_layer_drawing_from_its_seed_generator_draws_anew_at_every_compiled_step():
    class Noise(numnet.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = random.SeedGenerator(1337)

        def call(self, x, training=False):
            if not training:
                return x
            return x + random.normal(tuple(x.shape), seed=self.seed_generator)

    noise = Noise()
    model = numnet.Sequential([numnet.Input((2,)), noise, numnet.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = noise.seed_generator.state.numpy()[1]
    model.fit(np.ones((8, 2), "float32"), np.ones((8, 1), "float32"), batch_size=2,
              epochs=1, verbose=0)
    assert noise.seed_generator.state.numpy()[1] - before == 4  # one seed per step


def test_categorical_gamma_beta_binomial_have_their_distributions_and_keras_seeding():
    """Their means and frequencies, within 5 standard errors of the exact values (the
    seeds are fixed, so the check is deterministic), and Keras' seeding rules."""
    n = 20000
    logits = np.log([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    samples = np.asarray(keras.random.categorical(logits, n, seed=3))
    assert samples.shape == (2, n) and samples.dtype == np.int32
    for row, probabilities in zip(samples, np.exp(logits)):
        frequencies = np.bincount(row, minlength=3) / n
        np.testing.assert_allclose(frequencies, probabilities,
                                   atol=5 * np.sqrt(0.25 / n))
    for draws, mean, variance in [
            (keras.random.gamma((n,), 2.0, seed=1), 2.0, 2.0),
            (keras.random.beta((n,), 2.0, 5.0, seed=1), 2 / 7, 10 / (49 * 8)),
            (keras.random.binomial((n,), 10, 0.3, seed=1), 3.0, 2.1)]:
        values = np.asarray(draws)
        assert values.dtype == np.float32
        assert abs(values.mean() - mean) < 5 * np.sqrt(variance / n)
    again = keras.random.categorical(logits, 7, seed=11)
    np.testing.assert_array_equal(again, keras.random.categorical(logits, 7, seed=11))
    generator = keras.random.SeedGenerator(4)
    first = np.asarray(keras.random.gamma((50,), 1.0, seed=generator))
    assert not np.array_equal(first, np.asarray(keras.random.gamma((50,), 1.0, seed=generator)))
    with pytest.raises(ValueError, match="2-D"):
        keras.random.categorical(np.zeros(3), 2)
