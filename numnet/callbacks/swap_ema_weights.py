"""`SwapEMAWeights`: evaluate (and optionally checkpoint) with the optimizer's EMA weights."""

from numnet.callbacks.callback import Callback


class SwapEMAWeights(Callback):
    """Swaps the model's weights with the optimizer's moving averages around evaluation.

    Needs an optimizer with `use_ema=True`. Before evaluation (and
    prediction) the exponential moving averages go into the model and its
    trained weights into the averages' place; afterwards they are swapped
    back, so training continues from the trained weights. With
    `swap_on_epoch=True` the swap also happens at the end of each epoch and
    is undone at the start of the next, so callbacks that run after this one
    (say `ModelCheckpoint`) see the averaged weights.

    Keras 3.15's `on_predict_end` leaves the averages in the model after a
    prediction; numnet swaps them back, as after an evaluation.

    Args:
        swap_on_epoch: also swap at epoch ends, default False.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _ema_optimizers(self):
        """The optimizers keeping moving averages: the model's, or a `MultiOptimizer`'s
        inner ones with `use_ema` (the optimizer a `LossScaleOptimizer` wraps, for one)."""
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        inner = getattr(optimizer, "optimizers", None)
        if inner is not None:
            found = [o for o in inner if getattr(o, "use_ema", False)]
            if not found:
                raise ValueError(
                    "SwapEMAWeights must be used when at least one inner optimizer has "
                    "`use_ema=True` set. Received a MultiOptimizer with all inner optimizers "
                    "having `use_ema=False`.")
            return found
        if optimizer is None or not getattr(optimizer, "use_ema", False):
            raise ValueError(
                "SwapEMAWeights must be used when `use_ema=True` is set on the optimizer. "
                f"Received: use_ema={getattr(optimizer, 'use_ema', None)}"
            )
        return [optimizer]

    def _pairs(self):
        """(model variable, its moving average) pairs, found through the optimizers' variables.

        An optimizer names the average of a variable with path `p`
        `<p with "/" and ":" as "_">_average` (Keras' slot naming).
        """
        by_name = {v.name: v for optimizer in self._ema_optimizers()
                   for v in optimizer.variables}
        pairs = []
        for variable in self.model.trainable_variables:
            path = str(getattr(variable, "path", None) or variable.name)
            average = by_name.get(path.replace("/", "_").replace(":", "_") + "_average")
            if average is not None:
                pairs.append((variable, average))
        return pairs

    def _swap_variables(self):
        for variable, average in self._pairs():
            trained = variable.numpy().copy()
            variable.assign(average.numpy())
            average.assign(trained)

    def _finalize_ema_values(self):
        # `fit` ends by copying the averages into the model: make them the current weights.
        for variable, average in self._pairs():
            average.assign(variable.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            if epoch == self.params["epochs"] - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        self.on_test_begin(logs)

    def on_predict_end(self, logs=None):
        self.on_test_end(logs)
