"""Data-parallel training over MPI, in Horovod's shape (`import numnet.distribute as hvd`).

Every rank (process) holds the whole model and trains on its shard of the
data; after each step's backward pass the gradients are averaged across the
ranks by one allreduce on the optimizer's flat gradient buffer, so every rank
applies the same update and the weights stay identical. Run a script with
`mpirun -n 4 python train.py` (mpi4py and an MPI library: `pip install
'numnet[mpi]'`; as root, Open MPI also wants `OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`).

```python
import numnet as keras
import numnet.distribute as hvd

hvd.init()
model = build_model()
# Scale the learning rate with the number of ranks: the global batch is size times larger.
optimizer = hvd.DistributedOptimizer(keras.optimizers.SGD(0.01 * hvd.size()))
model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, y, batch_size=128, epochs=5,          # 128 rows per rank and step
          callbacks=[hvd.BroadcastGlobalVariablesCallback(0), hvd.MetricAverageCallback(),
                     keras.callbacks.ModelCheckpoint("ckpt.keras")])
```

What `fit` does with a `DistributedOptimizer`, beyond Horovod:

- in-memory (and memory-mapped) arrays and `PyDataset`s are sharded by rank:
  `batch_size` is per rank (as in Horovod), each step's global batch is
  `batch_size * size()` rows (or `size()` PyDataset batches) and rank r takes
  its part of it; the `n % size()` rows left over in a pass are not used in
  that pass (PyTorch's `DistributedSampler(drop_last=True)`). With the same
  initial weights this trains exactly as one process on the global batch
  (up to float rounding). Generators and other datasets are read as given:
  each rank's yields its own shard (`numnet.utils.shard_dataset` shards by
  rank itself), and a generator needs `steps_per_epoch`;
- at the start, every rank checks that the others have the same model,
  optimizer state and data shapes, and takes rank 0's weights, optimizer
  state and random generator state (so shuffling agrees);
- only rank 0 prints the progress bar and writes `ModelCheckpoint`,
  `BackupAndRestore` and `CSVLogger` files; restarting with the same number of
  ranks resumes from rank 0's backup.

`evaluate` and `predict` are not sharded: each rank computes them on all the
data it is given (the same numbers everywhere).
"""

import atexit
import os
import sys

from numnet.distribute.world import World

_WORLD = None
_NOT_INITIALIZED = "numnet.distribute has not been initialized; use numnet.distribute.init()."


def init(comm=None, timeout=None):
    """Starts numnet.distribute on MPI (idempotent).

    Args:
        comm: the mpi4py communicator of the ranks that train together
            (default `MPI.COMM_WORLD`).
        timeout: seconds a rank waits for the others in a collective (a
            step's allreduce) before the job ends with an error naming the
            missing ranks (default 300, or the environment variable
            `NUMNET_DISTRIBUTE_TIMEOUT`).
    """
    global _WORLD
    if _WORLD is not None:
        return
    if timeout is None:
        timeout = float(os.environ.get("NUMNET_DISTRIBUTE_TIMEOUT", 300))
    _WORLD = World(comm, timeout)
    _share_cores(_WORLD.local_size)
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        if _WORLD is not None and _WORLD.size > 1:
            _WORLD.fail(exc_type, exc, tb)
        previous(exc_type, exc, tb)
    sys.excepthook = excepthook
    atexit.register(shutdown)


def _share_cores(local_size):
    """One BLAS thread per rank when the machine's ranks fill its cores.

    numnet picks BLAS threads per call from the cores that look free (see
    `numnet.config.set_num_threads`); ranks started together would each see
    every core free and oversubscribe them. An explicit setting is kept.
    """
    from numnet import config

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    if local_size > 1 and cores <= local_size and config.get_num_threads() is None:
        config.set_num_threads(1)


def shutdown():
    """Stops numnet.distribute (at exit, before MPI finalizes)."""
    global _WORLD
    if _WORLD is not None:
        _WORLD.close()
        _WORLD = None


def is_initialized():
    return _WORLD is not None


def world():
    """The `World` (ranks and collectives); ValueError before `init()`."""
    if _WORLD is None:
        raise ValueError(_NOT_INITIALIZED)
    return _WORLD


def rank():
    """This process' rank, 0 to `size() - 1`."""
    return world().rank


def size():
    """The number of ranks."""
    return world().size


def local_rank():
    """The rank among the processes on this machine."""
    return world().local_rank


def local_size():
    """The number of ranks on this machine."""
    return world().local_size


def is_chief():
    """True for rank 0, and for a process that never called `init()`: it prints and writes."""
    return _WORLD is None or _WORLD.rank == 0


def allreduce(value, op="average", name=None):
    """`value` (array-like) summed or averaged over the ranks, as a new array."""
    import numpy as np

    array = np.array(value, copy=True)
    world().allreduce_sum(array, f"allreduce {name or ''}".strip())
    if op == "average":
        np.divide(array, _WORLD.size, out=array, casting="unsafe")
    elif op != "sum":
        raise ValueError(f"`op` must be 'average' or 'sum'; received {op!r}.")
    return array


def broadcast(value, root_rank=0, name=None):
    """Rank `root_rank`'s `value` (array-like), as a new array on every rank."""
    import numpy as np

    array = np.array(value, copy=True)
    return world().broadcast(array, root_rank, f"broadcast {name or ''}".strip())


def broadcast_variables(variables, root_rank=0):
    """Overwrites `variables` (numnet Variables) with rank `root_rank`'s values, in place."""
    from numnet.distribute.training import broadcast_arrays
    broadcast_arrays(world(), [v.data for v in variables], root_rank)


def barrier():
    """Waits until every rank gets here."""
    world().barrier()


from numnet.distribute.optimizer import DistributedOptimizer  # noqa: E402
from numnet.distribute import callbacks  # noqa: E402
from numnet.distribute.callbacks import (  # noqa: E402
    BroadcastGlobalVariablesCallback,
    LearningRateWarmupCallback,
    MetricAverageCallback,
)

__all__ = ["BroadcastGlobalVariablesCallback", "DistributedOptimizer",
           "LearningRateWarmupCallback", "MetricAverageCallback", "allreduce",
           "barrier", "broadcast", "broadcast_variables", "callbacks", "init", "is_chief",
           "is_initialized", "local_rank", "local_size", "rank", "shutdown", "size", "world"]
