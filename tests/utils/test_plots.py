"""Tests for `numnet.utils.plots`: each figure is rendered to a PNG and checked."""

import subprocess
import sys

import numpy as np
import pytest

import numnet as keras

pytest.importorskip("matplotlib")

from numnet.utils import plots  # noqa: E402


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def assert_png(path, size):
    assert path.stat().st_size > 1000
    assert png_size(path) == size


HISTORY = {"loss": [1.0, 0.6, 0.5], "accuracy": [0.5, 0.7, 0.8],
           "val_loss": [0.8, 0.65, 0.6], "val_accuracy": [0.6, 0.7, 0.75]}


def test_learning_curves_from_fit_history(tmp_path):
    keras.utils.set_random_seed(0)
    x = np.random.rand(64, 3).astype("float32")
    y = (x.sum(axis=1) > 1.5).astype("int64")
    model = keras.Sequential([keras.layers.Input(shape=[3]), keras.layers.Dense(2,
                                                                                activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    path = tmp_path / "curves.png"
    figure = keras.utils.plot_learning_curves(history, to_file=path, dpi=50)
    assert_png(path, (400, 250))  # figsize (8, 5) at 50 dpi
    labels = sorted(line.get_label() for line in figure.axes[0].get_lines())
    assert labels == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_validation_curves_shift_half_an_epoch():
    figure = plots.plot_learning_curves(HISTORY, shift_validation=True)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    np.testing.assert_allclose(lines["loss"].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(lines["val_loss"].get_xdata(), [0.5, 1.5, 2.5])
    unshifted = plots.plot_history(HISTORY, metrics=["loss"])
    assert sorted(line.get_label() for line in unshifted.axes[0].get_lines()) == \
        ["loss", "val_loss"]


def test_learning_curves_bad_arguments():
    with pytest.raises(ValueError, match="metrics"):
        plots.plot_learning_curves(HISTORY, metrics=["precision"])
    with pytest.raises(ValueError, match="history"):
        plots.plot_learning_curves([1, 2, 3])


def test_image_grid_with_predictions(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(12, 28, 28)).astype("uint8")
    labels = np.arange(12) % 10
    probabilities = np.eye(10)[(labels + (np.arange(12) % 3 == 0)) % 10]
    path = tmp_path / "grid.png"
    figure = plots.plot_image_grid(images, labels=labels, predictions=probabilities,
                                   class_names=keras.datasets.fashion_mnist.CLASS_NAMES,
                                   n_rows=2, n_cols=5, to_file=path, dpi=50)
    assert_png(path, (300, 120))  # 5 x 1.2 in by 2 x 1.2 in at 50 dpi
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0] == "Trouser\n(T-shirt/top)" and titles[1] == "Trouser\n(Trouser)"
    assert figure.axes[0].title.get_color() == "red"


def test_image_grid_bad_arguments():
    with pytest.raises(ValueError, match="images"):
        plots.plot_image_grid(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n_rows"):
        plots.plot_image_grid(np.zeros((3, 4, 4)), n_rows=0)


def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    path = tmp_path / "cm.png"
    figure = plots.plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c"],
                                         to_file=path, figsize=(4, 3), dpi=50)
    assert_png(path, (200, 150))
    image = figure.axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(image, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    normalized = plots.plot_confusion_matrix(y_true, np.eye(3)[y_pred], normalize="true")
    np.testing.assert_allclose(normalized.axes[0].get_images()[0].get_array().sum(axis=1), 1)
    with pytest.raises(ValueError, match="normalize"):
        plots.plot_confusion_matrix(y_true, y_pred, normalize="rows")
    with pytest.raises(ValueError, match="y_pred"):
        plots.plot_confusion_matrix(y_true, y_pred[:3])


def test_predictions_scatter(tmp_path):
    y_true = np.linspace(0, 5, 50)
    y_pred = y_true + 0.1
    path = tmp_path / "scatter.png"
    figure = plots.plot_predictions(y_true, y_pred.reshape(-1, 1), to_file=path, figsize=(4, 4),
                                    dpi=50)
    assert_png(path, (200, 200))
    assert figure.axes[0].get_title() == "RMSE = 0.1"
    with pytest.raises(ValueError, match="y_pred"):
        plots.plot_predictions(y_true, y_pred[:10])


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install numnet\[plot\]"):
        plots.plot_learning_curves(HISTORY)


def test_import_numnet_does_not_import_matplotlib():
    code = "import sys, numnet, numnet.utils; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
