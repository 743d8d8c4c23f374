"""`Tensor` (an array that ops can differentiate through) and `Variable` (mutable state)."""


from numnet.autodiff.primitive import CAPTURES, READ_HOOKS
from numnet.backend.global_state import ThreadStack
from numnet.backend import floatx, standardize_dtype, xp
from numnet.backend.name_scope import current_path

_DTYPE_NAMES = {}  # dtype -> its name (see `Tensor.dtype`)


class Tensor:
    """An array that numnet's ops read and produce.

    A tensor holds its value in `data` (a NumPy array). Operators (`+`, `@`,
    `x[i]`, ...) dispatch to `numnet.ops` and so are differentiable under a
    `GradientTape`.
    """

    # `__dict__` (made only when first used) lets code patch an instance, as Keras' tests
    # do with `tensor.numpy = ...`; the slots keep the common attributes fast.
    __slots__ = ("data", "_keras_logits", "_keras_mask", "__weakref__", "__dict__")
    __array_priority__ = 100
    trainable = None  # only variables are trainable (Variable overrides this slot)

    def __init__(self, data, dtype=None):
        if dtype is not None:
            data = xp.asarray(data, dtype=standardize_dtype(dtype))
        elif not isinstance(data, xp.ndarray):
            if isinstance(data, xp.generic):  # a NumPy scalar keeps its dtype
                data = xp.asarray(data)
            else:
                data = xp.asarray(data)
                if data.dtype == xp.float64:
                    data = data.astype(floatx())
        self.data = data
        self._keras_logits = None

    # -- logits kept by a softmax or sigmoid ------------------------------
    def keep_logits(self, logits):
        """Records that this tensor is the softmax or sigmoid of `logits`, as Keras'
        TensorFlow backend does: a cross-entropy on it then uses the logits. Returns self."""
        self._keras_logits = logits
        return self

    def kept_logits(self):
        """The logits this tensor is the softmax or sigmoid of (see `keep_logits`), or None."""
        return self._keras_logits

    # -- array protocol -------------------------------------------------
    # Reading a tensor's value into Python (an array, a float, a bool) is where a
    # computation leaves numnet's ops; a capture open around it is told, so that a
    # compiled step never bakes a value that should change from step to step.
    def numpy(self):
        """Returns the value as a NumPy array."""
        if READ_HOOKS:
            READ_HOOKS[-1](self, "numpy()")
        return self.data

    def __array__(self, dtype=None, copy=None):
        if READ_HOOKS:
            READ_HOOKS[-1](self, "conversion to a NumPy array")
        if dtype is None:
            return self.data
        return self.data.astype(dtype, copy=False)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        dtype = self.data.dtype
        name = _DTYPE_NAMES.get(dtype)
        if name is None:  # NumPy builds `dtype.name` in Python at every access: keep it
            name = _DTYPE_NAMES[dtype] = dtype.name
        return name

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
        if READ_HOOKS:
            READ_HOOKS[-1](self, "float()")
        return float(self.data)

    def __int__(self):
        if READ_HOOKS:
            READ_HOOKS[-1](self, "int()")
        return int(self.data)

    def __index__(self):
        if READ_HOOKS:
            READ_HOOKS[-1](self, "use as an index")
        return self.data.__index__()

    def __bool__(self):
        if READ_HOOKS:
            READ_HOOKS[-1](self, "bool() (Python control flow on a tensor value)")
        return bool(self.data)

    def __iter__(self):
        for i in range(len(self.data)):
            yield self[i]

    def item(self):
        if READ_HOOKS:
            READ_HOOKS[-1](self, "item()")
        return self.data.item()

    def tolist(self):
        if READ_HOOKS:
            READ_HOOKS[-1](self, "tolist()")
        return self.data.tolist()

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

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.mod(self, other)

    def __rmod__(self, other):
        return _ops.mod(other, self)

    # `&`, `|`, `^` and `~` are logical on booleans and bitwise on integers, as on
    # TensorFlow's tensors.
    def __and__(self, other):
        return _bits(self, other, "logical_and", "bitwise_and")

    def __rand__(self, other):
        return _bits(other, self, "logical_and", "bitwise_and")

    def __or__(self, other):
        return _bits(self, other, "logical_or", "bitwise_or")

    def __ror__(self, other):
        return _bits(other, self, "logical_or", "bitwise_or")

    def __xor__(self, other):
        return _bits(self, other, "logical_xor", "bitwise_xor")

    def __rxor__(self, other):
        return _bits(other, self, "logical_xor", "bitwise_xor")

    def __invert__(self):
        if self.data.dtype == xp.bool_:
            return _ops.logical_not(self)
        return _ops.bitwise_not(self)

    def __neg__(self):
        return _ops.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __round__(self, ndigits=None):
        return _ops.round(self, ndigits or 0)

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    # Comparisons compare values, as in Keras: they return boolean tensors (not
    # differentiable), so `loss == 0.0` or `if tensor > 1:` read the values.
    def __eq__(self, other):
        return _ops.equal(self, other)

    def __ne__(self, other):
        return _ops.not_equal(self, other)

    def __lt__(self, other):
        return _ops.less(self, other)

    def __le__(self, other):
        return _ops.less_equal(self, other)

    def __gt__(self, other):
        return _ops.greater(self, other)

    def __ge__(self, other):
        return _ops.greater_equal(self, other)

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


