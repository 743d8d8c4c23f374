"""`Lambda` (wraps a function as a layer) and `Identity` (returns its input)."""

import base64
import builtins
import inspect
import marshal
import types

from numnet.layers.base import Layer
from numnet.serialization import (
    deserialize_keras_object, get_registered_name, in_safe_mode, register_builtin,
    serialize_keras_object,
)


@register_builtin("keras.layers")
class Identity(Layer):
    """Returns its inputs unchanged (a placeholder layer); masks pass through."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


@register_builtin("keras.layers")
class Lambda(Layer):
    """Wraps a function of tensors as a layer: `Lambda(lambda x: x ** 2)`.

    The function should use `numnet.ops` (so it is differentiable and runs
    in compiled steps). It may take `mask` and `training` arguments, which the
    layer then passes on.

    Saving: a named function is saved by name (pass it in `custom_objects`
    or register it to load the model); a Python `lambda` is saved as its
    bytecode, which loading refuses unless `safe_mode=False` (only for files
    you trust: loading it runs that code), as in Keras.

    Args:
        function: the function, called as `function(inputs, **arguments)`.
        output_shape: the output shape without the batch axis (or a
            function of the input shape); inferred by running the function
            on zeros when not given.
        mask: a mask for the outputs, or a function `(inputs, mask) -> mask`.
        arguments: extra keyword arguments for `function`.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda layer '{self.name}': `function` must be callable; "
                             f"received {function!r}.")
        self.arguments = arguments or {}
        self.function = function
        self.supports_masking = mask is not None
        self.mask = mask
        self._lambda_output_shape = output_shape
        try:
            names = inspect.getfullargspec(function).args
        except TypeError:
            names = []
        self._fn_expects_training_arg = "training" in names
        self._fn_expects_mask_arg = "mask" in names

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        shape = self._lambda_output_shape
        if shape is None:
            try:
                return super().compute_output_shape(input_shape)
            except Exception as error:  # noqa: BLE001 - any failure means "cannot infer"
                raise NotImplementedError(
                    f"We could not automatically infer the shape of the Lambda's output "
                    f"(layer '{self.name}': {error}). Please specify the `output_shape` "
                    "argument for this Lambda layer.") from error
        if callable(shape):
            return shape(input_shape)
        return _with_batch(shape, _first_dimension(input_shape))

    def get_config(self):
        config = {"function": _function_config(self.function)}
        shape = self._lambda_output_shape
        if shape is not None:
            config["output_shape"] = _function_config(shape) if callable(shape) else \
                _plain(shape)
        if self.mask is not None:
            config["mask"] = _function_config(self.mask) if callable(self.mask) else \
                serialize_keras_object(self.mask)
        config["arguments"] = serialize_keras_object(self.arguments)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        safe_mode = in_safe_mode() is not False
        config["function"] = _load_function(config["function"], custom_objects, safe_mode)
        if "output_shape" in config:
            shape = config["output_shape"]
            if isinstance(shape, dict):
                shape = _load_function(shape, custom_objects, safe_mode)
            elif isinstance(shape, list) and all(isinstance(e, (int, type(None))) for e in shape):
                shape = tuple(shape)
            config["output_shape"] = shape
        if isinstance(config.get("mask"), dict):
            config["mask"] = _load_function(config["mask"], custom_objects, safe_mode)
        if "arguments" in config:
            config["arguments"] = deserialize_keras_object(config["arguments"],
                                                           custom_objects=custom_objects) \
                if isinstance(config["arguments"], dict) and "class_name" in config["arguments"] \
                else config["arguments"]
        return cls(**config)


def _first_dimension(shape):
    while isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        shape = shape[0]
    return shape[0] if isinstance(shape, tuple) and shape else None


def _with_batch(shape, batch):
    if isinstance(shape, (list, tuple)) and all(isinstance(d, (int, type(None))) for d in shape):
        return (batch,) + tuple(shape)
    return type(shape)(_with_batch(s, batch) for s in shape)


def _plain(shape):
    return [_plain(s) for s in shape] if isinstance(shape, (list, tuple)) else shape


def _function_config(fn):
    """Keras' serialization of a function: a lambda as bytecode, anything else by name."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
        closure = None if not fn.__closure__ else [c.cell_contents for c in fn.__closure__]
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    if isinstance(fn, types.FunctionType):
        return {"module": "builtins", "class_name": "function",
                "config": get_registered_name(fn), "registered_name": "function"}
    return serialize_keras_object(fn)


def _load_function(config, custom_objects, safe_mode):
    """The function a config names; a Python lambda's bytecode only with safe_mode=False."""
    if isinstance(config, (list, tuple)):  # Keras 2 (legacy .h5): [code, defaults, closure]
        config = {"class_name": "__lambda__", "config": dict(zip(
            ("code", "defaults", "closure"), list(config) + [None] * (3 - len(config))))}
    if isinstance(config, dict) and config.get("class_name") == "__lambda__":
        if safe_mode:
            raise ValueError(
                "Requested the deserialization of a `Lambda` layer whose `function` is a "
                "Python lambda. This carries a potential risk of arbitrary code execution and "
                "thus it is disallowed by default. If you trust the source of the artifact, "
                "you can override this error by passing `safe_mode=False` to the loading "
                "function.")
        return _unmarshal_lambda(config.get("config", {}))
    return deserialize_keras_object(config, custom_objects=custom_objects,
                                    printable_module_name="function")


def _unmarshal_lambda(config):
    """Rebuilds a lambda saved by `_function_config` (or by Keras): runs code from the file."""
    import numnet
    try:
        code = marshal.loads(base64.decodebytes(str(config["code"]).encode("ascii")))
    except (KeyError, ValueError, TypeError, EOFError) as error:
        raise ValueError("Cannot load the Lambda's function: its bytecode is unreadable by "
                         f"this Python ({error}); rewrite it as a named, registered function."
                         ) from error
    if not isinstance(code, types.CodeType):
        raise ValueError("Cannot load the Lambda's function: the file holds no code object.")
    defaults = config.get("defaults")
    closure = config.get("closure")
    cells = None if closure is None else tuple(types.CellType(v) for v in closure)
    scope = {"__builtins__": builtins, "numnet": numnet, "keras": numnet, "ops": numnet.ops}
    return types.FunctionType(code, scope, code.co_name,
                              None if defaults is None else tuple(defaults), cells)
