"""numnet's seeded random generator, shared by initializers, shuffling and dropout-like layers."""

import numpy as np

_GLOBAL = {"generator": np.random.default_rng()}


def global_generator():
    """Returns the global `numpy.random.Generator` (reseeded by `set_seed`)."""
    return _GLOBAL["generator"]


def set_seed(seed):
    """Reseeds the global generator."""
    _GLOBAL["generator"] = np.random.default_rng(seed)


def make_generator(seed=None):
    """Returns a generator: a fresh seeded one for an int seed, else the global one."""
    if seed is None:
        return _GLOBAL["generator"]
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
