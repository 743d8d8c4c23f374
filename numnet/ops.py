"""`numnet.ops`: numnet's differentiable ops (like `keras.ops`), usable on symbolic tensors.

Every function of `numnet.autodiff.ops` is here under the same name. On tensors and arrays
it computes at once (it *is* the autodiff op); given a symbolic `KerasTensor` (inside a
Functional model's definition) it records the op as a node of the graph instead, as
`keras.ops` does:

```python
inputs = numnet.Input(shape=(4,))
outputs = numnet.ops.sum(numnet.ops.exp(inputs), axis=-1)
model = numnet.Model(inputs, outputs)
```
"""

import functools as _functools

from numnet import ops_namespaces as _keras_names
from numnet.autodiff import ops as _autodiff_ops
from numnet.layers.symbolic import KerasTensor as _KerasTensor
from numnet.layers.symbolic import is_symbolic as _is_symbolic


def _any_symbolic(values):
    """Whether a `KerasTensor` is among `values` or inside them (a quick look at each
    value first: most calls pass tensors and numbers, which need no walk)."""
    for value in values:
        if isinstance(value, _KerasTensor) or (
                isinstance(value, (list, tuple, dict)) and _is_symbolic(value)):
            return True
    return False


def _symbolic_aware(name, function):
    @_functools.wraps(function)
    def op(*args, **kwargs):
        if _any_symbolic(args) or (kwargs and _any_symbolic(kwargs.values())):
            from numnet.layers.op_layer import symbolic_op
            return symbolic_op(name, *args, **kwargs)
        return function(*args, **kwargs)
    # Named as the op (not the inner `op` of a factory), so a function saved in a config
    # (`Lambda(ops.square)`) is written as "square", as Keras writes it.
    op.__name__ = op.__qualname__ = name
    op.__module__ = __name__
    return op


def shape(x):
    """The static shape of `x` as a tuple (`None` for unknown dimensions of a KerasTensor)."""
    if isinstance(x, _KerasTensor):
        return x.shape
    return _autodiff_ops.shape(x)


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """`x` as a Tensor; a KerasTensor is returned as it is (it stands for a tensor)."""
    if isinstance(x, _KerasTensor):
        return x
    return _autodiff_ops.convert_to_tensor(x, dtype=dtype, sparse=sparse, ragged=ragged)


def ndim(x):
    """The number of dimensions of `x` (a `KerasTensor` too)."""
    return len(x.shape) if isinstance(x, _KerasTensor) else _autodiff_ops.ndim(x)


def dtype(x):
    """The dtype name of `x` (a `KerasTensor` too)."""
    return x.dtype if isinstance(x, _KerasTensor) else _autodiff_ops.dtype(x)


def size(x):
    """The number of entries of `x` (None for a `KerasTensor` with an unknown dimension)."""
    if isinstance(x, _KerasTensor):
        return None if None in x.shape else int(_functools.reduce(lambda a, b: a * b, x.shape, 1))
    return _autodiff_ops.size(x)


# Not recorded as graph nodes: conversions, questions about a tensor, and functions of
# functions that run as Python (on symbolic tensors they meet the ops those call). Control
# flow (`cond`, `scan`, `while_loop`, ...) given symbolic tensors is a node, as in Keras.
_NOT_OPS = {"shape", "convert_to_tensor", "convert_to_numpy", "unbroadcast", "is_tensor",
            "custom_gradient", "jvp", "vectorize"}
__all__ = ["shape", "convert_to_tensor", "ndim", "dtype", "size"]
_wrapped = {}  # id(function) -> its wrapper: aliases (swish, silu) stay one function
for _name in dir(_autodiff_ops):
    _value = getattr(_autodiff_ops, _name)
    if _name.startswith("_") or not callable(_value) or isinstance(_value, type) \
            or _name in __all__ or type(_value).__name__ == "module":
        continue
    if _name not in _NOT_OPS:
        canonical = getattr(_value, "__name__", _name)
        if not hasattr(_autodiff_ops, canonical) or getattr(_autodiff_ops, canonical) is not _value:
            canonical = _name
        _value = _wrapped.setdefault(id(_value), _symbolic_aware(canonical, _value))
    globals()[_name] = _value
    __all__.append(_name)
del _name, _value


def custom_gradient(f):
    """`numnet.autodiff.ops.custom_gradient` (see there), refusing symbolic tensors: a
    function with its own gradient runs on tensors, inside a layer's `call()`."""
    inner = _autodiff_ops.custom_gradient(f)

    @_functools.wraps(f)
    def call(*args, **kwargs):
        if _any_symbolic(args) or _any_symbolic(kwargs.values()):
            raise ValueError(
                f"custom_gradient: {getattr(f, '__name__', f)} was called on symbolic "
                f"KerasTensors; a function with a custom gradient runs on tensors: call it "
                f"inside a layer's call().")
        return inner(*args, **kwargs)
    return call


def _namespace(short_name, names):
    """`numnet.ops.<short_name>`: the functions of Keras' `keras.ops.<short_name>` that
    numnet provides (the same objects as in `numnet.ops`); a name numnet lacks says so."""
    import sys
    import types
    module = types.ModuleType(f"{__name__}.{short_name}",
                              f"Keras' `keras.ops.{short_name}` names, from `numnet.ops`.")
    present = [name for name in names if name in globals()]
    for name in present:
        setattr(module, name, globals()[name])
    missing = set(names) - set(present)

    def __getattr__(name):
        if name in missing:
            raise AttributeError(f"numnet has no keras.ops.{short_name}.{name} yet (see the "
                                 f"README's list of what numnet.ops does not provide).")
        raise AttributeError(f"module 'numnet.ops.{short_name}' has no attribute {name!r}")
    module.__getattr__ = __getattr__
    module.__all__ = present
    sys.modules[module.__name__] = module
    return module


nn = _namespace("nn", _keras_names.NN)
numpy = _namespace("numpy", _keras_names.NUMPY)
linalg = _namespace("linalg", _keras_names.LINALG)
image = _namespace("image", _keras_names.IMAGE)
# (not in `__all__`: a star import must not shadow the real numpy)

