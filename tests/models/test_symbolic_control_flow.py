"""Keras' operation classes, and control flow on symbolic tensors, as graph nodes.

What these check on numnet's side is what Keras 3.15.1's own `ops/core_test.py` asks of
Keras (run it with `python tools/keras_tests/run.py --keras-src <tree> --modules
ops_core`): operation classes take their config by position (`Cast("float16")`), their
`symbolic_call` gives the output spec, `slice` takes -1 for "to the end", `unstack` needs a
known length, and `cond`, `scan`, `map`, `while_loop`, ... on `KerasTensor`s record a node
whose spec follows Keras' rules. The expected numbers come from NumPy.
"""

import numpy as np
import pytest

import numnet as keras
from numnet.autodiff import GradientTape
from numnet.layers.op_layer import operation_classes
from numnet.layers.symbolic import KerasTensor

ops = keras.ops
CORE = operation_classes("keras.src.ops.core")
RNG = np.random.default_rng(5)


def test_operation_classes_take_their_config_by_position():
    assert {"Cast", "Slice", "Unstack", "StopGradient", "Cond", "WhileLoop"} <= set(CORE)
    x = RNG.normal(size=(3, 4)).astype("float32")
    assert np.asarray(CORE["Cast"]("float16")(x)).dtype == np.float16
    np.testing.assert_array_equal(np.asarray(CORE["Slice"]((2, 2))(x, (1, 1))), x[1:3, 1:3])
    parts = CORE["Unstack"](None, 1)(x)  # num, axis
    assert len(parts) == 4
    np.testing.assert_array_equal(np.asarray(parts[2]), x[:, 2])
    with pytest.raises(TypeError, match=r"Cast\(\) takes at most 1 positional"):
        CORE["Cast"]("float16", "int32")
    with pytest.raises(TypeError, match="'dtype' by position and by name"):
        CORE["Cast"]("float16", dtype="int32")


def test_symbolic_call_gives_the_output_spec():
    spec = CORE["Cast"]("int32").symbolic_call(np.ones((1,)))
    assert isinstance(spec, KerasTensor) and spec.shape == (1,) and spec.dtype == "int32"
    inputs = keras.Input((3,))
    node = CORE["Cast"]("float16").symbolic_call(inputs)
    assert node.shape == (None, 3) and node.dtype == "float16"
    assert node._keras_history is not None  # a node of the graph


def test_slice_size_minus_one_runs_to_the_end_of_its_axis():
    x = np.arange(12, dtype="float32").reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(ops.slice(x, (1, 2), (-1, -1))), x[1:, 2:])
    np.testing.assert_array_equal(np.asarray(ops.slice(x, (0, 1), (2, -1))), x[:2, 1:])
    assert ops.slice(KerasTensor((3, 3)), (1, 1), (-1, -1)).shape == (2, 2)
    assert ops.slice(KerasTensor((None, 3)), (1, 1), (-1, -1)).shape == (None, 2)
    start = KerasTensor((2,), dtype="int32")
    assert ops.slice(KerasTensor((3, 3)), start, (-1, 2)).shape == (None, 2)
    for inputs in (x, KerasTensor((3, 4))):
        with pytest.raises(ValueError, match="dimensions in `inputs` must match.*`shape`"):
            ops.slice(inputs, (1, 1), (2, 2, 2))
        with pytest.raises(ValueError, match="dimensions in `start_indices` must match"):
            ops.slice(inputs, (1, 1, 1), (2, 2))
    with pytest.raises(ValueError, match="or -1 for the rest"):
        ops.slice(x, (0, 0), (2, -2))


def test_unstack_of_a_symbolic_tensor_needs_a_known_length():
    parts = ops.unstack(KerasTensor((2, None, None)), num=3, axis=1)
    assert [p.shape for p in parts] == [(2, None)] * 3
    assert len(ops.unstack(KerasTensor((2, 3, 4)), axis=1)) == 3
    with pytest.raises(ValueError, match="Cannot infer argument `num` from shape"):
        ops.unstack(KerasTensor((2, None, None)), axis=1)


def test_stop_gradient_is_a_node_that_stops_the_gradient():
    inputs = keras.Input((3,))
    frozen, free = keras.layers.Dense(2, name="frozen"), keras.layers.Dense(2, name="free")
    model = keras.Model(inputs, ops.stop_gradient(frozen(inputs)) + free(inputs))
    x = RNG.normal(size=(4, 3)).astype("float32")
    with GradientTape() as tape:
        loss = ops.sum(ops.square(model(x)))
    grads = tape.gradient(loss, [frozen.kernel, free.kernel])
    assert grads[0] is None or not np.any(np.asarray(grads[0]))
    assert np.any(np.asarray(grads[1]))


def _run(outputs_of, x):
    """A Functional model of `outputs_of(inputs)`, called on `x`; also its symbolic output."""
    inputs = keras.Input(x.shape[1:])
    outputs = outputs_of(inputs)
    return outputs, keras.Model(inputs, outputs)(x)


