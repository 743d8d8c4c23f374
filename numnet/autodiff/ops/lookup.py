"""Lookup ops: the embedding gather and the categorical encodings of the preprocessing layers.

- `embedding_lookup(table, ids)`: rows of `table`, with ids checked against
  its size (TensorFlow refuses out-of-range and negative ids; NumPy indexing
  would silently wrap negatives), and a backward rule that adds each
  gradient row into the row it came from;
- `encode_categorical`, `bucketize`, `index_lookup`, `hash_bins`: the
  kernels of `numnet.kernels.categorical` and `numnet.kernels.hashing` as
  primitives without gradients, so preprocessing layers inside a model run
  in its compiled step. Tables and bucket boundaries are attributes holding
  mutable objects owned by the layer: adapting the layer again changes what
  a replay computes.
"""

from numnet.autodiff.ops.core import Primitive, Tensor, no_gradient, operand, wrap, xp
from numnet.kernels import categorical as kernels
from numnet.kernels.hashing import hash_buckets


def _integer_ids(ids):
    return ids if ids.dtype.kind in "iu" else ids.astype(xp.int64)


def _checked_ids(ids, rows):
    ids = _integer_ids(ids)
    if ids.size:
        low, high = ids.min(), ids.max()
        if low < 0 or high >= rows:
            bad = low if low < 0 else high
            raise ValueError(
                f"Embedding lookup: index {int(bad)} is out of range for a table of {rows} rows "
                f"(valid ids: 0 to {rows - 1}).")
    return ids


def _gather(table, ids):
    return xp.take(table, _checked_ids(ids, table.shape[0]), axis=0)


def _gather_into(out, table, ids):
    # The ids are checked: "clip" spares NumPy's buffered bounds check of `out`.
    return xp.take(table, _checked_ids(ids, table.shape[0]), axis=0, out=out, mode="clip")


def _scatter_rows(g, ids, rows):
    """Zeros of (rows, ...) with each row of `g` added into row `ids[i]`."""
    grad = xp.zeros((rows,) + g.shape[ids.ndim:], dtype=g.dtype)
    return _scatter_rows_into(grad, g, ids, rows)


def _scatter_rows_into(out, g, ids, rows):
    out.fill(0)
    width = g.shape[ids.ndim:]
    xp.add.at(out, _integer_ids(ids).reshape(-1), g.reshape((-1,) + width))
    return out


EMBEDDING_GRAD = Primitive("embedding_grad", _scatter_rows,
                           lambda g, inputs, output, needs, rows: (
                               EMBEDDING(g, inputs[1]), None),  # linear: the rows' gather
                           into=_scatter_rows_into)


def _embedding_vjp(g, inputs, output, needs):
    table, ids = inputs
    return (EMBEDDING_GRAD(g, ids, rows=table.shape[0]) if needs[0] else None), None


EMBEDDING = Primitive("embedding_lookup", _gather, _embedding_vjp, into=_gather_into)


def embedding_lookup(table, ids):
    """`table[ids]` along the first axis (ids: integers, or floats truncated to integers)."""
    ids = ids if isinstance(ids, Tensor) else wrap(xp.asarray(ids))
    return EMBEDDING(operand(table), ids)


def _no_grad(name, compute):
    return Primitive(name, compute, no_gradient)


ENCODE = _no_grad("encode_categorical",
                  lambda x, *weights, depth, output_mode, dtype: kernels.encode(
                      x, depth, output_mode, dtype, weights[0] if weights else None))
BUCKETIZE = _no_grad("bucketize", lambda x, buckets: buckets.bucketize(x))
INDEX_LOOKUP = _no_grad("index_lookup", lambda x, table, options: kernels.index_lookup(
    x, table, **dict(options)))


def _hash_bins(x, num_bins, salt, mask_value):
    bins = num_bins
    mask = None
    if mask_value is not None and bins > 1:
        bins -= 1
        mask = x == mask_value
    codes = hash_buckets(x, bins, salt)
    if mask is not None:
        codes = xp.where(mask, 0, codes + 1)
    return codes


HASH_BINS = _no_grad("hash_bins", _hash_bins)


def encode_categorical(x, depth, output_mode, dtype="float32", count_weights=None):
    """One-hot, multi-hot or count encoding of integer codes, as Keras' CategoryEncoding."""
    x = x if isinstance(x, Tensor) else wrap(xp.asarray(x))
    weights = () if count_weights is None else (operand(count_weights),)
    return ENCODE(x, *weights, depth=int(depth), output_mode=output_mode,
                  dtype=xp.dtype(dtype))


def bucketize(x, buckets):
    """Bucket indices of `x` for a `numnet.kernels.categorical.Buckets` (int32)."""
    return BUCKETIZE(x if isinstance(x, Tensor) else wrap(xp.asarray(x)), buckets=buckets)


def index_lookup(x, table, **options):
    """Vocabulary indices (or tokens) of `x`; see `numnet.kernels.categorical.index_lookup`."""
    return INDEX_LOOKUP(x if isinstance(x, Tensor) else wrap(xp.asarray(x)), table=table,
                        options=tuple(sorted(options.items())))


def hash_bins(x, num_bins, salt=None, mask_value=None):
    """Keras' Hashing: `hash(str(x)) % num_bins`, bin 0 kept for `mask_value` if given."""
    return HASH_BINS(x if isinstance(x, Tensor) else wrap(xp.asarray(x)), num_bins=num_bins,
                     salt=None if salt is None else tuple(salt), mask_value=mask_value)


__all__ = ["bucketize", "embedding_lookup", "encode_categorical", "hash_bins", "index_lookup"]


def _one_hot(labels, num_classes, axis, dtype):
    labels = labels.astype(xp.intp, copy=False)
    inside = (labels >= 0) & (labels < num_classes)
    encoded = xp.eye(num_classes, dtype=dtype)[xp.where(inside, labels, 0)]
    encoded *= inside[..., None]  # out-of-range labels encode as zeros
    return encoded if axis in (-1, encoded.ndim - 1) else xp.moveaxis(encoded, -1, axis)


# The labels are an op input, so a compiled step encodes each batch's own labels.
ONE_HOT = Primitive("one_hot", _one_hot, no_gradient)
