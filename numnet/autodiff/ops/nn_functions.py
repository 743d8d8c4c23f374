"""Functions of `keras.ops.nn` and `keras.ops.math` written with numnet's other ops:
`dot_product_attention`, `psnr`, `depth_to_space`, `space_to_depth`, `extract_sequences`.

Each is a composition (products, a softmax, reshapes, transposes, a gather), so its
gradient, its compiled replay and its export come from the ops it is made of. The
numbers follow Keras on TensorFlow: the attention's default scale `1 / sqrt(H)` is a
float32 number, masked logits become a large negative number (not -inf, so a row masked
everywhere averages the values evenly), and depth moves to space in TensorFlow's order.
"""

from numnet.autodiff.ops.arithmetic import add, matmul, multiply, subtract
from numnet.autodiff.ops.core import as_tensor, cast, float_tensor, promoted_tensors, xp
from numnet.autodiff.ops.math import log10, logical_and, square, where
from numnet.autodiff.ops.nn import softmax
from numnet.autodiff.ops.reductions import mean
from numnet.autodiff.ops.shape import repeat, reshape, take, transpose


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None,
                          is_causal=False, flash_attention=None, attn_logits_soft_cap=None):
    """`softmax(query . key * scale + bias) . value` over heads, as Keras' op.

    `query` is `(B, T, N, H)`, `key` and `value` `(B, S, K, H)`: with `K < N` heads
    (`N` a multiple of `K`), each key/value head serves `N // K` query heads (grouped or
    multi-query attention). `bias` is added to the `(B, N, T, S)` logits, `mask` (True:
    attend) and `is_causal` (position t attends to positions up to t) remove logits.
    """
    if flash_attention:
        raise ValueError("dot_product_attention: flash attention is not supported by numnet "
                         "(there is no fused kernel on the CPU); pass flash_attention=None.")
    if attn_logits_soft_cap is not None:
        raise ValueError("dot_product_attention: attn_logits_soft_cap is only supported by "
                         "Keras' JAX backend on TPU; pass attn_logits_soft_cap=None.")
    query, key, value = as_tensor(query), as_tensor(key), as_tensor(value)
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if tensor.ndim != 4:
            raise ValueError(
                f"dot_product_attention only supports 4D inputs (batch, length, heads, "
                f"head size). Received: query.shape={query.shape}, key.shape={key.shape}, "
                f"value.shape={value.shape} ({name} has {tensor.ndim} dimensions).")
    query, key, value = promoted_tensors([query, key, value])
    dtype = query.data.dtype
    heads, kv_heads = query.shape[2], key.shape[2]
    if heads != kv_heads:
        if kv_heads == 0 or heads % kv_heads:
            raise ValueError(f"dot_product_attention: the query's {heads} heads are not a "
                             f"multiple of the key's {kv_heads} heads.")
        key = repeat(key, heads // kv_heads, axis=2)
        value = repeat(value, heads // kv_heads, axis=2)
    if scale is None:
        scale = xp.float32(1.0) / xp.sqrt(xp.float32(key.shape[-1]))
    logits = matmul(transpose(query, (0, 2, 1, 3)), transpose(key, (0, 2, 3, 1)))
    logits = multiply(logits, cast(as_tensor(scale), logits.data.dtype))
    if bias is not None:
        logits = add(logits, cast(as_tensor(bias), logits.data.dtype))
    keep = None if mask is None else as_tensor(mask)
    if is_causal:
        targets, sources = logits.shape[2], logits.shape[3]
        causal = as_tensor(xp.tril(xp.ones((targets, sources), dtype=bool)))
        keep = causal if keep is None else logical_and(keep, causal)
    if keep is not None:
        large_negative = -0.7 * (65500.0 if logits.data.dtype == xp.float16 else 3.38953e38)
        logits = where(keep, logits, large_negative)
    probabilities = cast(softmax(logits, axis=-1), dtype)
    return transpose(matmul(probabilities, transpose(value, (0, 2, 1, 3))), (0, 2, 1, 3))


def psnr(x1, x2, max_val):
    """The peak signal-to-noise ratio `20 log10(max_val) - 10 log10(mean((x1 - x2)**2))`
    over all entries, in decibels."""
    x1, x2 = float_tensor(x1), float_tensor(x2)
    if x1.shape != x2.shape:
        raise ValueError(f"Input shapes {x1.shape} and {x2.shape} must match for PSNR "
                         f"calculation. ")
    peak = multiply(log10(cast(as_tensor(max_val), x2.data.dtype)), 20.0)
    return subtract(peak, multiply(log10(mean(square(subtract(x1, x2)))), 10.0))


def _channels_last(x, data_format, name):
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{name} expects a 4D input (batch, height, width, channels); "
                         f"received shape {x.shape}.")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{name}: data_format must be 'channels_last' or 'channels_first'; "
                         f"received {data_format!r}.")
    return x if data_format == "channels_last" else transpose(x, (0, 2, 3, 1))


