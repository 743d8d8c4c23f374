"""Keras 3's variable and asset stores (`saving_lib.H5IOStore` and friends), safe to read.

Code written for Keras reaches for these classes to read or write a model's
state piece by piece (KerasHub saves LoRA weights through `H5IOStore`, custom
`save_own_variables` methods receive one): numnet provides them with Keras'
constructors, methods and error messages.

- `H5IOStore`: one HDF5 file (a path, a `BytesIO`, or a member of an open
  `zipfile.ZipFile`); `make(path)` / `get(path)` select the group
  `<path>/vars`, which then reads and writes like a dict of arrays.
- `ShardedH5IOStore`: the same, spread over `<name>_00000.weights.h5`,
  `<name>_00001.weights.h5`, ... of at most `max_shard_size` GB each, indexed
  by `<name>.json` (`{"metadata": {"total_size": ...}, "weight_map": {group:
  file or [files]}}`): what `model.save_weights("m.weights.json",
  max_shard_size=...)` writes.
- `NpzIOStore`: a NumPy `.npz` file (read without pickle).
- `DiskIOStore`: a folder of asset files, whose paths cannot escape it.

Reading is as careful as `load_model`: files are opened as regular files
only, every HDF5 file is checked for links, external or virtual datasets and
plugin filters before use (`weights_h5.check_h5_file`), datasets and `.npz`
members declaring far more bytes than they store ("shape bombs") are refused,
and shard files must sit next to their index. Writes are atomic: files are
assembled in memory and renamed into place on `close()`.
"""

import io
import json
import math
import os
import pathlib
import shutil
import tempfile
import warnings
import zipfile

import numpy as np

from numnet.saving import atomic
from numnet.saving import safe_io
from numnet.saving import weights_h5

# A dataset (or `.npz` member) declaring more than this many bytes must store at
# least 1/expansion of them: a chunked, compressed dataset of fill values can
# declare petabytes in a few kilobytes ("shape bomb"). Genuine weights, even
# compressed, stay far below the ratio.
H5_DATASET_BOMB_FLOOR_BYTES = 64 * 1024 ** 2
H5_DATASET_MAX_EXPANSION = 1000
MAX_SHARD_INDEX_BYTES = 64 * 1024 ** 2


def _bomb_message(what, name, declared, stored, kind="decompression/shape bomb"):
    return (f"Not allowed: {what} '{name}' declares {safe_io.format_size(declared)} but only "
            f"{safe_io.format_size(stored)} are stored on disk; refusing to load a potential "
            f"{kind}.")


def check_dataset_size(dataset, name):
    """Refuses an h5py dataset whose declared size is a shape bomb (see the module docstring)."""
    declared = math.prod(dataset.shape or ()) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    if declared > H5_DATASET_BOMB_FLOOR_BYTES and declared > H5_DATASET_MAX_EXPANSION * stored:
        raise ValueError(_bomb_message("H5 dataset", name, declared, stored))


def safe_get_h5_dataset(group, name):
    """The dataset `name` (may contain `/`) of an h5py group, refusing links and bombs.

    Raises:
        KeyError: nothing of that name.
        ValueError: a soft or external link, an external or virtual dataset,
            something that is not a dataset, or a shape bomb.
    """
    h5py = weights_h5.require_h5py("Reading an H5 store")
    if "/" in name:
        parent, name = name.rsplit("/", 1)
        group = safe_get_h5_group(group, parent)
    if name not in group:
        raise KeyError(name)
    link = group.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ValueError(f"Not allowed: H5 file with {type(link).__name__}")
    dataset = group[name]
    if not isinstance(dataset, h5py.Dataset):
        raise ValueError(f"Invalid H5 file, expected Dataset, received {type(dataset)}")
    if dataset.external:
        raise ValueError(f"Not allowed: H5 file with external Dataset: {dataset.external}")
    if dataset.is_virtual:
        raise ValueError("Not allowed: H5 file with virtual Dataset")
    check_dataset_size(dataset, name)
    return dataset


