"""Rewrites: changing how a captured graph computes, never what.

Each rewrite takes a `Graph` and marks ops or values; `plan.py` then
allocates and binds what is left. In the order `rewrite` applies them:

- `fold_constants`: an op on constants only is computed once, now;
- `merge_common`: the same op on the same values (a loss and a metric both
  computing `y_pred - y_true`) is computed once;
- `drop_identities`: `x * 1`, `x / 1`, `x + 0` are `x`;
- `mark_per_epoch`: an op on constants and on variables the step never writes
  (a Normalization's statistics) runs once per epoch, not at every step;
- `hoist_rows`: the ops that depend only on the batch inputs, row by row (a
  Normalization or a Flatten of the inputs, a concatenation of inputs) run
  once per epoch over the whole data, and each step gathers the rows it
  needs, when that fits a memory budget;
- `concatenate_in_place`: the ops producing a concatenation's parts write
  them straight into its slices, so no copy joins them;
- `widen_dense_inputs`: a Dense layer whose kernel sits above its bias in the
  parameter store computes `x @ W + b` as one product of `[x, 1]` with the
  `(inputs + 1, units)` block (and both gradients as one product too, see
  `ops.dense`); its input is then written straight into an `[x, 1]` buffer;
- `gradients_into_store`: the gradients an optimizer receives are written
  straight into its flat gradient buffer, and its host call becomes one flat
  update; a plain SGD step is done inside the products that make the
  gradients (`sgd_fusion.fuse_sgd_updates`);
- `share_softmax_statistics`: a sparse cross-entropy on logits reads the row
  maxima and sums a softmax of the same logits just computed;
- `drop_dead`: ops nothing needs are dropped.

The softmax or sigmoid + cross-entropy pair needs no rewrite: the loss
primitive reads the logits and the probabilities, and differentiates in
closed form (see `numnet.kernels.losses`).
"""

from numnet.autodiff.ops import nn as nn_ops, state as state_ops
from numnet.backend import xp
from numnet.engine.graph import Value
from numnet.engine.sgd_fusion import fuse_sgd_updates, param_block
from numnet.tree import flatten

# Row-wise primitives besides single ufuncs: each output row depends on its input row.
_ROW_WISE = {"affine", "cast", "where"} | set(nn_ops.ACTIVATION_PRIMITIVES)


def rewrite(graph, source_rows, hoist_budget):
    """Applies every rewrite; returns the hoisted ops (see `hoist_rows`)."""
    fold_constants(graph)
    merge_common(graph)
    drop_identities(graph)
    mark_per_epoch(graph)
    hoisted = hoist_rows(graph, source_rows, hoist_budget)
    concatenate_in_place(graph)
    widen_dense_inputs(graph)
    widen_relu_gradients(graph)
    gradients_into_store(graph)
    share_softmax_statistics(graph)
    share_batch_sums(graph)
    drop_dead(graph, hoisted)
    return hoisted


# ------------------------------------------------------------------ constants
def fold_constants(graph):
    for op in graph.ops:
        if op.prim is None or op.prim.kind not in ("pure", "view"):
            continue
        if all(not isinstance(v, Value) or v.kind == "const" for v in op.inputs):
            out = op.output
            out.kind = "const"
            arrays = [v.array if isinstance(v, Value) else v for v in op.inputs]
            out.array = xp.asarray(op.prim.compute(*arrays, **op.attrs))
            op.dead = True


# ----------------------------------------------------------- common and identity
def _key(op):
    """What makes two ops compute the same value (None when it cannot be told)."""
    inputs = tuple(("value", id(v)) if isinstance(v, Value) else ("literal", type(v), v)
                   for v in op.inputs)
    key = (op.prim, inputs, tuple(sorted(op.attrs.items())))
    try:
        hash(key)
    except TypeError:  # unhashable attributes (index keys with slices, arrays)
        return None
    return key


