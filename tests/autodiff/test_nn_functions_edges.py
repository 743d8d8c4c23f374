"""The ops added with `nn_functions.py` (and `correlate`, `argpartition`, `saturate_cast`,
`nanquantile`, `associative_scan`, `norm`'s matrix orders, `rearrange`, `view`,
`vectorize`) where Keras on TensorFlow is no reference: NumPy's
semantics it lacks, numnet's deliberate difference, properties, errors, and compiled
replays. Their values and gradients against Keras are in `fixtures/ops_cases.py`."""

import importlib.util
import json
import operator
import zipfile
from pathlib import Path

import numpy as np
import pytest

import numnet as keras
from numnet import ops
from numnet.autodiff import Tensor

_spec = importlib.util.spec_from_file_location(
    "gradient_helpers", Path(__file__).with_name("test_gradients.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
check = _helpers.check
RNG = np.random.default_rng(5)


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_correlate_with_the_longer_vector_second_is_numpys(mode):
    # Keras on TensorFlow has no answer here (its convolution needs the longer one first)
    for n, m in ((2, 5), (3, 4), (1, 3), (4, 6)):
        a = RNG.normal(size=n).astype("float32")
        v = RNG.normal(size=m).astype("float32")
        np.testing.assert_allclose(np.asarray(ops.correlate(a, v, mode)),
                                   np.correlate(a.astype("float64"), v.astype("float64"), mode),
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Invalid mode"):
        ops.correlate(a, v, "middle")


def test_saturate_cast_saturates_where_keras_on_tensorflow_overflows():
    # float32 cannot hold 2**31 - 1: the largest float32 below it is the bound (Keras' own
    # comment says so, but on TensorFlow it clips at 2**31 and the cast wraps to -2**31)
    x = np.array([3e9, -3e9, np.inf, -np.inf, 2147483520.0], np.float32)
    np.testing.assert_array_equal(np.asarray(ops.saturate_cast(x, "int32")),
                                  [2147483520, -2147483648, 2147483520, -2147483648,
                                   2147483520])
    np.testing.assert_array_equal(np.asarray(ops.saturate_cast(np.array([70000, -5], "int32"),
                                                               "int16")), [32767, -5])


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_argpartition_puts_the_kth_value_in_place_for_every_kth(axis):
    x = RNG.permutation(24).reshape(4, 6).astype("float32")
    length = x.size if axis is None else x.shape[axis]
    for kth in (0, 2, length - 1, -1, [1, 3]):
        indices = np.asarray(ops.argpartition(x, kth, axis=axis))
        assert indices.dtype == np.int32
        flat = x.ravel() if axis is None else x
        parted = np.take_along_axis(flat, indices.astype(np.int64), 0 if axis is None else axis)
        reference = np.partition(flat, kth, axis=0 if axis is None else axis)
        for k in np.atleast_1d(kth):
            np.testing.assert_array_equal(np.take(parted, k, axis=axis or 0),
                                          np.take(reference, k, axis=axis or 0))
    with pytest.raises(ValueError, match="out of bounds"):
        ops.argpartition(x, length, axis=axis)


def test_nanquantile_of_a_slice_of_nans_only_is_nan_and_has_no_gradient():
    x = np.array([[1.0, np.nan, 3.0, 2.0], [np.nan] * 4], np.float32)
    np.testing.assert_array_equal(np.asarray(ops.nanmedian(x, axis=1)), [2.0, np.nan])
    np.testing.assert_allclose(np.asarray(ops.nanquantile(x, [0.2, 0.9], axis=1)),
                               np.nanquantile(x.astype(np.float64), [0.2, 0.9], axis=1),
                               rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(ops.nanmedian(x, axis=())), x)
    tensor = ops.convert_to_tensor(x)
    with keras.GradientTape() as tape:
        tape.watch(tensor)
        total = ops.sum(ops.nan_to_num(ops.nanmedian(tensor, axis=1)))
    np.testing.assert_array_equal(np.asarray(tape.gradient(total, tensor)),
                                  [[0.0, 0.0, 0.0, 1.0], [0.0] * 4])
    with pytest.raises(ValueError, match="`method` must be one of"):
        ops.nanquantile(x, 0.5, method="closest")


def test_attention_with_one_key_head_serves_every_query_head():
    query = RNG.normal(size=(2, 3, 4, 8)).astype("float32")
    key = RNG.normal(size=(2, 5, 1, 8)).astype("float32")
    value = RNG.normal(size=(2, 5, 1, 8)).astype("float32")
    repeated = ops.dot_product_attention(query, np.repeat(key, 4, 2), np.repeat(value, 4, 2))
    np.testing.assert_array_equal(np.asarray(ops.dot_product_attention(query, key, value)),
                                  np.asarray(repeated))
    logits = np.einsum("btnh,bsnh->bnts", query, np.repeat(key, 4, 2)) / np.sqrt(8)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(repeated),
                               np.einsum("bnts,bsnh->btnh", probs, np.repeat(value, 4, 2)),
                               rtol=1e-5, atol=1e-6)


def test_attention_errors():
    q = np.zeros((2, 3, 4, 8), np.float32)
    with pytest.raises(ValueError, match="only supports 4D inputs"):
        ops.dot_product_attention(q[0], q[0], q[0])
    with pytest.raises(ValueError, match="not a multiple"):
        ops.dot_product_attention(q, q[:, :, :3], q[:, :, :3])
    with pytest.raises(ValueError, match="flash attention"):
        ops.dot_product_attention(q, q, q, flash_attention=True)
    with pytest.raises(ValueError, match="attn_logits_soft_cap"):
        ops.dot_product_attention(q, q, q, attn_logits_soft_cap=30.0)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_space_to_depth_and_back_is_the_identity(data_format):
    x = RNG.normal(size=(2, 6, 4, 4)).astype("float32")
    there = ops.space_to_depth(x, 2, data_format)
    np.testing.assert_array_equal(np.asarray(ops.depth_to_space(there, 2, data_format)), x)
    with pytest.raises(ValueError, match="multiples of block_size 3"):
        ops.space_to_depth(x, 3, data_format)
    with pytest.raises(ValueError, match="`block_size` must be at least 2"):
        ops.depth_to_space(x, 1, data_format)
    with pytest.raises(ValueError, match="block_size\\*\\*2 = 4"):
        ops.depth_to_space(np.zeros((1, 2, 2, 6), np.float32), 2)


def test_extract_sequences_shorter_than_one_window_and_errors():
    assert np.asarray(ops.extract_sequences(np.zeros((2, 3), np.float32), 4, 1)).shape == \
        (2, 0, 4)
    np.testing.assert_array_equal(np.asarray(ops.extract_sequences(np.arange(7.0), 3, 2)),
                                  [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    with pytest.raises(ValueError, match="must be positive"):
        ops.extract_sequences(np.zeros(5), 0, 1)


def test_psnr_needs_matching_shapes_and_associative_scan_a_callable():
    with pytest.raises(ValueError, match="must match for PSNR"):
        ops.psnr(np.zeros((2, 3)), np.zeros((3, 2)), 1.0)
    with pytest.raises(TypeError, match="should be a callable"):
        ops.associative_scan(3, np.zeros(4))
    with pytest.raises(ValueError, match="same first dimension"):
        ops.associative_scan(operator.add, [np.zeros(4), np.zeros(5)])


def test_a_layer_of_the_new_ops_trains_compiled_with_the_eager_numbers():
    """Attention, a sequence window, a running sum and a NaN-ignoring median in one layer:
    the compiled step replays them with the eager numbers."""

    class Mixer(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 32), initializer="glorot_uniform")

        def call(self, x):
            h = ops.reshape(ops.matmul(x, self.w), (-1, 4, 2, 4))
            h = ops.dot_product_attention(h, h, h, is_causal=True)
            windows = ops.extract_sequences(ops.reshape(h, (-1, 32)), 8, 8)
            running = ops.associative_scan(operator.add, windows, axis=1)
            return ops.nanmedian(running, axis=-1)

    x = RNG.normal(size=(24, 5)).astype("float32")
    y = RNG.normal(size=(24, 4)).astype("float32")
    results = []
    for jit in (True, False):
        keras.utils.set_random_seed(2)
        model = keras.Sequential([keras.Input((5,)), Mixer()])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        results.append((model.get_weights()[0], history.history["loss"]))
        if jit:
            assert model.train_function.programs and model.compiled_reason is None
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)


def test_matrix_norms_on_any_two_axes_and_the_orders_numpy_refuses():
    # (Keras on TensorFlow fails on the nuclear norm over axes (2, 0) with keepdims)
    x = RNG.random((3, 4, 5)).astype("float32")
    for ord in (2, -2, "nuc", "fro", 1, -1, np.inf, -np.inf):
        for keepdims in (False, True):
            np.testing.assert_allclose(
                np.asarray(ops.norm(x, ord=ord, axis=(2, 0), keepdims=keepdims)),
                np.linalg.norm(x.astype(np.float64), ord=ord, axis=(2, 0), keepdims=keepdims),
                rtol=2e-6, err_msg=f"ord={ord} keepdims={keepdims}")
    for bad in ({"ord": 0, "axis": (0, 1)}, {"ord": 3, "axis": (1, 2)},
                {"ord": "fro", "axis": 0}, {"ord": "nuc", "axis": 1}, {"axis": 3},
                {"axis": (1, 1)}):
        with pytest.raises(ValueError, match="Invalid norm order|out of bounds or repeated"):
            ops.norm(x, **bad)


def test_rearrange_errors_and_its_lengths_travel_as_keras_writes_them(tmp_path):
    x = np.arange(24.0, dtype="float32").reshape(2, 3, 4)
    for pattern, kwargs, message in [
            ("a b -> b a", {}, "names 2 axes; the tensor has 3"),
            ("a b c -> a b", {}, "same axes, each once"),
            ("a (b b2 b3) c -> a b b2 b3 c", {}, "all but one of its axes"),
            ("a (b b2) c -> a b b2 c", {"b2": 2}, "does not split"),
            ("a b ... -> a b", {}, "no '...'"),
            ("a b c", {}, "input axes -> output axes")]:
        with pytest.raises(ValueError, match=message):
            ops.rearrange(x, pattern, **kwargs)
    np.testing.assert_array_equal(np.asarray(ops.rearrange(x, "a b (c c2) -> (a c2) b c", c2=2)),
                                  x.reshape(2, 3, 2, 2).transpose(0, 3, 1, 2).reshape(4, 3, 2))
    inputs = keras.Input((3, 4))
    model = keras.Model(inputs, ops.rearrange(inputs, "b h (w w2) -> b (h w2) w", w2=2))
    model.save(tmp_path / "rearrange.keras")
    again = keras.saving.load_model(tmp_path / "rearrange.keras")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))
    with zipfile.ZipFile(tmp_path / "rearrange.keras") as archive:
        layers = json.loads(archive.read("config.json"))["config"]["layers"]
    # Keras' Rearrange takes the lengths when called: in the node, not in its config
    assert layers[1]["class_name"] == "Rearrange" and set(layers[1]["config"]) == {"name"}
    assert layers[1]["inbound_nodes"][0]["kwargs"] == {"w2": 2}