def safe_get_h5_group(parent, path):
    """The group at `path` under `parent`, following hard links only."""
    h5py = weights_h5.require_h5py("Reading an H5 store")
    current = parent
    for part in path.split("/"):
        if not part:
            raise ValueError(f"Invalid path in H5 file: {path}")
        if part not in current:
            raise KeyError(path)
        link = current.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"Not allowed: H5 file with {type(link).__name__}")
        current = current[part]
        if not isinstance(current, h5py.Group):
            raise ValueError(f"Invalid H5 file, expected Group but received {type(current)}")
    return current


def open_checked_h5(source, origin):
    """An h5py file opened read-only on `source` (bytes, a path), after `check_h5_file`."""
    h5py = weights_h5.require_h5py("Reading an H5 store")
    if isinstance(source, (bytes, bytearray)):
        handle = io.BytesIO(source)
    else:
        handle = safe_io.open_regular_file(os.fspath(source), what="H5 file")
    try:
        h5file = h5py.File(handle, "r")
    except (OSError, ValueError) as error:
        handle.close()
        raise ValueError(f"{origin}: not a readable HDF5 file ({error}).") from error
    try:
        weights_h5.check_h5_file(h5file, origin)
    except BaseException:
        h5file.close()
        handle.close()
        raise
    return h5file, handle


def _check_mode(mode):
    if mode not in ("w", "r"):
        raise ValueError(f"`mode` should be either 'w' or 'r'. Received: {mode}")


class H5IOStore:
    """A variable store backed by one HDF5 file (Keras' `saving_lib.H5IOStore`).

    Args:
        path_or_io: a `str` / `pathlib.Path`, or an `io.BytesIO`.
        archive: an open `zipfile.ZipFile`; `path_or_io` is then the member's
            name (read from it, or written into it on `close()`).
        mode: `"r"` or `"w"`.
    """

    def __init__(self, path_or_io, archive=None, mode="r"):
        _check_mode(mode)
        if isinstance(path_or_io, (str, pathlib.Path)):
            path_or_io = pathlib.Path(path_or_io)
        elif isinstance(path_or_io, io.BytesIO):
            if archive is not None:
                raise ValueError("When `path_or_io` is an `io.BytesIO` object, `archive` "
                                 "should be `None`.")
        else:
            raise TypeError("`path_or_io` should be a `str`, `pathlib.Path` or `io.BytesIO` "
                            f"object. Received: path_or_io={path_or_io} of type "
                            f"{type(path_or_io)}.")
        self.path_or_io = path_or_io
        self.mode = mode
        self.archive = archive
        self._buffer = None
        self.h5_file = self._open()
        self._entry_path = None
        self._entry = {}
        self._entry_created = False

    def _open(self):
        h5py = weights_h5.require_h5py("An H5 store")
        source = self.path_or_io
        if self.mode == "w":
            # Assembled in memory; written (atomically, for a path) on close().
            self._buffer = source if isinstance(source, io.BytesIO) else io.BytesIO()
            return h5py.File(self._buffer, "w")
        if isinstance(source, io.BytesIO):
            data = source.getvalue()
        elif self.archive is not None:
            from numnet.saving.keras_format import safe_zip_read
            data = safe_zip_read(self.archive, str(source))
        else:
            h5file, self._handle = open_checked_h5(source, str(source))
            return h5file
        h5file, self._handle = open_checked_h5(data, str(source) if not isinstance(
            source, io.BytesIO) else "H5 buffer")
        return h5file

    def __bool__(self):
        return bool(self.h5_file)

    def make(self, path, metadata=None):
        """Selects (to be created on first write) the group `<path>/vars`; write mode only."""
        if self.mode != "w":
            raise ValueError("`make` is only allowed in write mode.")
        if not isinstance(metadata, (dict, type(None))):
            raise ValueError(f"`metadata` should be a dict or `None`. Received: {metadata}")
        self._entry_path = path
        self._entry = {}
        self._entry_created = False
        if metadata:
            self._create_entry(metadata)
        return self

    def get(self, path):
        """Selects the group `<path>/vars` for reading (empty if absent); read mode only."""
        if self.mode != "r":
            raise ValueError("`get` is only allowed in read mode.")
        self._entry_path = path
        self._entry = {}
        self._entry_created = True
        group_path = f"{path}/vars" if path else "vars"
        try:
            self._entry = safe_get_h5_group(self.h5_file, group_path)
        except KeyError:
            pass
        return self

    def has_path(self, path):
        """Whether the file has a group at `path`."""
        return path in self.h5_file

    def _create_entry(self, metadata=None):
        group_path = f"{self._entry_path}/vars" if self._entry_path else "vars"
        self._entry = self.h5_file.require_group(group_path)
        for key, value in (metadata or {}).items():
            self._entry.attrs[key] = value
        self._entry_created = True

    def close(self):
        """Closes the file; in write mode, writes it out (atomically for a path)."""
        self.h5_file.close()
        if self.mode == "w":
            data = self._buffer.getvalue()
            if self.archive is not None:
                self.archive.writestr(str(self.path_or_io), data)
            elif not isinstance(self.path_or_io, io.BytesIO):
                atomic.atomic_write_bytes(self.path_or_io, data)
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()

    # dict-like access to the selected `vars` group
    def __len__(self):
        return len(self._entry)

    def keys(self):
        return self._entry.keys()

    def __getitem__(self, key):
        if isinstance(self._entry, dict):
            raise KeyError(key)
        value = safe_get_h5_dataset(self._entry, key)
        return np.array(value)

    def __setitem__(self, key, value):
        if self.mode != "w":
            raise ValueError("Setting a value is only allowed in write mode.")
        if not self._entry_created:
            self._create_entry()
        self._entry[key] = np.asarray(getattr(value, "data", value))

    def __delitem__(self, key):
        if self.mode != "w":
            raise ValueError("Deleting a value is only allowed in write mode.")
        del self._entry[key]

    def __contains__(self, key):
        return key in self._entry


