"""The TensorBoard callback, read back with the `tensorboard` package (no TensorFlow).

The reference run (tests/fixtures/reference_fidelity.*, from
tests/fixtures/generate_reference_fidelity.py) is Keras 3's own TensorBoard callback
on the same model, data and initial weights: numnet must write the same event
kinds, tags, steps and values.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import numnet as keras

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util
except ImportError:  # pragma: no cover - tensorboard is in the `test` extra
    pytest.skip("the tensorboard package (numnet[tensorboard], in the test extra) is not "
                "installed", allow_module_level=True)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
with np.load(FIXTURES / "reference_fidelity.npz") as _npz:
    REF = dict(_npz)
TB = json.loads((FIXTURES / "reference_fidelity.json").read_text())["tensorboard"]


def _read(folder):
    """{(run, tag): [(step, plugin, value), ...]} for every summary under `folder`."""
    found = {}
    for run in ("train", "validation"):
        path = os.path.join(folder, run)
        if not os.path.isdir(path):
            continue
        accumulator = EventAccumulator(path, size_guidance={"tensors": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["tensors"]:
            plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
            found[(run, tag)] = [(e.step, plugin, tensor_util.make_ndarray(e.tensor_proto))
                                 for e in accumulator.Tensors(tag)]
    return found


def _keras_tag(tag, model):
    """Keras' tag with numnet's weight path in place of Keras' (`<path>/histogram`).

    Weight paths differ by the layer and model names' session counters (`dense_3`,
    `sequential_2`).
    """
    paths = dict(zip(TB["weight_paths"], (w.path for w in model.weights)))
    head, _, kind = tag.rpartition("/")
    return f"{paths[head]}/{kind}" if head in paths else tag


def _fit_like_the_reference(folder, **callback_kwargs):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([REF[f"tb/w{i}"] for i in range(4)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.2), loss="binary_crossentropy",
                  metrics=["accuracy"])
    callback = keras.callbacks.TensorBoard(log_dir=folder, **callback_kwargs)
    model.fit(REF["tb/x"], REF["tb/y"], verbose=0, callbacks=[callback], **TB["fit"])
    return model


def test_events_match_keras_tags_steps_and_values(tmp_path):
    model = _fit_like_the_reference(str(tmp_path), **TB["callback"])
    ours = _read(str(tmp_path))
    expected = {}
    for event in TB["events"]:
        expected.setdefault((event["run"], _keras_tag(event["tag"], model)), []).append(event)
    assert set(ours) == set(expected)
    for key, events in expected.items():
        got = ours[key]
        assert [step for step, _, _ in got] == [e["step"] for e in events], key
        for (step, plugin, value), event in zip(got, events):
            assert plugin == event["plugin"], key
            if plugin == "scalars":
                np.testing.assert_allclose(value, REF[event["key"]], rtol=1e-5, atol=1e-6,
                                           err_msg=str(key))
            elif plugin == "histograms":
                want = REF[event["key"]]
                assert value.shape == want.shape == (30, 3)
                np.testing.assert_allclose(value[:, :2], want[:, :2], rtol=1e-5, atol=1e-6)
                np.testing.assert_array_equal(value[:, 2], want[:, 2], err_msg=str(key))
            elif plugin == "images":
                assert [int(value[0]), int(value[1])] == event["size"]
                from PIL import Image
                import io
                for i in range(event["images"]):
                    pixels = np.asarray(Image.open(io.BytesIO(value[2 + i])))
                    want = REF[f"{event['key']}/image{i}"][..., 0]
                    assert np.abs(pixels.astype(int) - want.astype(int)).max() <= 1
            elif plugin == "graph_keras_model":
                assert json.loads(value.item()) == json.loads(model.to_json())
    weight_paths = {w.path for w in model.weights}
    assert {tag[: -len("/histogram")] for (_, tag) in ours if tag.endswith("/histogram")} \
        == weight_paths


def test_epoch_updates_write_every_epoch_and_no_batch_scalars(tmp_path):
    model = _fit_like_the_reference(str(tmp_path), histogram_freq=1, write_graph=False)
    kernel_tag = f"{model.layers[0].kernel.path}/histogram"
    found = _read(str(tmp_path))
    assert not any(tag.startswith("batch_") for _, tag in found)
    assert ("train", "keras") not in found
    for run, tag in [("train", "epoch_loss"), ("train", "epoch_accuracy"),
                     ("train", "epoch_learning_rate"), ("validation", "epoch_loss"),
                     ("train", kernel_tag)]:
        assert [step for step, _, _ in found[(run, tag)]] == [0, 1, 2], (run, tag)
    # one evaluation per epoch, at the optimizer's step (4 batches per epoch)
    assert [s for s, _, _ in found[("validation", "evaluation_loss_vs_iterations")]] == \
        [4, 8, 12]
    lr = found[("train", "epoch_learning_rate")][0][2]
    np.testing.assert_allclose(lr, 0.2, rtol=1e-7)
    histogram = found[("train", kernel_tag)][0][2]
    assert histogram[:, 2].sum() == 12  # every kernel entry counted once


def test_batch_update_freq_writes_every_batch(tmp_path):
    _fit_like_the_reference(str(tmp_path), update_freq="batch", write_graph=False,
                            write_steps_per_second=True)
    found = _read(str(tmp_path))
    assert [s for s, _, _ in found[("train", "batch_loss")]] == list(range(1, 13))
    assert [s for s, _, _ in found[("train", "batch_steps_per_second")]] == list(range(1, 13))
    steps_per_second = found[("train", "epoch_steps_per_second")]
    assert [s for s, _, _ in steps_per_second] == [0, 1, 2]
    assert all(value > 0 for _, _, value in steps_per_second)


def test_evaluate_alone_writes_evaluation_scalars(tmp_path):
    model = _fit_like_the_reference(str(tmp_path / "fit"))
    model.evaluate(REF["tb/x"], REF["tb/y"], verbose=0,
                   callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "eval"),
                                                          write_graph=False)])
    found = _read(str(tmp_path / "eval"))
    assert [s for s, _, _ in found[("validation", "evaluation_accuracy_vs_iterations")]] == [12]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="profile_batch"):
        keras.callbacks.TensorBoard(profile_batch=2)
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(update_freq="sometimes")


def test_missing_tensorboard_package_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("tensorboard"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(ImportError, match=r"numnet\[tensorboard\]"):
        keras.callbacks.TensorBoard()
