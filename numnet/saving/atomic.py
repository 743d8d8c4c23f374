"""Atomic file writes: write a temporary file next to the target, then rename.

A crash (even SIGKILL) in the middle of a save leaves either the previous file
or the complete new one, never a truncated mix: `os.replace` is atomic on the
same filesystem, which is why the temporary file lives in the target's folder.
"""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(filepath, mode="wb"):
    """Context manager yielding an open temporary file that replaces `filepath` on success.

    Example:

    ```python
    with atomic_write("model.keras") as f:
        f.write(data)
    ```

    On an exception the temporary file is removed and `filepath` is untouched.
    """
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix="." + os.path.basename(filepath) + ".",
                                    suffix=".tmp", dir=folder)
    try:
        # mkstemp makes 0600 files: give the new file the mode a plain open() would.
        with contextlib.suppress(OSError, AttributeError, NotImplementedError):
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    _fsync_folder(folder)


def _umask():
    mask = os.umask(0o022)  # the only portable way to read it; restored at once
    os.umask(mask)
    return mask


def atomic_write_bytes(filepath, data):
    """Writes `data` (bytes) to `filepath` atomically."""
    with atomic_write(filepath) as handle:
        handle.write(data)


def _fsync_folder(folder):
    # Makes the rename itself durable where the platform allows it.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
