"""Names <-> classes for configs, the way Keras' `serialization_lib` lays them out.

Every serializable numnet class registers itself here under the Keras module
and class name it mirrors (`@register_builtin("keras.layers")` on `Dense`), so
that a config written by Keras resolves to numnet's class and back. Loading
only ever looks names up in this registry: nothing named in a file is
imported or evaluated.
"""

import base64
import builtins
import marshal
import types
import warnings

from numnet.backend.global_state import ThreadStack

_BUILTINS = {}  # class_name -> [classes] (numnet's mirrors of Keras' public classes)
_BUILTIN_MODULES = {}  # class -> Keras module name ("keras.layers")
_CUSTOM = {}  # registered name ("package>Name") -> class or function
_CUSTOM_NAMES = {}  # class or function -> registered name
_SAFE_MODE = ThreadStack(None)  # innermost `SafeModeScope` value (None: no scope open)


def in_safe_mode():
    """The safe mode of the deserialization in progress (None outside of one)."""
    return _SAFE_MODE[-1]


def enable_unsafe_deserialization():
    """Turns safe mode off, for this thread, wherever no `SafeModeScope` says otherwise
    (`keras.config.enable_unsafe_deserialization`).

    As in Keras, it lets `Lambda.from_config` and `deserialize_keras_object`
    rebuild Python lambdas from their bytecode (running code from the config);
    `load_model` keeps its own `safe_mode=True` default, which wins.
    """
    _SAFE_MODE.items[0] = False


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
_SCOPES = ThreadStack()  # the dicts of this thread's `custom_object_scope`s, innermost last


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


class ObjectSharingScope:
    """Context manager: objects met twice while (de)serializing inside it are shared.

    Serializing inside the scope marks every object seen more than once with a
    `shared_object_id` (in each of its configs); deserializing inside it builds
    such an object once and hands the same instance to every place that
    refers to it. `load_model` deserializes inside one, as Keras does.
    """

    def __enter__(self):
        _SHARING.append({"configs": {}, "objects": {}})
        return self

    def __exit__(self, *exc):
        _SHARING.pop()
        return False


_SHARING = ThreadStack()  # the state of this thread's `ObjectSharingScope`s, innermost last


def _record_serialized(obj, config):
    if not _SHARING:
        return
    configs = _SHARING[-1]["configs"]
    key = id(obj)
    if key not in configs:
        configs[key] = (obj, config)  # the object is kept alive so its id stays unique
    else:
        config["shared_object_id"] = key
        configs[key][1]["shared_object_id"] = key


def _shared_object(config):
    if not _SHARING or "shared_object_id" not in config:
        return None
    return _SHARING[-1]["objects"].get(config["shared_object_id"])


def _record_deserialized(obj, config):
    if _SHARING and "shared_object_id" in config:
        _SHARING[-1]["objects"][config["shared_object_id"]] = obj


def function_dump(fn):
    """`(code, defaults, closure)`: a Python function's bytecode (base64), as Keras stores it."""
    code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
    closure = None if not fn.__closure__ else tuple(c.cell_contents for c in fn.__closure__)
    return code, fn.__defaults__, closure


def function_load(code, defaults=None, closure=None):
    """Rebuilds a function saved by `function_dump` (or by Keras): this RUNS code from a file.

    Only ever called for configs loaded with `safe_mode=False`.
    """
    import numnet
    try:
        code = marshal.loads(base64.decodebytes(str(code).encode("ascii")))
    except (ValueError, TypeError, EOFError) as error:
        raise ValueError("Cannot load the function: its bytecode is unreadable by this Python "
                         f"({error}); rewrite it as a named, registered function.") from error
    if not isinstance(code, types.CodeType):
        raise ValueError("Cannot load the function: the config holds no code object.")
    cells = None if closure is None else tuple(types.CellType(v) for v in closure)
    scope = {"__builtins__": builtins, "numnet": numnet, "keras": numnet, "ops": numnet.ops}
    return types.FunctionType(code, scope, code.co_name,
                              None if defaults is None else tuple(defaults), cells)


def _is_lambda(obj):
    return isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>"


