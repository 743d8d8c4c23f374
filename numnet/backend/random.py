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
    little-endian machine `random_raw` gives them in order. A half pending in the
    generator is used first, and a half left over at the end is left pending there, as
    NumPy's own draws do (`_PendingHalf`). Another bit generator, a `SeedGenerator`, or a
    NumPy whose PCG64 is found to work otherwise (`raw_route_confirmed`) takes the float
    draws.
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
    routes = {}  # pending half or not -> (entries from raw draws, their view, the draws, odd)
    for pending in (False, True):
        first = int(pending and size > 0)
        count = size - first
        routes[pending] = (count, flat[first:], (count + 1) // 2, count % 2)
    last = [None, None]  # the bit generator seen last, and its `_PendingHalf`

    def draw(generator):
        bits = getattr(generator, "bit_generator", None)
        if lowest is None or type(bits) is not np.random.PCG64 or not raw_route_confirmed():
            np.greater_equal(generator.random(out.shape, dtype=np.float32), threshold32, out=out)
            return out
        if bits is not last[0]:
            last[0], last[1] = bits, _PendingHalf(bits)
        pending = last[1]
        count, view, draws, odd = routes[bool(pending.flag.value)]
        if count < size:  # the pending half is the first entry's draw
            flat[0] = pending.bits.value >= lowest
            pending.flag.value = 0
        if draws:
            halves = bits.random_raw(draws).view(np.uint32)
            np.greater_equal(halves[:count], lowest, out=view)
            if odd:  # the last draw's high half is left pending
                pending.bits.value, pending.flag.value = int(halves[-1]), 1
        return out
    return draw


class _PendingHalf:
    """A PCG64's C fields for a pending half draw, read and written in place (ctypes): its
    flag, and the 32 bits (right after the flag, after the pointer to the 128-bit state)."""

    __slots__ = ("flag", "bits")

    def __init__(self, bit_generator):
        address = bit_generator.ctypes.state_address + ctypes.sizeof(ctypes.c_void_p)
        self.flag = ctypes.c_int.from_address(address)
        self.bits = ctypes.c_uint32.from_address(address + ctypes.sizeof(ctypes.c_int))


def raw_route_confirmed():
    """Whether this NumPy's PCG64 works as `uniform_at_least` relies on, checked once on
    scratch generators: its float32 uniforms are `(bits >> 8) * 2**-24` of the halves of
    `random_raw`'s draws, low half first, and its C state keeps a pending half where
    `_PendingHalf` reads and writes it."""
    if _RAW_ROUTE_CONFIRMED[0] is None:
        floats = np.random.Generator(np.random.PCG64(7)).random(6, dtype=np.float32)
        raw = np.random.PCG64(7).random_raw(3).view(np.uint32) if _LITTLE_ENDIAN else None
        same = raw is not None and np.array_equal((raw >> 8) * 2.0**-24, floats)
        scratch, seen = np.random.PCG64(0), []
        pending = _PendingHalf(scratch)
        for _ in range(3):  # no half pending, one, none again
            state = scratch.state
            seen.append((pending.flag.value, state["has_uint32"],
                         pending.bits.value == state["uinteger"]))
            np.random.Generator(scratch).random(dtype=np.float32)
        pending.bits.value, pending.flag.value = 0xABCDEF00, 1  # a half left pending
        written = np.random.Generator(scratch).random(dtype=np.float32) == 0xABCDEF * 2.0**-24
        _RAW_ROUTE_CONFIRMED[0] = bool(same and written) and scratch.state["has_uint32"] == 0 \
            and seen == [(0, 0, True), (1, 1, True), (0, 0, True)]
    return _RAW_ROUTE_CONFIRMED[0]


_RAW_ROUTE_CONFIRMED = [None]


def lowest_kept_bits(threshold):
    """The least 32-bit draw whose float32 uniform, `(bits >> 8) * 2**-24`, is >= threshold."""
    return np.uint32(math.ceil(float(np.float32(threshold)) * 2**24) << 8)


_LITTLE_ENDIAN = sys.byteorder == "little"
