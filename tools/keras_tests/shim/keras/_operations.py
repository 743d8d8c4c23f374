"""Keras' operation classes (`keras.src.ops.core.Cast`, `keras.src.ops.numpy.Add`, ...)
under the Keras module that defines each: numnet's graph nodes of the same ops
(`numnet.layers.op_layer.operation_classes`), and `KerasTensor`, which
`keras.src.ops` re-exports."""

import types

from numnet.layers.op_layer import operation_classes
from numnet.layers.symbolic import KerasTensor

_MODULES = ("core", "numpy", "nn", "math", "linalg", "image", "einops")
for _short in _MODULES:
    globals()[_short] = types.SimpleNamespace(**operation_classes(f"keras.src.ops.{_short}"))
numpy.Abs = numpy.Absolute  # (Keras defines `Abs` as a subclass of `Absolute`)
# `keras.src.ops` imports every name of its modules: `keras.src.ops.Unstack` too.
top = types.SimpleNamespace(KerasTensor=KerasTensor, **{
    name: cls for _short in _MODULES for name, cls in vars(globals()[_short]).items()})
