"""Callback details Keras' own tests check: `monitor_op`, `LambdaCallback` keyword
arguments, messages through `logging` when interactive logging is off, and
`TerminateOnNaN` on data holding NaN."""

import logging
import warnings

import numpy as np
import pytest

import numnet as keras
from numnet import ops
from numnet.models.data_adapter import NonFiniteDataWarning


def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("mode, monitor, op", [
    ("max", "val_loss", ops.greater), ("min", "val_loss", ops.less),
    ("auto", "loss", ops.less), ("auto", "val_accuracy", ops.greater),
])
def test_monitor_op_is_the_keras_op(mode, monitor, op):
    callback = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode)
    callback.set_model(_model())
    callback._set_monitor_op()
    assert callback.monitor_op is op


def test_lambda_callback_keeps_extra_keyword_arguments():
    def custom(logs):
        return logs

    callback = keras.callbacks.LambdaCallback(custom_method=custom)
    assert callback.custom_method is custom
    with pytest.warns(UserWarning, match="not callback hooks"):
        keras.callbacks.LambdaCallback(on_epoch_ends=custom)


def test_messages_go_to_logging_when_interactive_logging_is_off(capsys, caplog):
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch: 0.5, verbose=1)
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    keras.utils.disable_interactive_logging()
    try:
        assert not keras.utils.is_interactive_logging_enabled()
        with caplog.at_level(logging.INFO, logger="numnet"):
            _model().fit(x, y, epochs=1, verbose=0, callbacks=[scheduler])
    finally:
        keras.utils.enable_interactive_logging()
    assert "LearningRateScheduler setting learning rate to 0.5" in caplog.text
    assert "LearningRateScheduler" not in capsys.readouterr().out
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[scheduler])
    assert "LearningRateScheduler setting learning rate to 0.5" in capsys.readouterr().out


def test_terminate_on_nan_stops_training_on_nan_targets():
    x = np.ones((4, 2), "float32")
    y = np.array([[1.0], [np.nan], [1.0], [1.0]], "float32")
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteDataWarning)
        history = model.fit(x, y, batch_size=1, epochs=3, verbose=0, shuffle=False,
                            callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteDataWarning)
        with pytest.raises(RuntimeError):
            _model().fit(x, y, batch_size=1, epochs=3, verbose=0, shuffle=False,
                         callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)])