def test_control_flow_on_symbolic_tensors_is_a_node_with_keras_specs():
    x = RNG.normal(size=(5, 4)).astype("float32")

    spec, got = _run(lambda t: ops.map(lambda row: row * 2.0, t), x)
    assert spec.shape == (None, 4)
    np.testing.assert_allclose(np.asarray(got), x * 2)

    spec, got = _run(lambda t: ops.vectorized_map(lambda row: ops.sum(row), t), x)
    assert spec.shape == (None,)
    np.testing.assert_allclose(np.asarray(got), x.sum(axis=1), rtol=1e-6)

    spec, got = _run(lambda t: ops.associative_scan(lambda a, b: a + b, t, axis=1), x)
    assert spec.shape == (None, 4)
    np.testing.assert_allclose(np.asarray(got), np.cumsum(x, axis=1), rtol=1e-6)

    def running_sum(t):
        return ops.scan(lambda carry, row: (carry + row, carry + row), ops.zeros((4,)), t)
    (carry, rows), (got_carry, got_rows) = _run(running_sum, x)
    assert carry.shape == (4,) and rows.shape == (None, 4)
    np.testing.assert_allclose(np.asarray(got_rows), np.cumsum(x, axis=0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(got_carry), x.sum(axis=0), rtol=1e-6)

    spec, got = _run(lambda t: ops.fori_loop(0, 3, lambda i, v: v * 2.0, t), x)
    assert spec.shape == (None, 4)
    np.testing.assert_allclose(np.asarray(got), x * 8)

    def doubled_until_large(t):
        return ops.while_loop(lambda v: ops.max(ops.abs(v)) < 100.0, lambda v: v * 2.0, t,
                              maximum_iterations=50)
    spec, got = _run(doubled_until_large, x)
    assert spec.shape == (None, 4)
    expected = x.copy()
    while np.abs(expected).max() < 100:
        expected *= 2
    np.testing.assert_allclose(np.asarray(got), expected)


def test_switch_and_cond_on_a_symbolic_predicate():
    # `switch` hands its operands to the branch: in a model, they are the node's inputs.
    # (`cond`'s branches take none; as in Keras, a node of it has the spec of its branches.)
    x = RNG.normal(size=(5, 4)).astype("float32")
    for data in (np.abs(x), -np.abs(x)):
        def switched(t):
            index = ops.cast(ops.all(t > 0), "int32")
            return ops.switch(index, [lambda v: v - 1.0, lambda v: v * 2.0], t)
        spec, got = _run(switched, data)
        assert spec.shape == (None, 4)
        np.testing.assert_allclose(np.asarray(got), data * 2 if data[0, 0] > 0 else data - 1)
    pred = KerasTensor((), dtype="bool")
    out = ops.cond(pred, lambda: ops.ones((1, 3)), lambda: ops.zeros((1, 3)))
    assert out.shape == (1, 3) and out.dtype == "float32" and out._keras_history is not None
    with pytest.raises(ValueError, match="`true_fn` and `false_fn` should return outputs of "
                                         "the same kind"):
        ops.cond(pred, lambda: ops.ones((1, 3)), lambda: ops.zeros((1, 4)))
    with pytest.raises(ValueError, match="the same kind"):
        ops.cond(pred, lambda: ops.ones((1, 3)), lambda: ops.zeros((1, 3), dtype="int32"))
    with pytest.raises(ValueError, match="the same kind"):
        ops.cond(pred, lambda: (ops.ones(2),), lambda: ops.ones(2))
    with pytest.raises(ValueError, match="its branches return no tensors"):
        ops.cond(pred, lambda: None, lambda: None)
    pair = ops.cond(pred, lambda: (ops.ones((1, 3)), ops.ones(2)),
                    lambda: (ops.zeros((1, 3)), ops.zeros(2)))
    assert [t.shape for t in pair] == [(1, 3), (2,)]


def test_a_branch_closing_over_the_model_inputs_fails_clearly_when_the_model_runs():
    inputs = keras.Input((4,))
    outputs = ops.cond(ops.all(inputs > 0), lambda: inputs * 2.0, lambda: inputs - 1.0)
    assert outputs.shape == (None, 4)
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="`cond` in a Functional model: a function it runs "
                                         "returned symbolic tensors"):
        model(np.ones((2, 4), "float32"))


@keras.saving.register_keras_serializable(package="control_flow_test")
def _doubled(row):
    return row + row


def test_a_registered_function_in_a_node_saves_and_loads(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [ops.vectorized_map(_doubled, inputs), ops.map(_doubled, inputs)])
    x = RNG.normal(size=(3, 4)).astype("float32")
    expected = [np.asarray(y) for y in model(x)]
    np.testing.assert_allclose(expected[0], 2 * x)
    for revived in (model.from_config(model.get_config()),
                    (model.save(tmp_path / "m.keras"),
                     keras.saving.load_model(tmp_path / "m.keras"))[1]):
        for got, want in zip(revived(x), expected):
            np.testing.assert_allclose(np.asarray(got), want)


def test_a_keras_tensor_has_no_array_value():
    with pytest.raises(ValueError, match="has no value"):
        np.asarray(KerasTensor((2,)))
