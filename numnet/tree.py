"""`numnet.tree`: nested structures of lists, tuples and dicts, as `keras.tree` walks them.

A structure's leaves are everything that is not a list, a tuple or a dict
(None included). Dicts are walked in sorted key order, as Keras does, and
rebuilt in their own key order; namedtuples are rebuilt as namedtuples. Every
part of numnet that walks structures (layers' calls, losses per output, the
compiled steps' batches and results) uses these functions.
"""


def is_nested(structure):
    """Whether `structure` is a list, a tuple or a dict (not a leaf)."""
    return isinstance(structure, (list, tuple, dict))


def flatten(structure):
    """The leaves of `structure`, in order (dicts by sorted key)."""
    if isinstance(structure, dict):
        return [x for key in sorted(structure) for x in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in flatten(item)]
    return [structure]


def flatten_with_path(structure, path=()):
    """`[(path, leaf), ...]` in `flatten` order; a path holds the keys and indices walked."""
    if isinstance(structure, dict):
        return [item for key in sorted(structure)
                for item in flatten_with_path(structure[key], path + (key,))]
    if isinstance(structure, (list, tuple)):
        return [item for i, value in enumerate(structure)
                for item in flatten_with_path(value, path + (i,))]
    return [(path, structure)]


def map_structure(fn, structure):
    """`structure` with `fn(leaf)` in place of each leaf."""
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return same_kind(structure, [map_structure(fn, value) for value in structure])
    return fn(structure)


def pack_sequence_as(structure, flat_sequence):
    """`structure` rebuilt with the leaves of `flat_sequence`, in `flatten` order."""
    leaves = iter(flat_sequence)

    def rebuild(part):
        if isinstance(part, dict):
            values = {key: rebuild(part[key]) for key in sorted(part)}
            return {key: values[key] for key in part}
        if isinstance(part, (list, tuple)):
            return same_kind(part, [rebuild(item) for item in part])
        return next(leaves)
    return rebuild(structure)


def same_kind(sequence, items):
    """`items` in a container of `sequence`'s type (a namedtuple takes them as fields)."""
    if isinstance(sequence, tuple) and hasattr(sequence, "_fields"):
        return type(sequence)(*items)
    return type(sequence)(items)


def same_structure(a, b):
    """Whether two nestings match (lists and tuples count as the same kind, as in Keras)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and \
            all(same_structure(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and \
            len(a) == len(b) and all(same_structure(x, y) for x, y in zip(a, b))
    return True


def assert_same_structure(a, b):
    """Raises a ValueError naming both structures when their nestings differ."""
    if not same_structure(a, b):
        raise ValueError(f"The two structures don't have the same nested structure: "
                         f"{a!r} and {b!r}")


__all__ = ["assert_same_structure", "flatten", "flatten_with_path", "is_nested",
           "map_structure", "pack_sequence_as"]
