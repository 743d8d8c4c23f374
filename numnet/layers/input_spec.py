"""`InputSpec`: what a layer accepts (rank, shape, dtype, named axes), checked at each call."""

from numnet.backend import xp

from numnet.backend import standardize_dtype
from numnet.tree import flatten
from numnet.serialization import register_builtin


@register_builtin("keras.layers")
class InputSpec:
    """Specifies the rank, dtype and shape of every input to a layer (as `keras.InputSpec`).

    A layer sets `self.input_spec` (one spec, or a structure of them, one per input); its
    inputs are then checked before each call. `None` in a shape matches any size.

    Args:
        dtype: expected dtype.
        shape: expected shape, batch axis included.
        ndim, max_ndim, min_ndim: expected, largest and smallest rank.
        axes: `{axis: size}` for axes whose size is fixed.
        allow_last_axis_squeeze: accept one more trailing axis of size 1 (or one fewer
            when the spec's last axis is 1).
        name: the key of this input when inputs are passed as a dict.
        optional: whether the input may be None.
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = standardize_dtype(dtype) if dtype is not None else None
        if shape is not None:
            self.shape = tuple(None if d is None else int(d) for d in shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            self.axes = {int(k): v for k, v in (axes or {}).items()}
        except (ValueError, TypeError, AttributeError):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. Received: "
                            f"axes={axes}") from None
        top = self.ndim if self.ndim else self.max_ndim
        if self.axes and top is not None and max(self.axes) > top - 1:
            raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed "
                             f"value: {top - 1}")

    def __repr__(self):
        parts = [f"{key}={value}" for key, value in (
            ("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
            ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim), ("axes", self.axes))
            if value]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _ordered_inputs(specs, inputs):
    """The inputs as a flat list in spec order (a dict is read by the specs' names)."""
    if isinstance(inputs, dict):
        names = [spec.name for spec in specs]
        if all(names):
            missing = [name for name in names if name not in inputs]
            if missing:
                raise ValueError(
                    f'Missing data for input "{missing[0]}". You passed a data dictionary '
                    f"with keys {list(inputs)}. Expected the following keys: {names}")
            return [inputs[name] for name in names]
    return flatten(inputs)


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raises a ValueError naming the layer, the input and the shapes if `inputs` do not fit."""
    if not input_spec:
        return
    specs = flatten(input_spec)
    inputs = _ordered_inputs(specs, inputs)
    if len(inputs) != len(specs):
        names = [spec.name for spec in specs if spec is not None]
        if len(names) == len(specs) and all(names):
            example = ", ".join(f"'{n}': ..." for n in names)
            raise ValueError(
                f'Layer "{layer_name}" expects {len(specs)} named input(s) with keys {names}, '
                f"but it received {len(inputs)} input tensors. Pass inputs as a dict, e.g. "
                f"`layer({{{example}}})`.")
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received '
                         f"{len(inputs)} input tensors. Inputs received: {inputs}")
    for index, (x, spec) in enumerate(zip(inputs, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        _check_one(index, x, spec, layer_name)


def _check_one(index, x, spec, layer_name):
    if not hasattr(x, "shape"):
        x = xp.asarray(x)
    shape = tuple(x.shape)
    ndim = len(shape)
    where = f"Input {index} with name '{spec.name}' of layer '{layer_name}' is incompatible " \
            "with the layer:"
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{where} expected ndim={spec.ndim}, found ndim={ndim}. Full shape "
                         f"received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{where} expected max_ndim={spec.max_ndim}, found ndim={ndim}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{where} expected min_ndim={spec.min_ndim}, found ndim={ndim}. Full "
                         f"shape received: {shape}")
    if spec.dtype is not None:
        dtype = standardize_dtype(x.dtype)
        if dtype != spec.dtype:
            raise ValueError(f"{where} expected dtype={spec.dtype}, found dtype={dtype}")
    for axis, value in spec.axes.items():
        if value is not None and shape[axis] not in (value, None):
            raise ValueError(f"{where} expected axis {axis} of input shape to have value "
                             f"{value}, but received input with shape {shape}")
    if spec.shape is not None:
        expected = spec.shape
        if spec.allow_last_axis_squeeze:
            if shape and shape[-1] == 1:
                shape = shape[:-1]
            if expected and expected[-1] == 1:
                expected = expected[:-1]
        for want, got in zip(expected, shape):
            if want is not None and got is not None and want != got:
                raise ValueError(f"{where} expected shape={spec.shape}, found shape={shape}")