def merge_common(graph):
    seen = {}
    for op in graph.ops:
        if op.dead or op.prim is None or op.prim.kind not in ("pure", "view"):
            continue
        key = _key(op)
        first = op if key is None else seen.setdefault(key, op)
        if first is not op:
            graph.replace(op.output, first.output)
            op.dead = True


_NEUTRAL = {"multiply": 1, "divide": 1, "add": 0, "subtract": 0}


def drop_identities(graph):
    for op in graph.ops:
        if op.dead or op.prim is None or op.prim.name not in _NEUTRAL:
            continue
        x, other = op.inputs
        if isinstance(other, Value) or other != _NEUTRAL[op.prim.name] or \
                type(other) is bool or not isinstance(x, Value):
            continue
        if x.shape == op.output.shape and x.dtype == op.output.dtype:
            graph.replace(op.output, x)
            op.dead = True


# ----------------------------------------------------------------- per epoch
def _invariant(v, written):
    """Whether a value stays the same through an epoch's steps."""
    if not isinstance(v, Value) or v.kind == "const":
        return True
    if v.kind == "variable":
        return id(v.tensor) not in written
    return v.kind == "node" and v.producer.per_epoch


def mark_per_epoch(graph):
    written = graph.variables_written()
    for op in graph.ops:
        if not op.dead and op.prim is not None and op.prim.kind in ("pure", "view") and \
                all(_invariant(v, written) for v in op.inputs):
            op.per_epoch = True


# ---------------------------------------------------------------- row hoisting

def _row_op(op, rows, batch, written):
    """Whether `op` maps each batch row to its output row, from row values and invariants."""
    prim = op.prim
    if op.dead or op.per_epoch or prim is None or prim.kind not in ("pure", "view"):
        return False
    values = [v for v in op.inputs if isinstance(v, Value)]
    if not any(id(v) in rows for v in values) or op.output.shape[:1] != (batch,):
        return False
    for v in values:
        # an invariant broadcasts along the batch axis: it must not carry one
        if id(v) not in rows and (not _invariant(v, written) or (
                len(v.shape) == len(op.output.shape) and v.shape[:1] != (1,))):
            return False
    ndim = len(op.output.shape)
    if prim.ufunc is not None or prim.name in _ROW_WISE:
        return op.attrs.get("axis", -1) % ndim != 0
    if prim.name == "concatenate":
        return op.attrs["axis"] % ndim != 0
    return prim.name == "reshape"  # keeps the batch axis (checked above)


def hoist_rows(graph, source_rows, budget):
    """Moves the ops that work row by row on the batch inputs to once per epoch.

    Returns the hoisted ops, in order. The values of theirs that per-step ops
    (or the step's result) read become `kind="gathered"`: gathered at every
    step from the whole-data result. Nothing moves when those whole-data
    results would take more than `budget` bytes, or when the batches are
    streamed (`source_rows` None: there is no whole data).
    """
    if source_rows is None or not graph.inputs or not graph.inputs[0].shape:
        return []
    batch = graph.inputs[0].shape[0]
    rows = {id(v) for v in graph.inputs if v.shape[:1] == (batch,)}
    hoisted, written = [], graph.variables_written()
    for op in graph.ops:
        if _row_op(op, rows, batch, written):
            hoisted.append(op)
            rows.add(id(op.output))
    if not hoisted:
        return []
    moved = {id(op) for op in hoisted}
    returned = {id(graph.value_of(x)) for x in flatten(graph.returned)}
    frontier = [op.output for op in hoisted
                if id(op.output) in returned or any(id(u) not in moved for u in op.output.uses)]
    # views of the whole data (a Flatten) cost nothing; computed results cost their size
    row_bytes = sum(v.dtype.itemsize * int(xp.prod(v.shape[1:])) for v in frontier
                    if v.producer.prim.kind != "view")
    if row_bytes * source_rows > budget:
        return []
    for op in hoisted:
        op.dead = True
    for value in frontier:
        value.kind = "gathered"
    return hoisted


