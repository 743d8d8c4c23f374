"""Every exportable primitive, exported to ONNX and NumPy, against numnet's own outputs."""

import pytest

from export_cases import OP_CASES
from export_helpers import export_and_compare


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_op_round_trip(case, tmp_path):
    model, x = OP_CASES[case]()
    # Integer inputs: compare with a direct call (predict converts inputs to floats).
    reference = "call" if case.startswith("take") else "predict"
    export_and_compare(model, x, tmp_path, reference=reference)
