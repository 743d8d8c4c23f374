"""Weight initializers with Keras 3's names, defaults, formulas and configs.

An initializer is a callable `init(shape, dtype=None)` returning a NumPy array of
`dtype` (default `floatx()`).

Seeding follows Keras 3: an initializer built with an integer seed, *or with no
seed at all*, returns the same values on every call. An unseeded initializer
draws its integer seed once, at construction, from numnet's global generator,
so `numnet.utils.set_random_seed(n)` makes a whole model build reproducible.
Pass a `numnet.random.SeedGenerator` as `seed` (as in Keras; a `xp.random.Generator`
works too) to get fresh, reproducible values on each call.

Example:

```python
init = numnet.initializers.get("glorot_uniform")
kernel = init((784, 300))            # float32, U(-limit, limit)
numnet.initializers.serialize(init)  # {"module": "keras.initializers", ...}
```
"""

import math


from numnet.backend import global_generator, standardize_dtype, to_snake_case, xp
from numnet.random import SeedGenerator
from numnet.serialization import (
    deserialize_keras_object,
    register_builtin,
    serialize_keras_object,
)

# Keras' constant: the standard deviation of a unit normal truncated at +-2.
_TRUNCATION_STDDEV = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None):
    """Returns `(fan_in, fan_out)` for a weight shape, the way Keras computes them.

    1-D shapes use `shape[0]` for both; 2-D shapes are `(fan_in, fan_out)`;
    higher ranks are convolution kernels `(..., in, out)` whose fans are
    multiplied by the receptive field size. `input_axes`/`output_axes`, when
    both are given, name the axes whose sizes multiply into each fan.
    """
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[a] for a in input_axes)
        fan_out = math.prod(shape[a] for a in output_axes)
        return int(fan_in), int(fan_out)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _float_dtype(dtype):
    return xp.dtype(standardize_dtype(dtype))


class Initializer:
    """Base class: `__call__(shape, dtype=None)` returns an initial value array."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            "Initializer subclasses must implement the `__call__()` method."
        )

    def get_config(self):
        """The constructor arguments, as a JSON-compatible dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        """A new initializer with the same config (and so the same seed)."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"


# ---------------------------------------------------------------------------
# Constant initializers
# ---------------------------------------------------------------------------

@register_builtin("keras.initializers")
class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return xp.zeros(tuple(shape), dtype=_float_dtype(dtype))


@register_builtin("keras.initializers")
class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return xp.ones(tuple(shape), dtype=_float_dtype(dtype))


@register_builtin("keras.initializers")
class Constant(Initializer):
    """Every entry equals `value` (a scalar, or an array broadcastable to the shape)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        dtype = _float_dtype(dtype)
        out = xp.empty(tuple(shape), dtype=dtype)
        out[...] = xp.asarray(self.value).astype(dtype)
        return out

    def get_config(self):
        value = self.value
        if isinstance(value, xp.ndarray):
            value = value.tolist()
        elif isinstance(value, xp.generic):
            value = value.item()
        return {"value": value}

    @classmethod
    def from_config(cls, config):
        return cls(config.get("value", 0.0))


