"""Variable paths as Keras 3 gives them: the name scopes of the layers building a variable
("seq/hidden/kernel"), and optimizer slots named after those paths. Compared with
`reference_paths.json` (real Keras 3.15.1; `tests/fixtures/generate_reference_paths.py`)."""

import json
import sys
from pathlib import Path

import pytest

import numnet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES))

from path_cases import CASES, paths  # noqa: E402

REFERENCE = json.loads((FIXTURES / "reference_paths.json").read_text())["cases"]


def test_every_case_has_a_reference():
    assert set(REFERENCE) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_variable_paths_are_keras_paths(case):
    assert paths(CASES[case](numnet)) == REFERENCE[case]
