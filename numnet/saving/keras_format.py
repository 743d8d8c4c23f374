"""The Keras 3 `.keras` format: a zip of `metadata.json`, `config.json`, `model.weights.h5`.

`config.json` is `serialize_keras_object(model)` plus the `compile_config`
(and `build_config`); `model.weights.h5` is laid out by `weights_h5`. A
directory holding the same three files (`zipped=False`) is accepted too.

Loading never executes anything from the file: class names resolve only
through numnet's registry, `custom_objects` and `register_keras_serializable`;
Lambda layers (whose config holds Python bytecode) are refused. Archives are
read in memory with size limits and member-name checks, nothing is extracted
to disk. Every save writes a temporary file next to the target and renames it.
"""

import datetime
import io
import json
import os
import warnings
import zipfile

from numnet.saving import assets
from numnet.saving import atomic
from numnet.saving import weights_h5

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose format numnet writes

_MAX_JSON_BYTES = 64 * 1024 ** 2
_MAX_MEMBER_BYTES = 4 * 1024 ** 3
_ALLOWED_MEMBERS = {CONFIG_FILENAME, METADATA_FILENAME, WEIGHTS_FILENAME, "model.weights.npz"}
# Keys recent Keras versions add to layer configs that mean "feature off" when null.
_INERT_NULL_KEYS = ("quantization_config", "lora_rank", "lora_alpha")


def _numnet_version():
    import numnet
    return numnet.__version__


