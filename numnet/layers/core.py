"""Core layers: `Dense` and `Activation`."""

from numnet.backend import xp

from numnet import activations, constraints, initializers, regularizers
from numnet.autodiff import ops
from numnet.layers.base import Layer
from numnet.serialization import register_builtin, serialize_keras_object

# Activations the fused dense op applies itself (sigmoid and softmax stay separate
# ops so that cross-entropy can reuse their logits, as Keras does).
_FUSABLE = {activations.linear: "linear", activations.relu: "relu", activations.tanh: "tanh"}


@register_builtin("keras.layers")
class Dense(Layer):
    """Densely connected layer: `activation(inputs @ kernel + bias)`.

    Works on inputs of any rank, along the last axis.

    Args:
        units: positive integer, the number of outputs.
        activation: activation name or function (`None` means linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: defaults to `"glorot_uniform"`.
        bias_initializer: defaults to `"zeros"`.
        kernel_regularizer, bias_regularizer: optional weight penalties.

    Input shape: `(batch_size, ..., input_dim)`.
    Output shape: `(batch_size, ..., units)`.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        if lora_rank or quantization_config is not None:
            raise ValueError("Dense: LoRA and quantization are not supported by numnet "
                             "(lora_rank and quantization_config must be None).")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, (int, xp.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units!r}"
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._fused = _FUSABLE.get(self.activation)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1] if input_shape else None
        if input_dim is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs a known last input dimension to build; "
                f"received input_shape={input_shape}."
            )
        self.kernel = self.add_weight(shape=(input_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.bias = (self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint, name="bias")
                     if self.use_bias else None)
        self.built = True

    def _check_input_spec(self, shapes):
        if self.built and isinstance(shapes, tuple) and shapes and shapes[-1] is not None \
                and shapes[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Input of layer '{self.name}' (Dense) is incompatible with the layer: "
                f"expected last axis of size {self.kernel.shape[0]}, "
                f"received input with shape {tuple(shapes)}."
            )

    def call(self, inputs):
        if inputs.data.dtype.kind in "iub":
            # Keras' matmul promotes integer codes (a one-hot lookup's int64) to the float
            # of the kernel; NumPy would make the product float64.
            inputs = ops.cast(inputs, self.kernel.data.dtype)
        try:
            if self._fused is not None:
                return ops.dense(inputs, self.kernel, self.bias, self._fused)
            outputs = ops.dense(inputs, self.kernel, self.bias, "linear")
        except ValueError:
            # Checking shapes up front would cost every step; explain a failure instead.
            self._check_input_spec(tuple(inputs.shape))
            raise
        except TypeError:
            if getattr(getattr(inputs, "data", None), "dtype", None) is not None and \
                    inputs.data.dtype.kind in "USO":
                raise ValueError(
                    f"Layer '{self.name}' (Dense) received text inputs (dtype "
                    f"{inputs.data.dtype}, shape {tuple(inputs.shape)}): its inputs must hold "
                    "numbers. Encode strings first, e.g. with a StringLookup or Hashing layer "
                    "in the model, or convert them before `fit`.") from None
            raise
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize_keras_object(self.kernel_initializer),
            "bias_initializer": serialize_keras_object(self.bias_initializer),
            "kernel_regularizer": serialize_keras_object(self.kernel_regularizer),
            "bias_regularizer": serialize_keras_object(self.bias_regularizer),
            "kernel_constraint": serialize_keras_object(self.kernel_constraint),
            "bias_constraint": serialize_keras_object(self.bias_constraint),
        }


@register_builtin("keras.layers")
class Activation(Layer):
    """Applies an activation function to its input.

    Args:
        activation: an activation name or function.
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
