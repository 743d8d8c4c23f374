"""Tabular preprocessing layers: `CategoryEncoding`, `Discretization`, `Hashing`.

They turn raw categorical or numeric features into codes or encoded vectors
inside a model (or on their own, before it). Their kernels live in
`numnet.kernels.categorical` / `numnet.kernels.hashing` and run as
primitives, so a model holding them trains compiled. Outputs have no
gradient (they depend on the data only).
"""

from numnet.autodiff.ops.lookup import bucketize, encode_categorical, hash_bins
from numnet.backend import floatx, xp
from numnet.kernels.categorical import Buckets
from numnet.layers.base import Layer
from numnet.serialization import register_builtin

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def encoded_shape(input_shape, output_mode, depth):
    """Keras' output shape of a categorical encoding of `input_shape` into `depth` slots."""
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if not input_shape:
        return (depth,)
    if output_mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    return input_shape[:-1] + (depth,)


def _refuse_sparse(layer, sparse):
    if sparse:
        raise ValueError(f"{layer}: `sparse=True` is not supported by numnet (it has no sparse "
                         "tensors); use the default dense output.")


@register_builtin("keras.layers")
class CategoryEncoding(Layer):
    """Encodes integer category codes in `[0, num_tokens)` as one-hot, multi-hot or count vectors.

    A `(batch, k)` input of codes becomes `(batch, num_tokens)`: "multi_hot"
    marks the codes present in each row, "count" counts them, "one_hot"
    encodes each code on its own axis (a last axis of size 1 is replaced).
    Codes at or above `num_tokens` are ignored; negative codes are an error.

    Args:
        num_tokens: the number of categories.
        output_mode: "multi_hot" (default; "binary" is an alias), "one_hot" or "count".
        sparse: must be False (numnet has no sparse tensors).

    Call arguments:
        inputs: the codes.
        count_weights: with "count", a weight per code (added instead of 1).
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of tokens "
                             "is not known beforehand, use the IntegerLookup layer instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        _refuse_sparse("CategoryEncoding", sparse)
        self.num_tokens = num_tokens
        self.output_mode = output_mode
        self.sparse = sparse

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError("`count_weights` is not used when `output_mode` is not `'count'`. "
                             f"Received `count_weights={count_weights}`.")
        return encode_categorical(inputs, self.num_tokens, self.output_mode, self.dtype,
                                  count_weights=count_weights)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}


@register_builtin("keras.layers")
class Discretization(Layer):
    """Buckets continuous values: the code of `x` is the number of `bin_boundaries` <= `x`.

    With `num_bins` instead of boundaries, `adapt(data)` learns boundaries
    that split the data into `num_bins` buckets of about the same size
    (Keras' streaming quantile summary, `epsilon` its accuracy).

    Args:
        bin_boundaries: sorted boundaries (`n` of them make `n + 1` buckets).
        num_bins: the number of buckets `adapt` should make.
        epsilon: the quantile summary's error tolerance (0.01).
        output_mode: "int" (int32 codes; default), "one_hot", "multi_hot" or "count".
        sparse: must be False.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None):
        super().__init__(name=name, dtype=dtype)
        if sparse and output_mode == "int":
            raise ValueError("`sparse=True` may only be used if `output_mode` is `'one_hot'`, "
                             f"`'multi_hot'`, or `'count'`. Received: sparse={sparse} and "
                             f"output_mode={output_mode}")
        _refuse_sparse("Discretization", sparse)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"Unknown value for `output_mode`. Allowed values are: "
                             f"{OUTPUT_MODES}. Received: output_mode={output_mode!r}")
        if num_bins is not None and num_bins < 0:
            raise ValueError("`num_bins` must be greater than or equal to 0. "
                             f"Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError("Both `num_bins` and `bin_boundaries` should not be set. "
                             f"Received: `num_bins={num_bins}` and "
                             f"`bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = sparse
        self._buckets = Buckets()
        self.bin_boundaries = bin_boundaries
        self.summary = None if bin_boundaries else _empty_summary()

    @property
    def bin_boundaries(self):
        return self._bin_boundaries

    @bin_boundaries.setter
    def bin_boundaries(self, value):
        self._bin_boundaries = None if value is None else list(value)
        self._buckets.set([] if value is None else value)

    @property
    def output_dtype(self):
        return self.dtype if self.output_mode != "int" else "int32"

    def adapt(self, data, steps=None):
        """Learns `num_bins` boundaries of about equal frequency from `data`."""
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized "
                             "with `bin_boundaries`, use `num_bins` instead.")
        self.reset_state()
        if _is_batch_iterator(data):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        else:
            self.update_state(data)
        self.finalize_state()

    def update_state(self, data):
        values = xp.asarray(getattr(data, "data", data)).astype("float32")
        self.summary = _merge_summaries(_summarize(values, self.epsilon), self.summary,
                                        self.epsilon)

    def finalize_state(self):
        if self.num_bins is None:
            return
        self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        if self.num_bins is None:
            return
        self.summary = _empty_summary()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at "
                             "construction time or call `adapt(dataset)` before you can start "
                             "using the `Discretization` layer.")
        codes = bucketize(inputs, self._buckets)
        if self.output_mode == "int":
            return codes
        return encode_categorical(codes, len(self.bin_boundaries) + 1, self.output_mode,
                                  self.output_dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return input_shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None \
            else self.num_bins
        if self.output_mode == "one_hot":
            return encoded_shape(input_shape, "one_hot", depth)
        if input_shape and len(input_shape) >= 2:
            return (input_shape[0],) + tuple(input_shape[2:]) + (depth,)
        return (depth,)

    def load_own_variables(self, store):
        if len(store) == 1:
            self.summary = store["0"]

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name")
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = boundaries
            return layer
        return cls(**config)


def _is_batch_iterator(data):
    """A generator or other iterable of batches (not an array, list or tensor)."""
    return hasattr(data, "__iter__") and not isinstance(data, (list, tuple, xp.ndarray)) and \
        not hasattr(data, "data") and not isinstance(data, (str, bytes))


# Keras' streaming quantile summary (an array [[values], [weights]]): each batch is
# thinned to about 1 / epsilon evenly spaced order statistics, summaries are merged
# by concatenating and re-thinning on the cumulative weight.
def _empty_summary():
    return xp.array([[], []], dtype="float32")


def _summarize(values, epsilon):
    values = xp.sort(values.reshape(-1))
    step = max(values.size / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return xp.stack([boundaries, xp.full(boundaries.shape, step, dtype=boundaries.dtype)])


def _merge_summaries(first, second, epsilon):
    merged = xp.concatenate((first, second), axis=1)
    merged = merged[:, xp.argsort(merged[0])]
    return _compress(merged, epsilon)


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    targets = epsilon + xp.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    fractions = cumulative / cumulative[-1]
    values = xp.interp(targets, fractions, summary[0])
    cumulative = xp.interp(targets, fractions, cumulative)
    weights = cumulative - xp.concatenate((xp.array([0.0]), cumulative[:-1]))
    return xp.stack((values, weights)).astype("float32")


@register_builtin("keras.layers")
class Hashing(Layer):
    """Hashes values (strings or integers) into `num_bins` buckets, as Keras/TensorFlow do.

    A value's bucket is FarmHash64(its string form) % num_bins, or SipHash
    keyed by `salt` when one is given; numbers are first written in decimal
    (floats truncated to integers). With `mask_value`, that value goes to
    bucket 0 and the others to 1 .. num_bins - 1.

    Args:
        num_bins: the number of buckets.
        mask_value: an optional value to keep apart in bucket 0.
        salt: an int or two ints: a key for the (slower, keyed) SipHash.
        output_mode: "int" (int64 bucket indices; default), "one_hot",
            "multi_hot" or "count".
        sparse: must be False.
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else floatx()
        super().__init__(**kwargs)
        if num_bins is None or num_bins <= 0:
            raise ValueError("The `num_bins` for `Hashing` cannot be `None` or non-positive "
                             f"values. Received: num_bins={num_bins}.")
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError('When `output_mode="int"`, `dtype` should be an integer type, '
                             f"'int32' or 'in64'. Received: dtype={kwargs['dtype']}")
        if output_mode not in OUTPUT_MODES:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{OUTPUT_MODES}. Received: output_mode={output_mode}")
        if sparse and output_mode == "int":
            raise ValueError('`sparse` may only be true if `output_mode` is `"one_hot"`, '
                             f'`"multi_hot"`, or `"count"`. Received: sparse={sparse} and '
                             f"output_mode={output_mode}")
        _refuse_sparse("Hashing", sparse)
        self.num_bins = num_bins
        self.mask_value = mask_value
        self.strong_hash = salt is not None
        self.output_mode = output_mode
        self.sparse = sparse
        self.salt = None
        if salt is not None:
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                self.salt = list(salt)
            elif isinstance(salt, int) and not isinstance(salt, bool):
                self.salt = [salt, salt]
            else:
                raise ValueError("The `salt` argument for `Hashing` can only be a tuple of size "
                                 f"2 integers, or a single integer. Received: salt={salt}.")

    def _casts_float64_inputs(self):
        return False

    def call(self, inputs):
        if self.output_mode == "one_hot" and inputs.ndim and inputs.shape[-1] == 1:
            from numnet.autodiff import ops
            inputs = ops.squeeze(inputs, -1)
        codes = hash_bins(inputs, self.num_bins, self.salt, self.mask_value)
        return encode_categorical(codes, self.num_bins, self.output_mode, self.dtype) \
            if self.output_mode != "int" else _as_dtype(codes, self.dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_bins,)
        return tuple(input_shape[:-1]) + (self.num_bins,)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}


def _as_dtype(x, dtype):
    from numnet.autodiff import ops
    return ops.cast(x, dtype)