def test_view_keeps_the_bytes_and_refuses_a_size_that_does_not_divide():
    x = np.array([[1.5, -2.0, 3.25]], np.float32)
    np.testing.assert_array_equal(np.asarray(ops.view(x, "int32")), x.view(np.int32))
    np.testing.assert_array_equal(np.asarray(ops.view(ops.view(x, "uint8"), "float32")), x)
    with pytest.raises(ValueError, match="not divisible by the new itemsize"):
        ops.view(np.zeros(3, np.int16), "int32")


@pytest.mark.parametrize("signature, shapes, function", [
    (None, [(3, 1), (4,)], lambda p, q: p * q + ops.sin(p)),
    ("(n)->()", [(2, 3, 5)], lambda v: ops.sum(v * v)),
    ("(m,n),(n)->(m)", [(2, 3, 4), (4,)], lambda m, v: ops.matmul(m, v)),
    ("(n),(n)->(),(n)", [(3, 4), (1, 4)], lambda a, b: (ops.sum(a * b), a - b)),
])
def test_vectorize_maps_the_loop_axes_as_numpy_and_differentiates(signature, shapes, function):
    # (Keras on TensorFlow has no vectorize: NumPy's, which Keras' NumPy backend calls, is the
    # reference; the gradients are checked by central differences)
    arrays = [RNG.normal(size=s) for s in shapes]
    mine = ops.vectorize(function, signature=signature)(*arrays)
    def on_arrays(*values):
        out = function(*[Tensor(np.asarray(v), dtype="float64") for v in values])
        return tuple(np.asarray(r) for r in out) if isinstance(out, tuple) else np.asarray(out)

    numpy_fn = np.vectorize(on_arrays, signature=signature)
    theirs = numpy_fn(*arrays)
    for m, t in zip(mine if isinstance(mine, tuple) else [mine],
                    theirs if isinstance(theirs, tuple) else [theirs]):
        np.testing.assert_allclose(np.asarray(m), t, rtol=1e-12)
    def flat(*values):
        out = ops.vectorize(function, signature=signature)(*values)
        return ops.concatenate([ops.reshape(r, (-1,)) for r in
                                (out if isinstance(out, tuple) else (out,))], 0)
    check(flat, *arrays, rtol=1e-6)


