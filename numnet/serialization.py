"""Names <-> classes for configs, the way Keras' `serialization_lib` lays them out.

Every serializable numnet class registers itself here under the Keras module
and class name it mirrors (`@register_builtin("keras.layers")` on `Dense`), so
that a config written by Keras resolves to numnet's class and back. Loading
only ever looks names up in this registry: nothing named in a file is
imported or evaluated.
"""

import types

_BUILTINS = {}  # class_name -> [classes] (numnet's mirrors of Keras' public classes)
_BUILTIN_MODULES = {}  # class -> Keras module name ("keras.layers")
_CUSTOM = {}  # registered name ("package>Name") -> class or function
_CUSTOM_NAMES = {}  # class or function -> registered name
_SAFE_MODE = [None]  # innermost `SafeModeScope` value (None: no scope open)


def in_safe_mode():
    """The safe mode of the deserialization in progress (None outside of one)."""
    return _SAFE_MODE[-1]


class SafeModeScope:
    """Context manager: deserializations inside run with `safe_mode` (as Keras' scope).

    Objects whose loading would execute code from the file (a `Lambda` layer
    holding a Python lambda) read it with `in_safe_mode()` and refuse unless
    it is False.
    """

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        _SAFE_MODE.append(self.safe_mode)
        return self

    def __exit__(self, *exc):
        _SAFE_MODE.pop()
        return False
_SCOPES = []  # the dicts of the active `custom_object_scope`s, innermost last


class CustomObjectScope:
    """Makes custom objects resolvable by name while the scope is active (`with` block).

    Example:

    ```python
    with numnet.saving.custom_object_scope({"MyLayer": MyLayer}):
        model = numnet.saving.load_model("model.keras")
    ```
    """

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc_info):
        _SCOPES.remove(self.custom_objects)


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The global dict of custom objects (registered names -> objects), as in Keras.

    `register_keras_serializable` fills it; adding to it makes an object resolvable by
    name everywhere.
    """
    return _CUSTOM


# Keras' public names for the two registries (`keras.saving.object_registration`).
GLOBAL_CUSTOM_OBJECTS = _CUSTOM
GLOBAL_CUSTOM_NAMES = _CUSTOM_NAMES


def register_builtin(module, name=None):
    """Class decorator: registers a numnet class as the mirror of `module.name` in Keras."""
    def decorator(cls):
        key = name or cls.__name__
        candidates = _BUILTINS.setdefault(key, [])
        candidates[:] = [c for c in candidates if _BUILTIN_MODULES.get(c) != module]
        candidates.append(cls)
        _BUILTIN_MODULES[cls] = module
        return cls
    return decorator


def register_keras_serializable(package="Custom", name=None):
    """Registers a user class or function so configs can name it, as `package>name`.

    Example:

    ```python
    @numnet.saving.register_keras_serializable(package="my_package")
    class MyLayer(numnet.layers.Layer):
        ...
    ```
    """
    def decorator(obj):
        registered = f"{package}>{name or obj.__name__}"
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"Cannot register a class that does not have a get_config() method "
                f"({obj.__name__})."
            )
        _CUSTOM[registered] = obj
        _CUSTOM_NAMES[obj] = registered
        return obj
    return decorator


def get_registered_name(obj):
    """The name `obj` is registered under (its class name if not custom-registered)."""
    return _CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """Resolves `name` through `custom_objects`, the custom registry, then `module_objects`."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    for scope in reversed(_SCOPES):
        if name in scope:
            return scope[name]
    if name in _CUSTOM:
        return _CUSTOM[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def _family(module):
    """The Keras package a module belongs to: "keras.src.losses.losses" -> "losses"."""
    parts = [p for p in (module or "").split(".") if p not in ("keras", "src")]
    return parts[0] if parts else ""


def builtin_class(class_name, module=None):
    """The numnet class mirroring Keras' `module.class_name`, or None.

    Several Keras packages use one class name (`keras.losses.BinaryCrossentropy` and
    `keras.metrics.BinaryCrossentropy`): the config's `module` tells them apart. Without a
    module (legacy configs) the first registered class of that name is returned, op
    classes (`keras.src.ops`, which only Keras 3 configs name, with their module) last.
    """
    candidates = _BUILTINS.get(class_name, [])
    if module is not None:
        for cls in candidates:
            if _family(_BUILTIN_MODULES[cls]) == _family(module):
                return cls
    ordered = sorted(candidates, key=lambda cls: _family(_BUILTIN_MODULES[cls]).startswith("ops"))
    return ordered[0] if ordered else None


def serialize_keras_object(obj):
    """Returns the Keras config envelope of `obj` (module, class_name, config, registered_name)."""
    if obj is None:
        return None
    if isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    special = _serialize_special(obj)
    if special is not None:
        return special
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        registered = _CUSTOM_NAMES.get(obj)
        if registered is None:
            return obj.__name__
        return {"module": None, "class_name": "function", "config": obj.__name__,
                "registered_name": registered}
    cls = type(obj)
    config = obj.get_config()
    registered = _CUSTOM_NAMES.get(cls)
    if registered is not None:
        envelope = {"module": None, "class_name": cls.__name__, "config": config,
                    "registered_name": registered}
    else:
        module = _BUILTIN_MODULES.get(cls)
        if module is None:
            module = cls.__module__
        envelope = {"module": module, "class_name": cls.__name__, "config": config,
                    "registered_name": None}
    build_config = getattr(obj, "get_build_config", lambda: None)()
    if build_config is not None:  # as Keras: `{}` (lookup layers) is written too
        envelope["build_config"] = build_config
    return envelope


def _serialize_special(obj):
    """Keras' envelopes for values that are not Keras objects (slices, arrays, ...)."""
    import numpy as np
    from numnet.autodiff.tensor import Tensor
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, Tensor):
        return {"class_name": "__tensor__",
                "config": {"value": obj.data.tolist(), "dtype": obj.dtype}}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.item()
    return None