# ------------------------------------------------------- concatenation in place
def concatenate_in_place(graph):
    """Lets the parts of a last-axis concatenation be slices of its output buffer."""
    for op in graph.ops:
        if op.dead or op.prim is None or op.prim.name != "concatenate":
            continue
        out = op.output
        if len(out.shape) < 2 or op.attrs["axis"] % len(out.shape) != len(out.shape) - 1:
            continue
        parts = op.inputs
        if len({id(p) for p in parts}) != len(parts) or not all(_redirectable(p) for p in parts):
            continue
        if any(u.prim in (nn_ops.DENSE_STACKED, nn_ops.DENSE_PARAM_GRAD)
               for p in parts[:-1] for u in p.uses):
            continue  # such a part gets its own [x, 1] buffer (the last: see `_widen`)
        start = 0
        for part in parts:
            stop = start + part.shape[-1]
            part.view_of, part.make_view = out, (lambda a, s=start, e=stop: a[..., s:e])
            part.fixed = True
            start = stop
        op.dead = True
        out.producer = None
        out.kind = "joined"  # its parts write it; nothing else does
        out.parts = tuple(parts)


def _redirectable(value):
    """Whether the op (or the feed) producing `value` can write into any strided array."""
    if not isinstance(value, Value) or value.fixed or value.view_of is not None:
        return False
    if value.kind in ("input", "gathered"):
        return True
    return value.kind == "node" and value.producer is not None and \
        value.producer.prim is not None and value.producer.prim.kind in ("pure", "random") \
        and not value.producer.per_epoch


# --------------------------------------------------------------- dense folding
def widen_dense_inputs(graph):
    """Stores the input of each stacked Dense op with its column of ones.

    `ops.dense` computes a kernel stored above its bias as `[x, 1] @ block`
    (and both gradients as `[x, 1].T @ dz`); by default each replay copies x
    into a scratch `[x, 1]`. Here the op that produces x writes it straight
    into the left part of an (m, k + 1) buffer whose last column is ones, and
    the products read that buffer: no copy.
    """
    widened = {}
    for op in graph.ops:
        if op.dead or op.prim not in (nn_ops.DENSE_STACKED, nn_ops.DENSE_PARAM_GRAD):
            continue
        x = op.inputs[0]
        if not _widen(x, widened):
            continue
        wide = widened[id(x)].array
        if x.kind == "node" and x.producer.prim is nn_ops.DENSE_STACKED:
            x.producer.attrs = dict(x.producer.attrs, out_wide=wide)
        # (attributes are read when bound: later ops and `sgd_fusion` may add one)
        op.kernel = lambda out, arrays, wide=wide, op=op: op.prim.bind(
            out, *arrays, wide=wide, **op.attrs)


def widen_relu_gradients(graph):
    """Gives a relu's gradient and the product making it (a Dense's input gradient) the
    `(m, k + 1)` rows of the relu's widened output too, so the mask multiplies whole rows,
    one contiguous pass (the relu gradient's `bind` in `ops.nn`; the last column goes unused)."""
    for op in graph.ops:
        if op.dead or op.prim is not _RELU_GRAD:
            continue
        g, y = op.inputs
        if getattr(y.view_of, "shape", None) == y.shape[:1] + (y.shape[1] + 1,) and \
                g.producer is not None and g.producer.prim is nn_ops.DENSE_INPUT_GRAD and \
                len(g.uses) == 1 and _widen(g, {}, fill=0) and _widen(op.output, {}, fill=0):
            _applied(graph, "widen_relu_gradients")


_RELU_GRAD = nn_ops.ACTIVATION_PRIMITIVES["relu"][1]


