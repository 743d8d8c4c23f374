"""Atomic file writes: write a temporary file next to the target, then rename.

A crash (even SIGKILL) in the middle of a save leaves either the previous file
or the complete new one, never a truncated mix: `os.replace` is atomic on the
same filesystem, which is why the temporary file lives in the target's folder.

The temporary file is named `.NAME.XXXXXXXX.tmp` and, where the platform has
`flock`, stays locked by its writer until the rename. A killed save leaves its
temporary file behind; the next save of the same target removes such leftovers,
but only the ones that are provably abandoned (unlocked, untouched for a while,
ours, regular files), so a save of the same target running in another process
is never disturbed.
"""

import contextlib
import os
import re
import stat
import tempfile
import time

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted there anyway
    fcntl = None

# A leftover must be this old (seconds) before it is removed: covers the instant
# between a writer creating its file and locking it.
STALE_LOCKED_PLATFORM_S = 10.0
STALE_UNLOCKED_PLATFORM_S = 600.0
_RANDOM_PART = r"[a-z0-9_]{8}"  # what tempfile.mkstemp puts between prefix and suffix


@contextlib.contextmanager
def atomic_write(filepath, mode="wb"):
    """Context manager yielding an open temporary file that replaces `filepath` on success.

    Example:

    ```python
    with atomic_write("model.keras") as f:
        f.write(data)
    ```

    On an exception the temporary file is removed and `filepath` is untouched.
    Abandoned temporary files of earlier, killed saves of `filepath` are
    removed first (see `remove_stale_temporaries`).
    """
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(filepath)
    fd, tmp_path = tempfile.mkstemp(prefix=temporary_prefix(filepath), suffix=".tmp",
                                    dir=folder)
    lock_fd = _lock(fd)
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
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    _fsync_folder(folder)


def temporary_prefix(filepath):
    """The name prefix of `filepath`'s temporary files: `.NAME.`."""
    return "." + os.path.basename(os.fspath(filepath)) + "."


def _lock(fd):
    """Locks the new temporary file for as long as its writer lives; returns the lock's descriptor.

    The lock sits on a duplicate descriptor so that it outlives closing the
    file object and lasts until after the rename. None where locks are missing.
    """
    if fcntl is None:
        return None
    lock_fd = os.dup(fd)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a filesystem without flock: the age rule alone protects the file
        os.close(lock_fd)
        return None
    return lock_fd


def remove_stale_temporaries(filepath, now=None):
    """Removes abandoned temporary files of earlier saves of `filepath`; returns their names.

    A file is removed only if all of these hold: its name is exactly one of
    our temporary names for this target (`.NAME.XXXXXXXX.tmp`), it is a
    regular file (not a link) owned by this user, it was not modified for a
    while, and (where `flock` exists) no process holds its lock. A save in
    progress in another process holds that lock, so its file is left alone.
    """
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    pattern = re.compile(re.escape(temporary_prefix(filepath)) + _RANDOM_PART + r"\.tmp\Z")
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if pattern.match(entry.name) and _remove_if_abandoned(entry.path, now):
            removed.append(entry.name)
    return removed


def _remove_if_abandoned(path, now):
    try:
        info = os.lstat(path)
    except OSError:
        return False
    owner_ok = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
    if not stat.S_ISREG(info.st_mode) or not owner_ok:
        return False
    age = now - info.st_mtime
    if fcntl is None:
        if age < STALE_UNLOCKED_PLATFORM_S:
            return False
        with contextlib.suppress(OSError):  # Windows refuses to delete an open file
            os.unlink(path)
            return True
        return False
    if age < STALE_LOCKED_PLATFORM_S:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) |
                     getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        same = os.fstat(fd)
        if (same.st_dev, same.st_ino) != (info.st_dev, info.st_ino):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # locked by a live writer (or locks unsupported: not provably stale)
            return False
        with contextlib.suppress(OSError):
            os.unlink(path)
            return True
        return False
    finally:
        os.close(fd)


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
