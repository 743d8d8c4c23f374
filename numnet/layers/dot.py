"""`Dot`: the dot product of two samples-wise tensors along given axes (and `dot`)."""

from numnet.autodiff import ops
from numnet.autodiff.ops.normalization import normalize as l2_normalize
from numnet.layers.merging import Merge
from numnet.serialization import register_builtin


def _check_axes(axes):
    if isinstance(axes, bool) or not isinstance(axes, (int, list, tuple)):
        raise TypeError("Invalid type for argument `axes`: it should be a list or an int. "
                        f"Received: axes={axes!r}")
    if isinstance(axes, (list, tuple)):
        if len(axes) != 2:
            raise ValueError("Invalid format for argument `axes`: it should contain two "
                             f"elements. Received: axes={axes!r}")
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ValueError("Invalid format for argument `axes`: list elements should be "
                             f"integers. Received: axes={axes!r}")


def _resolved_axes(axes, rank1, rank2):
    """`axes` as two non-negative axes of inputs of ranks `rank1` and `rank2`."""
    if isinstance(axes, int):
        return [axes % rank1, axes % rank2] if axes < 0 else [axes, axes]
    return [a % r if a < 0 else a for a, r in zip(axes, (rank1, rank2))]


def batch_dot(x, y, axes):
    """Per-sample dot product of `x` and `y` along `axes = [ax, ay]` (Keras' batch_dot)."""
    rank_x, rank_y = x.ndim, y.ndim
    if rank_x < 2 or rank_y < 2:
        raise ValueError("Cannot do batch_dot on inputs with rank < 2. Received inputs with "
                         f"shapes {tuple(x.shape)} and {tuple(y.shape)}.")
    ax, ay = axes
    if 0 in (ax, ay):
        raise ValueError("Cannot perform batch_dot over axis 0. If your inputs are not "
                         "batched, add a dummy batch dimension to your inputs.")
    if x.shape[ax] != y.shape[ay]:
        raise ValueError(f"Cannot do batch_dot on inputs with shapes {tuple(x.shape)} and "
                         f"{tuple(y.shape)} with axes={list(axes)}. x.shape[{ax}] != "
                         f"y.shape[{ay}] ({x.shape[ax]} != {y.shape[ay]}).")
    if rank_x == 2:
        x, ax = ops.expand_dims(x, 1), ax + 1
    if rank_y == 2:
        y = ops.expand_dims(y, 2)
    # x: contracted axis last; y: contracted axis second
    x = ops.transpose(x, [i for i in range(x.ndim) if i != ax] + [ax])
    y = ops.transpose(y, [0, ay] + [i for i in range(1, y.ndim) if i != ay])
    middle, trailing = tuple(x.shape[1:-1]), tuple(y.shape[2:])
    x3 = ops.reshape(x, (x.shape[0], -1, x.shape[-1]))
    y3 = ops.reshape(y, (y.shape[0], y.shape[1], -1))
    result = ops.reshape(ops.matmul(x3, y3), (x.shape[0],) + middle + trailing)
    if rank_x == 2:
        result = ops.squeeze(result, 1)
    elif rank_y == 2:
        result = ops.squeeze(result, -1)
    return result


@register_builtin("keras.layers")
class Dot(Merge):
    """Dot product between two tensors along `axes`, per sample.

    For inputs of shapes `(batch, n)` and `(batch, n)` and `axes=1` the
    output is `(batch, 1)`: each sample's dot product.

    Args:
        axes: an integer, or two, the axis of each input to contract.
        normalize: whether to L2-normalize the inputs along `axes` first
            (the output is then the cosine similarity).
    """

    _min_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        _check_axes(axes)
        self.axes = list(axes) if isinstance(axes, tuple) else axes
        self.normalize = normalize

    def _shapes_of(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError("A `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={input_shape}")
        return [tuple(s) for s in input_shape]

    def build(self, input_shape):
        shape1, shape2 = self._shapes_of(input_shape)
        a1, a2 = _resolved_axes(self.axes, len(shape1), len(shape2))
        if shape1[a1] is not None and shape2[a2] is not None and shape1[a1] != shape2[a2]:
            raise ValueError(
                f"Incompatible input shapes: axis values {shape1[a1]} (at axis {a1}) != "
                f"{shape2[a2]} (at axis {a2}). Full input shapes: {shape1}, {shape2}")
        self.built = True

    def _check_input_spec(self, shapes):
        self.build(shapes)

    def compute_output_shape(self, input_shape):
        shape1, shape2 = (list(s) for s in self._shapes_of(input_shape))
        a1, a2 = _resolved_axes(self.axes, len(shape1), len(shape2))
        shape1.pop(a1)
        shape2.pop(a2)
        shape2.pop(0)
        output = shape1 + shape2
        return tuple(output + [1] if len(output) == 1 else output)

    def _merge(self, inputs):
        if len(inputs) != 2:
            raise ValueError("A `Dot` layer should be called on exactly 2 inputs. "
                             f"Received: {len(inputs)} inputs.")
        x1, x2 = inputs
        axes = _resolved_axes(self.axes, x1.ndim, x2.ndim)
        if self.normalize:
            x1 = l2_normalize(x1, axis=axes[0])
            x2 = l2_normalize(x2, axis=axes[1])
        return batch_dot(x1, x2, axes)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    """Functional form of `Dot`: `Dot(axes=axes, **kwargs)(inputs)`."""
    return Dot(axes=axes, **kwargs)(inputs)
