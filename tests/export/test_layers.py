"""Export round trips of the layers of issue 14 beyond the Keras reference cases, and masks.

Masks: as in Keras, where a layer uses a mask (a Lambda or Softmax given one, pooling over
an Embedding's `mask_zero`), that arithmetic is part of the traced forward pass, hence of
the export; the masks themselves are not outputs (Keras' own SavedModel export returns
only the model's outputs too), and losses and metrics, which read them, are not exported.
"""

import numpy as np
import pytest

import numnet as keras
from numnet import ops
from numnet.export import ExportError, export_model, load
from export_cases import INTEGER_INPUT_CASES, LAYER_CASES
from export_helpers import export_and_compare, require_onnx

L = keras.layers


@pytest.mark.filterwarnings("ignore:`x` contains")  # NaN and inf inputs, on purpose
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_round_trip(case, tmp_path):
    model, x = LAYER_CASES[case]()
    export_and_compare(model, x, tmp_path,
                       reference="call" if case in INTEGER_INPUT_CASES else "predict")


# ------------------------------------------------------------------ masks
# (a Lambda reading a mask does not pass it on, and says so, as in Keras)
pytestmark = pytest.mark.filterwarnings("ignore:.*does not support masking")

def _masked_mean(x, mask):
    weights = ops.cast(ops.expand_dims(mask, -1), x.dtype)
    return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)


def _sequence_model():
    ids = keras.Input(shape=(5,), dtype="int64", name="ids")
    embedded = L.Embedding(8, 3, mask_zero=True)(ids)
    pooled = L.Lambda(lambda x, mask: _masked_mean(x, mask), output_shape=(3,))(embedded)
    return keras.Model(ids, L.Dense(2)(pooled))


def _sequence_ids():
    ids = np.random.default_rng(3).integers(1, 8, (6, 5))
    ids[:, 3:] = 0  # padding
    ids[0] = 0      # all padding
    return ids


def test_a_mask_a_layer_uses_is_inside_the_export(tmp_path):
    model, ids = _sequence_model(), _sequence_ids()
    exported = export_and_compare(model, ids, tmp_path, reference="call")
    # the padding changes nothing: the mask reached the pooling in the exported graph too
    longer = np.where(ids == 0, 0, ids)
    longer[:, 3:] = 0
    same = exported["onnx"].predict(longer)["output_0"]
    np.testing.assert_allclose(same, exported["onnx"].predict(ids)["output_0"], rtol=1e-6)
    unmasked = keras.Model(model.inputs, model.layers[-1](
        L.Lambda(lambda x: ops.mean(x, axis=1))(model.layers[1](model.inputs[0]))))
    assert not np.allclose(unmasked(ids).numpy(), model(ids).numpy())  # the mask matters


def test_masking_then_dense_exports_the_outputs_and_no_mask(tmp_path):
    rows = keras.Input(shape=(4, 3), name="rows")
    masked = L.Masking(mask_value=0.0)(rows)
    summed = L.Lambda(lambda x, mask: ops.sum(
        x * ops.cast(ops.expand_dims(mask, -1), x.dtype), axis=1), output_shape=(3,))(masked)
    model = keras.Model(rows, [L.Dense(2)(masked), L.Dense(1)(summed)])
    x = np.random.default_rng(4).standard_normal((5, 4, 3)).astype("float32")
    x[:, 2] = 0.0
    x[1] = 0.0
    exported = export_and_compare(model, x, tmp_path)
    for loaded in exported.values():
        assert loaded.output_names == ("output_0", "output_1")  # no mask outputs


def test_softmax_with_a_mask_input(tmp_path):
    scores, keep = keras.Input(shape=(5,), name="scores"), keras.Input(
        shape=(5,), dtype="bool", name="keep")
    model = keras.Model([scores, keep], L.Softmax()(scores, mask=keep))
    rng = np.random.default_rng(5)
    x = [rng.standard_normal((6, 5)).astype("float32"), rng.random((6, 5)) < 0.6]
    exported = export_and_compare(model, x, tmp_path, reference="call")
    probabilities = exported["onnx"].predict({"scores": x[0], "keep": x[1]})["output_0"]
    assert np.all(probabilities[~x[1]] == 0)


