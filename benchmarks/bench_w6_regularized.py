"""W6: the textbook classifier with Dropout and L2, against the plain one (W1), side by side.

W1's model (Flatten -> Dense(300, relu) -> Dense(100, relu) -> Dense(10,
softmax), SGD(0.01), batch 32, accuracy, validation on the last 5,000 images)
and the same model with `Dropout(0.2)` after each hidden layer and an
`L2(1e-4)` kernel regularizer on the hidden layers, both in numnet, timed on
one epoch each, interleaved. Target: W6 at most 1.15 x W1.

    python benchmarks/bench_w6_regularized.py [--rounds 3] [--threads 1]
"""

import _common  # first: sets the thread environment before NumPy loads

from _common import Timer

BATCH = 32
LR = 0.01


def epoch(data, seed, regularized):
    import numnet as keras
    (x, y), (xv, yv) = data
    keras.utils.set_random_seed(seed)
    extra = {"kernel_regularizer": keras.regularizers.L2(1e-4)} if regularized else {}
    layers = [keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
              keras.layers.Dense(300, activation="relu", **extra)]
    if regularized:
        layers.append(keras.layers.Dropout(0.2))
    layers.append(keras.layers.Dense(100, activation="relu", **extra))
    if regularized:
        layers.append(keras.layers.Dropout(0.2))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=LR), metrics=["accuracy"])
    with Timer() as t:
        model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, validation_data=(xv, yv))
    if model.compiled_reason:
        raise RuntimeError(model.compiled_reason)
    return t.elapsed


def main():
    args = _common.make_parser(__doc__.splitlines()[0], rounds=3).parse_args()
    train, valid, _, note = _common.load_fashion_mnist()
    data = (train, valid)
    import itertools
    seeds = itertools.count(1)
    impls = {"numnet W1 (plain)": lambda: epoch(data, next(seeds), False),
             "numnet W6 (Dropout + L2)": lambda: epoch(data, next(seeds), True)}
    import numnet  # noqa: F401
    _common.limit_threads(args.threads)
    _common.header("W6 against W1: seconds per epoch (fit + validation), batch 32", args)
    print(note)
    results = _common.interleave(impls, args.rounds, args.warmup)
    meds = _common.print_table(results, refs=("numnet W1 (plain)",))
    ratio = meds["numnet W6 (Dropout + L2)"] / meds["numnet W1 (plain)"]
    print(f"target W6 at most 1.15 x W1: {ratio:.2f} x -> {'MET' if ratio <= 1.15 else 'NOT MET'}")


if __name__ == "__main__":
    main()
