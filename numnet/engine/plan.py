"""Planning: from a captured graph to a `Program`, kernels over buffers allocated once.

After the rewrites (`numnet.engine.rewrite`), every value left gets one array:
input buffers the batch is gathered into, one buffer per op output (unless a
rewrite fixed it, e.g. to a slot of the flat gradient buffer), views bound once
to the arrays they view. Every op left becomes a zero-argument kernel: a NumPy
ufunc bound to its arrays with `out=`, a primitive's `into`, a rewrite's own
kernel, or a host call handed tensors around its arguments' buffers.
Replaying is calling the kernels in order.
"""

from functools import partial

from numnet.autodiff.ops.shape import RESHAPE
from numnet.autodiff.primitive import wrap
from numnet.autodiff.tensor import MOVES
from numnet.backend import bound_ufunc, enclosing_rows, xp
from numnet.engine.graph import Graph, Value
from numnet.engine.rewrite import _want, rewrite
from numnet.tree import flatten, map_structure, structure_builder

# The most memory the rows hoisted out of the step may take for the whole data.
HOIST_BUDGET = 256 * 2**20


class Program:
    """A replayable step: `feed` a batch, then `run` the kernels and get the step's result."""

    def __init__(self, kernels, epoch_kernels, feeds, inputs, hoisted, result, stats):
        self.kernels = kernels              # run at every step, in order
        self.epoch_kernels = epoch_kernels  # run when an epoch starts
        self.feeds = feeds                  # (source, buffer): source an input index or a value
        self.inputs = inputs                # the input Values (whole data: the batch sources)
        self.hoisted = hoisted              # ops computed on the whole data per epoch
        self.result = result                # () -> the step's result, from the buffers
        self.stats = stats
        self.begin_epoch()

    def begin_epoch(self):
        """Invariants and hoisted rows are recomputed before the next step, and the data they
        came from is let go (a finished call keeps no reference to it)."""
        self.stale = True
        self._sources = None  # the batch sources the whole-data values are of
        self._whole = {}      # id(value) -> its whole-data array

    def valid(self):
        """False once a variable it reads by reference has moved (into a parameter store)."""
        if MOVES[0] != self._moves:
            if not all(variable.data is array for variable, array in self.variables):
                return False
            self._moves = MOVES[0]  # other variables moved: this program is still good
        return True

    def feed(self, batch):
        """Copies the batch's rows (of inputs and hoisted values) into the input buffers."""
        copy_rows(self.feed_pairs(batch), batch.index)

    def feed_pairs(self, batch):
        """`(whole-data array, input buffer)` pairs the rows of a batch of `batch`'s source are
        copied between (see `copy_rows`), this epoch's whole-data values computed if due."""
        sources = batch.sources
        if self.stale or sources is not self._sources:
            for kernel in self.epoch_kernels:
                kernel()
            self._compute_whole(batch.source.data_leaves)
            self._sources, self.stale = sources, False
        leaves = batch.source.data_leaves
        return [(leaves[source] if type(source) is int else self._whole[id(source)], buffer)
                for source, buffer in self.feeds]

    def _compute_whole(self, leaves):
        """Runs the hoisted ops on the whole data (see `rewrite.hoist_rows`)."""
        if not self.hoisted:
            return
        whole = {}
        for i, value in enumerate(self.inputs):
            whole[id(value)] = leaves[i]
        for op in self.hoisted:
            arrays = [whole.get(id(v), v.array) if isinstance(v, Value) else v
                      for v in op.inputs]
            attrs = op.attrs
            if op.prim is RESHAPE:
                attrs = {"shape": (len(arrays[0]),) + tuple(attrs["shape"][1:])}
            whole[id(op.output)] = op.prim.compute(*arrays, **attrs)
        for value, rows in self.feeds:
            if type(value) is not int and rows.shape[1:] != value.shape[1:]:  # [x, 1] rows
                array = whole[id(value)]
                whole[id(value)] = xp.ones((len(array), rows.shape[1]), dtype=rows.dtype)
                whole[id(value)][:, :-1] = array
        self._whole = whole

    def run(self):
        for kernel in self.kernels:
            kernel()
        return self.result()

    def run_on(self, array):
        """`feed` and the kernels of `run` without a `Batch`, for a program fed only by its
        one input, whole (`model(x)`'s replay); read `result()` or `result_buffers` after."""
        for kernel in self.epoch_kernels:
            kernel()
        self.stale = True  # a later `feed` redoes them for its own batch
        for _, buffer in self.feeds:
            xp.copyto(buffer, array)
        for kernel in self.kernels:
            kernel()


