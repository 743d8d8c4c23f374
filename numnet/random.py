"""`numnet.random`: random draws and `SeedGenerator`, with Keras 3's seeding rules.

Every function takes `seed`, as `keras.random` does:

- an integer: the same values at every call (a stateless draw);
- a `SeedGenerator`: new values at every call, reproducibly (its state advances);
- None: numnet's global generator (`numnet.utils.set_random_seed` reseeds it).

`normal`, `uniform` and `dropout` are numnet ops: inside a compiled training step they
draw again at every step. The numbers are NumPy's, not TensorFlow's: the same seed gives
other values than in Keras.
"""

import numpy as np

from numnet.autodiff import ops
from numnet.autodiff.tensor import Tensor, Variable
from numnet.backend import floatx, global_generator, standardize_dtype, unique_name
from numnet.serialization import register_builtin


@register_builtin("keras.random")
class SeedGenerator:
    """A seed that changes at every use, for random draws that differ call after call.

    Its state is a variable `[seed, counter]` (`state`); `next()` returns the current
    state and advances the counter. Pass it as the `seed` of a `numnet.random` function
    or of a random initializer; keep it as a layer attribute to draw in `call()`:

    ```python
    class Noise(numnet.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = numnet.random.SeedGenerator(1337)

        def call(self, x):
            return x + numnet.random.normal(x.shape, seed=self.seed_generator)
    ```

    Args:
        seed: an integer; None draws one from numnet's global generator.
        name: default "seed_generator", made unique.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        kwargs.pop("backend", None)  # Keras' argument for another backend: one here
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name or unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = int(global_generator().integers(1, 10**9))
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self.state = Variable(np.array([int(seed), 0], dtype="int64"), trainable=False,
                              name="seed_generator_state")
        self.state.path = f"{self.name}/seed_generator_state"

    def next(self, ordered=True):
        """The current state (a copy); the state then advances (`ordered`: counter + 1)."""
        value = self.state.numpy()
        state = self.state.data
        if ordered:
            state[1] += 1
        else:  # Keras' unordered walk: near-unique numbers below 933199
            state[...] = (state + 1) * 5387 % 933199
        return Tensor(value)

    def numpy_generator(self):
        """A NumPy generator seeded with the next state (each call gives a new one)."""
        return np.random.default_rng([int(v) for v in self.next().data])

    # The methods random ops call on a generator: each call draws with the next seed.
    def random(self, *args, **kwargs):
        return self.numpy_generator().random(*args, **kwargs)

    def normal(self, *args, **kwargs):
        return self.numpy_generator().normal(*args, **kwargs)

    def uniform(self, *args, **kwargs):
        return self.numpy_generator().uniform(*args, **kwargs)

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name}, state={self.state.data.tolist()}>"


class _FixedSeed:
    """An integer seed as a generator for random ops: every draw starts from the seed."""

    def __init__(self, seed):
        self.seed = int(seed)

    def random(self, *args, **kwargs):
        return np.random.default_rng(self.seed).random(*args, **kwargs)

    def normal(self, *args, **kwargs):
        return np.random.default_rng(self.seed).normal(*args, **kwargs)

    def uniform(self, *args, **kwargs):
        return np.random.default_rng(self.seed).uniform(*args, **kwargs)


def _draws(seed):
    """What a random op draws from for `seed` (see the module docstring)."""
    if seed is None or isinstance(seed, SeedGenerator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError("Argument `seed` must be either an integer or an instance of "
                         f"`SeedGenerator`. Received: seed={seed} (of type {type(seed)})")
    return _FixedSeed(seed)


def _numpy_generator(seed):
    draws = _draws(seed)
    if draws is None:
        return global_generator()
    if isinstance(draws, SeedGenerator):
        return draws.numpy_generator()
    return np.random.default_rng(draws.seed)


def _float(dtype):
    return standardize_dtype(dtype or floatx())


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution (a tensor of `shape`, floatx by default)."""
    return ops.random_normal(shape, mean=mean, stddev=stddev, generator=_draws(seed),
                             dtype=_float(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws uniformly from `[minval, maxval)`."""
    return ops.random_uniform(shape, minval=minval, maxval=maxval, generator=_draws(seed),
                              dtype=_float(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws, each redrawn until it lies within two standard deviations."""
    rng = _numpy_generator(seed)
    values = rng.standard_normal(tuple(shape))
    bad = np.abs(values) > 2.0
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2.0
    return Tensor((values * stddev + mean).astype(_float(dtype)))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from `[minval, maxval)`."""
    values = _numpy_generator(seed).integers(minval, maxval, size=tuple(shape))
    return Tensor(values.astype(standardize_dtype(dtype)))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """For each row of the 2-D `logits` (unnormalized log-probabilities of its classes),
    `num_samples` class indices drawn with those probabilities: a `(rows, num_samples)`
    tensor."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"categorical: `logits` must be 2-D (rows, classes); received "
                         f"shape {logits.shape}.")
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    draws = _numpy_generator(seed).random((logits.shape[0], int(num_samples)))
    # The class of a draw u is the first whose cumulative probability exceeds u.
    classes = (draws[:, :, None] >= cumulative[:, None, :]).sum(axis=2)
    return Tensor(np.minimum(classes, logits.shape[1] - 1).astype(standardize_dtype(dtype)))


def gamma(shape, alpha, dtype=None, seed=None):
    """Draws from the Gamma distribution of shape parameter `alpha` (scale 1)."""
    values = _numpy_generator(seed).standard_gamma(alpha, size=tuple(shape))
    return Tensor(np.asarray(values).astype(_float(dtype)))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Draws from the Beta distribution of parameters `alpha` and `beta` (in [0, 1])."""
    values = _numpy_generator(seed).beta(alpha, beta, size=tuple(shape))
    return Tensor(np.asarray(values).astype(_float(dtype)))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Draws how many of `counts` trials succeed, each with probability `probabilities`
    (floats, as Keras returns them)."""
    values = _numpy_generator(seed).binomial(counts, probabilities, size=tuple(shape))
    return Tensor(np.asarray(values).astype(_float(dtype)))


def shuffle(x, axis=0, seed=None):
    """`x` with its entries along `axis` in a random order."""
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    order = _numpy_generator(seed).permutation(array.shape[axis])
    return Tensor(np.take(array, order, axis=axis))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """`inputs` with each entry zeroed with probability `rate`, the others scaled by
    `1 / (1 - rate)` (`noise_shape`: the mask's shape, 1 where it is shared)."""
    inputs = ops.convert_to_tensor(inputs)
    shape = tuple(inputs.shape) if noise_shape is None else tuple(
        inputs.shape[i] if d is None else d for i, d in enumerate(noise_shape))
    mask = ops.dropout_mask(shape, rate, generator=_draws(seed), dtype=inputs.dtype)
    return ops.multiply(inputs, mask)


__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal",
           "randint", "shuffle", "truncated_normal", "uniform"]
