"""Round trips, Keras-written fixtures and hostile files for the `.keras` format."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import numnet as keras

import h5py  # a test dependency: fail loudly if it is missing
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_files")


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, :1] * 2 - x[:, 1:2]).astype("float32")


def _seq(optimizer="adam"):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def _continue(model, x, y, seed=7):
    keras.backend.set_seed(seed) if hasattr(keras.backend, "set_seed") else None
    from numnet.backend import random as nrandom
    nrandom.set_seed(seed)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", "nadam", "adagrad", "adamw"])
def test_sequential_round_trip_continues_bit_for_bit(tmp_path, optimizer):
    x, y = _data()
    model = _seq(optimizer)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.get_compile_config()["loss"] in ("mse", "mean_squared_error")
    for a, b in zip(_continue(model, x, y), _continue(loaded, x, y)):
        np.testing.assert_array_equal(a, b)


def test_archive_layout_matches_keras(tmp_path):
    model = _seq()
    model.fit(*_data(), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
    assert set(config) >= {"module", "class_name", "config", "registered_name",
                           "build_config", "compile_config"}
    with h5py.File(io.BytesIO(weights), "r") as f:
        assert f["vars"].attrs["name"] == model.name
        assert f["layers/dense/vars/0"].shape == (4, 8)
        assert f["layers/dense_1/vars/1"].shape == (1,)
        assert f["optimizer/vars/0"].shape == ()
        assert len(f["optimizer/vars"]) == 2 + 2 * 4


@pytest.mark.parametrize("name", ["seq_adam", "seq_sgd_mse", "seq_rmsprop_norm"])
def test_keras_written_fixtures_load_and_predict(name):
    data = np.load(os.path.join(FIXTURES, f"{name}.npz"))
    model = keras.models.load_model(os.path.join(FIXTURES, f"{name}.keras"))
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y_pred"],
                               rtol=1e-5, atol=1e-6)
    assert int(model.optimizer.iterations.data) == int(data["optimizer_iterations"])
    target = data["y"] if name == "seq_adam" else data["y"].astype("float32")[:, None]
    model.fit(data["x"], target, epochs=1, verbose=0)  # training continues


def test_save_weights_load_weights_and_errors(tmp_path):
    x, y = _data()
    model = _seq()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    other = _seq()
    other.build((None, 4))
    other.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights(tmp_path / "w.h5")
    wrong = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"layers/dense/vars.*kernel.*\(5, 8\).*\(4, 8\)"):
        wrong.load_weights(tmp_path / "w.weights.h5")
    fewer = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8)])
    with pytest.raises(ValueError, match=r"layers/dense_1/vars"):
        fewer.load_weights(tmp_path / "w.weights.h5")
    more = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8), keras.layers.Dense(1),
                             keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"expected 2 variables, but received 0"):
        more.load_weights(tmp_path / "w.weights.h5")


def test_json_and_config_round_trip():
    model = _seq()
    clone = keras.models.model_from_json(model.to_json())
    assert [type(l).__name__ for l in clone.layers] == ["Dense", "Dense"]
    again = keras.Sequential.from_config(model.get_config())
    assert again.layers[0].units == 8


@keras.saving.register_keras_serializable(package="tests")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        return inputs * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class MyModel(keras.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_custom_layer_and_subclassed_model(tmp_path):
    x, y = _data()
    model = keras.Sequential([keras.Input(shape=(4,)), Scale(3.0), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "c.keras")
    loaded = keras.models.load_model(tmp_path / "c.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))

    sub = MyModel(units=5)
    sub.compile(optimizer="adam", loss="mse")
    sub.fit(x, y, epochs=2, batch_size=8, verbose=0)
    sub.save(tmp_path / "s.keras")
    with pytest.raises(ValueError, match="MyModel"):
        keras.models.load_model(tmp_path / "s.keras")
    back = keras.models.load_model(tmp_path / "s.keras", custom_objects={"MyModel": MyModel})
    np.testing.assert_array_equal(sub.predict(x, verbose=0), back.predict(x, verbose=0))
    for a, b in zip(_continue(sub, x, y), _continue(back, x, y)):
        np.testing.assert_array_equal(a, b)
    with zipfile.ZipFile(tmp_path / "s.keras") as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as f:
            # `out` sorts after `layers`, so Keras reaches it through `layers` (as dense_1).
            assert "hidden/vars/0" in f and "layers/dense_1/vars/1" in f and "optimizer/vars/0" in f


def test_directory_format(tmp_path):
    x, y = _data()
    model = _seq()
    model.save(tmp_path / "saved", zipped=False)
    assert sorted(os.listdir(tmp_path / "saved")) == ["config.json", "metadata.json",
                                                      "model.weights.h5"]
    # The optimizer was never used, so it saved only iterations and learning_rate;
    # Keras warns in that case too, and so must we.
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        loaded = keras.models.load_model(tmp_path / "saved")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


# ---------------------------------------------------------------- hostile files
def _rewrite(src, dst, config=None, extra=None, weights=None):
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    if config is not None:
        members["config.json"] = json.dumps(config).encode()
    if weights is not None:
        members["model.weights.h5"] = weights
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return members


@pytest.fixture
def saved(tmp_path):
    model = _seq()
    model.fit(*_data(), epochs=1, verbose=0)
    model.save(tmp_path / "good.keras")
    return tmp_path / "good.keras"


def test_truncated_archive(saved, tmp_path):
    data = saved.read_bytes()
    (tmp_path / "t.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a valid .keras archive"):
        keras.models.load_model(tmp_path / "t.keras")


def test_zip_with_parent_paths_is_refused(saved, tmp_path):
    _rewrite(saved, tmp_path / "evil.keras", extra={"../../evil.txt": b"x"})
    with pytest.raises(ValueError, match="escapes the archive"):
        keras.models.load_model(tmp_path / "evil.keras")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_unknown_class_is_named(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        config = json.loads(archive.read("config.json"))
    config["config"]["layers"][1]["class_name"] = "FancyDense"
    _rewrite(saved, tmp_path / "u.keras", config=config)
    with pytest.raises(ValueError, match="FancyDense"):
        keras.models.load_model(tmp_path / "u.keras")


def test_wrong_weight_shape(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        config = json.loads(archive.read("config.json"))
    config["config"]["layers"][2]["config"]["units"] = 2
    _rewrite(saved, tmp_path / "w.keras", config=config)
    with pytest.raises(ValueError, match=r"layers/dense_1/vars.*kernel.*\(8, 2\).*\(8, 1\)"):
        keras.models.load_model(tmp_path / "w.keras")


def test_corrupt_weights(saved, tmp_path):
    _rewrite(saved, tmp_path / "c.keras", weights=b"not hdf5 at all")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        keras.models.load_model(tmp_path / "c.keras")


def test_lambda_layer_refused_in_safe_mode(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        config = json.loads(archive.read("config.json"))
    config["config"]["layers"].insert(1, {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "lambda", "function": {"class_name": "__lambda__",
                                                  "config": {"code": "4wEAAAAAAAAA"}}}})
    _rewrite(saved, tmp_path / "l.keras", config=config)
    with pytest.raises(ValueError, match="safe_mode"):
        keras.models.load_model(tmp_path / "l.keras")
    # As Keras, safe_mode=False would load the lambda: this one's bytecode is broken.
    with pytest.raises(ValueError, match="bytecode is unreadable"):
        keras.models.load_model(tmp_path / "l.keras", safe_mode=False)


def test_bad_extension_and_missing_h5py(tmp_path, monkeypatch):
    model = _seq()
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        model.save(tmp_path / "m.txt")
    import builtins
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(ImportError, match="pip install"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_failed_save_keeps_previous_file(saved, monkeypatch):
    before = saved.read_bytes()
    model = _seq()
    from numnet.saving import weights_h5

    def boom(*args, **kwargs):
        raise RuntimeError("crash mid-save")

    monkeypatch.setattr(weights_h5, "write_weights", boom)
    with pytest.raises(RuntimeError):
        model.save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == ["good.keras"]


def test_functional_multi_io_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(size=(32, 5)).astype("float32"), rng.normal(size=(32, 6)).astype("float32")
    ya, yb = xa[:, :1] + xb[:, :1], xb[:, 1:2]
    input_a = keras.Input(shape=(5,), name="input_wide")
    input_b = keras.Input(shape=(6,), name="input_deep")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden1")(input_b)
    concat = keras.layers.Concatenate()([input_a, hidden]) if hasattr(keras.layers, "Concatenate") \
        else hidden
    output = keras.layers.Dense(1, name="output")(concat)
    aux = keras.layers.Dense(1, name="aux_output")(hidden)
    model = keras.Model(inputs=[input_a, input_b], outputs=[output, aux])
    model.compile(optimizer="adam", loss=["mse", "mse"], loss_weights=[0.9, 0.1])
    model.fit([xa, xb], [ya, yb], epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "f.keras")
    loaded = keras.models.load_model(tmp_path / "f.keras")
    for a, b in zip(model.predict([xa, xb], verbose=0), loaded.predict([xa, xb], verbose=0)):
        np.testing.assert_array_equal(a, b)
    for model_ in (model, loaded):
        nrandom = __import__("numnet.backend.random", fromlist=["set_seed"])
        nrandom.set_seed(5)
        model_.fit([xa, xb], [ya, yb], epochs=2, batch_size=8, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
