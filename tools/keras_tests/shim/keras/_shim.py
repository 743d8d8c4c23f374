"""How `keras` and `keras.src.*` module names resolve to numnet.

Every `keras...` module that is not a file of this shim becomes a proxy module: a name
looked up on it is searched in the numnet modules (and the few shim helper modules) that
`TARGETS` assigns to it, by longest matching prefix. A name numnet lacks resolves to a
placeholder class that raises `NotInNumnet` when called, so a test file still imports and
only the tests that use the missing API fail, each saying what is missing.

Keras' own `*_test` modules that a test file imports from another
(`from keras.src.saving import saving_lib_test`) are loaded from the Keras source tree
named by the `KERAS_SRC` environment variable (its `keras/src` folder).
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from pathlib import Path

# keras module prefix -> the modules whose attributes it exposes, searched in order.
TARGETS = {
    "keras": ["numnet"],
    "keras.src": ["numnet"],
    "keras.src.backend": ["keras._backend"],
    # `backend.numpy.zeros(...)`: the backend's array functions, numnet's ops.
    "keras.src.backend.numpy": ["numnet.ops", "keras._data_ops"],
    "keras.backend": ["keras._backend"],
    "keras.config": ["keras._backend"],
    "keras.src.ops": ["numnet.ops", "keras._data_ops", "keras._operations.top"],
    # Keras' operation classes (`Cast`, `Add`, ...) next to the functions of their module.
    **{f"keras.src.ops.{short}": ["numnet.ops", "keras._data_ops", f"keras._operations.{short}"]
       for short in ("core", "numpy", "nn", "math", "linalg", "image", "einops")},
    "keras.ops": ["numnet.ops", "keras._data_ops"],
    "keras.src.random": ["numnet.random", "keras._data_random"],
    "keras.random": ["numnet.random", "keras._data_random"],
    "keras.src.tree": ["keras._tree"],
    "keras.tree": ["keras._tree"],
    "keras.src.utils": ["numnet.utils", "keras._utils"],
    "keras.utils": ["numnet.utils", "keras._utils"],
    "keras.src.saving": ["numnet.saving", "numnet.serialization"],
    "keras.saving": ["numnet.saving", "numnet.serialization"],
    "keras.src.legacy.saving": ["numnet.saving"],
    "keras.src.legacy.saving.legacy_h5_format": ["numnet.saving.legacy_h5"],
    "keras.src.optimizers.schedules": ["numnet.optimizers.schedules"],
    "keras.optimizers.schedules": ["numnet.optimizers.schedules"],
    "keras.src.trainers.data_adapters": ["numnet.utils"],
    "keras.src.metrics.metrics_utils": ["numnet.metrics.metrics_utils"],
    # Keras modules numnet has no counterpart for: every name is a placeholder.
    "keras.src.backend.common.dtypes": ["keras._dtypes"],
    "keras.src.dtype_policies": ["keras._dtype_policies"],
    "keras.dtype_policies": ["keras._dtype_policies"],
    "keras.src.quantizers": [],
    "keras.quantizers": [],
    "keras.src.distribution": [],
    "keras.distribution": [],
    "keras.src.export": [],
    "keras.export": [],
    "keras.src.applications": [],
    "keras.applications": [],
}

# Keras modules that ARE a numnet module (the same module object, not a proxy): Keras'
# tests patch module-level limits on them (`mock.patch.object(saving_lib,
# "_ZIP_MEMBER_MAX_EXPANSION", 10)`), which must reach the code that reads them.
ALIASES = {
    "keras.src.saving.saving_lib": "numnet.saving.keras_format",
}

# Private names Keras' tests read on an aliased module, set on it as glue: numnet's public
# name for the same thing, or (`_MEMORY_UPPER_BOUND`, the share of free memory under which
# Keras loads weights in memory rather than from a temporary file) an inert value, as numnet
# always reads weights in memory within its size caps.
ALIAS_GLUE = {
    "keras.src.saving.saving_lib": {
        "_CONFIG_FILENAME": "CONFIG_FILENAME",
        "_METADATA_FILENAME": "METADATA_FILENAME",
        "_VARS_FNAME_H5": "WEIGHTS_FILENAME",
        "_safe_zip_read": "safe_zip_read",
        "_MEMORY_UPPER_BOUND": 0.5,
    },
}

# Keras packages that map onto the numnet package of the same name.
SAME_NAME = ["activations", "callbacks", "constraints", "datasets", "initializers", "layers",
             "losses", "metrics", "models", "optimizers", "regularizers"]
for _name in SAME_NAME:
    TARGETS.setdefault(f"keras.src.{_name}", [f"numnet.{_name}"])
    TARGETS.setdefault(f"keras.{_name}", [f"numnet.{_name}"])


class NotInNumnet(BaseException):
    """Raised when a test uses a Keras API numnet does not provide.

    A BaseException (not an Exception) so that `assertRaises(Exception)` in a test, or an
    `except Exception` in numnet, cannot mistake the missing API for an expected error.
    """


def placeholder(qualname):
    """A stand-in class for a missing Keras name: subclassing works, calling raises."""
    def refuse(self, *args, **kwargs):
        raise NotInNumnet(f"numnet has no equivalent of {qualname}")

    short = qualname.rsplit(".", 1)[-1]
    return type(short, (), {"__init__": refuse, "__missing_api__": qualname,
                            "__module__": qualname.rsplit(".", 1)[0]})


def keras_src_root():
    root = os.environ.get("KERAS_SRC")
    if not root:
        raise RuntimeError("The keras shim needs KERAS_SRC (a Keras source tree's keras/src).")
    return Path(root)


def keras_source_path(fullname):
    """The file or folder of a Keras module in the source tree, or None."""
    parts = fullname.split(".")
    if parts[:2] == ["keras", "src"]:
        base = keras_src_root().joinpath(*parts[2:])
    else:
        base = keras_src_root().parent.joinpath("api", *parts[1:])
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base
    return None


def targets_for(fullname):
    parts = fullname.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in TARGETS:
            return [_import_target(name) for name in TARGETS[prefix]]
    return []


def _import_target(dotted):
    """Imports a module by name, or reaches it as an attribute (`numnet.ops`)."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        parent, _, attr = dotted.rpartition(".")
        return getattr(importlib.import_module(parent), attr)


