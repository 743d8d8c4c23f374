"""shard_dataset under numnet.distribute: each rank reads its own chunks, all take the same steps.

    mpirun -n R python shards.py FOLDER OUT
"""

import json
import os

import numnet as keras
import numnet.distribute as hvd
from common import argument

hvd.init()
folder, out = argument(1), argument(2)
data = keras.utils.shard_dataset(folder, label="y", features=["id", "a"], batch_size=16,
                                 chunk_rows=25, seed=0)
ids = [int(i) for batch in data for i in batch[0][:, 0]]
train = keras.utils.shard_dataset(folder, label="y", features=["a"], batch_size=16,
                                  chunk_rows=25, seed=0)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input(shape=[1]), keras.layers.Dense(1)])
model.compile(optimizer=hvd.DistributedOptimizer(keras.optimizers.SGD(0.1)), loss="mse")
history = model.fit(train, epochs=2, verbose=0, callbacks=[hvd.MetricAverageCallback()])
with open(os.path.join(out, f"rank{hvd.rank()}.json"), "w") as handle:
    json.dump({"ids": ids, "steps": len(data), "loss": history.history["loss"],
               "weights": [w.tolist() for w in model.get_weights()]}, handle)