def serialize_keras_object(obj):
    """Returns the Keras config of `obj`: plain values as they are, objects as envelopes.

    An envelope is `{"module", "class_name", "config", "registered_name"}` (plus
    `build_config` / `compile_config` for layers and models); what `get_config()`
    returns is serialized in turn (layers in a config become envelopes).
    Functions become `{"class_name": "function", "config": name}`, Python
    lambdas their bytecode (`__lambda__`, which only `safe_mode=False` loads).
    """
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return _serialize_dict(obj)
    special = _serialize_special(obj)
    if special is not None:
        return special
    if _is_lambda(obj):
        warnings.warn(
            "The object being serialized includes a `lambda`. This is unsafe. In order to "
            "reload the object, you will have to pass `safe_mode=False` to the loading "
            "function. Please avoid using `lambda` in the future, and use named Python "
            "functions instead.", stacklevel=2)
        return {"class_name": "__lambda__", "config": {"value": function_dump(obj)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        # Exactly what Keras 3.15 writes: the (registered) name, and "function" twice.
        return {"module": "builtins", "class_name": "function",
                "config": _CUSTOM_NAMES.get(obj) or obj.__name__, "registered_name": "function"}
    config = _object_config(obj)
    cls = type(obj)
    registered = _CUSTOM_NAMES.get(cls)
    module = _BUILTIN_MODULES.get(cls) if registered is None else None
    envelope = {"module": module or cls.__module__, "class_name": cls.__name__,
                "config": config,
                "registered_name": None if module else registered or cls.__name__}
    if envelope["module"] == "__main__":
        envelope["module"] = None
    build_config = getattr(obj, "get_build_config", lambda: None)()
    if build_config is not None:  # as Keras: `{}` (lookup layers) is written too
        envelope["build_config"] = _serialize_dict(build_config)
    _record_serialized(obj, envelope)
    return envelope


def _serialize_dict(config):
    return {key: serialize_keras_object(value) for key, value in config.items()}


def _object_config(obj):
    if hasattr(obj, "get_config"):
        config = obj.get_config()
        if not isinstance(config, dict):
            raise TypeError(f"The `get_config()` method of {obj} should return a dict. It "
                            f"returned: {config}")
        return _serialize_dict(config)
    if hasattr(obj, "__name__"):
        return get_registered_name(obj)
    raise TypeError(f"Cannot serialize object {obj} of type {type(obj)}. To be serializable, "
                    "a class must implement the `get_config()` method.")


def _serialize_special(obj):
    """Keras' envelopes for values that are not Keras objects (slices, arrays, ...)."""
    import numpy as np
    from numnet.autodiff.tensor import Tensor
    from numnet.layers.symbolic import KerasTensor, keras_history
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, KerasTensor):
        history = keras_history(obj)
        history = None if history is None else [history[0].name, *history[1:]]
        return {"class_name": "__keras_tensor__", "config": {
            "shape": obj.shape, "dtype": obj.dtype, "keras_history": history}}
    if isinstance(obj, Tensor):
        return {"class_name": "__tensor__",
                "config": {"value": obj.data.tolist(), "dtype": str(obj.data.dtype)}}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.item()
    if isinstance(obj, np.dtype):
        return obj.name
    return None


def _deserialize_special(class_name, inner, recurse):
    """The values `_serialize_special` writes, rebuilt (no code runs)."""
    import numpy as np
    from numnet.autodiff.tensor import Tensor
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__slice__":
        return slice(recurse(inner.get("start")), recurse(inner.get("stop")),
                     recurse(inner.get("step")))
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return Tensor(np.array(inner["value"], dtype=inner["dtype"]))
    if class_name == "__keras_tensor__":
        from numnet.layers.symbolic import KerasTensor
        shape = inner.get("shape")
        return KerasTensor(None if shape is None else tuple(shape), dtype=inner.get("dtype"))
    raise KeyError(class_name)


_SPECIAL_CLASS_NAMES = ("__bytes__", "__slice__", "__ellipsis__", "__numpy__", "__tensor__",
                        "__keras_tensor__")
# Where Keras looks for a built-in function named only by its name ("relu", "mse").
_FUNCTION_FAMILIES = ("activations", "metrics", "losses", "initializers", "regularizers",
                      "constraints", "optimizers")


def builtin_function(name, module=None):
    """The numnet function mirroring Keras' built-in function `name`, or None.

    `module` (a Keras module name such as "keras.src.losses.losses") narrows the
    search to that family; without it (or "builtins") every family of modeling
    functions is searched, as Keras does. Nothing is imported by name.
    """
    import importlib
    family = _family(module) if module and module != "builtins" else None
    families = [family] if family in _FUNCTION_FAMILIES else \
        ([] if family else list(_FUNCTION_FAMILIES))
    for fam in families:
        found = getattr(importlib.import_module(f"numnet.{fam}"), name, None)
        if callable(found) and not isinstance(found, (type, types.ModuleType)):
            return found
    return None


def _merged_custom_objects(custom_objects):
    merged = dict(custom_objects or {})
    for scope in _SCOPES:
        merged.update(scope)
    return merged


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, module_objects=None,
                             printable_module_name="object"):
    """Rebuilds an object from its config, as Keras' `deserialize_keras_object` does.

    Names resolve only through `custom_objects`, `custom_object_scope`,
    `register_keras_serializable` and numnet's registry of Keras' built-ins:
    nothing named in a config is imported, and Python lambdas (bytecode) are
    refused unless `safe_mode=False` (or an enclosing `SafeModeScope` says so).

    Plain values pass through, lists are deserialized item by item, dicts
    without `class_name` / `config` value by value.
    """
    scoped = in_safe_mode()
    safe_mode = safe_mode if scoped is None else scoped
    custom = _merged_custom_objects(custom_objects)

    def recurse(value):
        return deserialize_keras_object(value, custom_objects=custom, safe_mode=safe_mode,
                                        printable_module_name=printable_module_name)

    if config is None:
        return None
    if isinstance(config, str):
        return _deserialize_name(config, custom, module_objects, printable_module_name)
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects=custom, module_objects=module_objects,
                                         safe_mode=safe_mode,
                                         printable_module_name=printable_module_name)
                for x in config]
    if isinstance(config, (int, float, bool)):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config}")
    if "class_name" not in config or "config" not in config:
        if module_objects is not None:
            raise ValueError(f"Could not interpret serialized {printable_module_name}: "
                             f"{config!r}")
        return {key: recurse(value) for key, value in config.items()}
    class_name = config["class_name"]
    inner = {} if config["config"] is None else config["config"]
    if class_name in _SPECIAL_CLASS_NAMES:
        return _deserialize_special(class_name, inner, recurse)
    if class_name == "__lambda__":
        return _deserialize_lambda(inner, safe_mode)
    if class_name == "__typespec__":
        if not isinstance(inner, (list, tuple)):
            raise TypeError("Expected 'config' to be a list or a tuple for a __typespec__ "
                            f"class name,\ninstead got {type(inner)}\nFull config: {config}")
        raise ValueError("numnet has no TensorFlow TypeSpecs (`__typespec__` configs); they "
                         "belong to TensorFlow's own tensors.")
    if class_name == "function":
        return _deserialize_function(config, inner, custom, module_objects,
                                     printable_module_name)
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name},\ninstead got "
                        f"{type(inner)}\nFull config: {config}")
    shared = _shared_object(config)
    if shared is not None:
        return shared
    cls = _retrieve_class(config, class_name, custom, module_objects, printable_module_name)
    if isinstance(cls, types.FunctionType):
        return cls
    obj = _instantiate(cls, config, inner, custom, safe_mode)
    _record_deserialized(obj, config)
    return obj


