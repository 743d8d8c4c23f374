"""Tracing a model's forward pass into an `InferenceGraph`.

The model is called eagerly, `model(x, training=False)`, on sample inputs
while an engine `Capture` records every primitive it runs (as `fit` and
`predict` do to compile their steps), so Sequential, Functional and
subclassed models trace alike. Two calls, on batches of 2 and 3 rows, tell
which sizes in the ops' attributes follow the batch size (a `Flatten`
reshapes to `(batch, -1)`): those become `BatchDim`s, so every exported
format keeps the batch dimension dynamic. Ops that read only weights and
constants (a `Normalization`'s `1 / sqrt(variance)`) are folded into
constants: the exported graph computes only what depends on the inputs.
Ops no output needs are dropped, and so are their problems: an op whose
attributes follow the batch size in a way a graph cannot express (an activity
regularizer's penalty divided by the batch size) stops the export only if an
output reads it.
"""

import numpy as np

from numnet.autodiff.primitive import wrap
from numnet.autodiff.tensor import Tensor
from numnet.engine.capture import Capture
from numnet.engine.graph import Graph, Value
from numnet.export.errors import ExportError
from numnet.export.graph import BatchDim, InferenceGraph, Literal, Node, TensorSpec, ValueInfo
from numnet.export.signature import input_signature_of

SAMPLE_BATCHES = (2, 3)

# What a node's input is called when a constant feeding it becomes a weight.
ARGUMENT_NAMES = {
    "affine": ("x", "shift", "scale"), "dense": ("x", "kernel", "bias"),
    "dense_stacked": ("x", "kernel", "bias"), "where": ("condition", "x", "y"),
    "take": ("table", "indices"), "matmul": ("a", "b"),
}


def trace(model, input_signature=None):
    """The model's forward pass at inference as an `InferenceGraph`.

    Raises:
        ExportError: the model was never built and no signature was given,
            its call reads tensor values into Python (data-dependent code),
            depends on the batch size in ways a graph cannot express, or
            draws random numbers or writes variables at inference.
    """
    specs, structure = input_signature_of(model, input_signature)
    traces = [_Trace(model, specs, structure, batch) for batch in SAMPLE_BATCHES]
    return _Builder(model, specs, structure, traces).build()


# ------------------------------------------------------------------ capturing
class _ScopedCapture(Capture):
    """A capture that also notes which layer each primitive ran in."""

    def __init__(self, inputs, scopes):
        super().__init__(inputs)
        self.scopes = scopes
        self.scope_of_step = []
        self.unusable_scope = None

    def read(self, tensor, how):
        before = self.unusable
        super().read(tensor, how)
        if before is None and self.unusable is not None:
            self.unusable_scope = self.scopes.current()

    def record(self, node):
        super().record(node)
        self.scope_of_step.append(self.scopes.current())

    def host(self, method, args, kwargs):
        result = super().host(method, args, kwargs)
        self.scope_of_step.append(self.scopes.current())
        return result


