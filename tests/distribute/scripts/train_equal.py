"""Trains on the global batch split over the ranks; each rank saves its weights.

    mpirun -n R python train_equal.py OUT (jit|eager) (arrays|pydataset)
"""

import json
import os

import numnet as keras
import numnet.distribute as hvd
from common import GLOBAL_BATCH, Batches, argument, data, model, save

hvd.init()
out, mode, kind = argument(1), argument(2, "jit"), argument(3, "arrays")
rank, size = hvd.rank(), hvd.size()
x, y = data()
xv, yv = data(samples=96, seed=5)
optimizer = hvd.DistributedOptimizer(keras.optimizers.SGD(0.1, momentum=0.5))
net = model(optimizer, jit_compile=mode == "jit")
world, reduced = hvd.world(), []
allreduce_sum = world.allreduce_sum


def counted(array, what=""):
    if what.startswith("the gradient allreduce"):
        reduced.append(array)
    return allreduce_sum(array, what)


world.allreduce_sum = counted  # (to count the gradient allreduces and see their buffer)
callbacks = [hvd.MetricAverageCallback(), hvd.BroadcastGlobalVariablesCallback(0)]
if kind == "arrays":  # shuffled: every rank must draw the same permutation
    history = net.fit(x, y, batch_size=GLOBAL_BATCH // size, epochs=2, verbose=1,
                      validation_data=(xv, yv), callbacks=callbacks)
else:
    history = net.fit(Batches(x, y, GLOBAL_BATCH // size), epochs=2, verbose=1, shuffle=False,
                      validation_data=(xv, yv), callbacks=callbacks)
save(os.path.join(out, f"rank{rank}.npz"), net)
if rank == 0:
    net.save(os.path.join(out, "model.keras"))  # an ordinary optimizer in the file
    flat = optimizer.gradient_buffer(net.trainable_weights)[0]
    with open(os.path.join(out, "history.json"), "w") as handle:
        json.dump({"history": history.history, "reason": net.compiled_reason,
                   "allreduces": len(reduced),
                   "all_in_the_flat_buffer": all(a is flat for a in reduced),
                   "flat_size": int(flat.size)}, handle)
