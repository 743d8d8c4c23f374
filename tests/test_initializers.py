"""numnet.initializers: Keras 3 names, defaults, configs, formulas and seeding."""

import math

import numpy as np
import pytest

from numnet import initializers
from numnet.backend import set_seed

ALL_CLASSES = [
    "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
    "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal",
]

# Configs of default-constructed initializers, as Keras 3.15 writes them
# (Identity adds its gain, which Keras drops).
KERAS_DEFAULT_CONFIGS = {
    "Zeros": {},
    "Ones": {},
    "Constant": {"value": 0.0},
    "Identity": {"gain": 1.0},
    "RandomNormal": {"seed": None, "mean": 0.0, "stddev": 0.05},
    "RandomUniform": {"seed": None, "minval": -0.05, "maxval": 0.05},
    "TruncatedNormal": {"seed": None, "mean": 0.0, "stddev": 0.05},
    "VarianceScaling": {"seed": None, "scale": 1.0, "mode": "fan_in",
                        "distribution": "truncated_normal", "input_axes": None,
                        "output_axes": None},
    "Orthogonal": {"seed": None, "gain": 1.0},
}
for _name in ("GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
              "LecunNormal"):
    KERAS_DEFAULT_CONFIGS[_name] = {"seed": None, "input_axes": None, "output_axes": None}


@pytest.mark.parametrize("name", ALL_CLASSES)
def test_default_config_matches_keras(name):
    init = getattr(initializers, name)()
    config = init.get_config()
    assert config == KERAS_DEFAULT_CONFIGS[name]
    assert list(config) == list(KERAS_DEFAULT_CONFIGS[name])


@pytest.mark.parametrize("name", ALL_CLASSES)
def test_serialize_round_trip(name):
    cls = getattr(initializers, name)
    init = cls(seed=7) if "seed" in KERAS_DEFAULT_CONFIGS[name] else cls()
    envelope = initializers.serialize(init)
    assert envelope == {"module": "keras.initializers", "class_name": name,
                        "config": init.get_config(), "registered_name": None}
    clone = initializers.deserialize(envelope)
    assert type(clone) is cls
    assert clone.get_config() == init.get_config()
    shape = (4, 4)
    np.testing.assert_array_equal(clone(shape), init(shape))
    assert type(initializers.get(envelope)) is cls


@pytest.mark.parametrize("name", ALL_CLASSES)
def test_get_by_class_and_snake_case_name(name):
    cls = getattr(initializers, name)
    snake = {"HeUniform": "he_uniform", "HeNormal": "he_normal"}.get(name)
    assert type(initializers.get(name)) is cls
    import re
    snake = snake or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    assert type(initializers.get(snake)) is cls
    assert getattr(initializers, snake) is cls  # keras.initializers.glorot_uniform


def test_get_aliases_none_callable_and_errors():
    assert type(initializers.get("normal")) is initializers.RandomNormal
    assert type(initializers.get("uniform")) is initializers.RandomUniform
    assert type(initializers.get("zero")) is initializers.Zeros
    assert type(initializers.get("one")) is initializers.Ones
    assert initializers.get(None) is None

    def my_init(shape, dtype=None):
        return np.full(shape, 3.0, dtype=dtype)

    assert initializers.get(my_init) is my_init
    init = initializers.HeNormal()
    assert initializers.get(init) is init
    assert type(initializers.get(initializers.Ones)) is initializers.Ones
    with pytest.raises(ValueError, match="glorot_uniform"):
        initializers.get("glorot_uniformm")
    with pytest.raises(ValueError):
        initializers.get(42)


def test_get_array_is_an_exact_initial_value():
    value = np.arange(6.0).reshape(2, 3)
    init = initializers.get(value)
    out = init((2, 3))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, value)
    with pytest.raises(ValueError):
        init((3, 2))


