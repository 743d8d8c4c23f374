"""What the server needs of a model: its name, version, tensor specs and a batch `predict`.

The HTTP layer, the request codecs and the micro-batcher only ever talk to a
`LoadedModel`, never to a numnet `Model`, so any format that can say what its
inputs and outputs are and map a batch of named arrays to named arrays can be
served: `KerasModel` wraps a `.keras` file today; an exported directory (ONNX,
the NumPy module) plugs in later as another subclass plus a loader registered
with `numnet.serve.repository.register_format`.
"""

import abc
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One named input or output tensor.

    `shape` includes the batch dimension first; `None` marks a dimension of
    any size (always the batch dimension, sometimes others).
    """

    name: str
    dtype: np.dtype
    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "shape", tuple(None if d is None else int(d)
                                                for d in self.shape))

    def describe_shape(self):
        """The shape with -1 for variable dimensions, as both protocols write it."""
        return [-1 if d is None else d for d in self.shape]


class LoadedModel(abc.ABC):
    """A model version ready to answer predictions.

    Subclasses set the attributes in `__init__` and implement `predict`. The
    server calls `predict` from one worker thread at a time per model, on
    inputs it has already checked against `inputs` (names, dtypes, shapes,
    equal batch sizes), so `predict` need not be thread-safe or defensive.

    Attributes:
        name: the model name in URLs.
        version: a positive integer.
        inputs: tuple of `TensorSpec`, in the model's order.
        outputs: tuple of `TensorSpec`, in the model's order.
        platform: `<project>_<format>` for Open Inference Protocol metadata.
    """

    def __init__(self, name, version, inputs, outputs, platform):
        self.name = str(name)
        self.version = int(version)
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.platform = str(platform)
        self.input_names = tuple(spec.name for spec in self.inputs)
        self.output_names = tuple(spec.name for spec in self.outputs)

    @abc.abstractmethod
    def predict(self, inputs):
        """Maps `{input name: array of shape (n, ...)}` to `{output name: array (n, ...)}`."""

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} version {self.version}>"


class FunctionModel(LoadedModel):
    """A `LoadedModel` from a plain function (for tests, and formats without a model object).

    Args:
        function: `function(inputs_dict) -> outputs_dict` on NumPy arrays.
        name, version, inputs, outputs, platform: as in `LoadedModel`.
    """

    def __init__(self, function, name, version, inputs, outputs, platform="numnet_python"):
        super().__init__(name, version, inputs, outputs, platform)
        self._function = function

    def predict(self, inputs):
        return self._function(inputs)


class KerasModel(LoadedModel):
    """A numnet model loaded from a `.keras` file (or an unzipped `.keras` folder).

    Loading goes through `numnet.saving.load_model` with `safe_mode=True`, so no
    code from the file ever runs. Outputs are named as TensorFlow names the
    outputs of a Keras-exported signature: `output_0`, `output_1`, ... in
    order, or the keys of a model whose outputs are a dict.
    """

    def __init__(self, model, name, version, source=None):
        self.model = model
        self.source = source
        inputs, self._dict_inputs = _input_specs(model)
        self._feed_names = [spec.name for spec in inputs]
        # One zero row tells the outputs' structure, dtypes and shapes (and warms the model up).
        probe = self._run({spec.name: np.zeros((1,) + tuple(d or 1 for d in spec.shape[1:]),
                                               spec.dtype) for spec in inputs})
        outputs, self._output_keys = _output_specs(model, probe)
        super().__init__(name, version, inputs, outputs, platform="numnet_keras")

    @classmethod
    def load(cls, path, name, version):
        """Loads `path` (a `.keras` file) as version `version` of model `name`."""
        from numnet.saving import load_model
        model = load_model(path, compile=False, safe_mode=True)
        return cls(model, name, version, source=path)

    def predict(self, inputs):
        outputs = self._run(inputs)
        return dict(zip(self.output_names, _flat_outputs(outputs, self._output_keys)))

    def _run(self, inputs):
        names = self._feed_names
        if self._dict_inputs:
            feed = {name: inputs[name] for name in names}
        elif len(names) == 1:
            feed = inputs[names[0]]
        else:
            feed = [inputs[name] for name in names]
        return self.model.predict_on_batch(feed)


def _input_specs(model):
    """(specs, whether the model takes a dict) from a model's symbolic inputs or build shape."""
    dtype = np.dtype(getattr(model, "dtype", None) or "float32")
    structure = getattr(model, "input", None) if _is_functional(model) else None
    tensors = getattr(model, "inputs", None)
    if tensors:
        if isinstance(structure, dict):
            names = sorted(structure)
            tensors = [structure[key] for key in names]
        else:
            names = list(getattr(model, "input_names", None) or [t.name for t in tensors])
        specs = [TensorSpec(name, np.dtype(getattr(t, "dtype", None) or dtype), t.shape)
                 for name, t in zip(names, tensors)]
        return specs, isinstance(structure, dict)
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        shape = None
    if shape is None or (shape and isinstance(shape[0], (tuple, list))):
        raise ValueError(
            f"Cannot serve model '{model.name}': its input shape is unknown. Save it after "
            "building it with an `Input(shape=...)` layer or after calling it on data.")
    return [TensorSpec("inputs", dtype, (None,) + tuple(shape[1:]))], False


def _is_functional(model):
    from numnet.models.functional import Functional
    return isinstance(model, Functional)


def _output_specs(model, probe):
    """Output specs named as TensorFlow names exported Keras outputs, from a probe batch."""
    if isinstance(probe, dict):
        keys = sorted(probe)
        arrays = [probe[key] for key in keys]
        names = keys
    else:
        keys = None
        arrays = list(probe) if isinstance(probe, (list, tuple)) else [probe]
        names = [f"output_{i}" for i in range(len(arrays))]
    try:
        declared = model.output_shape
    except (AttributeError, ValueError):
        declared = None
    if declared is not None and len(arrays) == 1 and not isinstance(declared, list):
        declared = [declared]
    specs = []
    for i, (name, array) in enumerate(zip(names, arrays)):
        array = np.asarray(array)
        shape = (None,) + array.shape[1:]
        if isinstance(declared, (list, tuple)) and len(declared) == len(arrays) and \
                isinstance(declared[i], (list, tuple)) and len(declared[i]) == array.ndim:
            shape = (None,) + tuple(declared[i][1:])
        specs.append(TensorSpec(name, array.dtype, shape))
    return specs, keys


def _flat_outputs(outputs, keys):
    if keys is not None:
        return [np.asarray(outputs[key]) for key in keys]
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(out) for out in outputs]
    return [np.asarray(outputs)]
