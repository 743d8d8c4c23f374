"""Legacy whole-model `.h5` files, read and written as Keras 3 reads and writes them.

`model.save("m.h5")` (the format of tf.keras 2 and of the textbook's
`save_format="h5"`) puts everything in one HDF5 file:

```
attrs   keras_version, backend, model_config (JSON), training_config (JSON)
model_weights/                  attrs layer_names, keras_version, backend
    dense/                      attrs weight_names = ["sequential/dense/kernel", ...]
        sequential/dense/kernel, sequential/dense/bias
    top_level_model_weights/    attrs weight_names = []
optimizer_weights/              attrs weight_names = ["adam/iteration", ...]
```

Layers are matched to the file by order (the layers that have weights, in
`model.layers` order, against the `layer_names` whose `weight_names` are not
empty), or by name with `load_weights(..., by_name=True)`; each layer's
weights are its trainable weights followed by its non-trainable ones. The
configs are Keras' "legacy" serialization: layer envelopes without `module`
and `registered_name`. Files written by Keras 2 (tf.keras, the textbook's
`model.save("my_keras_model.h5")`) are read as Keras 3 reads them
(`from_keras2`); their optimizer state, which lacks Keras 3's `learning_rate`
variable, is dropped with a warning, as Keras 3 drops it.

Loading follows the rules of the `.keras` loader: only regular files, the
whole file checked for links, external and virtual datasets and filter
plugins before any data is read, every count and shape checked before any
weight changes, and no code from the file run.
"""

import io
import json
import os
import warnings

import numpy as np

from numnet.saving import atomic
from numnet.saving import keras_format
from numnet.saving import safe_io
from numnet.saving import weights_h5

# An HDF5 object header holds at most this many bytes of attributes; longer name
# lists are split into `layer_names0`, `layer_names1`, ... as Keras splits them.
HDF5_OBJECT_HEADER_LIMIT = 64512
BACKEND_NAME = "numpy"  # a Keras backend name; Keras only records it
_SAVE_WARNING = (
    "You are saving your model as an HDF5 file via `model.save()` or "
    "`keras.saving.save_model(model)`. This file format is considered legacy. We recommend "
    "using instead the native Keras format, e.g. `model.save('my_model.keras')` or "
    "`keras.saving.save_model(model, 'my_model.keras')`. "
)


# ------------------------------------------------------------------ saving
def save_model_to_hdf5(model, filepath, overwrite=True, include_optimizer=True):
    """Writes `model` (config, weights, compile config and optimizer state) to a legacy `.h5`.

    Warns that the format is legacy, as Keras 3 does. The write is atomic; the
    folder is created if needed. With `overwrite=False` an existing file is
    an error.
    """
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"'{filepath}' already exists and overwrite=False.")
    warnings.warn(_SAVE_WARNING, UserWarning, stacklevel=4)
    h5py = weights_h5.require_h5py("Saving a model")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        for key, value in model_metadata(model, include_optimizer).items():
            h5file.attrs[key] = (json.dumps(value).encode("utf8")
                                 if isinstance(value, dict) else value)
        # Variables are named by their paths, the names Keras gives them
        # ("sequential/dense/kernel", "adam/sequential_dense_kernel_momentum").
        _write_model_weights(h5file.create_group("model_weights"), model)
        optimizer = getattr(model, "optimizer", None)
        if include_optimizer and optimizer is not None and optimizer.variables:
            _write_optimizer_weights(h5file, optimizer)
    atomic.atomic_write_bytes(filepath, buffer.getvalue())


def model_metadata(model, include_optimizer=True):
    """The file's top-level attributes: versions, `model_config` and `training_config`."""
    from numnet.serialization import serialize_keras_object
    metadata = {"keras_version": keras_format.KERAS_FORMAT_VERSION, "backend": BACKEND_NAME,
                "model_config": legacy_envelope(serialize_keras_object(model))}
    if include_optimizer and getattr(model, "compiled", False) and \
            getattr(model, "optimizer", None) is not None:
        config = dict(model.get_compile_config())
        optimizer = config.pop("optimizer")  # stays as its get_config() writes it
        config = legacy_value(config)
        config["optimizer_config"] = {"class_name": optimizer["class_name"],
                                      "config": optimizer["config"]}
        metadata["training_config"] = config
    return metadata


