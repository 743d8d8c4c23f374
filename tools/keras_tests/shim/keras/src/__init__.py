"""`keras.src`: Keras' internal package names, resolved onto numnet by `keras._shim`."""

from keras import _shim

_TARGETS = _shim.targets_for("keras.src")


def __getattr__(name):
    value = _shim.resolve(__name__, _TARGETS, name, own_package=True)
    globals()[name] = value
    return value
