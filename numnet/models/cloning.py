"""`clone_model`: the same architecture with fresh weights."""

from numnet.layers.base import Layer
from numnet.layers.input_layer import Input, InputLayer
from numnet.layers.symbolic import KerasTensor, producer
from numnet.tree import flatten, map_structure, pack_sequence_as, same_structure


def _clone_layer(layer):
    return layer.__class__.from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """Clones a Sequential or Functional model: same layers and names, new weights.

    The clone's weights are freshly initialized (copy them with
    `clone.set_weights(model.get_weights())`); a compiled model's clone is compiled
    the same way (from its compile config), as in Keras.

    Args:
        model: a `Sequential` or Functional model (a subclassed model is
            rebuilt from its `get_config()`).
        input_tensors: optional `Input` tensor(s) for the clone to start from.
        clone_function: `fn(layer) -> new_layer`, used on every layer
            (by default `layer.__class__.from_config(layer.get_config())`).
        call_function: `fn(layer, *args, **kwargs)` replacing each layer call
            when the Functional graph is rebuilt.
        recursive: also clone nested Sequential/Functional models layer by layer.

    Returns:
        The new model.
    """
    if kwargs:
        raise ValueError(f"Unexpected keyword arguments to clone_model: {sorted(kwargs)}")
    new_model = _clone(model, input_tensors, clone_function, call_function, recursive)
    if getattr(model, "compiled", False):
        new_model.compile_from_config(model.get_compile_config())
    return new_model


def _clone(model, input_tensors, clone_function, call_function, recursive):
    from numnet.models.functional import Functional
    from numnet.models.sequential import Sequential

    def clone(layer):
        if recursive and isinstance(layer, (Sequential, Functional)):
            return clone_model(layer, clone_function=clone_function,
                               call_function=call_function, recursive=True)
        new = (clone_function or _clone_layer)(layer)
        if not isinstance(new, Layer):
            raise ValueError(
                f"`clone_function` must return a Layer; for layer '{layer.name}' it returned "
                f"{new!r}."
            )
        return new

    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("`call_function` is only supported for Functional models.")
        return _clone_sequential(model, input_tensors, clone)
    if isinstance(model, Functional):
        return _clone_functional(model, input_tensors, clone, call_function)
    if clone_function is not None or input_tensors is not None:
        raise ValueError(
            "Arguments `clone_function` and `input_tensors` are only supported for Sequential "
            f"models or Functional models. Received model of type '{type(model).__name__}', "
            f"with clone_function={clone_function} and input_tensors={input_tensors}"
        )
    if call_function is not None:
        raise ValueError(
            "Argument `call_function` is only supported for Functional models. Received model "
            f"of type '{type(model).__name__}', with call_function={call_function}"
        )
    return type(model).from_config(model.get_config())


def _clone_sequential(model, input_tensors, clone):
    """A Sequential model of the cloned layers, on `input_tensors` or a copy of its Input."""
    from numnet.models.sequential import Sequential
    layers = [clone(layer) for layer in model.layers]
    if input_tensors is not None:
        start = flatten(input_tensors)
        if len(start) != 1:
            raise ValueError(
                f"A Sequential model has one input; received input_tensors={input_tensors}."
            )
        layers = [start[0]] + layers
    elif model.input_layer is not None:
        source = model.input_layer
        layers = [Input(batch_shape=source.batch_shape, dtype=source.dtype,
                        name=source.name)] + layers
    copy = Sequential(layers, name=model.name, trainable=model.trainable)
    if not copy.built and model.built:
        copy.build(model.input_shape)
    return copy


def _clone_functional(model, input_tensors, clone, call_function):
    """The graph replayed node by node on new inputs, each layer cloned once (shared layers
    stay shared), through `call_function` when given."""
    from numnet.models.functional import Functional
    new_inputs = _new_inputs(model, input_tensors)
    tensor_map = {id(old): new for old, new in zip(model.inputs, new_inputs)}

    def swap(x):
        return tensor_map[id(x)] if isinstance(x, KerasTensor) else x

    layer_map = {}
    for node in model.nodes_in_order:
        layer = node.layer
        if isinstance(layer, InputLayer):
            continue
        if id(layer) not in layer_map:
            layer_map[id(layer)] = clone(layer)
        new_layer = layer_map[id(layer)]
        args = map_structure(swap, node.call_args)
        call_kwargs = map_structure(swap, node.call_kwargs)
        if call_function is not None:
            out = call_function(new_layer, *args, **call_kwargs)
        else:
            out = new_layer(*args, **call_kwargs)
        for old, new in zip(node.output_tensors, flatten(out)):
            tensor_map[id(old)] = new
    inputs = pack_sequence_as(model.input, new_inputs)
    outputs = pack_sequence_as(model.output, [tensor_map[id(t)] for t in model.outputs])
    return Functional(inputs, outputs, name=model.name, trainable=model.trainable)


def _new_inputs(model, input_tensors):
    """`input_tensors` checked against the model's inputs, or fresh copies of its Inputs."""
    if input_tensors is None:
        return [Input(batch_shape=t.shape, dtype=t.dtype, name=producer(t).name)
                for t in model.inputs]
    if not same_structure(input_tensors, model.input):
        raise ValueError(
            "`input_tensors` must have the same structure as model.input\n"
            f"Reference structure: {model.input}\nReceived structure: {input_tensors}"
        )
    new_inputs = flatten(input_tensors)
    if len(new_inputs) != len(model.inputs):
        raise ValueError(
            f"`input_tensors` must have one tensor per model input "
            f"({len(model.inputs)}); received {len(new_inputs)}."
        )
    return new_inputs
