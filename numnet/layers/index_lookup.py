"""Vocabulary lookup layers: `StringLookup` and `IntegerLookup` (on `IndexLookup`).

They map tokens (strings or integer ids) to contiguous indices learned by
`adapt` (most frequent first) or given as `vocabulary`, and can encode them
as one-hot / multi-hot / count / TF-IDF vectors. Index layout, as in Keras:
`[mask token (output_mode="int" only)] [num_oov_indices OOV buckets] [tokens]`.
With `invert=True` they map indices back to tokens.

Saving follows Keras: a vocabulary passed to the constructor is in the
config; an adapted one is written as the asset `vocabulary.txt`, and TF-IDF
weights as the weight `idf_weights`.
"""

import collections
import os

from numnet.autodiff import ops
from numnet.autodiff.ops.lookup import encode_categorical, index_lookup
from numnet.backend import floatx, xp
from numnet.kernels.categorical import LookupTable, as_keys
from numnet.layers.base import Layer
from numnet.layers.categorical import encoded_shape
from numnet.serialization import in_safe_mode, register_builtin

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_INT64_MAX = xp.iinfo(xp.int64).max


class IndexLookup(Layer):
    """The common base of `StringLookup` and `IntegerLookup` (see the module docstring)."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 sparse=False, pad_to_max_tokens=False, oov_method="floormod", name=None,
                 salt=None, **kwargs):
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        _check_arguments(max_tokens, num_oov_indices, pad_to_max_tokens, oov_method,
                         output_mode, invert, sparse, idf_weights)
        salt = _checked_salt(salt, vocabulary_dtype, oov_method)
        frozen = kwargs.pop("vocabulary_size", None)
        has_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword argument(s): {kwargs}")
        super().__init__(name=name)
        self.invert = invert
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = sparse
        self.pad_to_max_tokens = pad_to_max_tokens
        self.vocabulary_dtype = vocabulary_dtype
        self.oov_method = oov_method
        self.salt = salt
        self._frozen_vocab_size = frozen
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = has_vocabulary
        key_kind = "string" if vocabulary_dtype == "string" else "int"
        self._key_kind = key_kind
        self._table = LookupTable("int", key_kind) if invert else LookupTable(key_kind, "int")
        self._tokens = []
        self.idf_weights = None
        if output_mode == "tf_idf" and has_vocabulary and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output mode, "
                             "the `idf_weights` argument must also be provided.")
        if idf_weights is not None:
            self.idf_weights = xp.asarray(idf_weights, dtype=floatx())
        self._reset_counts()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    # ------------------------------------------------------------ layout
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The number of indices: special tokens plus vocabulary."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary in index order (the mask and OOV tokens first, unless excluded)."""
        vocabulary = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocabulary[0] = self.mask_token
        if not include_special_tokens:
            vocabulary = vocabulary[self._token_start_index():]
        return vocabulary

    def _set_tokens(self, tokens):
        tokens = [_plain_token(t) for t in tokens]
        indices = xp.arange(self._token_start_index(),
                            self._token_start_index() + len(tokens), dtype=xp.int64)
        keys = as_keys(tokens if tokens else xp.zeros(0, dtype=xp.int64), self._key_kind)
        if self.invert:
            self._table.set(indices, keys)
        else:
            self._table.set(keys, indices)
        self._tokens = tokens

    def _record_vocabulary_size(self):
        if self.output_mode != "int" and not self.pad_to_max_tokens and \
                self._frozen_vocab_size is not None and \
                self.vocabulary_size() != self._frozen_vocab_size:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "the vocabulary size cannot be changed after the layer is called. Old vocab "
                f"size is {self._frozen_vocab_size}, new vocab size is "
                f"{self.vocabulary_size()}")
        self._frozen_vocab_size = self.vocabulary_size()

    # -------------------------------------------------------- vocabulary
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Sets the vocabulary (a list, an array, or a text file with one token per line)."""
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError("`idf_weights` should only be set if output_mode is `'tf_idf'`. "
                             f"Received: output_mode={self.output_mode} and "
                             f"idf_weights={idf_weights}")
        if isinstance(vocabulary, str):
            vocabulary = self._read_vocabulary_file(vocabulary)
        vocabulary = [_plain_token(t) for t in (vocabulary.tolist() if hasattr(
            vocabulary, "tolist") else list(vocabulary))]
        if not vocabulary:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + \
            [self.oov_token] * self.num_oov_indices
        found_special = vocabulary[:start] == special
        tokens = vocabulary[start:] if found_special else vocabulary
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError("The passed vocabulary has at least one repeated term. Please "
                             f"uniquify your dataset. The repeated terms are: {repeated}")
        for token, what in ((self.mask_token, "mask"), (self.oov_token if self.invert else None,
                                                          "OOV")):
            if token is not None and token in tokens:
                raise ValueError(
                    f"Found reserved {what} token at unexpected location in `vocabulary`. Note "
                    "that passed `vocabulary` does not need to include the OOV and mask "
                    "tokens. Either remove all mask and OOV tokens, or include them only at "
                    f"the start of the vocabulary in precisely this order: {special}. "
                    f"Received: {what.lower()}_token={token!r} at vocabulary index "
                    f"{len(vocabulary) - 1 - vocabulary[::-1].index(token)}")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError("Attempted to set a vocabulary larger than the maximum vocab size. "
                             f"Received vocabulary size is {start + len(tokens)}; `max_tokens` "
                             f"is {self.max_tokens}.")
        self._set_tokens(tokens)
        self._record_vocabulary_size()
        if self.output_mode == "tf_idf":
            self._set_idf_weights(idf_weights, len(vocabulary), found_special)

    def _set_idf_weights(self, idf_weights, vocabulary_length, found_special):
        weights = xp.asarray(idf_weights)
        if len(weights) != vocabulary_length:
            raise ValueError("`idf_weights` must be the same length as vocabulary. "
                             f"len(idf_weights) is {len(weights)}; len(vocabulary) is "
                             f"{vocabulary_length}")
        if weights.ndim != 1:
            raise ValueError(f"TF-IDF data must be a 1-index array. Received: {weights.shape}")
        front = 0 if found_special else self._token_start_index()
        front_value = 0 if found_special else float(xp.mean(weights))
        back = self.max_tokens - front - len(weights) \
            if self.pad_to_max_tokens and self.max_tokens is not None else 0
        self.idf_weights = xp.pad(weights, (front, back), constant_values=(front_value, 0)) \
            .astype(floatx())

    def _read_vocabulary_file(self, path):
        if in_safe_mode():
            raise ValueError(
                "Requested the loading of a vocabulary file outside of the model archive. "
                "This carries a potential risk of loading arbitrary and sensitive files and "
                "thus it is disallowed by default. If you trust the source of the artifact, "
                "you can override this error by passing `safe_mode=False` to the loading "
                f"function. Vocabulary file: '{path}'")
        if not os.path.isfile(path):
            raise ValueError(f"Vocabulary file {path} does not exist.")
        if self.output_mode == "tf_idf":
            raise ValueError("output_mode `'tf_idf'` does not support loading a vocabulary "
                             "from file.")
        return self._parse_lines(path)

    def _parse_lines(self, path):
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return lines if self._key_kind == "string" else [int(line) for line in lines]

    # -------------------------------------------------------------- adapt
    def adapt(self, data, steps=None):
        """Learns the vocabulary from `data` (an array, or an iterable of batches)."""
        self.reset_state()
        if _is_batch_iterator(data):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        else:
            data = _host_array(data)
            if data.ndim == 1:
                data = data[:, None]
            self.update_state(data)
        self.finalize_state()

    def update_state(self, data):
        """Counts the tokens of a batch (rows are documents, for TF-IDF)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static "
                             "vocabulary via `vocabulary` argument or `set_vocabulary()` method.")
        data = as_keys(_host_array(data), self._key_kind)
        if data.ndim < 2:
            data = data.reshape(1, -1)
        tokens, counts = xp.unique(data.reshape(-1), return_counts=True)
        for token, count in zip(tokens.tolist(), counts.tolist()):
            self._counts[token] += count
        if self.output_mode == "tf_idf":
            for row in data.reshape(len(data), -1):
                for token in xp.unique(row).tolist():
                    self._document_counts[token] += 1
            self._num_documents += len(data)

    def finalize_state(self):
        """Sets the vocabulary from the counts: most frequent first, ties by token, descending."""
        if self._has_input_vocabulary or not self._counts:
            self._record_vocabulary_size()
            return
        for special in (self.mask_token, self.oov_token):
            self._counts.pop(special, None)
        tokens = list(self._counts)
        counts = [self._counts[t] for t in tokens]
        order = xp.lexsort((as_keys(tokens, self._key_kind), xp.asarray(counts)))[::-1]
        if self.max_tokens:
            order = order[:self.max_tokens - self._token_start_index()]
        tokens = [tokens[i] for i in order.tolist()]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            documents = xp.asarray([self._document_counts[t] for t in tokens], dtype=xp.float64)
            idf = xp.log(1 + self._num_documents / (1 + documents)).astype(floatx())
            front = xp.full(self._token_start_index(), xp.mean(idf), dtype=floatx())
            idf = xp.concatenate([front, idf])
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = xp.pad(idf, (0, self.max_tokens - len(idf)))
            self.idf_weights = idf.astype(floatx())
        self.reset_state()
        self._record_vocabulary_size()

    def reset_state(self):
        if not self._has_input_vocabulary:
            self._reset_counts()

    def _reset_counts(self):
        self._counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._num_documents = 0

    # --------------------------------------------------------------- call
    def _casts_float64_inputs(self):
        return False

    def call(self, inputs):
        if self.output_mode != "int" and not self.pad_to_max_tokens and \
                self._frozen_vocab_size is None:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "you must set the layer's vocabulary before calling it. Either pass a "
                "`vocabulary` argument to the layer, or call `adapt` with some sample data.")
        lookups = index_lookup(inputs, self._table, **self._lookup_options())
        if self.output_mode == "int":
            return lookups
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        outputs = encode_categorical(lookups, depth, mode, dtype="int64")
        if self.output_mode == "tf_idf":
            if self.idf_weights is None:
                raise ValueError("When `output_mode` is `'tf_idf'`, `idf_weights` must be "
                                 "provided.")
            outputs = ops.multiply(ops.cast(outputs, floatx()), self.idf_weights)
        return outputs

    def _lookup_options(self):
        if self.invert:
            return {"key_kind": "int", "invert": True, "mask_token": self.mask_token,
                    "default": self.oov_token}
        default = self._oov_start_index() if self.num_oov_indices == 1 else -1
        return {"key_kind": self._key_kind, "invert": False, "mask_token": self.mask_token,
                "mask_value": 0 if self.output_mode == "int" else _INT64_MAX,
                "default": default, "num_oov_indices": self.num_oov_indices,
                "oov_start": self._oov_start_index(), "oov_method": self.oov_method,
                "salt": None if self.salt is None else tuple(self.salt)}

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        return encoded_shape(input_shape, "one_hot" if self.output_mode == "one_hot"
                             else "multi_hot", depth)

    # ------------------------------------------------------------- saving
    def get_config(self):
        config = {"invert": self.invert, "max_tokens": self.max_tokens,
                  "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                  "mask_token": self.mask_token, "output_mode": self.output_mode,
                  "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                  "vocabulary_dtype": self.vocabulary_dtype,
                  "idf_weights": _listed(self.input_idf_weights),
                  "vocabulary": _listed(self.input_vocabulary),
                  "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method,
                  "salt": self.salt}
        return {**super().get_config(), **config}

    def get_build_config(self):
        return {}

    def build_from_config(self, config):
        self.built = True

    def save_own_variables(self, store):
        if self.output_mode == "tf_idf":
            store["idf_weights"] = xp.asarray(self.idf_weights)

    def load_own_variables(self, store):
        if self.output_mode == "tf_idf":
            self.idf_weights = xp.asarray(store["idf_weights"], dtype=floatx())

    def save_assets(self, dir_path):
        """Writes an adapted vocabulary to `dir_path/vocabulary.txt` (Keras' asset)."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(str(w) for w in self.get_vocabulary()))

    def load_assets(self, dir_path):
        """Reads the vocabulary `save_assets` wrote."""
        if self.input_vocabulary is not None:
            return
        values = self._parse_lines(os.path.join(dir_path, "vocabulary.txt"))
        self.set_vocabulary(values, idf_weights=self.idf_weights
                            if self.output_mode == "tf_idf" else None)


def _check_arguments(max_tokens, num_oov_indices, pad_to_max_tokens, oov_method, output_mode,
                     invert, sparse, idf_weights):
    if max_tokens is not None and max_tokens <= 1:
        raise ValueError("If set, `max_tokens` must be greater than 1. "
                         f"Received: max_tokens={max_tokens}")
    if pad_to_max_tokens and max_tokens is None:
        raise ValueError("If pad_to_max_tokens is True, must set `max_tokens`. "
                         f"Received: max_tokens={max_tokens}")
    if num_oov_indices < 0:
        raise ValueError("`num_oov_indices` must be greater than or equal to 0. "
                         f"Received: num_oov_indices={num_oov_indices}")
    if oov_method not in ("floormod", "farmhash"):
        raise ValueError("Unknown value for `oov_method`. Allowed values are: ('floormod', "
                         f"'farmhash'). Received: oov_method={oov_method!r}")
    if output_mode not in _MODES:
        raise ValueError(f"Unknown value for `output_mode`. Allowed values are: {_MODES}. "
                         f"Received: output_mode={output_mode!r}")
    if invert and output_mode != "int":
        raise ValueError("`output_mode` must be `'int'` when `invert` is true. "
                         f"Received: output_mode={output_mode}")
    if sparse and output_mode == "int":
        raise ValueError("`sparse` may only be true if `output_mode` is `'one_hot'`, "
                         "`'multi_hot'`, `'count'` or `'tf_idf'`. Received: sparse="
                         f"{sparse} and output_mode={output_mode}")
    if sparse:
        raise ValueError("`sparse=True` is not supported by numnet (it has no sparse "
                         "tensors); use the default dense output.")
    if idf_weights is not None and output_mode != "tf_idf":
        raise ValueError("`idf_weights` should only be set if `output_mode` is `'tf_idf'`. "
                         f"Received: idf_weights={idf_weights} and output_mode={output_mode}")


def _checked_salt(salt, vocabulary_dtype, oov_method):
    if salt is None:
        return None
    if vocabulary_dtype != "string" and oov_method != "farmhash":
        raise ValueError("`salt` can only be used when `oov_method='farmhash'`. "
                         f"Received: oov_method={oov_method}")
    if isinstance(salt, (tuple, list)) and len(salt) == 2:
        return list(salt)
    if isinstance(salt, int) and not isinstance(salt, bool):
        return [salt, salt]
    raise ValueError("The `salt` argument for `IndexLookup` can only be a tuple of 2 integers, "
                     f"or a single integer. Received: salt={salt}.")


def _plain_token(token):
    """A token as a plain Python value (str or int), whatever array type it came in."""
    if isinstance(token, bytes):
        return token.decode("utf-8")
    if hasattr(token, "item"):
        return token.item()
    return token


def _listed(value):
    if value is None:
        return None
    return value.tolist() if hasattr(value, "tolist") else list(value)


def _host_array(data):
    return xp.asarray(getattr(data, "data", data))


def _is_batch_iterator(data):
    return hasattr(data, "__iter__") and not isinstance(
        data, (list, tuple, xp.ndarray, str, bytes)) and not hasattr(data, "data")


@register_builtin("keras.layers")
class StringLookup(IndexLookup):
    """Maps strings to integer indices from a vocabulary (learned with `adapt` or given).

    Args:
        max_tokens: the largest vocabulary size (special tokens included), or None.
        num_oov_indices: how many indices out-of-vocabulary strings share
            (hashed into them when more than 1); 1 by default.
        mask_token: a string standing for padding (index 0 in "int" mode), or None.
        oov_token: what `invert=True` returns for unknown indices ("[UNK]").
        vocabulary: the vocabulary (list, array or path of a text file).
        idf_weights: with output_mode="tf_idf" and a vocabulary, its IDF weights.
        invert: map indices back to strings.
        output_mode: "int" (default), "one_hot", "multi_hot", "count" or "tf_idf".
        pad_to_max_tokens: encode into `max_tokens` slots whatever the vocabulary size.
        sparse: must be False.
        encoding: the text encoding of byte strings ("utf-8").
        salt: a key for hashing OOV strings with SipHash instead of FarmHash.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 **kwargs):
        kwargs.pop("vocabulary_dtype", None)
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["vocabulary_dtype"]
        return {**config, "encoding": self.encoding}


@register_builtin("keras.layers")
class IntegerLookup(IndexLookup):
    """Maps integer ids (e.g. raw category codes) to contiguous indices from a vocabulary.

    Args as `StringLookup`, with integer tokens: `mask_token` None by
    default, `oov_token` -1; `vocabulary_dtype` must be "int64";
    `oov_method` "floormod" (OOV ids `id % num_oov_indices`) or "farmhash".
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError("If `max_tokens` is set for `IntegerLookup`, it must be greater "
                             f"than 1. Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("The value of `num_oov_indices` argument for `IntegerLookup` must "
                             f">= 0. Received: num_oov_indices={num_oov_indices}")
        if vocabulary_dtype != "int64":
            raise ValueError("Only `vocabulary_dtype='int64'` is supported at this time. "
                             f"Received: vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         vocabulary_dtype=vocabulary_dtype, idf_weights=idf_weights,
                         invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt,
                         name=name, **kwargs)

    def get_config(self):
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
