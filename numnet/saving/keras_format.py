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

import contextlib
import datetime
import io
import json
import os
import warnings
import zipfile
import zlib

import numpy as np

from numnet.saving import assets
from numnet.saving import atomic
from numnet.saving import safe_io
from numnet.saving import weights_h5

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose format numnet writes

MAX_CONFIG_BYTES = 8 * 1024 ** 2  # a config.json takes ~2 KB per layer
_MAX_MEMBERS = 1000
_MAX_INDEX_BYTES = 1024 ** 2
_ALLOWED_MEMBERS = {CONFIG_FILENAME, METADATA_FILENAME, WEIGHTS_FILENAME, "model.weights.npz"}
# Keys recent Keras versions add to layer configs that mean "feature off" when null.
_INERT_NULL_KEYS = ("quantization_config", "lora_rank", "lora_alpha")


def _numnet_version():
    import numnet
    return numnet.__version__


# ------------------------------------------------------------------ saving
def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves a model as a Keras 3 `.keras` archive, a directory (`zipped=False`) or a legacy `.h5`.

    The archive holds the architecture, the compile configuration, the weights
    and the optimizer's state; `numnet.models.load_model` (or Keras 3's) restores
    all of it. The write is atomic: a crash mid-save leaves the previous file.
    A `.h5`/`.hdf5` path writes the legacy whole-model HDF5 file, with Keras'
    warning that the format is legacy.

    Args:
        model: the `Model` to save.
        filepath: a path ending in `.keras` or `.h5` (or any folder path with
            `zipped=False`).
        overwrite: whether to replace an existing file; if False and the file
            exists, a `FileExistsError` is raised.
        zipped: `None`/`True` for the zip archive, `False` for a directory.
        include_optimizer: (legacy `.h5` only) whether to store the optimizer.
    """
    filepath = os.fspath(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", None)
    is_h5 = filepath.endswith((".h5", ".hdf5"))
    if save_format:
        if not (is_h5 or filepath.endswith(".keras")):
            raise ValueError("The `save_format` argument is deprecated in Keras 3. Please "
                             "remove this argument and pass a file path with either `.keras` "
                             f"or `.h5` extension. Received: save_format={save_format!r}")
        warnings.warn("The `save_format` argument is deprecated in Keras 3. We recommend "
                      "removing this argument as it can be inferred from the file path. "
                      f"Received: save_format={save_format!r}", UserWarning, stacklevel=2)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    zipped = True if zipped is None else zipped
    if zipped and not filepath.endswith(".keras") and not is_h5:
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
    if zipped and is_h5:
        from numnet.saving import legacy_h5
        legacy_h5.save_model_to_hdf5(model, filepath, include_optimizer=include_optimizer)
        return
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
    """`serialize_keras_object(model)` plus `build_config` and `compile_config`, as Keras has it."""
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
    """Loads a model saved by `model.save()` (numnet or Keras 3): `.keras`, folder or legacy `.h5`.

    Restores the architecture, the weights and, with `compile=True`, the
    compile configuration and the optimizer's state, so `fit` continues where
    it stopped.

    The path's type and extension are checked before anything is opened
    (FIFOs, devices and unknown extensions are refused), archive members are
    read in bounded chunks, HDF5 features that reach outside the file are
    refused, and no code from the file is ever run.

    Args:
        filepath: a `.keras` file, a directory written with `zipped=False`, or
            a legacy `.h5`/`.hdf5` model file.
        custom_objects: `{name: class_or_function}` for custom layers, losses, ...
        compile: whether to compile the model from the saved compile config.
        safe_mode: refuse anything that would need code from the file (Lambda
            layers). numnet never executes code from a file either way.

    Returns:
        The model.
    """
    filepath = os.fspath(filepath)
    kind = safe_io.check_kind(filepath, allow_dir=True)
    if kind == "file" and filepath.endswith((".h5", ".hdf5")):
        from numnet.saving import legacy_h5
        return legacy_h5.load_model_from_hdf5(filepath, custom_objects=custom_objects,
                                              compile=compile, safe_mode=safe_mode)
    with open_archive(filepath) as archive:
        config = safe_io.parse_json(archive.read(CONFIG_FILENAME, MAX_CONFIG_BYTES),
                                    f"'{filepath}': {CONFIG_FILENAME}")
        model = model_from_config(config, custom_objects=custom_objects, safe_mode=safe_mode,
                                  origin=filepath)
        compiled = False
        if compile and config.get("compile_config"):
            compile_from_saved_config(model, config["compile_config"], filepath)
            compiled = True
        weights = archive.read(WEIGHTS_FILENAME, weights_cap(model),
                               why="derived from the weights its config describes")
        _load_weights_bytes(model, weights, f"{filepath} ({WEIGHTS_FILENAME})",
                            load_optimizer=compiled)
        assets.restore(model, archive.asset_names(), archive.read, filepath)
    return model


def compile_from_saved_config(model, compile_config, origin):
    """Compiles `model` from a saved compile config and builds its optimizer's slots."""
    try:
        model.compile_from_config(compile_config)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"{origin}: could not compile the loaded model from its saved "
                         f"compile config: {error}") from error
    _build_optimizer(model)


