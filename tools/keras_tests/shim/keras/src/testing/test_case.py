"""`keras.src.testing.TestCase`, written for numnet: the assertions and the layer contract
that Keras' tests call, checked on numnet's objects.

The checks follow what Keras' tests rely on, with these documented differences:
- `run_layer_test` trains the layer for one step with `fit(x, y)` on the arrays rather
  than from a Python generator (generator input is a separate feature, tested by Keras'
  trainer tests, not by layer tests).
- The seed-generator count, the torch-parameter count, sparse / ragged outputs and the
  mixed-precision pass are not checked: those are backend internals and mixed precision,
  which issue 14 leaves out.
- An expected output's container type (list / tuple / dict) is compared; leaves are
  compared by value (a NumPy array is as good as a numnet Tensor).
"""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from absl.testing import parameterized

import numnet
from numnet.autodiff import Tensor
from numnet.backend import standardize_dtype
from numnet.layers import KerasTensor

from keras import _tree as tree
from keras._backend import backend


class TestCase(parameterized.TestCase):
    maxDiff = None

    def setUp(self):
        numnet.backend.clear_session()

    def get_temp_dir(self):
        path = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def convert_to_numpy(self, x):
        if isinstance(x, Tensor):
            return np.asarray(x.data)
        return np.asarray(x)

    # ------------------------------------------------------------ assertions
    def assertAllClose(self, actual, desired, atol=1e-6, rtol=1e-6, tpu_atol=None,
                       tpu_rtol=None, msg=None):
        np.testing.assert_allclose(self.convert_to_numpy(actual), self.convert_to_numpy(desired),
                                   atol=atol, rtol=rtol, err_msg=msg or "")

    def assertNotAllClose(self, x1, x2, atol=1e-6, rtol=1e-6, msg=None):
        try:
            self.assertAllClose(x1, x2, atol=atol, rtol=rtol)
        except AssertionError:
            return
        raise AssertionError(f"The two values are close at all elements. {msg or ''} {x1}")

    def assertAlmostEqual(self, actual, desired, decimal=3, tpu_decimal=None, msg=None):
        np.testing.assert_almost_equal(self.convert_to_numpy(actual),
                                       self.convert_to_numpy(desired), decimal=decimal,
                                       err_msg=msg or "")

    def assertAllEqual(self, actual, desired, msg=None):
        np.testing.assert_array_equal(self.convert_to_numpy(actual),
                                      self.convert_to_numpy(desired), err_msg=msg or "")

    def assertLen(self, iterable, expected_len, msg=None):
        self.assertEqual(len(iterable), expected_len, msg=msg)

    def assertSparse(self, x, sparse=True):
        self.assertFalse(sparse, "numnet has no sparse tensors")

    def assertRagged(self, x, ragged=True):
        self.assertFalse(ragged, "numnet has no ragged tensors")

    def assertDType(self, x, dtype, msg=None):
        actual = standardize_dtype(x.dtype if hasattr(x, "dtype") else type(x))
        expected = standardize_dtype(dtype)
        self.assertEqual(actual, expected, msg=msg or (
            f"The dtype of x does not match the expected one. Received: x.dtype={actual} "
            f"and dtype={dtype}"))

    def assertFileExists(self, path):
        if not Path(path).is_file():
            raise AssertionError(f"File {path} does not exist")

    # ---------------------------------------------------------- serialization
    def run_class_serialization_test(self, instance, custom_objects=None):
        """get_config -> from_config and serialize -> deserialize give the same config."""
        from numnet.saving import deserialize_keras_object, serialize_keras_object
        from numnet.serialization import custom_object_scope

        config = instance.get_config()
        config_json = _json_keeping_tuples(config)
        names = set(dir(instance))
        with custom_object_scope(custom_objects or {}):
            revived = type(instance).from_config(config)
        self.assertEqual(config_json, _json_keeping_tuples(revived.get_config()))
        self.assertEqual(names, set(dir(revived)))

        serialized = json.loads(_json_keeping_tuples(serialize_keras_object(instance)),
                                object_hook=_tuple_hook)
        with custom_object_scope(custom_objects or {}):
            revived = deserialize_keras_object(serialized)
        self.assertEqual(config_json, _json_keeping_tuples(revived.get_config()))
        self.assertEqual(names - {"__annotations__"}, set(dir(revived)) - {"__annotations__"})
        return revived

    # ----------------------------------------------------------- layer contract
    def run_layer_test(self, layer_cls, init_kwargs, input_shape=None, input_dtype=None,
                       input_sparse=False, input_ragged=False, input_data=None,
                       call_kwargs=None, expected_output_shape=None, expected_output_dtype=None,
                       expected_output_sparse=False, expected_output_ragged=False,
                       expected_output=None, expected_num_trainable_weights=None,
                       expected_num_non_trainable_weights=None,
                       expected_num_non_trainable_variables=None,
                       expected_num_seed_generators=None, expected_num_losses=None,
                       supports_masking=None, expected_mask_shape=None, custom_objects=None,
                       run_training_check=True, run_mixed_precision_check=True,
                       assert_built_after_instantiation=False, tpu_atol=None, tpu_rtol=None):
        """Checks a layer the way Keras' tests expect every layer to behave.

        Serialization round-trips; building from a shape gives the expected weights; a
        symbolic call gives the expected output shapes and dtypes; an eager call gives the
        expected values and losses; and the layer trains for one step inside a model.
        """
        _check_arguments(input_shape, input_data, expected_output_shape, expected_output,
                         expected_mask_shape, supports_masking)
        init_kwargs = init_kwargs or {}
        call_kwargs = call_kwargs or {}
        has_inputs = input_shape is not None or input_data is not None
        if input_shape is not None and input_dtype is None:
            input_dtype = tree.map_shape_structure(lambda _: "float32", input_shape)
        expected = {"trainable": expected_num_trainable_weights,
                    "non_trainable": expected_num_non_trainable_weights,
                    "non_trainable_variables": expected_num_non_trainable_variables}
        if has_inputs:
            if input_data is None:
                input_data = _eager_inputs(input_shape, input_dtype)
            layer = layer_cls(**init_kwargs)
            _call(layer, input_data, call_kwargs)
            counts = _weight_counts(layer)
            expected = {k: counts[k] if v is None else v for k, v in expected.items()}

        layer = layer_cls(**init_kwargs)
        self.run_class_serialization_test(layer, custom_objects)
        if supports_masking is not None:
            self.assertEqual(layer.supports_masking, supports_masking,
                             msg="Unexpected supports_masking value")
        if not has_inputs:
            return

        build_shape = input_shape if input_shape is not None else tree.map_structure(
            lambda x: tuple(x.shape), input_data)
        layer = layer_cls(**init_kwargs)
        if isinstance(build_shape, dict):
            layer.build(**build_shape)
        else:
            layer.build(build_shape)
        self._assert_built(layer, expected)

        if input_shape is None:
            symbolic_inputs = tree.map_structure(
                lambda x: KerasTensor(tuple(x.shape), dtype=standardize_dtype(x.dtype)),
                input_data)
        else:
            symbolic_inputs = _symbolic_inputs(input_shape, input_dtype)
        layer = layer_cls(**init_kwargs)
        symbolic_outputs = _call(layer, symbolic_inputs, call_kwargs)
        self._assert_built(layer, expected)
        self._assert_outputs(symbolic_outputs, expected_output_shape, expected_output_dtype)
        if expected_mask_shape is not None:
            mask = layer.compute_mask(symbolic_inputs)
            self.assertEqual(expected_mask_shape, mask.shape)
        if assert_built_after_instantiation:
            self._assert_stateless_build(layer_cls, init_kwargs)

        layer = layer_cls(**init_kwargs)
        outputs = _call(layer, input_data, call_kwargs)
        self._assert_outputs(outputs, expected_output_shape, expected_output_dtype)
        if expected_output is not None:
            if isinstance(expected_output, (list, tuple, dict)):
                self.assertEqual(type(expected_output), type(outputs))
            for want, got in zip(tree.flatten(expected_output), tree.flatten(outputs)):
                self.assertAllClose(want, got, msg="Unexpected output value")
        if expected_num_losses is not None:
            self.assertLen(layer.losses, expected_num_losses)
        if run_training_check:
            _train_one_step(layer, input_data, outputs)

    def _assert_built(self, layer, expected):
        self.assertTrue(layer.built)
        counts = _weight_counts(layer)
        messages = {"trainable": "Unexpected number of trainable_weights",
                    "non_trainable": "Unexpected number of non_trainable_weights",
                    "non_trainable_variables": "Unexpected number of non_trainable_variables"}
        for key, want in expected.items():
            if want is not None:
                self.assertEqual(counts[key], want, msg=messages[key])

    def _assert_outputs(self, outputs, expected_shape, expected_dtype):
        if expected_shape is not None:
            matches = tree.map_structure_up_to(outputs, _shape_matches, expected_shape, outputs)
            self.assertTrue(all(tree.flatten(matches)),
                            msg=f"Expected output shapes {expected_shape} but received "
                                f"{tree.map_structure(lambda x: tuple(x.shape), outputs)}")
        if expected_dtype is not None:
            matches = tree.map_structure(
                lambda want, x: want == standardize_dtype(x.dtype), expected_dtype, outputs)
            self.assertTrue(all(tree.flatten(matches)),
                            msg=f"Expected output dtypes {expected_dtype} but received "
                                f"{tree.map_structure(lambda x: x.dtype, outputs)}")

    def _assert_stateless_build(self, layer_cls, init_kwargs):
        layer = layer_cls(**init_kwargs)
        self.assertTrue(layer.built, msg=f"{layer_cls} is stateless, so it should be built "
                                         "after instantiation.")

        class OverriddenBuild(layer_cls):
            def build(self, *args, **kwargs):
                pass

        self.assertFalse(OverriddenBuild(**init_kwargs).built,
                         msg=f"The `build` of {layer_cls} is overridden, so it should not be "
                             "built after instantiation.")


