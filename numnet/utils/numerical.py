"""Array helpers from `keras.utils`: `to_categorical` and `normalize`."""

import numpy as np


def to_categorical(x, num_classes=None):
    """One-hot encodes integer class labels.

    Args:
        x: integer labels, any shape; a trailing axis of size 1 is dropped.
        num_classes: the number of classes (`max(x) + 1` by default).

    Returns:
        A float array of shape `x.shape + (num_classes,)` (float64, as Keras).
    """
    x = np.asarray(getattr(x, "data", x))
    if x.dtype.kind == "f":
        if np.any(x % 1):
            raise ValueError("to_categorical expects integer class labels; received "
                             "non-integer values.")
    x = x.astype("int64")
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical received a negative label ({x.min()}).")
    if not num_classes:
        num_classes = int(x.max()) + 1 if x.size else 0
    elif x.size and x.max() >= num_classes:
        raise ValueError(
            f"to_categorical received label {int(x.max())}, which is out of range for "
            f"num_classes={num_classes}."
        )
    categorical = np.zeros((x.size, num_classes))
    categorical[np.arange(x.size), x.reshape(-1)] = 1
    return categorical.reshape(x.shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scales `x` to unit `order`-norm along `axis` (zero vectors stay zero)."""
    x = np.asarray(getattr(x, "data", x))
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
