"""Writing exports atomically, without clobbering anything that is not an export.

A file (ONNX) is written to a temporary file beside its target, then renamed
over it. A folder (SavedModel, NumPy) is filled in a temporary folder beside
its target, then moved into place; a previous export there is swapped out and
deleted only once the new one is in place. An existing path is replaced only
when it holds an export of the same format (`replaceable(path)`): anything
else there (a model file, a folder of other files) makes the export fail
before any work, naming the path.
"""

import json
import os
import shutil
import tempfile

from numnet.export.errors import ExportError

MANIFEST = "numnet_export.json"


def check_target(filepath, kind, replaceable, what):
    """Fails early when `filepath` holds something an export of `what` must not replace."""
    if not os.path.lexists(filepath):
        return
    if os.path.islink(filepath):
        raise ExportError(f"Cannot export to {filepath!r}: it is a symbolic link; give the "
                          "path of a new file or folder.")
    if kind == "file" and os.path.isdir(filepath):
        raise ExportError(f"Cannot write the {what} export to {filepath!r}: it is a folder.")
    if kind == "folder" and not os.path.isdir(filepath):
        raise ExportError(f"Cannot write the {what} export to {filepath!r}: a file is there, "
                          "and this export is a folder. Choose another path or remove the "
                          "file.")
    if not replaceable(filepath):
        raise ExportError(
            f"Cannot write the {what} export to {filepath!r}: it already exists and is not a "
            f"previous {what} export, so it is left alone. Choose another path or remove it "
            "first.")


def write_file(filepath, data):
    """Writes `data` (bytes) to `filepath` atomically (temporary file, then rename)."""
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(filepath)}.",
                                     suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, filepath)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_folder(filepath, fill):
    """Calls `fill(folder)` on a new temporary folder, then moves it to `filepath`."""
    target = os.path.abspath(filepath)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(target)}.")
    try:
        fill(temporary)
        _swap_in(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _swap_in(folder, target):
    if not os.path.exists(target):
        os.rename(folder, target)
        return
    old = tempfile.mkdtemp(dir=os.path.dirname(target),
                           prefix=f".{os.path.basename(target)}.old.")
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(folder, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder, manifest):
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def read_manifest(folder):
    """The export manifest in `folder`, or None when there is none (or it is not ours)."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "format" in manifest else None


def is_export_folder(format_name):
    """A predicate: the folder is empty or holds a previous export in `format_name`."""
    def check(folder):
        if not os.listdir(folder):
            return True
        manifest = read_manifest(folder)
        return manifest is not None and manifest.get("format") == format_name
    return check
