"""String hashes of TensorFlow's `to_hash_bucket_fast` / `to_hash_bucket_strong`.

Keras' `Hashing` layer (and the lookup layers' hashed OOV buckets) put a
value in bucket `hash(str(value)) % num_bins`, with FarmHash's 64-bit
fingerprint (`farmhashna::Hash64`) by default and SipHash-2-4 keyed by a
`salt` otherwise. Both are implemented here from their published
descriptions, on Python integers masked to 64 bits, so the same value lands
in the same bucket in numnet and in Keras. `hash_buckets` hashes each
distinct value of an array once.
"""

import struct

from numnet.backend import xp

_MASK = (1 << 64) - 1
# FarmHash's three 64-bit primes.
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F
_KMUL = 0x9DDFEA08EB382D69  # Hash128to64's multiplier


def _word(data, offset):
    """The little-endian 64-bit word at `offset`."""
    return struct.unpack_from("<Q", data, offset)[0]


def _word32(data, offset):
    return struct.unpack_from("<I", data, offset)[0]


def _rotate(value, shift):
    """64-bit rotate right."""
    return ((value >> shift) | (value << (64 - shift))) & _MASK if shift else value


def _shift_mix(value):
    return value ^ (value >> 47)


def _mix16(u, v, mul=_KMUL):
    """FarmHash's `HashLen16`: two words to one, Murmur style."""
    a = ((u ^ v) * mul) & _MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK
    b ^= b >> 47
    return (b * mul) & _MASK


def _short(data, n):
    """Strings of 0 to 16 bytes."""
    if n >= 8:
        mul = _K2 + 2 * n
        a = (_word(data, 0) + _K2) & _MASK
        b = _word(data, n - 8)
        c = (_rotate(b, 37) * mul + a) & _MASK
        d = ((_rotate(a, 25) + b) * mul) & _MASK
        return _mix16(c, d, mul & _MASK)
    if n >= 4:
        mul = _K2 + 2 * n
        return _mix16((n + (_word32(data, 0) << 3)) & _MASK, _word32(data, n - 4), mul)
    if n:
        y = data[0] + (data[n >> 1] << 8)
        z = n + (data[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _MASK) * _K2) & _MASK
    return _K2


def _medium(data, n):
    """Strings of 17 to 32 bytes."""
    mul = (_K2 + 2 * n) & _MASK
    a = (_word(data, 0) * _K1) & _MASK
    b = _word(data, 8)
    c = (_word(data, n - 8) * mul) & _MASK
    d = (_word(data, n - 16) * _K2) & _MASK
    return _mix16((_rotate((a + b) & _MASK, 43) + _rotate(c, 30) + d) & _MASK,
                  (a + _rotate((b + _K2) & _MASK, 18) + c) & _MASK, mul)


def _long(data, n):
    """Strings of 33 to 64 bytes."""
    mul = (_K2 + 2 * n) & _MASK
    a = (_word(data, 0) * _K2) & _MASK
    b = _word(data, 8)
    c = (_word(data, n - 8) * mul) & _MASK
    d = (_word(data, n - 16) * _K2) & _MASK
    y = (_rotate((a + b) & _MASK, 43) + _rotate(c, 30) + d) & _MASK
    z = _mix16(y, (a + _rotate((b + _K2) & _MASK, 18) + c) & _MASK, mul)
    e = (_word(data, 16) * mul) & _MASK
    f = _word(data, 24)
    g = ((y + _word(data, n - 32)) * mul) & _MASK
    h = ((z + _word(data, n - 24)) * mul) & _MASK
    return _mix16((_rotate((e + f) & _MASK, 43) + _rotate(g, 30) + h) & _MASK,
                  (e + _rotate((f + a) & _MASK, 18) + g) & _MASK, mul)


def _weak32(data, offset, a, b):
    """FarmHash's `WeakHashLen32WithSeeds` over the 32 bytes at `offset`."""
    w, x, y, z = (_word(data, offset + 8 * i) for i in range(4))
    a = (a + w) & _MASK
    b = _rotate((b + a + z) & _MASK, 21)
    c = a
    a = (a + x + y) & _MASK
    b = (b + _rotate(a, 44)) & _MASK
    return (a + z) & _MASK, (b + c) & _MASK