def weights_cap(model):
    """The most bytes a weights file for `model` can legitimately hold.

    Eight bytes per value of every model variable and of up to five optimizer
    slots per variable (Adam with AMSGrad keeps three, EMA and gradient
    accumulation one more each), plus HDF5's bookkeeping per object.
    """
    variables = list(getattr(model, "weights", []))
    values = sum(int(np.prod(getattr(v, "shape", ()) or (1,))) for v in variables)
    objects = len(weights_h5.walk(model)) + 6 * len(variables)
    return 8 * 6 * values + 1024 ** 2 + 8 * 1024 * objects


def model_from_config(config, custom_objects=None, safe_mode=True, origin="config"):
    """Rebuilds a model (architecture only) from its serialized config envelope."""
    from numnet.serialization import deserialize_keras_object
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{origin}: the model config must be an object with a 'class_name'; "
                         f"received {type(config).__name__}.")
    if safe_io.json_depth_exceeds(config, safe_io.MAX_JSON_DEPTH):
        raise ValueError(f"{origin}: the model config nests more than "
                         f"{safe_io.MAX_JSON_DEPTH} levels deep.")
    config = _sanitize(config, safe_mode, origin)
    config = {k: v for k, v in config.items() if k != "compile_config"}
    try:
        return deserialize_keras_object(config, custom_objects=custom_objects,
                                        safe_mode=safe_mode, printable_module_name="class")
    except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError,
            IndexError, OverflowError) as error:
        raise ValueError(f"{origin}: could not rebuild the model "
                         f"'{config.get('class_name')}': {error}") from error
    except MemoryError:
        raise ValueError(f"{origin}: the model '{config.get('class_name')}' described by the "
                         "config does not fit in memory (its layers declare more weights than "
                         "can be allocated).") from None


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
    except (OSError, ValueError) as error:
        raise ValueError(f"{origin}: not a readable HDF5 weights file ({error}).") from error
    with h5file:
        _read_checked(model, h5file, origin, load_optimizer, skip_mismatch)


def _read_checked(model, h5file, origin, load_optimizer, skip_mismatch):
    weights_h5.check_h5_file(h5file, origin)
    try:
        weights_h5.read_weights(model, h5file, origin=origin, load_optimizer=load_optimizer,
                                skip_mismatch=skip_mismatch)
    except (OSError, KeyError, RuntimeError) as error:  # HDF5's own errors on a corrupt file
        raise ValueError(f"{origin}: corrupt HDF5 weights file ({error}).") from error


def _zip_central_directory_ok(handle, filepath):
    """Refuses archives declaring more members (or a bigger index) than a model file can have.

    Reads only the end-of-archive record, before `zipfile` parses the index:
    a small file declaring millions of members would otherwise cost
    gigabytes of `ZipInfo` objects.
    """
    size = os.fstat(handle.fileno()).st_size
    tail_size = min(size, 22 + 65535)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    handle.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return  # zipfile reports the broken archive itself
    entries = int.from_bytes(tail[at + 10:at + 12], "little")
    index_bytes = int.from_bytes(tail[at + 12:at + 16], "little")
    if entries > _MAX_MEMBERS or index_bytes > _MAX_INDEX_BYTES:
        raise ValueError(f"'{filepath}' is not a valid .keras archive: it declares {entries} "
                         f"members in a {safe_io.format_size(index_bytes)} index; a model "
                         f"archive holds at most {_MAX_MEMBERS}.")