def _deserialize_name(name, custom, module_objects, printable_module_name):
    """A plain string: a custom or module object it names, else the string itself (as Keras)."""
    if name in custom and custom[name] is not None:
        return custom[name]
    if module_objects is None:
        registered = get_registered_object(name)
        return registered if registered is not None else name
    found = get_registered_object(name, custom, module_objects)
    if found is None:
        found = builtin_class(name)
    if found is None:
        raise ValueError(
            f"Unknown {printable_module_name}: '{name}'. Please ensure you are using a "
            "`numnet.utils.custom_object_scope` or pass it in `custom_objects`, or register "
            "it with `@numnet.saving.register_keras_serializable()`.")
    return found() if isinstance(found, type) else found


def _deserialize_lambda(inner, safe_mode):
    if safe_mode:
        raise ValueError(
            "Requested the deserialization of a Python lambda. This carries a potential risk "
            "of arbitrary code execution and thus it is disallowed by default. If you trust "
            "the source of the artifact, you can override this error by passing "
            "`safe_mode=False` to the loading function.")
    value = inner.get("value") if isinstance(inner, dict) else None
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("A `__lambda__` config must hold `value`: [code, defaults, closure].")
    value = list(value) + [None] * (3 - len(value))
    return function_load(value[0], value[1], value[2])


