"""Random test inputs (`keras.random.uniform`, `normal`, ...), as numnet Tensors.

Keras' tests draw inputs with these; the values only need the right shape, dtype and
range. Seeded draws are reproducible.
"""

import numpy as np

from numnet.autodiff import Tensor
from numnet.backend import floatx, standardize_dtype

_GENERATOR = np.random.default_rng(1337)


def _rng(seed):
    if seed is None or not isinstance(seed, (int, np.integer)):
        return _GENERATOR
    return np.random.default_rng(int(seed))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    values = _rng(seed).uniform(minval, maxval, size=shape)
    return Tensor(values.astype(standardize_dtype(dtype or floatx())))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    values = _rng(seed).normal(mean, stddev, size=shape)
    return Tensor(values.astype(standardize_dtype(dtype or floatx())))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    values = _rng(seed).integers(minval, maxval, size=shape)
    return Tensor(values.astype(standardize_dtype(dtype)))
