"""Bad arguments and bad inputs to the new layers get clear errors (Keras' wording where
Keras has one), naming the layer, the argument and the shapes."""

import numpy as np
import pytest

import numnet as keras

L = keras.layers
X = np.ones((4, 5), dtype="float32")


@pytest.mark.parametrize("factory,error,message", [
    (lambda: L.ReLU(max_value=-1.0), ValueError, "max_value of a ReLU layer"),
    (lambda: L.ReLU(negative_slope=-0.5), ValueError, "negative_slope of a ReLU layer"),
    (lambda: L.ReLU(threshold=None), ValueError, "threshold of a ReLU layer"),
    (lambda: L.LeakyReLU(negative_slope=-0.1), ValueError, "negative_slope value of a Leaky"),
    (lambda: L.Dot(axes="last"), TypeError, "Invalid type for argument `axes`"),
    (lambda: L.Dot(axes=[1, 2, 3]), ValueError, "should contain two elements"),
    (lambda: L.Dot(axes=[1.0, 1]), ValueError, "list elements should be integers"),
    (lambda: L.BatchNormalization(renorm=True, renorm_clipping={"rmux": 1}), ValueError,
     "invalid keys for `renorm_clipping`"),
    (lambda: L.BatchNormalization(renorm=True, renorm_clipping={"rmax": 1, "rmin": 2}),
     ValueError, "rmax should be greater than rmin"),
    (lambda: L.BatchNormalization(renorm=True, renorm_clipping={"dmax": -1}), ValueError,
     "dmax should be non-negative"),
    (lambda: L.LayerNormalization(axis="features"), TypeError, "argument 'axis'"),
    (lambda: L.UnitNormalization(axis=1.5), TypeError, "Invalid value for `axis`"),
    (lambda: L.GaussianNoise(stddev=2.0), ValueError, "stddev=2.0"),
    (lambda: L.GaussianDropout(rate=-0.1), ValueError, "rate=-0.1"),
    (lambda: L.AlphaDropout(rate=1.5), ValueError, "between 0 and 1"),
    (lambda: L.Embedding(0, 2), ValueError, "`input_dim` must be a positive integer"),
    (lambda: L.Embedding(3, 2.5), ValueError, "`output_dim` must be a positive integer"),
    (lambda: L.Embedding(3, 2, lora_rank=2), ValueError, "LoRA"),
    (lambda: L.RepeatVector("3"), TypeError, "Expected an integer value for `n`"),
    (lambda: L.RepeatVector(0), ValueError, "should be a positive integer"),
    (lambda: L.Permute((1, 3)), ValueError, "must be consecutive and start from 1"),
    (lambda: L.CategoryEncoding(), ValueError, "num_tokens must be set"),
    (lambda: L.CategoryEncoding(0), ValueError, "`num_tokens` must be >= 1"),
    (lambda: L.CategoryEncoding(3, output_mode="tf_idf"), ValueError, "Unknown arg for output"),
    (lambda: L.CategoryEncoding(3, sparse=True), ValueError, "sparse=True"),
    (lambda: L.Discretization(), ValueError, "either `num_bins` or `bin_boundaries`"),
    (lambda: L.Discretization(bin_boundaries=[0.0], num_bins=2), ValueError, "Both `num_bins`"),
    (lambda: L.Discretization(num_bins=-1), ValueError, "greater than or equal to 0"),
    (lambda: L.Discretization(num_bins=2, output_mode="bins"), ValueError, "output_mode"),
    (lambda: L.Hashing(0), ValueError, "cannot be `None` or non-positive"),
    (lambda: L.Hashing(3, output_mode="tf_idf"), ValueError, "Invalid value for argument"),
    (lambda: L.Hashing(3, dtype="float32"), ValueError, "should be an integer type"),
    (lambda: L.Hashing(3, salt="pepper"), ValueError, "The `salt` argument"),
    (lambda: L.StringLookup(max_tokens=1), ValueError, "`max_tokens` must be greater than 1"),
    (lambda: L.StringLookup(num_oov_indices=-1), ValueError, "`num_oov_indices` must be"),
    (lambda: L.StringLookup(invert=True, output_mode="one_hot"), ValueError, "when `invert`"),
    (lambda: L.StringLookup(idf_weights=[1.0]), ValueError, "`idf_weights` should only be set"),
    (lambda: L.StringLookup(vocabulary=["a"], output_mode="tf_idf"), ValueError,
     "`idf_weights` argument must also be provided"),
    (lambda: L.StringLookup(vocabulary=["a", "b", "a"]), ValueError, "repeated term"),
    (lambda: L.StringLookup(vocabulary=["a", ""], mask_token=""), ValueError,
     "reserved mask token"),
    (lambda: L.StringLookup(vocabulary=["a", "b", "c"], max_tokens=3), ValueError,
     "larger than the maximum vocab size"),
    (lambda: L.StringLookup(pad_to_max_tokens=True), ValueError, "must set `max_tokens`"),
    (lambda: L.StringLookup(sparse=True, output_mode="one_hot"), ValueError, "sparse"),
    (lambda: L.IntegerLookup(vocabulary_dtype="int32"), ValueError,
     "Only `vocabulary_dtype='int64'`"),
    (lambda: L.IntegerLookup(salt=3), ValueError, "`salt` can only be used"),
    (lambda: L.Lambda(3), ValueError, "must be callable"),
])
def test_bad_constructor_arguments(factory, error, message):
    with pytest.raises(error, match=message):
        factory()