def copy_rows(pairs, index):
    """Copies rows `index` (a slice, or row numbers in range) of each pair's whole-data array
    into its input buffer (`Program.feed_pairs`)."""
    for full, buffer in pairs:
        if type(index) is slice:
            xp.copyto(buffer, full[index])
        else:  # "wrap": no buffered bounds check (rows come from a permutation)
            full.take(index, 0, buffer, mode="wrap")


def plan(capture, returned, source_rows):
    """The `Program` replaying a capture (`source_rows`: rows of the whole data, None if streamed)."""
    graph = Graph(capture, returned)
    hoisted = rewrite(graph, source_rows, HOIST_BUDGET)
    ops = graph.live_ops()
    for value in graph.inputs:
        _allocate(value)
    for op in hoisted:
        for value in op.inputs:
            if isinstance(value, Value) and value.kind != "input":
                _allocate(value)
    for op in ops:
        for value in [op.output, *op.inputs]:
            if isinstance(value, Value):
                _allocate(value)
    kernels, epoch_kernels, leaves = [], [], flatten(graph.returned)
    for op in ops:
        kernel = _kernel(op)
        target = epoch_kernels if op.per_epoch else kernels
        if isinstance(kernel, (list, tuple)):  # a primitive bound as several calls
            target.extend(kernel)
        elif kernel is not None:
            target.append(kernel)
    read = set()  # what the step's kernels read (hoisted ops read the whole data instead)
    for value in [v for op in ops for v in op.inputs] + list(map(graph.value_of, leaves)):
        _want(value, read)
    fed = [v for v in dict.fromkeys(graph.inputs) if id(v) in read]  # each input once
    feeds = [(graph.inputs.index(v), v.array) for v in fed]
    feeds += [(v, _gathered_rows(v)) for v in {id(v): v for v in graph.values.values()}.values()
              if v.kind == "gathered" and id(v) in read]  # the hoisted values a step reads
    stats = {"kernels": len(kernels), "per_epoch": len(epoch_kernels), "hoisted": len(hoisted),
             "fed": len(feeds), "rewrites": dict(graph.applied)}
    program = Program(kernels, epoch_kernels, feeds, graph.inputs, hoisted,
                      _result_builder(graph), stats)
    program.variables = [(v.tensor, v.array) for v in graph.values.values()
                         if v.kind == "variable"]
    # Per leaf of the result, in `flatten` order, the buffer a replay leaves it in
    # (None for a None leaf); None when a leaf is not an op's output.
    values = [graph.value_of(leaf) for leaf in leaves]
    program.result_buffers = None if any(
        leaf is not None and (value is None or value.kind in ("variable", "const"))
        for leaf, value in zip(leaves, values)) else [None if v is None else v.array for v in values]
    program._moves = MOVES[0]
    for value in graph.values.values():  # the captured arrays (the call's data) are let go
        if value.kind not in ("variable", "const"):
            value.tensor = None
    return program


