"""`set_random_seed`: one call makes numnet, Python's `random` and NumPy reproducible."""

import random

import numpy as np

from numnet.backend import set_seed


def set_random_seed(seed):
    """Seeds numnet's generator (initializers, shuffling), `random` and `np.random`."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(
            f"Expected `seed` argument to be an integer. Received: seed={seed!r} "
            f"(of type {type(seed)})"
        )
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    set_seed(seed)