def test_leaky_relu_alpha_is_deprecated_but_accepted():
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        layer = L.LeakyReLU(alpha=0.25)
    assert layer.negative_slope == 0.25


@pytest.mark.parametrize("build,call,message", [
    (lambda: L.PReLU(shared_axes=[3]), X, "shared axis 3 is out of range"),
    (lambda: L.BatchNormalization(axis=3), X, "out of bounds"),
    (lambda: L.LayerNormalization(axis=[1, 4]), X, "out of bounds"),
    (lambda: L.RepeatVector(2), np.ones((2, 3, 4)), "expected ndim=2, found ndim=3"),
    (lambda: L.Permute((2, 1)), X, "expected ndim=3, found ndim=2"),
    (lambda: L.Dot(axes=1), [X, np.ones((4, 6))], "Incompatible input shapes"),
    (lambda: L.Dot(axes=1), X, "list of 2 inputs"),
    (lambda: L.Embedding(3, 2), np.array([[0, 3]]), "index 3 is out of range"),
    (lambda: L.Embedding(3, 2), np.array([[0, -1]]), "index -1 is out of range"),
    (lambda: L.CategoryEncoding(3), np.array([[0, -1]]), "non-negative"),
    (lambda: L.Discretization(num_bins=3), X, "call `adapt"),
    (lambda: L.StringLookup(output_mode="one_hot"), np.array([["a"]]),
     "must set the layer's vocabulary"),
    (lambda: L.StringLookup(vocabulary=["a"], num_oov_indices=0), np.array([["a", "zz"]]),
     "found OOV values"),
])
def test_bad_inputs(build, call, message):
    layer = build()
    with pytest.raises((ValueError, RuntimeError), match=message):
        layer(call)


def test_batch_norm_checks_inputs_after_building():
    layer = L.BatchNormalization()
    layer(X)
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 5"):
        layer(keras.Input(shape=(6,)))
    with pytest.raises(ValueError, match="one dimension less than the inputs"):
        layer(X, mask=np.ones((4, 5), dtype=bool))


def test_gaussian_dropout_rate_one_is_refused_when_training():
    layer = L.GaussianDropout(1.0)
    np.testing.assert_array_equal(layer(X).data, X)
    with pytest.raises(ValueError, match="rate=1"):
        layer(X, training=True)


def test_discretization_adapt_needs_num_bins():
    with pytest.raises(ValueError, match="use `num_bins` instead"):
        L.Discretization(bin_boundaries=[0.0]).adapt(X)


def test_lookup_adapt_after_a_fixed_vocabulary_is_refused():
    with pytest.raises(ValueError, match="after setting a static vocabulary"):
        L.StringLookup(vocabulary=["a"]).adapt(np.array([["a"]]))


def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("red\ngreen\nblue\n")
    layer = L.StringLookup(vocabulary=str(path))
    np.testing.assert_array_equal(layer(np.array([["blue", "red", "pink"]])).data, [[3, 1, 0]])
    assert layer.get_config()["vocabulary"] is None  # as Keras: the file is saved as an asset
    with pytest.raises(ValueError, match="does not exist"):
        L.StringLookup(vocabulary=str(tmp_path / "missing.txt"))


def test_text_reaching_a_dense_layer_says_how_to_encode_it():
    model = keras.Sequential([keras.Input(shape=(2,)), L.Dense(1)])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="StringLookup or Hashing"):
        model.fit(np.array([["a", "b"]] * 4), np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match="must hold numbers"):  # targets stay numeric
        model.fit(np.zeros((4, 2)), np.array(["a", "b", "a", "b"]), verbose=0)
