"""Whether a model's compiled steps run only numnet's own Python.

A compiled step is normally captured twice and planned only when the two
captures agree (`numnet.engine.capture.difference`): the second capture is
what catches Python code whose ops change from batch to batch without reading
a tensor (a counter, a NumPy draw, a changing constant). numnet's own layers,
losses and metrics trace the same ops on every batch of a signature
(`tests/models/test_step_code.py` checks every layer class with two captures;
the compiled-against-eager tests in `tests/engine` and `tests/layers` compare
the numbers), so a step made only of them can be planned after its first capture.

A user's layer or subclassed model is planned after one capture too when its
`call` only wires layers and numnet functions together (`plain_user_class`), as
the textbook's subclassed Wide & Deep model does: it stores nothing, calls
nothing of the user's but such code, and reads no global but numnet, plain
numbers and a few pure builtins, so it has no Python state that could change
its ops between batches. The same holds for a function of the user's written
so (`plain_function`): a loss, a metric, an activation, a regularizer, a
`Lambda`'s function. (Keras compiles every step from one trace; numnet is more
careful.)

Anything else of the user's in the step keeps the second capture: an overridden
step (`train_step`, `compute_loss`, ...) or `__call__`, a `call` or function
that stores an attribute, mutates a container, imports or reads a global of the
user's (NumPy, `random`, a function of its own), a callable object of the
user's held by a layer, a loss or a metric class defined outside numnet.
"""

import builtins
import dis
import types
from functools import lru_cache, partial

from numnet.layers.base import Layer

_PLAIN = frozenset((bool, int, float, complex, str, bytes, type(None)))
_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, partial)


def _module_of(obj):
    if isinstance(obj, partial):
        return _module_of(obj.func)
    if isinstance(obj, (type,) + _FUNCTIONS):
        return getattr(obj, "__module__", None) or ""
    return type(obj).__module__ or ""


def _is_numnets(obj):
    module = _module_of(obj)
    return module == "numnet" or module.startswith("numnet.")


def _foreign_code(obj, depth, callables_only=False):
    """The first callable not from numnet among `obj`'s attributes (None if there is none).

    Containers are looked into; objects of numnet's classes `depth` levels deep (only
    callable ones with `callables_only`: a layer's regularizers, constraints and
    initializers, not its graph nodes and variables).
    """
    pending = [(value, depth) for value in vars(obj).values()]
    seen = {id(obj)}
    while pending:
        value, level = pending.pop()
        kind = type(value)
        if kind in _PLAIN or id(value) in seen or isinstance(value, type):
            continue
        seen.add(id(value))
        if kind is list or kind is tuple:
            pending.extend((item, level) for item in value)
        elif kind is dict:
            pending.extend((item, level) for item in value.values())
        elif callable(value) and not _is_numnets(value) and not isinstance(value, Layer):
            if not plain_function(value):
                return value  # (a layer of the user's is looked at as a layer, alone)
        elif level > 0 and hasattr(value, "__dict__") and not isinstance(value, Layer) and \
                (callable(value) or not callables_only) and _is_numnets(value):
            pending.extend((item, level - 1) for item in vars(value).values())
    return None


def only_numnet_code(model, layers):
    """True when every layer in `layers`, the model's class and its compiled losses and
    metrics are numnet's own, with no callable of the user's among their attributes."""
    try:
        return _only_numnet_code(model, layers)
    except Exception:  # noqa: BLE001 - an object that cannot be inspected: capture twice
        return False


def _only_numnet_code(model, layers):
    for layer in layers:
        if not _is_numnets(layer) and not plain_user_class(layer):
            return False
        if layer is not model and _foreign_code(layer, 1, callables_only=True) is not None:
            return False
    if not _is_numnets(model) and _foreign_code(model, 1, callables_only=True) is not None:
        return False
    compiled = [model.compiled_loss, model.compiled_metrics]
    for holder in compiled:
        if holder is not None and (not _is_numnets(holder) or
                                   _foreign_code(holder, 3) is not None):
            return False
    return True


# ------------------------------------------------------------------ the user's plain code
# What a user's class may define of the methods numnet's classes have: the rest (`__call__`,
# `train_step`, `compute_loss`, `compute_mask`, properties...) runs in the step unanalysed.
_OVERRIDABLE = frozenset(("__init__", "call", "build", "get_config", "from_config",
                          "compute_output_shape"))
