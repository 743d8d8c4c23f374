"""The new layers inside the compiled training step: `fit` compiled equals `fit` eager.

Each model is built twice from the same seed and fitted with `jit_compile=True` and
`jit_compile=False`: the weights (moving statistics included) and the History must agree
bit for bit, and the compiled run must really replay a program.
"""

import numpy as np
import pytest

import numnet as keras

L = keras.layers
RNG = np.random.default_rng(7)
X = RNG.normal(size=(96, 6)).astype("float32")
Y = RNG.normal(size=(96, 2)).astype("float32")
IDS = RNG.integers(0, 9, size=(96, 4))
SEQ = np.where(RNG.random((96, 5)) < 0.3, 0, RNG.integers(1, 9, size=(96, 5)))
Y_SEQ = RNG.normal(size=(96, 5, 2)).astype("float32")


def _dense(inner):
    """A factory of Dense(8) -> the layers `inner()` makes -> Dense(2) (fresh layers each time)."""
    return lambda: keras.Sequential([keras.Input(shape=(6,)), L.Dense(8)] + inner() +
                                    [L.Dense(2)])


def _embedding():
    return keras.Sequential([keras.Input(shape=(4,)), L.Embedding(9, 3), L.Flatten(),
                             L.Dense(2)])


def _embedding_mask():
    return keras.Sequential([keras.Input(shape=(5,)), L.Embedding(9, 3, mask_zero=True),
                             L.Dense(4, activation="relu"), L.Dense(2)])


MODELS = {
    "batch_norm": (_dense(lambda: [L.BatchNormalization(momentum=0.9)]), X, Y),
    "batch_norm_renorm": (_dense(lambda: [L.BatchNormalization(renorm=True, renorm_clipping={
        "rmax": 3.0, "dmax": 1.0})]), X, Y),
    "layer_norm": (_dense(lambda: [L.LayerNormalization()]), X, Y),
    "prelu": (_dense(lambda: [L.PReLU(alpha_initializer="ones")]), X, Y),
    "gaussian_noise": (_dense(lambda: [L.GaussianNoise(0.2)]), X, Y),
    "gaussian_dropout": (_dense(lambda: [L.GaussianDropout(0.3)]), X, Y),
    "alpha_dropout": (_dense(lambda: [L.AlphaDropout(0.2), L.ELU()]), X, Y),
    "seeded_noise": (_dense(lambda: [L.GaussianNoise(0.2, seed=4),
                                     L.AlphaDropout(0.1, seed=5)]), X, Y),
    "embedding": (_embedding, IDS, Y),
    "embedding_mask_zero": (_embedding_mask, SEQ, Y_SEQ),
    "masking": (lambda: keras.Sequential([keras.Input(shape=(6,)), L.Masking(mask_value=0.0),
                                          L.Dense(4), L.Dense(2)]),
                np.where(RNG.random((96, 1)) < 0.25, 0.0, X).astype("float32"), Y),
    "softmax_unit_norm": (_dense(lambda: [L.UnitNormalization(), L.Dense(3), L.Softmax()]), X,
                          np.eye(2, dtype="float32")[RNG.integers(0, 2, 96)]),
}


def _fit(name, jit_compile):
    factory, x, y = MODELS[name]
    keras.utils.set_random_seed(11)
    model = factory()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"],
                  jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    return model, history


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compiled_fit_equals_eager_fit(name):
    compiled, compiled_history = _fit(name, True)
    assert compiled.compiled_reason is None
    assert compiled.train_function.programs
    eager, eager_history = _fit(name, False)
    for got, want in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert compiled_history.history == eager_history.history


