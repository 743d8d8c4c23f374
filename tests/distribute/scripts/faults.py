"""A distributed fit where rank 1 goes wrong at its 6th batch, in the way MODE says.

    mpirun -n 2 python faults.py (kill|raise|hang|mismatch-model|mismatch-data)
"""

import os
import signal
import time

import numnet as keras
import numnet.distribute as hvd
from common import argument, data, model

hvd.init(timeout=3)
mode = argument(1)
rank = hvd.rank()
x, y = data(samples=2048 + 96 * (mode == "mismatch-data" and rank == 1))
net = model(hvd.DistributedOptimizer(keras.optimizers.SGD(0.1)),
            hidden=20 + (mode == "mismatch-model" and rank == 1))


class GoWrong(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if rank != 1 or batch != 5:
            return
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "raise":
            raise ArithmeticError("rank 1 broke on purpose")
        elif mode == "hang":
            time.sleep(600)

net.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[GoWrong()])
print(f"rank {rank} finished", flush=True)
