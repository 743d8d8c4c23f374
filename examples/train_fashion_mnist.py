"""The textbook's image classifier, written as Keras code and run on numnet.

Trains Flatten -> Dense(300, relu) -> Dense(100, relu) -> Dense(10, softmax)
with SGD on Fashion-MNIST and prints the test accuracy and a few predictions.
With the real data available (downloaded, cached, or in $NUMNET_DATA) it uses
the book's split (55,000 train / 5,000 validation); offline it falls back to
the small real sample shipped with numnet.

    python examples/train_fashion_mnist.py [--epochs 30]
"""

import argparse
import time

import numpy as np

import numnet as keras

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    (x_train_full, y_train_full), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    n_valid = 5000 if len(x_train_full) > 10000 else len(x_train_full) // 10
    x_train, y_train = x_train_full[:-n_valid], y_train_full[:-n_valid]
    x_valid, y_valid = x_train_full[-n_valid:], y_train_full[-n_valid:]
    x_train, x_valid, x_test = x_train / 255.0, x_valid / 255.0, x_test / 255.0
    print(f"Fashion-MNIST: {len(x_train)} train, {len(x_valid)} validation, "
          f"{len(x_test)} test images")

    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential([
        keras.layers.Input(shape=[28, 28]),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.summary()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=args.epochs,
                        validation_data=(x_valid, y_valid), verbose=2)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"\nTrained {args.epochs} epochs in {seconds:.1f} s "
          f"({seconds / args.epochs:.2f} s/epoch)")
    print(f"Best val_accuracy: {max(history.history['val_accuracy']):.4f}")
    print(f"Test loss: {test_loss:.4f}  test accuracy: {test_accuracy:.4f}")
    probabilities = model.predict(x_test[:5], verbose=0)
    for probs, label in zip(probabilities, y_test[:5]):
        print(f"  predicted {CLASS_NAMES[int(np.argmax(probs))]:<12} "
              f"(p={probs.max():.2f})  true {CLASS_NAMES[int(label)]}")


if __name__ == "__main__":
    main()