def _check_shard_name(name, index_path):
    """A shard file named by an index must be a plain file name next to the index."""
    if not isinstance(name, str) or not name or name in (".", "..") or \
            any(sep in name for sep in ("/", "\\", "\x00", ":")):
        raise ValueError(f"{index_path}: refusing shard file name {name!r}: shards are plain "
                         "file names in the index's own folder.")
    return name


class ShardedH5IOStore(H5IOStore):
    """A variable store spread over several HDF5 files (Keras' `saving_lib.ShardedH5IOStore`).

    Args:
        path_or_io: the index file's path (`.json`; another suffix is
            replaced by `.json`, with Keras' warning).
        max_shard_size: the most gigabytes (float) one shard file holds.
        archive: an open `zipfile.ZipFile` holding the index and the shards.
        mode: `"r"` or `"w"`.
    """

    def __init__(self, path_or_io, max_shard_size=5, archive=None, mode="r"):
        _check_mode(mode)
        if not isinstance(path_or_io, (str, pathlib.Path)):
            raise TypeError("`path_or_io` should be a `str`, `pathlib.Path` object. Received: "
                            f"path_or_io={path_or_io} of type {type(path_or_io)}.")
        self.path = pathlib.Path(path_or_io)
        self.mode = mode
        self.archive = archive
        self.max_shard_size = float(max_shard_size) * 1024 ** 3
        self.base_name = self.path.stem.replace(".weights", "")
        if self.path.suffix != ".json":
            new_path = self.path.with_suffix(".json")
            warnings.warn(f"{'Saving' if mode == 'w' else 'Loading'} sharded weights requires "
                          f"`*.json` as the extension. The original path: {self.path} will be "
                          f"renamed to {new_path}.", stacklevel=2)
            self.path = new_path
        self._entry_path = None
        self._entry = {}
        self._entry_created = False
        self._files = {}  # shard file name -> [h5py.File, buffer or handle]
        self.current_shard_index = 0
        self.current_shard_size = 0
        self.total_shard_size = 0
        self.current_shard_filenames = []
        if mode == "w":
            self.sharding_config = {"metadata": {"total_size": 0}, "weight_map": {}}
            self._new_shard()
        else:
            self.sharding_config = self._read_index()
            self.current_shard_path = None
            self.h5_file = None

    # --------------------------------------------------------------- files
    def _read_index(self):
        origin = str(self.path)
        if self.archive is not None:
            from numnet.saving.keras_format import safe_zip_read
            data = safe_zip_read(self.archive, str(self.path))
        else:
            data = safe_io.read_file_capped(self.path, MAX_SHARD_INDEX_BYTES,
                                            what="sharded weights index")
        config = safe_io.parse_json(data, origin)
        weight_map = config.get("weight_map") if isinstance(config, dict) else None
        if not isinstance(weight_map, dict):
            raise ValueError(f"{origin}: not a sharded weights index (no 'weight_map' object).")
        for names in weight_map.values():
            for name in names if isinstance(names, list) else [names]:
                _check_shard_name(name, origin)
        return config

    def shard_file(self, name):
        """The open h5py file of shard `name` (opened, checked, on first use)."""
        if name not in self._files:
            _check_shard_name(name, str(self.path))
            if self.mode == "w":
                raise KeyError(name)
            member = self.path.with_name(name)
            if self.archive is not None:
                from numnet.saving.keras_format import safe_zip_read
                h5file, handle = open_checked_h5(safe_zip_read(self.archive, str(member)), name)
            else:
                h5file, handle = open_checked_h5(member, str(member))
            self._files[name] = [h5file, handle]
        return self._files[name][0]

    def _new_shard(self):
        h5py = weights_h5.require_h5py("An H5 store")
        name = f"{self.base_name}_{self.current_shard_index:05}.weights.h5"
        self.current_shard_index += 1
        self.current_shard_path = self.path.with_name(name)
        buffer = io.BytesIO()
        self._files[name] = [h5py.File(buffer, "w"), buffer]
        self.h5_file = self._files[name][0]
        self.current_shard_filenames.append(name)
        self._entry_created = False

    def _group_in(self, name, create=False):
        """The selected `vars` group inside shard `name` (None if it has none)."""
        h5file = self.shard_file(name)
        group_path = f"{self._entry_path}/vars" if self._entry_path else "vars"
        if create:
            return h5file.require_group(group_path)
        try:
            return safe_get_h5_group(h5file, group_path)
        except KeyError:
            return None

    # -------------------------------------------------------------- entries
    def make(self, path, metadata=None):
        self.current_shard_filenames = [self.current_shard_path.name]
        return super().make(path, metadata)

    def _create_entry(self, metadata=None):
        self._entry = self._group_in(self.current_shard_path.name, create=True)
        for key, value in (metadata or {}).items():
            self._entry.attrs[key] = value
        self._entry_created = True

    def get(self, path):
        if self.mode != "r":
            raise ValueError("`get` is only allowed in read mode.")
        weight_map = self.sharding_config["weight_map"]
        key = "/vars" if not path else path
        names = weight_map.get(key) or weight_map.get(f"/{path}/vars")
        self.current_shard_filenames = ([] if names is None else
                                        names if isinstance(names, list) else [names])
        self._entry_path = path
        self._entry_created = True
        self._entry = {}
        if self.current_shard_filenames:
            self.current_shard_path = self.path.with_name(self.current_shard_filenames[0])
            self.h5_file = self.shard_file(self.current_shard_filenames[0])
            group = self._group_in(self.current_shard_filenames[0])
            self._entry = {} if group is None else group
        return self

    def has_path(self, path):
        prefix = f"/{path}"
        return any(k == prefix or k.startswith(prefix + "/")
                   for k in self.sharding_config.get("weight_map", {}))

    def _groups(self):
        """`(shard name, vars group)` for every shard of the selected entry that has one."""
        for name in self.current_shard_filenames:
            group = self._group_in(name)
            if group is not None:
                yield name, group

    def __len__(self):
        return sum(len(group) for _, group in self._groups())

    def keys(self):
        return [key for _, group in self._groups() for key in group.keys()]

    def __contains__(self, key):
        return any(key in group for _, group in self._groups())

    def __getitem__(self, key):
        for _, group in self._groups():
            if key in group:
                return np.array(safe_get_h5_dataset(group, key))
        raise KeyError(f"Key '{key}' not found in any of the shards: "
                       f"{self.current_shard_filenames}")

    def __delitem__(self, key):
        if self.mode != "w":
            raise ValueError("Deleting a value is only allowed in write mode.")
        for _, group in self._groups():
            if key in group:
                del group[key]
                return
        raise KeyError(f"Key '{key}' not found in any of the shards: "
                       f"{self.current_shard_filenames}")

    def __setitem__(self, key, value):
        if self.mode != "w":
            raise ValueError("Setting a value is only allowed in write mode.")
        value = np.asarray(getattr(value, "data", value))
        size = value.nbytes
        if size > self.max_shard_size:
            raise ValueError(
                f"The size of {key} is {safe_io.format_size(size)} which exceeds the maximum "
                f"shard size {safe_io.format_size(self.max_shard_size)}. You can increase the "
                "`max_shard_size` parameter to accommodate the size.")
        self.total_shard_size += size
        self.current_shard_size += size
        if self.current_shard_size > self.max_shard_size:
            metadata = dict(self._entry.attrs) if self._entry_created else None
            self._new_shard()
            self.current_shard_size = size
            self._create_entry(metadata)
        elif not self._entry_created:
            self._create_entry()
        self._entry[key] = value
        shard = self.current_shard_path.name
        weight_map = self.sharding_config["weight_map"]
        group_name = self._entry.name
        if group_name not in weight_map:
            weight_map[group_name] = shard
        else:
            names = weight_map[group_name]
            names = names if isinstance(names, list) else [names]
            if shard not in names:
                names.append(shard)
            weight_map[group_name] = names

    def close(self):
        """Closes every shard; in write mode writes the shards, then the index, atomically."""
        written = {}
        for name, (h5file, buffer) in self._files.items():
            h5file.close()
            if self.mode == "w":
                written[name] = buffer.getvalue()
            elif buffer is not None:
                buffer.close()
        self._files = {}
        if self.mode != "w":
            return
        self.sharding_config["metadata"]["total_size"] = self.total_shard_size
        index = json.dumps(self.sharding_config, indent=4)
        if self.archive is not None:
            self.archive.writestr(str(self.path), index)
            for name, data in written.items():
                self.archive.writestr(str(self.path.with_name(name)), data)
            return
        for name, data in written.items():
            atomic.atomic_write_bytes(self.path.with_name(name), data)
        atomic.atomic_write_bytes(self.path, index.encode("utf-8"))

    def shard_names(self):
        """Every shard file the index names (read mode), in order of first mention."""
        names = []
        for entry in self.sharding_config["weight_map"].values():
            for name in entry if isinstance(entry, list) else [entry]:
                if name not in names:
                    names.append(name)
        return names


