"""The textbook's four Wide & Deep models train on real California housing rows."""

import importlib.util
import os
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wide_and_deep.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("wide_and_deep_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results():
    os.environ.setdefault("NUMNET_DATA", str(Path(__file__).resolve().parents[3] / "shared"
                                             / "datasets"))
    return _load_example().run_all(epochs=5, n_rows=3000, verbose=0)


@pytest.mark.parametrize("variant", ["single_input", "two_inputs", "aux_output", "subclassed"])
def test_wide_and_deep_reaches_sensible_rmse(results, variant):
    # Predicting the mean gives an RMSE of about 1.15 on these rows.
    assert 0.3 < results[variant] < 0.8, results