def _back(x, data_format):
    return x if data_format == "channels_last" else transpose(x, (0, 3, 1, 2))


def _block(block_size, name):
    b = int(block_size)
    if b < 2:
        raise ValueError(f"{name}: `block_size` must be at least 2. Received: "
                         f"block_size={block_size}")
    return b


def depth_to_space(x, block_size, data_format="channels_last"):
    """Moves channels into `block_size x block_size` spatial blocks: `(N, H, W, C)` becomes
    `(N, H * b, W * b, C / b**2)`, channel `(i * b + j) * C' + c` going to offset (i, j)."""
    x = _channels_last(x, data_format, "depth_to_space")
    n, height, width, channels = x.shape
    b = _block(block_size, "depth_to_space")
    if channels % (b * b):
        raise ValueError(f"depth_to_space: the {channels} channels are not a multiple of "
                         f"block_size**2 = {b * b}.")
    blocks = reshape(x, (n, height, width, b, b, channels // (b * b)))
    moved = transpose(blocks, (0, 1, 3, 2, 4, 5))
    return _back(reshape(moved, (n, height * b, width * b, channels // (b * b))), data_format)


def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of `depth_to_space`: `(N, H, W, C)` becomes `(N, H / b, W / b, C * b**2)`."""
    x = _channels_last(x, data_format, "space_to_depth")
    n, height, width, channels = x.shape
    b = _block(block_size, "space_to_depth")
    if height % b or width % b:
        raise ValueError(f"space_to_depth: height {height} and width {width} must be "
                         f"multiples of block_size {b}.")
    blocks = reshape(x, (n, height // b, b, width // b, b, channels))
    moved = transpose(blocks, (0, 1, 3, 2, 4, 5))
    return _back(reshape(moved, (n, height // b, width // b, b * b * channels)), data_format)


def extract_sequences(x, sequence_length, sequence_stride):
    """The windows of `sequence_length` entries every `sequence_stride` along the last axis
    (no padding): `(..., n)` becomes `(..., 1 + (n - length) // stride, length)`."""
    x = as_tensor(x)
    length, stride = int(sequence_length), int(sequence_stride)
    if length < 1 or stride < 1:
        raise ValueError(f"extract_sequences: sequence_length ({sequence_length}) and "
                         f"sequence_stride ({sequence_stride}) must be positive.")
    if x.ndim < 1:
        raise ValueError("extract_sequences expects at least one dimension; received a scalar.")
    count = max(0, 1 + (x.shape[-1] - length) // stride) if x.shape[-1] >= length else 0
    starts = xp.arange(count, dtype=xp.int64)[:, None] * stride
    return take(x, starts + xp.arange(length, dtype=xp.int64)[None, :], axis=-1)


__all__ = ["depth_to_space", "dot_product_attention", "extract_sequences", "psnr",
           "space_to_depth"]