# ------------------------------------------------------------------ saving
def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves a model as a Keras 3 `.keras` archive (or a directory with `zipped=False`).

    The archive holds the architecture, the compile configuration, the weights
    and the optimizer's state; `numnet.models.load_model` (or Keras 3's) restores
    all of it. The write is atomic: a crash mid-save leaves the previous file.

    Args:
        model: the `Model` to save.
        filepath: a path ending in `.keras` (or any folder path with `zipped=False`).
        overwrite: whether to replace an existing file; if False and the file
            exists, a `FileExistsError` is raised.
        zipped: `None`/`True` for the zip archive, `False` for a directory.
    """
    if "save_format" in kwargs:
        raise ValueError("The `save_format` argument is deprecated in Keras 3. Use a "
                         "`.keras` extension instead. Received: save_format="
                         f"{kwargs['save_format']!r}")
    if kwargs:
        raise ValueError(f"save_model() got unexpected arguments: {sorted(kwargs)}")
    filepath = os.fspath(filepath)
    zipped = True if zipped is None else zipped
    if zipped and not filepath.endswith(".keras"):
        if filepath.endswith((".h5", ".hdf5")):
            raise ValueError(
                f"numnet/saving/keras_format.py: cannot save to '{filepath}': the legacy "
                "H5 model format is not supported. Use a `.keras` extension (Keras 3's "
                "native format)."
            )
        raise ValueError(
            "Invalid filepath extension for saving. Please add either a `.keras` extension "
            "for the native Keras format (recommended) or a `.h5` extension. Use "
            f"`zipped=False` to save to a directory. Received: filepath={filepath}"
        )
    if not zipped and filepath.endswith(".keras"):
        raise ValueError("When using `zipped=False`, the `filepath` argument should not end "
                         f"in `.keras`. Received: filepath={filepath}")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' already exists and overwrite=False.")
    h5py = weights_h5.require_h5py("Saving a model")
    if not model.built:
        warnings.warn(
            f"You are saving a model that has not yet been built ('{model.name}'). It might "
            "not contain any weights yet. Consider building the model first by calling it "
            "on some data.", stacklevel=2)
    config_json = json.dumps(model_config_for_saving(model))
    metadata_json = json.dumps({
        "keras_version": KERAS_FORMAT_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "numnet_version": _numnet_version(),
    })
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        weights_h5.write_weights(model, h5file)
    weights_bytes = buffer.getvalue()
    asset_members = assets.collect(model)  # layers' own files (lookup vocabularies)
    if zipped:
        with atomic.atomic_write(filepath) as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr(METADATA_FILENAME, metadata_json)
                archive.writestr(CONFIG_FILENAME, config_json)
                archive.writestr(WEIGHTS_FILENAME, weights_bytes)
                for name, data in asset_members.items():
                    archive.writestr(name, data)
    else:
        os.makedirs(filepath, exist_ok=True)
        for name, data in asset_members.items():
            os.makedirs(os.path.dirname(os.path.join(filepath, name)), exist_ok=True)
            atomic.atomic_write_bytes(os.path.join(filepath, name), data)
        atomic.atomic_write_bytes(os.path.join(filepath, WEIGHTS_FILENAME), weights_bytes)
        atomic.atomic_write_bytes(os.path.join(filepath, METADATA_FILENAME),
                                  metadata_json.encode())
        atomic.atomic_write_bytes(os.path.join(filepath, CONFIG_FILENAME), config_json.encode())


def model_config_for_saving(model):
    """`serialize_keras_object(model)` with `build_config` and `compile_config`, as Keras writes it."""
    from numnet.serialization import serialize_keras_object
    config = serialize_keras_object(model)
    if "build_config" not in config:
        shapes = getattr(model, "_build_shapes", None)
        if model.built and shapes is not None:
            from numnet.layers.base import _shape_for_config
            config["build_config"] = {"input_shape": _shape_for_config(shapes)}
    config["compile_config"] = model.get_compile_config() if getattr(model, "compiled", False) \
        else None
    if config["compile_config"] is None:
        del config["compile_config"]
    return config


# ----------------------------------------------------------------- loading
def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved in the Keras 3 `.keras` format (by numnet or by Keras 3).

    Restores the architecture, the weights and, with `compile=True`, the
    compile configuration and the optimizer's state, so `fit` continues where
    it stopped.

    Args:
        filepath: a `.keras` file, or a directory written with `zipped=False`.
        custom_objects: `{name: class_or_function}` for custom layers, losses, ...
        compile: whether to compile the model from the saved `compile_config`.
        safe_mode: refuse anything that would need code from the file (Lambda
            layers). numnet never executes code from a file either way.

    Returns:
        The model.
    """
    filepath = os.fspath(filepath)
    with open_archive(filepath) as archive:
        config = _parse_json(archive.read(CONFIG_FILENAME, _MAX_JSON_BYTES), filepath,
                             CONFIG_FILENAME)
        model = model_from_config(config, custom_objects=custom_objects, safe_mode=safe_mode,
                                  origin=filepath)
        compile_config = config.get("compile_config")
        compiled = False
        if compile and compile_config:
            try:
                model.compile_from_config(compile_config)
            except (ValueError, TypeError, KeyError) as error:
                raise ValueError(f"{filepath}: could not compile the loaded model from its "
                                 f"compile_config: {error}") from error
            compiled = True
            _build_optimizer(model)
        weights = archive.read(WEIGHTS_FILENAME, _MAX_MEMBER_BYTES)
        _load_weights_bytes(model, weights, f"{filepath} ({WEIGHTS_FILENAME})",
                            load_optimizer=compiled)
        assets.restore(model, archive.asset_names(), archive.read, filepath)
    return model


def model_from_config(config, custom_objects=None, safe_mode=True, origin="config"):
    """Rebuilds a model (architecture only) from its serialized config envelope."""
    from numnet.serialization import deserialize_keras_object
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{origin}: the model config must be an object with a 'class_name'; "
                         f"received {type(config).__name__}.")
    config = _sanitize(config, safe_mode, origin)
    config = {k: v for k, v in config.items() if k != "compile_config"}
    try:
        return deserialize_keras_object(config, custom_objects=custom_objects,
                                        safe_mode=safe_mode, printable_module_name="class")
    except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError) as error:
        raise ValueError(f"{origin}: could not rebuild the model "
                         f"'{config.get('class_name')}': {error}") from error