def _check_arguments(input_shape, input_data, expected_output_shape, expected_output,
                     expected_mask_shape, supports_masking):
    if input_shape is not None and input_data is not None:
        raise ValueError("input_shape and input_data cannot be passed at the same time.")
    if expected_output_shape is not None and expected_output is not None:
        raise ValueError("expected_output_shape and expected_output cannot be passed at "
                         "the same time.")
    if expected_output is not None and input_data is None:
        raise ValueError("In order to use expected_output, input_data must be provided.")
    if expected_mask_shape is not None and supports_masking is not True:
        raise ValueError("In order to use expected_mask_shape, supports_masking must be True.")


def _call(layer, inputs, call_kwargs):
    if isinstance(inputs, dict):
        return layer(**inputs, **call_kwargs)
    return layer(inputs, **call_kwargs)


def _weight_counts(layer):
    return {"trainable": len(layer.trainable_weights),
            "non_trainable": len(layer.non_trainable_weights),
            "non_trainable_variables": len(layer.non_trainable_variables)}


def _shape_matches(expected_shape, x):
    shape = tuple(x.shape)
    return len(shape) == len(expected_shape) and all(
        want is None or want == got for want, got in zip(expected_shape, shape))


def _strip_shape_suffix(key):
    return key[: -len("_shape")] if key.endswith("_shape") else key


