"""numnet's seeded random generator, shared by initializers, shuffling and dropout-like layers."""

import ctypes
import math
import sys

import numpy as np

_GLOBAL = {"generator": np.random.default_rng()}


def global_generator():
    """Returns the global `numpy.random.Generator` (reseeded by `set_seed`)."""
    return _GLOBAL["generator"]


def set_seed(seed):
    """Reseeds the global generator."""
    _GLOBAL["generator"] = np.random.default_rng(seed)


def make_generator(seed=None):
    """Returns a generator: a fresh seeded one for an int seed, else the global one."""
    if seed is None:
        return _GLOBAL["generator"]
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def uniform_at_least(generator, shape, threshold, out=None):
    """`generator.random(shape, dtype="float32") >= threshold` (booleans, into `out`): the same
    values from the same draws, leaving the generator in the same state, at about half the cost.

    NumPy makes a float32 uniform from the top 24 bits of one 32-bit draw, times 2**-24, so
    the comparison is one of the raw 32-bit draws with an integer threshold, and no float
    array is made. PCG64 (NumPy's default) makes its 32-bit draws as the two halves of a
    64-bit one, low half first, keeping the high half pending for the next draw; so on a
    little-endian machine `random_raw` gives them in order, once a pending half is used.
    A pending half (first) and a last odd draw (which leaves one pending) are drawn as
    floats. Another bit generator, a `SeedGenerator`, or a NumPy whose PCG64 is found to
    work otherwise (`raw_route_confirmed`) takes the float draws throughout.
    """
    target = out if out is not None and out.flags.c_contiguous else np.empty(shape, dtype=bool)
    uniform_at_least_kernel(target, threshold)(generator)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def uniform_at_least_kernel(out, threshold):
    """A function `draw(generator)` doing `uniform_at_least(generator, out.shape, threshold,
    out)` for the contiguous boolean array `out`, its views and constants made once (a
    replay's Dropout mask)."""
    flat = out.reshape(-1)
    size = flat.size
    threshold32 = np.float32(threshold)
    lowest = lowest_kept_bits(threshold) if _LITTLE_ENDIAN and 0.0 <= threshold < 1.0 else None
    routes = {}  # pending half or not -> (whether one float comes first, raw pairs' view, pairs, odd)
    for pending in (False, True):
        first = int(pending and size > 0)
        pairs, odd = divmod(size - first, 2)
        routes[pending] = (first, flat[first:first + 2 * pairs], pairs, odd)
    last = [None, None]  # the bit generator seen last, and its pending-half flag

    def draw(generator):
        bits = getattr(generator, "bit_generator", None)
        if lowest is None or type(bits) is not np.random.PCG64 or not raw_route_confirmed():
            np.greater_equal(generator.random(out.shape, dtype=np.float32), threshold32, out=out)
            return out
        if bits is not last[0]:
            last[0], last[1] = bits, _pending_half_flag(bits)
        first, view, pairs, odd = routes[bool(last[1].value)]
        if first:
            flat[0] = generator.random(dtype=np.float32) >= threshold32
        if pairs:
            np.greater_equal(bits.random_raw(pairs).view(np.uint32), lowest, out=view)
        if odd:
            flat[-1] = generator.random(dtype=np.float32) >= threshold32
        return out
    return draw


def raw_route_confirmed():
    """Whether this NumPy's PCG64 works as `uniform_at_least` relies on, checked once on
    scratch generators: its float32 uniforms are `(bits >> 8) * 2**-24` of the halves of
    `random_raw`'s draws, low half first, and its C state keeps the pending-half flag right
    after the pointer to the 128-bit state (where `_pending_half_flag` reads it)."""
    if _RAW_ROUTE_CONFIRMED[0] is None:
        floats = np.random.Generator(np.random.PCG64(7)).random(6, dtype=np.float32)
        raw = np.random.PCG64(7).random_raw(3).view(np.uint32) if _LITTLE_ENDIAN else None
        same = raw is not None and np.array_equal((raw >> 8) * 2.0**-24, floats)
        scratch, flags = np.random.PCG64(0), []
        for _ in range(3):  # no half pending, one, none again
            flags.append((_pending_half_flag(scratch).value, scratch.state["has_uint32"]))
            np.random.Generator(scratch).random(dtype=np.float32)
        _RAW_ROUTE_CONFIRMED[0] = same and flags == [(0, 0), (1, 1), (0, 0)]
    return _RAW_ROUTE_CONFIRMED[0]


def _pending_half_flag(bits):
    """PCG64 `bits`' C flag saying a half draw is pending (a ctypes int read in place)."""
    return ctypes.c_int.from_address(bits.ctypes.state_address + ctypes.sizeof(ctypes.c_void_p))


_RAW_ROUTE_CONFIRMED = [None]


def lowest_kept_bits(threshold):
    """The least 32-bit draw whose float32 uniform, `(bits >> 8) * 2**-24`, is >= threshold."""
    return np.uint32(math.ceil(float(np.float32(threshold)) * 2**24) << 8)


_LITTLE_ENDIAN = sys.byteorder == "little"
