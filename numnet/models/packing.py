"""Packing and unpacking a batch's `(x, y, sample_weight)`, as `keras.utils` does.

A `train_step` or `test_step` receives a batch in Keras' form: `x` alone,
`(x, y)`, or `(x, y, sample_weight)` (the parts `fit` was given), so a step
written for Keras (`x, y = data`) runs unchanged. These two functions go
between that form and the three parts (`numnet.utils` has them too).
"""


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` from a batch; the parts it does not hold are None.

    A list counts as a tuple; anything else is `x` alone. More than three
    parts is an error.
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found a tuple of {len(data)}: {data!r}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch element holding `x`, `y` and `sample_weight` (the inverse of
    `unpack_x_y_sample_weight`).

    With no `y`, `x` alone, unless it is a tuple: that becomes `(x,)`, so it is
    not read back as `(x, y)`.
    """
    if y is None:
        return (x,) if isinstance(x, tuple) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight


__all__ = ["pack_x_y_sample_weight", "unpack_x_y_sample_weight"]
