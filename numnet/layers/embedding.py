"""`Embedding`: turns integer ids into dense vectors (rows of a learned table)."""

import warnings

from numnet import constraints, initializers, regularizers
from numnet.autodiff.ops.lookup import embedding_lookup
from numnet.layers.base import Layer
from numnet.serialization import register_builtin, serialize_keras_object


def _positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value} "
                         f"(of type {type(value).__name__}).")
    return value


@register_builtin("keras.layers")
class Embedding(Layer):
    """Maps each integer id in `[0, input_dim)` to a trainable `output_dim`-vector.

    Input shape `(batch, ...)` of ids (integers, or floats holding integers);
    output shape `(batch, ..., output_dim)`. With `mask_zero=True` id 0 is
    padding: the output carries a mask that is False there, which losses,
    metrics and mask-aware layers downstream honour (so `input_dim` should
    then be the vocabulary size + 1).

    Args:
        input_dim: the vocabulary size (largest id + 1).
        output_dim: the size of each vector.
        embeddings_initializer: "uniform" (between -0.05 and 0.05) by default.
        embeddings_regularizer, embeddings_constraint: optional, for the table.
        mask_zero: whether id 0 is a padding value to mask out.
        weights: optional initial table, `(input_dim, output_dim)`.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        _positive_int("input_dim", input_dim)
        _positive_int("output_dim", output_dim)
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)
        if quantization_config is not None or lora_rank:
            raise ValueError("Embedding: quantization and LoRA are not supported by numnet.")
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings",
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True

    def call(self, inputs):
        try:
            return embedding_lookup(self.embeddings, inputs)
        except ValueError as error:
            raise ValueError(f"Embedding layer '{self.name}' (input_dim={self.input_dim}): "
                             f"{error}") from None

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        from numnet import ops as any_ops  # also records the mask of a symbolic input
        return any_ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": serialize_keras_object(self.embeddings_initializer),
                "embeddings_regularizer": serialize_keras_object(self.embeddings_regularizer),
                "activity_regularizer": serialize_keras_object(self.activity_regularizer),
                "embeddings_constraint": serialize_keras_object(self.embeddings_constraint),
                "mask_zero": self.mask_zero, "quantization_config": None}
