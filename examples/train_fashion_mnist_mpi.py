"""The textbook's Fashion-MNIST classifier, trained data-parallel on several MPI ranks.

Horovod's recipe on numnet.distribute: every rank holds the model and trains
on its shard of each global batch; the gradients are averaged across the
ranks at every step (one allreduce), so the ranks keep identical weights.
The learning rate is scaled by the number of ranks (the global batch is that
many times larger) and warmed up over the first epochs; rank 0 prints and
writes the checkpoint.

    pip install 'numnet[mpi]'            # mpi4py and the Open MPI wheel
    mpirun -n 2 python examples/train_fashion_mnist_mpi.py [--epochs 5]

Open MPI refuses to start as root unless told: add `--allow-run-as-root`, or
set both `OMPI_ALLOW_RUN_AS_ROOT=1` and `OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`.
More ranks than cores need `--oversubscribe`. Give each rank one BLAS thread
(`OPENBLAS_NUM_THREADS=1`, Open MPI passes the environment on) unless a rank
has cores to itself.
"""

import argparse
import os
import time

import numnet as keras
import numnet.distribute as hvd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128, help="rows per rank and step")
    parser.add_argument("--learning-rate", type=float, default=0.01,
                        help="for one rank; scaled by the number of ranks")
    parser.add_argument("--warmup-epochs", type=int, default=2)
    parser.add_argument("--checkpoint", default="fashion_mnist_mpi.weights.h5")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    hvd.init()
    chief = hvd.rank() == 0
    (x_train_full, y_train_full), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    n_valid = 5000 if len(x_train_full) > 10000 else len(x_train_full) // 10
    x_train, y_train = x_train_full[:-n_valid] / 255.0, y_train_full[:-n_valid]
    x_valid, y_valid = x_train_full[-n_valid:] / 255.0, y_train_full[-n_valid:]
    x_test = x_test / 255.0
    if chief:
        print(f"{hvd.size()} ranks; Fashion-MNIST: {len(x_train)} train, {len(x_valid)} "
              f"validation, {len(x_test)} test images; global batch "
              f"{args.batch_size * hvd.size()}", flush=True)

    keras.utils.set_random_seed(args.seed)  # (fit starts every rank from rank 0's weights)
    model = keras.Sequential([
        keras.layers.Input(shape=[28, 28]),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    scaled_rate = args.learning_rate * hvd.size()
    optimizer = hvd.DistributedOptimizer(keras.optimizers.SGD(scaled_rate))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"])
    callbacks = [
        hvd.BroadcastGlobalVariablesCallback(0),
        hvd.MetricAverageCallback(),  # first: the callbacks after it see global metrics
        hvd.LearningRateWarmupCallback(scaled_rate, warmup_epochs=args.warmup_epochs,
                                       verbose=1),
        keras.callbacks.ModelCheckpoint(args.checkpoint, save_weights_only=True),  # rank 0
    ]
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(x_valid, y_valid), callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    if chief:
        print(f"\nTrained {args.epochs} epochs in {seconds:.1f} s on {hvd.size()} ranks "
              f"({len(x_train) * args.epochs / seconds:.0f} samples/s)")
        print(f"Test loss: {test_loss:.4f}  test accuracy: {test_accuracy:.4f}")
        print(f"Weights saved to {os.path.abspath(args.checkpoint)}")


if __name__ == "__main__":
    main()