def _widen(x, widened, fill=1):
    """Gives `x` (m, k) the array `wide[:, :k]` of an (m, k + 1) buffer whose last column is
    `fill` (the last part of a joined concatenation: the last columns of the joined value's)."""
    if id(x) in widened:
        return True
    joined = getattr(x, "view_of", None)
    if joined is not None and joined.kind == "joined" and joined.parts[-1] is x and \
            len(x.shape) == 2 and _widen(joined, widened):  # [x, 1]: the joined's last columns
        widened[id(x)] = Value.new((x.shape[0], x.shape[1] + 1), x.dtype)
        widened[id(x)].array = widened[id(joined)].array[:, joined.shape[1] - x.shape[1]:]
        return True
    if not isinstance(x, Value) or len(x.shape) != 2 or x.fixed or x.view_of is not None or \
            x.kind not in ("node", "input", "gathered", "joined") or (
            x.kind == "node" and x.producer.prim is not None and x.producer.prim.kind == "view"):
        return False
    m, k = x.shape
    wide = Value.new((m, k + 1), x.dtype)
    wide.array, wide.fixed = xp.full((m, k + 1), fill, dtype=x.dtype), True
    x.view_of, x.make_view, x.fixed = wide, (lambda a, k=k: a[:, :k]), True
    widened[id(x)] = wide
    return True


# ------------------------------------------------------- gradients into store
def gradients_into_store(graph):
    """Writes an optimizer's gradients into its flat buffer and applies them in one call."""
    for op in graph.ops:
        if op.dead or op.host is None or op.host.kwargs or len(op.host.args) != 3:
            continue
        owner, grads, variables = op.host.args
        if op.host.method.__name__ != "apply" or not hasattr(owner, "gradient_buffer"):
            continue
        values = [graph.value_of(g) for g in grads]
        buffer = owner.gradient_buffer(list(variables))
        if buffer is None or any(v is None for v in values):
            continue
        variables = list(variables)
        step = fuse_sgd_updates(graph, values, owner, variables, buffer)
        if step is not None:
            # the products update the weights (or, in a step that is not plain, write the
            # gradients into the buffer themselves): the host call reads no gradient
            op.inputs = [v for v in op.inputs if not any(v is g for g in values)]
            op.kernel = _store_update(owner, variables, step=step)
            _applied(graph, "fuse_sgd_updates")
            continue
        op.kernel = _store_update(owner, variables, _redirect(values, variables, buffer))


def _redirect(values, variables, buffer):
    """Points each gradient value at its slot of the flat buffer; returns the copies left.

    A stacked Dense op's two gradients are views of one block: the block goes
    into the buffer when the kernel's and the bias's slots are that block.
    """
    flat, views = buffer
    store = variables[0].store
    placed = set()
    for i, value in enumerate(values[:-1]):
        block = param_block(value)
        if block is not None and param_block(values[i + 1]) is block and not block.fixed \
                and block.dtype == flat.dtype:
            block.array, block.fixed = store.block(i, i + 1, flat=flat), True
            placed.update((id(value), id(values[i + 1])))
    copies = []
    for value, view in zip(values, views):
        if id(value) in placed:
            continue
        if value.kind == "node" and not value.fixed and value.view_of is None and \
                value.producer.prim is not None and value.producer.prim.kind != "view" and \
                value.dtype == flat.dtype and len(value.uses) == 1:
            value.array, value.fixed = view, True
        else:
            copies.append((value, view))
    return copies


def _store_update(owner, variables, copies=(), step=None):
    """The kernel of an optimizer's host call on its flat gradient buffer: the gradients
    not written there yet are copied in, then the step is applied (or, when `step`'s
    products already did it, counted)."""
    def kernel(out, arrays):
        pairs = [(view, value.array) for value, view in copies]
        update = owner.gradient_buffer_update(variables) if step is None else (
            lambda: owner.apply_gradient_buffer(variables, step.learning_rate is not None))

        def run():
            for view, array in pairs:
                xp.copyto(view, array)
            update()
        return run
    return kernel


# ------------------------------------------------------ softmax statistics
_SOFTMAX = nn_ops.ACTIVATION_PRIMITIVES["softmax"][0]
_SPARSE_CROSS_ENTROPY = nn_ops.LOSS_PRIMITIVES["sparse_categorical_crossentropy"]


