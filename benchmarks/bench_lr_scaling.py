"""What the learning-rate scaling of data-parallel training costs in accuracy.

N ranks with per-rank batch 32 train exactly like one process with batch
32 N (tests/distribute checks it to 1e-6), so the accuracy side of scaling
out is measured here in one process: the textbook classifier trained for a
fixed number of epochs with global batches of 32, 256, 1,024 and 4,096 (1,
8, 32 and 128 ranks of 32), with the learning rate

- kept at 0.01 (no scaling: far fewer steps per epoch, so it learns less);
- scaled linearly, 0.01 * N, with Horovod's warm-up over the first epochs
  (Goyal et al., 2017: "Accurate, Large Minibatch SGD");
- scaled by the square root, 0.01 * sqrt(N), with the same warm-up.

It prints the validation accuracy after the last epoch (median over seeds).

    python benchmarks/bench_lr_scaling.py [--epochs 10] [--seeds 2]
"""

import _common  # first: sets the thread environment before NumPy loads

import numpy as np

PER_RANK = 32


def train(keras, data, ranks, scaling, epochs, seed, warmup_epochs):
    (x, y), (xv, yv) = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    rate = 0.01 * {"none": 1, "linear": ranks, "sqrt": ranks ** 0.5}[scaling]
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(rate), metrics=["accuracy"])
    callbacks = []
    if scaling != "none" and ranks > 1:
        steps = -(-len(x) // (PER_RANK * ranks))
        callbacks.append(Warmup(keras, rate, ranks, warmup_epochs, steps))
    history = model.fit(x, y, batch_size=PER_RANK * ranks, epochs=epochs, verbose=0,
                        validation_data=(xv, yv), callbacks=callbacks)
    return history.history["val_accuracy"][-1]


def Warmup(keras, rate, ranks, warmup_epochs, steps):
    """Horovod's LearningRateWarmupCallback ramp, for `ranks` simulated ranks."""
    class _Warmup(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch < warmup_epochs:
                progress = self.epoch + batch / steps
                self.model.optimizer.learning_rate = \
                    rate / ranks * (progress * (ranks - 1) / warmup_epochs + 1)
            elif self.epoch == warmup_epochs and batch == 0:
                self.model.optimizer.learning_rate = rate
    return _Warmup()


def main():
    parser = _common.make_parser(__doc__.splitlines()[0], rounds=1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--warmup-epochs", type=int, default=2)
    args = parser.parse_args()
    _common.header(__doc__.splitlines()[0], args)
    _common.limit_threads(args.threads)
    import numnet as keras

    keras.config.set_num_threads(args.threads)

    train_data, valid, _, note = _common.load_fashion_mnist()
    print(note)
    print(f"{args.epochs} epochs, per-rank batch {PER_RANK}, warm-up {args.warmup_epochs} "
          f"epochs, validation accuracy after the last epoch (median of {args.seeds} seeds)")
    print("| ranks (global batch) | lr 0.01, not scaled | lr 0.01 x ranks, warm-up | "
          "lr 0.01 x sqrt(ranks), warm-up |")
    print("|---|---|---|---|")
    for ranks in (1, 8, 32, 128):
        cells = []
        for scaling in ("none", "linear", "sqrt"):
            if ranks == 1 and scaling != "none":
                cells.append(cells[0])
                continue
            scores = [train(keras, (train_data, valid), ranks, scaling, args.epochs, seed,
                            args.warmup_epochs) for seed in range(args.seeds)]
            cells.append(f"{np.median(scores):.4f}")
        print(f"| {ranks} ({PER_RANK * ranks}) | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