def test_vectorize_keeps_excluded_arguments_whole_and_checks_its_signature():
    power = ops.vectorize(lambda x, p: x ** p, excluded={1})
    np.testing.assert_array_equal(np.asarray(power(np.array([1.0, 2.0, 3.0]), 2)), [1, 4, 9])
    norms = ops.vectorize(lambda v: ops.sum(v), signature="(n)->()")
    with pytest.raises(ValueError, match="not a valid signature"):
        ops.vectorize(lambda v: v, signature="n->()")(np.ones(3))
    with pytest.raises(ValueError, match="core axis 'n' is 3 and 4"):
        ops.vectorize(lambda a, b: a, signature="(n),(n)->(n)")(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="has 1 inputs; 2 arguments"):
        norms(np.ones(3), np.ones(3))



def test_i0_and_its_derivative_i1_match_scipy_across_their_range():
    import scipy.special as scipy_special  # a test dependency
    x = np.concatenate([np.linspace(-40.0, 40.0, 801), [0.0, 29.999, 30.0, 30.001, 300.0]])
    tensor = Tensor(x, dtype="float64")
    with keras.GradientTape() as tape:
        tape.watch(tensor)
        values = ops.i0(tensor)
        total = ops.sum(values)
    np.testing.assert_allclose(np.asarray(values), scipy_special.i0(x), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(tape.gradient(total, tensor)), scipy_special.i1(x),
                               rtol=5e-15)  # i1: a series to 30, an asymptotic expansion beyond
    # second derivatives: i0'' = i1' = i0 - i1 / x (1/2 at 0), by central differences
    check(lambda t: keras.ops.sum(keras.ops.i0(t)), np.array([0.0, 0.7, -2.5, 12.0]))
    points = Tensor(np.array([0.0, 0.7, -2.5, 12.0]))
    with keras.GradientTape() as outer:
        outer.watch(points)
        with keras.GradientTape() as inner:
            inner.watch(points)
            total = ops.sum(ops.i0(points))
        first = inner.gradient(total, points)
        score = ops.sum(first)
    second = np.asarray(outer.gradient(score, points))
    x = np.asarray(points)
    expected = np.where(x == 0, 0.5, scipy_special.i0(x) - scipy_special.i1(x) /
                        np.where(x == 0, 1.0, x))
    np.testing.assert_allclose(second, expected, rtol=1e-13)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 4), (3, 2, 3)])
