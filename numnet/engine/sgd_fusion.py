"""Plain SGD done inside the products that make its gradients (a rewrite, see `rewrite.py`).

A stacked Dense op computes its kernel and bias gradients as one product,
`[x, 1].T @ dz` (see `numnet.autodiff.ops.nn.dense`). When the optimizer's
step is exactly `w -= lr * g` (plain SGD: its `plain_learning_rate` says so)
and nothing else reads those gradients, BLAS' `C = alpha A B + beta C` does
the step in that very product:

    [W; b] = [W; b] - lr * [x, 1].T @ dz

one call per layer (`numnet.backend.blas.product_into`): no gradient is
stored and no separate pass goes over the weights. An L2 penalty on the
kernel, whose gradient `c * W` joins the product's, becomes weight decay:
the kernel rows take `beta = 1 - lr * c`, and the bias row its own call.

Each step asks the optimizer first. When it is no longer plain (clipping
was turned on mid-fit), the products write the gradients into the
optimizer's flat buffer, L2 terms included, and the optimizer applies them
as usual. Every other read of the weights must come before their product
in the step, or nothing is fused.
"""

from numnet.autodiff.ops import arithmetic, nn as nn_ops
from numnet.backend import blas
from numnet.engine.graph import Value


class PlainStep:
    """The coming step's learning rate when it is a plain `w -= lr * g`, else None; set
    by the step's first fused kernel (the optimizer's `plain_learning_rate`)."""

    __slots__ = ("learning_rate",)

    def __init__(self):
        self.learning_rate = None


class BlockUpdate:
    """What a fused Dense product updates: its `weights` block (kernel above bias), the
    shared `step`, and the kernel's L2 factor `decay` (None without one)."""

    __slots__ = ("weights", "step", "decay")

    def __init__(self, weights, step, decay):
        self.weights, self.step, self.decay = weights, step, decay


_KERNEL_ROWS, _BIAS_ROW = slice(None, -1, None), -1  # the views of a block its gradients are


def param_block(value, key=None):
    """The stacked-dense gradient block `value` is a view of (None if it is not); with
    `key`, only when it is that view of it."""
    producer = value.producer if isinstance(value, Value) else None
    if producer is None or value.kind != "node" or producer.prim is None or \
            producer.prim.name != "getitem" or \
            key is not None and producer.attrs.get("key") != key:
        return None
    base = producer.inputs[0]
    if isinstance(base, Value) and base.producer is not None and \
            base.producer.prim is nn_ops.DENSE_PARAM_GRAD:
        return base
    return None


def fuse_sgd_updates(graph, values, owner, variables, buffer):
    """Fuses a plain SGD step into the Dense products (see the module docstring).

    `values`: the gradient values the optimizer's host call receives, one per
    variable in `variables`; `buffer`: its `(flat gradient, views)`. Returns
    the `PlainStep` the replay sets at each step, or None when it cannot fuse.
    """
    ask = getattr(owner, "plain_learning_rate", None)
    if ask is None or len(values) % 2 or ask(variables) is None:
        return None
    layers = [_layer(graph, values[i], values[i + 1], graph.value_of(variables[i]))
              for i in range(0, len(values), 2)]
    if any(layer is None for layer in layers) or not _weights_read_in_time(
            graph, layers, [graph.value_of(v) for v in variables]):
        return None
    store, flat = variables[0].store, buffer[0]
    weights = [store.block(i, i + 1) for i in range(0, len(values), 2)]
    gradients = [store.block(i, i + 1, flat=flat) for i in range(0, len(values), 2)]
    if any(w is None or w.shape != producer.output.shape or producer.output.dtype != flat.dtype
           for w, (producer, _, _) in zip(weights, layers)):
        return None
    step = PlainStep()
    for (producer, decay, gone), block, gradient in zip(layers, weights, gradients):
        for op in gone:
            op.dead = True
        producer.effect = True  # it writes the weights now
        producer.output.array, producer.output.fixed = gradient, True
        producer.attrs = dict(producer.attrs, update=BlockUpdate(block, step, decay))
    position = {id(op): i for i, op in enumerate(graph.ops)}
    first = min((producer for producer, _, _ in layers), key=lambda op: position[id(op)])
    bound = first.kernel or (lambda out, arrays, op=first: nn_ops.DENSE_PARAM_GRAD.bind(
        out, *arrays, **op.attrs))

    def ask_first():
        step.learning_rate = ask(variables)
    first.kernel = lambda out, arrays: [ask_first] + list(bound(out, arrays))
    return step


def _layer(graph, kernel_grad, bias_grad, kernel):
    """(product op, L2 factor or None, ops the fusion makes dead) for one Dense layer's
    gradients, or None when they are not one product's (plus an L2 term) read only by
    the update."""
    block = param_block(kernel_grad, _KERNEL_ROWS)
    decay, gone = None, [kernel_grad.producer]
    if block is None:
        found = _decayed(kernel_grad, kernel)
        if found is None:
            return None
        block, decay, gone = found
    if param_block(bias_grad, _BIAS_ROW) is not block or len(block.uses) != 2 or \
            len(kernel_grad.uses) != 1 or len(bias_grad.uses) != 1 or \
            not blas.available(block.dtype):
        return None
    return block.producer, decay, gone + [bias_grad.producer]


def _decayed(value, kernel):
    """(block, c, ops) when `value` is `block[:-1] + c * kernel` (an L2 term joined to a
    product's gradient), each part read only there; else None."""
    op = value.producer
    if value.kind != "node" or op is None or op.prim is not arithmetic.ADD or op.attrs:
        return None
    for view, term in (op.inputs, op.inputs[::-1]):
        block = param_block(view, _KERNEL_ROWS)
        factor = _factor(term, kernel)
        if block is not None and factor is not None and len(view.uses) == 1 and \
                len(term.uses) == 1:
            return block, factor, [op, term.producer, view.producer]
    return None


def _factor(value, kernel):
    """c when `value` is `kernel * c` with c a constant number, else None."""
    op = value.producer if isinstance(value, Value) else None
    if op is None or value.kind != "node" or op.prim is not arithmetic.MULTIPLY or op.attrs:
        return None
    for a, b in (op.inputs, op.inputs[::-1]):
        if a is kernel:
            if isinstance(b, (int, float)) and not isinstance(b, bool):
                return float(b)
            if isinstance(b, Value) and b.kind == "const" and b.shape == ():
                return float(b.array)
    return None


def _weights_read_in_time(graph, layers, variable_values):
    """Whether every op still reading a weight runs before the product that changes it."""
    position = {id(op): i for i, op in enumerate(graph.ops)}
    gone = {id(op) for _, _, ops in layers for op in ops}
    for i, (producer, _, _) in enumerate(layers):
        for value in variable_values[2 * i:2 * i + 2]:
            for use in value.uses:
                if use.host is None and id(use) not in gone and \
                        position[id(use)] > position[id(producer)]:
                    return False
    return True
