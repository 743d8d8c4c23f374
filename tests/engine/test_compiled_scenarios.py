"""Compiled steps against eager ones (`jit_compile=False`) in the situations a Keras user
meets around `fit`: layers frozen between fits or in a callback, optimizer settings and
weights changed mid-fit, two models sharing layers trained in turn, BatchNormalization,
clipping, EMA, gradient accumulation, schedules, recompiling, the one-batch forms,
Sequential `pop`/`add`, masks, dict inputs and outputs, generators and `PyDataset`s,
custom losses, metrics and `add_loss`, constraints, `from_logits`, EarlyStopping.

Each scenario runs twice from the same seed
the weights and the History must be equal
bit for bit, and the compiled run must have replayed its steps (not fallen back)."""

import warnings

import numpy as np
import pytest

import numnet as keras
from numnet.engine.plan import Program

RNG = np.random.default_rng(0)
X = RNG.normal(size=(203, 6)).astype("float32")
Y = (X[:, :1] * 2 + X[:, 1:2]).astype("float32")
YC = (X[:, 0] > 0).astype("int64")
L = keras.layers
T = RNG.integers(1, 20, size=(203, 7))
T[:, 5:] = 0


def _stack(*layers):
    """A Sequential model of `layers` on 6 input features."""
    return keras.Sequential([keras.Input((6,)), *layers])


def mlp(jit, **kw):
    m = _stack(L.Dense(8, activation="tanh"), L.Dense(1))
    m.compile(
        optimizer=kw.get("opt", "adam"),
        loss="mse",
        jit_compile=jit,
        metrics=kw.get("metrics"))
    return m


def out(m, h=None):
    vals = list(m.get_weights())
    if h is not None:
        for k, v in sorted(h.history.items()):
            vals.append(np.array(v))
    return vals


def s_freeze_between_fits(jit):
    m = mlp(jit)
    m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    m.layers[0].trainable = False
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


class FreezeCB(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.model.layers[0].trainable = False


def s_freeze_in_callback(jit):
    m = mlp(jit)
    h = m.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[FreezeCB()])
    return out(m, h)


class Beta(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 3:
            self.model.optimizer.beta_1 = 0.5


def s_beta_change(jit):
    m = mlp(jit)
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[Beta()])
    return out(m, h)


def s_batch_sizes(jit):
    m = mlp(jit)
    m.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    m.fit(X, Y, epochs=2, batch_size=50, verbose=0)
    return out(m) + [m.evaluate(X, Y, batch_size=7, verbose=0), m.predict(X[:13], verbose=0)]


class Assign(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            k = self.model.layers[0].kernel
            k.assign(np.asarray(k) * 0.5)


def s_assign_cb(jit):
    m = mlp(jit)
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[Assign()])
    return out(m, h)


def s_gan_shared(jit):
    shared = L.Dense(4, activation="relu")
    a_in = keras.Input((6,))
    a = keras.Model(a_in, L.Dense(1)(shared(a_in)))
    b_in = keras.Input((6,))
    b = keras.Model(b_in, L.Dense(1)(shared(b_in)))
    a.compile("sgd", "mse", jit_compile=jit)
    b.compile("adam", "mse", jit_compile=jit)
    for i in range(3):
        a.fit(X, Y, epochs=1, batch_size=32, verbose=0)
        b.fit(X, -Y, epochs=1, batch_size=32, verbose=0)
        shared.trainable = (i % 2 == 0)
    return a.get_weights() + b.get_weights() + [a.predict(X, verbose=0), b.predict(X, verbose=0)]