def share_softmax_statistics(graph):
    """Lets a sparse cross-entropy on logits reuse its softmax's row maxima and sums.

    The loss is `log(sum(exp(z - max))) - (z[label] - max)`; a softmax of the
    same logits along the last axis (the probabilities the loss is handed)
    computes `max` and `sum(exp(z - max))` with the very same operations, so
    the loss takes them from the softmax's scratch buffers: the same numbers,
    without a second pass over the logits.
    """
    for op in graph.ops:
        if op.dead or op.prim is not _SPARSE_CROSS_ENTROPY or len(op.inputs) != 3 or \
                not op.attrs.get("from_logits"):
            continue
        logits, probabilities = op.inputs[1], op.inputs[2]
        softmax = probabilities.producer if isinstance(probabilities, Value) else None
        if softmax is None or softmax.prim is not _SOFTMAX or softmax.dead or \
                softmax.kernel is not None or softmax.per_epoch or op.per_epoch or \
                softmax.inputs[0] is not logits or \
                softmax.attrs.get("axis", -1) not in (-1, len(logits.shape) - 1):
            continue
        stats = nn_ops.softmax_scratch(logits.shape, probabilities.dtype)
        softmax.attrs = dict(softmax.attrs, scratch=stats)
        op.attrs = dict(op.attrs, softmax_stats=stats)
        _applied(graph, "share_softmax_statistics")


# ---------------------------------------------------------------- batch sums
def share_batch_sums(graph):
    """Lets a running mean add the sum a loss takes of the same per-sample values.

    A regressor's mean squared error and its MSE or RMSE metric read the same
    `mean_square` values (`merge_common` made them one): the metric's running
    mean then adds the loss's unscaled sum, which it would compute with the
    same bits (`ops.state.accumulate_mean` sums a batch in float32 as the loss
    does), instead of summing the values again.
    """
    sums = {}  # id(values) -> the loss's weighted_sum op of them
    for op in graph.live_ops():
        values = op.inputs[-1] if op.inputs and not op.per_epoch else None
        if not isinstance(values, Value):
            continue
        if op.prim is nn_ops.WEIGHTED_SUM and len(op.inputs) == 1:
            sums.setdefault(id(values), op)
        elif op.prim is state_ops.ACCUMULATE_MEAN and id(values) in sums and \
                op.attrs["weight"] is None and len(values.shape) == 1 and \
                values.dtype in (xp.float32, xp.float64):  # summed in that dtype by both
            loss = sums[id(values)]
            unscaled = loss.attrs.get("unscaled", xp.zeros((), values.dtype))
            loss.attrs, loss.effect = dict(loss.attrs, unscaled=unscaled), True  # (always run)
            del op.inputs[-1]  # the running mean reads that sum, not the values
            values.uses.remove(op)
            op.kernel = lambda out, arrays, s=unscaled, n=values.shape[0]: \
                state_ops.add_batch_sum(*arrays, s, n)
            _applied(graph, "share_batch_sums")


def _applied(graph, rewrite_name):
    """Counts one change a rewrite made (`Program.stats["rewrites"]`, for logs and tests)."""
    graph.applied[rewrite_name] = graph.applied.get(rewrite_name, 0) + 1


# ---------------------------------------------------------------- dead code
def drop_dead(graph, hoisted=()):
    """Keeps only what host calls, effects, random draws, hoisted ops and the result need."""
    wanted = set()
    for leaf in flatten(graph.returned):
        _want(graph.value_of(leaf), wanted)
    for op in hoisted:
        for v in op.inputs:
            _want(v, wanted)
    for op in reversed(graph.ops):
        if op.dead:
            continue
        if op.host is not None or op.effect or op.prim.kind in ("effect", "random") or (
                op.output is not None and id(op.output) in wanted):
            for v in op.inputs:
                _want(v, wanted)
        else:
            op.dead = True


def _want(value, wanted):
    """Marks `value` needed, with what it views and, when joined, its parts."""
    while isinstance(value, Value) and id(value) not in wanted:
        wanted.add(id(value))
        for part in value.parts:
            _want(part, wanted)
        value = value.view_of