# ------------------------------------------------------------------ what ONNX refuses
def test_string_lookup_of_numbers_is_refused_by_onnx(tmp_path):
    require_onnx()
    codes = keras.Input(shape=(2,), dtype="int64", name="codes")
    model = keras.Model(codes, L.StringLookup(vocabulary=["1", "2"], name="words")(codes))
    with pytest.raises(ExportError, match=r"layer 'words' \(StringLookup\) uses the op "
                                          r"'index_lookup', because its input is int64"):
        export_model(model, tmp_path / "m.onnx", format="onnx", verbose=False)
    export_and_compare(model, np.int64([[1, 2], [3, 1]]), tmp_path, formats=("numpy",),
                       reference="call")


def test_ids_numnet_refuses_are_refused_by_the_exports(tmp_path):
    require_onnx()
    model = keras.Sequential([L.Input(shape=(2,), dtype="int64"), L.Embedding(4, 2)])
    for format_name, path in (("onnx", tmp_path / "m.onnx"), ("numpy", tmp_path / "m")):
        export_model(model, path, format=format_name, verbose=False)
        exported = load(path)
        for bad in (-1, 4):
            with pytest.raises(Exception, match="out of"):
                exported.predict(np.int64([[0, bad]]))


def test_a_lookup_without_oov_indices_cannot_be_traced_on_sample_tokens(tmp_path):
    """The trace calls the model on sample inputs ("" and 0): a vocabulary without them and
    no OOV index refuses them, and the error says so."""
    words = keras.Input(shape=(1,), dtype="string", name="words")
    model = keras.Model(words, L.StringLookup(vocabulary=["a"], num_oov_indices=0)(words))
    with pytest.raises(ExportError, match="all inputs should be in vocabulary"):
        export_model(model, tmp_path / "m", format="numpy", verbose=False)


def test_string_inputs_take_str_or_utf8_bytes(tmp_path):
    require_onnx()
    words = keras.Input(shape=(2,), dtype="string", name="words")
    model = keras.Model(words, L.StringLookup(vocabulary=["élan", "b"])(words))
    text = np.array([["élan", "b"], ["c", "élan"]])
    want = model(text).numpy()
    for format_name, path in (("onnx", tmp_path / "m.onnx"), ("numpy", tmp_path / "m")):
        export_model(model, path, format=format_name, verbose=False)
        exported = load(path)
        for x in (text, np.char.encode(text, "utf-8"), text.astype(object)):
            np.testing.assert_array_equal(exported.predict(x)["output_0"], want)


class KeepsABatchMean(L.Layer):
    """Notes a statistic that divides by the batch size (as activity regularizers do), and
    returns its input scaled: only the returned value is part of the forward pass."""

    def call(self, inputs):
        self.noted = ops.sum(inputs) * (1.0 / inputs.shape[0])
        used = inputs * (1.0 / inputs.shape[0]) if self.use_it else inputs
        return used * 2.0


@pytest.mark.parametrize("use_it", [False, True])
def test_batch_dependent_values_only_matter_when_an_output_needs_them(use_it, tmp_path):
    layer = KeepsABatchMean(name="keeps")
    layer.use_it = use_it
    model = keras.Sequential([L.Input(shape=(3,)), L.ActivityRegularization(l1=0.1),
                              layer, L.Dense(2)])
    x = np.random.default_rng(6).standard_normal((4, 3)).astype("float32")
    if not use_it:
        export_and_compare(model, x, tmp_path, formats=("numpy",))
        return
    with pytest.raises(ExportError, match=r"layer 'keeps' \(KeepsABatchMean\) reads a Python "
                                          "value that changes between calls"):
        export_model(model, tmp_path / "m", format="numpy", verbose=False)
