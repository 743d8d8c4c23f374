"""What the multi-rank test scripts share: the data, the model, where results go."""

import math
import sys

import numpy as np

import numnet as keras

FEATURES, CLASSES, SAMPLES, GLOBAL_BATCH = 8, 3, 512, 64


def data(samples=SAMPLES, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, FEATURES)).astype("float32")
    y = (np.abs(x[:, 0] + x[:, 1] * x[:, 2]) * 1.5).astype("int64") % CLASSES
    return x, y


def model(optimizer, hidden=20, jit_compile=True, seed=1):
    keras.utils.set_random_seed(seed)
    net = keras.Sequential([keras.Input(shape=[FEATURES]),
                            keras.layers.Dense(hidden, activation="relu"),
                            keras.layers.Dense(CLASSES, activation="softmax")])
    net.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                metrics=["accuracy"], jit_compile=jit_compile)
    return net


class Batches(keras.utils.PyDataset):
    """Rows [i * b, (i + 1) * b) as batch i."""

    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def save(path, net, **extra):
    np.savez(path, *net.get_weights(), **extra)


def argument(i, default=None):
    return sys.argv[i] if len(sys.argv) > i else default
