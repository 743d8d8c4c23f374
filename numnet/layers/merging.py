"""Merging layers: combine a list of tensors into one.

`Concatenate` joins along an axis; `Add`, `Subtract`, `Multiply`, `Average`,
`Maximum` and `Minimum` combine element-wise (with broadcasting over axes of
size 1, as Keras allows). Each has a function form (`concatenate`, `add`, ...)
that creates the layer and calls it at once:

```python
merged = numnet.layers.concatenate([input_wide, hidden2])
```
"""

from functools import reduce

from numnet.backend import xp

from numnet.autodiff import ops
from numnet.autodiff.tensor import Tensor
from numnet.layers import merge_rules
from numnet.layers.base import Layer
from numnet.layers.op_layer import symbolic_op
from numnet.layers.symbolic import KerasTensor
from numnet.serialization import register_builtin


def _checked_masks(inputs, mask):
    """`mask` checked against `inputs` as Keras' merging layers check it (None: no mask)."""
    if mask is None:
        return None
    if not isinstance(mask, (tuple, list)):
        raise ValueError(f"`mask` should be a list. Received: mask={mask}")
    if not isinstance(inputs, (tuple, list)):
        raise ValueError(f"`inputs` should be a list. Received: inputs={inputs}")
    if len(mask) != len(inputs):
        raise ValueError(
            "The lists `inputs` and `mask` should have the same length. Received: "
            f"inputs={inputs} of length {len(inputs)}, and mask={mask} of length {len(mask)}")
    return list(mask)


def _symbolic(*values):
    return any(isinstance(v, KerasTensor) for v in values)


def _logical_or(a, b):
    if _symbolic(a, b):
        return symbolic_op("logical_or", a, b)
    return Tensor(xp.logical_or(_array(a), _array(b)))


def _array(x):
    return xp.asarray(x.data if isinstance(x, Tensor) else x)


def _is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


class Merge(Layer):
    """Base class of the merging layers: called on a list of tensors, returns one."""

    _min_inputs = 1
    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """The output mask: the OR of the inputs' masks (None if any input has none)."""
        masks = _checked_masks(inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        if _symbolic(*masks):
            return reduce(_logical_or, masks)
        return merge_rules.merged_mask(inputs, masks)  # with ops: compiled steps follow it

    def _shapes_of(self, input_shape):
        if _is_shape(input_shape) or not isinstance(input_shape, (list, tuple)):
            raise ValueError(
                f"A merge layer ('{self.name}', {type(self).__name__}) should be called on a "
                f"list of inputs. Received: input_shape={input_shape} (not a list of tensors)"
            )
        shapes = [tuple(None if d is None else int(d) for d in s) for s in input_shape]
        if len(shapes) < self._min_inputs:
            raise ValueError(
                f"A `{type(self).__name__}` layer ('{self.name}') should be called on a list "
                f"of at least {self._min_inputs} input(s). Received {len(shapes)} input(s)."
            )
        return shapes

    def _check_input_spec(self, shapes):
        self.compute_output_shape(shapes)

    def build(self, input_shape):
        self._shapes_of(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        """Broadcasts the non-batch axes (each size must match or be 1)."""
        shapes = self._shapes_of(input_shape)
        rank = max(len(s) for s in shapes)
        result = []
        for axis in range(1, rank):
            size = 1
            for s in shapes:
                padded = (s[0],) + (1,) * (rank - len(s)) + s[1:]
                d = padded[axis]
                if d is None:
                    size = None if size in (1, None) else size
                elif d != 1:
                    if size not in (1, None) and size != d:
                        raise ValueError(
                            f"Inputs have incompatible shapes. Received shapes "
                            f"{tuple(shapes[0][1:])} and {tuple(s[1:])} (layer "
                            f"'{self.name}', {type(self).__name__})."
                        )
                    size = d
            result.append(size)
        batch = next((s[0] for s in shapes if s and s[0] is not None), None)
        return (batch,) + tuple(result)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A merge layer ('{self.name}', {type(self).__name__}) should be called on "
                f"a list of inputs. Received: inputs={inputs!r} (not a list of tensors)"
            )
        return self._merge(list(inputs))

    def _merge(self, inputs):
        raise NotImplementedError


@register_builtin("keras.layers")
class Add(Merge):
    """Adds a list of inputs element-wise: `Add()([x1, x2])` is `x1 + x2`."""

    def _merge(self, inputs):
        return reduce(ops.add, inputs)


@register_builtin("keras.layers")
class Subtract(Merge):
    """Subtracts two inputs: `Subtract()([x1, x2])` is `x1 - x2`."""

    _min_inputs = 1  # the exact count is checked below, with Keras' message

    def _shapes_of(self, input_shape):
        shapes = super()._shapes_of(input_shape)
        if len(shapes) != 2:
            raise ValueError(
                f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                f"{len(shapes)} inputs with shapes {shapes} (layer '{self.name}')."
            )
        return shapes

    def _merge(self, inputs):
        return ops.subtract(inputs[0], inputs[1])


@register_builtin("keras.layers")
class Multiply(Merge):
    """Multiplies a list of inputs element-wise."""

    def _merge(self, inputs):
        return merge_rules.masked_multiply(inputs)


@register_builtin("keras.layers")
class Average(Merge):
    """The element-wise mean of a list of inputs."""

    def _merge(self, inputs):
        return ops.multiply(reduce(ops.add, inputs), 1.0 / len(inputs))


@register_builtin("keras.layers")
class Maximum(Merge):
    """The element-wise maximum of a list of inputs."""

    def _merge(self, inputs):
        return merge_rules.masked_extreme(ops.maximum, inputs)


@register_builtin("keras.layers")
class Minimum(Merge):
    """The element-wise minimum of a list of inputs."""

    def _merge(self, inputs):
        return merge_rules.masked_extreme(ops.minimum, inputs)


@register_builtin("keras.layers")
class Concatenate(Merge):
    """Concatenates a list of inputs along `axis`.

    All inputs must have the same shape except along the concatenation axis.

    Args:
        axis: the axis to join along (the last one by default).

    Example:

    ```python
    concat = numnet.layers.Concatenate()([input_wide, hidden2])  # (None, 5 + 30)
    ```
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = self._shapes_of(input_shape)
        rank = len(shapes[0])
        axis = self.axis if self.axis >= 0 else rank + self.axis
        error = ValueError(
            "A `Concatenate` layer requires inputs with matching shapes except for the "
            f"concatenation axis. Received: input_shape={shapes} (layer '{self.name}', "
            f"axis={self.axis})"
        )
        if any(len(s) != rank for s in shapes) or not 0 < axis < rank:
            raise error
        result = list(shapes[0])
        for s in shapes[1:]:
            for i in range(1, rank):
                if i == axis:
                    continue
                if result[i] is None:
                    result[i] = s[i]
                elif s[i] is not None and s[i] != result[i]:
                    raise error
        sizes = [s[axis] for s in shapes]
        result[axis] = None if any(d is None for d in sizes) else sum(sizes)
        result[0] = next((s[0] for s in shapes if s[0] is not None), None)
        return tuple(result)

    def _merge(self, inputs):
        return ops.concatenate(merge_rules.common_float(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Concatenated masks (an unmasked input counts as all True), reduced over the
        last axis, as Keras' `Concatenate` does."""
        masks = _checked_masks(inputs, mask)
        if masks is None or all(m is None for m in masks):
            return None
        return merge_rules.concatenated_mask(inputs, masks, self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: `Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """Functional form of `Add`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of `Subtract`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of `Average`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of `Minimum`."""
    return Minimum(**kwargs)(inputs)