class _LayerScopes:
    """While open, each layer's `call` notes its name on a stack (for the exported comments).

    The wrappers are instance attributes set and removed here; the layers'
    classes are untouched.
    """

    def __init__(self, model):
        self.root = (model.name, type(model).__name__)
        self.stack = []
        self.layers = []
        self._collect(model, "", {id(model)})

    def _collect(self, layer, prefix, seen):
        for child in _children(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            self.layers.append((child, path))
            self._collect(child, path + "/", seen)

    def current(self):
        return self.stack[-1] if self.stack else self.root

    def __enter__(self):
        self._own_calls = {}
        for layer, path in self.layers:
            if "call" in vars(layer):  # a `call` set on the instance itself: put it back later
                self._own_calls[id(layer)] = vars(layer)["call"]
            object.__setattr__(layer, "call", self._wrapped(layer, path))
        return self

    def __exit__(self, *exc):
        for layer, _ in self.layers:
            if id(layer) in self._own_calls:
                object.__setattr__(layer, "call", self._own_calls[id(layer)])
            else:
                object.__delattr__(layer, "call")
        return False

    def _wrapped(self, layer, path):
        original = layer.call
        scope = (path, type(layer).__name__)

        def call(*args, **kwargs):
            self.stack.append(scope)
            try:
                return original(*args, **kwargs)
            finally:
                self.stack.pop()
        return call


def _children(layer):
    """A layer's direct sublayers, found through its public attributes."""
    from numnet.layers.base import Layer
    found = []
    sublayers = getattr(layer, "layers", None)  # a model's layers
    if isinstance(sublayers, (list, tuple)):
        found.extend(sublayers)
    for value in vars(layer).values():
        items = value.values() if isinstance(value, dict) else \
            value if isinstance(value, (list, tuple)) else [value]
        found.extend(item for item in items if isinstance(item, Layer) and item is not layer)
    return found


class _Trace:
    """One eager call of the model on a batch of `batch` rows, captured as an engine graph."""

    def __init__(self, model, specs, structure, batch):
        self.batch = batch
        rng = np.random.default_rng(batch)
        self.arrays = [_sample(spec, batch, rng) for spec in specs]
        tensors = [wrap(array) for array in self.arrays]
        with _LayerScopes(model) as scopes, _ScopedCapture(tensors, scopes) as capture:
            try:
                returned = model(_structured(tensors, specs, structure), training=False)
            except ExportError:
                raise
            except Exception as error:
                shapes = [a.shape for a in self.arrays]
                raise ExportError(
                    f"Cannot export model '{model.name}': calling it on inputs of shapes "
                    f"{shapes} failed: {type(error).__name__}: {error}") from error
        if capture.unusable is not None:
            path, class_name = capture.unusable_scope or scopes.root
            raise ExportError(
                f"Cannot export model '{model.name}': its call cannot be traced into a graph: "
                f"in layer '{path}' ({class_name}), {capture.unusable}. Write the call with "
                "numnet ops only, with Python control flow on shapes and config, not on "
                "values.")
        self.capture = capture
        self.graph = Graph(capture, returned)
        self.returned = returned
        self.tensors = tensors


def _sample(spec, batch, rng):
    shape = (batch,) + tuple(spec.shape[1:])
    if spec.dtype.kind == "f":  # in [0, 1): valid ids too (an Embedding of float inputs)
        return rng.random(shape).astype(spec.dtype)
    if spec.dtype.kind == "b":
        return rng.random(shape) < 0.5
    # ids and tokens: 0 and "" (in every vocabulary that has an OOV index)
    return np.zeros(shape, dtype=spec.dtype)


def _structured(tensors, specs, structure):
    if structure == "dict":
        return {spec.name: t for spec, t in zip(specs, tensors)}
    if structure == "list":
        return list(tensors)
    return tensors[0]


def flatten_outputs(returned, model_name):
    """(names, tensors, structure) of what a model call returned, named as TensorFlow does."""
    if isinstance(returned, dict):
        names = sorted(returned)
        leaves, structure = [returned[k] for k in names], "dict"
    elif isinstance(returned, (list, tuple)):
        leaves, structure = list(returned), "list"
        names = [f"output_{i}" for i in range(len(leaves))]
    else:
        leaves, names, structure = [returned], ["output_0"], "single"
    for name, leaf in zip(names, leaves):
        if not isinstance(leaf, Tensor):
            raise ExportError(
                f"Cannot export model '{model_name}': its output {name!r} is a "
                f"{type(leaf).__name__}, not a tensor (outputs may be a tensor, or a list or "
                "dict of tensors).")
    return names, leaves, structure


# -------------------------------------------------------------------- building
class _Builder:
    """Turns two traces (batches of 2 and 3 rows) into one `InferenceGraph`."""

    def __init__(self, model, specs, structure, traces):
        self.model = model
        self.specs, self.structure = specs, structure
        self.first, self.second = traces
        self.graph = InferenceGraph(model.name)
        self.names = {}        # id(engine Value of the first trace) -> graph value name
        self.folded = {}       # graph value name -> array (ops on weights only)
        self.computed = set()  # the folded values computed by ops (named after their use)
        self.taken = set()
        # value name -> the ExportError of an op that cannot be written (raised only if an
        # output needs it: an activity regularizer's penalty, say, divides by the batch size)
        self.unwritable = {}

    def build(self):
        self._check_same_program()
        graph = self.graph
        graph.inputs = list(self.specs)
        graph.input_structure = self.structure
        for spec, value in zip(self.specs, self.first.graph.inputs):
            graph.input_values.append(spec.name)
            self.names[id(value)] = spec.name
            self.taken.add(spec.name)
            graph.values[spec.name] = ValueInfo(spec.name, "input", self._input_shape(spec),
                                                spec.dtype)
        for index, (op, twin) in enumerate(zip(self.first.graph.ops, self.second.graph.ops)):
            self._add_op(index, op, twin)
        self._add_outputs()
        self._keep_needed()
        return graph

    def _fail(self, message):
        raise ExportError(f"Cannot export model '{self.model.name}': {message}")

    def _input_shape(self, spec):
        return (BatchDim(1),) + tuple(spec.shape[1:])

    def _check_same_program(self):
        ops1, ops2 = self.first.graph.ops, self.second.graph.ops
        kinds = [(op.prim.name if op.prim else op.name) for op in ops1]
        if len(ops1) != len(ops2) or any(
                (a.prim is not b.prim) or (a.host is None) != (b.host is None)
                for a, b in zip(ops1, ops2)):
            self._fail(
                f"it runs different ops on batches of {self.first.batch} and "
                f"{self.second.batch} rows ({len(ops1)} ops: {kinds[:8]}... against "
                f"{len(ops2)}), so its Python code depends on the batch size.")
        for index, op in enumerate(ops1):
            if op.host is not None:
                self._fail(f"its call makes a host call ({op.name}) in layer "
                           f"{self._scope_text(index)}; only numnet ops can be exported.")

    def _scope_text(self, index):
        path, class_name = self.first.capture.scope_of_step[index]
        return f"'{path}' ({class_name})"

    def _scope(self, index):
        return self.first.capture.scope_of_step[index]

    # ------------------------------------------------------------- one op
    def _add_op(self, index, op, twin):
        prim = op.prim
        where = f"the op '{prim.name}' in layer {self._scope_text(index)}"
        if prim.kind == "random":
            self._fail(f"{where} draws random numbers at inference; only deterministic "
                       "forward passes can be exported.")
        if prim.kind == "effect":
            self._fail(f"{where} writes a variable at inference; only forward passes "
                       "without side effects can be exported.")
        try:
            self._add_node_or_constant(index, op, twin, where)
        except ExportError as error:
            name = self._unique(f"{self._scope(index)[0]}/{prim.name}")
            self.names[id(op.output)] = name
            self.unwritable[name] = error

    def _add_node_or_constant(self, index, op, twin, where):
        prim = op.prim
        attrs = {key: _symbolic(op.attrs[key], twin.attrs[key], self.first.batch,
                                self.second.batch, lambda why: self._fail(f"{where}: {why}"))
                 for key in op.attrs}
        inputs = [self._input_ref(index, i, x, y, where)
                  for i, (x, y) in enumerate(zip(op.inputs, twin.inputs))]
        shape = _symbolic_shape(op.output.shape, twin.output.shape, self.first.batch,
                                self.second.batch,
                                lambda why: self._fail(f"{where}: its output {why}"))
        name = self._unique(f"{self._scope(index)[0]}/{prim.name}")
        self.names[id(op.output)] = name
        value_refs = [ref for ref in inputs if not isinstance(ref, Literal)]
        if not _has_batch(attrs) and not _has_batch(shape) and \
                all(ref in self.folded for ref in value_refs):
            array = op.output.tensor.data
            if not np.array_equal(array, twin.output.tensor.data, equal_nan=True):
                self._fail(f"{where} computes different values from the same weights on two "
                           "calls.")
            self.folded[name] = np.array(array, copy=True)
            self.computed.add(name)
            self.graph.values[name] = ValueInfo(name, "weight", array.shape, array.dtype)
            return
        self.graph.values[name] = ValueInfo(name, "node", shape, op.output.dtype)
        self.graph.nodes.append(Node(prim.name, inputs, attrs, name, self._scope(index)))

    def _input_ref(self, index, position, x, y, where):
        if not isinstance(x, Value):
            if isinstance(y, Value) or not _same_literal(x, y):
                self._fail(f"{where} reads a Python value that changes between calls.")
            return Literal(x)
        if x.kind in ("input", "node"):
            return self.names[id(x)]
        if x.kind == "variable":
            if y.tensor is not x.tensor:
                self._fail(f"{where} reads different variables on two calls.")
            return self._weight(id(x), x.tensor.path, x.array)
        if x.array.shape != y.array.shape:
            self._fail(f"{where} reads an array computed outside numnet's ops whose shape "
                       f"follows the batch size ({x.array.shape} for {self.first.batch} rows, "
                       f"{y.array.shape} for {self.second.batch}); compute it with numnet "
                       "ops so it can be exported.")
        if not np.array_equal(x.array, y.array, equal_nan=True):
            self._fail(f"{where} reads an array computed outside numnet's ops that changes "
                       "with the data; compute it with numnet ops so it can be exported.")
        op_name = self.first.graph.ops[index].prim.name
        roles = ARGUMENT_NAMES.get(op_name, ())
        role = roles[position] if position < len(roles) else f"{op_name}_{position}"
        return self._weight(id(x), f"{self._scope(index)[0]}/{role}", x.array)

    def _weight(self, key, path, array):
        if key in self.names:
            return self.names[key]
        name = self._unique(path)
        self.names[key] = name
        self.folded[name] = np.array(array, copy=True)
        self.graph.values[name] = ValueInfo(name, "weight", array.shape, array.dtype)
        return name

    def _unique(self, base):
        name, n = base, 1
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name

    # ------------------------------------------------------------ outputs
    def _add_outputs(self):
        graph = self.graph
        names, leaves, structure = flatten_outputs(self.first.returned, self.model.name)
        graph.output_structure = structure
        used = set()
        for name, leaf in zip(names, leaves):
            ref = self._output_ref(name, leaf)
            if ref in used or graph.values[ref].kind == "input":
                ref = self._identity(ref)  # every output gets a value of its own
            used.add(ref)
            info = graph.values[ref]
            graph.output_values.append(ref)
            graph.outputs.append(TensorSpec(
                name, info.dtype, tuple(None if isinstance(d, BatchDim) else d
                                        for d in info.shape)))

    def _output_ref(self, name, leaf):
        for i, tensor in enumerate(self.first.tensors):
            if leaf is tensor:
                return self.graph.input_values[i]
        value = self.first.graph.value_of(leaf)
        ref = None if value is None else self.names.get(id(value))
        if ref in self.unwritable:
            raise self.unwritable[ref]
        if ref is None or self.graph.values[ref].kind == "weight":
            self._fail(f"its output {name!r} does not depend on its inputs (a constant or a "
                       "weight); exported outputs must be computed from the inputs.")
        return ref

    def _identity(self, ref):
        info = self.graph.values[ref]
        name = self._unique(f"{ref}/identity")
        self.graph.values[name] = ValueInfo(name, "node", info.shape, info.dtype)
        self.graph.nodes.append(Node("identity", [ref], {}, name,
                                     (self.model.name, type(self.model).__name__)))
        return name

    def _keep_needed(self):
        """Drops nodes no output needs, and keeps only the weights the rest read."""
        graph = self.graph
        needed = set(graph.output_values)
        kept = []
        for node in reversed(graph.nodes):
            if node.output in needed:
                kept.append(node)
                for ref in node.inputs:
                    if ref in self.unwritable:
                        raise self.unwritable[ref]
                needed.update(ref for ref in node.inputs if not isinstance(ref, Literal))
        graph.nodes = kept[::-1]
        graph.weights = {name: array for name, array in self.folded.items() if name in needed}
        graph.values = {name: info for name, info in graph.values.items()
                        if name in needed or info.kind == "input"}
        self._name_computed_weights()

    def _name_computed_weights(self):
        """Folded values are named after their first use: `normalization/scale`."""
        graph, renamed = self.graph, {}
        for node in graph.nodes:
            for position, ref in enumerate(node.inputs):
                if isinstance(ref, Literal) or ref not in self.computed or ref in renamed:
                    continue
                roles = ARGUMENT_NAMES.get(node.op, ())
                role = roles[position] if position < len(roles) else f"{node.op}_{position}"
                self.taken.discard(ref)
                renamed[ref] = self._unique(f"{node.scope[0]}/{role}")
        for node in graph.nodes:
            node.inputs = [renamed.get(ref, ref) if not isinstance(ref, Literal) else ref
                           for ref in node.inputs]
        graph.weights = {renamed.get(k, k): v for k, v in graph.weights.items()}
        for old, new in renamed.items():
            info = graph.values.pop(old)
            info.name = new
            graph.values[new] = info


# ------------------------------------------------------------ batch-dependent sizes
def _symbolic(a, b, batch_a, batch_b, fail):
    """One attribute seen on batches of `batch_a` and `batch_b` rows, with `BatchDim`s."""
    if isinstance(a, (bool, np.bool_)) or a is None or isinstance(a, (str, float, np.dtype)):
        if not _same_literal(a, b):
            fail(f"the attribute value {a!r} changes to {b!r} with the batch size.")
        return a
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        if a == b:
            return int(a)
        if a % batch_a == 0 and a // batch_a * batch_b == b and a != 0:
            return BatchDim(a // batch_a)
        fail(f"a size {a} (for {batch_a} rows) becomes {b} (for {batch_b} rows), which is "
             "not a multiple of the batch size.")
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return type(a)(_symbolic(x, y, batch_a, batch_b, fail) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return slice(*(_symbolic(x, y, batch_a, batch_b, fail)
                       for x, y in ((a.start, b.start), (a.stop, b.stop), (a.step, b.step))))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return {k: _symbolic(a[k], b[k], batch_a, batch_b, fail) for k in a}
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape or not np.array_equal(a, b):
            fail("an array attribute changes with the batch size.")
        return a
    if a is b or _same_literal(a, b):
        return a
    fail(f"the attribute {a!r} changes to {b!r} with the batch size.")


def _symbolic_shape(a, b, batch_a, batch_b, fail):
    if len(a) != len(b):
        fail(f"has rank {len(a)} for {batch_a} rows and {len(b)} for {batch_b}.")
    return tuple(_symbolic(x, y, batch_a, batch_b, fail) for x, y in zip(a, b))


def _has_batch(structure):
    if isinstance(structure, BatchDim):
        return True
    if isinstance(structure, (tuple, list)):
        return any(_has_batch(x) for x in structure)
    if isinstance(structure, dict):
        return any(_has_batch(x) for x in structure.values())
    if isinstance(structure, slice):
        return any(_has_batch(x) for x in (structure.start, structure.stop, structure.step))
    return False


def _same_literal(a, b):
    try:
        same = type(a) is type(b) and (a == b or (a != a and b != b))
        return bool(same)
    except (TypeError, ValueError):
        return a is b
