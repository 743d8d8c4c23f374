"""`KerasFileEditor`: inspect, edit and resave the weights of a `.keras` or `.weights.h5`
file, as Keras 3's `keras.saving.KerasFileEditor` does (adapting an old file to a model
whose architecture changed: rename a layer's weights, drop some, add new ones).

```python
editor = KerasFileEditor("old_model.keras")
editor.summary()                                   # what the file holds
editor.compare(new_model)                          # {"status": "error", "error_count": 1, ...}
editor.rename_object("dense_3", "dense_4")         # a name, or a path "layers/dense_3"
editor.add_object("layers/dense_5", weights={"0": kernel, "1": bias})
editor.save("adapted.weights.h5")                  # then new_model.load_weights(...)
```

The weights are a nested dict, `editor.weights_dict`: an object's group (`layers/dense`)
maps to its variables by name (`"0"`, `"1"`, ...) and to the objects it holds. Files are
read with numnet's checks (no HDF5 links, external or virtual datasets, filter plugins,
decompression bombs); nothing is read outside the file.
"""

import io
import json
import os

import numpy as np

from numnet.saving import atomic, io_stores, weights_h5
from numnet.saving.keras_format import (
    CONFIG_FILENAME, MAX_CONFIG_BYTES, METADATA_FILENAME, WEIGHTS_FILENAME, open_archive,
)
from numnet.tree import flatten

# The most a `.keras` file's weights member may hold to be edited in memory.
MAX_EDITABLE_BYTES = 8 * 1024 ** 3


class KerasFileEditor:
    """Reads the weights of `filepath` (a `.keras` file or a `.weights.h5` file) into
    `weights_dict`, to inspect (`summary`, `compare`), edit and `save` them.

    `config` and `metadata` hold a `.keras` file's `config.json` and `metadata.json`
    (None for a weights file).
    """

    def __init__(self, filepath):
        filepath = os.fspath(filepath)
        self.filepath = filepath
        self.config = self.metadata = None
        if filepath.endswith(".keras"):
            with open_archive(filepath) as archive:
                self.config = json.loads(archive.read(CONFIG_FILENAME, MAX_CONFIG_BYTES))
                self.metadata = json.loads(archive.read(METADATA_FILENAME, MAX_CONFIG_BYTES))
                source = archive.read(WEIGHTS_FILENAME, MAX_EDITABLE_BYTES)
        elif filepath.endswith(".weights.h5"):
            source = filepath
        else:
            raise ValueError("Invalid filename: expected a `.keras` `.weights.h5` extension. "
                             f"Received: filepath={filepath}")
        h5file, handle = io_stores.open_checked_h5(source, f"'{filepath}'")
        try:
            self.weights_dict = _weights_of_group(h5file["/"], "")
        finally:
            h5file.close()
            handle.close()
        print(f"Keras model file '{filepath}'")
        if self.metadata is not None:
            print(f"Saved with Keras {self.metadata.get('keras_version')} - date saved: "
                  f"{self.metadata.get('date_saved')}")

    # --------------------------------------------------------------- inspecting
    def summary(self):
        """Prints the objects of the file and the shape and dtype of each weight."""
        print(f"Weights structure of '{self.filepath}':")
        for line in _tree_lines(self.weights_dict, "  "):
            print(line)

    def compare(self, reference_model):
        """Compares the file's weights with those `reference_model` would save.

        Every object or weight present on one side only, and every weight whose shape
        differs, is one error (an object missing altogether counts once).

        Returns:
            `{"status": "success" or "error", "error_count": int, "match_count": int}`.
        """
        reference = model_weights_dict(reference_model)
        checked = set()
        errors, matches = _compare(self.weights_dict, reference, "", "saved file",
                                   "reference model", checked)
        reverse_errors, _ = _compare(reference, self.weights_dict, "", "reference model",
                                     "saved file", checked)
        errors += reverse_errors
        if errors:
            print(f"Found {errors} error{'s' * (errors != 1)}: saved file is not compatible "
                  "with the reference model")
        else:
            print("Comparison successful: saved file is compatible with the reference model\n"
                  f"    Found {matches} matching weight{'s' * (matches != 1)}")
        return {"status": "error" if errors else "success", "error_count": errors,
                "match_count": matches}

    # ----------------------------------------------------------------- editing
    def rename_object(self, object_name, new_name):
        """Renames an object (a layer): `object_name` is its name, if it occurs once in the
        file, or its path (`"layers/dense_2"`); `new_name` is a name, not a path."""
        if "/" in new_name:
            raise ValueError("Argument `target_name` should be a leaf name, not a full path "
                             f"name. Received: target_name='{new_name}'")
        holder, name = self._find(object_name)
        holder[new_name] = holder.pop(name)

    def delete_object(self, object_name):
        """Removes an object (a layer) and its weights; `object_name` as in `rename_object`."""
        holder, name = self._find(object_name)
        del holder[name]

    def add_object(self, object_path, weights):
        """Adds an object at `object_path` (`"layers/dense_5"`) with `weights`, a dict of
        arrays by weight name (`{"0": kernel, "1": bias}`)."""
        weights = _checked_weights(weights)
        holder, name = self._parent(object_path)
        holder[name] = weights

    def delete_weight(self, object_name, weight_name):
        """Removes the weight `weight_name` (`"1"`) of an object."""
        holder, name = self._find(object_name)
        if weight_name not in holder[name]:
            raise ValueError(f"Weight {weight_name} not found in object {object_name}. "
                             f"Weights found: {list(holder[name])}")
        del holder[name][weight_name]

    def add_weights(self, object_name, weights):
        """Adds (or replaces) weights of an existing object: a dict of arrays by name."""
        weights = _checked_weights(weights)
        holder, name = self._find(object_name)
        holder[name].update(weights)

    def _parent(self, path):
        """(the dict that holds, or would hold, the object at `path`, the object's key)."""
        *parents, name = path.split("/")
        holder = self.weights_dict
        for depth, part in enumerate(parents):
            if not isinstance(holder.get(part), dict):
                raise ValueError(f"Path '{'/'.join(parents[:depth + 1])}' not found in model.")
            holder = holder[part]
        return holder, name

    def _find(self, object_name):
        """(the dict holding the object, its key) for a path or a name found once."""
        if "/" in object_name:
            holder, name = self._parent(object_name)
            if not isinstance(holder.get(name), dict):
                raise ValueError(f"Path '{object_name}' not found in model.")
            return holder, name
        found = [holder for holder in _dicts(self.weights_dict)
                 if isinstance(holder.get(object_name), dict)]
        if len(found) > 1:
            raise ValueError(f"Name '{object_name}' occurs more than once in the model; try "
                             "passing a complete path")
        if not found:
            raise ValueError(f"Source name '{object_name}' does not appear in the model. Use "
                             "`editor.summary()` to list all objects.")
        return found[0], object_name

    # ------------------------------------------------------------------ saving
    def save(self, filepath):
        """Writes the (edited) weights to `filepath`, a `.weights.h5` file, atomically:
        `model.load_weights` reads it."""
        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError("Invalid `filepath` argument: expected a `.weights.h5` extension. "
                             f"Received: filepath={filepath}")
        h5py = weights_h5.require_h5py("Saving weights")
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5file:
            _write_group(h5file, self.weights_dict)
        atomic.atomic_write_bytes(filepath, buffer.getvalue())

    resave_weights = save


