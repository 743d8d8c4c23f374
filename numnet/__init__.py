"""numnet: neural networks from first principles on NumPy, with the Keras API.

`import numnet as keras` runs Keras code for multilayer perceptrons: the same
names, defaults and numbers, on our own reverse-mode autodiff.
"""

__version__ = "0.1.0"

from numnet import activations, backend, callbacks, constraints, initializers, layers, losses
from numnet import metrics
from numnet import models, optimizers, random, regularizers, tree, utils
from numnet.autodiff import GradientTape, StatelessScope, Tensor, Variable
from numnet import ops
from numnet.layers import Input
from numnet.models import Model, Sequential

config = backend


def __getattr__(name):
    # The edge packages import lazily so that `import numnet` stays fast.
    if name in ("saving", "datasets", "sklearn", "export"):
        import importlib
        return importlib.import_module(f"numnet.{name}")
    raise AttributeError(f"module 'numnet' has no attribute '{name}'")


__all__ = [
    "GradientTape", "Input", "Model", "Sequential", "StatelessScope", "Tensor", "Variable",
    "activations",
    "backend", "callbacks", "config", "constraints", "initializers", "layers", "losses", "metrics", "models",
    "ops", "optimizers", "random", "regularizers", "tree", "utils",
]
