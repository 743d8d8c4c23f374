"""`Tensor` (an array that ops can differentiate through) and `Variable` (mutable state)."""

import numpy as np

from numnet.backend import floatx, standardize_dtype, xp


class Tensor:
    """An array that numnet's ops read and produce.

    A tensor holds its value in `data` (a NumPy array). Operators (`+`, `@`,
    `x[i]`, ...) dispatch to `numnet.ops` and so are differentiable under a
    `GradientTape`.
    """

    __slots__ = ("data", "_keras_logits", "__weakref__")
    __array_priority__ = 100
    trainable = None  # only variables are trainable (Variable overrides this slot)

    def __init__(self, data, dtype=None):
        if dtype is not None:
            data = xp.asarray(data, dtype=standardize_dtype(dtype))
        elif not isinstance(data, xp.ndarray):
            if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype
                data = xp.asarray(data)
            else:
                data = xp.asarray(data)
                if data.dtype == np.float64:
                    data = data.astype(floatx())
        self.data = data
        self._keras_logits = None

    # -- array protocol -------------------------------------------------
    def numpy(self):
        """Returns the value as a NumPy array."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self.data
        return self.data.astype(dtype, copy=False)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype.name

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f"<Tensor shape={self.data.shape} dtype={self.dtype}\n{self.data}>"

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __iter__(self):
        for i in range(len(self.data)):
            yield self[i]

    def item(self):
        return self.data.item()

    # -- operators (the ops module registers them) --------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.subtract(self, other)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __mul__(self, other):
        return _ops.multiply(self, other)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __truediv__(self, other):
        return _ops.divide(self, other)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __pow__(self, other):
        return _ops.power(self, other)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __neg__(self):
        return _ops.negative(self)

    def __abs__(self):
        return _ops.abs(self)

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    # Comparisons are not differentiable: they return plain boolean tensors.
    def __lt__(self, other):
        return Tensor(self.data < _value(other))

    def __le__(self, other):
        return Tensor(self.data <= _value(other))

    def __gt__(self, other):
        return Tensor(self.data > _value(other))

    def __ge__(self, other):
        return Tensor(self.data >= _value(other))

    __hash__ = object.__hash__

    @property
    def T(self):
        return _ops.transpose(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def astype(self, dtype):
        return _ops.cast(self, dtype)


class Variable(Tensor):
    """A tensor whose value persists and changes in place: a layer weight or optimizer slot.

    Args:
        initializer: the initial value (array-like) or an initializer callable
            taking `(shape, dtype)`.
        shape: required when `initializer` is a callable.
        dtype: the dtype; `floatx()` for floats by default.
        trainable: whether optimizers update it and tapes watch it.
        name: the variable's name (`kernel`, `bias`, ...).
    """

    __slots__ = ("name", "trainable", "path", "_layer", "regularizer", "constraint", "aggregation")

    def __init__(self, initializer=None, shape=None, dtype=None, trainable=True, name=None,
                 aggregation="none"):
        if callable(initializer) and not isinstance(initializer, (Tensor, np.ndarray)):
            if shape is None:
                raise ValueError(
                    f"Variable '{name}': `shape` is required when the initial value "
                    f"is a callable initializer. Received: initializer={initializer!r}"
                )
            value = initializer(tuple(shape), dtype=standardize_dtype(dtype))
        else:
            value = initializer.data if isinstance(initializer, Tensor) else initializer
        value = xp.array(value, copy=True)
        if dtype is not None:
            value = value.astype(standardize_dtype(dtype), copy=False)
        elif value.dtype == np.float64:
            value = value.astype(floatx(), copy=False)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"Variable '{name}': initial value has shape {value.shape}, "
                f"expected {tuple(shape)}."
            )
        super().__init__(value)
        self.name = name or "variable"
        self.path = self.name
        self.trainable = trainable
        self._layer = None
        self.regularizer = None
        self.constraint = None
        self.aggregation = aggregation

    def numpy(self):
        """A copy of the current value (as in Keras: later updates don't change it)."""
        return self.data.copy()

    @property
    def value(self):
        """The current value as a `Tensor` (a read of the variable)."""
        return self

    def assign(self, value):
        """Overwrites the value in place (shape must match)."""
        value = _value(value)
        if np.shape(value) != self.data.shape:
            raise ValueError(
                f"Cannot assign a value of shape {np.shape(value)} to variable "
                f"'{self.path}' of shape {self.data.shape}."
            )
        self.data[...] = value
        return self

    def assign_add(self, value):
        self.data += _value(value)
        return self

    def assign_sub(self, value):
        self.data -= _value(value)
        return self

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.data.shape}, "
                f"dtype={self.dtype}, value={self.data}>")


def _value(x):
    return x.data if isinstance(x, Tensor) else x


from numnet.autodiff import ops as _ops  # noqa: E402  (ops import Tensor)
