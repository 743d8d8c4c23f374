"""Finding models on disk and the `LoadedModel` of a `.keras` file."""

import shutil

import numpy as np
import pytest

from numnet.serve import (
    FunctionModel, KerasModel, ModelNotFoundError, ModelRepository, TensorSpec, load_repository,
    register_format,
)
from numnet.serve import repository as repository_module


def test_a_keras_file_is_version_1(model_files, reference_models, rng):
    repository = load_repository(model_files["mlp"])
    assert repository.names() == ["mlp"] and repository.versions("mlp") == [1]
    model = repository.get("mlp")
    assert isinstance(model, KerasModel) and model.platform == "numnet_keras"
    assert model.inputs == (TensorSpec("features", "float32", (None, 4)),)
    assert model.outputs == (TensorSpec("output_0", "float32", (None, 3)),)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict({"features": x})["output_0"],
                                  reference_models["mlp"].predict(x, verbose=0))
    assert load_repository(model_files["mlp"], name="fashion").names() == ["fashion"]


def test_several_inputs_and_outputs(model_files, reference_models, rng):
    model = load_repository(model_files["multi"]).get("multi")
    assert model.input_names == ("wide", "deep")
    assert [(s.name, s.shape) for s in model.outputs] == [("output_0", (None, 1)),
                                                          ("output_1", (None, 2))]
    feed = {"wide": rng.standard_normal((3, 2)).astype(np.float32),
            "deep": rng.standard_normal((3, 3)).astype(np.float32)}
    main, aux = reference_models["multi"].predict([feed["wide"], feed["deep"]], verbose=0)
    out = model.predict(feed)
    np.testing.assert_array_equal(out["output_0"], main)
    np.testing.assert_array_equal(out["output_1"], aux)


def test_dict_outputs_keep_their_keys(tmp_path):
    import numnet as keras
    x = keras.layers.Input(shape=[2], name="x")
    model = keras.Model(x, {"score": keras.layers.Dense(1)(x), "logits": keras.layers.Dense(3)(x)})
    model.save(tmp_path / "d.keras")
    served = load_repository(tmp_path / "d.keras").get("d")
    assert served.output_names == ("logits", "score")
    out = served.predict({"x": np.ones((2, 2), np.float32)})
    assert out["logits"].shape == (2, 3) and out["score"].shape == (2, 1)


def test_version_folders(model_files, reference_models, rng):
    repository = load_repository(model_files["versions"])
    assert repository.names() == ["clf"] and repository.versions("clf") == [1, 2]
    assert repository.get("clf").version == 2  # the latest by default
    x = rng.standard_normal((2, 4)).astype(np.float32)
    for version in (1, 2):
        np.testing.assert_array_equal(
            repository.get("clf", version).predict({"features": x})["output_0"],
            reference_models[f"clf/{version}"].predict(x, verbose=0))
    with pytest.raises(ModelNotFoundError, match="Model 'clf' has no version 3; it has "
                                                 r"version\(s\) 1, 2"):
        repository.get("clf", 3)
    with pytest.raises(ModelNotFoundError, match="Model 'nope' is not served here; the server "
                                                 "has: clf"):
        repository.versions("nope")


def test_a_folder_of_models(model_files, tmp_path):
    shutil.copytree(model_files["versions"], tmp_path / "clf")
    (tmp_path / "single" / "7").mkdir(parents=True)
    shutil.copy(model_files["mlp"], tmp_path / "single" / "7" / "m.keras")
    repository = load_repository(tmp_path)
    assert repository.names() == ["clf", "single"] and repository.versions("single") == [7]
    assert [(m.name, m.version) for m in repository] == [("clf", 1), ("clf", 2), ("single", 7)]
    with pytest.raises(ValueError, match="holds several models"):
        load_repository(tmp_path, name="x")