def _deserialize_special(class_name, inner):
    """The values `_serialize_special` writes, rebuilt (no code runs)."""
    import numpy as np
    from numnet.autodiff.tensor import Tensor
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__slice__":
        return slice(inner["start"], inner["stop"], inner["step"])
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return Tensor(np.array(inner["value"], dtype=inner["dtype"]))
    raise KeyError(class_name)


_SPECIAL_CLASS_NAMES = ("__bytes__", "__slice__", "__ellipsis__", "__numpy__", "__tensor__")


def deserialize_keras_object(config, custom_objects=None, module_objects=None,
                             safe_mode=True, printable_module_name="object"):
    """Rebuilds an object from its config envelope, using only registered names."""
    if config is None:
        return None
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects, module_objects)
        if found is None:
            found = builtin_class(config)
        if found is None:
            raise ValueError(
                f"Unknown {printable_module_name}: '{config}'. Please ensure you are using "
                "a `numnet.utils.custom_object_scope` or pass it in `custom_objects`, or "
                "register it with `@numnet.saving.register_keras_serializable()`."
            )
        return found() if isinstance(found, type) else found
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Could not interpret serialized {printable_module_name}: {config!r}"
        )
    class_name = config["class_name"]
    inner = config.get("config", {})
    if class_name in _SPECIAL_CLASS_NAMES:
        return _deserialize_special(class_name, inner)
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError(
                "Requested the deserialization of a Python lambda (a `Lambda` layer or "
                "a lambda in a config). Its code would have to be executed, which is "
                "refused in safe mode. Only pass `safe_mode=False` for files you trust."
            )
        raise ValueError("numnet cannot deserialize Python lambdas: it never executes code from files.")
    if class_name == "function":
        # Keras 3.15 writes `registered_name: "function"` and the name in `config`.
        registered = config.get("registered_name")
        name = inner if registered in (None, "function") else registered
        found = get_registered_object(name, custom_objects, module_objects)
        if found is None:
            found = get_registered_object(inner, custom_objects, module_objects)
        if found is None:
            raise ValueError(
                f"Unknown {printable_module_name} function: '{name}'. Pass it in "
                "`custom_objects` or register it with "
                "`@numnet.saving.register_keras_serializable()`.")
        return found
    registered = config.get("registered_name")
    cls = None
    if registered:
        cls = get_registered_object(registered, custom_objects)
    if cls is None:
        cls = get_registered_object(class_name, custom_objects, module_objects)
    if cls is None:
        cls = builtin_class(class_name, config.get("module"))
    if cls is None:
        raise ValueError(
            f"Unknown {printable_module_name}: '{registered or class_name}'. It is neither "
            "a numnet built-in nor registered. Pass it in `custom_objects` or decorate it "
            "with `@numnet.saving.register_keras_serializable()`."
        )
    if not hasattr(cls, "from_config"):
        raise ValueError(f"Class '{class_name}' has no from_config() and cannot be rebuilt.")
    if "shared_object_id" in config:
        inner = dict(inner)
    scoped = in_safe_mode()
    with SafeModeScope(safe_mode if scoped is None else scoped):
        obj = _from_config(cls, inner, custom_objects)
    build_config = config.get("build_config")
    if build_config and hasattr(obj, "build_from_config") and not getattr(obj, "built", False):
        # As Keras: a layer's own `build_from_config` recreates its state, then it is built.
        obj.build_from_config(build_config)
        obj.built = True
    return obj


def _from_config(cls, inner, custom_objects):
    code = getattr(getattr(cls.from_config, "__func__", cls.from_config), "__code__", None)
    params = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount] if code else ()
    if "custom_objects" in params:
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)


def get_by_identifier(identifier, by_name, kind, custom_objects=None):
    """Resolves a name (instantiating the class it names), a config, a callable or None.

    The common `get()` of families whose members are small stateless objects
    (regularizers, constraints).
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        found = by_name.get(identifier) or get_registered_object(identifier, custom_objects)
        if found is None:
            raise ValueError(f"Unknown {kind}: '{identifier}'. Expected one of "
                             f"{sorted(by_name)} or a callable.")
        return found()
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier, custom_objects=custom_objects,
                                        module_objects=by_name, printable_module_name=kind)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")
