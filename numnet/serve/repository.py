"""Finding and loading the models to serve: one file, or TensorFlow Serving's version folders.

Accepted layouts (`load_repository(path)`):

- `model.keras`: one model, named after the file (or `name=`), version 1;
- `NAME/1/model.keras`, `NAME/2/model.keras`, ...: one model with versions
  (TensorFlow Serving's layout: integer folder names, the largest is the
  latest); `path` is `NAME/` and the model is named `NAME` (or `name=`);
- `MODELS/a/1/...`, `MODELS/b/3/...`: several models, each folder in `MODELS/`
  laid out as above (the names are the folder names).

A version folder holds one model artifact: a `.keras` file, or a folder
that is itself an artifact (an unzipped `.keras` folder). Other formats plug
in with `register_format(detect, load)`; folders and files whose names are not
integers are ignored, as TensorFlow Serving ignores them.
"""

import os
import re

_NAME_PATTERN = re.compile(r"[^/:\s?#%]+")


class ModelNotFoundError(LookupError):
    """No model by that name, or no such version of it."""


class _Format:
    def __init__(self, detect, load, description):
        self.detect = detect
        self.load = load
        self.description = description


_FORMATS = []


def register_format(detect, load, description):
    """Teaches the server a new artifact format.

    Args:
        detect: `detect(path) -> bool`, whether the file or folder at `path` is
            an artifact of this format. It must only look, never load.
        load: `load(path, name, version) -> LoadedModel`.
        description: a few words for error messages, e.g. "an ONNX export folder".
    """
    _FORMATS.append(_Format(detect, load, description))


def _is_keras_file(path):
    return os.path.isfile(path) and path.endswith(".keras")


def _is_keras_folder(path):
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json")) and \
        os.path.isfile(os.path.join(path, "model.weights.h5"))


def _load_keras(path, name, version):
    from numnet.serve.model import KerasModel
    return KerasModel.load(path, name, version)


register_format(_is_keras_file, _load_keras, "a .keras file")
register_format(_is_keras_folder, _load_keras, "an unzipped .keras folder")


class ModelRepository:
    """The loaded models, by name and version.

    Args:
        models: `LoadedModel`s; (name, version) pairs must be unique.
    """

    def __init__(self, models):
        self._models = {}
        for model in models:
            versions = self._models.setdefault(model.name, {})
            if model.version in versions:
                raise ValueError(f"Model '{model.name}' has version {model.version} twice.")
            versions[model.version] = model
        if not self._models:
            raise ValueError("A model repository needs at least one model.")

    def names(self):
        """The model names, sorted."""
        return sorted(self._models)

    def versions(self, name):
        """The versions of model `name`, ascending; raises ModelNotFoundError."""
        return sorted(self._versions(name))

    def get(self, name, version=None):
        """Model `name` at `version` (the latest when None); raises ModelNotFoundError."""
        versions = self._versions(name)
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise ModelNotFoundError(
                f"Model '{name}' has no version {version}; it has version(s) "
                f"{', '.join(str(v) for v in sorted(versions))}.")
        return versions[version]

    def __iter__(self):
        for name in self.names():
            yield from (self._models[name][v] for v in sorted(self._models[name]))

    def _versions(self, name):
        versions = self._models.get(name)
        if versions is None:
            raise ModelNotFoundError(
                f"Model '{name}' is not served here; the server has: {', '.join(self.names())}.")
        return versions


def check_model_name(name):
    """Returns `name` if it can appear in a URL path segment, else raises ValueError."""
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise ValueError(f"Invalid model name {name!r}: use letters, digits, '-', '_' or '.', "
                         "without '/', ':', '?', '#', '%' or spaces.")
    return name


def _artifact_format(path):
    return next((fmt for fmt in _FORMATS if fmt.detect(path)), None)


def _version_folders(path):
    """{version: folder} for the integer-named sub-folders of `path`."""
    found = {}
    for entry in sorted(os.listdir(path)):
        full = os.path.join(path, entry)
        if entry.isdigit() and entry.isascii() and os.path.isdir(full):
            found[int(entry)] = full
    return found


def _load_version(folder, name, version):
    fmt = _artifact_format(folder)
    if fmt is not None:
        return fmt.load(folder, name, version)
    candidates = []
    for entry in sorted(os.listdir(folder)):
        full = os.path.join(folder, entry)
        entry_format = _artifact_format(full)
        if entry_format is not None:
            candidates.append((full, entry_format))
    if len(candidates) != 1:
        kinds = " or ".join(fmt.description for fmt in _FORMATS)
        found = ", ".join(os.path.basename(p) for p, _ in candidates) or "nothing"
        raise ValueError(f"Version folder {folder!r} of model '{name}' must hold exactly one "
                         f"model ({kinds}); found {found}.")
    full, entry_format = candidates[0]
    return entry_format.load(full, name, version)


def _load_versions(path, name):
    return [_load_version(folder, name, version)
            for version, folder in sorted(_version_folders(path).items())]


def load_repository(path, name=None):
    """Loads every model version found at `path` (see the module docstring for layouts).

    Args:
        path: a model file, a model folder with integer version folders, or a
            folder of such model folders.
        name: the model name, for a single model (default: the file or folder name).

    Returns:
        A `ModelRepository`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` matches no layout, a version folder holds no model or
            several, or a name cannot appear in a URL.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such model file or folder: {path!r}")
    if name is not None:
        check_model_name(name)
    base = os.path.basename(os.path.normpath(path))
    fmt = _artifact_format(path)
    if fmt is not None:  # a single artifact is version 1
        model_name = name or check_model_name(os.path.splitext(base)[0])
        return ModelRepository([fmt.load(path, model_name, 1)])
    if os.path.isdir(path):
        if _version_folders(path):
            return ModelRepository(_load_versions(path, name or check_model_name(base)))
        model_folders = [entry for entry in sorted(os.listdir(path))
                         if os.path.isdir(os.path.join(path, entry))
                         and _version_folders(os.path.join(path, entry))]
        if model_folders:
            if name is not None:
                raise ValueError(f"{path!r} holds several models ({', '.join(model_folders)}); "
                                 "they are served under their folder names, so drop --name.")
            return ModelRepository(
                [model for folder in model_folders
                 for model in _load_versions(os.path.join(path, folder),
                                             check_model_name(folder))])
    kinds = " or ".join(fmt.description for fmt in _FORMATS)
    raise ValueError(f"{path!r} is not a model to serve: expected {kinds}, a folder NAME/ with "
                     "version folders NAME/1/, NAME/2/ each holding one, or a folder of such "
                     "model folders.")