# Builtins that compute from their arguments only.
_PURE_BUILTINS = frozenset((
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "isinstance", "len",
    "list", "max", "min", "range", "reversed", "slice", "sorted", "str", "sum", "tuple", "zip",
    "KeyError", "NotImplementedError", "TypeError", "ValueError"))
# Byte codes that change state a later batch could see (or that we do not follow).
_STATEFUL_OPS = frozenset((
    "STORE_ATTR", "DELETE_ATTR", "STORE_GLOBAL", "DELETE_GLOBAL", "STORE_SUBSCR",
    "DELETE_SUBSCR", "STORE_SLICE", "IMPORT_NAME", "IMPORT_FROM", "IMPORT_STAR", "STORE_NAME",
    "DELETE_NAME", "LOAD_NAME", "YIELD_VALUE", "BEFORE_WITH", "SETUP_WITH",
    "BEFORE_ASYNC_WITH", "GET_AWAITABLE", "DELETE_DEREF"))
# Attributes that mutate a container in place, or hand a tensor's raw array to Python code
# (arithmetic on it would be a constant to a replay), whatever object they are read from.
_MUTATING_NAMES = frozenset((
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem",
    "add", "discard", "sort", "reverse", "__setitem__", "__delitem__", "__setattr__",
    "__delattr__", "__dict__", "data", "_array"))
_ATTRIBUTE_OPS = ("LOAD_ATTR", "LOAD_METHOD")
_LOCAL_LOADS = ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF", "LOAD_FAST_LOAD_FAST")


def plain_user_class(obj):
    """Whether `obj`'s classes up to numnet's define nothing run in a step but plain `call`s:
    each stores nothing, and reaches only `obj`'s layers, numnet objects and functions,
    plain constants, pure builtins and other such methods of `obj` (see the module docstring).
    """
    try:
        return all(_plain_class_body(cls, obj) for cls in _user_classes(type(obj)))
    except Exception:  # noqa: BLE001 - code we cannot read is not plain
        return False


def plain_function(function):
    """Whether `function`, of the user's (a loss, a metric, an activation, a `Lambda`'s or a
    regularizer's function), is plain as a plain `call` is (see `plain_user_class`)."""
    if not isinstance(function, types.FunctionType):
        return False
    try:
        return _plain_function(function, None, set())
    except Exception:  # noqa: BLE001 - code we cannot read is not plain
        return False


def _user_classes(cls):
    """The classes of `cls`'s method resolution order that are not numnet's (or `object`)."""
    return [c for c in cls.__mro__ if c is not object and not _is_numnets(c)]


def _plain_class_body(cls, obj):
    numnet_base = next(c for c in type(obj).__mro__ if _is_numnets(c))
    for name, member in vars(cls).items():
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if name == "call":
            if not isinstance(member, types.FunctionType) or \
                    not _plain_function(member, obj, set()):
                return False
        elif name in ("__getattr__", "__getattribute__") or (
                hasattr(numnet_base, name) and name not in _OVERRIDABLE and
                (callable(member) or isinstance(member, property))):
            return False
    return True


def _plain_function(function, obj, seen):
    """Whether `function` (a method of `obj`'s class, or a function if `obj` is None) is plain;
    `seen`: the methods being checked.

    The variables of a closure count as globals (a class written inside a function that
    takes `keras` as an argument reads it from a cell).
    """
    if function in seen:
        return True
    seen.add(function)
    code = function.__code__
    cells = dict(zip(code.co_freevars, (c.cell_contents for c in function.__closure__ or ())))
    self_name = code.co_varnames[0] if obj is not None else None  # a method's `self`
    return _plain_code(code, Scope(function.__globals__, cells, obj, self_name), seen)


class Scope:
    """What the names of a method's code stand for: its module's globals, its closure's
    cells, the object it is a method of, and the name of `self`."""

    __slots__ = ("module_globals", "cells", "obj", "self_name")

    def __init__(self, module_globals, cells, obj, self_name):
        self.module_globals, self.cells = module_globals, cells
        self.obj, self.self_name = obj, self_name


def _plain_code(code, scope, seen):
    chains = _chains(code)
    if chains is None:
        return False
    for load, names in chains:
        if load.opname == "STORE_DEREF":
            if load.argval in scope.cells:
                return False  # `nonlocal`: writes the closure's state
            continue
        start = _chain_start(load, scope)
        if start is not None:
            kind, value = start
            for name in names:
                value = value if value is _MISSING else _read(value, name)
            if not _reachable(kind, value, len(names), scope, seen):
                return False
    return True


