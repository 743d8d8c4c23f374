"""A `keras` package that maps Keras' module names onto numnet, for running Keras' tests.

Only `tools/keras_tests/run.py` puts this folder on `sys.path`; see `_shim.py`.
"""

from keras import _shim

_shim.install()
_TARGETS = _shim.targets_for("keras")


def __getattr__(name):
    value = _shim.resolve(__name__, _TARGETS, name, own_package=True)
    globals()[name] = value
    return value
