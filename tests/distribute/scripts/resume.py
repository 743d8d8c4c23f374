"""Four epochs with BackupAndRestore, a checkpoint, a CSV log and the progress bar.

    mpirun -n 2 python resume.py OUT BACKUP (run|interrupt)

With `interrupt`, rank 0 raises when epoch 3 begins (after its backup of epoch 2).
"""

import os

import numnet as keras
import numnet.distribute as hvd
from common import GLOBAL_BATCH, argument, data, model, save

hvd.init()
out, backup, mode = argument(1), argument(2), argument(3)
rank, size = hvd.rank(), hvd.size()
x, y = data()
net = model(hvd.DistributedOptimizer(keras.optimizers.Adam(0.01)))


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if mode == "interrupt" and epoch == 2 and rank == 0:
            raise KeyboardInterrupt("stopped on purpose")


net.fit(x, y, batch_size=GLOBAL_BATCH // size, epochs=4, verbose=2,
        callbacks=[hvd.MetricAverageCallback(), keras.callbacks.BackupAndRestore(backup),
                   keras.callbacks.ModelCheckpoint(os.path.join(out, "last.weights.h5"),
                                                   save_weights_only=True),
                   keras.callbacks.CSVLogger(os.path.join(out, "log.csv"), append=True),
                   Interrupt()])
save(os.path.join(out, f"rank{rank}.npz"), net)
