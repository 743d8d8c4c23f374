"""Activation functions, by name or as functions, as in `keras.activations`.

Every activation of Keras 3 is here, with Keras' names, arguments, defaults
and serialization names (`swish` is `silu` and `hard_swish` is `hard_silu`,
so both serialize under the second name, as in Keras). Each takes a tensor
(or array) and returns a tensor; the formulas and their derivatives live in
the kernel table (`numnet.kernels.activations`), made primitives by
`numnet.autodiff.ops.nn`.

`heaviside` and `sign` are numnet's own: the perceptron's step functions,
forward only, since their derivative is zero almost everywhere.

Deliberate differences from Keras 3.15.1 (TensorFlow backend), both where
Keras is wrong:

- `sparsemax` is the projection onto the simplex of Martins & Astudillo;
  Keras 3.15.1 computes its threshold from the sum of the cumulative sums,
  so its outputs do not sum to 1 when more than one entry is nonzero
  (keras-team/keras#23425, fixed upstream by keras-team/keras#23469).
- `celu`'s gradient at exactly `x == 0` is 1, its derivative there;
  TensorFlow's autodiff adds the two one-sided branches and reports 2.
"""

from numnet.autodiff import ops
from numnet.serialization import get_registered_object


def linear(x):
    """The identity, `linear(x) = x`."""
    return ops.linear(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: `max(x, 0)`, with an optional leak, cap and threshold.

    As in Keras, only values strictly above `threshold` pass (`x == threshold`
    gives 0), the result is clipped to `[0, max_value]`, and
    `negative_slope * (threshold - x)` is subtracted below the threshold.
    """
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
    """`x * sigmoid(x)`, also known as swish (`swish` is this very function)."""
    return ops.silu(x)


swish = silu


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


def celu(x, alpha=1.0):
    """Continuously differentiable exponential linear unit.

    `max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)`. Its gradient at
    exactly 0 is 1 (Keras on TensorFlow reports 2 there; see the module docstring).
    """
    return ops.celu(x, alpha=alpha)


def glu(x, axis=-1):
    """Gated linear unit: `a * sigmoid(b)`, where `a` and `b` are the two halves of `x`
    along `axis` (whose size must be even); the output has half that size."""
    return ops.glu(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    """`x` where `|x| > threshold`, else 0."""
    return ops.hard_shrink(x, threshold=threshold)


def soft_shrink(x, threshold=0.5):
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`, else 0."""
    return ops.soft_shrink(x, threshold=threshold)


def hard_silu(x):
    """Hard SiLU (hard swish): `x * relu6(x + 3) / 6`."""
    return ops.hard_silu(x)


hard_swish = hard_silu


def hard_tanh(x):
    """`clip(x, -1, 1)`."""
    return ops.hard_tanh(x)


def log_sigmoid(x):
    """`log(sigmoid(x))`, computed as `-softplus(-x)`."""
    return ops.log_sigmoid(x)


def sparse_plus(x):
    """SparsePlus: 0 for `x <= -1`, `(x + 1)**2 / 4` for `-1 < x < 1`, `x` for `x >= 1`."""
    return ops.sparse_plus(x)


def sparse_sigmoid(x):
    """Sparse sigmoid: 0 for `x <= -1`, `(x + 1) / 2` for `-1 < x < 1`, 1 for `x >= 1`."""
    return ops.sparse_sigmoid(x)


def sparsemax(x, axis=-1):
    """Sparsemax: the projection of `x` onto the probability simplex along `axis`.

    Like softmax its outputs sum to 1, but small entries are exactly 0 (see the
    module docstring for how this differs from Keras 3.15.1).
    """
    return ops.sparsemax(x, axis=axis)


def squareplus(x, b=4):
    """Squareplus: `(x + sqrt(x**2 + b)) / 2`."""
    return ops.squareplus(x, b=b)


def tanh_shrink(x):
    """`x - tanh(x)`."""
    return ops.tanh_shrink(x)


def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value` (both arguments are required)."""
    return ops.threshold(x, threshold, default_value)


def heaviside(x):
    """The Heaviside step: 1 for `x >= 0`, 0 otherwise. Not differentiable."""
    return ops.heaviside(x)


def sign(x):
    """The sign step: -1, 0 or 1. Not differentiable."""
    return ops.sign_step(x)


ALL_ACTIVATIONS = {
    fn.__name__: fn
    for fn in (linear, relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh,
               softplus, softsign, silu, gelu, mish, exponential, softmax, log_softmax,
               celu, glu, hard_shrink, soft_shrink, hard_silu, hard_tanh, log_sigmoid,
               sparse_plus, sparse_sigmoid, sparsemax, squareplus, tanh_shrink, threshold,
               heaviside, sign)
}
# Keras' aliases: resolvable by name, serialized under the function's own name.
ALL_ACTIVATIONS["swish"] = silu
ALL_ACTIVATIONS["hard_swish"] = hard_silu


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