def _bits(a, b, logical, bitwise):
    """`logical(a, b)` when both are booleans, else `bitwise(a, b)`."""
    kinds = {xp.asarray(getattr(v, "data", v)).dtype.kind for v in (a, b)}
    return getattr(_ops, logical if kinds == {"b"} else bitwise)(a, b)


class Variable(Tensor):
    """A tensor whose value persists and changes in place: a layer weight or optimizer slot.

    A variable's array never moves once a model has placed it: assigning to
    `variable.data` (or calling `assign`) writes into the existing array, so
    the views a parameter store, an optimizer or a compiled step hold stay
    valid. Only a variable not yet placed (`place` not called) can take a new
    array of a different shape.

    Args:
        initializer: the initial value (array-like) or an initializer callable
            taking `(shape, dtype)`.
        shape: required when `initializer` is a callable.
        dtype: the dtype; `floatx()` for floats by default.
        trainable: whether optimizers update it and tapes watch it.
        name: the variable's name (`kernel`, `bias`, ...).
    """

    __slots__ = ("_array", "_placed", "store", "name", "trainable", "path", "_layer", "regularizer",
                 "constraint", "aggregation", "_overwrite_with_gradient")

    def __init__(self, initializer=None, shape=None, dtype=None, trainable=True, name=None,
                 aggregation="none"):
        if callable(initializer) and not isinstance(initializer, (Tensor, xp.ndarray)):
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
        elif value.dtype == xp.float64:
            value = value.astype(floatx(), copy=False)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"Variable '{name}': initial value has shape {value.shape}, "
                f"expected {tuple(shape)}."
            )
        self._placed = False
        self.store = None  # the ParameterStore holding the value, once placed in one
        self._array = value
        self._keras_logits = None
        self.name = name or "variable"
        scope = current_path()  # `with name_scope("block"):` names it "block/<name>"
        self.path = f"{scope}/{self.name}" if scope else self.name
        self.trainable = trainable
        self._layer = None
        self.regularizer = None
        self.constraint = None
        self.aggregation = aggregation
        self._overwrite_with_gradient = False

    @property
    def data(self):
        """The variable's array (updated in place by optimizers and `assign`)."""
        return self._array

    @data.setter
    def data(self, value):
        if not self._placed:
            self._array = value
            MOVES[0] += 1
            return
        value = _value(value)
        if xp.shape(value) != self._array.shape:
            raise ValueError(
                f"Cannot replace the value of variable '{self.path}' of shape "
                f"{self._array.shape} by an array of shape {xp.shape(value)}: its array is "
                "part of the model's parameter store."
            )
        self._array[...] = value

    def place(self, view=None, store=None):
        """Moves the value into `view` (part of a larger buffer) and keeps it there for good.

        Without `view` the variable stays where it is but its array is fixed from
        now on (a compiled step reads it by reference).
        """
        if view is not None:
            if view.shape != self._array.shape:
                raise ValueError(f"Variable '{self.path}': cannot place a value of shape "
                                 f"{self._array.shape} into a view of shape {view.shape}.")
            view[...] = self._array
            self._array = view
            self.store = store
            MOVES[0] += 1
        self._placed = True

    def __getstate__(self):
        # A copy leaves any parameter store behind (its own array, not yet placed):
        # the model puts it into a store of its own when it next trains.
        state = {name: getattr(self, name) for name in _VARIABLE_STATE}
        state["_array"] = self._array.copy()
        state["_overwrite_with_gradient"] = self.overwrite_with_gradient
        return state

    def __setstate__(self, state):
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self._placed, self.store, self._keras_logits = False, None, None

    @property
    def overwrite_with_gradient(self):
        """Whether optimizers replace this variable by its gradient instead of a step (Keras'
        flag for statistics computed as gradients; False by default)."""
        return getattr(self, "_overwrite_with_gradient", False)

    @overwrite_with_gradient.setter
    def overwrite_with_gradient(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"`overwrite_with_gradient` must be a boolean. Received: {value}")
        self._overwrite_with_gradient = value

    @property
    def placed(self):
        """Whether the value lives in a parameter store (see `place`)."""
        return self._placed

    def numpy(self):
        """A copy of the current value (as in Keras: later updates don't change it)."""
        if READ_HOOKS:
            READ_HOOKS[-1](self, "numpy()")
        return self._array.copy()

    def __array__(self, dtype=None, copy=None):
        """`np.asarray(variable)`: a snapshot, like `numpy()` (as Keras' TensorFlow, JAX and
        NumPy backends give: later steps don't change it); `copy=False` gets the live array."""
        if READ_HOOKS:
            READ_HOOKS[-1](self, "conversion to a NumPy array")
        array = self._array
        if dtype is not None and array.dtype != dtype:
            if copy is False:
                raise ValueError(f"Variable '{self.path}' is {array.dtype}: it cannot be read "
                                 f"as {xp.dtype(dtype)} without a copy.")
            return array.astype(dtype)
        return array if copy is False else array.copy()

    @property
    def value(self):
        """The current value as a `Tensor` (a read of the variable)."""
        return self

    def assign(self, value):
        """Overwrites the value in place (shape must match).

        Inside a capture (a compiled step) the write is an effect the replay repeats.
        """
        if CAPTURES:
            _check_assign_shape(self, value)
            return _ops.assign(self, value)
        if STATELESS:
            STATELESS[-1].remember(self)
        value = _value(value)
        if xp.shape(value) != self._array.shape:
            raise ValueError(
                f"Cannot assign a value of shape {xp.shape(value)} to variable "
                f"'{self.path}' of shape {self._array.shape}."
            )
        self._array[...] = value
        return self

    def assign_add(self, value):
        if CAPTURES:
            return _ops.assign_add(self, value)
        if STATELESS:
            STATELESS[-1].remember(self)
        self._array += _value(value)
        return self

    def assign_sub(self, value):
        if CAPTURES:
            return _ops.assign_sub(self, value)
        if STATELESS:
            STATELESS[-1].remember(self)
        self._array -= _value(value)
        return self

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self._array.shape}, "
                f"dtype={self.dtype}, value={self._array}>")


