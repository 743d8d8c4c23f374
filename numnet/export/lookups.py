"""What the vocabulary lookups of an inference graph compute, for the exporters to write.

numnet's `index_lookup` op (StringLookup, IntegerLookup) reads a
`numnet.kernels.categorical.LookupTable` and options from its attributes; the
formats that write it as a hash table (ONNX's `LabelEncoder`, TensorFlow's
`StaticHashTable`) need the same three things, computed here once:

- `entries(node)`: the table as a dict, with the mask token folded in (numnet
  replaces a masked token's lookup by the mask index, and, inverted, index 0 by
  the mask token: one more entry of the table does the same);
- `hashes_tokens(options)`: whether out-of-vocabulary tokens are hashed into
  their buckets (strings, or integers with `oov_method="farmhash"`) rather
  than bucketed by `id mod num_oov_indices`.
"""


def options_of(node):
    """The lookup's options as a dict (the attribute is a sorted tuple of pairs)."""
    return dict(node.attrs["options"])


def entries(node):
    """key -> value of an `index_lookup` node's table, mask token included."""
    options, table = options_of(node), node.attrs["table"]
    found = dict(zip(table.keys.tolist(), table.values.tolist()))
    mask_token = options.get("mask_token")
    if mask_token is not None:
        if options["invert"]:
            found[0] = mask_token
        else:
            found[mask_token] = options["mask_value"]
    return found


def hashes_tokens(options):
    """Whether several OOV indices are filled by hashing the tokens (not `id mod n`)."""
    return options.get("num_oov_indices", 1) > 1 and not options["invert"] and (
        options["key_kind"] == "string" or options.get("oov_method") == "farmhash")


__all__ = ["entries", "hashes_tokens", "options_of"]
