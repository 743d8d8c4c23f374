"""`numnet.tree`: nested structures of lists, tuples and dicts, as `keras.tree` walks them.

A structure's leaves are everything that is not a list, a tuple or a dict
(None included). Dicts are walked in sorted key order, as Keras does, and
rebuilt in their own key order; namedtuples are rebuilt as namedtuples. Every
part of numnet that walks structures (layers' calls, losses per output, the
compiled steps' batches and results) uses these functions.
"""

import itertools
from operator import itemgetter


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


def map_structure(func, *structures, none_is_leaf=True):
    """The structure of the first of `structures` with `func(leaf, ...)` in place of each
    leaf (called with the leaves at the same place in every structure, which must match).

    With `none_is_leaf=False`, a None stays None without a call.
    """
    if not structures:
        raise ValueError("map_structure() needs at least one structure.")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)

    def walk(*parts):
        head = parts[0]
        if head is None and not none_is_leaf:
            return None
        if isinstance(head, dict):
            return {key: walk(*(part[key] for part in parts)) for key in head}
        if isinstance(head, (list, tuple)):
            return same_kind(head, [walk(*items) for items in zip(*parts)])
        return func(*parts)
    return walk(*structures)


def map_structure_up_to(shallow_structure, func, *structures):
    """`func` applied where `shallow_structure` has its leaves, to what each of `structures`
    holds there (deeper nesting is handed over whole); the result has the shallow layout."""
    if not structures:
        raise ValueError("map_structure_up_to() needs at least one structure.")

    def walk(shallow, parts):
        if not is_nested(shallow):
            return func(*parts)
        for part in parts:
            if not is_nested(part) or isinstance(part, dict) != isinstance(shallow, dict) or \
                    len(part) != len(shallow):
                raise ValueError(f"The structures don't have the nested structure of "
                                 f"{shallow_structure!r} (at {shallow!r}: {part!r}).")
        if isinstance(shallow, dict):
            return {key: walk(shallow[key], [part[key] for part in parts]) for key in shallow}
        return same_kind(shallow, [walk(item, [part[i] for part in parts])
                                   for i, item in enumerate(shallow)])
    return walk(shallow_structure, structures)


class MAP_TO_NONE:
    """What a `traverse` function returns to put None in place of a sub-tree."""


def _with_children(structure, visit):
    """`structure` (nested) rebuilt from `visit(child)` of each of its children, visited in
    `flatten` order (a dict's by sorted key; it keeps its own key order)."""
    if isinstance(structure, dict):
        visited = {key: visit(structure[key]) for key in sorted(structure)}
        return {key: visited[key] for key in structure}
    return same_kind(structure, [visit(item) for item in structure])


def traverse(func, structure, top_down=True):
    """Visits every sub-tree of `structure` (parents first when `top_down`) with `func`.

    Top down, a non-None result replaces the sub-tree and stops the descent into it;
    bottom up, it replaces the sub-tree built from the visited children. `MAP_TO_NONE`
    stands for a replacement by None.
    """
    def visit(node):
        if top_down:
            result = func(node)
            if result is None:
                return _with_children(node, visit) if is_nested(node) else node
        else:
            node = _with_children(node, visit) if is_nested(node) else node
            result = func(node)
            if result is None:
                return node
        return None if result is MAP_TO_NONE else result
    return visit(structure)


def lists_to_tuples(structure):
    """`structure` with every list (at any depth) made a tuple."""
    return traverse(lambda node: tuple(node) if isinstance(node, list) else None, structure,
                    top_down=False)


def _is_shape(value):
    return isinstance(value, (list, tuple)) and all(
        isinstance(d, int) or d is None for d in value)


def map_shape_structure(func, structure):
    """`map_structure` for structures of shapes: a list or tuple of ints and Nones is a leaf."""
    if _is_shape(structure) or not is_nested(structure):
        return func(structure)
    return _with_children(structure, lambda part: map_shape_structure(func, part))


def assert_same_paths(a, b):
    """Raises a ValueError unless `a` and `b` have their leaves at the same paths (the kind
    of each container does not matter)."""
    paths_a = {path for path, _ in flatten_with_path(a)}
    paths_b = {path for path, _ in flatten_with_path(b)}
    if paths_a != paths_b:
        raise ValueError("`a` and `b` don't have the same paths. Only in `a`: "
                         f"{sorted(paths_a - paths_b, key=repr)}; only in `b`: "
                         f"{sorted(paths_b - paths_a, key=repr)}.")


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


def structure_builder(structure):
    """A function making `structure` again from the flat list of its leaves' new values (in
    `flatten` order): `pack_sequence_as` worked out once, for a structure rebuilt at every
    call (a compiled step's result)."""
    return _builder(structure, itertools.count())


def _builder(structure, positions):
    if isinstance(structure, dict):  # its leaves come in sorted key order (`flatten`)
        parts = {key: _builder(structure[key], positions) for key in sorted(structure)}
        return lambda leaves: {key: parts[key](leaves) for key in structure}
    if isinstance(structure, (list, tuple)):
        kind = type(structure)
        if kind in (list, tuple) and structure and not any(
                isinstance(item, (dict, list, tuple)) for item in structure):
            get = itemgetter(*[next(positions) for _ in structure])  # flat: one call
            if len(structure) == 1:
                return lambda leaves: kind((get(leaves),))
            return get if kind is tuple else lambda leaves: list(get(leaves))
        parts = [_builder(item, positions) for item in structure]
        if hasattr(structure, "_fields"):  # a namedtuple takes its items as fields
            return lambda leaves: kind(*[build(leaves) for build in parts])
        return lambda leaves: kind([build(leaves) for build in parts])
    return itemgetter(next(positions))


def structure_key(structure):
    """A hashable description of a nesting (its containers and where its leaves and Nones
    are), for caches keyed by structure."""
    if isinstance(structure, dict):
        return ("dict", tuple((k, structure_key(structure[k])) for k in sorted(structure)))
    if isinstance(structure, (list, tuple)):
        return (type(structure).__name__, tuple(structure_key(x) for x in structure))
    return "none" if structure is None else "leaf"


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


def assert_same_structure(a, b, check_types=None):
    """Raises a ValueError naming both structures when their nestings differ (`check_types`:
    Keras' deprecated argument, ignored as there)."""
    if not same_structure(a, b):
        raise ValueError(f"The two structures don't have the same nested structure: "
                         f"{a!r} and {b!r}")


__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten",
           "flatten_with_path", "is_nested", "lists_to_tuples", "map_shape_structure",
           "map_structure", "map_structure_up_to", "pack_sequence_as", "traverse"]
