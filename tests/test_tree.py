"""`numnet.tree` walks structures as `keras.tree` does: dicts by sorted key, None a leaf."""

import collections
import importlib.util
import json
from pathlib import Path

import pytest

import numnet
import numnet as keras
from numnet import tree

Point = collections.namedtuple("Point", "x y")


def test_flatten_takes_dicts_by_sorted_key_and_keeps_none_as_a_leaf():
    structure = {"b": [1, (2, 3)], "a": None, "c": Point(4, {"z": 5, "y": 6})}
    assert tree.flatten(structure) == [None, 1, 2, 3, 4, 6, 5]
    assert tree.flatten(7) == [7] and tree.flatten([]) == []
    assert [path for path, _ in tree.flatten_with_path(structure)] == [
        ("a",), ("b", 0), ("b", 1, 0), ("b", 1, 1), ("c", 0), ("c", 1, "y"), ("c", 1, "z")]
    assert tree.is_nested([1]) and tree.is_nested({}) and not tree.is_nested("ab")


def test_pack_sequence_as_inverts_flatten_and_keeps_kinds_and_key_order():
    structure = {"b": [1, (2, 3)], "a": None, "c": Point(4, {"z": 5, "y": 6})}
    packed = tree.pack_sequence_as(structure, tree.flatten(structure))
    assert packed == structure and list(packed) == ["b", "a", "c"]
    assert type(packed["c"]) is Point and type(packed["b"][1]) is tuple
    assert list(packed["c"].y) == ["z", "y"]
    doubled = tree.map_structure(lambda v: None if v is None else 2 * v, structure)
    assert doubled == {"b": [2, (4, 6)], "a": None, "c": Point(8, {"z": 10, "y": 12})}
    assert type(doubled["c"]) is Point


@pytest.mark.parametrize("structure", [
    {"b": [1, (2, 3)], "a": None, "c": Point(4, {"z": 5, "y": 6})}, [7], (7,), [7, 8], (7, 8),
    7, Point(1, 2), [[1], {"k": (2,)}]])
def test_structure_builder_packs_as_pack_sequence_as(structure):
    leaves = [f"new {i}" for i in range(len(tree.flatten(structure)))]
    built = tree.structure_builder(structure)(leaves)
    packed = tree.pack_sequence_as(structure, leaves)
    assert built == packed and type(built) is type(packed)


def test_structure_key_tells_nestings_apart_not_leaves():
    assert tree.structure_key([1, (2, None)]) == tree.structure_key([3, (4, None)])
    assert tree.structure_key([1, (2, None)]) != tree.structure_key([1, (2, 5)])
    assert tree.structure_key({"a": 1}) != tree.structure_key({"b": 1})
    assert tree.structure_key([1]) != tree.structure_key((1,))


def test_assert_same_structure_names_both_structures():
    tree.assert_same_structure([1, (2, 3)], ("a", ["b", "c"]))  # lists and tuples alike
    with pytest.raises(ValueError, match=r"\[1, 2\].*\[1, \[2\]\]"):
        tree.assert_same_structure([1, 2], [1, [2]])
    assert keras.tree is tree


# ------------------------------------------------ against real Keras' keras.tree
_FIXTURES = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("tree_cases", _FIXTURES / "tree_cases.py")
tree_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tree_cases)
KERAS_OUTCOMES = json.loads((_FIXTURES / "reference_tree.json").read_text())["outcomes"]


@pytest.mark.parametrize("case", sorted(tree_cases.CASES))
def test_the_result_or_error_is_keras(case):
    """Regenerate with `fixtures/generate_reference_tree.py`."""
    assert tree_cases.outcome(case, numnet.tree) == KERAS_OUTCOMES[case]


def test_map_structure_up_to_takes_none_leaves_as_keras_documents():
    # Keras 3.15.1's own docstring example (its implementation raises there).
    assert numnet.tree.map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]]) == \
        ["[1, 1]", ["2", "2"]]