class open_archive:  # noqa: N801 - used as a context manager like `open`
    """Read-only view of a `.keras` zip or `zipped=False` folder; checks types, sizes, paths."""

    def __init__(self, filepath):
        self.filepath = filepath
        self._zip = None
        self._dir = None
        kind = safe_io.check_kind(filepath, allow_dir=True)
        if kind == "dir":
            self._open_dir(filepath)
            return
        if not filepath.endswith(".keras"):
            raise ValueError(
                f"File format not supported: filepath={filepath}. numnet, like Keras 3, loads "
                "`.keras` files, folders saved with `zipped=False` and legacy H5 model files "
                "(`.h5`/`.hdf5` extension); weights alone load with `model.load_weights` from "
                "`.weights.h5` files."
            )
        handle = safe_io.open_regular_file(filepath)
        try:
            _zip_central_directory_ok(handle, filepath)
            try:
                self._zip = zipfile.ZipFile(handle, "r")
                infos = self._zip.infolist()
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
                raise ValueError(f"'{filepath}' is not a valid .keras archive (truncated or "
                                 f"corrupt zip: {error}).") from error
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        self._infos = {}
        for info in infos:
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or ":" in name or "\x00" in name:
                self.close()
                raise ValueError(f"'{filepath}': refusing archive member '{name}': its path "
                                 "escapes the archive folder.")
            if name in self._infos:
                self.close()
                raise ValueError(f"'{filepath}' is not a valid .keras archive: member '{name}' "
                                 "appears twice.")
            if name in _ALLOWED_MEMBERS or name.startswith("assets/"):
                self._infos[name] = info

    def _open_dir(self, filepath):
        config = os.path.join(filepath, CONFIG_FILENAME)
        if not os.path.lexists(config):
            if os.path.exists(os.path.join(filepath, "saved_model.pb")):
                raise ValueError(
                    f"'{filepath}' is a TensorFlow SavedModel folder. Neither Keras 3's "
                    "`load_model` nor numnet's reads SavedModels; save the model from its "
                    "framework as a `.keras` file instead.")
            raise ValueError(f"'{filepath}' is a directory without a {CONFIG_FILENAME}; "
                             "it is not a model saved with zipped=False.")
        self._dir = filepath

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._handle.close()
            self._zip = None

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

    def read(self, member, limit, why="the most it can legitimately hold"):
        """The bytes of `member`, read in chunks; errors if missing or larger than `limit`."""
        origin = f"'{self.filepath}': member '{member}'"
        if self._dir is not None:
            path = os.path.join(self._dir, member)
            if os.path.islink(path):
                raise ValueError(f"{origin} is a symbolic link; a saved model folder must hold "
                                 "its own files (links could read files outside it).")
            if not os.path.lexists(path):
                raise ValueError(f"'{self.filepath}' has no {member}.")
            return safe_io.read_file_capped(path, limit, what=f"{member} of a saved model")
        info = self._infos.get(member)
        if info is None:
            raise ValueError(f"'{self.filepath}' is not a valid .keras archive: it has no "
                             f"'{member}'. Members: {sorted(self._infos)}")
        if info.file_size > limit or (info.file_size > 100 * max(info.compress_size, 1) and
                                      info.file_size > 64 * 1024 ** 2):
            raise ValueError(f"{origin} declares {safe_io.format_size(info.file_size)} "
                             f"(stored: {safe_io.format_size(info.compress_size)}); the cap is "
                             f"{safe_io.format_size(limit)} ({why}). Refusing to read it.")
        # Deflate expands at most ~1032x; anything past 100x of a big member is a bomb.
        cap = min(limit, max(64 * 1024 ** 2, 100 * info.compress_size))
        try:
            with self._zip.open(info) as handle:
                return safe_io.read_capped(handle, cap, origin)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error,
                RuntimeError) as error:
            raise ValueError(f"'{self.filepath}' is corrupt: cannot read '{member}' "
                             f"({error}).") from error


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
    """Loads weights into `model` from a `.weights.h5` file, a `.keras` archive or a legacy `.h5`.

    `by_name=True` (legacy `.h5` files only, as in Keras) matches layers by
    name instead of by order. Files are checked as `load_model` checks them.
    """
    by_name = kwargs.pop("by_name", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    filepath = os.fspath(filepath)
    if not model.built:
        raise ValueError("You are loading weights into a model that has not yet been built. "
                         "Try building it first by calling it on some data or by using "
                         "`build()`.")
    is_legacy = filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
    if by_name is not None and not is_legacy:
        raise ValueError("`by_name` only supports loading legacy '.h5' or '.hdf5' files. "
                         f"Received: {filepath}")
    _build_optimizer(model)
    compiled = getattr(model, "optimizer", None) is not None
    kind = safe_io.check_kind(filepath, allow_dir=True, what="weights file")
    if filepath.endswith(".keras") or kind == "dir":
        with open_archive(filepath) as archive:
            data = archive.read(WEIGHTS_FILENAME, weights_cap(model),
                                why="derived from the model's weights")
        _load_weights_bytes(model, data, f"{filepath} ({WEIGHTS_FILENAME})",
                            load_optimizer=compiled, skip_mismatch=skip_mismatch)
        return
    if is_legacy:
        from numnet.saving import legacy_h5
        legacy_h5.load_weights_from_hdf5(model, filepath, skip_mismatch=skip_mismatch,
                                         by_name=bool(by_name))
        return
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"File format not supported: filepath={filepath}. numnet, like Keras "
                         "3, loads weights from `.weights.h5` files, `.keras` files and legacy "
                         "H5 files (`.h5` extension).")
    with open_h5(filepath, "weights file") as h5file:
        _read_checked(model, h5file, filepath, compiled, skip_mismatch)


@contextlib.contextmanager
def open_h5(filepath, what):
    """Opens the regular file `filepath` with h5py for reading, refusing FIFOs and devices.

    The checked descriptor itself is what HDF5 reads (h5py's file-object
    driver), so the file cannot be swapped between the check and the read.
    """
    h5py = weights_h5.require_h5py(f"Loading a {what}")
    with safe_io.open_regular_file(filepath, what=what) as handle:
        try:
            h5file = h5py.File(handle, "r")
        except (OSError, ValueError) as error:
            raise ValueError(f"{filepath}: not a readable HDF5 file, so not a {what} "
                             f"({error}).") from error
        with h5file:
            yield h5file


# -------------------------------------------------------------------- JSON
def model_from_json(json_string, custom_objects=None):
    """Rebuilds a model (without weights) from `model.to_json()`'s output."""
    config = safe_io.parse_json(json_string, "model_from_json: the JSON text")
    return model_from_config(config, custom_objects=custom_objects, origin="model_from_json")