def _gathered_rows(value):
    """The buffer a step gathers `value`'s rows into: its whole `[x, 1]` rows when it has them
    (`rewrite.widen_dense_inputs` gave them, with a last column of ones) and is computed per
    epoch (not a view of the data, which would then be copied whole): its whole-data array,
    made when an epoch starts, gets that column too, and a step copies whole rows."""
    rows, columns = enclosing_rows(_allocate(value))  # (a result may be its only reader)
    wide = value.view_of is not None and value.view_of.kind != "joined" and columns.start == 0
    return rows if wide and rows.shape[1] == value.shape[1] + 1 and \
        value.producer.prim.kind != "view" else value.array


def _allocate(value):
    """Gives `value` its array: a rewrite's, a view of its base, a bound view, or a new buffer.

    A joined value (see `rewrite.concatenate_in_place`) gives its parts their slices too.
    """
    if value.array is None:
        _allocate_one(value)
        for part in value.parts:
            _allocate(part)
    return value.array


def _allocate_one(value):
    if value.view_of is not None:
        value.array = value.make_view(_allocate(value.view_of))
        return value.array
    producer = value.producer
    if producer is not None and producer.prim is not None and producer.prim.kind == "effect":
        value.array = _allocate(producer.inputs[0])  # it writes its target in place
        return value.array
    if value.kind == "node" and producer is not None and producer.prim is not None and \
            producer.prim.kind == "view" and producer.kernel is None:
        arrays = [_allocate(v) if isinstance(v, Value) else v for v in producer.inputs]
        view = producer.prim.compute(*arrays, **producer.attrs)
        if any(isinstance(a, xp.ndarray) and xp.shares_memory(view, a) for a in arrays):
            value.array = view
            producer.kernel = lambda out, arrays: None  # computed once, here
            return view
    value.array = xp.empty(value.shape, dtype=value.dtype)
    return value.array


def _kernel(op):
    """The zero-argument callable running `op` at each replay (None: nothing to run)."""
    arrays = [v.array if isinstance(v, Value) else v for v in op.inputs]
    out = None if op.output is None else op.output.array
    if op.kernel is not None:
        return op.kernel(out, arrays)
    if op.host is not None:
        return _host_kernel(op)
    if op.prim.bind is not None:
        return op.prim.bind(out, *arrays, **op.attrs)
    if op.prim.ufunc is not None and not op.attrs:
        return bound_ufunc(op.prim.ufunc, arrays, out)
    return partial(op.prim.into, out, *arrays, **op.attrs)


def _host_kernel(op):
    """Calls the host method again, with tensors around its arguments' current buffers."""
    call = op.host
    tensors = {}

    def argument(x):
        value = values.get(id(x))
        if value is None:
            return x
        if value.kind in ("variable", "const"):
            return value.tensor if value.tensor is not None else x
        if id(value) not in tensors:
            tensors[id(value)] = wrap(value.array)
        return tensors[id(value)]

    values = {id(t): v for t, v in zip(flatten((call.args, call.kwargs)), op.inputs)
              if isinstance(v, Value)}
    args = map_structure(argument, call.args)
    kwargs = map_structure(argument, call.kwargs)
    method, result = call.method, op.output
    slot = [call.result]
    op.host_slot = slot
    if result is None:
        def run():
            slot[0] = method(*args, **kwargs)
        return run

    def run_with_result():
        slot[0] = value = method(*args, **kwargs)
        xp.copyto(result.array, value.data)
    return run_with_result


def _result_builder(graph):
    """A function rebuilding the step's return value from the buffers after a replay."""
    if graph.returned is None:
        return lambda: None
    slots = {id(op.host.result): op for op in graph.ops if op.host is not None}

    def getter(leaf):
        value = graph.value_of(leaf)
        if value is not None:
            if value.kind in ("variable", "const"):
                return lambda: leaf
            return partial(wrap, value.array)
        op = slots.get(id(leaf))
        if op is not None:
            return lambda: op.host_slot[0]
        return lambda: leaf
    getters = [getter(leaf) for leaf in flatten(graph.returned)]
    build = structure_builder(graph.returned)
    return lambda: build([get() for get in getters])
