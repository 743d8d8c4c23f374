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

import numpy as np

from numnet.autodiff.primitive import host_call
from numnet.autodiff.tensor import Tensor
from numnet.distribute.training import DataParallel


def DistributedOptimizer(optimizer, op="average", name=None):
    """Makes `optimizer` average (or sum, `op="sum"`) its gradients across the ranks.

    Horovod's `hvd.DistributedOptimizer(optimizer)`, adapted: the optimizer
    becomes distributed in place and is returned (its state, schedule and
    name are kept), so pass the result to `model.compile`. Its class keeps its
    name, so a saved model loads as an ordinary optimizer. `fit` with it
    shards the data by rank (see `numnet.distribute`). Scale the learning
    rate by `size()` (the global batch is `size()` times larger), usually with
    `LearningRateWarmupCallback` for the first epochs.
    """
    from numnet import distribute
    from numnet.optimizers import Optimizer

    if not isinstance(optimizer, Optimizer):
        raise ValueError("DistributedOptimizer takes a numnet optimizer instance; received "
                         f"{type(optimizer).__name__}.")
    if op not in ("average", "sum"):
        raise ValueError(f"`op` must be 'average' or 'sum'; received {op!r}.")
    world = distribute.world()
    if not isinstance(optimizer, _Distributed):
        optimizer.__class__ = _distributed_class(type(optimizer))
    optimizer._world = world
    optimizer._reduce_op = op
    optimizer._reduced = False
    optimizer._flat = None
    if name is not None:
        optimizer.name = name
    return optimizer


class _Distributed:
    """Mixed into the optimizer's class: the allreduce before every update."""

    @property
    def distribution(self):
        """What `fit` shards its data by and starts the ranks with."""
        return DataParallel(self._world)

    def apply_gradient_buffer(self, variables):
        """The compiled step's update: one allreduce on the flat buffer, then the update."""
        flat, _ = self.gradient_buffer(variables)
        self._average(flat, self.iterations)
        self._reduced = True
        try:
            super().apply_gradient_buffer(variables)
        finally:
            self._reduced = False

    @host_call
    def apply(self, grads, trainable_variables=None):
        """An eager step's update: the gradients go through one flat allreduce first."""
        if self._reduced:  # already averaged (apply_gradient_buffer's general path)
            return super().apply(grads, trainable_variables)
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
            flat = self._scratch_flat(present)
            np.concatenate([g.reshape(-1) for g in present], out=flat)
            views, start = [], 0
            for g in present:
                views.append(flat[start:start + g.size].reshape(g.shape))
                start += g.size
        self._average(flat, self.iterations)
        it = iter(views)
        return super().apply([None if g is None else next(it) for g in raw],
                             trainable_variables)

    def _scratch_flat(self, arrays):
        size = sum(a.size for a in arrays)
        dtype = np.result_type(*arrays) if arrays else np.float32
        if self._flat is None or self._flat.size != size or self._flat.dtype != dtype:
            self._flat = np.empty(size, dtype=dtype)
        return self._flat

    def _average(self, flat, step):
        world = self._world
        world.allreduce_sum(flat, f"the gradient allreduce of step {int(step.data) + 1}")
        if self._reduce_op == "average" and world.size > 1:
            np.divide(flat, world.size, out=flat)


_CLASSES = {}


def _distributed_class(base):
    """`base` with `_Distributed` mixed in, named like `base` (made once per class)."""
    cls = _CLASSES.get(base)
    if cls is None:
        cls = type(base.__name__, (_Distributed, base), {"__module__": base.__module__,
                                                         "__qualname__": base.__qualname__})
        _CLASSES[base] = cls
    return cls


__all__ = ["DistributedOptimizer"]
