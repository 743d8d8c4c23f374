"""`predict`'s forward pass for the models the fused training step covers.

Calling a model goes through each layer's `__call__`, wraps arrays in
tensors and checks what it builds: right for a general model, but for one
sample through a small MLP that bookkeeping costs as much as the arithmetic.
For a `Sequential` stack of preprocessing and `Dense` layers (and `Dropout`,
which passes its input through at inference), `predict` runs
this plain loop instead: the same NumPy operations in the same order as the
layers' own forward passes (so the same numbers, bit for bit), on arrays.
"""

from numnet import activations
from numnet.autodiff.tensor import Tensor
from numnet.backend import xp
from numnet.layers.base import _to_floatx_tensor, _to_tensor
from numnet.layers.core import Dense
from numnet.layers.regularization import Dropout
from numnet.models.fused_step import _HIDDEN_ACTIVATIONS, _PREPROCESSING

_ACTIVATIONS = {**_HIDDEN_ACTIVATIONS, activations.softmax: "softmax"}


class FusedDenseForward:
    """The outputs of a Sequential Dense stack on a batch of NumPy inputs.

    `FusedDenseForward.plan(model)` returns one, or None when the model is
    anything else (then `predict` calls the model as usual).
    """

    @classmethod
    def plan(cls, model):
        from numnet.models.sequential import Sequential
        from numnet.models.trainer import Trainer

        if not isinstance(model, Sequential) or type(model).call is not Sequential.call or \
                type(model).predict_step is not Trainer.predict_step:
            return None
        # Dropout passes its input through at inference.
        layers = [layer for layer in model.layers if type(layer) is not Dropout]
        dense = [layer for layer in layers if isinstance(layer, Dense)]
        if not dense or not all(layer.built for layer in layers):
            return None
        n_prefix = layers.index(dense[0])
        if layers[n_prefix:] != dense or any(
                type(layer) not in _PREPROCESSING for layer in layers[:n_prefix]):
            return None
        stages = []
        for i, layer in enumerate(dense):
            act = _ACTIVATIONS.get(layer.activation)
            if type(layer) is not Dense or act is None or \
                    (act == "softmax" and i != len(dense) - 1):
                return None
            stages.append((layer, act))
        return cls(layers[:n_prefix], stages)

    def __init__(self, prefix, stages):
        self.prefix = prefix
        self.stages = stages

    def __call__(self, x):
        out = x
        for layer in self.prefix:
            out = layer(out, training=False)
        if not self.prefix:  # the input conversion the first layer's __call__ would do
            first = self.stages[0][0]
            out = (_to_floatx_tensor if first._casts_float64_inputs() else _to_tensor)(out)
        a = out.data
        if a.ndim != 2:
            return None
        for layer, act in self.stages:
            kernel = layer.kernel.data
            if a.shape[1] != kernel.shape[0]:
                return None  # the layer's own call explains the mismatch
            z = a @ kernel
            if layer.bias is not None:
                z += layer.bias.data
            # Dense applies these three in place itself; the others as its activation does.
            if act == "relu":
                xp.maximum(z, 0, out=z)
            elif act == "tanh":
                xp.tanh(z, out=z)
            elif act != "linear":
                z = layer.activation(Tensor(z)).data
            a = z
        return a