def s_batchnorm(jit):
    m = _stack(L.Dense(8), L.BatchNormalization(), L.Activation("relu"), L.Dense(1))
    m.compile("rmsprop", "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=3, batch_size=32, verbose=0, validation_split=0.2)
    return out(m, h) + [m.predict(X, verbose=0)]


def s_frozen_bn_model(jit):
    m = _stack(L.Dense(8), L.BatchNormalization(), L.Dense(1))
    m.layers[0].trainable = False
    m.layers[2].trainable = False
    m.compile("sgd", "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=2, batch_size=32, verbose=0)
    return out(m, h)


def s_clip(jit):
    res = []
    for kw in ({"clipnorm":
        0.1}, {"clipvalue": 0.01}, {"global_clipnorm": 0.05}):
        keras.utils.set_random_seed(1)
        m = mlp(jit, opt=keras.optimizers.Adam(0.01, **kw))
        h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
        res += out(m, h)
    return res


def s_activity_reg(jit):
    m = _stack(
        L.Dense(8, activation="relu", activity_regularizer=keras.regularizers.L1(1e-2), kernel_regularizer="l2"),
        L.Dense(1))
    m.compile("adam", "mse", jit_compile=jit, metrics=["mae"])
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0, validation_data=(X[:50], Y[:50]))
    return out(m, h)


def s_weights_classes(jit):
    m = _stack(L.Dense(8, activation="relu"), L.Dense(2, activation="softmax"))
    m.compile(
        "adam",
        "sparse_categorical_crossentropy",
        jit_compile=jit,
        metrics=["accuracy"],
        weighted_metrics=["accuracy"])
    sw = np.linspace(0.1, 1, len(X)).astype("float32")
    h = m.fit(
        X,
        YC,
        epochs=2,
        batch_size=16,
        verbose=0,
        sample_weight=sw,
        validation_data=(X[:40], YC[:40], sw[:40]))
    h2 = m.fit(X, YC, epochs=2, batch_size=16, verbose=0, class_weight={0: 1.0, 1: 3.0})
    return out(m, h) + out(m, h2)


class LRSched(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = 0.01 / (1 + batch)


def s_lr_batch(jit):
    m = mlp(jit, opt=keras.optimizers.SGD(0.01, momentum=0.9))
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[LRSched()])
    return out(m, h)


def s_schedule(jit):
    sch = keras.optimizers.schedules.ExponentialDecay(0.05, 5, 0.5)
    m = mlp(jit, opt=keras.optimizers.SGD(sch))
    h = m.fit(X, Y, epochs=3, batch_size=16, verbose=0)
    return out(m, h)


def s_recompile(jit):
    m = mlp(jit)
    m.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    m.compile(optimizer="sgd", loss="mae", jit_compile=jit, metrics=["mse"])
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_train_on_batch(jit):
    m = mlp(jit, metrics=["mae"])
    r = []
    for i in range(6):
        r.append(m.train_on_batch(X[i*16:(i+1)*16], Y[i*16:(i+1)*16]))
    r.append(m.test_on_batch(X[:20], Y[:20]))
    r.append(m.predict_on_batch(X[:5]))
    return out(m) + r


def s_subclass_training_flag(jit):
    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(4)
            self.o = L.Dense(1)
            self.dr = L.Dropout(0.3)
        def call(self, x, training=None):
            h = self.d(x)
            if training:
                h = self.dr(h, training=training) * 1.0
            return self.o(h)
    m = M()
    m.compile("adam", "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
    return out(m, h) + [m.predict(X[:9], verbose=0)]


def s_layer_added_after_fit(jit):
    m = mlp(jit)
    m.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    m.add(L.Dense(1))
    m.compile("adam", "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    return out(m, h)


def s_pop(jit):
    m = _stack(L.Dense(8), L.Dense(3), L.Dense(1))
    m.compile("adam", "mse", jit_compile=jit)
    m.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    m.pop()
    m.add(L.Dense(1, name="new_head"))
    m.compile("adam", "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    return out(m, h)


def s_ema(jit):
    m = mlp(jit, opt=keras.optimizers.Adam(0.01, use_ema=True, ema_overwrite_frequency=3))
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_grad_accum(jit):
    m = mlp(jit, opt=keras.optimizers.Adam(0.01, gradient_accumulation_steps=3))
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_embedding_mask(jit):
    inp = keras.Input((7,), dtype="int64")
    e = L.Embedding(20, 4, mask_zero=True)(inp)
    f = L.Lambda(lambda t: keras.ops.mean(t, axis=1))(e)
    o = L.Dense(1)(f)
    m = keras.Model(inp, o)
    m.compile("adam", "mse", jit_compile=jit)
    h = m.fit(T, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_layernorm_prelu(jit):
    m = _stack(
        L.Dense(8),
        L.LayerNormalization(),
        L.PReLU(),
        L.Dense(8),
        L.LeakyReLU(0.1),
        L.ELU(),
        L.UnitNormalization(),
        L.Dense(1))
    m.compile("nadam", "huber", jit_compile=jit, metrics=["mape"])
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_noise_layers(jit):
    m = _stack(
        L.GaussianNoise(0.1),
        L.Dense(8, activation="selu"),
        L.AlphaDropout(0.1),
        L.GaussianDropout(0.2),
        L.Dense(1))
    m.compile("adamax", "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_dict_io(jit):
    a = keras.Input((3,), name="a")
    b = keras.Input((3,), name="b")
    h = L.Concatenate()([a, b])
    h = L.Dense(5, activation="relu")(h)
    o1 = L.Dense(1, name="reg")(h)
    o2 = L.Dense(2, activation="softmax", name="cls")(h)
    m = keras.Model({"a": a, "b": b}, {"reg": o1, "cls": o2})
    m.compile(
        "adam",
        {"reg": "mse", "cls": "sparse_categorical_crossentropy"},
        metrics={"cls": ["accuracy"], "reg": ["mae"]},
        jit_compile=jit)
    hh = m.fit(
        {"a": X[:, :3], "b": X[:, 3:]},
        {"reg": Y, "cls": YC},
        epochs=2,
        batch_size=16,
        verbose=0,
        validation_split=0.2)
    p = m.predict({"a": X[:5, :3], "b": X[:5, 3:]}, verbose=0)
    return out(m, hh) + [p["reg"], p["cls"]]


def s_generator(jit):
    def gen():
        for e in range(100):
            for i in range(0, 200, 25):
                yield X[i:i+25], Y[i:i+25]
    m = mlp(jit)
    h = m.fit(gen(), steps_per_epoch=8, epochs=3, verbose=0)
    return out(m, h)


def s_pydataset(jit):
    class DS(keras.utils.PyDataset):
        def __len__(self): return 9
        def __getitem__(self, i): return X[i*20:(i+1)*20 + (i % 2)], Y[i*20:(i+1)*20 + (i % 2)]
    m = mlp(jit)
    h = m.fit(DS(), epochs=3, verbose=0)
    return out(m, h) + [m.evaluate(DS(), verbose=0)]


def s_custom_loss_metric(jit):
    def myloss(yt, yp): return keras.ops.mean(keras.ops.abs(yt - yp) ** 1.5, axis=-1)
    def mymetric(yt, yp): return keras.ops.max(keras.ops.abs(yt - yp), axis=-1)
    m = mlp(jit)
    m.compile("adam", myloss, metrics=[mymetric], jit_compile=jit)
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_custom_layer_add_loss(jit):
    class Penalized(L.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1], 3), initializer="glorot_uniform")

        def call(self, x):
            y = keras.ops.matmul(x, self.w)
            self.add_loss(0.01 * keras.ops.sum(keras.ops.square(y)) / 100)
            return keras.ops.tanh(y)

    m = _stack(Penalized(), L.Dense(1))
    m.compile("adam", "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_constraints(jit):
    m = _stack(
        L.Dense(8, kernel_constraint=keras.constraints.MaxNorm(0.5), bias_constraint=keras.constraints.NonNeg()),
        L.Dense(1, kernel_constraint="unit_norm"))
    m.compile(keras.optimizers.SGD(0.1, nesterov=True, momentum=0.5), "mse", jit_compile=jit)
    h = m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_bce_logits(jit):
    m = _stack(L.Dense(8, activation="gelu"), L.Dense(1))
    m.compile(
        "adamw",
        keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0), keras.metrics.AUC(from_logits=True)],
        jit_compile=jit)
    h = m.fit(X, YC.astype("float32"), epochs=2, batch_size=16, verbose=0)
    return out(m, h)


def s_early_stop_restore(jit):
    m = mlp(jit)
    h = m.fit(
        X,
        Y,
        epochs=6,
        batch_size=16,
        verbose=0,
        validation_split=0.3,
        callbacks=[keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True, min_delta=1.0)])
    return out(m, h)



SCENARIOS = {name[2:]: fn for name, fn in list(globals().items()) if name.startswith("s_")}


def _run(scenario, jit):
    keras.utils.set_random_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [np.asarray(v, dtype=np.float64) for v in scenario(jit)]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_compiled_steps_give_the_eager_numbers(name, monkeypatch):
    replays = []
    run = Program.run

    def counting_run(self):
        replays.append(self)
        return run(self)

    monkeypatch.setattr(Program, "run", counting_run)
    compiled = _run(SCENARIOS[name], "auto")
    replayed = len(replays)
    eager = _run(SCENARIOS[name], False)
    assert len(replays) == replayed  # jit_compile=False replays nothing
    assert len(compiled) == len(eager)
    for mine, theirs in zip(compiled, eager):
        np.testing.assert_array_equal(mine, theirs)
    assert replayed > 0  # the compiled run replayed steps (it did not fall back)