@lru_cache(maxsize=512)
def _chains(code):
    """What `code` (and the comprehensions and lambdas in it) loads that may lead out of
    it: (the load instruction, the attribute names read after it) for each global, closure
    variable and local, and its stores to cells; None if it changes state
    (`_STATEFUL_OPS`, `_MUTATING_NAMES`).

    Depends on the code only, so a class defined anew (by a function, or per test) is read once.
    """
    instructions = list(dis.get_instructions(code))
    chains, index = [], 0
    while index < len(instructions):
        op = instructions[index]
        if op.opname in _STATEFUL_OPS or \
                op.opname in _ATTRIBUTE_OPS and op.argval in _MUTATING_NAMES:
            return None
        if op.opname == "LOAD_CONST" and isinstance(op.argval, types.CodeType):
            inner = _chains(op.argval)  # a comprehension or lambda: the same rules
            if inner is None:
                return None
            chains.extend(inner)
        index += 1
        if op.opname == "STORE_DEREF":  # a local of a comprehension's, or a closure's
            chains.append((_Load(op.opname, op.argval), ()))
        elif op.opname == "LOAD_GLOBAL" or op.opname in _LOCAL_LOADS:
            names = []
            while index < len(instructions) and instructions[index].opname in _ATTRIBUTE_OPS:
                names.append(instructions[index].argval)
                index += 1
            if _MUTATING_NAMES.intersection(names):
                return None
            chains.append((_Load(op.opname, op.argval), tuple(names)))
    return tuple(chains)


class _Load:
    """The part of a load instruction `_chain_start` reads (an `Instruction` holds more)."""

    __slots__ = ("opname", "argval")

    def __init__(self, opname, argval):
        self.opname, self.argval = opname, argval


_MISSING = object()


def _chain_start(op, scope):
    """("global", "builtin" or "self", the object) when `op` loads a global, a closure's
    variable or `self`; None for other instructions."""
    if op.opname == "LOAD_GLOBAL":
        value = scope.module_globals.get(op.argval, _MISSING)
        if value is not _MISSING:
            return "global", value
        if op.argval in _PURE_BUILTINS:
            return "builtin", getattr(builtins, op.argval)
        return "global", _MISSING
    if op.opname == "LOAD_DEREF" and op.argval in scope.cells:
        return "global", scope.cells[op.argval]
    if op.opname in _LOCAL_LOADS:
        names = op.argval if isinstance(op.argval, tuple) else (op.argval,)
        if scope.self_name in names[:-1]:
            return "self", _MISSING  # `self` loaded bare, with another local after it
        if names[-1] == scope.self_name:
            return "self", scope.obj
    return None


def _read(value, name):
    """`value.name`, unless reading it would run a property of the user's."""
    for klass in type(value).__mro__:
        if name in vars(klass):
            if isinstance(vars(klass)[name], property) and not _is_numnets(klass):
                return _MISSING
            break
    return getattr(value, name, _MISSING)


def _reachable(kind, value, length, scope, seen):
    """Whether a plain `call` may use `value`, read as a global or from `self` (`length`
    attributes deep)."""
    if value is _MISSING or (kind == "self" and length == 0):
        return False  # unknown, or `self` itself handed on (an alias escapes the analysis)
    if kind == "builtin":
        return length == 0
    if isinstance(value, types.MethodType):
        if value.__self__ is scope.obj and not _is_numnets(value.__func__):
            return _plain_function(value.__func__, scope.obj, seen)  # a helper of the user's
        return _is_numnets(value.__func__) and _plain_value(value.__self__, kind == "self")
    return _plain_value(value, kind == "self")


def _plain_value(value, of_self):
    """Plain constants, numnet's modules, functions and objects, the layers of `self`
    (`of_self`), and containers of them (not classes: building layers or weights in a step)."""
    if type(value) in _PLAIN:
        return True
    if isinstance(value, types.ModuleType):
        return value.__name__ == "numnet" or value.__name__.startswith("numnet.")
    if isinstance(value, type):
        return False
    if type(value) in (list, tuple, dict):
        return all(_plain_value(item, of_self) for item in
                   (value.values() if type(value) is dict else value))
    if isinstance(value, _FUNCTIONS):
        return _is_numnets(value)
    if isinstance(value, Layer):
        # A sublayer: `only_numnet_code` looks at each layer of the model. Not a global
        # layer: its own layers would go unchecked.
        return of_self
    return _is_numnets(value) and _foreign_code(value, 1, callables_only=True) is None
