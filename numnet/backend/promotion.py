"""Keras' dtype promotion: the dtype that arrays (and Python numbers) of different types meet in.

Keras promotes along a lattice (JAX's), not along NumPy's table:

- an integer meeting a float takes the float's dtype: int32 with float32 is float32 (NumPy
  makes float64), int16 with float16 is float16;
- two integers meet in the smallest integer type holding both (int8 with uint8 is int16);
- a Python number is *weak*: it takes the kind of the array it meets, and when its kind wins
  (a float against an integer array, an int against a boolean one) the result has
  `floatx()`'s precision: int32 with `1.5` is float32, where NumPy makes float64.

As in Keras on TensorFlow, int64 and float64 results stay 64-bit; uint64 and complex128 ones
are narrowed to uint32 and complex64, as Keras does on every backend (an op whose inputs
share one dtype keeps it: numnet does not narrow uint64 + uint64).
"""

from functools import lru_cache

from numnet.backend.config import floatx, standardize_dtype

_WEAK_INT, _WEAK_FLOAT = "int", "float"  # the lattice's names for Python's int and float

# Each type's immediate successors: a type promotes to everything reachable from it.
_SUCCESSORS = {
    "bool": (_WEAK_INT,),
    _WEAK_INT: ("uint8", "int8", "complex64"),
    "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"),
    "uint32": ("int64", "uint64"),
    "uint64": (_WEAK_FLOAT,),
    "int8": ("int16",),
    "int16": ("int32",),
    "int32": ("int64",),
    "int64": (_WEAK_FLOAT,),
    _WEAK_FLOAT: ("float16",),
    "float16": ("float32",),
    "float32": ("float64", "complex64"),
    "float64": ("complex128",),
    "complex64": ("complex128",),
    "complex128": (),
}


def _reachable():
    """Every type with the set of types it promotes to (itself included)."""
    above = {}

    def visit(name):
        if name not in above:
            above[name] = {name}.union(*(visit(s) for s in _SUCCESSORS[name]))
        return above[name]
    for name in _SUCCESSORS:
        visit(name)
    return above


_ABOVE = _reachable()


@lru_cache(maxsize=512)
def _least_upper_bound(names):
    """The lowest type on the lattice that all of `names` (a frozenset) promote to."""
    unknown = [n for n in names if n not in _ABOVE]
    if unknown:
        raise ValueError(f"dtype={unknown[0]!r} is not a valid dtype for Keras type promotion.")
    common = set.intersection(*(_ABOVE[n] for n in names))
    least = [c for c in common if common <= _ABOVE[c]]
    return least[0]


def _node(dtype):
    """(the lattice's name of `dtype`, whether it is a Python number's weak type)."""
    if dtype is int or dtype is float:
        return (_WEAK_INT if dtype is int else _WEAK_FLOAT), True
    return standardize_dtype(dtype), False


def result_type(*dtypes):
    """The dtype Keras' promotion rules give `dtypes` (dtypes, their names, or Python's
    `int`, `float` and `bool` for Python numbers; None stands for `floatx()`), as a name.

    `result_type("int32", "float32")` is `"float32"`; `result_type("int32", float)` is
    `floatx()`; `result_type("uint8", int)` is `"uint8"`.
    """
    if not dtypes:
        return floatx()
    nodes = [_node(floatx() if d is None else d) for d in dtypes]
    names = frozenset(name for name, _ in nodes)
    if len(names) == 1 and not all(weak for _, weak in nodes):
        name = next(iter(names))
        return _NARROWED.get(name, name)
    if all(weak for _, weak in nodes):  # Python numbers only: their strong types meet
        names = frozenset("int32" if n == _WEAK_INT else "float32" for n in names)
        return _with_precision(_least_upper_bound(names))
    found = _least_upper_bound(names)
    found = _with_precision(found) if found in (_WEAK_INT, _WEAK_FLOAT) else found
    return _NARROWED.get(found, found)


# Keras narrows these results on every backend (TensorFlow keeps int64 and float64).
_NARROWED = {"uint64": "uint32", "complex128": "complex64"}


def _with_precision(name):
    """A weak result (or one from Python numbers alone) at `floatx()`'s precision."""
    bits = floatx()[-2:]
    if name in (_WEAK_INT, "int32", "int64"):
        return f"int{bits}"
    if name in (_WEAK_FLOAT, "float32", "float64"):
        return f"float{bits}"
    return name
