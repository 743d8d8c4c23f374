"""Stands in for Keras' top-level `conftest.py`, which some test files import from.

Only `skip_if_backend` is imported from it (`from conftest import skip_if_backend`).
"""

import pytest

from keras.src.backend import backend


def skip_if_backend(given_backend, reason):
    """Skips the test when the backend in use is `given_backend` (as Keras' conftest does)."""
    return pytest.mark.skipif(backend() == given_backend, reason=reason)
