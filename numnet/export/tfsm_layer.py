"""`TFSMLayer`: a TensorFlow SavedModel used as a numnet layer (inference only).

As `keras.layers.TFSMLayer` does, it loads the folder with
`tf.saved_model.load` and calls one endpoint of it: `serve` for what
`model.export()` writes (numnet's or Keras'), `serving_default` for most
other SavedModels. It needs TensorFlow. The layer runs TensorFlow on NumPy
values, outside numnet's ops: a compiled `predict` therefore runs eagerly
around it, and it has no gradient.
"""

import numpy as np

from numnet.autodiff.tensor import Tensor
from numnet.layers.base import Layer
from numnet.tree import map_structure


class TFSMLayer(Layer):
    """Reloads a SavedModel and calls its `call_endpoint` on the layer's inputs.

    Args:
        filepath: the SavedModel folder.
        call_endpoint: the endpoint to call: an attribute of the reloaded
            object (`serve`) or a signature name (`serving_default`).
        call_training_endpoint: an endpoint for `training=True` calls (None:
            `call_endpoint` serves both).
        trainable, name, dtype: as for every layer (the SavedModel's
            variables stay TensorFlow's: the layer has no numnet weights).

    Example:

    ```python
    model.export("my_keras_model")      # a SavedModel folder
    tfsm_layer = numnet.layers.TFSMLayer("my_keras_model", call_endpoint="serve")
    y_pred = tfsm_layer(x_new)
    ```
    """

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None,
                 trainable=True, name=None, dtype=None):
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        from numnet.export.saved_model import import_tensorflow
        self._tf = import_tensorflow("TFSMLayer")
        self.filepath = str(filepath)
        self.call_endpoint = call_endpoint
        self.call_training_endpoint = call_training_endpoint
        self._reloaded = self._tf.saved_model.load(self.filepath)
        self._endpoint = self._find(call_endpoint)
        self._training_endpoint = None if call_training_endpoint is None else \
            self._find(call_training_endpoint)
        self.built = True

    def _find(self, endpoint):
        if hasattr(self._reloaded, endpoint):
            return getattr(self._reloaded, endpoint), False
        if endpoint in self._reloaded.signatures:
            return self._reloaded.signatures[endpoint], True
        raise ValueError(
            f"The endpoint '{endpoint}' is neither an attribute of the reloaded SavedModel, "
            "nor an entry in the `signatures` field of the reloaded SavedModel. Select "
            "another endpoint via the `call_endpoint` argument. Available endpoints for "
            f"this SavedModel: {sorted(self._reloaded.signatures)}")

    def call(self, inputs, training=False):
        endpoint, is_signature = self._training_endpoint if training and \
            self._training_endpoint is not None else self._endpoint
        arrays = map_structure(lambda t: self._tf.constant(np.asarray(t)), inputs)
        if is_signature:
            outputs = endpoint(**arrays) if isinstance(arrays, dict) else endpoint(arrays)
        else:
            outputs = endpoint(arrays)
        return map_structure(lambda t: Tensor(t.numpy()), outputs)

    def compute_output_shape(self, input_shape):
        endpoint, _ = self._endpoint
        concrete = endpoint if hasattr(endpoint, "structured_outputs") else \
            endpoint.concrete_functions[0]
        return map_structure(lambda spec: tuple(spec.shape.as_list()), concrete.structured_outputs)

    def get_config(self):
        return {**super().get_config(), "filepath": self.filepath,
                "call_endpoint": self.call_endpoint,
                "call_training_endpoint": self.call_training_endpoint}
