"""numnet's `ops` against real Keras: the cases of `fixtures/ops_cases.py`, their values,
dtype kinds and gradients (regenerate with `fixtures/generate_reference_ops.py`)."""

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet import GradientTape

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("ops_cases", FIXTURES / "ops_cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)
REFERENCE = np.load(FIXTURES / "reference_ops.npz")
DTYPES = json.loads((FIXTURES / "reference_ops.json").read_text())["dtypes"]


def run(name):
    fn, input_names, differentiable = cases.CASES[name]
    tensors = [keras.ops.convert_to_tensor(cases.INPUTS[n]) for n in input_names]
    with GradientTape() as tape:
        for i in differentiable:
            tape.watch(tensors[i])
        result = fn(keras.ops, *tensors)
        parts = list(result) if isinstance(result, (tuple, list)) else [result]
        total = 0.0
        for i, part in enumerate(parts):
            if np.asarray(part).dtype.kind == "f":
                total = total + keras.ops.sum(
                    part * cases.weights_for(f"{name}/{i}", np.shape(np.asarray(part))))
    grads = tape.gradient(total, [tensors[i] for i in differentiable]) if differentiable else []
    return cases.flat_outputs([np.asarray(p) for p in parts]), grads


# Singular vectors in float32 from two algorithms (LAPACK's gesdd here, TensorFlow's own
# there) agree to about 1.5e-5 relative, the inverse gaps between singular values scaling
# their rounding; every other value agrees to 2e-6.
VALUE_RTOL = {"svd_reduced": 2e-5, "svd_full": 2e-5}
# Gradients through those vectors carry it too (largest difference seen: 2.7e-6).
GRAD_ATOL = {name: 5e-6 for name in ("svd_vectors_grad", "svd_vectors_grad_tall",
                                     "svd_vectors_grad_square")}


# Gradients not compared with Keras on TensorFlow's, for the reason given: finite
# differences check numnet's (tests/autodiff/test_gradients_numpy_ops.py and test_jvp.py).
KERAS_GRADIENT_DIFFERS = {
    "hsv_to_rgb": "TensorFlow registers no gradient for HSVToRGB",
    **{name: "TensorFlow's gradient of its projective transform warps the output gradient "
             "back through the inverse transform: not the derivative of the sampling"
       for name in cases.CASES if name.startswith(("affine_transform",
                                                   "perspective_transform"))},
}


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_values_dtypes_and_gradients_match_keras(name):
    outputs, grads = run(name)
    expected = [REFERENCE[f"{name}/out{i}"] for i in range(len(DTYPES[name]))]
    assert len(outputs) == len(expected)
    for i, (mine, theirs) in enumerate(zip(outputs, expected)):
        assert mine.shape == theirs.shape, f"output {i}"
        # Keras' integers are int32 where NumPy's are int64: the kind must agree.
        assert mine.dtype.kind == np.dtype(DTYPES[name][i]).kind, f"output {i}: {mine.dtype}"
        np.testing.assert_allclose(mine, theirs, rtol=VALUE_RTOL.get(name, 2e-6), atol=1e-6,
                                   err_msg=f"output {i}")
    for j, grad in enumerate(grads):
        if name in KERAS_GRADIENT_DIFFERS:
            continue
        np.testing.assert_allclose(np.asarray(grad), REFERENCE[f"{name}/grad{j}"],
                                   rtol=2e-5, atol=GRAD_ATOL.get(name, 2e-6),
                                   err_msg=f"gradient {j}")


def test_a_keras_file_of_these_ops_loads_and_computes_keras_numbers(tmp_path):
    saved = np.load(FIXTURES / "keras_files" / "ops_numpy.npz")
    model = keras.saving.load_model(FIXTURES / "keras_files" / "ops_numpy.keras")
    outputs = model([saved["a"], saved["b"]])
    assert len(outputs) == len([k for k in saved.files if k.startswith("out")])
    for i, mine in enumerate(outputs):
        theirs = saved[f"out{i}"]
        assert np.asarray(mine).shape == theirs.shape, f"output {i}"
        np.testing.assert_allclose(np.asarray(mine), theirs, rtol=2e-6, atol=1e-6,
                                   err_msg=f"output {i}")
    # numnet's own model of the same ops gives those numbers, and its file reads back.
    built = cases.build_ops_model(keras)
    for i, mine in enumerate(built([saved["a"], saved["b"]])):
        np.testing.assert_allclose(np.asarray(mine), saved[f"out{i}"], rtol=2e-6, atol=1e-6)
    built.save(tmp_path / "ops.keras")
    again = keras.saving.load_model(tmp_path / "ops.keras")
    for mine, theirs in zip(again([saved["a"], saved["b"]]), built([saved["a"], saved["b"]])):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


@pytest.mark.parametrize("name", sorted(cases.METRIC_CASES))
def test_correlation_metrics_match_keras(name):
    mine = np.asarray(cases.METRIC_CASES[name](keras), dtype=np.float64)
    np.testing.assert_allclose(mine, REFERENCE[f"metric/{name}"], rtol=1e-6, atol=1e-7)


def _keras_file(stem):
    """The inputs and outputs Keras saved beside its `.keras` file `stem`, and the model
    numnet loads from that file."""
    saved = np.load(FIXTURES / "keras_files" / f"{stem}.npz")
    inputs = [saved[k] for k in sorted(k for k in saved.files if k.startswith("in"))]
    expected = [saved[f"out{i}"] for i in range(len([k for k in saved.files
                                                     if k.startswith("out")]))]
    return inputs, expected, keras.saving.load_model(FIXTURES / "keras_files" / f"{stem}.keras")


def test_a_keras_file_of_the_matrix_and_integer_ops_loads_and_computes_keras_numbers(
        tmp_path):
    """Keras' `Inv`, `Solve`, `Cholesky`, `Cross`, `Gcd`, ... operations in a `.keras` file
    (`build_matrix_model`) run as numnet's ops, and numnet's own model of them (its shapes
    inferred on identity matrices, since zeros have no inverse) saves and reads back."""
    inputs, expected, model = _keras_file("ops_matrices")
    built = cases.build_matrix_model(keras)
    for candidate in (model, built):
        outputs = candidate(inputs)
        assert len(outputs) == len(expected)
        for i, (mine, theirs) in enumerate(zip(outputs, expected)):
            mine = np.asarray(mine)
            assert mine.shape == theirs.shape and mine.dtype.kind == theirs.dtype.kind, i
            np.testing.assert_allclose(mine, theirs, rtol=2e-6, atol=2e-6, err_msg=f"output {i}")
    built.save(tmp_path / "matrices.keras")
    again = keras.saving.load_model(tmp_path / "matrices.keras")
    for mine, theirs in zip(again(inputs), built(inputs)):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def _operations(path):
    """The (module, class, config without the name) of each layer in a `.keras` file, sorted."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return sorted(json.dumps([layer["module"], layer["class_name"],
                              {k: v for k, v in layer["config"].items() if k != "name"}],
                             sort_keys=True) for layer in config["config"]["layers"])


@pytest.mark.parametrize("stem, build", [("ops_numpy", "build_ops_model"),
                                         ("ops_matrices", "build_matrix_model"),
                                         ("ops_more", "build_more_ops_model")])
def test_numnet_writes_each_operation_as_keras_writes_it(stem, build, tmp_path):
    """Keras reads a numnet file of these models: every operation is saved under Keras' own
    module, class and config (a class Keras does not know would stop its loading)."""
    getattr(cases, build)(keras).save(tmp_path / "mine.keras")
    assert _operations(tmp_path / "mine.keras") == \
        _operations(FIXTURES / "keras_files" / f"{stem}.keras")


def test_a_keras_file_of_the_other_operations_loads_and_computes_keras_numbers(tmp_path):
    """`Tile`, `Logsumexp`, `Celu`, `Moments`, `BatchNorm`, the cross-entropies,
    `Nanquantile`, `DotProductAttention`, `DepthToSpace`, ... (`build_more_ops_model`)."""
    inputs, expected, model = _keras_file("ops_more")
    built = cases.build_more_ops_model(keras)
    projection = np.asarray(keras.ops.sparsemax(inputs[0], axis=-1))
    for candidate in (model, built):
        outputs = [np.asarray(y) for y in candidate(inputs)]
        assert len(outputs) == len(expected)
        for i, (mine, theirs) in enumerate(zip(outputs[:-1], expected[:-1])):
            assert mine.shape == theirs.shape and mine.dtype.kind == theirs.dtype.kind, i
            np.testing.assert_allclose(mine, theirs, rtol=2e-6, atol=2e-6, err_msg=f"output {i}")
        # the last is sparsemax, whose threshold Keras computes wrongly (the README's
        # differences): numnet's is the simplex projection of test_keras_activations.py
        np.testing.assert_array_equal(outputs[-1], projection)
        assert not np.allclose(expected[-1], projection, atol=1e-3)