def model_weights_dict(model):
    """The `weights_dict` a file saved from `model` would give (arrays of its weights)."""
    h5py = weights_h5.require_h5py("Comparing weights")
    with h5py.File(io.BytesIO(), "w") as h5file:
        weights_h5.write_weights(model, h5file)
        return _weights_of_group(h5file["/"], "")


def _weights_of_group(group, path):
    """An HDF5 group as nested dicts: the `vars` of an object become its weights by name,
    beside the objects it holds; empty objects are left out."""
    h5py = weights_h5.require_h5py("Reading weights")
    result = {}
    for name in group:
        node, where = group[name], f"{path}/{name}"
        if isinstance(node, h5py.Dataset):
            io_stores.check_dataset_size(node, where)
            result[name] = node[()]
        elif name == "vars":
            result.update(_weights_of_group(node, where))
        else:
            content = _weights_of_group(node, where)
            if content:
                result[name] = content
    return result


def _write_group(group, weights):
    """The nested `weights` into an HDF5 group, in the layout `_weights_of_group` reads."""
    for name, value in weights.items():
        if isinstance(value, dict):
            if value:
                _write_group(group.require_group(name), value)
        else:
            group.require_group("vars").create_dataset(name, data=np.asarray(value))


def _compare(target, reference, path, target_name, reference_name, checked):
    """(errors, matches) of `target` against `reference`, recording the paths found wrong."""
    errors = matches = 0
    for key, expected in reference.items():
        where = f"{path}/{key}"
        if where in checked:
            continue
        if key not in target:
            errors += 1
            checked.add(where)
            kind = "Object" if isinstance(expected, dict) else "Weight"
            print(f"...{kind} {where} present in {reference_name}, missing from {target_name}")
            if isinstance(expected, dict):
                print(f"    In {reference_name}, {where} contains the following keys: "
                      f"{list(expected)}")
        elif isinstance(expected, dict):
            inner_errors, inner_matches = _compare(target[key], expected, where, target_name,
                                                   reference_name, checked)
            errors, matches = errors + inner_errors, matches + inner_matches
        elif np.shape(target[key]) != np.shape(expected):
            errors += 1
            checked.add(where)
            print(f"...Weight shape mismatch for {where}\n    In {reference_name}: "
                  f"shape={np.shape(expected)}\n    In {target_name}: "
                  f"shape={np.shape(target[key])}")
        else:
            matches += 1
    return errors, matches


def _checked_weights(weights):
    if not isinstance(weights, dict):
        raise ValueError("Argument `weights` should be a dict where keys are weight names "
                         "(usually '0', '1', etc.) and values are NumPy arrays. "
                         f"Received: type(weights)={type(weights)}")
    return {str(name): np.asarray(value) for name, value in weights.items()}


def _dicts(weights):
    """Every dict of the nested `weights`, the outermost first."""
    found, pending = [], [weights]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(v for v in current.values() if isinstance(v, dict))
    return found


def _tree_lines(weights, indent):
    for name, value in weights.items():
        if isinstance(value, dict):
            yield f"{indent}{name}/ ({len(flatten(value))} weights)"
            yield from _tree_lines(value, indent + "  ")
        else:
            yield f"{indent}{name}: shape={tuple(np.shape(value))}, dtype={np.asarray(value).dtype}"