def _check_not_renamed_builtin(config, name, resolved):
    """Keras refuses a `registered_name` on a config that resolved to a built-in."""
    explicit = config.get("registered_name")
    if explicit and explicit not in (name, config.get("class_name")):
        raise ValueError(
            f"`registered_name={explicit!r}` was provided in the config, but '{resolved}' "
            "resolved to a Keras built-in and does not use registered names. Remove the "
            f"`registered_name` field from the config. Full object config: {config}")


def _deserialize_function(config, name, custom, module_objects, printable_module_name):
    if not isinstance(name, str):
        raise TypeError("Expected 'config' to be a non-null str for a function classname,\n"
                        f"instead got {type(name)}\nFull config: {config}")
    registered = config.get("registered_name")
    found = get_registered_object(name, custom, module_objects)
    if found is None and registered not in (None, "function"):
        found = get_registered_object(registered, custom)
    if found is not None:
        return found
    module = config.get("module")
    if module is None or module == "builtins" or _family(module):
        found = builtin_function(name, module)
        if found is not None:
            _check_not_renamed_builtin(config, name, f"{_family(module) or 'keras'}.{name}")
            return found
    if ">" not in name:  # Keras <= 3.6 saved custom functions by name only
        for key, value in {**_CUSTOM, **custom}.items():
            if key.endswith(f">{name}"):
                return value
    shown = name if registered in (None, "function") else registered
    raise ValueError(
        f"Unknown {printable_module_name} function: '{shown}'. Pass it in "
        "`custom_objects` or register it with `@numnet.saving.register_keras_serializable()`.")


def _retrieve_class(config, class_name, custom, module_objects, printable_module_name):
    registered = config.get("registered_name")
    cls = get_registered_object(registered, custom) if registered else None
    if cls is None:
        cls = get_registered_object(class_name, custom, module_objects)
    if cls is None:
        cls = builtin_class(class_name, config.get("module"))
        if cls is not None:
            _check_not_renamed_builtin(config, class_name,
                                       f"{_BUILTIN_MODULES.get(cls, 'keras')}.{class_name}")
    if cls is None:
        raise ValueError(
            f"Unknown {printable_module_name}: '{registered or class_name}'. It is neither "
            "a numnet built-in nor registered. Pass it in `custom_objects` or decorate it "
            "with `@numnet.saving.register_keras_serializable()`.")
    return cls


def _instantiate(cls, config, inner, custom, safe_mode):
    class_name = config["class_name"]
    if not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of '{class_name}' because the "
                        "class is missing a `from_config()` method. Full object config: "
                        f"{config}")
    with CustomObjectScope(custom), SafeModeScope(safe_mode):
        try:
            obj = _from_config(cls, dict(inner), custom)
        except TypeError as error:
            raise TypeError(
                f"{cls} could not be deserialized properly. Please ensure that components "
                "that are Python object instances (layers, models, etc.) returned by "
                "`get_config()` are explicitly deserialized in the model's `from_config()` "
                f"method.\n\nconfig={config}.\n\nException encountered: {error}") from error
        build_config = config.get("build_config")
        if build_config and hasattr(obj, "build_from_config") and \
                not getattr(obj, "built", False):
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
