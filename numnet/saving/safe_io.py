"""Opening and reading files that may be hostile, without ever blocking or over-reading.

Every loader in `numnet.saving` goes through these helpers:

- `check_kind` looks at a path before anything opens it: a FIFO would make
  `open` wait forever and `/dev/zero` never ends, so only regular files (and
  folders, where a format allows them) get past it.
- `open_regular_file` opens without blocking and checks again on the open
  descriptor, so a file swapped for a FIFO in between is refused too.
- `read_capped` inflates or reads in bounded chunks and stops as soon as a
  cap is passed, before anything big is allocated.
- `parse_json` turns every way a JSON text can fail (deep nesting included)
  into a `ValueError` naming the file and member.
"""

import contextlib
import json
import os
import stat

CHUNK_BYTES = 1024 ** 2
MAX_JSON_DEPTH = 200  # Keras configs nest ~5 levels per nested model


def _kind_name(mode):
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def check_kind(filepath, allow_dir=False, what="model file"):
    """Returns `"file"` or `"dir"` for `filepath`, refusing anything else before it is opened.

    Raises:
        FileNotFoundError: nothing exists at `filepath`.
        ValueError: it is a FIFO, a device, a socket (or a folder when
            `allow_dir` is False).
    """
    try:
        mode = os.stat(filepath).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"No such {what}: '{filepath}'") from None
    except OSError as error:
        raise ValueError(f"Cannot read the {what} '{filepath}': {error}") from error
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode) and allow_dir:
        return "dir"
    raise ValueError(f"Refusing to read '{filepath}': it is {_kind_name(mode)}, not a regular "
                     f"file. numnet only loads a {what} from a regular file.")


def open_regular_file(filepath, what="model file"):
    """Opens `filepath` for binary reading; refuses (without blocking) anything but a regular file.

    The type is checked on the path first (opening some devices has side
    effects), then again on the open descriptor, which is what gets read.
    """
    check_kind(filepath, what=what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | \
        getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(filepath, flags)
    except OSError as error:
        raise ValueError(f"Cannot open the {what} '{filepath}': {error}") from error
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"Refusing to read '{filepath}': it is {_kind_name(mode)}, not a "
                             f"regular file. numnet only loads a {what} from a regular file.")
        if getattr(os, "O_NONBLOCK", 0):
            with contextlib.suppress(OSError, AttributeError):
                os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(handle, cap, origin):
    """Reads `handle` to its end in chunks; raises ValueError as soon as more than `cap` bytes come.

    Used for zip members, whose declared size may lie: nothing larger than
    `cap` (plus one chunk) is ever held in memory.
    """
    chunks, total = [], 0
    while True:
        chunk = handle.read(CHUNK_BYTES)
        if not chunk:
            break
        total += len(chunk)
        if total > cap:
            raise ValueError(f"{origin} holds more than {format_size(cap)}, the most it can "
                             "legitimately hold; refusing to read further (a decompression bomb "
                             "or a file that does not match its config).")
        chunks.append(chunk)
    return b"".join(chunks)


def format_size(n_bytes):
    """`1536` -> `'1.5 KiB'`."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n_bytes} B"  # pragma: no cover - the loop always returns


def read_file_capped(filepath, cap, what="model file"):
    """The bytes of the regular file `filepath`, refusing files larger than `cap`."""
    with open_regular_file(filepath, what=what) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > cap:
            raise ValueError(f"'{filepath}' is {format_size(size)}, more than the "
                             f"{format_size(cap)} a {what} can legitimately hold.")
        return read_capped(handle, cap, f"'{filepath}'")


def json_depth_exceeds(value, limit):
    """Whether `value` (parsed JSON) nests deeper than `limit`; iterative, so any depth is safe."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False


def parse_json(data, origin, max_depth=MAX_JSON_DEPTH):
    """Parses `data` (bytes or str) as JSON; every failure is a ValueError naming `origin`."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"{origin} is not a usable JSON config: it nests too deeply (more than "
                         f"{max_depth} levels are refused).") from None
    except (UnicodeDecodeError, ValueError, TypeError) as error:  # JSONDecodeError, int digits
        raise ValueError(f"{origin} is not valid JSON ({error}).") from None
    if json_depth_exceeds(value, max_depth):
        raise ValueError(f"{origin} is not a usable JSON config: it nests more than "
                         f"{max_depth} levels deep.")
    return value