NPZ_MEMBER_BOMB_FLOOR_BYTES = 64 * 1024 ** 2
NPZ_MEMBER_MAX_EXPANSION = 100


class NpzIOStore:
    """A variable store backed by a NumPy `.npz` file (Keras' `saving_lib.NpzIOStore`).

    Read without pickle; a member whose `.npy` header declares far more
    bytes than the archive stores for it is refused before NumPy allocates it.
    """

    def __init__(self, root_path, archive=None, mode="r"):
        self.root_path = root_path
        self.mode = mode
        self.archive = archive
        self.f = None
        if mode == "w":
            self.contents = {}
            return
        if archive is not None:
            self.f = archive.open(root_path, mode="r")
        else:
            self.f = safe_io.open_regular_file(os.fspath(root_path), what="npz weights file")
        self.contents = np.load(self.f, allow_pickle=False)

    def make(self, path, metadata=None):
        key = path or "__root__"
        self.contents[key] = {}
        return self.contents[key]

    def get(self, path):
        if not path:
            return dict(self.contents["__root__"]) if "__root__" in self.contents else {}
        if path in self.contents:
            self._refuse_bomb(path)
            return self.contents[path].tolist()
        return {}

    def _refuse_bomb(self, path):
        archive = getattr(self.contents, "zip", None)
        if archive is None:
            return
        try:
            info = archive.getinfo(f"{path}.npy")
        except KeyError:
            return
        with archive.open(info) as member:
            major, _ = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(member)
        declared = math.prod(shape) * dtype.itemsize
        stored = max(info.compress_size, 1)
        if declared > NPZ_MEMBER_BOMB_FLOOR_BYTES and declared > NPZ_MEMBER_MAX_EXPANSION * stored:
            raise ValueError(
                f"Refusing to load npz weight '{path}': its header declares "
                f"{safe_io.format_size(declared)} but only "
                f"{safe_io.format_size(info.compress_size)} is stored on disk; refusing to "
                "load a potential decompression bomb.")

    def has_path(self, path):
        return path in self.contents

    def close(self):
        if self.mode == "w":
            buffer = io.BytesIO()
            np.savez(buffer, **self.contents)
            if self.archive is not None:
                self.archive.writestr(str(self.root_path), buffer.getvalue())
            else:
                atomic.atomic_write_bytes(self.root_path, buffer.getvalue())
            return
        if self.f is not None:
            self.f.close()


