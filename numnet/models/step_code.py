"""Whether a model's compiled steps run only numnet's own Python.

A compiled step is normally captured twice and planned only when the two
captures agree (`numnet.engine.capture.difference`): the second capture is
what catches Python code whose ops change from batch to batch without reading
a tensor (a counter, a NumPy draw, a changing constant). numnet's own layers,
losses and metrics trace the same ops on every batch of a signature
(`tests/models/test_step_code.py` checks every layer class with two captures;
the compiled-against-eager tests in `tests/engine` and `tests/layers` compare
the numbers), so a step made only of them can be planned after its first capture.

Anything of the user's in the step keeps the second capture: a subclassed model
or an overridden step, a layer class, a function or callable object held by a
layer (a `Lambda`'s function, an activation, a regularizer), a loss or a metric
defined outside numnet.
"""

import types
from functools import partial

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
    seen = set()
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
        elif callable(value) and not _is_numnets(value):
            return value
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
    if not _is_numnets(model):
        return False
    for layer in layers:
        if layer is model:
            continue
        if not _is_numnets(layer) or _foreign_code(layer, 1, callables_only=True) is not None:
            return False
    compiled = [model.compiled_loss, model.compiled_metrics]
    for holder in compiled:
        if holder is not None and (not _is_numnets(holder) or
                                   _foreign_code(holder, 3) is not None):
            return False
    return True
