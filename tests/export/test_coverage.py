"""Every primitive numnet has is exportable in every format, or listed as never exported.

When a new primitive lands (a new activation kernel, a new layer's op), this test
names it: give it a rule in `numnet/export/onnx_format.py`, `numpy_format.py`
and `saved_model.py` (see `numnet.export.registry`), or, if it can never be part
of a forward pass, a reason in `registry.NOT_EXPORTED`.
"""

import gc
import importlib
import pkgutil

import numpy as np

import numnet
from numnet import activations
from numnet.activations import ALL_ACTIVATIONS
from numnet.autodiff.primitive import Primitive
from numnet.export.numpy_format import NUMPY_OPS
from numnet.export.onnx_format import ONNX_OPS
from numnet.export.registry import not_exported_reason
from numnet.export.saved_model import TF_OPS
from numnet.export.tracing import trace
from export_cases import OP_CASES, activation_for

TABLES = (ONNX_OPS, NUMPY_OPS, TF_OPS)


def _all_primitives():
    for module in pkgutil.walk_packages(numnet.__path__, "numnet."):
        if module.name != "numnet.__main__":  # that one runs the command line
            importlib.import_module(module.name)
    # numnet's own primitives: computed by numnet code or by a NumPy ufunc (tests define a few
    # primitives of their own, which are not numnet's ops)
    return {obj.name for obj in gc.get_objects() if isinstance(obj, Primitive)
            and getattr(obj.compute, "__module__", "").startswith(("numnet", "numpy"))}


def test_every_primitive_has_a_rule_in_every_format_or_a_reason():
    names = _all_primitives()
    assert {"dense", "softmax", "reshape", "affine"} <= names
    missing = {table.format_name: sorted(n for n in names if n not in table
                                         and not not_exported_reason(n)) for table in TABLES}
    assert missing == {table.format_name: [] for table in TABLES}


def test_the_formats_support_the_same_ops():
    assert set(ONNX_OPS.rules) == set(NUMPY_OPS.rules) == set(TF_OPS.rules)


def _placed_dense():
    """After fit or predict a model's Dense weights sit in one store: the `dense_stacked` op."""
    model = numnet.Sequential([numnet.Input(shape=(3,)), numnet.layers.Dense(2)])
    model.predict(np.zeros((1, 3), "float32"), verbose=0)
    return model, None


def test_every_rule_is_exercised_by_the_op_tests():
    """The round-trip tests (test_ops.py, test_models.py) reach every registered rule."""
    import test_models
    seen = set()
    builders = [build for build in OP_CASES.values()]
    rng = np.random.default_rng(0)
    builders += [lambda case=case: test_models.LAYER_CASES[case](rng)
                 for case in test_models.LAYER_CASES]
    builders += [_placed_dense, _repeated_output, _relu_with_options]
    builders += [lambda name=name: _activation(name) for name in ALL_ACTIVATIONS]
    for build in builders:
        model, _ = build()
        seen.update(node.op for node in trace(model).nodes)
    assert set(ONNX_OPS.rules) - seen == set()


def _activation(name):  # as test_models.test_every_activation_in_dense_and_activation_layers
    layer = numnet.layers.Activation(activation_for(name))
    return numnet.Sequential([numnet.Input(shape=(4,)), layer]), None


def _relu_with_options():  # as test_models.test_relu_options
    layer = numnet.layers.Activation(lambda t: activations.relu(t, max_value=1.5))
    return numnet.Sequential([numnet.Input(shape=(4,)), layer]), None


def _repeated_output():  # as test_models.test_outputs_that_repeat_or_pass_an_input_through
    a = numnet.Input(shape=(3,))
    return numnet.Model(a, [a, a]), None
