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
from numnet.constraints import Constraint
from numnet.initializers import Initializer
from numnet.layers import Input, InputSpec, KerasTensor, Layer
from numnet.losses import Loss
from numnet.metrics import Metric
from numnet.models import Model, Sequential
from numnet.optimizers import Optimizer
from numnet.regularizers import Regularizer
from numnet.backend.name_scope import name_scope

config = backend


def version():
    """numnet's version string (`keras.version()`)."""
    return __version__


def __getattr__(name):
    # The edge packages import lazily so that `import numnet` stays fast.
    if name in ("saving", "datasets", "sklearn", "export"):
        import importlib
        return importlib.import_module(f"numnet.{name}")
    raise AttributeError(f"module 'numnet' has no attribute '{name}'")


__all__ = [
    "Constraint", "GradientTape", "Initializer", "Input", "InputSpec", "KerasTensor", "Layer",
    "Loss", "Metric", "Model", "Optimizer", "Regularizer", "Sequential", "StatelessScope",
    "Tensor", "Variable", "name_scope", "version",
    "activations",
    "backend", "callbacks", "config", "constraints", "initializers", "layers", "losses", "metrics", "models",
    "ops", "optimizers", "random", "regularizers", "tree", "utils",
]
