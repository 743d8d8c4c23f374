"""The playground's engine: numnet models built from the state, training, frames,
weight edits, `.keras` export and import, and the Python snippet."""

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import numnet
from numnet.playground import datasets, snippet, state as state_module
from numnet.playground.engine import GRID, Playground, grid_points, layer_outputs
from numnet.playground.state import StateError
from numnet.playground.trainers import features_from_input_name, input_name

pytest.importorskip("h5py", reason="the .keras format needs h5py (the `test` extra has it)")

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def decode_output(frame):
    return np.frombuffer(base64.b64decode(frame["output"]), dtype="<f4")


def test_model_is_a_numnet_sequential_built_from_the_state():
    playground = Playground()
    playground.change({"layers": [5, 3], "activation": "relu", "features": ["x1", "x2", "x1x2"],
                       "regularization": "l1", "regRate": 0.01, "optimizer": "adam"})
    model = playground.model
    assert isinstance(model, numnet.Sequential)
    dense = [layer for layer in model.layers if isinstance(layer, numnet.layers.Dense)]
    assert [layer.units for layer in dense] == [5, 3, 1]
    assert [layer.name for layer in dense] == ["hidden_1", "hidden_2", "output"]
    assert numnet.activations.serialize(dense[0].activation) == "relu"
    assert numnet.activations.serialize(dense[-1].activation) == "sigmoid"
    assert dense[0].kernel.shape == (3, 5)
    assert isinstance(dense[0].kernel_regularizer, numnet.regularizers.L1)
    assert isinstance(model.optimizer, numnet.optimizers.Adam)
    assert model.inputs[0].name == "features_x1_x2_x1x2"
    playground.change({"problem": "regression"})
    assert numnet.activations.serialize(playground.dense_layers()[-1].activation) == "linear"


def test_same_seed_same_initial_weights_and_data():
    first, second = Playground(), Playground()
    for layer_a, layer_b in zip(first.dense_layers(), second.dense_layers()):
        np.testing.assert_array_equal(layer_a.kernel.numpy(), layer_b.kernel.numpy())
    np.testing.assert_array_equal(first.data.x_train, second.data.x_train)
    second.change({"seed": 2})
    assert not np.array_equal(first.dense_layers()[0].kernel.numpy(),
                              second.dense_layers()[0].kernel.numpy())
    second.change({"initZero": True})
    assert all(not layer.kernel.numpy().any() for layer in second.dense_layers())


def test_training_on_the_circle_lowers_the_loss_and_counts_epochs():
    playground = Playground()
    before = playground.frame()
    for _ in range(60):
        playground.advance()
    after = playground.frame()
    assert after["epoch"] == 60
    assert after["trainLoss"] < 0.5 * before["trainLoss"]
    assert after["testAccuracy"] > 0.9


