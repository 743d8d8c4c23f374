"""Layers, as in `keras.layers`."""

from numnet.layers.base import Layer
from numnet.layers.core import Activation, Dense
from numnet.layers.input_layer import Input, InputLayer
from numnet.layers.preprocessing import Normalization
from numnet.layers.reshaping import Flatten, Reshape
from numnet.layers.symbolic import KerasTensor

__all__ = ["Activation", "Dense", "Flatten", "Input", "InputLayer", "KerasTensor", "Layer",
           "Normalization", "Reshape"]