def resolve(module_name, targets, name, own_package=False):
    """Looks a name up for a proxy, or for the shim's own packages (`own_package`)."""
    if name.startswith("__") or (own_package and name.startswith("_")):
        # In the shim's own packages, failing on a private name lets
        # `from keras import _tree` import the shim's submodule.
        raise AttributeError(name)
    sub = f"{module_name}.{name}"
    if name.islower() and keras_source_path(sub) is not None:
        return importlib.import_module(sub)
    for target in targets:
        if hasattr(target, name):
            return getattr(target, name)
    return placeholder(sub)


class ProxyModule(types.ModuleType):
    """A `keras...` module whose names come from numnet (see the module docstring)."""

    def __getattr__(self, name):
        value = resolve(self.__name__, self.__dict__["_numnet_targets"], name)
        setattr(self, name, value)
        return value

    def __dir__(self):
        names = set(super().__dir__())
        for target in self.__dict__["_numnet_targets"]:
            names.update(n for n in dir(target) if not n.startswith("_"))
        return sorted(names)


class _ProxyLoader(importlib.abc.Loader):
    def create_module(self, spec):
        module = ProxyModule(spec.name)
        module.__dict__["_numnet_targets"] = targets_for(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


class _Finder(importlib.abc.MetaPathFinder):
    """Placed last on `sys.meta_path`: the shim's real files are found first."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("keras."):
            return None
        if fullname.endswith("_test"):
            source = keras_source_path(fullname)
            if source is None:
                return None
            return importlib.util.spec_from_file_location(fullname, source)
        return importlib.machinery.ModuleSpec(fullname, _ProxyLoader(), is_package=True)


def install():
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
    for keras_name, numnet_name in ALIASES.items():
        module = sys.modules.setdefault(keras_name, importlib.import_module(numnet_name))
        for glue_name, value in ALIAS_GLUE.get(keras_name, {}).items():
            if not hasattr(module, glue_name):
                setattr(module, glue_name,
                        getattr(module, value) if isinstance(value, str) else value)
