"""Categorical kernels: the formulas of the tabular preprocessing layers.

- `encode` turns integer codes into one-hot, multi-hot or count vectors
  exactly as Keras 3 on TensorFlow does (a last axis of 1 is squeezed for
  one-hot; multi-hot and count reduce along the last axis of rank-1 and
  rank-2 inputs, codes outside `[0, depth)` count for nothing);
- `Buckets.bucketize` is TensorFlow's `Bucketize` (Keras' `digitize`): the
  number of boundaries less than or equal to each value;
- `LookupTable` maps keys (strings or integers) to values with one sorted
  search per batch, no Python loop over the entries.

All of them are plain functions on arrays through `numnet.backend.xp`.
"""

from numnet.backend import xp


def _codes(x):
    """`x` as int64 codes (floats truncated toward zero, as a cast to int does)."""
    x = xp.asarray(x)
    return x if x.dtype == xp.int64 else x.astype(xp.int64)


def encode(x, depth, output_mode, dtype, count_weights=None):
    """One-hot / multi-hot / count encoding of the integer codes `x` into `depth` slots."""
    x = _codes(x)
    if x.ndim == 0:
        x = x.reshape(1)
    if output_mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.reshape(x.shape[:-1])
        return (x[..., None] == xp.arange(depth)).astype(dtype)
    if x.ndim <= 2:
        return _bincount_rows(x, depth, output_mode == "multi_hot", dtype, count_weights)
    # rank 3 and more: one-hot, then reduced over axis 1 (Keras' generic path)
    one_hot = (x[..., None] == xp.arange(depth)).astype(dtype)
    if count_weights is not None:
        one_hot = one_hot * xp.asarray(count_weights)[..., None]
    if output_mode == "multi_hot":
        return xp.max(one_hot, axis=1)
    return xp.sum(one_hot, axis=1).astype(dtype, copy=False)


def _bincount_rows(x, depth, binary, dtype, weights):
    """Per row of `x` (a 1-D `x` is one row), how often each code in [0, depth) occurs."""
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    if rows.size and rows.min() < 0:
        raise ValueError("Multi-hot and count encodings need non-negative category codes; "
                         f"received {int(rows.min())} (as TensorFlow's bincount, which refuses "
                         "negative inputs).")
    n = rows.shape[0]
    valid = (rows >= 0) & (rows < depth)
    flat = (xp.arange(n)[:, None] * depth + rows)[valid]
    w = None
    if weights is not None:
        w = xp.broadcast_to(xp.asarray(weights), rows.shape)[valid].astype(xp.float64)
        dtype = xp.asarray(weights).dtype
    counts = xp.bincount(flat, weights=w, minlength=n * depth).reshape(n, depth)
    if binary:
        counts = xp.minimum(counts, 1)
    counts = counts.astype(dtype, copy=False)
    return counts[0] if x.ndim == 1 else counts


class Buckets:
    """Sorted bucket boundaries, mutable (a layer's `adapt` replaces them in place)."""

    def __init__(self, boundaries=()):
        self.set(boundaries)

    def set(self, boundaries):
        self.boundaries = xp.asarray(boundaries, dtype=xp.float64).reshape(-1)

    def bucketize(self, x):
        """TensorFlow's `Bucketize`: how many boundaries are <= each value (int32)."""
        return xp.searchsorted(self.boundaries, xp.asarray(x), side="right").astype(xp.int32)


class LookupTable:
    """A mutable key -> value table (strings or integers), searched in one vectorized pass.

    Layers own one and `set` it when their vocabulary changes, so a compiled
    step that captured the table sees the new vocabulary.
    """

    def __init__(self, key_kind="int", value_kind="int"):
        self.key_kind = key_kind
        self.value_kind = value_kind
        self.set((), ())

    def set(self, keys, values):
        """Replaces the contents (keys must be unique)."""
        keys = as_keys(keys, self.key_kind)
        values = as_keys(values, self.value_kind)
        order = xp.argsort(keys, kind="stable")
        self.keys, self.values = keys[order], values[order]

    def __len__(self):
        return len(self.keys)

    def lookup(self, x, default):
        """The value of each key of `x`; `default` where a key is absent."""
        x = as_keys(x, self.key_kind)
        if not len(self.keys):
            return xp.full(x.shape, default, dtype=xp.int64 if self.value_kind == "int" else None)
        position = xp.searchsorted(self.keys, x)
        position[position == len(self.keys)] = 0
        found = self.keys[position] == x
        return xp.where(found, self.values[position], default)


def index_lookup(x, table, key_kind, invert=False, mask_token=None, mask_value=0,
                 default=-1, num_oov_indices=1, oov_start=0, oov_method="floormod",
                 salt=None):
    """Keras' `IndexLookup` on raw arrays: vocabulary indices (or, inverted, the tokens).

    Tokens not in `table` get `default`, then (with several OOV indices) a
    bucket of their own: `token % num_oov_indices` for integers with
    `oov_method="floormod"`, a string hash otherwise. The mask token maps to
    `mask_value`.
    """
    if invert:
        result = table.lookup(x, default)
        if mask_token is not None:
            result = xp.where(_codes(x) == 0, mask_token, result)
        return result
    keys = as_keys(x, key_kind)
    result = table.lookup(keys, default)
    if mask_token is not None:
        result = xp.where(keys == mask_token, mask_value, result)
    if num_oov_indices == 0:
        missing = result == -1
        if missing.any():
            raise ValueError(
                "When `num_oov_indices=0` all inputs should be in vocabulary, found OOV "
                f"values {keys[missing].tolist()[:10]}, consider setting `num_oov_indices=1`.")
    elif num_oov_indices > 1:
        if key_kind == "int" and oov_method != "farmhash":
            buckets = keys % num_oov_indices
        else:
            from numnet.kernels.hashing import hash_buckets
            buckets = hash_buckets(keys, num_oov_indices, salt)
        result = xp.where(result == default, buckets + oov_start, result)
    return result


def as_keys(x, kind):
    """`x` as an array of lookup keys: unicode strings, or int64 integers."""
    x = xp.asarray(x)
    if kind == "string":
        if x.dtype.kind == "S":
            return xp.char.decode(x, "utf-8")
        if x.dtype.kind != "U":
            return x.astype(str)
        return x
    return _codes(x)


__all__ = ["Buckets", "LookupTable", "as_keys", "encode", "index_lookup"]
