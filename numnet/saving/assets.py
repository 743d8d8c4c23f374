"""Assets in `.keras` files: files a layer saves next to its weights, as Keras 3 does.

A layer with `save_assets(dir_path)` / `load_assets(dir_path)` (the lookup
layers write their adapted vocabulary as `vocabulary.txt`) gets a folder of
its own, stored in the archive under `assets/<its path>/`, where its path is
the one its weights have in `model.weights.h5` (`layers/string_lookup`).

Writing goes through a temporary folder per layer. Reading never extracts
the archive: a layer's members are copied into a private temporary folder
(names checked, sizes limited) and only that folder is handed to the layer.
"""

import os
import tempfile

from numnet.saving import weights_h5

ASSETS_FOLDER = "assets"
_MAX_ASSET_BYTES = 256 * 1024 ** 2


def _folder(path):
    return f"{ASSETS_FOLDER}/{path}/" if path else f"{ASSETS_FOLDER}/"


def collect(model):
    """`{archive member name: bytes}` of every asset the model's layers save."""
    members = {}
    for path, obj in weights_h5.walk(model):
        save = getattr(obj, "save_assets", None)
        if not callable(save):
            continue
        with tempfile.TemporaryDirectory(prefix="numnet-assets-") as folder:
            save(folder)
            for root, _, files in os.walk(folder):
                for name in sorted(files):
                    full = os.path.join(root, name)
                    relative = os.path.relpath(full, folder).replace(os.sep, "/")
                    with open(full, "rb") as handle:
                        members[_folder(path) + relative] = handle.read()
    return members


def restore(model, names, read, origin):
    """Hands each layer with `load_assets` the members stored under its folder.

    `names` are the archive's asset member names; `read(name, limit)` returns
    a member's bytes.
    """
    for path, obj in weights_h5.walk(model):
        load = getattr(obj, "load_assets", None)
        if not callable(load):
            continue
        prefix = _folder(path)
        own = [n for n in names if n.startswith(prefix) and not n.endswith("/")]
        with tempfile.TemporaryDirectory(prefix="numnet-assets-") as folder:
            for name in own:
                relative = name[len(prefix):]
                parts = relative.split("/")
                if not relative or ".." in parts or relative.startswith("/") or \
                        any(not part for part in parts):
                    raise ValueError(f"{origin}: refusing asset member '{name}'.")
                target = os.path.join(folder, *parts)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as handle:
                    handle.write(read(name, _MAX_ASSET_BYTES))
            try:
                load(folder)
            except (OSError, ValueError) as error:
                raise ValueError(f"{origin}: could not load the assets of "
                                 f"{type(obj).__name__} '{getattr(obj, 'name', '?')}' "
                                 f"(at '{prefix}'): {error}") from error


__all__ = ["ASSETS_FOLDER", "collect", "restore"]