def _chunked(data, n):
    """Strings over 64 bytes: 64-byte rounds, then the last 64 bytes."""
    seed = 81
    x = (seed * _K2 + _word(data, 0)) & _MASK
    y = (seed * _K1 + 113) & _MASK
    z = (_shift_mix((y * _K2 + 113) & _MASK) * _K2) & _MASK
    v0 = v1 = w0 = w1 = 0
    end = ((n - 1) // 64) * 64
    for s in range(0, end, 64):
        x = (_rotate((x + y + v0 + _word(data, s + 8)) & _MASK, 37) * _K1) & _MASK
        y = (_rotate((y + v1 + _word(data, s + 48)) & _MASK, 42) * _K1) & _MASK
        x ^= w1
        y = (y + v0 + _word(data, s + 40)) & _MASK
        z = (_rotate((z + w0) & _MASK, 33) * _K1) & _MASK
        v0, v1 = _weak32(data, s, (v1 * _K1) & _MASK, (x + w0) & _MASK)
        w0, w1 = _weak32(data, s + 32, (z + w1) & _MASK, (y + _word(data, s + 16)) & _MASK)
        z, x = x, z
    mul = (_K1 + ((z & 0xFF) << 1)) & _MASK
    s = n - 64
    w0 = (w0 + ((n - 1) & 63)) & _MASK
    v0 = (v0 + w0) & _MASK
    w0 = (w0 + v0) & _MASK
    x = (_rotate((x + y + v0 + _word(data, s + 8)) & _MASK, 37) * mul) & _MASK
    y = (_rotate((y + v1 + _word(data, s + 48)) & _MASK, 42) * mul) & _MASK
    x ^= (w1 * 9) & _MASK
    y = (y + v0 * 9 + _word(data, s + 40)) & _MASK
    z = (_rotate((z + w0) & _MASK, 33) * mul) & _MASK
    v0, v1 = _weak32(data, s, (v1 * mul) & _MASK, (x + w0) & _MASK)
    w0, w1 = _weak32(data, s + 32, (z + w1) & _MASK, (y + _word(data, s + 16)) & _MASK)
    z, x = x, z
    return _mix16((_mix16(v0, w0, mul) + _shift_mix(y) * _K0 + z) & _MASK,
                  (_mix16(v1, w1, mul) + x) & _MASK, mul)


def fingerprint64(data):
    """FarmHash's 64-bit fingerprint of a `bytes` string (TensorFlow's `Fingerprint64`)."""
    n = len(data)
    if n <= 16:
        return _short(data, n)
    if n <= 32:
        return _medium(data, n)
    if n <= 64:
        return _long(data, n)
    return _chunked(data, n)


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _MASK
    v1 = ((v1 << 13) | (v1 >> 51)) & _MASK ^ v0
    v0 = ((v0 << 32) | (v0 >> 32)) & _MASK
    v2 = (v2 + v3) & _MASK
    v3 = ((v3 << 16) | (v3 >> 48)) & _MASK ^ v2
    v0 = (v0 + v3) & _MASK
    v3 = ((v3 << 21) | (v3 >> 43)) & _MASK ^ v0
    v2 = (v2 + v1) & _MASK
    v1 = ((v1 << 17) | (v1 >> 47)) & _MASK ^ v2
    v2 = ((v2 << 32) | (v2 >> 32)) & _MASK
    return v0, v1, v2, v3


def siphash24(key, data):
    """SipHash-2-4 of `data` under the 128-bit key `(key[0], key[1])` (two 64-bit words)."""
    k0, k1 = key[0] & _MASK, key[1] & _MASK
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573
    n = len(data)
    tail = data[n - n % 8:] + bytes(7 - n % 8) + bytes([n & 0xFF])
    blocks = data[:n - n % 8] + tail
    for offset in range(0, len(blocks), 8):
        m = _word(blocks, offset)
        v3 ^= m
        for _ in range(2):
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def as_text(value):
    """The string TensorFlow's `as_string` gives a value (integers in decimal)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return str(int(value)).encode("ascii")


def hash_buckets(values, num_buckets, salt=None):
    """`hash(as_text(v)) % num_buckets` for every entry of the array `values`, as int64.

    Floats are truncated to integers first (Keras casts them to int64).
    Each distinct value is hashed once.
    """
    values = xp.asarray(values)
    if values.dtype.kind == "f":
        values = values.astype(xp.int64)
    unique, inverse = xp.unique(values.reshape(-1), return_inverse=True)
    if salt is None:
        codes = [fingerprint64(as_text(v)) % num_buckets for v in unique.tolist()]
    else:
        codes = [siphash24(salt, as_text(v)) % num_buckets for v in unique.tolist()]
    return xp.asarray(codes, dtype=xp.int64)[inverse].reshape(values.shape)


__all__ = ["as_text", "fingerprint64", "hash_buckets", "siphash24"]