def test_frame_losses_match_numnet_evaluate_and_output_matches_predict():
    playground = Playground()
    playground.change({"dataset": "gauss", "features": ["x1", "x2", "sinx1"]})
    for _ in range(3):
        playground.advance()
    frame = playground.frame()
    x_test = datasets.feature_matrix(playground.data.x_test, ["x1", "x2", "sinx1"])
    loss = playground.model.evaluate(x_test, playground.data.y_test, verbose=0,
                                     batch_size=len(x_test))
    assert frame["testLoss"] == pytest.approx(loss, rel=1e-5)
    grid = datasets.feature_matrix(grid_points(playground.data.domain), ["x1", "x2", "sinx1"])
    predicted = playground.model.predict(grid, batch_size=len(grid), verbose=0)[:, 0]
    np.testing.assert_allclose(decode_output(frame), predicted, rtol=1e-6, atol=1e-7)
    assert len(frame["neurons"]) == 2 and len(frame["neurons"][0]) == 4
    assert len(base64.b64decode(frame["neurons"][0][0])) == (GRID // 5) ** 2
    assert np.asarray(frame["weights"][0]).shape == (3, 4)
    json.dumps(frame, allow_nan=False)  # the page reads it as strict JSON


def test_one_update_is_one_epoch_of_fit_on_the_shuffled_data():
    playground = Playground()
    reference = numnet.models.clone_model(playground.model)
    reference.set_weights(playground.model.get_weights())
    reference.compile(optimizer=numnet.optimizers.SGD(0.03), loss="binary_crossentropy")
    order = np.random.default_rng([playground.state["seed"], 1]).permutation(250)
    playground.advance()
    x, y = playground.inputs["train"], playground.data.y_train
    reference.fit(x[order], y[order], batch_size=10, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(playground.model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_a_time_budget_splits_an_epoch_over_several_updates():
    playground = Playground()
    playground.change({"regularization": "l2", "regRate": 0.001, "batchSize": 1})
    trained, updates = 0, 0
    while playground.trainer.epoch == 0:
        trained += playground.advance(budget=0.002)
        updates += 1
    assert updates > 1 and trained == len(playground.data.x_train)


def test_learning_rate_and_batch_size_change_without_a_reset():
    playground = Playground()
    playground.advance()
    generation = playground.generation
    steps = int(playground.model.optimizer.iterations.numpy())
    assert steps == 25  # 250 training points in batches of 10
    assert playground.change({"learningRate": 0.3, "batchSize": 5}) is None
    assert playground.generation == generation and playground.trainer.epoch == 1
    assert float(playground.model.optimizer.learning_rate) == pytest.approx(0.3)
    playground.advance()
    assert int(playground.model.optimizer.iterations.numpy()) == steps + 50
    assert playground.change({"activation": "relu"}) == "model"
    assert playground.trainer.epoch == 0
    assert playground.change({"noise": 20}) == "data"


def test_diverging_training_reports_missing_losses_not_nan():
    playground = Playground()
    playground.change({"problem": "regression", "learningRate": 10, "layers": [8, 8]})
    for _ in range(30):
        playground.advance()
    frame = playground.frame()
    assert frame["diverged"] and frame["trainLoss"] is None
    json.dumps(frame, allow_nan=False)


def test_perceptron_follows_rosenblatts_rule():
    playground = Playground()
    playground.change({"mode": "perceptron", "dataset": "gauss", "noise": 20})
    tlu = playground.model.layers[-1]
    assert isinstance(tlu, numnet.layers.TLU)
    x, y = playground.inputs["train"], playground.data.y_train
    order = np.random.default_rng([playground.state["seed"], 1]).permutation(len(x))
    reference = numnet.layers.TLU()
    reference.fit_rosenblatt(x[order], y[order], learning_rate=0.03, max_iter=1, shuffle=False)
    updates = 0
    while playground.trainer.epoch == 0:
        updates += playground.advance()
    assert playground.trainer.errors_last_epoch == updates > 0
    np.testing.assert_allclose(tlu.kernel.numpy(), reference.kernel.numpy(), rtol=1e-6)
    np.testing.assert_allclose(tlu.bias.numpy(), reference.bias.numpy(), rtol=1e-6)


def test_perceptron_fails_on_xor_until_x1x2_is_a_feature():
    playground = Playground()
    playground.change({"mode": "perceptron", "dataset": "xor", "learningRate": 1})
    for _ in range(2000):
        playground.advance()
    frame = playground.frame()
    assert not frame["status"]["converged"] and frame["epoch"] >= 5
    assert frame["trainLoss"] > 0.25  # an error rate: no line separates XOR
    playground.change({"features": ["x1", "x2", "x1x2"]})
    for _ in range(2000):
        if playground.converged:
            break
        playground.advance()
    frame = playground.frame()
    assert frame["status"]["converged"] and frame["trainLoss"] == 0.0


def test_perceptron_sign_step_uses_minus_one_targets():
    playground = Playground()
    playground.change({"mode": "perceptron", "dataset": "gauss", "step": "sign"})
    for _ in range(500):
        if playground.converged:
            break
        playground.advance()
    frame = playground.frame()
    assert frame["outputRange"] == [-1.0, 1.0] and frame["status"]["converged"]
    assert set(np.unique(decode_output(frame))) <= {-1.0, 0.0, 1.0}


def test_weight_and_bias_edits_and_their_refusals():
    playground = Playground()
    playground.set_weight(1, 3, 0, 2.5)
    playground.set_bias(2, 0, -0.75)
    frame = playground.frame()
    assert frame["weights"][1][3][0] == 2.5 and frame["biases"][2][0] == -0.75
    assert playground.dense_layers()[1].kernel.numpy()[3, 0] == 2.5
    for args in [(3, 0, 0, 1.0), (0, 2, 0, 1.0), (0, 0, 4, 1.0), (0, 0, 0, float("nan")),
                 (0, 0, 0, 1e6), (0, 0, 0, "1"), (-1, 0, 0, 1.0), (True, 0, 0, 1.0)]:
        with pytest.raises(StateError):
            playground.set_weight(*args)
    with pytest.raises(StateError):
        playground.set_bias(0, 9, 1.0)


def test_export_then_import_gives_the_same_picture(tmp_path):
    source = Playground()
    source.change({"dataset": "spiral", "layers": [6, 3], "activation": "relu",
                   "features": ["x1", "x2", "sinx1"], "regularization": "l2", "regRate": 0.003})
    for _ in range(5):
        source.advance()
    path = tmp_path / "model.keras"
    source.export_model(str(path))
    assert zipfile.is_zipfile(path)
    loaded = numnet.models.load_model(str(path))
    grid = source.inputs["grid"]
    np.testing.assert_array_equal(loaded.predict(grid, batch_size=len(grid), verbose=0)[:, 0],
                                  decode_output(source.frame()))
    target = Playground()  # default features x1, x2: the input name restores the three
    target.import_model(str(path))
    assert target.imported
    assert target.state["features"] == ["x1", "x2", "sinx1"]
    assert target.state["layers"] == [6, 3] and target.state["activation"] == "relu"
    assert target.state["regularization"] == "l2" and target.state["regRate"] == 0.003
    np.testing.assert_array_equal(decode_output(target.frame()), decode_output(source.frame()))


@pytest.mark.parametrize("name, problem, features", [
    ("keras_xor", "classification", ["x1", "x2"]),
    ("keras_multigauss_all_features", "regression", list(datasets.FEATURES)),
])
def test_import_of_models_made_by_keras(name, problem, features):
    playground = Playground()
    playground.import_model(str(FIXTURES / f"{name}.keras"))
    assert playground.state["problem"] == problem and playground.state["features"] == features
    expected = np.load(FIXTURES / f"{name}.npz")["predictions"][:, 0]
    np.testing.assert_allclose(decode_output(playground.frame()), expected, rtol=1e-5,
                               atol=1e-6)
    playground.advance()  # and it trains on in the playground
    assert playground.trainer.epoch == 1


def test_imported_perceptron(tmp_path):
    model = numnet.Sequential([numnet.layers.Input(shape=(2,)),
                               numnet.layers.TLU(step="sign")])
    model.layers[-1].kernel.assign([[1.0], [-2.0]])
    model.save(str(tmp_path / "tlu.keras"))
    playground = Playground()
    playground.import_model(str(tmp_path / "tlu.keras"))
    assert playground.state["mode"] == "perceptron" and playground.state["step"] == "sign"
    assert playground.frame()["weights"] == [[[1.0], [-2.0]]]


def _save(tmp_path, layers, name="bad.keras", width=2):
    model = numnet.Sequential([numnet.layers.Input(shape=(width,))] + layers)
    path = tmp_path / name
    model.save(str(path))
    return str(path)


@pytest.mark.parametrize("build, message", [
    (lambda: [numnet.layers.Dense(9, "tanh"), numnet.layers.Dense(1, "sigmoid")],
     "more than 8 units"),
    (lambda: [numnet.layers.Dense(2, "tanh") for _ in range(7)] + [numnet.layers.Dense(1)],
     "7 hidden layers"),
    (lambda: [numnet.layers.Dense(3, "tanh"), numnet.layers.Dense(2, "softmax")],
     "output layer must have 1 unit"),
    (lambda: [numnet.layers.Dense(3, "tanh"), numnet.layers.Dense(1, "tanh")],
     "output activation"),
    (lambda: [numnet.layers.Dense(3, "tanh"), numnet.layers.Dense(3, "relu"),
              numnet.layers.Dense(1)], "share one activation"),
    (lambda: [numnet.layers.Dense(3, "elu"), numnet.layers.Dense(1)], "share one activation"),
    (lambda: [numnet.layers.Dense(3, "tanh"), numnet.layers.Dropout(0.5),
              numnet.layers.Dense(1)], "Dropout"),
    (lambda: [numnet.layers.Dense(3, "tanh", use_bias=False), numnet.layers.Dense(1)],
     "needs a bias"),
])
def test_import_refuses_models_it_cannot_draw(tmp_path, build, message):
    playground = Playground()
    before = dict(playground.state)
    with pytest.raises(StateError, match=message) as caught:
        playground.import_model(_save(tmp_path, build()))
    assert caught.value.field == "import" and playground.state == before


def test_import_refuses_files_that_are_not_models(tmp_path):
    playground = Playground()
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(StateError, match="not a model file numnet can load"):
        playground.import_model(str(garbage))
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(StateError, match="not a model file"):
        playground.import_model(str(tmp_path / "empty.keras"))
    wide = _save(tmp_path, [numnet.layers.Dense(1, "sigmoid")], "wide.keras", width=9)
    with pytest.raises(StateError, match="takes 9 inputs"):
        playground.import_model(wide)
    three = _save(tmp_path, [numnet.layers.Dense(1, "sigmoid")], "three.keras", width=3)
    with pytest.raises(StateError, match="enable 3 features first"):
        playground.import_model(three)
    playground.change({"features": ["x1", "x2", "x2sq"]})
    playground.import_model(three)  # now the width matches the enabled features
    assert playground.state["layers"] == []


def test_import_never_runs_code_from_the_file(tmp_path):
    """A Lambda layer (Python bytecode) in a `.keras` file is refused by the safe loader."""
    source = tmp_path / "clean.keras"
    Playground().export_model(str(source))
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"].insert(1, {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {
            "code": base64.b64encode(b"print('owned')").decode(), "defaults": None,
            "closure": None}}}})
    members["config.json"] = json.dumps(config).encode()
    crafted = tmp_path / "lambda.keras"
    with zipfile.ZipFile(crafted, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    playground = Playground()
    with pytest.raises(StateError, match="Lambda layer") as caught:
        playground.import_model(str(crafted))
    assert caught.value.field == "import" and not playground.imported


def test_input_name_records_the_features():
    name = input_name(["sinx2", "x1"])
    assert name == "features_x1_sinx2"
    assert features_from_input_name(name, 2) == ["x1", "sinx2"]
    assert features_from_input_name(name, 3) is None
    assert features_from_input_name("input_layer", 2) is None
    assert features_from_input_name("features_x1_x1", 2) is None


def test_csv_upload_replaces_the_data_and_refuses_bad_files():
    playground = Playground()
    rows = "\n".join(f"{x},{-x},{int(x > 0)}" for x in np.linspace(-5, 5, 40)) + "\n"
    playground.upload_csv(rows)
    assert playground.state["dataset"] == "csv"
    assert len(playground.data.x_train) + len(playground.data.x_test) == 40
    with pytest.raises(StateError, match="line 2"):
        playground.upload_csv("x1,x2,label\n1,2\n")
    assert playground.state["dataset"] == "csv"  # the previous upload stays
    playground.change({"problem": "regression"})  # 0/1 targets suit a regression too
    assert playground.state["dataset"] == "csv"
    playground.upload_csv("1,2,0.5\n2,3,0.1\n3,4,0.2\n4,5,0.3\n")
    with pytest.raises(StateError, match="labels must be 0/1"):
        playground.change({"problem": "classification"})
    assert playground.state["problem"] == "regression"


def test_a_link_cannot_carry_uploaded_data():
    playground = Playground()
    errors = playground.load({"dataset": "csv", "noise": "10"})
    assert [error.field for error in errors] == ["dataset"]
    assert playground.state["dataset"] == "circle" and playground.state["noise"] == 10
    with pytest.raises(StateError, match="upload a CSV file first"):
        playground.change({"dataset": "csv"})


def _run_snippet(text, tmp_path, epochs):
    path = tmp_path / "snippet.py"
    path.write_text(text.replace("EPOCHS = ", f"EPOCHS = {epochs}  # was ", 1))
    return subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


def test_snippet_rebuilds_the_same_network(tmp_path):
    playground = Playground()
    playground.change({"dataset": "spiral", "noise": 15, "layers": [5, 4], "optimizer": "rmsprop",
                       "features": ["x1", "x2", "sinx2"], "regularization": "l1",
                       "regRate": 0.001, "learningRate": 0.01})
    text = snippet.render(playground.state, epochs=0)
    namespace = {"__name__": "playground_snippet"}
    exec(compile(text, "snippet", "exec"), namespace)
    model = namespace["build_model"]()
    for got, want in zip(model.get_weights(), playground.model.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(namespace["x_train"], playground.inputs["train"])
    assert isinstance(model.optimizer, numnet.optimizers.RMSprop)
    result = _run_snippet(text, tmp_path, epochs=2)
    assert result.returncode == 0, result.stderr
    assert "test loss and metric" in result.stdout and (tmp_path / "playground.keras").exists()


def test_perceptron_snippet_runs(tmp_path):
    playground = Playground()
    playground.change({"mode": "perceptron", "dataset": "gauss", "step": "sign"})
    text = snippet.render(playground.state, epochs=3)
    assert "EPOCHS = 3" in text and "fit_rosenblatt" in text and "2 * data.y_train - 1" in text
    result = _run_snippet(text, tmp_path, epochs=50)
    assert result.returncode == 0, result.stderr
    assert "converged: True" in result.stdout


def test_csv_snippet_reads_the_file():
    state, _ = state_module.parse({"dataset": "csv"})
    state["dataset"] = "csv"
    text = snippet.render(state, epochs=0)
    assert 'open("data.csv"' in text and "EPOCHS = 100" in text
    compile(text, "snippet", "exec")


def test_layer_outputs_are_the_models_forward_pass():
    playground = Playground()
    x = playground.inputs["test"]
    outputs = layer_outputs(playground.model, x)
    assert [o.shape for o in outputs] == [(len(x), 4), (len(x), 2), (len(x), 1)]
    np.testing.assert_allclose(outputs[-1], playground.model.predict(x, verbose=0), rtol=1e-6)
