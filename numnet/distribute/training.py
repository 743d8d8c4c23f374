"""What `fit` does differently when its model trains with a `DistributedOptimizer`.

`fit` finds a `DataParallel` as its optimizer's `distribution` and:

- passes it to the data adapter as `shard` (its `rank` and `size`): arrays
  and PyDatasets are split by rank (see `numnet.models.data_adapter`);
- calls `begin_fit(model, data)` once the model is built: every rank checks
  that the others agree on the model, the optimizer and the data (so a
  mismatch fails at once, on every rank, instead of deadlocking later), then
  takes rank 0's weights, optimizer state and random generator state;
- calls `end_fit(error)` when it ends: a rank whose fit raised tells the
  others at once, and they stop with its error instead of waiting for it
  (even if this rank's script catches the exception).
"""

import numpy as np

from numnet.backend import global_generator


class DataParallel:
    """The ranks of `world` training one model together (see the module docstring)."""

    def __init__(self, world):
        self.world = world

    @property
    def rank(self):
        return self.world.rank

    @property
    def size(self):
        return self.world.size

    def begin_fit(self, model, data):
        world = self.world
        self._agree(model, data)
        optimizer = model.optimizer
        arrays = [w.data for w in model.weights]
        if optimizer.built:
            arrays += [v.data for v in optimizer.variables]
        broadcast_arrays(world, arrays, 0)
        generator = global_generator()
        generator.bit_generator.state = world.broadcast_object(
            generator.bit_generator.state, 0, "the start of fit (random state)")

    def _agree(self, model, data):
        """Raises on every rank if any rank's model, optimizer or data differs from rank 0's."""
        mine = _summary(model, data)
        everyone = self.world.allgather_object(mine, "the start of fit (comparing ranks)")
        problems = []
        for rank, theirs in enumerate(everyone[1:], start=1):
            for key in mine:
                if theirs[key] != everyone[0][key]:
                    problems.append(f"rank {rank}'s {key} {_short(theirs[key])} differs from "
                                    f"rank 0's {_short(everyone[0][key])}")
        if problems:
            raise ValueError("numnet.distribute: the ranks do not train the same thing: "
                             + "; ".join(problems) + ".")

    def end_fit(self, error=None):
        """Called when fit ends; `error` is the exception it raised, if any."""
        if error is not None:
            self.world.tell_others(f"failed in fit with {type(error).__name__}: {error}")


def _summary(model, data):
    optimizer = model.optimizer
    description = data.describe()
    return {
        "model weights (shapes)": [(tuple(w.data.shape), w.data.dtype.str) for w in model.weights],
        "optimizer": (type(optimizer).__name__,
                      [tuple(v.data.shape) for v in optimizer.variables]
                      if optimizer.built else "not built"),
        "steps per epoch": description["steps"],
        "batch shapes (per sample)": description["data"],
    }


def _short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def broadcast_arrays(world, arrays, root):
    """Overwrites `arrays` with rank `root`'s, in place: one broadcast per dtype."""
    if world.size == 1 or not arrays:
        return
    groups = {}
    for array in arrays:
        groups.setdefault(array.dtype.str, []).append(array)
    for dtype, group in sorted(groups.items()):
        flat = np.concatenate([a.reshape(-1) for a in group]) if len(group) > 1 else \
            np.ascontiguousarray(group[0].reshape(-1)).copy()
        world.broadcast(flat, root, "the start of fit (weights)")
        start = 0
        for array in group:
            array[...] = flat[start:start + array.size].reshape(array.shape)
            start += array.size


__all__ = ["DataParallel", "broadcast_arrays"]
