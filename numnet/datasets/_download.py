"""Fetches dataset files: local folders first, then the cache, then the network.

A file is looked up, in this order, in:

1. the folder given as the loader's `path` argument,
2. each folder in the `NUMNET_DATA` environment variable (`os.pathsep`
   separated),
3. the cache, `$NUMNET_HOME/datasets` (default `~/.numnet/datasets`),

where each folder may hold the file directly or in a subfolder named after
the dataset (`fashion-mnist/`, `california-housing/`, `mnist/`). Only then
is it downloaded into the cache. Every file is checked against its SHA-256
digest: a corrupt local copy raises `ChecksumError` (it is the user's file,
so it is left alone), and a corrupt cached copy is deleted and downloaded
again.

Downloads go to `<name>.part` next to the final file and are moved into
place with `os.replace` only once their digest matches, so a file under its
final name is always complete. An interrupted transfer leaves the `.part`
file behind and the next attempt resumes it with an HTTP `Range` request
(starting over when the server ignores the range).

Environment variables:

- `NUMNET_HOME`: root of the cache (`$NUMNET_HOME/datasets`).
- `NUMNET_DATA`: folder(s) holding local copies of the dataset files.
- `NUMNET_OFFLINE`: `1` never touches the network.
- `NUMNET_DATASETS_URL`: base URL(s), space separated, used *instead of*
  the canonical origins (an internal mirror, or a test server); a file
  `NAME` is fetched from `<base>/NAME`.
"""

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings

CHUNK_SIZE = 1 << 20
# Seconds to wait before retry number `n` is `RETRY_DELAY * n`.
RETRY_DELAY = 1.0
USER_AGENT = "numnet-datasets/1"

_FALSE = ("0", "false", "no", "off")
_TRUE = ("1", "true", "yes", "on")


class DatasetUnavailableError(OSError):
    """A dataset file is not on disk and could not be downloaded.

    Attributes:
        fname: Name of the missing file.
        errors: One line per origin tried, saying why it failed.
    """

    def __init__(self, message, fname=None, errors=()):
        super().__init__(message)
        self.fname = fname
        self.errors = list(errors)


class ChecksumError(ValueError):
    """A file's SHA-256 digest is not the expected one."""


class _Interrupted(Exception):
    """A transfer stopped before the whole body arrived."""