# The open `StatelessScope`s of this thread, innermost last.
STATELESS = ThreadStack()


class StatelessScope:
    """Writes to variables inside it are undone when it closes (Keras' `StatelessScope`).

    Inside the scope, `assign` and friends change the variable as usual, so
    later reads see the new value; on exit every variable written gets back
    the value it had before its first write. `fit` builds a model and checks
    its first batch inside one, so a `call` that updates state (a counter, a
    running statistic) counts only the real steps, as in Keras.
    """

    def __init__(self):
        self._saved = {}

    def __enter__(self):
        STATELESS.append(self)
        return self

    def __exit__(self, *exc_info):
        STATELESS.remove(self)
        for variable, array in self._saved.values():
            variable.data[...] = array  # in place: views of the array stay valid

    def remember(self, variable):
        """Keeps the value `variable` has before its first write in the scope."""
        if id(variable) not in self._saved:
            self._saved[id(variable)] = (variable, variable.data.copy())


# How many times any variable's array was replaced or moved: a compiled step that
# reads variables by reference checks it (one comparison) before each replay.
MOVES = [0]

_VARIABLE_STATE = ("_array", "name", "trainable", "path", "_layer", "regularizer", "constraint",
                   "aggregation")


def _value(x):
    return x.data if isinstance(x, Tensor) else x


def _check_assign_shape(variable, value):
    if xp.shape(_value(value)) != variable.data.shape:
        raise ValueError(
            f"Cannot assign a value of shape {xp.shape(_value(value))} to variable "
            f"'{variable.path}' of shape {variable.data.shape}."
        )


# The functions `numnet.autodiff.ops.nn` exports (`keep_logits(output, logits)`,
# `kept_logits(output)`): the Tensor methods that fill and read the slot.
keep_logits = Tensor.keep_logits
kept_logits = Tensor.kept_logits


from numnet.autodiff import ops as _ops  # noqa: E402  (ops import Tensor)