def _is_remote(path):
    return "://" in str(path)


class DiskIOStore:
    """A folder of asset files (Keras' `saving_lib.DiskIOStore`); paths cannot leave it.

    Without `archive`, reading uses `root_path` itself and writing a
    temporary folder. With an open `zipfile.ZipFile`, reading copies the
    members under `root_path/` (names checked, bombs refused) into a
    temporary folder, and writing stores the folder back under `root_path/`
    on `close()`.
    """

    def __init__(self, root_path, archive=None, mode=None):
        self.root_path = root_path
        self.archive = archive
        self.mode = mode
        self.tmp_dir = None
        if archive is None and mode == "r":
            self.working_dir = str(root_path)
            return
        self.tmp_dir = tempfile.mkdtemp(prefix="numnet-assets-")
        self.working_dir = os.path.join(self.tmp_dir, str(root_path)).replace("\\", "/")
        os.makedirs(self.working_dir, exist_ok=True)
        if archive is not None and mode == "r":
            self._copy_members_out()

    def _copy_members_out(self):
        from numnet.saving.keras_format import refuse_extraction_bombs, safe_zip_read
        refuse_extraction_bombs(self.archive)
        prefix = str(self.root_path).rstrip("/") + "/"
        for name in self.archive.namelist():
            if not name.startswith(prefix) or name.endswith("/"):
                continue
            target = self._full_path(name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(safe_zip_read(self.archive, name))

    def _full_path(self, path):
        """`path` inside the working folder; refuses absolute paths and `..` escapes."""
        path = str(path).replace("\\", "/")
        escapes = ValueError(f"Invalid asset path: '{path}' escapes the asset directory.")
        if path.startswith("/") or "://" in path or ".." in path.split("/") or "\x00" in path:
            raise escapes
        if _is_remote(self.working_dir):
            return f"{self.working_dir.rstrip('/')}/{path}"
        root = os.path.realpath(self.working_dir)
        resolved = os.path.realpath(os.path.join(root, path))
        if resolved != root and not resolved.startswith(root + os.sep):
            raise escapes
        return resolved.replace("\\", "/")

    def make(self, path):
        if not path:
            return self.working_dir
        full = self._full_path(path)
        os.makedirs(full, exist_ok=True)
        return full

    def get(self, path):
        if not path:
            return self.working_dir
        full = self._full_path(path)
        return full if os.path.exists(full) else None

    def has_path(self, path):
        if not path:
            return os.path.exists(self.working_dir)
        try:
            return os.path.exists(self._full_path(path))
        except ValueError:
            return False

    def close(self):
        if self.mode == "w" and self.archive is not None:
            for folder, _, files in os.walk(self.working_dir):
                for name in sorted(files):
                    full = os.path.join(folder, name)
                    relative = os.path.relpath(full, self.working_dir).replace(os.sep, "/")
                    self.archive.write(full, f"{self.root_path}/{relative}")
        if self.tmp_dir is not None and os.path.exists(self.tmp_dir):
            shutil.rmtree(self.tmp_dir, ignore_errors=True)


__all__ = ["DiskIOStore", "H5IOStore", "NpzIOStore", "ShardedH5IOStore", "safe_get_h5_dataset",
           "safe_get_h5_group"]
