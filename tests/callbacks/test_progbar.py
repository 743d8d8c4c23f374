"""`numnet.utils.Progbar` averages as Keras' does: a value not named in `stateful_metrics`
is shown as its average over the steps so far, each update weighted by the steps it
covers; at the final update every value is shown as given."""

import io

import pytest

import numnet as keras


class _Terminal(io.StringIO):
    def isatty(self):  # so every update draws
        return True


def _shown(stream):
    return stream.getvalue().split("\r")[-1]


def test_values_are_averaged_over_steps_unless_stateful():
    stream = _Terminal()
    bar = keras.utils.Progbar(10, interval=0.0, stateful_metrics=["lr"], stream=stream)
    bar.update(1, [("loss", 1.0), ("lr", 0.5)])
    bar.update(3, [("loss", 3.0), ("lr", 0.25)])  # covers steps 2 and 3
    expected = (1.0 * 1 + 3.0 * 2) / 3
    assert f"loss: {expected:.4f}" in _shown(stream) and "lr: 0.2500" in _shown(stream)
    bar.add(2, [("loss", 4.0)])  # steps 4 and 5
    expected = (1.0 * 1 + 3.0 * 2 + 4.0 * 2) / 5
    assert f"loss: {expected:.4f}" in _shown(stream)
    bar.update(10, [("loss", 9.0)])  # the final update shows the value as given
    assert "loss: 9.0000" in _shown(stream)


def test_stateless_metrics_names_the_averaged_ones_instead():
    stream = _Terminal()
    bar = keras.utils.Progbar(4, interval=0.0, stateless_metrics=["loss"], stream=stream)
    bar.update(1, {"loss": 2.0, "acc": 0.5})
    bar.update(2, {"loss": 4.0, "acc": 0.75})
    assert "loss: 3.0000" in _shown(stream) and "acc: 0.7500" in _shown(stream)
    with pytest.raises(ValueError, match="not both"):
        keras.utils.Progbar(4, stateful_metrics=[], stateless_metrics=[])