def env_flag(name, default):
    """Reads a boolean environment variable (`1/0`, `true/false`, ...)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"Environment variable {name} must be one of "
        f"{_TRUE + _FALSE}. Received: {name}={os.environ[name]!r}"
    )


def offline():
    """Whether `NUMNET_OFFLINE` forbids network access."""
    return env_flag("NUMNET_OFFLINE", False)


def cache_dir():
    """Returns the dataset cache folder (it may not exist yet)."""
    home = os.environ.get("NUMNET_HOME") or os.path.join(
        os.path.expanduser("~"), ".numnet"
    )
    return os.path.join(home, "datasets")


def _fallback_cache_dir():
    # Used when the normal cache cannot be written (read-only home).
    return os.path.join(tempfile.gettempdir(), ".numnet", "datasets")


def data_dirs(path=None):
    """Lists the local folders to search: `path`, then `NUMNET_DATA`."""
    dirs = []
    if path is not None:
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f"`path` must be an existing folder holding the dataset "
                f"files. Received: path={path!r}"
            )
        dirs.append(path)
    for entry in os.environ.get("NUMNET_DATA", "").split(os.pathsep):
        if entry.strip():
            dirs.append(os.path.expanduser(entry.strip()))
    return dirs


def split_path_arg(path):
    """Classifies a loader's `path` argument, Keras style.

    Returns:
        `(folder, file, name)`, at most one not `None`: an existing folder
        to search, an existing file to use, or (like Keras'
        `path="mnist.npz"`) a bare file name for the copy in the cache.

    Raises:
        FileNotFoundError: `path` names a missing file or folder.
    """
    if path is None:
        return None, None, None
    path = os.fspath(path)
    if os.path.isdir(path):
        return path, None, None
    if os.path.isfile(path):
        return None, path, None
    if path and os.path.basename(path) == path and path not in (".", ".."):
        return None, None, path
    raise FileNotFoundError(
        "`path` must be an existing folder or file, or a bare file name "
        f"for the cache. Received: path={path!r}"
    )


def verify_file(filename, file_hash):
    """Raises `ChecksumError` unless `filename` has SHA-256 `file_hash`."""
    actual = sha256sum(filename)
    if actual != file_hash:
        raise ChecksumError(_checksum_message(filename, file_hash, actual))
    return filename


def sha256sum(filename):
    """Returns the hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(filename, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum_message(filename, expected, actual):
    size = os.path.getsize(filename)
    return (
        f"File {filename} ({size:,} bytes) is corrupt or incomplete: its "
        f"sha256 is {actual}, expected {expected}. Replace it with a good "
        f"copy or delete it."
    )


def _validate_hash(file_hash):
    if file_hash is None:
        return None
    text = str(file_hash).lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(
            "`file_hash` must be a SHA-256 digest (64 hex digits). "
            f"Received: file_hash={file_hash!r}"
        )
    return text


def _validate_fname(fname):
    fname = os.fspath(fname)
    if (
        not fname
        or fname in (".", "..")
        or os.path.basename(fname) != fname
        or "/" in fname
    ):
        raise ValueError(
            f"`fname` must be a plain file name. Received: fname={fname!r}"
        )
    return fname


def _cache_candidates(fname, cache_subdir):
    sub = cache_subdir or ""
    return [
        os.path.join(root, sub, fname)
        for root in (cache_dir(), _fallback_cache_dir())
    ]


def find_file(fname, file_hash=None, cache_subdir=None, path=None):
    """Finds a verified local or cached copy of a file, without downloading.

    Args:
        fname: File name, e.g. `"train-labels-idx1-ubyte.gz"`.
        file_hash: Expected SHA-256 (hex), or `None` to skip the check.
        cache_subdir: Dataset folder name, e.g. `"fashion-mnist"`.
        path: Extra local folder searched first.

    Returns:
        The file's path, or `None` when there is no copy.

    Raises:
        ChecksumError: A local (non-cache) copy fails the checksum.
    """
    fname = _validate_fname(fname)
    file_hash = _validate_hash(file_hash)
    for folder in data_dirs(path):
        names = (
            [fname]
            if not cache_subdir
            else [os.path.join(cache_subdir, fname), fname]
        )
        for name in names:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                if file_hash is not None:
                    verify_file(candidate, file_hash)
                return candidate
    for candidate in _cache_candidates(fname, cache_subdir):
        if not os.path.isfile(candidate):
            continue
        if file_hash is None:
            return candidate
        actual = sha256sum(candidate)
        if actual == file_hash:
            return candidate
        warnings.warn(
            f"numnet: cached {_checksum_message(candidate, file_hash, actual)}"
            " Deleting it; it will be downloaded again.",
            stacklevel=2,
        )
        os.remove(candidate)
    return None


def _writable_dir(folder):
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _origins(origin, fname):
    override = os.environ.get("NUMNET_DATASETS_URL", "").split()
    if override:
        return [base.rstrip("/") + "/" + fname for base in override]
    if origin is None:
        return []
    if isinstance(origin, (str, bytes, os.PathLike)):
        return [os.fsdecode(origin)]
    return [os.fsdecode(o) for o in origin]


def get_file(
    fname,
    origin=None,
    file_hash=None,
    cache_subdir=None,
    *,
    path=None,
    timeout=30.0,
    retries=3,
    verbose=True,
):
    """Returns a verified local path to a dataset file; downloads if needed.

    Args:
        fname: File name, e.g. `"mnist.npz"`.
        origin: URL, or a sequence of URLs tried in order.
        file_hash: Expected SHA-256 (hex) of the file, checked for local,
            cached and downloaded copies alike.
        cache_subdir: Dataset folder name, used for the local lookup and
            inside the cache, e.g. `"fashion-mnist"`.
        path: A local folder searched before `NUMNET_DATA` and the cache.
        timeout: Socket timeout in seconds for each network operation.
        retries: How many times an interrupted transfer is resumed.
        verbose: Print a line when a download starts.

    Returns:
        The path of the file (a `str`).

    Raises:
        ChecksumError: A local copy is corrupt.
        DatasetUnavailableError: No copy exists and every origin failed
            (or `NUMNET_OFFLINE` is set).
    """
    fname = _validate_fname(fname)
    file_hash = _validate_hash(file_hash)
    if int(retries) < 0:
        raise ValueError(f"`retries` must be >= 0. Received: retries={retries}")
    found = find_file(fname, file_hash, cache_subdir, path)
    if found is not None:
        return found

    urls = _origins(origin, fname)
    if offline():
        raise DatasetUnavailableError(
            f"{fname}: not found locally and NUMNET_OFFLINE is set.",
            fname,
            ["network disabled by NUMNET_OFFLINE"],
        )
    if not urls:
        raise DatasetUnavailableError(
            f"{fname}: not found locally and no download origin is known.",
            fname,
            ["no origin"],
        )
    dest = os.path.join(_download_folder(cache_subdir), fname)

    errors = []
    with _exclusive(dest + ".lock"):
        # Another process or thread may have finished it while we waited.
        if os.path.isfile(dest) and (
            file_hash is None or sha256sum(dest) == file_hash
        ):
            return dest
        for url in urls:
            try:
                _download(url, dest, file_hash, timeout, int(retries), verbose)
                return dest
            except (OSError, http.client.HTTPException, ValueError) as e:
                # URLError and HTTPError are OSErrors; ValueError covers a bad
                # checksum (ChecksumError) and an unknown URL scheme.
                errors.append(f"{url}: {e}")
    raise DatasetUnavailableError(
        f"{fname}: download failed:\n  " + "\n  ".join(errors), fname, errors
    )


def _download_folder(cache_subdir):
    """The cache folder downloads go to (a fallback, with a warning, when not writable)."""
    folder = os.path.join(cache_dir(), cache_subdir or "")
    if _writable_dir(folder):
        return folder
    fallback = os.path.join(_fallback_cache_dir(), cache_subdir or "")
    warnings.warn(f"numnet: cache folder {folder} is not writable; using {fallback}.",
                  stacklevel=3)
    os.makedirs(fallback, exist_ok=True)
    return fallback


@contextlib.contextmanager
def _exclusive(lock_path):
    """Serializes downloads of one file across threads and processes.

    The lock file is removed on exit; a waiter that locked a removed file
    starts over, so two holders never overlap. No lock without `fcntl`.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    while True:
        f = open(lock_path, "a")
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            current = os.path.samestat(os.fstat(f.fileno()), os.stat(lock_path))
        except FileNotFoundError:
            current = False
        if current:
            break
        f.close()
    try:
        yield
    finally:
        try:
            os.remove(lock_path)
        finally:
            f.close()


def _range_start(content_range):
    # "bytes START-END/TOTAL" -> START
    try:
        unit, _, spec = content_range.strip().partition(" ")
        return int(spec.split("-", 1)[0]) if unit == "bytes" else None
    except (AttributeError, ValueError):
        return None


def _transfer(url, part, offset, timeout, verbose):
    """Fetches `url` into `part`, appending from `offset` when possible.

    Returns:
        True when the bytes were appended to an existing partial file.
    """
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            # Nothing left to send: the partial file may be complete; the
            # checksum decides.
            e.close()
            return True
        raise
    with response:
        append = False
        if offset:
            start = _range_start(response.headers.get("Content-Range"))
            if response.status == 206 and start == offset:
                append = True
            elif response.status == 206:
                os.remove(part)
                raise _Interrupted(
                    f"server sent range start {start}, asked for {offset}"
                )
            elif verbose:
                print(
                    f"Server ignored the resume request; restarting {url}",
                    file=sys.stderr,
                )
        if verbose:
            action = f"Resuming at byte {offset:,}" if append else "Downloading"
            print(f"{action} data from {url}", file=sys.stderr)
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        received = 0
        with open(part, "ab" if append else "wb") as f:
            try:
                while chunk := response.read(CHUNK_SIZE):
                    f.write(chunk)
                    received += len(chunk)
            except (OSError, http.client.HTTPException) as e:
                raise _Interrupted(f"{type(e).__name__}: {e}") from e
        if expected is not None and received < expected:
            raise _Interrupted(f"received {received:,} of {expected:,} bytes")
    return append


def _download(url, dest, file_hash, timeout, retries, verbose):
    """Downloads `url` to `dest` atomically, resuming from `dest.part`."""
    part = dest + ".part"
    failures = 0
    fresh_retry = True
    while True:
        offset = os.path.getsize(part) if os.path.isfile(part) else 0
        try:
            resumed = _transfer(url, part, offset, timeout, verbose)
        except _Interrupted as e:
            failures += 1
            if failures > retries:
                raise OSError(
                    f"transfer interrupted {failures} times (last: {e}); "
                    f"the partial file {part} is kept and the next attempt "
                    "resumes it"
                ) from None
            time.sleep(RETRY_DELAY * failures)
            continue
        actual = sha256sum(part)
        if file_hash is None or actual == file_hash:
            os.replace(part, dest)
            return
        message = _checksum_message(part, file_hash, actual)
        os.remove(part)
        if resumed and fresh_retry:
            # The old partial file may have come from another version of
            # the file: start once more from zero.
            fresh_retry = False
            continue
        raise ChecksumError(f"downloaded {message[0].lower()}{message[1:]}")


def unavailable_message(title, cache_subdir, fnames, reason, env_hint=True):
    """Builds the error text telling where to put the files by hand."""
    files = "\n".join(f"    {name}" for name in fnames)
    example = os.path.join("DIR", cache_subdir)
    lines = [
        f"numnet: {title} is not available locally and could not be "
        f"downloaded.",
        f"Reason: {reason}",
        "To use a local copy, put these files:",
        files,
        f"in a folder {example}{os.sep} (or directly in DIR) and set the "
        "environment variable NUMNET_DATA=DIR (or pass path=DIR to the "
        "loader),",
        "or copy them into the cache folder "
        f"{os.path.join(cache_dir(), cache_subdir)}{os.sep}.",
    ]
    if env_hint:
        lines.append(
            "(The sample shipped with numnet was not used: sample fallback is "
            "off, via allow_sample=False or NUMNET_ALLOW_SAMPLE=0.)"
        )
    return "\n".join(lines)
