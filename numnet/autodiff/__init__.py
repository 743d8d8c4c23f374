"""The autodiff core: tensors, variables, the gradient tape and the ops."""

from numnet.autodiff.tape import GradientTape, is_recording
from numnet.autodiff.tensor import StatelessScope, Tensor, Variable
from numnet.autodiff import ops

__all__ = ["GradientTape", "StatelessScope", "Tensor", "Variable", "ops", "is_recording"]