@register_builtin("keras.initializers")
class Identity(Initializer):
    """`gain` times the identity matrix (2-D shapes only; rectangular is allowed)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={tuple(shape)} of rank {len(shape)}."
            )
        dtype = _float_dtype(dtype)
        return (self.gain * xp.eye(int(shape[0]), int(shape[1]))).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}


# ---------------------------------------------------------------------------
# Random initializers
# ---------------------------------------------------------------------------

class RandomInitializer(Initializer):
    """Base of the seeded initializers (see the module docstring for seeding)."""

    def __init__(self, seed=None):
        self._init_seed = seed
        if seed is None:
            seed = int(global_generator().integers(1, 10**9))
        elif isinstance(seed, dict):
            seed = deserialize_keras_object(seed)
        elif isinstance(seed, (bool, xp.bool_)) or not isinstance(
            seed, (int, xp.integer, xp.random.Generator, SeedGenerator)
        ):
            raise ValueError(
                "`seed` argument should be an instance of `numnet.random.SeedGenerator()` "
                f"(or a `xp.random.Generator`) or an integer. Received: seed={seed!r}"
            )
        if isinstance(seed, xp.integer):
            seed = int(seed)
        self.seed = seed

    def _generator(self):
        if isinstance(self.seed, xp.random.Generator):
            return self.seed
        if isinstance(self.seed, SeedGenerator):
            return self.seed.numpy_generator()  # one step of the seed per call
        return xp.random.default_rng(self.seed)

    def get_config(self):
        seed = self._init_seed
        if isinstance(seed, xp.random.Generator):
            seed = None
        elif isinstance(seed, xp.integer):
            seed = int(seed)
        elif isinstance(seed, SeedGenerator):
            seed = serialize_keras_object(seed)
        return {"seed": seed}


def _normal(rng, shape, mean, stddev, dtype):
    values = rng.standard_normal(tuple(shape), dtype=xp.float64)
    if stddev != 1.0:
        values *= stddev
    if mean != 0.0:
        values += mean
    return values.astype(dtype, copy=False)


def _truncated_normal(rng, shape, mean, stddev, dtype):
    """Normal samples; those beyond two standard deviations are redrawn."""
    shape = tuple(shape)
    values = rng.standard_normal(shape, dtype=xp.float64)
    flat = values.reshape(-1)
    bad = xp.flatnonzero(xp.abs(flat) > 2.0)
    while bad.size:
        flat[bad] = rng.standard_normal(bad.size, dtype=xp.float64)
        bad = bad[xp.abs(flat[bad]) > 2.0]
    if stddev != 1.0:
        values *= stddev
    if mean != 0.0:
        values += mean
    return values.astype(dtype, copy=False)


def _uniform(rng, shape, minval, maxval, dtype):
    return rng.uniform(minval, maxval, size=tuple(shape)).astype(dtype, copy=False)


@register_builtin("keras.initializers")
class RandomNormal(RandomInitializer):
    """Samples from `N(mean, stddev**2)`."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return _normal(self._generator(), shape, self.mean, self.stddev, _float_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


@register_builtin("keras.initializers")
class RandomUniform(RandomInitializer):
    """Samples from `U[minval, maxval)`."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return _uniform(self._generator(), shape, self.minval, self.maxval, _float_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


@register_builtin("keras.initializers")
class TruncatedNormal(RandomInitializer):
    """`N(mean, stddev**2)` with values beyond two standard deviations redrawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return _truncated_normal(
            self._generator(), shape, self.mean, self.stddev, _float_dtype(dtype)
        )

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


