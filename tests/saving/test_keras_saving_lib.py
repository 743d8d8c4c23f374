"""Keras 3.15's `saving_lib` behaviours: file layouts, sharded weights, `objects_to_skip`,
file objects, load errors, decompression and shape bombs, IO stores.

Layouts and numbers come from real Keras (`tests/fixtures/generate_keras_saving_lib.py`).
"""

import io
import json
import os
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import numnet as keras
from numnet.saving import io_stores, keras_format

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_saving_lib")
with open(os.path.join(FIXTURES, "reference.json")) as _f:
    REF = json.load(_f)


@keras.saving.register_keras_serializable(package="numnet_fixtures")
class NestedBlocks(keras.Model):
    """numnet's twin of the fixture generator's class."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [[[keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(4)]],
                       (keras.layers.Dense(3, activation="relu"),)]
        self.out = keras.layers.Dense(2)

    def call(self, x):
        for layer in self.blocks[0][0]:
            x = layer(x)
        x = self.blocks[1][0](x)
        return self.out(x)

    def get_config(self):
        return super().get_config()


def _groups(h5file):
    names = []
    h5file.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Group)
                      else None)
    return sorted(names)


def _mlp():
    return keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(32), keras.layers.Dense(1)])


# ------------------------------------------------------------ nested containers
def test_keras_file_with_nested_containers_loads_with_keras_numbers():
    ref = np.load(os.path.join(FIXTURES, "nested_blocks.npz"))
    model = keras.models.load_model(os.path.join(FIXTURES, "nested_blocks.keras"))
    np.testing.assert_allclose(model(ref["x"]).numpy(), ref["y"], rtol=1e-6, atol=1e-6)
    # Every nested layer is tracked, so it trains: 4 Dense layers, 8 weights.
    assert len(model.trainable_weights) == 8


def test_numnet_writes_keras_nested_container_groups(tmp_path):
    model = NestedBlocks(name="nested_blocks")
    model(np.zeros((1, 5), "float32"))
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
    with h5py.File(io.BytesIO(data), "r") as h5file:
        assert _groups(h5file) == REF["nested_blocks_groups"]


def test_files_without_nested_container_groups_load_with_keras_warning(tmp_path):
    """Files of Keras before 3.15 kept such layers only under `layers/...`."""
    model = NestedBlocks()
    x = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5)
    expected = model(x).numpy()
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as f:  # the old layout: no container groups
        for i, old in enumerate(["blocks/container/container/dense",
                                 "blocks/container/container/dense_1",
                                 "blocks/container_1/dense"]):
            f.move(old, f"layers/{'dense' if i == 0 else f'dense_{i}'}")
        del f["blocks"]
    fresh = NestedBlocks()
    fresh(x)
    with pytest.warns(UserWarning, match="Skipping nested container at 'blocks/container'"):
        fresh.load_weights(path)
    np.testing.assert_array_equal(fresh(x).numpy(), expected)


# --------------------------------------------------------------- sharded weights
def test_keras_sharded_weights_load():
    ref = np.load(os.path.join(FIXTURES, "sharded.npz"))
    model = _mlp()
    model.load_weights(os.path.join(FIXTURES, "sharded", "mlp.weights.json"))
    for i, weight in enumerate(model.get_weights()):
        np.testing.assert_array_equal(weight, ref[f"w{i}"])
    np.testing.assert_allclose(model(ref["x"]).numpy(), ref["y"], rtol=1e-6, atol=1e-6)


def test_numnet_shards_as_keras_does(tmp_path):
    ref = np.load(os.path.join(FIXTURES, "sharded.npz"))
    model = _mlp()
    model.set_weights([ref[f"w{i}"] for i in range(6)])
    path = tmp_path / "mlp.weights.json"
    model.save_weights(path, max_shard_size=0.00001)
    assert sorted(os.listdir(tmp_path)) == REF["sharded_files"]
    with open(path) as f:
        assert json.load(f) == REF["sharded_index"]
    fresh = _mlp()
    fresh.load_weights(path)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sharded_index_naming_a_file_elsewhere_is_refused(tmp_path):
    model = _mlp()
    path = tmp_path / "mlp.weights.json"
    model.save_weights(path, max_shard_size=0.00001)
    index = json.loads(path.read_text())
    index["weight_map"]["/layers/dense/vars"] = ["../outside.weights.h5"]
    path.write_text(json.dumps(index))
    with pytest.raises(ValueError, match="refusing shard file name"):
        _mlp().load_weights(path)


def test_weights_name_checks():
    model = _mlp()
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights("m.h5")
    with pytest.raises(ValueError, match="must end in `.weights.json` when `max_shard_size`"):
        model.save_weights("m.bin", max_shard_size=1)


# ---------------------------------------------------------------- objects_to_skip
def test_objects_to_skip_leaves_those_layers_out(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5), keras.layers.Dense(5)])
    path = tmp_path / "m.weights.h5"
    keras.saving.save_weights(model, path, objects_to_skip=[model.layers[0]])
    with h5py.File(path, "r") as f:
        assert "layers/dense" not in f and "layers/dense_1/vars" in f
    for saved_with_skip in (True, False):
        if not saved_with_skip:
            model.save_weights(path)  # the file now holds the skipped layer too
        fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5),
                                  keras.layers.Dense(5)])
        kernel = fresh.layers[0].kernel.numpy().copy()
        fresh.load_weights(path, objects_to_skip=[fresh.layers[0]])
        np.testing.assert_array_equal(fresh.layers[0].kernel.numpy(), kernel)
        np.testing.assert_array_equal(fresh.layers[1].kernel.numpy(),
                                      model.layers[1].kernel.numpy())
    with pytest.raises(ValueError, match="only supports loading '.weights.h5' files"):
        fresh.load_weights(tmp_path / "m.keras", objects_to_skip=[])


# ------------------------------------------------------- file objects and errors
def test_save_and_load_a_file_object():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    buffer = io.BytesIO()
    keras_format.save_model(model, buffer)
    buffer.seek(0)
    loaded = keras_format.load_model(buffer)
    x = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.iterations.numpy() == model.optimizer.iterations.numpy()


def test_load_errors_are_keras_value_errors(tmp_path):
    with pytest.raises(ValueError, match="File not found: filepath=.*accessible `.keras` zip"):
        keras.saving.load_model(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError, as Python code expects
        keras.saving.load_model(tmp_path / "missing.keras")
    for name in ("model.pkl", "my_saved_model"):  # checked before existence, as Keras does
        with pytest.raises(ValueError, match="File format not supported"):
            keras.saving.load_model(tmp_path / name)
    with pytest.raises(ValueError, match="File format not supported"):
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).load_weights("x.pkl")


def test_compile_overridden_model_loads_uncompiled_with_keras_warning(tmp_path):
    @keras.saving.register_keras_serializable(package="numnet_tests")
    class OwnCompile(keras.Sequential):
        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)

    model = OwnCompile([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.save(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="`compile\\(\\)` was not called as part of model "
                                         "loading because the model's `compile\\(\\)` "
                                         "method is custom"):
        loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert not loaded.compiled


# ------------------------------------------------------------------------ bombs
def _bomb_archive(path, bomb_member):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    good = str(path) + ".good.keras"
    model.save(good)
    with zipfile.ZipFile(good) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if name != bomb_member:
                archive.writestr(name, data)
        info = zipfile.ZipInfo(bomb_member)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, b"\x00" * 200_000)


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5", "assets/unused.bin"])
def test_decompression_bombs_are_refused_with_keras_words(tmp_path, monkeypatch, member):
    # The limits are module-level, under Keras' names; small ones make a small bomb.
    monkeypatch.setattr(keras_format, "_ZIP_MEMBER_BOMB_FLOOR_BYTES", 64)
    monkeypatch.setattr(keras_format, "_ZIP_EXTRACT_BOMB_FLOOR_BYTES", 64)
    monkeypatch.setattr(keras_format, "_ZIP_MEMBER_MAX_EXPANSION", 10)
    path = tmp_path / "bomb.keras"
    _bomb_archive(path, member)
    with pytest.raises(ValueError, match="decompression bomb"):
        keras.saving.load_model(path)


def test_safe_zip_read_accepts_stored_members(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_format, "_ZIP_MEMBER_BOMB_FLOOR_BYTES", 64)
    data = os.urandom(10_000)
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("w", data)
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert keras_format.safe_zip_read(archive, "w") == data


def test_shape_bomb_dataset_is_refused(tmp_path):
    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("d", shape=(2 ** 50,), dtype="float64", chunks=(1024,),
                         compression="gzip", fillvalue=0.0)
        f.create_dataset("ok", data=np.arange(3.0))
    with h5py.File(path, "r") as f:
        with pytest.raises(ValueError, match="shape bomb"):
            io_stores.safe_get_h5_dataset(f, "d")
        np.testing.assert_array_equal(io_stores.safe_get_h5_dataset(f, "ok")[()],
                                      np.arange(3.0))


# ------------------------------------------------------------------- IO stores
def test_h5_io_store(tmp_path):
    path = tmp_path / "store.h5"
    store = io_stores.H5IOStore(path, mode="w")
    entry = store.make("vars")
    entry["a"] = np.arange(6.0).reshape(2, 3)
    entry["c"] = 42
    assert int(entry["c"][()]) == 42
    del entry["c"]
    assert "c" not in entry
    with pytest.raises(ValueError, match="`metadata` should be a dict or `None`"):
        store.make("x", metadata="m")
    store.close()
    store = io_stores.H5IOStore(path, mode="r")
    entry = store.get("vars")
    np.testing.assert_array_equal(entry["a"], np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="Setting a value is only allowed in write mode"):
        entry["b"] = 1
    with pytest.raises(ValueError, match="Deleting a value is only allowed in write mode"):
        del entry["a"]
    assert len(store.get("nothing_here")) == 0
    store.close()
    with pytest.raises(TypeError, match="`path_or_io` should be a `str`, `pathlib.Path` or"):
        io_stores.H5IOStore(None, mode="w")
    with pytest.raises(ValueError, match="`mode` should be either 'w' or 'r'"):
        io_stores.H5IOStore(path, mode="x")
    with pytest.raises(ValueError, match="`archive` should be `None`"):
        io_stores.H5IOStore(io.BytesIO(), archive="archive", mode="w")


def test_h5_io_store_refuses_links(tmp_path):
    path = tmp_path / "linked.h5"
    with h5py.File(path, "w") as f:
        f.create_group("real").create_group("vars").create_dataset("0", data=[1.0])
        f["alias"] = h5py.SoftLink("/real")
    with pytest.raises(ValueError, match="Not allowed: H5 file with SoftLink"):
        io_stores.H5IOStore(path, mode="r")


def test_sharded_h5_io_store(tmp_path):
    path = tmp_path / "store.json"
    a = np.random.default_rng(0).random((1000, 1000)).astype("float32")
    store = io_stores.ShardedH5IOStore(path, max_shard_size=0.005, mode="w")
    entry = store.make("vars")
    entry["a"] = a
    entry["b"] = a
    entry["c"] = 42
    assert len(store.sharding_config["weight_map"]["/vars/vars"]) == 2
    assert len(entry) == 3
    del entry["a"]  # in the first shard
    assert sorted(entry.keys()) == ["b", "c"]
    with pytest.raises(KeyError, match="Key 'zz' not found in any of the shards"):
        entry["zz"]
    with pytest.raises(ValueError, match="exceeds the maximum shard size"):
        io_stores.ShardedH5IOStore(tmp_path / "s2.json", max_shard_size=0.00001,
                                   mode="w").make("v")["w"] = np.zeros((100, 100), "float32")
    store.close()
    assert (tmp_path / "store_00001.weights.h5").exists()
    store = io_stores.ShardedH5IOStore(path, mode="r")
    entry = store.get("vars")
    np.testing.assert_array_equal(entry["b"], a)
    assert "a" not in entry and int(entry["c"][()]) == 42
    store.close()


def test_npz_io_store_refuses_shape_bombs(tmp_path):
    path = tmp_path / "bomb.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2 ** 50,)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w.npy", header.getvalue())
    with pytest.raises(ValueError, match="Refusing to load npz weight 'w'"):
        io_stores.NpzIOStore(str(path), mode="r").get("w")
    np.savez(tmp_path / "ok.npz", w=np.arange(4.0))
    assert io_stores.NpzIOStore(str(tmp_path / "ok.npz"), mode="r").get("w") == \
        [0.0, 1.0, 2.0, 3.0]


def test_disk_io_store_paths_stay_inside(tmp_path):
    store = io_stores.DiskIOStore("assets", archive=None, mode="w")
    root = os.path.realpath(store.working_dir)
    for bad in ["../escape", os.path.join("a", "..", "..", "escape"), "..", "..\\escape"]:
        with pytest.raises(ValueError, match="Invalid asset path"):
            store.make(bad)
        assert not store.has_path(bad)
    made = store.make(os.path.join("layers", "dense"))
    assert os.path.isdir(made) and made.startswith(root + os.sep)
    store.close()
    assert not os.path.exists(root)


def test_aliased_layer_loads_from_the_path_the_file_has(tmp_path):
    """Keras walks properties too and retries each path an object is reachable by."""
    class Normal(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    class Aliased(keras.Model):
        def __init__(self):
            super().__init__()
            self.a_dense = keras.layers.Dense(3)

        @property
        def dense(self):
            return self.a_dense

        def call(self, x):
            return self.dense(x)

    x = np.ones((2, 2), "float32")
    saved, fresh = Normal(), Aliased()
    saved(x)
    fresh(x)
    saved.save_weights(tmp_path / "m.weights.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(fresh.dense.kernel.numpy(), saved.dense.kernel.numpy())
