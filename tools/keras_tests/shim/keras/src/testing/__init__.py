"""`keras.src.testing` for numnet: our `TestCase` and the device queries (no accelerators)."""

from keras.src.testing.test_case import TestCase


def uses_gpu():
    return False


def uses_tpu():
    return False


jax_uses_gpu = jax_uses_tpu = tensorflow_uses_gpu = tensorflow_uses_tpu = uses_gpu
torch_uses_gpu = uses_gpu

__all__ = ["TestCase", "jax_uses_gpu", "jax_uses_tpu", "tensorflow_uses_gpu",
           "tensorflow_uses_tpu", "torch_uses_gpu", "uses_gpu", "uses_tpu"]
