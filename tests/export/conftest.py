"""Fixtures of the export tests (the helpers are in export_helpers.py)."""

import numpy as np
import pytest

import numnet as keras


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1)