def test_lu_factor_is_scipys_and_rebuilds_the_matrix(shape):
    # (Keras on TensorFlow gives another pivot format and refuses non-square matrices: its
    # JAX and NumPy backends give scipy's, the reference here)
    import scipy.linalg as scipy_linalg  # a test dependency
    x = RNG.normal(size=shape)
    lu, pivots = ops.lu_factor(Tensor(x, dtype="float64"))
    lu, pivots = np.asarray(lu), np.asarray(pivots)
    assert pivots.dtype == np.int32 and pivots.shape == shape[:-2] + (min(shape[-2:]),)
    for index in np.ndindex(shape[:-2]):
        their_lu, their_pivots = scipy_linalg.lu_factor(x[index])
        np.testing.assert_allclose(lu[index], their_lu, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(pivots[index], their_pivots)
        m, n = shape[-2:]
        lower = np.tril(lu[index][:, :min(m, n)], -1) + np.eye(m, min(m, n))
        rebuilt = lower @ np.triu(lu[index][:min(m, n)])
        for j in reversed(range(min(m, n))):  # undo the row swaps, last first
            rebuilt[[j, pivots[index][j]]] = rebuilt[[pivots[index][j], j]]
        np.testing.assert_allclose(rebuilt, x[index], atol=1e-12)
    tensor = Tensor(x, dtype="float64")
    with keras.GradientTape() as tape:
        tape.watch(tensor)
        total = ops.sum(ops.lu_factor(tensor)[0])
    with pytest.raises(NotImplementedError, match="lu_factor has no gradient"):
        tape.gradient(total, tensor)


def test_rfft_and_irfft_cut_their_input_as_numpy_and_differentiate():
    # (Keras on TensorFlow computes these values but fails on their gradients)
    x = RNG.normal(size=(3, 6))
    real, imag = ops.rfft(Tensor(x, dtype="float64"), 4)
    np.testing.assert_allclose(np.asarray(real) + 1j * np.asarray(imag), np.fft.rfft(x, 4),
                               rtol=1e-12, atol=1e-12)
    check(lambda t: ops.concatenate(list(ops.rfft(t, 4)), -1), x, rtol=1e-6)
    spectrum = np.fft.rfft(x)  # 4 bins: an irfft of length 5 reads 3 of them
    back = ops.irfft((Tensor(spectrum.real, dtype="float64"),
                      Tensor(spectrum.imag, dtype="float64")), 5)
    np.testing.assert_allclose(np.asarray(back), np.fft.irfft(spectrum, 5), rtol=1e-12,
                               atol=1e-12)
    check(lambda a, b: ops.irfft((a, b), 5), spectrum.real, spectrum.imag, rtol=1e-6)


def test_istft_inverts_stft_and_the_transforms_check_their_inputs():
    signal = RNG.normal(size=(2, 50))
    for window, sequence, stride, length in (("hann", 8, 4, 16), ("hamming", 8, 2, 8),
                                             (None, 8, 8, 8)):
        spectrum = ops.stft(Tensor(signal, dtype="float64"), sequence, stride, length,
                            window=window)
        back = ops.istft(spectrum, sequence, stride, length, length=50, window=window)
        # (the first and last samples have fewer frames over them than the window
        # normalization assumes, in TensorFlow's inverse_stft too: they are left out)
        np.testing.assert_allclose(np.asarray(back)[:, 8:40], signal[:, 8:40], rtol=1e-10,
                                   atol=1e-10)
    with pytest.raises(ValueError, match="tuple of two tensors"):
        ops.fft(np.ones(4))
    with pytest.raises(ValueError, match="same shape"):
        ops.fft2((np.ones((2, 2)), np.ones((2, 3))))
    with pytest.raises(TypeError, match="Expected `float32` or `float64`"):
        ops.stft(np.ones(10, "int32"), 4, 2, 4)
    with pytest.raises(ValueError, match="must equal or larger than"):
        ops.stft(np.ones(10, "float32"), 4, 2, 3)
    with pytest.raises(ValueError, match='one of `"hann"`'):
        ops.stft(np.ones(10, "float32"), 4, 2, 4, window="blackman")
    with pytest.raises(ValueError, match="must be equal to \\[sequence_length\\]"):
        ops.stft(np.ones(10, "float32"), 4, 2, 4, window=np.ones(3))


def test_convolutions_and_pools_channels_first_are_the_transposed_channels_last():
    # (TensorFlow's CPU convolutions refuse channels_first: the property is the reference)
    x = RNG.normal(size=(2, 7, 6, 4))
    kernel = RNG.normal(size=(3, 2, 4, 5))
    first = np.transpose(x, (0, 3, 1, 2))
    for op in (lambda t, f: ops.conv(t, kernel, 2, "same", data_format=f),
               lambda t, f: ops.depthwise_conv(t, kernel[..., :2], 1, "valid", data_format=f),
               lambda t, f: ops.max_pool(t, (2, 3), 1, "same", data_format=f),
               lambda t, f: ops.average_pool(t, 2, None, "same", data_format=f)):
        last = np.asarray(op(Tensor(x, dtype="float64"), "channels_last"))
        np.testing.assert_allclose(
            np.asarray(op(Tensor(first, dtype="float64"), "channels_first")),
            np.transpose(last, (0, 3, 1, 2)), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="empty output"):
        ops.conv(np.ones((1, 2, 2, 1), "float32"), np.ones((3, 3, 1, 1), "float32"))
    with pytest.raises(ValueError, match="do not split into groups"):
        ops.conv(np.ones((1, 5, 5, 3), "float32"), np.ones((3, 3, 2, 4), "float32"))
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        ops.max_pool(np.ones((1, 4, 4, 1), "float32"), 2, padding="full")


def test_conv_transpose_and_fold_refuse_what_has_no_convolution_behind_it():
    x = np.ones((1, 4, 4, 2), "float32")
    with pytest.raises(ValueError, match="smaller than the stride 1"):
        ops.conv_transpose(x, np.ones((3, 3, 5, 2), "float32"), output_padding=1)
    with pytest.raises(ValueError, match=r"must be \(\*window, output_channels, 2\)"):
        ops.conv_transpose(x, np.ones((3, 3, 5, 3), "float32"))
    with pytest.raises(ValueError, match="fold expects a 3D input of blocks"):
        ops.fold(np.ones((1, 5, 4), "float32"), (3, 3), 2)
    # fold is unfold's adjoint: <unfold(a), b> == <a, fold(b)>
    a, b = RNG.normal(size=(2, 3, 5, 4)), RNG.normal(size=(2, 12, 9))
    left = np.sum(np.asarray(ops.unfold(Tensor(a, dtype="float64"), 2, padding=1, stride=2)) * b)
    right = np.sum(a * np.asarray(ops.fold(Tensor(b, dtype="float64"), (5, 4), 2, padding=1,
                                           stride=2)))
    np.testing.assert_allclose(left, right, rtol=1e-12)


def test_ctc_loss_without_any_alignment_is_infinite():
    logits = np.zeros((2, 3, 4), "float32")  # three steps cannot spell 1, 1, 1 (5 needed)
    tensor = ops.convert_to_tensor(logits)
    with keras.GradientTape() as tape:
        tape.watch(tensor)
        loss = ops.ctc_loss(np.array([[1, 1, 1], [1, 2, 0]]), tensor, np.array([3, 2]),
                            np.array([3, 3]))
        total = ops.sum(ops.where(ops.isinf(loss), 0.0, loss))
    assert np.isinf(np.asarray(loss)[0]) and np.isfinite(np.asarray(loss)[1])  # (TF: ~709)
    gradient = np.asarray(tape.gradient(total, tensor))
    np.testing.assert_array_equal(gradient[0], 0.0)
    assert np.abs(gradient[1]).sum() > 0
    with pytest.raises(ValueError, match="Invalid strategy"):
        ops.ctc_decode(logits, np.array([3]), strategy="best")


def _every_labelling(log_probs, blank):
    """Each label sequence's log-probability, summed over all its alignments (brute force)."""
    import itertools

    steps, classes = log_probs.shape
    found = {}
    for alignment in itertools.product(range(classes), repeat=steps):
        merged = [c for i, c in enumerate(alignment) if i == 0 or c != alignment[i - 1]]
        labels = tuple(c for c in merged if c != blank)
        score = sum(log_probs[t, c] for t, c in enumerate(alignment))
        found[labels] = np.logaddexp(found.get(labels, -np.inf), score)
    return found


@pytest.mark.parametrize("blank", [0, 2])
def test_a_beam_wide_enough_finds_the_exact_best_labellings(blank):
    logits = RNG.normal(size=(2, 5, 3)) * 1.5
    lengths = np.array([5, 3])
    decoded, scores = ops.ctc_decode(logits, lengths, strategy="beam_search", beam_width=50,
                                     top_paths=3, mask_index=blank)
    decoded, scores = np.asarray(decoded), np.asarray(scores)
    assert decoded.shape == (3, 2, 5) and decoded.dtype == np.int32 and scores.shape == (2, 3)
    for sample, length in enumerate(lengths):
        shifted = logits[sample, :length] - logits[sample, :length].max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        exact = sorted(_every_labelling(log_probs, blank).items(), key=lambda kv: -kv[1])[:3]
        for path, (labels, score) in enumerate(exact):
            row = decoded[path, sample]
            assert tuple(row[row >= 0]) == labels and np.all(row[len(labels):] == -1)
            np.testing.assert_allclose(scores[sample, path], score, rtol=1e-6)


def test_beam_search_pads_missing_paths_and_checks_its_arguments():
    logits = np.array([[[0.3, 1.0]]], "float32")  # one step, one label: "" and "1" only
    decoded, scores = ops.ctc_decode(logits, np.array([1]), strategy="beam_search",
                                     beam_width=3, top_paths=3)
    np.testing.assert_array_equal(np.asarray(decoded)[:, 0, 0], [1, -1, -1])
    assert np.isfinite(np.asarray(scores)[0, :2]).all() and np.asarray(scores)[0, 2] == -np.inf
    with pytest.raises(ValueError, match="top_paths between 1 and beam_width"):
        ops.ctc_decode(logits, np.array([1]), strategy="beam_search", beam_width=2,
                       top_paths=3)
    with pytest.raises(ValueError, match="sequence_lengths"):
        ops.ctc_decode(logits, np.array([1, 1]), strategy="beam_search")


def test_normalization_ops_warn_check_and_keep_float16_finite():
    x = np.arange(5, dtype="float32")
    with pytest.warns(UserWarning, match="rms_scaling=True`, which is deprecated"):
        scaled = ops.layer_normalization(x, rms_scaling=True)
    np.testing.assert_allclose(np.asarray(scaled), x / np.sqrt(x.var() + 1e-7), rtol=1e-6)
    with pytest.raises(ValueError, match="`offset` must be a vector of length"):
        ops.batch_normalization(np.ones((2, 3, 4, 5), "float32"), np.ones(5), np.ones(5),
                                axis=-1, offset=np.ones(3), scale=np.ones(5))
    mean, variance = ops.moments(np.array([-741.0, 1099.0, -1807.0, 502.8], "float16"), [0])
    assert np.asarray(mean).dtype == np.float16 and np.asarray(variance) == np.float16(65504)
