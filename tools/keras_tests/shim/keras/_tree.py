"""`keras.tree` for the tests: nested lists, tuples, namedtuples and dicts of leaves.

Dicts flatten in sorted-key order and `None` is a leaf, as in Keras. Tests use it to walk
expected and actual outputs side by side.
"""

import collections


def is_nested(structure):
    return isinstance(structure, (list, tuple, dict, collections.abc.Mapping))


def _children(structure):
    if isinstance(structure, collections.abc.Mapping):
        return [structure[k] for k in sorted(structure)]
    return list(structure)


def _rebuild(structure, children):
    if isinstance(structure, collections.abc.Mapping):
        rebuilt = dict(zip(sorted(structure), children))
        return type(structure)((k, rebuilt[k]) for k in structure) \
            if not isinstance(structure, dict) else {k: rebuilt[k] for k in structure}
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*children)
    return type(structure)(children)


def flatten(structure):
    if not is_nested(structure):
        return [structure]
    return [leaf for child in _children(structure) for leaf in flatten(child)]


def map_structure(func, *structures, none_is_leaf=True):
    first = structures[0]
    for other in structures[1:]:
        assert_same_structure(first, other)
    if not is_nested(first):
        return func(*structures)
    columns = zip(*[_children(s) for s in structures])
    return _rebuild(first, [map_structure(func, *col) for col in columns])


def map_structure_up_to(shallow, func, *structures):
    if not is_nested(shallow):
        return func(*structures)
    columns = zip(*[_children(s) for s in structures])
    return _rebuild(shallow, [map_structure_up_to(sub, func, *col)
                              for sub, col in zip(_children(shallow), columns)])


def assert_same_structure(a, b, check_types=False):
    if is_nested(a) != is_nested(b):
        raise ValueError(f"The two structures don't have the same nested structure: {a}, {b}")
    if not is_nested(a):
        return
    if isinstance(a, collections.abc.Mapping) != isinstance(b, collections.abc.Mapping):
        raise ValueError(f"The two structures don't have the same nested structure: {a}, {b}")
    if isinstance(a, collections.abc.Mapping) and sorted(a) != sorted(b):
        raise ValueError(f"The two dicts don't have the same keys: {sorted(a)}, {sorted(b)}")
    ca, cb = _children(a), _children(b)
    if len(ca) != len(cb):
        raise ValueError(f"The two structures don't have the same length: {a}, {b}")
    for x, y in zip(ca, cb):
        assert_same_structure(x, y, check_types)


def pack_sequence_as(structure, flat_sequence):
    leaves = iter(flat_sequence)

    def build(s):
        if not is_nested(s):
            return next(leaves)
        return _rebuild(s, [build(c) for c in _children(s)])
    return build(structure)


def _is_shape(x):
    return isinstance(x, (list, tuple)) and all(isinstance(d, (int, type(None))) for d in x)


def map_shape_structure(func, structure):
    if _is_shape(structure):
        return func(tuple(structure))
    if isinstance(structure, collections.abc.Mapping):
        return {k: map_shape_structure(func, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_shape_structure(func, s) for s in structure)
    raise ValueError(f"Cannot map function to unknown object {structure}")


def lists_to_tuples(structure):
    if isinstance(structure, list):
        return tuple(lists_to_tuples(s) for s in structure)
    if isinstance(structure, dict):
        return {k: lists_to_tuples(v) for k, v in structure.items()}
    if isinstance(structure, tuple):
        return tuple(lists_to_tuples(s) for s in structure)
    return structure
