"""`Functional`: a model defined by a graph of layers called on `Input` tensors.

`numnet.Model(inputs, outputs)` returns one. Building it walks the graph that
the layer calls recorded (each call of a layer on `KerasTensor`s is a `Node`),
from the outputs back to the inputs, and fixes the order in which the nodes
run. The layer order, the config format and the names follow Keras 3, so that
`model.layers`, `get_weights()` and saved files line up with real Keras.
"""

import warnings

import numpy as np

from numnet.layers.base import Layer
from numnet.layers.input_layer import Input, InputLayer
from numnet.layers.op_layer import Operation
from numnet.layers.symbolic import KerasTensor, flatten, map_structure, pack_like
from numnet.models.model import Model
from numnet.serialization import deserialize_keras_object, register_builtin, serialize_keras_object


def _history(tensor):
    return tensor._keras_history


def _node_of(tensor):
    layer, node_index, _ = tensor._keras_history
    return layer._inbound_nodes[node_index]


def _node_index(node):
    for i, candidate in enumerate(node.layer._inbound_nodes):
        if candidate is node:
            return i
    raise ValueError(f"Node of layer '{node.layer.name}' is not among its inbound nodes.")


@register_builtin("keras.src.models.functional")
class Functional(Model):
    """A model made of layers called on symbolic `Input` tensors.

    Usually created through `numnet.Model(inputs=..., outputs=...)`:

    ```python
    input_wide = numnet.Input(shape=[5], name="input_wide")
    input_deep = numnet.Input(shape=[6], name="input_deep")
    hidden1 = numnet.layers.Dense(30, activation="relu")(input_deep)
    hidden2 = numnet.layers.Dense(30, activation="relu")(hidden1)
    concat = numnet.layers.concatenate([input_wide, hidden2])
    output = numnet.layers.Dense(1, name="output")(concat)
    model = numnet.Model(inputs=[input_wide, input_deep], outputs=[output])
    ```

    Args:
        inputs: an `Input` tensor, or a list/tuple/dict of them.
        outputs: a tensor computed from the inputs, or a list/tuple/dict of them.
        name: the model's name (`functional`, `functional_1`, ... by default).
        trainable: whether the model's weights are trained.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, trainable=trainable, name=name or None,
                       **{k: v for k, v in kwargs.items() if k == "dtype"})
        unknown = set(kwargs) - {"dtype"}
        if unknown:
            raise TypeError(
                f"Functional model got unexpected keyword arguments: {sorted(unknown)}."
            )
        self._init_trainer()
        if isinstance(inputs, dict):
            for key, tensor in inputs.items():
                if isinstance(tensor, KerasTensor) and key != tensor.name:
                    warnings.warn(
                        "When providing `inputs` as a dict, all keys in the dict must match "
                        "the names of the corresponding tensors. Received key "
                        f"'{key}' mapping to value {tensor} which has name '{tensor.name}'. "
                        f"Change the tensor name to '{key}' (via `Input(..., name='{key}')`)",
                        stacklevel=2,
                    )
        flat_inputs = flatten(inputs)
        flat_outputs = flatten(outputs)
        for what, tensors, value in (("inputs", flat_inputs, inputs),
                                     ("outputs", flat_outputs, outputs)):
            if not tensors:
                raise ValueError(f"A Functional model needs at least one tensor in `{what}`.")
            for t in tensors:
                if not isinstance(t, KerasTensor):
                    raise ValueError(
                        f"All `{what}` values must be KerasTensors (the results of "
                        f"`numnet.Input()` and of calling layers on them). Received: "
                        f"{what}={value!r} including a value of type {type(t).__name__}."
                    )
        for t in flat_inputs:
            if not isinstance(_history(t)[0], InputLayer):
                raise ValueError(
                    f"Model inputs must come from `numnet.Input()`. Received {t} produced by "
                    f"layer '{_history(t)[0].name}' ({type(_history(t)[0]).__name__})."
                )
        if len({id(t) for t in flat_inputs}) != len(flat_inputs):
            raise ValueError(
                f"The same Input tensor appears more than once in `inputs`: {flat_inputs}."
            )
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._flat_inputs = flat_inputs
        self._flat_outputs = flat_outputs
        self._map_graph()
        self.built = True
        self._build_shapes = None

    # --------------------------------------------------------------- graph
    def _map_graph(self):
        """Orders the nodes and layers as Keras' `map_graph` does."""
        input_ids = {id(t) for t in self._flat_inputs}
        finished, in_progress = set(), set()
        ordered_nodes = []  # post-order: every node after the nodes it depends on
        layer_index = {}

        def visit(tensor, path):
            layer = _history(tensor)[0]
            node = _node_of(tensor)
            if id(node) in finished:
                return
            if id(node) in in_progress:
                raise ValueError(f"The graph has a cycle through layer '{layer.name}'.")
            layer_index.setdefault(id(layer), len(layer_index))
            in_progress.add(id(node))
            if id(tensor) not in input_ids:
                if isinstance(layer, InputLayer):
                    raise ValueError(
                        f"Graph disconnected: cannot find parent for {tensor} (Input "
                        f"'{layer.name}'), which is needed by "
                        f"{' <- '.join(repr(p) for p in path) or 'the outputs'}. It is not "
                        f"among the model's inputs {[t.name for t in self._flat_inputs]}; "
                        "add it to `inputs`."
                    )
                for parent in node.input_tensors:
                    visit(parent, path + [layer.name])
            finished.add(id(node))
            in_progress.discard(id(node))
            ordered_nodes.append(node)

        for output in self._flat_outputs:
            visit(output, [])

        node_depth, layer_depth, layers = {}, {}, {}
        for node in reversed(ordered_nodes):
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = depth
            layers[id(node.layer)] = node.layer
            node_depth[id(node)] = depth
            if not isinstance(node.layer, InputLayer):
                for parent in node.parent_nodes:
                    node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
        for t in self._flat_inputs:
            layer = _history(t)[0]
            if id(layer) not in layer_depth:  # an input no output depends on
                layer_depth[id(layer)] = 0
                layer_index[id(layer)] = -1
                layers[id(layer)] = layer
                ordered_nodes.insert(0, layer._inbound_nodes[0])
        order = sorted(layers, key=lambda k: (-layer_depth[k], layer_index[k]))
        self._layers_in_order = [layers[k] for k in order]
        self._network_nodes = {id(node) for node in ordered_nodes}
        self._network_node_list = ordered_nodes
        self._node_depth = node_depth
        names = [layer.name for layer in self._layers_in_order]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"The name {duplicates[0]!r} is used {names.count(duplicates[0])} times in the "
                "model. All operation names should be unique."
            )
        # The execution plan: one entry per non-input node, parents first.
        plan = []
        for node in ordered_nodes:
            if isinstance(node.layer, InputLayer):
                continue
            args, kwargs = node.call_args, node.call_kwargs
            simple = (len(args) == 1 and isinstance(args[0], KerasTensor) and not kwargs)
            plan.append((node.layer, args, kwargs, [id(t) for t in node.output_tensors],
                         id(args[0]) if simple else None))
        self._plan = plan

    def _sublayers(self):
        return list(self._layers_in_order)

    @property
    def layers(self):
        """All layers, input layers included, in Keras' topological order.

        Ops recorded on symbolic tensors (`x + y`) are not layers; `operations` lists them.
        """
        return [layer for layer in self._layers_in_order if not isinstance(layer, Operation)]

    @property
    def operations(self):
        """Every layer and op of the graph, in topological order."""
        return list(self._layers_in_order)

    @layers.setter
    def layers(self, value):
        raise AttributeError("`Model.layers` is read-only for Functional models.")

    @property
    def inputs(self):
        """The input tensors, as a flat list (dicts by sorted key)."""
        return list(self._flat_inputs)

    @property
    def outputs(self):
        """The output tensors, as a flat list (dicts by sorted key)."""
        return list(self._flat_outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_names(self):
        """The inputs' names (the `Input(name=...)`; dict keys for dict inputs)."""
        if isinstance(self._inputs_struct, dict):
            return sorted(self._inputs_struct)
        return [_history(t)[0].name for t in self._flat_inputs]

    @property
    def output_names(self):
        """The names of the layers producing the outputs (dict keys for dict outputs)."""
        if isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)
        return [_history(t)[0].name for t in self._flat_outputs]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._flat_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._flat_outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def _output_shape(self):
        return self.output_shape

    @_output_shape.setter
    def _output_shape(self, value):
        pass

    def build(self, input_shape=None):
        """A Functional model is built when it is created; nothing to do."""
        self.built = True

    # ------------------------------------------------------------- inputs
    def _input_error(self, index, tensor, value, expected=None):
        found = tuple(np.shape(getattr(value, "data", value)))
        return ValueError(
            f"Input {index} with name '{tensor.name}' of model '{self.name}' is incompatible "
            f"with the model: expected shape={expected or tensor.shape}, found shape={found}."
        )

    def _flatten_call_inputs(self, inputs):
        """The inputs as a flat list in `model.inputs` order, checked against the Input shapes."""
        n = len(self._flat_inputs)
        names = self.input_names
        if isinstance(inputs, dict):
            keys = (sorted(self._inputs_struct) if isinstance(self._inputs_struct, dict)
                    else names)
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(
                    f'Missing data for input "{missing[0]}" of model \'{self.name}\'. You '
                    f"passed a data dictionary with keys {sorted(inputs)}. Expected the "
                    f"following keys: {keys}"
                )
            extra = sorted(set(inputs) - set(keys))
            if extra:
                raise ValueError(
                    f"Model '{self.name}' received data for unknown input(s) {extra}. "
                    f"Expected the following keys: {keys}"
                )
            flat = [inputs[k] for k in keys]
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) != n:
                raise ValueError(
                    f"Model '{self.name}' expects {n} input(s) {names}, but it received "
                    f"{len(inputs)} input array(s). Pass one array per input, in this order, "
                    "or a dict keyed by input name."
                )
            flat = list(inputs)
        else:
            if n != 1:
                raise ValueError(
                    f"Model '{self.name}' expects {n} inputs {names}, but it received a "
                    "single array. Pass a list/tuple with one array per input, or a dict "
                    "keyed by input name."
                )
            flat = [inputs]
        for i, (tensor, value) in enumerate(zip(self._flat_inputs, flat)):
            shape = getattr(value, "shape", None)
            if shape is None:
                continue
            expected = tensor.shape
            if len(shape) != len(expected):
                if len(shape) == len(expected) - 1 and expected[-1] == 1:
                    flat[i] = value = value.reshape(tuple(shape) + (1,))
                    shape = value.shape
                elif len(shape) == len(expected) + 1 and shape[-1] == 1:
                    flat[i] = value = value.reshape(tuple(shape)[:-1])
                    shape = value.shape
                else:
                    raise self._input_error(i, tensor, value)
            for d, e in zip(shape, expected):
                if e is not None and d != e:
                    raise self._input_error(i, tensor, value)
        return flat

    def _standardize_model_inputs(self, x):
        """Orders `x` (array, list/tuple or dict by input name) like `model.inputs`."""
        flat = self._flatten_call_inputs(x)
        return flat[0] if len(flat) == 1 else flat

    # --------------------------------------------------------------- call
    def call(self, inputs, training=None, mask=None):
        """Runs the recorded graph on real inputs."""
        flat = self._flatten_call_inputs(inputs)
        values = {id(t): v for t, v in zip(self._flat_inputs, flat)}

        def lookup(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x

        for layer, args, kwargs, output_ids, simple_id in self._plan:
            if simple_id is not None:
                out = layer(values[simple_id], training=training)
            else:
                call_args = map_structure(lookup, args)
                call_kwargs = map_structure(lookup, kwargs)
                call_kwargs.setdefault("training", training)
                out = layer(*call_args, **call_kwargs)
            if len(output_ids) == 1:
                values[output_ids[0]] = out
            else:
                for key, value in zip(output_ids, flatten(out)):
                    values[key] = value
        result = [values[id(t)] for t in self._flat_outputs]
        structure = self._outputs_struct
        if isinstance(structure, (list, tuple)) and len(structure) == 1 and \
                isinstance(structure[0], KerasTensor):
            return result[0]
        return pack_like(structure, result)

    def compute_output_shape(self, input_shape):
        """The output shapes (checked input shapes must match the `Input`s)."""
        if isinstance(input_shape, tuple) and all(d is None or isinstance(d, (int, np.integer))
                                                  for d in input_shape):
            shapes = [input_shape]
        elif isinstance(input_shape, dict):
            shapes = flatten({k: [v] for k, v in input_shape.items()})
        else:
            shapes = list(input_shape)
        if len(shapes) != len(self._flat_inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self._flat_inputs)} input(s) "
                f"{self.input_names}; received {len(shapes)} input shape(s) {shapes}."
            )
        for i, (tensor, shape) in enumerate(zip(self._flat_inputs, shapes)):
            shape = tuple(shape)
            if len(shape) != len(tensor.shape) or any(
                    e is not None and d is not None and d != e
                    for d, e in zip(shape[1:], tensor.shape[1:])):
                raise ValueError(
                    f"Input {i} with name '{tensor.name}' of model '{self.name}' is "
                    f"incompatible with the model: expected shape={tensor.shape}, "
                    f"found shape={shape}."
                )
        outs = [t.shape for t in self._flat_outputs]
        return outs[0] if len(outs) == 1 else outs

    # ------------------------------------------------------------ summary
    @property
    def _is_graph_network(self):
        """True when `summary()` needs the "Connected to" column (not a plain chain)."""
        by_depth = {}
        for node in self._network_node_list:
            by_depth.setdefault(self._node_depth.get(id(node), 0), []).append(node)
        for nodes in by_depth.values():
            if len(nodes) > 1 or (len(nodes) == 1 and len(nodes[0].input_tensors) > 1):
                return True
        for layer in self._layers_in_order:
            if sum(1 for node in layer._inbound_nodes if id(node) in self._network_nodes) > 1:
                return True
        return False

    def _connected_to(self, layer):
        """The "Connected to" cell of `summary()`: `layer_name[node][tensor]` entries."""
        parts = []
        for node in layer._inbound_nodes:
            if id(node) not in self._network_nodes:
                continue
            for t in node.input_tensors:
                source, node_index, tensor_index = _history(t)
                parts.append(f"{source.name}[{node_index}][{tensor_index}]")
        if not parts:
            return "-"
        lines, current = [], ""
        for i, part in enumerate(parts):
            piece = part + ("," if i < len(parts) - 1 else "")
            if current and len(current) + 1 + len(piece) > 24:
                lines.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
        lines.append(current)
        return "\n".join(lines)

    # ------------------------------------------------------------- config
    def _reindex(self, layer, node_index):
        """A node's index counting only the nodes that belong to this model."""
        skipped = sum(1 for node in layer._inbound_nodes[:node_index]
                      if id(node) not in self._network_nodes)
        return node_index - skipped

    def _tensor_config(self, tensor):
        layer, node_index, tensor_index = _history(tensor)
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(tensor.shape), "dtype": tensor.dtype,
                           "keras_history": [layer.name, self._reindex(layer, node_index),
                                             tensor_index]}}

    def _serialize_value(self, value):
        if isinstance(value, KerasTensor):
            return self._tensor_config(value)
        if isinstance(value, (list, tuple)):
            return [self._serialize_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self._serialize_value(v) for k, v in value.items()}
        return serialize_keras_object(value)

    def get_config(self):
        """Keras 3's Functional config: `layers` with `inbound_nodes`, `input_layers`, `output_layers`."""
        layer_configs = []
        for layer in self._layers_in_order:
            entry = serialize_keras_object(layer)
            entry["name"] = layer.name
            nodes = []
            for node in layer._inbound_nodes:
                if id(node) not in self._network_nodes or not node.input_tensors:
                    continue
                nodes.append({"args": self._serialize_value(list(node.call_args)),
                              "kwargs": self._serialize_value(dict(node.call_kwargs))})
            entry["inbound_nodes"] = nodes
            layer_configs.append(entry)

        def ref(tensor):
            layer, node_index, tensor_index = _history(tensor)
            return [layer.name, self._reindex(layer, node_index), tensor_index]

        def refs(structure):
            if isinstance(structure, KerasTensor):
                return ref(structure)
            if isinstance(structure, dict):
                return {k: refs(v) for k, v in structure.items()}
            return [refs(v) for v in structure]

        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": refs(self._inputs_struct),
                "output_layers": refs(self._outputs_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the layers and replays their calls from `get_config()`'s output."""
        created = {}
        pending = []
        for layer_data in config["layers"]:
            layer = deserialize_keras_object(layer_data, custom_objects=custom_objects,
                                             printable_module_name="layer")
            name = layer_data.get("name", layer.name)
            created[name] = layer
            pending.append([layer, list(layer_data.get("inbound_nodes", []))])

        class _Unavailable(Exception):
            pass

        def revive(value):
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                name, node_index, tensor_index = value["config"]["keras_history"]
                if name not in created:
                    raise ValueError(
                        f"Functional config refers to unknown layer '{name}' in an inbound node."
                    )
                nodes = created[name]._inbound_nodes
                if node_index >= len(nodes):
                    raise _Unavailable
                return nodes[node_index].output_tensors[tensor_index]
            if isinstance(value, list):
                return [revive(v) for v in value]
            if isinstance(value, dict):
                if "class_name" in value:
                    return deserialize_keras_object(value, custom_objects=custom_objects)
                return {k: revive(v) for k, v in value.items()}
            return value

        while pending:
            progressed = False
            for item in pending:
                layer, nodes = item
                while nodes:
                    try:
                        args = revive(nodes[0].get("args", []))
                        kwargs = revive(nodes[0].get("kwargs", {}))
                        if kwargs.get("mask", True) is None:
                            del kwargs["mask"]  # Keras records `mask=None` for nested models
                    except _Unavailable:
                        break
                    layer(*args, **kwargs)
                    nodes.pop(0)
                    progressed = True
            pending = [item for item in pending if item[1]]
            if pending and not progressed:
                raise ValueError(
                    "Could not rebuild the Functional model from its config: the inbound "
                    f"nodes of layers {[item[0].name for item in pending]} refer to tensors "
                    "that are never created."
                )

        def tensor(ref):
            name, node_index, tensor_index = ref
            if name not in created:
                raise ValueError(f"Functional config: unknown input/output layer '{name}'.")
            return created[name]._inbound_nodes[node_index].output_tensors[tensor_index]

        def structure(refs):
            if isinstance(refs, dict):
                return {k: structure(v) for k, v in refs.items()}
            if isinstance(refs, (list, tuple)) and len(refs) == 3 and isinstance(refs[0], str) \
                    and isinstance(refs[1], int):
                return tensor(refs)
            return [structure(v) for v in refs]

        inputs = structure(config["input_layers"])
        outputs = structure(config["output_layers"])
        target = cls if cls is not Model else Functional
        return target(inputs, outputs, name=config.get("name"),
                      trainable=config.get("trainable", True))

    def get_build_config(self):
        return None


__all__ = ["Functional", "Input"]