def test_constant_zeros_ones_identity():
    assert initializers.Zeros()((2, 3)).dtype == np.float32
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((3,), dtype="float64"), np.ones(3))
    assert initializers.Ones()((3,), dtype="float64").dtype == np.float64
    np.testing.assert_array_equal(initializers.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(initializers.Constant([1.0, 2.0])((2, 2)),
                                  [[1.0, 2.0], [1.0, 2.0]])
    np.testing.assert_array_equal(initializers.Identity(gain=2.0)((2, 3)),
                                  [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="2D"):
        initializers.Identity()((2, 2, 2))


def test_compute_fans_like_keras():
    fans = initializers.compute_fans
    assert fans(()) == (1, 1)
    assert fans((7,)) == (7, 7)
    assert fans((784, 300)) == (784, 300)
    assert fans((3, 3, 16, 32)) == (9 * 16, 9 * 32)
    assert fans((2, 3, 4), input_axes=[0, 1], output_axes=[2]) == (6, 4)


@pytest.mark.parametrize("name, scale, mode, distribution", [
    ("GlorotUniform", 1.0, "fan_avg", "uniform"),
    ("GlorotNormal", 1.0, "fan_avg", "truncated_normal"),
    ("HeUniform", 2.0, "fan_in", "uniform"),
    ("HeNormal", 2.0, "fan_in", "truncated_normal"),
    ("LecunUniform", 1.0, "fan_in", "uniform"),
    ("LecunNormal", 1.0, "fan_in", "truncated_normal"),
])
def test_named_variance_scaling_presets(name, scale, mode, distribution):
    init = getattr(initializers, name)(seed=3)
    assert (init.scale, init.mode, init.distribution) == (scale, mode, distribution)
    fan_in, fan_out = 400, 200
    values = init((fan_in, fan_out)).astype(np.float64)
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    variance = scale / n
    if distribution == "uniform":
        limit = math.sqrt(3 * variance)  # Glorot: sqrt(6 / (fan_in + fan_out))
        assert np.abs(values).max() <= limit
        assert np.abs(values).max() > 0.99 * limit
    else:
        # Truncated at 2 stddev of the *untruncated* distribution, whose stddev is
        # sqrt(variance) / 0.8796..., so that the truncated one has sqrt(variance).
        stddev = math.sqrt(variance) / 0.87962566103423978
        assert np.abs(values).max() <= 2 * stddev + 1e-7
    assert values.std() == pytest.approx(math.sqrt(variance), rel=0.02)
    assert abs(values.mean()) < 0.01 * math.sqrt(variance) * 10


def test_glorot_uniform_limit_formula():
    values = initializers.GlorotUniform(seed=0)((30, 10))
    limit = math.sqrt(6 / (30 + 10))
    assert values.min() >= -limit and values.max() <= limit


def test_random_normal_uniform_truncated_statistics():
    v = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=1)((200, 200)).astype(np.float64)
    assert v.mean() == pytest.approx(1.0, abs=0.01)
    assert v.std() == pytest.approx(0.5, rel=0.02)
    u = initializers.RandomUniform(minval=-1.0, maxval=3.0, seed=1)((200, 200))
    assert u.min() >= -1.0 and u.max() < 3.0
    assert u.astype(np.float64).mean() == pytest.approx(1.0, abs=0.02)
    t = initializers.TruncatedNormal(mean=0.0, stddev=0.05, seed=1)((200, 200))
    assert np.abs(t).max() <= 0.1 + 1e-7
    # std of a unit normal truncated at +-2 is 0.8796...
    assert t.astype(np.float64).std() == pytest.approx(0.05 * 0.87962566103423978, rel=0.02)
    vs = initializers.VarianceScaling(scale=2.0, mode="fan_out",
                                      distribution="untruncated_normal", seed=1)((100, 400))
    assert vs.astype(np.float64).std() == pytest.approx(math.sqrt(2.0 / 400), rel=0.02)
    assert np.abs(vs).max() > 2 * math.sqrt(2.0 / 400)  # not truncated


def test_orthogonal():
    tall = initializers.Orthogonal(seed=2)((6, 3)).astype(np.float64)
    np.testing.assert_allclose(tall.T @ tall, np.eye(3), atol=1e-6)
    wide = initializers.Orthogonal(gain=2.0, seed=2)((3, 6)).astype(np.float64)
    np.testing.assert_allclose(wide @ wide.T, 4.0 * np.eye(3), atol=1e-5)
    conv = initializers.Orthogonal(seed=2)((2, 2, 3, 4)).reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(conv.T @ conv, np.eye(4), atol=1e-6)
    with pytest.raises(ValueError):
        initializers.Orthogonal()((5,))


def test_seeding_follows_keras():
    # An int seed: same values on every call and for every instance.
    a = initializers.GlorotUniform(seed=5)
    np.testing.assert_array_equal(a((3, 4)), a((3, 4)))
    np.testing.assert_array_equal(a((3, 4)), initializers.GlorotUniform(seed=5)((3, 4)))
    assert not np.array_equal(a((3, 4)), initializers.GlorotUniform(seed=6)((3, 4)))
    # Unseeded: the instance draws its seed once, so it repeats itself too (Keras 3)...
    b = initializers.RandomNormal()
    np.testing.assert_array_equal(b((3, 4)), b((3, 4)))
    # ...but two unseeded instances differ.
    assert not np.array_equal(initializers.RandomNormal()((3, 4)),
                              initializers.RandomNormal()((3, 4)))
    # A Generator seed gives new values on each call.
    c = initializers.RandomNormal(seed=np.random.default_rng(0))
    assert not np.array_equal(c((3, 4)), c((3, 4)))
    assert c.get_config()["seed"] is None


def test_global_seed_makes_unseeded_initializers_reproducible():
    set_seed(123)
    first = [initializers.HeNormal()((5, 5)), initializers.GlorotUniform()((5, 5))]
    set_seed(123)
    second = [initializers.HeNormal()((5, 5)), initializers.GlorotUniform()((5, 5))]
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)


def test_float64_dtype_and_clone():
    init = initializers.HeUniform(seed=1)
    assert init((2, 2), dtype="float64").dtype == np.float64
    clone = init.clone()
    np.testing.assert_array_equal(clone((2, 2)), init((2, 2)))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_x")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    with pytest.raises(ValueError, match="seed"):
        initializers.RandomNormal(seed="abc")
