"""`DistributedOptimizer`: any numnet optimizer, with its gradients averaged across ranks.

numnet's optimizers keep a model's weights in one `ParameterStore` and take
their gradients in one flat buffer laid out like it (`gradient_buffer`,
`apply_gradient_buffer`): a compiled training step writes every gradient
straight into that buffer and then calls `apply_gradient_buffer`. The
distributed optimizer sums that buffer over the ranks there, with one
allreduce, in place, and divides by the number of ranks; an eager step goes
through `apply`, which gathers the gradients into the same buffer first. So
each step costs exactly one collective of the model's size, whether it is
compiled or not, and every rank then applies the same update (clipping, weight
decay and the update rule see the averaged gradients).
"""

import types

import numpy as np

from numnet.autodiff.primitive import host_call
from numnet.autodiff.tensor import Tensor
from numnet.distribute.training import DataParallel


def DistributedOptimizer(optimizer, op="average", name=None):
    """Makes `optimizer` average (or sum, `op="sum"`) its gradients across the ranks.

    Horovod's `hvd.DistributedOptimizer(optimizer)`, adapted: the optimizer
    becomes distributed in place and is returned (its state, schedule and
    name are kept), so pass the result to `model.compile`. Its class does not
    change, so a saved model stores (and loads) an ordinary optimizer, as
    Horovod's saved models do. `fit` with it shards the data by rank (see
    `numnet.distribute`). Scale the learning rate by `size()` (the global
    batch is `size()` times larger), usually with `LearningRateWarmupCallback`
    for the first epochs.
    """
    from numnet import distribute
    from numnet.optimizers import Optimizer

    if not isinstance(optimizer, Optimizer):
        raise ValueError("DistributedOptimizer takes a numnet optimizer instance; received "
                         f"{type(optimizer).__name__}.")
    if op not in ("average", "sum"):
        raise ValueError(f"`op` must be 'average' or 'sum'; received {op!r}.")
    world = distribute.world()
    # Instance attributes come before the class' methods: the compiled step's flat update
    # and the eager step's `apply` both reach these.
    optimizer.apply = types.MethodType(apply, optimizer)
    optimizer.apply_gradient_buffer = types.MethodType(apply_gradient_buffer, optimizer)
    optimizer.plain_learning_rate = types.MethodType(plain_learning_rate, optimizer)
    optimizer.distribution = DataParallel(world)  # what `fit` shards its data by
    optimizer._reduce_op = op
    optimizer._reduced = False
    optimizer._flat = None
    if name is not None:
        optimizer.name = name
    return optimizer


def apply_gradient_buffer(self, variables, applied=False):
    """The compiled step's update: one allreduce on the flat buffer, then the update
    (`applied` is never true here: see `plain_learning_rate`)."""
    flat, _ = self.gradient_buffer(variables)
    _average(self, flat)
    self._reduced = True
    try:
        type(self).apply_gradient_buffer(self, variables)
    finally:
        self._reduced = False


def plain_learning_rate(self, variables):
    """None: no rank may move a weight before the gradients are averaged, so a compiled
    step never fuses the update into its products (see `Optimizer.plain_learning_rate`)."""
    return None


@host_call
def apply(self, grads, trainable_variables=None):
    """An eager step's update: the gradients go through one flat allreduce first."""
    base = type(self).apply  # the optimizer's own (a host call: run directly from here)
    if self._reduced:  # already averaged (apply_gradient_buffer's general path)
        return base(self, grads, trainable_variables)
    if trainable_variables is not None:
        self.prepare(trainable_variables)
    raw = [g.data if isinstance(g, Tensor) else g for g in grads]
    present = [np.asarray(g) for g in raw if g is not None]
    buffer = None if trainable_variables is None or len(present) != len(raw) else \
        self.gradient_buffer(list(trainable_variables))
    if buffer is not None:
        flat, views = buffer
        np.concatenate([g.reshape(-1) for g in present], out=flat)
    else:
        flat = _scratch_flat(self, present)
        np.concatenate([g.reshape(-1) for g in present], out=flat)
        views, start = [], 0
        for g in present:
            views.append(flat[start:start + g.size].reshape(g.shape))
            start += g.size
    _average(self, flat)
    it = iter(views)
    return base(self, [None if g is None else next(it) for g in raw], trainable_variables)


def _scratch_flat(self, arrays):
    size = sum(a.size for a in arrays)
    dtype = np.result_type(*arrays) if arrays else np.float32
    if self._flat is None or self._flat.size != size or self._flat.dtype != dtype:
        self._flat = np.empty(size, dtype=dtype)
    return self._flat


def _average(self, flat):
    world = self.distribution.world
    step = int(self.iterations.data) + 1
    world.allreduce_sum(flat, f"the gradient allreduce of step {step}")
    if self._reduce_op == "average" and world.size > 1:
        np.divide(flat, world.size, out=flat)


__all__ = ["DistributedOptimizer"]