def test_noise_layers_draw_in_the_compiled_step():
    """A compiled step must draw new noise at each replay, not freeze the first draw."""
    model, _ = _fit("gaussian_noise", True)
    noise = model.layers[1]
    before = [w.copy() for w in model.get_weights()]
    model.fit(X[:16], Y[:16], batch_size=16, epochs=3, verbose=0, shuffle=False)
    outputs = [noise(X[:4], training=True).data for _ in range(2)]
    assert not np.array_equal(outputs[0], outputs[1])
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_batch_norm_moving_statistics_follow_the_keras_update_in_compiled_fit():
    """moving = moving * momentum + batch * (1 - momentum), replayed at every step."""
    keras.utils.set_random_seed(0)
    bn = L.BatchNormalization(momentum=0.5, center=False, scale=False)
    model = keras.Sequential([keras.Input(shape=(6,)), bn])
    model.compile(optimizer="sgd", loss="mse")
    batches = X[:48].reshape(3, 16, 6)
    model.fit(X[:48], X[:48], batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert model.compiled_reason is None and model.train_function.programs
    mean, variance = np.zeros(6), np.ones(6)
    for batch in batches.astype("float64"):
        mean = mean * 0.5 + batch.mean(axis=0) * 0.5
        variance = variance * 0.5 + batch.var(axis=0) * 0.5
    np.testing.assert_allclose(bn.moving_mean.data, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.data, variance, rtol=1e-5, atol=1e-6)


def test_frozen_batch_norm_uses_its_moving_statistics_in_fit():
    keras.utils.set_random_seed(0)
    bn = L.BatchNormalization()
    model = keras.Sequential([keras.Input(shape=(6,)), bn, L.Dense(2)])
    bn.trainable = False
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.data, np.zeros(6, dtype="float32"))
    np.testing.assert_array_equal(bn.moving_variance.data, np.ones(6, dtype="float32"))


def test_preprocessing_layers_in_a_compiled_model_with_string_features():
    cities = RNG.choice(["paris", "lyon", "nice", "lille", "brest"], size=(96, 1))
    codes = RNG.integers(0, 6, size=(96, 1))
    lookup = L.StringLookup(output_mode="one_hot")
    lookup.adapt(cities)
    integer = L.IntegerLookup(output_mode="multi_hot")
    integer.adapt(codes)
    bins = L.Discretization(num_bins=3)
    bins.adapt(X[:, :1])

    def build():
        city = keras.Input(shape=(1,), dtype="string", name="city")
        code = keras.Input(shape=(1,), name="code")
        num = keras.Input(shape=(6,), name="num")
        features = L.Concatenate()([
            lookup(city), L.Hashing(4, output_mode="one_hot")(city), integer(code),
            L.CategoryEncoding(3, output_mode="one_hot")(bins(L.Lambda(lambda t: t[:, :1])(num))),
            L.Rescaling(0.5)(num)])
        return keras.Model([city, code, num], L.Dense(2)(features))

    weights = []
    for jit_compile in (True, False):
        keras.utils.set_random_seed(2)
        model = build()
        model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
        model.fit({"city": cities, "code": codes, "num": X}, Y, batch_size=16, epochs=2,
                  verbose=0)
        if jit_compile:
            assert model.compiled_reason is None and model.train_function.programs
        weights.append(model.get_weights())
    for got, want in zip(*weights, strict=True):
        np.testing.assert_array_equal(got, want)
    assert model.predict({"city": cities, "code": codes, "num": X}, verbose=0).dtype == \
        np.float32


def test_adapting_again_changes_what_a_compiled_model_computes():
    words = np.array([["a"], ["b"], ["a"], ["c"]] * 8)
    lookup = L.StringLookup()
    lookup.adapt(words)
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), lookup])
    first = model.predict(words, verbose=0)
    lookup.adapt(np.array([["c"], ["c"], ["b"], ["a"], ["c"]]))
    second = model.predict(words, verbose=0)
    np.testing.assert_array_equal(second, lookup(words).data)
    assert not np.array_equal(first, second)


def test_text_columns_as_object_arrays_and_bytes_reach_the_lookup():
    words = np.array([["a"], ["b"], ["c"], ["a"]] * 4)
    lookup = L.StringLookup()
    lookup.adapt(words)
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), lookup,
                              L.CategoryEncoding(4, output_mode="one_hot"), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    y = np.ones((16, 1), dtype="float32")
    expected = model.predict(words, verbose=0)
    for data in (words.astype(object), np.char.encode(words, "utf-8")):
        np.testing.assert_array_equal(model.predict(data, verbose=0), expected)
        model.evaluate(data, y, verbose=0)