def _sanitize(config, safe_mode, origin):
    """Refuses Python lambdas in safe mode and drops inert null keys newer Keras versions add.

    A `Lambda` layer wrapping a named function loads in safe mode (the function
    must be registered or in `custom_objects`); one wrapping a Python lambda
    holds bytecode, which only `safe_mode=False` loads (and runs), as in Keras.
    """
    def visit(node):
        if isinstance(node, dict):
            if node.get("class_name") == "__lambda__" and safe_mode:
                raise ValueError(
                    f"{origin}: Requested the deserialization of a Lambda layer (or a "
                    "Python lambda), whose code would have to be executed from the file. "
                    "This is refused in safe mode (`safe_mode=True`); only pass "
                    "`safe_mode=False` for files you trust."
                )
            result = {}
            for key, value in node.items():
                if key in _INERT_NULL_KEYS and value is None:
                    continue
                result[key] = visit(value)
            return result
        if isinstance(node, list):
            return [visit(item) for item in node]
        return node
    return visit(config)


def _build_optimizer(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built and model.built:
        optimizer.build(model.trainable_weights)


def _load_weights_bytes(model, data, origin, load_optimizer=True, skip_mismatch=False):
    h5py = weights_h5.require_h5py("Loading a model")
    try:
        h5file = h5py.File(io.BytesIO(data), "r")
    except OSError as error:
        raise ValueError(f"{origin}: not a readable HDF5 weights file ({error}).") from error
    with h5file:
        weights_h5.read_weights(model, h5file, origin=origin, load_optimizer=load_optimizer,
                                skip_mismatch=skip_mismatch)


def _parse_json(data, filepath, member):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{filepath}: '{member}' is not valid JSON ({error}).") from error


class open_archive:  # noqa: N801 - used as a context manager like `open`
    """Read-only view of a `.keras` zip or directory, with size and path checks."""

    def __init__(self, filepath):
        self.filepath = filepath
        self._zip = None
        self._dir = None
        if os.path.isdir(filepath):
            if not os.path.isfile(os.path.join(filepath, CONFIG_FILENAME)):
                raise ValueError(f"'{filepath}' is a directory without a {CONFIG_FILENAME}; "
                                 "it is not a model saved with zipped=False.")
            self._dir = filepath
            return
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"No file or directory found at {filepath}")
        if not filepath.endswith(".keras") and not zipfile.is_zipfile(filepath):
            raise ValueError(
                f"File format not supported: filepath={filepath}. Keras 3 (and numnet) only "
                "supports V3 `.keras` files. Note that the legacy SavedModel format is not "
                "supported by `load_model()`."
            )
        try:
            self._zip = zipfile.ZipFile(filepath, "r")
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise ValueError(f"'{filepath}' is not a valid .keras archive (truncated or "
                             f"corrupt zip: {error}).") from error
        self._infos = {}
        for info in infos:
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or ":" in name or "\x00" in name:
                self._zip.close()
                raise ValueError(f"'{filepath}': refusing archive member '{name}': its path "
                                 "escapes the archive folder.")
            if name not in _ALLOWED_MEMBERS and not name.startswith("assets/"):
                continue
            self._infos[name] = info

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._zip is not None:
            self._zip.close()

    def asset_names(self):
        """The archive's members under `assets/` (regular files only for a directory)."""
        if self._dir is None:
            return sorted(n for n in self._infos if n.startswith(assets.ASSETS_FOLDER + "/"))
        names = []
        root = os.path.join(self._dir, assets.ASSETS_FOLDER)
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
            for name in files:
                full = os.path.join(folder, name)
                if os.path.isfile(full) and not os.path.islink(full):
                    names.append(os.path.relpath(full, self._dir).replace(os.sep, "/"))
        return sorted(names)

    def read(self, member, limit):
        """The bytes of `member`; errors if missing or larger than `limit`."""
        if self._dir is not None:
            path = os.path.join(self._dir, member)
            if not os.path.isfile(path):
                raise ValueError(f"'{self.filepath}' has no {member}.")
            if os.path.getsize(path) > limit:
                raise ValueError(f"'{self.filepath}': {member} is larger than {limit} bytes.")
            with open(path, "rb") as handle:
                return handle.read()
        info = self._infos.get(member)
        if info is None:
            raise ValueError(f"'{self.filepath}' is not a valid .keras archive: it has no "
                             f"'{member}'. Members: {sorted(self._infos)}")
        if info.file_size > limit or (info.file_size > 100 * max(info.compress_size, 1) and
                                      info.file_size > 64 * 1024 ** 2):
            raise ValueError(f"'{self.filepath}': member '{member}' declares {info.file_size} "
                             f"bytes (stored: {info.compress_size}); refusing to read it.")
        try:
            with self._zip.open(info) as handle:
                data = handle.read(limit + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
            raise ValueError(f"'{self.filepath}' is corrupt: cannot read '{member}' "
                             f"({error}).") from error
        if len(data) > limit:
            raise ValueError(f"'{self.filepath}': member '{member}' is larger than {limit} bytes.")
        return data


# ----------------------------------------------------------------- weights
def save_weights(model, filepath, overwrite=True, max_shard_size=None):
    """Saves the weights (and the optimizer's state) to a `.weights.h5` file, Keras 3 layout."""
    filepath = os.fspath(filepath)
    if max_shard_size is not None:
        raise NotImplementedError("numnet/saving: sharded weights (`max_shard_size`) are not "
                                  "supported; save to a single `.weights.h5` file.")
    if not filepath.endswith(".weights.h5"):
        raise ValueError("The filename must end in `.weights.h5`. "
                         f"Received: filepath={filepath}")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' already exists and overwrite=False.")
    if not model.built:
        raise ValueError("You are saving a model that has not yet been built. Try building "
                         "the model first by calling it on some data or by using `build()`.")
    h5py = weights_h5.require_h5py("Saving weights")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        weights_h5.write_weights(model, h5file)
    atomic.atomic_write_bytes(filepath, buffer.getvalue())


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Loads weights from a `.weights.h5` file or a `.keras` archive into `model`."""
    if kwargs:
        raise ValueError(f"load_weights() got unexpected arguments: {sorted(kwargs)}")
    filepath = os.fspath(filepath)
    if not model.built:
        raise ValueError("You are loading weights into a model that has not yet been built. "
                         "Try building it first by calling it on some data or by using "
                         "`build()`.")
    _build_optimizer(model)
    compiled = getattr(model, "optimizer", None) is not None
    if filepath.endswith(".keras") or os.path.isdir(filepath):
        with open_archive(filepath) as archive:
            data = archive.read(WEIGHTS_FILENAME, _MAX_MEMBER_BYTES)
        _load_weights_bytes(model, data, f"{filepath} ({WEIGHTS_FILENAME})",
                            load_optimizer=compiled, skip_mismatch=skip_mismatch)
        return
    if not filepath.endswith(".weights.h5"):
        raise ValueError("File format not supported for load_weights: numnet reads "
                         f"`.weights.h5` and `.keras` files. Received: filepath={filepath}")
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No such weights file: '{filepath}'")
    h5py = weights_h5.require_h5py("Loading weights")
    try:
        h5file = h5py.File(filepath, "r")
    except OSError as error:
        raise ValueError(f"{filepath}: not a readable HDF5 weights file ({error}).") from error
    with h5file:
        weights_h5.read_weights(model, h5file, origin=filepath, load_optimizer=compiled,
                                skip_mismatch=skip_mismatch)


# -------------------------------------------------------------------- JSON
def model_from_json(json_string, custom_objects=None):
    """Rebuilds a model (without weights) from `model.to_json()`'s output."""
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as error:
        raise ValueError(f"model_from_json: not valid JSON ({error}).") from error
    return model_from_config(config, custom_objects=custom_objects, origin="model_from_json")