@register_builtin("keras.initializers")
class VarianceScaling(RandomInitializer):
    """Scales its distribution to the weight's fan.

    `scale /= max(1, n)` with `n` = fan_in, fan_out or their average (`mode`);
    then `truncated_normal` uses `stddev = sqrt(scale) / 0.8796...`,
    `untruncated_normal` uses `stddev = sqrt(scale)` and `uniform` uses
    `limit = sqrt(3 * scale)`.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal",
                 seed=None, input_axes=None, output_axes=None):
        if scale <= 0.0:
            raise ValueError(
                f"Argument `scale` must be positive float. Received: scale={scale}"
            )
        if mode not in _MODES:
            raise ValueError(
                f"Invalid `mode` argument: {mode}. Please use one of {list(_MODES)}"
            )
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution}. "
                f"Please use one of {list(_DISTRIBUTIONS)}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        dtype = _float_dtype(dtype)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            scale = self.scale / max(1.0, fan_in)
        elif self.mode == "fan_out":
            scale = self.scale / max(1.0, fan_out)
        else:
            scale = self.scale / max(1.0, (fan_in + fan_out) / 2.0)
        rng = self._generator()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / _TRUNCATION_STDDEV
            return _truncated_normal(rng, shape, 0.0, stddev, dtype)
        if self.distribution == "untruncated_normal":
            return _normal(rng, shape, 0.0, math.sqrt(scale), dtype)
        limit = math.sqrt(3.0 * scale)
        return _uniform(rng, shape, -limit, limit, dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A named VarianceScaling preset whose config is only its seed and axes."""

    _scale = 1.0
    _mode = "fan_in"
    _distribution = "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(scale=self._scale, mode=self._mode,
                         distribution=self._distribution, seed=seed,
                         input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {
            "seed": RandomInitializer.get_config(self)["seed"],
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


@register_builtin("keras.initializers")
class GlorotUniform(_FixedVarianceScaling):
    """Xavier uniform: `U(-limit, limit)`, `limit = sqrt(6 / (fan_in + fan_out))`."""

    _mode, _distribution = "fan_avg", "uniform"


@register_builtin("keras.initializers")
class GlorotNormal(_FixedVarianceScaling):
    """Xavier normal: truncated normal, `stddev = sqrt(2 / (fan_in + fan_out))`."""

    _mode, _distribution = "fan_avg", "truncated_normal"


@register_builtin("keras.initializers")
class HeUniform(_FixedVarianceScaling):
    """He uniform: `U(-limit, limit)`, `limit = sqrt(6 / fan_in)`."""

    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


@register_builtin("keras.initializers")
class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal, `stddev = sqrt(2 / fan_in)`."""

    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


@register_builtin("keras.initializers")
class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: `U(-limit, limit)`, `limit = sqrt(3 / fan_in)`."""

    _scale, _mode, _distribution = 1.0, "fan_in", "uniform"


@register_builtin("keras.initializers")
class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal, `stddev = sqrt(1 / fan_in)`."""

    _scale, _mode, _distribution = 1.0, "fan_in", "truncated_normal"


@register_builtin("keras.initializers")
class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal sample, times `gain`.

    The shape is flattened to `(prod(shape[:-1]), shape[-1])`; rows are
    orthonormal if there are fewer rows than columns, else columns are.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        num_rows = math.prod(shape[:-1])
        num_cols = shape[-1]
        flat = (max(num_rows, num_cols), min(num_rows, num_cols))
        a = self._generator().standard_normal(flat)
        q, r = xp.linalg.qr(a)
        q *= xp.sign(xp.diag(r))
        if num_rows < num_cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(_float_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# ---------------------------------------------------------------------------
# Snake-case aliases, string lookup and (de)serialization
# ---------------------------------------------------------------------------

zeros = Zeros
ones = Ones
constant = Constant
identity = Identity
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal
orthogonal = Orthogonal

_CLASSES = (
    Initializer, Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform,
    TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal, HeUniform,
    HeNormal, LecunUniform, LecunNormal, Orthogonal,
)
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal  # Keras' long names
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
})


def serialize(initializer):
    """Returns the Keras config envelope of an initializer."""
    return serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    """Rebuilds an initializer from its config envelope (or its name)."""
    return deserialize_keras_object(
        config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
        printable_module_name="initializer",
    )


def get(identifier):
    """Resolves an initializer identifier.

    Accepts `None` (returns None), a name (`"glorot_uniform"`,
    `"GlorotUniform"`, aliases `"normal"`, `"uniform"`, `"zero"`, `"one"`), a
    config dict, an array (used as the exact initial value), an `Initializer`
    class (instantiated) or any callable (returned as is).
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier)
        if cls is None or cls is Initializer:
            valid = sorted(k for k, v in ALL_OBJECTS_DICT.items() if v is not Initializer)
            raise ValueError(
                f"Could not interpret initializer identifier: {identifier!r}. "
                f"Valid names are: {', '.join(valid)}."
            )
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, (xp.ndarray, xp.generic)) or hasattr(identifier, "numpy"):
        value = xp.asarray(getattr(identifier, "data", identifier))

        def initialize_fn(shape, dtype=None):
            if tuple(shape) != value.shape:
                raise ValueError(
                    f"Expected `shape` to be {value.shape} for direct tensor as "
                    f"initializer. Received shape={tuple(shape)}"
                )
            return value.astype(standardize_dtype(dtype))

        return initialize_fn
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
