"""Layers, as in `keras.layers`."""

from numnet.layers.activation_layers import ELU, PReLU, LeakyReLU, ReLU, Softmax
from numnet.layers.axes import Permute, RepeatVector
from numnet.layers.base import Layer
from numnet.layers.categorical import CategoryEncoding, Discretization, Hashing
from numnet.layers.dot import Dot, dot
from numnet.layers.embedding import Embedding
from numnet.layers.index_lookup import IntegerLookup, StringLookup
from numnet.layers.lambda_layer import Identity, Lambda
from numnet.layers.masking import Masking
from numnet.layers.noise import ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise
from numnet.layers.normalization import BatchNormalization, LayerNormalization, UnitNormalization
from numnet.layers.image_preprocessing import CenterCrop, Resizing
from numnet.layers.rescaling import Rescaling
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
from numnet.layers.wrapper import Wrapper
from numnet.layers import op_layer  # noqa: F401  (registers the ops' Keras class names)

__all__ = [
    "ActivityRegularization", "AlphaDropout", "BatchNormalization", "CategoryEncoding",
    "CenterCrop", "Resizing",
    "Discretization", "Dot", "ELU", "Embedding", "GaussianDropout", "GaussianNoise", "Hashing",
    "Identity", "IntegerLookup", "Lambda", "LayerNormalization", "LeakyReLU", "Masking", "PReLU",
    "Permute", "ReLU", "RepeatVector", "Rescaling", "Softmax", "StringLookup",
    "UnitNormalization", "Wrapper", "dot",
    "Activation", "Add", "Average", "Concatenate", "Dense", "Dropout", "Flatten", "Input",
    "InputLayer", "InputSpec", "KerasTensor", "Layer", "Maximum", "Minimum", "Multiply",
    "Normalization", "Perceptron", "Reshape", "Subtract", "TFSMLayer", "TLU", "add", "average",
    "concatenate", "maximum", "minimum", "multiply", "subtract",
]


def __getattr__(name):
    # TFSMLayer lives with the exporters (it needs TensorFlow); imported when first used.
    if name == "TFSMLayer":
        from numnet.export.tfsm_layer import TFSMLayer
        return TFSMLayer
    raise AttributeError(f"module 'numnet.layers' has no attribute '{name}'")