def legacy_envelope(envelope):
    """A layer or model envelope in Keras' legacy form: `{"class_name", "config", ...}`.

    `module`, `registered_name` and `build_config`/`compile_config` go; a
    registered custom class is named by its registered name; the layers of a
    nested model are converted too; `name`/`inbound_nodes` (Functional) stay.
    """
    result = {"class_name": envelope.get("registered_name") or envelope["class_name"],
              "config": envelope.get("config")}
    config = result["config"]
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        result["config"] = dict(config, layers=[legacy_envelope(layer)
                                                for layer in config["layers"]])
    for key, value in envelope.items():
        if key not in ("module", "class_name", "config", "registered_name", "build_config",
                       "compile_config"):
            result[key] = value
    return result


def legacy_value(value):
    """A compile-config entry in Keras' legacy form (objects as `{"class_name", "config"}`,
    functions by their registered name)."""
    if isinstance(value, dict):
        if "class_name" in value and "config" in value and "module" in value:
            if value["class_name"] == "function":
                return value["config"]  # the registered name ("package>name") or the name
            return {"class_name": value.get("registered_name") or value["class_name"],
                    "config": legacy_value(value["config"])}
        return {key: legacy_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [legacy_value(item) for item in value]
    return value


def _legacy_weights(layer):
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _write_model_weights(group, model):
    _write_name_list(group, "layer_names", [layer.name.encode("utf8") for layer in model.layers])
    group.attrs["backend"] = BACKEND_NAME.encode("utf8")
    group.attrs["keras_version"] = keras_format.KERAS_FORMAT_VERSION.encode("utf8")
    for layer in sorted(model.layers, key=lambda item: item.name):
        _write_subset(group.create_group(layer.name), _legacy_weights(layer))
    in_layers = {id(v) for layer in model.layers for v in layer.weights}
    top_level = [v for v in model.weights if id(v) not in in_layers]
    _write_subset(group.create_group("top_level_model_weights"), top_level)


def _write_subset(group, variables):
    names = _unique([v.path for v in variables])
    _write_name_list(group, "weight_names", [name.encode("utf8") for name in names])
    for name, variable in zip(names, variables):
        group.create_dataset(name, data=np.asarray(variable.data))


def _unique(names):
    """`names` with repeats made distinct (`x`, `x_1`, ...): datasets need distinct paths."""
    seen, result = set(), []
    for name in names:
        candidate, i = name, 0
        while candidate in seen:
            i += 1
            candidate = f"{name}_{i}"
        seen.add(candidate)
        result.append(candidate)
    return result


def _write_optimizer_weights(h5file, optimizer):
    group = h5file.create_group("optimizer_weights")
    names = _unique([variable.path for variable in optimizer.variables])
    _write_name_list(group, "weight_names", [name.encode("utf8") for name in names])
    for name, variable in zip(names, optimizer.variables):
        group.create_dataset(name, data=np.asarray(variable.data))


def _write_name_list(group, key, names):
    """Stores a list of names as one attribute, or split into `KEY0`, `KEY1`, ... when too big."""
    too_long = [n for n in names if len(n) > HDF5_OBJECT_HEADER_LIMIT]
    if too_long:
        raise RuntimeError(f"These names are longer than the {HDF5_OBJECT_HEADER_LIMIT} bytes "
                           f"an HDF5 attribute can hold: {too_long[:3]}")
    array = np.asarray(names)
    n_chunks = 1
    while any(part.nbytes > HDF5_OBJECT_HEADER_LIMIT for part in np.array_split(array, n_chunks)):
        n_chunks += 1
    if n_chunks == 1:
        group.attrs[key] = names
        return
    for i, part in enumerate(np.array_split(array, n_chunks)):
        group.attrs[f"{key}{i}"] = part


# ----------------------------------------------------------------- loading
def load_model_from_hdf5(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a legacy `.h5` model file written by Keras 3, tf.keras' `save_format="h5"` or numnet.

    Raises:
        ValueError: the file is not a usable model file, reaches outside
            itself, or does not match its own config.
    """
    with keras_format.open_h5(filepath, "legacy H5 model file") as h5file:
        weights_h5.check_h5_file(h5file, filepath)
        config = _json_attr(h5file, "model_config", filepath)
        if config is None:
            raise ValueError(f"No model config found in the file at {filepath}: it is not a "
                             "whole-model H5 file (weights alone load with "
                             "`model.load_weights`).")
        model = keras_format.model_from_config(from_keras2(config), custom_objects=custom_objects,
                                               safe_mode=safe_mode, origin=filepath)
        group = _group(h5file, "model_weights", filepath)
        read_layer_weights(group, model, filepath)
        if not compile:
            return model
        training_config = _json_attr(h5file, "training_config", filepath)
        if training_config is None:
            warnings.warn("No training configuration found in the save file, so the model was "
                          "*not* compiled. Compile it manually.", UserWarning, stacklevel=3)
            return model
        if _compile(model, training_config, filepath) and "optimizer_weights" in h5file:
            _read_optimizer_weights(h5file, model, filepath)
    return model


def load_weights_from_hdf5(model, filepath, skip_mismatch=False, by_name=False):
    """Loads the weights of a legacy `.h5` file (a whole model, or Keras 2 weights) into `model`."""
    with keras_format.open_h5(filepath, "legacy H5 weights file") as h5file:
        weights_h5.check_h5_file(h5file, filepath)
        group = h5file
        if "layer_names" not in h5file.attrs and "model_weights" in h5file:
            group = _group(h5file, "model_weights", filepath)
        read_layer_weights(group, model, filepath, skip_mismatch=skip_mismatch,
                           by_name=by_name)


def _compile(model, training_config, origin):
    if not isinstance(training_config, dict) or \
            not isinstance(training_config.get("optimizer_config"), dict):
        raise ValueError(f"{origin}: the training_config has no optimizer_config object.")
    compile_config = {k: v for k, v in training_config.items() if k != "optimizer_config"}
    compile_config["optimizer"] = _optimizer_from_keras2(training_config["optimizer_config"])
    for key in ("metrics", "weighted_metrics"):
        compile_config[key] = _metrics_as_keras_reads_them(compile_config.get(key))
    compile_config.setdefault("loss_weights", None)
    return keras_format.compile_from_saved_config(model, compile_config, origin)


def _metrics_as_keras_reads_them(entry):
    """Metric strings of a legacy file, resolved as Keras resolves them there.

    Keras deserializes each string before compiling ("mae" becomes the function
    `mean_absolute_error`, "AUC" an `AUC()`), so the logs say
    `mean_absolute_error` and `auc`; only the accuracy/crossentropy shortcuts
    stay strings, resolved against the output later.
    """
    from numnet import metrics as metrics_module
    from numnet.serialization import serialize_keras_object
    if isinstance(entry, dict) and "class_name" not in entry:
        return {key: _metrics_as_keras_reads_them(value) for key, value in entry.items()}
    if isinstance(entry, list):
        return [_metrics_as_keras_reads_them(value) for value in entry]
    if not isinstance(entry, str) or entry in ("accuracy", "acc", "crossentropy", "ce"):
        return entry
    try:
        resolved = metrics_module.get(entry)
    except (ValueError, TypeError):
        return entry  # compile reports the unknown name
    if isinstance(resolved, metrics_module.Metric):
        return serialize_keras_object(resolved)
    return getattr(resolved, "__name__", entry)


# ------------------------------------------------- files of Keras 2 (tf.keras)
# Keras 2 options Keras 3's optimizers no longer take; Keras 3 reads such files all the same.
_KERAS2_OPTIMIZER_KEYS = ("is_legacy_optimizer", "jit_compile")


def from_keras2(config):
    """A `model_config` written by Keras 2 (tf.keras), in the form Keras 3 reads it as.

    Keras 2 names a layer's input shape `batch_input_shape` (Keras 3: the
    InputLayer's `batch_shape`) and writes a Functional model's connections as
    `[[layer, node_index, tensor_index, kwargs], ...]` lists, which become
    Keras 3's `{"args": [...], "kwargs": {...}}` nodes. Keras 3 configs pass
    through unchanged.
    """
    if isinstance(config, list):
        return [from_keras2(item) for item in config]
    if not isinstance(config, dict):
        return config
    result = {key: from_keras2(value) for key, value in config.items()}
    inner = result.get("config")
    if isinstance(inner, dict) and "batch_input_shape" in inner:
        inner = dict(inner)
        shape = inner.pop("batch_input_shape")
        if result.get("class_name") == "InputLayer":
            inner.setdefault("batch_shape", shape)
        else:
            inner.setdefault("input_shape", shape[1:] if isinstance(shape, list) else shape)
        result["config"] = inner
    nodes = result.get("inbound_nodes")
    if isinstance(nodes, list) and any(isinstance(node, list) for node in nodes):
        result["inbound_nodes"] = [_node_from_keras2(node) if isinstance(node, list) else node
                                   for node in nodes]
    return result


def _node_from_keras2(node):
    """`[["dense", 0, 0, {}], ...]` -> `{"args": [tensor or [tensors]], "kwargs": {...}}`."""
    tensors, kwargs = [], {}
    for entry in node:
        if not isinstance(entry, list) or len(entry) < 3:
            raise ValueError(f"Unreadable Keras 2 node in the model config: {node!r}")
        name, node_index, tensor_index = entry[:3]
        if len(entry) > 3 and isinstance(entry[3], dict):
            kwargs = entry[3]
        tensors.append({"class_name": "__keras_tensor__",
                        "config": {"keras_history": [name, node_index, tensor_index]}})
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


def _optimizer_from_keras2(config):
    """Keras 2's `Custom>Adam` names the built-in Adam, with options Keras 3 dropped."""
    from numnet import optimizers
    class_name = config.get("class_name", "")
    if class_name.startswith("Custom>"):
        try:
            optimizers.get(class_name[len("Custom>"):])
        except ValueError:
            return config
        inner = {k: v for k, v in config.get("config", {}).items()
                 if k not in _KERAS2_OPTIMIZER_KEYS}
        return {"class_name": class_name[len("Custom>"):], "config": inner}
    return config


# ------------------------------------------------------------ file access
def _text(value, what, origin):
    if isinstance(value, bytes):
        try:
            return value.decode("utf8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{origin}: {what} is not UTF-8 text ({error}).") from None
    if isinstance(value, str):
        return value
    raise ValueError(f"{origin}: {what} should be text; found {type(value).__name__}.")


def _json_attr(h5file, key, origin):
    """The attribute `key` parsed as JSON (None if absent), with the `.keras` loader's limits."""
    if key not in h5file.attrs:
        return None
    value = h5file.attrs[key]
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    text = _text(value, f"the '{key}' attribute", origin)
    if len(text) > keras_format.MAX_CONFIG_BYTES:
        raise ValueError(f"{origin}: the '{key}' attribute holds {len(text)} characters, more "
                         f"than the {keras_format.MAX_CONFIG_BYTES} a model config can hold.")
    return safe_io.parse_json(text, f"{origin}: the '{key}' attribute")


def _name_list(group, key, origin):
    """A list of names stored as one attribute or split into `KEY0`, `KEY1`, ..."""
    if key in group.attrs:
        parts = [group.attrs[key]]
    else:
        parts, i = [], 0
        while f"{key}{i}" in group.attrs:
            parts.append(group.attrs[f"{key}{i}"])
            i += 1
    names = []
    for part in parts:
        array = np.asarray(part)
        if array.size == 0:
            continue
        if array.dtype.kind not in "OSU" or array.ndim != 1:
            raise ValueError(f"{origin}: the '{key}' attribute of '{group.name}' should be a "
                             f"list of names; found an array of {array.dtype} {array.shape}.")
        names.extend(_text(item, f"an entry of '{group.name}' {key}", origin) for item in array)
    return names


def _group(parent, path, origin):
    h5py = weights_h5.require_h5py("Loading a model")
    node = parent.get(path)
    if not isinstance(node, h5py.Group):
        raise ValueError(f"{origin}: expected the group '{path}' in '{parent.name}'; "
                         f"found {type(node).__name__ if node is not None else 'nothing'}.")
    return node


def _dataset(group, path, origin, expected_shape, what):
    """The dataset `path` of `group`, checked as numeric and of `expected_shape` (not yet read)."""
    h5py = weights_h5.require_h5py("Loading a model")
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{origin}: invalid weight name '{path}' in '{group.name}'.")
    node = group.get(path)
    if not isinstance(node, h5py.Dataset):
        raise ValueError(f"{origin}: {what}: expected the dataset '{group.name}/{path}'; found "
                         f"{type(node).__name__ if node is not None else 'nothing'}.")
    if node.dtype.kind not in "biuf":
        raise ValueError(f"{origin}: {what}: '{node.name}' is not numeric ({node.dtype}).")
    if expected_shape is not None and tuple(node.shape) != tuple(expected_shape):
        return node, False
    return node, True


def read_layer_weights(group, model, origin, skip_mismatch=False, by_name=False):
    """Loads a `model_weights`-style group into `model`; every check passes before any change."""
    layer_names = _name_list(group, "layer_names", origin)
    saved = [(name, _name_list(_group(group, name, origin), "weight_names", origin))
             for name in layer_names]
    if by_name:
        pairs = _pairs_by_name(model, saved)
    else:
        pairs = _pairs_by_order(model, saved, origin)
    assignments = []
    for layer, name, weight_names in pairs:
        assignments += _match(layer, _group(group, name, origin), weight_names, origin,
                              f"layer '{layer.name}' (saved as '{name}')", skip_mismatch)
    if "top_level_model_weights" in group:
        top_group = _group(group, "top_level_model_weights", origin)
        in_layers = {id(v) for layer in model.layers for v in layer.weights}
        top = [v for v in model.weights if id(v) not in in_layers]
        names = _name_list(top_group, "weight_names", origin)
        if len(names) != len(top):
            raise ValueError(f"{origin}: Weight count mismatch for top-level weights when "
                             f"loading weights from file. Model expects {len(top)} top-level "
                             f"weight(s). Received {len(names)} saved top-level weight(s).")
        assignments += _match_variables(top, top_group, names, origin, "the top-level model",
                                        skip_mismatch)
    for variable, dataset in [(v, d[()]) for v, d in assignments]:
        variable.data[...] = np.asarray(dataset, dtype=variable.data.dtype)


def _pairs_by_order(model, saved, origin):
    layers = [layer for layer in model.layers if _legacy_weights(layer)]
    saved = [(name, names) for name, names in saved if names]
    if len(saved) != len(layers):
        raise ValueError(f"{origin}: Layer count mismatch when loading weights from file. "
                         f"Model expected {len(layers)} layers with weights "
                         f"({[layer.name for layer in layers]}), found {len(saved)} saved "
                         f"layers with weights ({[name for name, _ in saved]}).")
    return [(layer, name, names) for layer, (name, names) in zip(layers, saved)]


def _pairs_by_name(model, saved):
    by_name = {}
    for layer in model.layers:
        by_name.setdefault(layer.name, []).append(layer)
    return [(layer, name, names) for name, names in saved for layer in by_name.get(name, [])]


def _match(layer, group, weight_names, origin, what, skip_mismatch):
    variables = _legacy_weights(layer)
    if len(weight_names) != len(variables):
        message = (f"{origin}: Weight count mismatch for {what}: the layer expects "
                   f"{len(variables)} weight(s) ({[v.name for v in variables]}), the file holds "
                   f"{len(weight_names)} ({weight_names}).")
        if skip_mismatch:
            warnings.warn(message + " Skipping it (skip_mismatch=True).", stacklevel=4)
            return []
        raise ValueError(message)
    return _match_variables(variables, group, weight_names, origin, what, skip_mismatch)


def _match_variables(variables, group, weight_names, origin, what, skip_mismatch):
    pairs = []
    for variable, name in zip(variables, weight_names):
        dataset, ok = _dataset(group, name, origin, variable.data.shape, what)
        if not ok:
            message = (f"{origin}: Shape mismatch in {what} for weight '{variable.path}': the "
                       f"weight has shape {tuple(variable.data.shape)}, the file holds shape "
                       f"{tuple(dataset.shape)} ('{dataset.name}').")
            if skip_mismatch:
                warnings.warn(message + " Skipping it (skip_mismatch=True).", stacklevel=5)
                continue
            raise ValueError(message)
        pairs.append((variable, dataset))
    return pairs


def _read_optimizer_weights(h5file, model, origin):
    optimizer = model.optimizer
    group = _group(h5file, "optimizer_weights", origin)
    names = _name_list(group, "weight_names", origin)
    variables = list(optimizer.variables)
    problem = None
    if len(names) != len(variables):
        problem = (f"the optimizer has {len(variables)} variables, the file holds "
                   f"{len(names)}")
    else:
        pairs = []
        for variable, name in zip(variables, names):
            dataset, ok = _dataset(group, name, origin, variable.data.shape, "optimizer")
            if not ok:
                problem = (f"'{variable.path}' has shape {tuple(variable.data.shape)}, the file "
                           f"holds {tuple(dataset.shape)}")
                break
            pairs.append((variable, dataset))
    if problem:
        warnings.warn(f"{origin}: Error in loading the saved optimizer state ({problem}). As a "
                      "result, your model is starting with a freshly initialized optimizer.",
                      UserWarning, stacklevel=4)
        return
    for variable, value in [(v, d[()]) for v, d in pairs]:
        variable.data[...] = np.asarray(value, dtype=variable.data.dtype)


def is_legacy_h5_path(filepath):
    """Whether `filepath` names a legacy H5 model file (`.h5`/`.hdf5`, not `.weights.h5`)."""
    filepath = os.fspath(filepath)
    return filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
