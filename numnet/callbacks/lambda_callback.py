"""`LambdaCallback`: a callback made of plain functions."""

import warnings

from numnet.callbacks.callback import Callback

_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end")


class LambdaCallback(Callback):
    """Builds a callback from functions, e.g. `on_epoch_end=lambda epoch, logs: ...`.

    `on_batch_begin`/`on_batch_end` are accepted as aliases of the train-batch
    hooks. Only the hooks given are installed, so a callback without batch
    functions costs nothing per batch. Other keyword arguments become
    attributes of the callback, as in Keras (a name starting with `on_` that
    is not a hook gets a warning: it would never be called).

    ```python
    print_loss = numnet.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    ```
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        if "on_batch_begin" in kwargs:
            hooks["on_train_batch_begin"] = kwargs.pop("on_batch_begin")
        if "on_batch_end" in kwargs:
            hooks["on_train_batch_end"] = kwargs.pop("on_batch_end")
        extra = {name: kwargs.pop(name) for name in sorted(set(kwargs) - set(_HOOKS))}
        misspelled = [name for name in extra if name.startswith("on_")]
        if misspelled:
            warnings.warn(f"LambdaCallback: {misspelled} are not callback hooks, so they will "
                          f"never be called; the hooks are {list(_HOOKS)}.", stacklevel=2)
        self.__dict__.update(extra)
        hooks.update(kwargs)
        # A per-instance subclass, so that CallbackList sees exactly which
        # batch hooks are overridden.
        overrides = {}
        for name, fn in hooks.items():
            if fn is not None:
                overrides[name] = _wrap(fn, name)
        self.__class__ = type("LambdaCallback", (LambdaCallback,), overrides)


def _wrap(fn, name):
    if name.endswith(("train_begin", "train_end", "test_begin", "test_end",
                      "predict_begin", "predict_end")):
        return lambda self, logs=None: fn(logs)
    return lambda self, index, logs=None: fn(index, logs)
