"""Threshold logic units and Rosenblatt's perceptron.

A threshold logic unit (TLU) computes `step(w^T x + b)`; a perceptron is a
dense layer of TLUs, `phi(X W + b)` for a whole batch. The step has no
useful gradient, so the layer trains with Rosenblatt's rule instead of
backpropagation (`Perceptron.fit_rosenblatt`).
"""

from numnet.backend import xp

from numnet import initializers
from numnet.autodiff import ops
from numnet.kernels.rosenblatt import heaviside_prediction, rosenblatt_epoch, sign_prediction
from numnet.layers.base import Layer
from numnet.serialization import register_builtin, serialize_keras_object

_STEPS = ("heaviside", "sign")


@register_builtin("numnet.layers")
class Perceptron(Layer):
    """A dense layer of threshold logic units: `step(inputs @ kernel + bias)`.

    One TLU per output: with several units it is a multiclass (one-vs-rest,
    one-hot targets) or multilabel (indicator targets) classifier. The step
    has no gradient; train it with `fit_rosenblatt`.

    Args:
        units: positive integer, the number of TLUs (outputs).
        step: `"heaviside"` (outputs 0/1, the default) or `"sign"`
            (outputs -1/0/1).
        use_bias: whether to add a bias vector.
        kernel_initializer: defaults to `"zeros"` (Rosenblatt's start).
        bias_initializer: defaults to `"zeros"`.

    Input shape: `(batch_size, input_dim)`.
    Output shape: `(batch_size, units)`.

    Example:

    >>> layer = Perceptron(1)
    >>> history = layer.fit_rosenblatt([[0., 0.], [0., 1.], [1., 0.], [1., 1.]],
    ...                                [0, 0, 0, 1], seed=0)   # logical AND
    >>> history["errors"][-1]
    0
    """

    def __init__(self, units=1, step="heaviside", use_bias=True, kernel_initializer="zeros",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, xp.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units!r}")
        if step not in _STEPS:
            raise ValueError(f"`step` must be one of {_STEPS}. Received: step={step!r}")
        self.units = int(units)
        self.step = step
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        input_dim = input_shape[-1] if input_shape else None
        if input_dim is None:
            raise ValueError(f"Perceptron layer '{self.name}' needs a known last input "
                             f"dimension to build; received input_shape={input_shape}.")
        self.kernel = self.add_weight(shape=(input_dim, self.units),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = (self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                     name="bias") if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        z = ops.dense(inputs, self.kernel, self.bias, "linear")
        return ops.heaviside(z) if self.step == "heaviside" else ops.sign_step(z)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def fit_rosenblatt(self, x, y, learning_rate=1.0, max_iter=1000, shuffle=True, seed=None):
        """Trains the layer with Rosenblatt's rule, one instance at a time.

        For each instance `x` with targets `y` and outputs `yhat`:
        `w_ij <- w_ij - learning_rate * (yhat_j - y_j) * x_i` and
        `b_j <- b_j - learning_rate * (yhat_j - y_j)`. Epochs visit the
        instances in a fresh random order (`shuffle=True`) and training stops
        after the first epoch without any error, or after `max_iter` epochs.

        Args:
            x: array of shape `(n_samples, input_dim)`.
            y: targets of shape `(n_samples, units)` (or `(n_samples,)` for one
                unit): 0/1 with the Heaviside step, -1/1 with the sign step.
            learning_rate: the rule's `eta`.
            max_iter: the most epochs.
            shuffle: whether to shuffle the instances at each epoch.
            seed: seed of the shuffles.

        Returns:
            A dict: `"errors"` (misclassified instances per epoch),
            `"updates"` (total instances that changed the weights),
            `"epochs"` and `"converged"` (an epoch made no error).
        """
        x = xp.asarray(x, dtype=self.dtype)
        if x.ndim != 2:
            raise ValueError(f"`x` must be 2-D (n_samples, input_dim); got shape {x.shape}.")
        y = xp.asarray(y, dtype=x.dtype)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.shape != (x.shape[0], self.units):
            raise ValueError(f"`y` must have shape ({x.shape[0]}, {self.units}); "
                             f"got {y.shape}.")
        if not self.built:
            self._build_if_needed((None, x.shape[1]))
        w = self.kernel.data
        b = self.bias.data if self.use_bias else xp.zeros(self.units, x.dtype)
        rng = xp.random.default_rng(seed)
        order = xp.arange(x.shape[0])
        predict = heaviside_prediction if self.step == "heaviside" else sign_prediction
        rows = list(x)
        errors, updates, converged = [], 0, False
        for _ in range(int(max_iter)):
            if shuffle:
                rng.shuffle(order)
            n_errors = rosenblatt_epoch(rows, y, w, b, order, learning_rate, predict)
            errors.append(n_errors)
            updates += n_errors
            if n_errors == 0:
                converged = True
                break
        return {"errors": errors, "updates": updates, "epochs": len(errors),
                "converged": converged}

    def get_config(self):
        return {**super().get_config(), "units": self.units, "step": self.step,
                "use_bias": self.use_bias,
                "kernel_initializer": serialize_keras_object(self.kernel_initializer),
                "bias_initializer": serialize_keras_object(self.bias_initializer)}


@register_builtin("numnet.layers")
class TLU(Perceptron):
    """A single threshold logic unit: `step(w^T x + b)`, one output.

    Same arguments as `Perceptron`, with `units=1` by default.
    """

    def __init__(self, units=1, **kwargs):
        super().__init__(units=units, **kwargs)
