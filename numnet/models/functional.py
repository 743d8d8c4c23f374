"""`Functional`: a model defined by a graph of layers called on `Input` tensors.

`numnet.Model(inputs, outputs)` returns one. Building it walks the graph that
the layer calls recorded (each call of a layer on `KerasTensor`s is a `Node`),
from the outputs back to the inputs, and fixes the order in which the nodes
run. The layer order, the config format and the names follow Keras 3, so that
`model.layers`, `get_weights()` and saved files line up with real Keras.
"""

import inspect
import warnings

import numpy as np

from numnet.layers import auto_config
from numnet.layers.base import Layer
from numnet.layers.input_layer import Input, InputLayer
from numnet.layers.op_layer import Operation
from numnet.layers.input_spec import InputSpec
from numnet.layers.symbolic import KerasTensor, keras_history, producer
from numnet.tree import flatten, flatten_with_path, map_structure, pack_sequence_as, same_kind, same_structure
from numnet.models.model import Model, revive_with_constructor
from numnet.serialization import deserialize_keras_object, register_builtin, serialize_keras_object


def _node_of(tensor):
    layer, node_index, _ = keras_history(tensor)
    return layer._inbound_nodes[node_index]


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
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            tensors = flatten(value)
            if not tensors:
                raise ValueError(f"`{what}` argument cannot be empty. Received:\n"
                                 f"inputs={inputs}\noutputs={outputs}")
            for t in tensors:
                if not isinstance(t, KerasTensor):
                    raise ValueError(
                        f"All `{what}` values must be KerasTensors (the results of "
                        f"`numnet.Input()` and of calling layers on them). Received: "
                        f"{what}={value!r} including invalid value {t!r} of type {type(t)}"
                    )
        if not all(isinstance(producer(t), InputLayer) for t in flatten(inputs)):
            inputs, outputs = _clone_from_intermediate(inputs, outputs)
        flat_inputs = flatten(inputs)
        if len({id(t) for t in flat_inputs}) != len(flat_inputs):
            raise ValueError(
                f"The same Input tensor appears more than once in `inputs`: {flat_inputs}."
            )
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._flat_inputs = flat_inputs
        self._flat_outputs = flatten(outputs)
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
            layer = producer(tensor)
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
                        f"Output with path `{current_path[0]}` is not connected to `inputs`: "
                        f"it needs {tensor} (Input '{layer.name}'"
                        f"{', via ' + ' <- '.join(path) if path else ''}), which is not "
                        f"among the model's inputs {[t.name for t in self._flat_inputs]}."
                    )
                for parent in node.input_tensors:
                    visit(parent, path + [layer.name])
            finished.add(id(node))
            in_progress.discard(id(node))
            ordered_nodes.append(node)

        current_path = [""]
        for path, output in flatten_with_path(self._outputs_struct):
            current_path[0] = ".".join(str(p) for p in path)
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
            layer = producer(t)
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

    _operations = operations  # the name Keras' own code and tests use

    @layers.setter
    def layers(self, value):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. "
                             "Please use another name.")

    @property
    def inputs(self):
        """The input tensors, as a flat list (dicts by sorted key)."""
        return list(self._flat_inputs)

    @property
    def outputs(self):
        """The output tensors, as a flat list (dicts by sorted key)."""
        return list(self._flat_outputs)

    @property
    def nodes_in_order(self):
        """The graph's nodes (layer calls), each after the nodes it reads from: the order
        to replay the graph in (cloning does)."""
        return list(self._network_node_list)

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
        return [producer(t).name for t in self._flat_inputs]

    @property
    def output_names(self):
        """The names of the layers producing the outputs (dict keys for dict outputs)."""
        if isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)
        return [producer(t).name for t in self._flat_outputs]

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
    @property
    def input_spec(self):
        """One `InputSpec` per input (batch size free), or the spec set by assignment."""
        if getattr(self, "_manual_input_spec", None) is not None:
            return self._manual_input_spec
        if not hasattr(self, "_inputs_struct"):
            return None
        cached = self.__dict__.get("_input_spec_cache")
        if cached is None or cached[0] is not self._inputs_struct:
            cached = (self._inputs_struct, self._default_input_spec())
            self.__dict__["_input_spec_cache"] = cached  # not a tracked attribute
        return cached[1]

    def _default_input_spec(self):
        """The specs `input_spec` returns, made once from the model's inputs."""
        def spec_for(tensor, name=None):
            layer = producer(tensor)
            return InputSpec(shape=(None,) + tuple(tensor.shape[1:]), allow_last_axis_squeeze=True,
                             name=layer.name if name is None else name,
                             optional=isinstance(layer, InputLayer) and layer.optional)
        struct = self._inputs_struct
        if isinstance(struct, dict):
            if all(isinstance(t, KerasTensor) for t in struct.values()):
                return [spec_for(struct[k], name=k) for k in sorted(struct)]
            return None  # deeply nested dicts are not checked (as in Keras)
        return [spec_for(t) for t in self._flat_inputs]

    @input_spec.setter
    def input_spec(self, value):
        self._manual_input_spec = value

    def _standardize_inputs(self, inputs, warn=True):
        """The inputs as a flat list in `model.inputs` order (Keras' rules for structures).

        A dict feeds a list-structured model by input name; a mismatched structure warns
        (or raises when it cannot be matched); `None` is accepted for optional inputs only;
        a trailing axis of size 1 is added or dropped to match an input's rank.
        """
        struct = self._inputs_struct
        cannot_match = False
        if isinstance(struct, list) and len(struct) == 1 and \
                not isinstance(inputs, (list, tuple, dict)):
            inputs = [inputs]
        elif isinstance(inputs, dict) and not isinstance(struct, dict):
            if isinstance(struct, KerasTensor):
                if struct.name in inputs:
                    inputs = inputs[struct.name]
                else:
                    cannot_match = True
            elif all(isinstance(t, KerasTensor) for t in struct):
                names = [t.name for t in struct]
                if set(names) <= set(inputs):
                    inputs = type(struct)(inputs[n] for n in names)
                else:
                    cannot_match = True
            else:
                cannot_match = True
        if isinstance(struct, dict) and not isinstance(inputs, dict) and \
                list(struct) != sorted(struct):
            cannot_match = True
        if not same_structure(inputs, struct):
            if warn or cannot_match:
                self._structure_mismatch(inputs, raise_error=cannot_match)
            if isinstance(inputs, dict) and isinstance(struct, dict) and set(struct) <= set(inputs):
                inputs = {k: inputs[k] for k in struct}  # extra entries are left out
        flat = flatten(inputs)
        if len(flat) != len(self._flat_inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self._flat_inputs)} input(s) "
                f"{self.input_names}, but it received {len(flat)}."
            )
        return [self._conform_input(i, value) for i, value in enumerate(flat)]

    def _structure_mismatch(self, inputs, raise_error):
        expected = map_structure(lambda t: t.name, self._inputs_struct)
        received = map_structure(
            lambda x: "None" if x is None else f"Tensor(shape={tuple(np.shape(_data(x)))})"
            if not isinstance(x, KerasTensor) else f"Tensor(shape={x.shape})", inputs)
        message = ("The structure of `inputs` doesn't match the expected structure.\n"
                   f"Expected: {expected}\nReceived: inputs={received}")
        if raise_error:
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)

    def _conform_input(self, index, value):
        """One input: None checked against `optional`, its rank matched to the Input's."""
        tensor = self._flat_inputs[index]
        if value is None:
            layer = producer(tensor)
            if isinstance(layer, InputLayer) and not layer.optional:
                raise ValueError(f"The input '{tensor.name}' is not optional, but None was "
                                 "passed. Please provide a valid tensor.")
            return None
        shape = tuple(np.shape(_data(value))) if not isinstance(value, KerasTensor) \
            else value.shape
        expected = tensor.shape
        if len(shape) == len(expected):
            return value
        if len(shape) == len(expected) + 1 and shape[-1] == 1:
            return _reshape(value, shape[:-1])
        if len(shape) == len(expected) - 1 and expected[-1] == 1:
            return _reshape(value, shape + (1,))
        path = ".".join(str(p) for p in flatten_with_path(self._inputs_struct)[index][0])
        raise ValueError(
            f"Invalid input shape for input {_describe(value)} with name '{tensor.name}' and "
            f"path '{path}'. Expected shape {expected}, but input has incompatible shape "
            f"{shape}"
        )

    def _standardize_model_inputs(self, x):
        """Orders `x` (array, list/tuple or dict by input name) like `model.inputs`."""
        if getattr(self, "_manual_input_spec", None) is None and self.input_spec is not None:
            from numnet.layers.input_spec import assert_input_compatibility
            assert_input_compatibility(self.input_spec, x, self.name)
        if type(x) is np.ndarray and len(self._flat_inputs) == 1 and \
                not isinstance(self._inputs_struct, dict) and \
                x.ndim == len(self._flat_inputs[0].shape):
            return x  # the common case, one array of the right rank for one input: as is
        flat = self._standardize_inputs(x)
        # In the model's own structure, so that each batch is read the same way again.
        return flat[0] if len(flat) == 1 else pack_sequence_as(self._inputs_struct, flat)

    # --------------------------------------------------------------- call
    def call(self, inputs, training=None, mask=None):
        """Runs the recorded graph on real inputs (each converted to its Input's dtype)."""
        flat = [None if value is None else _as_dtype(value, tensor.dtype)
                for value, tensor in zip(self._standardize_inputs(inputs), self._flat_inputs)]
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
        return _unpack_singleton(pack_sequence_as(self._outputs_struct,
                                           [values[id(t)] for t in self._flat_outputs]))

    def compute_output_spec(self, inputs, training=None, mask=None):
        """Symbolic outputs for symbolic inputs: the graph's own outputs when the shapes
        match its inputs, else the graph run through each layer's `compute_output_spec`."""
        flat = self._standardize_inputs(inputs, warn=False)
        if all(isinstance(x, KerasTensor) and x.shape == t.shape
               for x, t in zip(flat, self._flat_inputs)):
            return _unpack_singleton(map_structure(
                lambda t: KerasTensor(t.shape, dtype=t.dtype), self._outputs_struct))
        values = {id(t): v for t, v in zip(self._flat_inputs, flat)}

        def lookup(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x

        for layer, args, kwargs, output_ids, _ in self._plan:
            out = layer.compute_output_spec(*map_structure(lookup, args),
                                            **map_structure(lookup, kwargs))
            for key, value in zip(output_ids, flatten(out)):
                values[key] = value
        return _unpack_singleton(pack_sequence_as(self._outputs_struct,
                                           [values[id(t)] for t in self._flat_outputs]))

    def compute_output_shape(self, input_shape):
        """The output shapes for inputs of `input_shape` (one shape per input)."""
        def as_spec(shape):
            return KerasTensor(shape)
        if _is_shape(input_shape):
            specs = as_spec(tuple(input_shape))
        else:
            specs = _map_shapes(as_spec, input_shape)
        return map_structure(lambda t: t.shape, self.compute_output_spec(specs))

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
                source, node_index, tensor_index = keras_history(t)
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
        layer, node_index, tensor_index = keras_history(tensor)
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
        """Keras 3's Functional config: `layers` with `inbound_nodes`, `input_layers`, `output_layers`.

        A subclass with its own `__init__` (not `(inputs, outputs, ...)`) is rebuilt by
        calling that constructor, as in Keras: its config is the arguments it was
        built with (or what its own `get_config()` returns).
        """
        if not functional_like_constructor(type(self)):
            config = {"name": self.name, "trainable": self.trainable}
            return auto_config.merge(self, config) if auto_config.applies(self, Functional) \
                else config
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
            layer, node_index, tensor_index = keras_history(tensor)
            return [layer.name, self._reindex(layer, node_index), tensor_index]

        def refs(structure):
            if isinstance(structure, KerasTensor):
                return ref(structure)
            if isinstance(structure, dict):
                return {k: refs(v) for k, v in structure.items()}
            if isinstance(structure, tuple):
                return tuple(refs(v) for v in structure)  # JSON makes it a list, as in Keras
            return [refs(v) for v in structure]

        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": refs(self._inputs_struct),
                "output_layers": refs(self._outputs_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the layers and replays their calls from `get_config()`'s output.

        Accepts Keras 3 configs and the legacy (Keras 2) node format; a config whose nodes
        refer to unknown layers, or that can never be resolved (a loop), is refused with a
        ValueError as in Keras.
        """
        config = dict(config)
        functional_keys = {"name", "layers", "input_layers", "output_layers"}
        if not (functional_keys <= set(config) and functional_like_constructor(cls)):
            # A subclass with its own constructor, or a config too thin for a graph.
            return revive_with_constructor(cls, config)
        created, pending = {}, []
        for layer_data in config.pop("layers"):
            layer = deserialize_keras_object(layer_data, custom_objects=custom_objects,
                                             printable_module_name="layer")
            created[layer_data.get("name", layer.name)] = layer
            pending.append([layer, list(layer_data.get("inbound_nodes", []))])
        _replay_nodes(pending, created, custom_objects)

        def tensor(ref):
            name, node_index, tensor_index = ref[:3]
            if name not in created:
                raise ValueError(f"Functional config: unknown input/output layer '{name}'.")
            return created[name]._inbound_nodes[node_index].output_tensors[tensor_index]

        def structure(refs):
            if isinstance(refs, dict):
                return {k: structure(v) for k, v in refs.items()}
            if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
                return tensor(refs)
            if isinstance(refs, tuple):
                return tuple(structure(v) for v in refs)
            return [structure(v) for v in refs]

        inputs = structure(config.pop("input_layers"))
        outputs = structure(config.pop("output_layers"))
        name = config.pop("name", None)
        trainable = config.pop("trainable", True)
        target = cls if cls is not Model else Functional
        return target(inputs=inputs, outputs=outputs, name=name, trainable=trainable, **config)

    def get_build_config(self):
        return None


def functional_like_constructor(cls):
    """Whether `cls(inputs, outputs, ...)` builds it (Functional's own `__init__`, or one
    taking `*args, **kwargs`): then its graph is its config, as in Keras."""
    if cls in (Functional, Model):
        return True
    spec = inspect.getfullargspec(cls.__init__)
    if spec.varargs is not None and spec.varkw is not None:
        return True
    return spec.args[1:] == inspect.getfullargspec(Functional.__init__).args[1:]


class _NotYetCreated(Exception):
    """A node refers to a tensor whose layer call has not been replayed yet."""


def _replay_nodes(pending, created, custom_objects):
    """Calls each layer on its recorded inputs, in whatever order the tensors allow."""
    while pending:
        progressed = False
        for item in pending:
            layer, nodes = item
            while nodes:
                try:
                    args, kwargs = _node_arguments(nodes[0], created, custom_objects)
                except _NotYetCreated:
                    break
                layer(*args, **kwargs)
                nodes.pop(0)
                progressed = True
        pending[:] = [item for item in pending if item[1]]
        if pending and not progressed:
            raise ValueError(
                "Invalid Functional model configuration. The graph of the Functional model "
                "either has loops or disconnected nodes. The following nodes failed to be "
                f"resolved: {[item[0].name for item in pending]}"
            )


def _node_arguments(node_data, created, custom_objects):
    """(args, kwargs) of one recorded call, from Keras 3's or the legacy node format."""
    def output_of(name, node_index, tensor_index):
        nodes = created[name]._inbound_nodes
        if node_index >= len(nodes):
            raise _NotYetCreated
        return nodes[node_index].output_tensors[tensor_index]

    if isinstance(node_data, list):  # Keras 2: [[layer, node, tensor(, kwargs)], ...]
        tensors, kwargs = [], {}
        for entry in node_data:
            if len(entry) not in (3, 4):
                raise ValueError("Cannot deserialize the model (invalid config data?)")
            if entry[0] not in created:
                raise ValueError(
                    f"Invalid Functional model configuration. Missing node: {entry[0]}")
            tensors.append(output_of(*entry[:3]))
            kwargs = entry[3] if len(entry) == 4 else {}
        return [_unpack_singleton(tensors)], dict(kwargs)

    def revive(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, node_index, tensor_index = value["config"]["keras_history"]
            if name not in created:
                raise ValueError(f"Unknown layer: {name}")
            return output_of(name, node_index, tensor_index)
        if isinstance(value, (list, tuple)):
            return same_kind(value, [revive(v) for v in value])
        if isinstance(value, dict):
            if "class_name" in value:
                return deserialize_keras_object(value, custom_objects=custom_objects)
            return {k: revive(v) for k, v in value.items()}
        return value

    args = revive(node_data.get("args", []))
    kwargs = revive(node_data.get("kwargs", {}))
    if kwargs.get("mask", True) is None:
        del kwargs["mask"]  # Keras records `mask=None` for nested models
    return list(args), kwargs


def _as_dtype(value, dtype):
    """A call input as a Tensor of its Input's dtype (as Keras converts model inputs)."""
    from numnet.autodiff.tensor import Tensor
    if dtype == "string":  # text stays text (NumPy names it str<width>)
        return value if isinstance(value, Tensor) else Tensor(np.asarray(value))
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else value.astype(dtype)
    array = np.asarray(value)
    return Tensor(array if array.dtype == dtype else array.astype(dtype))


def _data(x):
    return getattr(x, "data", x)


def _reshape(value, shape):
    """`value` with a trailing axis of size 1 added or removed (a spec for a KerasTensor)."""
    from numnet.autodiff import ops
    if isinstance(value, KerasTensor):
        return KerasTensor(shape, dtype=value.dtype)
    if isinstance(value, np.ndarray):
        return value.reshape(shape)
    return ops.reshape(value, shape)


def _describe(value):
    if isinstance(value, KerasTensor):
        return repr(value)
    return f"Tensor(shape={tuple(np.shape(_data(value)))})"


def _unpack_singleton(x):
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x


def _is_shape(shape):
    return isinstance(shape, (list, tuple)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in shape)


def _map_shapes(fn, shapes):
    if _is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    return same_kind(shapes, [_map_shapes(fn, s) for s in shapes])


def _clone_from_intermediate(inputs, outputs):
    """Inputs and outputs of a sub-model that starts at intermediate tensors (Keras'
    `clone_graph_nodes`): each such tensor gets a new `Input` ("<name>CLONE") and the layer
    calls between them and the outputs are replayed on the new inputs (same layers, same
    weights)."""
    mapping = {}
    new_inputs = []
    for tensor in flatten(inputs):
        layer = producer(tensor)
        if isinstance(layer, InputLayer):
            new = tensor
        else:
            new = Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=f"{tensor.name}CLONE")
        mapping[id(tensor)] = new
        new_inputs.append(new)
    ordered, seen = [], set()

    def visit(tensor):
        if id(tensor) in mapping:
            return
        node = _node_of(tensor)
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node.layer, InputLayer):
            return  # an Input the caller did not list: the graph check reports it
        for parent in node.input_tensors:
            visit(parent)
        ordered.append(node)

    for tensor in flatten(outputs):
        visit(tensor)
    for node in ordered:
        def swap(x):
            return mapping.get(id(x), x) if isinstance(x, KerasTensor) else x
        out = node.layer(*map_structure(swap, list(node.call_args)),
                         **map_structure(swap, dict(node.call_kwargs)))
        for old, new in zip(node.output_tensors, flatten(out)):
            mapping[id(old)] = new
    return (pack_sequence_as(inputs, new_inputs),
            pack_sequence_as(outputs, [mapping.get(id(t), t) for t in flatten(outputs)]))


__all__ = ["Functional", "Input"]
