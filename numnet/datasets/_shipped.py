"""Access to the small real-data sample shipped in `numnet/datasets/_sample/`.

The loaders fall back to it when a dataset is neither on disk nor
downloadable, so textbook code still runs offline. `allow_sample=False`, or
the environment variable `NUMNET_ALLOW_SAMPLE=0`, turns the fallback off.
Every shipped file is checked against `_sample/SHA256SUMS`.
"""

import os
import warnings

from numnet.datasets import _download

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sample")
_verified = set()


class SampleFallbackWarning(UserWarning):
    """A loader returned the shipped sample instead of the full dataset."""


def sample_allowed(allow_sample=None):
    """Whether the loaders may fall back to the shipped sample."""
    if allow_sample is not None:
        return bool(allow_sample)
    return _download.env_flag("NUMNET_ALLOW_SAMPLE", True)


def _manifest():
    sums = {}
    with open(os.path.join(SAMPLE_DIR, "SHA256SUMS"), encoding="ascii") as f:
        for line in f:
            if line.strip():
                digest, name = line.split()
                sums[name.lstrip("*")] = digest
    return sums


def sample_file(fname):
    """Returns the path of a shipped sample file, verified once per process.

    Raises:
        FileNotFoundError: The file is missing from the installation.
        ChecksumError: The file does not match `SHA256SUMS`.
    """
    filename = os.path.join(SAMPLE_DIR, fname)
    if filename in _verified:
        return filename
    expected = _manifest().get(fname)
    if expected is None or not os.path.isfile(filename):
        raise FileNotFoundError(
            f"numnet's shipped sample file {filename} is missing (or not "
            "listed in SHA256SUMS); reinstall numnet."
        )
    actual = _download.sha256sum(filename)
    if actual != expected:
        raise _download.ChecksumError(
            f"numnet's shipped sample file {filename} is corrupt: sha256 "
            f"{actual}, expected {expected}; reinstall numnet."
        )
    _verified.add(filename)
    return filename


def warn_fallback(message, stacklevel=3):
    """Warns (category `SampleFallbackWarning`) that the sample is used."""
    warnings.warn(
        message + " Turn this fallback off with allow_sample=False or "
        "NUMNET_ALLOW_SAMPLE=0.",
        SampleFallbackWarning,
        stacklevel=stacklevel,
    )
