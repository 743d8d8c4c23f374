"""The input signature of an export: the names, dtypes and shapes of the model's inputs.

As in Keras, `input_signature` defaults to what the model knows: a Functional
model's `Input`s (their names kept), a Sequential model's `Input`, or the
shapes a subclassed model was first called on. Given explicitly, it is, as in
Keras, a list holding the structure of the model's one argument
(`[keras.Input(shape=(8,))]`, `[[spec_a, spec_b]]`, `[{"a": spec, ...}]`); a
bare spec or a bare structure is accepted too. A spec is a `numnet.Input`
(`KerasTensor`), or anything with `shape` and `dtype` (a Keras `InputSpec`, a
`tf.TensorSpec`, an array). The batch dimension is always exported as dynamic;
every other dimension must be known.
"""

import numpy as np

from numnet.backend import floatx
from numnet.export.errors import ExportError
from numnet.export.graph import TensorSpec


def input_signature_of(model, input_signature=None):
    """([TensorSpec], structure) of the model's inputs; structure is single, list or dict."""
    if input_signature is None:
        items, structure = _from_model(model)
    else:
        items, structure = _from_signature(model, input_signature)
    default_names = _default_names(model, len(items))
    specs = []
    for i, (name, item) in enumerate(items):
        specs.append(_spec(model, item, name or default_names[i]))
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExportError(f"Cannot export model '{model.name}': several inputs are named "
                          f"{duplicates}; give the inputs distinct names.")
    return specs, structure


def _from_model(model):
    from numnet.models.functional import Functional
    if isinstance(model, Functional):
        return _structure_items(model.input)
    inputs = getattr(model, "inputs", None)
    if inputs:
        return _structure_items(inputs[0] if len(inputs) == 1 else list(inputs))
    config = model.get_build_config() if model.built else None
    shape = None if config is None else config.get("input_shape")
    if shape is None:
        raise ExportError(
            f"Cannot export model '{model.name}': it has never been called, so its inputs "
            "are unknown. Call it on data (or fit it) first, or pass "
            "input_signature=[numnet.Input(shape=...)].")
    dtype = np.dtype(floatx())
    if isinstance(shape, dict):
        return [(k, (shape[k], dtype)) for k in sorted(shape)], "dict"
    if shape and isinstance(shape[0], (list, tuple)):
        return [(None, (s, dtype)) for s in shape], "list"
    return [(None, (shape, dtype))], "single"


def _from_signature(model, signature):
    if isinstance(signature, (list, tuple)) and len(signature) == 1:
        signature = signature[0]  # Keras: a list of the call's arguments (a model has one)
    return _structure_items(signature)


def _structure_items(structure):
    """[(name or None, spec-like)] and the structure kind."""
    if isinstance(structure, dict):
        return [(str(k), structure[k]) for k in sorted(structure)], "dict"
    if isinstance(structure, (list, tuple)):
        return [(None, x) for x in structure], "list"
    return [(None, structure)], "single"


def _default_names(model, count):
    names = getattr(model, "input_names", None)
    if isinstance(names, (list, tuple)) and len(names) == count:
        return [str(n) for n in names]
    inputs = getattr(model, "inputs", None)
    if inputs and len(inputs) == count and all(getattr(t, "name", None) for t in inputs):
        return [t.name for t in inputs]
    return [f"input_{i}" for i in range(count)]


def _spec(model, item, default_name):
    """A `TensorSpec` (batch dimension None) from a spec-like object."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], np.dtype):
        shape, dtype, name = item[0], item[1], None  # from a build config
    else:
        if not (hasattr(item, "shape") and hasattr(item, "dtype")):
            raise ExportError(
                f"Cannot export model '{model.name}': input_signature entries must be "
                "numnet.Input(...) tensors, or specs with `shape` and `dtype` (a Keras "
                f"InputSpec, a tf.TensorSpec, an array); received {item!r}.")
        shape, dtype = _shape_of(item), _dtype_of(item.dtype)
        name = item.name if isinstance(getattr(item, "name", None), str) and \
            not isinstance(item, np.ndarray) else None
        if name is not None and ":" in name:  # tf.TensorSpec names may carry ":0"
            name = name.split(":")[0]
    name = name or default_name
    if shape is None or len(shape) == 0:
        raise ExportError(f"Cannot export model '{model.name}': input '{name}' has no batch "
                          f"dimension (shape {shape}).")
    shape = (None,) + tuple(shape[1:])
    unknown = [i for i, d in enumerate(shape) if i and d is None]
    if unknown:
        raise ExportError(
            f"Cannot export model '{model.name}': dimension {unknown[0]} of input '{name}' "
            f"(shape {shape}) is unknown; only the batch dimension can be dynamic. Give its "
            "size in input_signature.")
    return TensorSpec(name, dtype, shape)


def _shape_of(item):
    shape = item.shape
    if hasattr(shape, "as_list"):  # tf.TensorShape
        shape = shape.as_list() if shape.rank is not None else None
    return None if shape is None else tuple(None if d is None else int(d) for d in shape)


def _dtype_of(dtype):
    dtype = getattr(dtype, "as_numpy_dtype", dtype)  # tf.DType
    return np.dtype(dtype if dtype is not None else floatx())