def test_an_unzipped_keras_folder_is_an_artifact(model_files, tmp_path):
    import numnet as keras
    model = keras.saving.load_model(model_files["mlp"])
    model.save(tmp_path / "m" / "3" / "unzipped", zipped=False)  # inside the version folder
    model.save(tmp_path / "m" / "4", zipped=False)  # the version folder itself
    repository = load_repository(tmp_path / "m")
    assert repository.versions("m") == [3, 4]
    assert repository.get("m").input_names == ("features",)


def test_bad_layouts(model_files, tmp_path):
    with pytest.raises(FileNotFoundError, match="No such model file or folder"):
        load_repository(tmp_path / "missing.keras")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a model to serve: expected a .keras file"):
        load_repository(tmp_path / "empty")
    (tmp_path / "two" / "1").mkdir(parents=True)
    for name in ("a.keras", "b.keras"):
        shutil.copy(model_files["mlp"], tmp_path / "two" / "1" / name)
    with pytest.raises(ValueError, match="must hold exactly one model .*; found a.keras, b.keras"):
        load_repository(tmp_path / "two")
    (tmp_path / "none" / "1").mkdir(parents=True)
    with pytest.raises(ValueError, match="found nothing"):
        load_repository(tmp_path / "none")
    with pytest.raises(ValueError, match="Invalid model name 'a/b'"):
        load_repository(model_files["mlp"], name="a/b")
    (tmp_path / "text.txt").write_text("hello")
    with pytest.raises(ValueError, match="is not a model to serve"):
        load_repository(tmp_path / "text.txt")


def test_a_corrupt_keras_file_fails_to_load(tmp_path):
    (tmp_path / "bad.keras").write_bytes(b"not a zip file")
    with pytest.raises(Exception) as info:
        load_repository(tmp_path / "bad.keras")
    assert "bad.keras" in str(info.value)


def test_register_format_plugs_in_another_artifact(tmp_path, monkeypatch):
    monkeypatch.setattr(repository_module, "_FORMATS", list(repository_module._FORMATS))
    (tmp_path / "lin" / "1").mkdir(parents=True)
    np.save(tmp_path / "lin" / "1" / "w.npy", np.array([[2.0], [3.0]], np.float32))

    def load(path, name, version):
        weights = np.load(path)
        return FunctionModel(lambda feed: {"y": feed["x"] @ weights}, name, version,
                             [TensorSpec("x", "float32", (None, 2))],
                             [TensorSpec("y", "float32", (None, 1))], platform="numnet_numpy")

    register_format(lambda path: str(path).endswith(".npy"), load, "a weights .npy file")
    model = load_repository(tmp_path / "lin").get("lin")
    assert model.platform == "numnet_numpy"
    np.testing.assert_array_equal(model.predict({"x": np.array([[1, 1]], np.float32)})["y"],
                                  [[5.0]])


def test_repository_checks():
    spec = [TensorSpec("x", "float32", (None, 1))]
    model = FunctionModel(lambda feed: feed, "m", 1, spec, spec)
    with pytest.raises(ValueError, match="version 1 twice"):
        ModelRepository([model, model])
    with pytest.raises(ValueError, match="at least one model"):
        ModelRepository([])


def test_a_model_without_known_input_shape_is_refused():
    import numnet as keras
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="its input shape is unknown"):
        KerasModel(model, "m", 1)


def test_dict_inputs_are_fed_by_name(tmp_path, rng):
    import numnet as keras
    inputs = {"b": keras.layers.Input(shape=[3], name="b"),
              "a": keras.layers.Input(shape=[2], name="a")}
    joined = keras.layers.Concatenate()([inputs["a"], inputs["b"]])
    model = keras.Model(inputs, keras.layers.Dense(1)(joined))
    model.save(tmp_path / "named.keras")
    served = load_repository(tmp_path / "named.keras").get("named")
    assert served.input_names == ("a", "b")
    feed = {"a": rng.standard_normal((2, 2)).astype(np.float32),
            "b": rng.standard_normal((2, 3)).astype(np.float32)}
    np.testing.assert_array_equal(served.predict(feed)["output_0"],
                                  model.predict(feed, verbose=0))