def _map_shapes_and_dtypes(fn, shape, dtype):
    if isinstance(shape, dict):
        return {_strip_shape_suffix(k): _map_shapes_and_dtypes(fn, v, dtype[k])
                for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and all(isinstance(d, (int, type(None))) for d in shape):
        return fn(tuple(shape), dtype)
    if isinstance(shape, (list, tuple)):
        return type(shape)(_map_shapes_and_dtypes(fn, s, d) for s, d in zip(shape, dtype))
    raise ValueError(f"Cannot map over unknown objects {shape} and {dtype}")


def _symbolic_inputs(input_shape, input_dtype):
    return _map_shapes_and_dtypes(lambda shape, dtype: KerasTensor(shape, dtype=dtype),
                                  input_shape, input_dtype)


def _eager_inputs(input_shape, input_dtype):
    """Random inputs in [0, 3), cast to the requested dtypes (as Keras' tests draw them)."""
    rng = np.random.default_rng(0)

    def make(shape, dtype):
        values = (rng.uniform(size=shape) * 3).astype("float32")
        return Tensor(values.astype(standardize_dtype(dtype)))
    return _map_shapes_and_dtypes(make, input_shape, input_dtype)


def _train_one_step(layer, input_data, output_data):
    """Trains the layer inside a subclassed model for one step with a sum-of-outputs loss."""

    class OneLayerModel(numnet.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, x, training=False):
            return self.inner(x, training=training)

    class SumOfOutputs(numnet.losses.Loss):
        def __call__(self, y_true, y_pred, sample_weight=None):
            return numnet.ops.sum(y_pred)

    model = OneLayerModel(layer)
    model.compile(optimizer="sgd", loss=SumOfOutputs())
    batch = len(tree.flatten(input_data)[0])
    model.fit(input_data, output_data, batch_size=batch, epochs=1, verbose=0, shuffle=False)


def _encode_tuples(value):
    if isinstance(value, tuple):
        return {"__class__": "tuple", "__value__": [_encode_tuples(v) for v in value]}
    if isinstance(value, list):
        return [_encode_tuples(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_tuples(v) for k, v in value.items()}
    return value


def _tuple_hook(obj):
    if "__class__" in obj and "__value__" in obj:
        return tuple(obj["__value__"])
    return obj


def _json_keeping_tuples(value):
    return json.dumps(_encode_tuples(value), sort_keys=True, indent=4)


__all__ = ["TestCase", "backend"]
