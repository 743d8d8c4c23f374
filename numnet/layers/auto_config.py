"""The config Keras generates for a layer whose class does not write `get_config()`.

Keras records the arguments every layer (or model) is constructed with; a
subclass that does not override `get_config()` gets them as its config, so

```python
class Scale(numnet.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
```

saves `{"factor": 2.0, ...}` and `Scale.from_config(config)` rebuilds it. Only
plain JSON values (str, int, float, bool, None, and lists/tuples/dicts of
them) are captured: a layer built from another object must write its own
`get_config()`, and asking for its config says so (`NotImplementedError`,
with Keras' message).
"""

import inspect
import textwrap
from functools import lru_cache

_PLAIN = (str, int, float, bool, type(None))
_EXAMPLE = """
class CustomLayer(keras.layers.Layer):
    def __init__(self, arg1, arg2, **kwargs):
        super().__init__(**kwargs)
        self.arg1 = arg1
        self.arg2 = arg2

    def get_config(self):
        config = super().get_config()
        config.update({
            "arg1": self.arg1,
            "arg2": self.arg2,
        })
        return config
"""


class AutoConfig:
    """What `capture` found: the arguments (or None) and why they could not be used."""

    __slots__ = ("arguments", "variadic")

    def __init__(self, arguments=None, variadic=False):
        self.arguments = arguments
        self.variadic = variadic


def _plain(value):
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    return isinstance(value, _PLAIN)


def capture(cls, args, kwargs):
    """The `AutoConfig` of `cls(*args, **kwargs)`: its `__init__` arguments, defaults included.

    `name` is left out (the base config has it); arguments given through
    `*args`, or to positional-only parameters, cannot be passed back by name
    and make the capture fail (`variadic`), as do values that are not plain.
    """
    try:
        signature, params = _signature(cls.__init__)
        bound = signature.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return AutoConfig()
    if any(p.kind is inspect.Parameter.POSITIONAL_ONLY for p in params):
        return AutoConfig(variadic=True)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(signature.parameters)))
    for param in params:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(param.name, {}))
        elif param.kind is inspect.Parameter.VAR_POSITIONAL and arguments.pop(param.name, ()):
            return AutoConfig(variadic=True)
    arguments.pop("name", None)
    if not _plain(arguments):
        return AutoConfig()
    return AutoConfig(arguments)


@lru_cache(maxsize=1024)
def _signature(init):
    """`init`'s signature and its parameters after `self`, read once per `__init__` (reading
    one costs more than building a small layer)."""
    signature = inspect.signature(init)
    return signature, list(signature.parameters.values())[1:]


def merge(obj, config):
    """`config` (the base config) completed with `obj`'s captured arguments, as Keras does.

    Raises:
        NotImplementedError: the arguments could not be captured; the class
            must write its own `get_config()`.
    """
    auto = getattr(obj, "_auto_config", None)
    if auto is None or auto.arguments is None:
        cause = ("passing positional only or variadic positional arguments (e.g., `*args`) "
                 "to `__init__()`, which is not supported by the automatic config generation"
                 if auto is not None and auto.variadic else
                 "passing non-serializable argument values in `__init__()`, and therefore "
                 "the object must override `get_config()` in order to be serializable")
        raise NotImplementedError(textwrap.dedent(
            f"Object {type(obj).__name__} was created by {cause}. Please implement "
            f"`get_config()` (and `from_config()` if needed).\n\nExample:\n{_EXAMPLE}"))
    merged = {"name": config.get("name"), **auto.arguments, **config}
    params = inspect.signature(type(obj).__init__).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "name" not in params and not takes_kwargs:
        merged.pop("name", None)  # it could not be passed back to __init__
    return merged


def applies(obj, base):
    """Whether `obj`'s config is its captured arguments: no class between it and `base`
    (`Layer` or `Model`) writes `get_config()`.

    numnet's own layers stand for Keras' built-in classes, which all write theirs
    (Keras' `Add` has `get_config = super().get_config`), so a numnet class in the
    way counts as writing one.
    """
    for klass in type(obj).__mro__:
        if klass is base:
            return True
        if "get_config" in vars(klass) or klass.__module__.startswith("numnet."):
            return False
    return False
