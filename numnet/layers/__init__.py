"""Layers, as in `keras.layers`."""

from numnet.layers.base import Layer
from numnet.layers.core import Activation, Dense
from numnet.layers.input_layer import Input, InputLayer
from numnet.layers.input_spec import InputSpec
from numnet.layers.merging import (
    Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average, concatenate,
    maximum, minimum, multiply, subtract,
)
from numnet.layers.perceptron import TLU, Perceptron
from numnet.layers.preprocessing import Normalization
from numnet.layers.regularization import Dropout
from numnet.layers.reshaping import Flatten, Reshape
from numnet.layers.symbolic import KerasTensor
from numnet.layers import op_layer  # noqa: F401  (registers the ops' Keras class names)

__all__ = [
    "Activation", "Add", "Average", "Concatenate", "Dense", "Dropout", "Flatten", "Input",
    "InputLayer", "InputSpec", "KerasTensor", "Layer", "Maximum", "Minimum", "Multiply", "Normalization",
    "Perceptron", "Reshape", "Subtract", "TLU", "add", "average", "concatenate", "maximum",
    "minimum", "multiply", "subtract",
]
