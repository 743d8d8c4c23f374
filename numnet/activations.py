"""Activation functions, by name or as functions, as in `keras.activations`.

Each takes a tensor (or array) and returns a tensor; the backward rules live
in `numnet.autodiff.ops.nn`. `heaviside` and `sign` are the perceptron's step
functions: forward only, since their derivative is zero almost everywhere.
"""

from numnet.autodiff import ops
from numnet.serialization import get_registered_object


def linear(x):
    """The identity, `linear(x) = x`."""
    return ops.linear(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: `max(x, 0)`, with an optional leak, cap and threshold."""
    return ops.relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def relu6(x):
    """`min(max(x, 0), 6)`."""
    return ops.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    """`x` for `x >= 0`, `negative_slope * x` otherwise."""
    return ops.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """Exponential linear unit."""
    return ops.elu(x, alpha=alpha)


def selu(x):
    """Scaled exponential linear unit (self-normalizing networks)."""
    return ops.selu(x)


def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return ops.sigmoid(x)


def hard_sigmoid(x):
    """`relu6(x + 3) / 6`."""
    return ops.hard_sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def softplus(x):
    """`log(exp(x) + 1)`."""
    return ops.softplus(x)


def softsign(x):
    """`x / (abs(x) + 1)`."""
    return ops.softsign(x)


def silu(x):
    """`x * sigmoid(x)`, also known as swish."""
    return ops.silu(x)


def swish(x):
    """`x * sigmoid(x)` (alias of `silu`)."""
    return ops.silu(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit."""
    return ops.gelu(x, approximate=approximate)


def mish(x):
    """`x * tanh(softplus(x))`."""
    return ops.mish(x)


def exponential(x):
    """`exp(x)`."""
    return ops.exponential(x)


def softmax(x, axis=-1):
    """Normalized exponentials along `axis`: a probability distribution."""
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """`x - logsumexp(x)` along `axis`."""
    return ops.log_softmax(x, axis=axis)


def heaviside(x):
    """The Heaviside step: 1 for `x >= 0`, 0 otherwise. Not differentiable."""
    return ops.heaviside(x)


def sign(x):
    """The sign step: -1, 0 or 1. Not differentiable."""
    return ops.sign_step(x)


ALL_ACTIVATIONS = {
    fn.__name__: fn
    for fn in (linear, relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh,
               softplus, softsign, silu, swish, gelu, mish, exponential, softmax,
               log_softmax, heaviside, sign)
}


def serialize(activation):
    """The name Keras stores in configs for `activation` (`"linear"` for None)."""
    if activation is None:
        return "linear"
    name = getattr(activation, "__name__", None)
    if name in ALL_ACTIVATIONS and ALL_ACTIVATIONS[name] is activation:
        return name
    from numnet.serialization import serialize_keras_object
    return serialize_keras_object(activation)


def deserialize(config, custom_objects=None):
    """Resolves a serialized activation."""
    return get(config, custom_objects=custom_objects)


def get(identifier, custom_objects=None):
    """Returns the activation function for a name, a function, a config or None."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        found = ALL_ACTIVATIONS.get(identifier) or get_registered_object(identifier, custom_objects)
        if found is None:
            raise ValueError(
                f"Unknown activation: '{identifier}'. Expected one of "
                f"{sorted(ALL_ACTIVATIONS)} or a callable. Received: activation={identifier!r}"
            )
        return found
    if isinstance(identifier, dict):
        from numnet.serialization import deserialize_keras_object
        return deserialize_keras_object(identifier, custom_objects=custom_objects,
                                        module_objects=ALL_ACTIVATIONS,
                                        printable_module_name="activation")
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret activation identifier: {identifier!r}. "
        "Expected a string, a callable or None."
    )
