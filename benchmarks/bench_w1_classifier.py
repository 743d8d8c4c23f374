"""W1: one training epoch of the textbook Fashion-MNIST classifier, side by side.

Flatten -> Dense(300, relu) -> Dense(100, relu) -> Dense(10, softmax),
sparse categorical cross-entropy, SGD(0.01), batch 32, metrics=["accuracy"],
55,000 training images shuffled each epoch, validation on the last 5,000
(batch 32) at the epoch's end. Every implementation is timed on the epoch
only (model built and compiled beforehand, a fresh model every round).

    python benchmarks/bench_w1_classifier.py [--rounds 3] [--threads 1] [--keras]
"""

import _common  # first: sets the thread environment before NumPy loads

import numpy as np

from _common import Timer, glorot_uniform

BATCH = 32
LR = 0.01


# ------------------------------------------------------------------ numnet

def keras_api_epoch(keras, data, seed):
    """One timed epoch of the model, written once against the Keras API."""
    (x, y), (xv, yv) = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.layers.Input(shape=[28, 28]),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=LR), metrics=["accuracy"])
    with Timer() as t:
        model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, validation_data=(xv, yv))
    return t.elapsed


def numnet_epoch(data, seed):
    import numnet
    return keras_api_epoch(numnet, data, seed)


# ------------------------------------------------------ hand-written NumPy

class NumpyMLP:
    """784-300-100-10 MLP; all parameters (and all gradients) live in one
    flat float32 buffer each, so the SGD update is a single in-place call."""

    sizes = (784, 300, 100, 10)

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        shapes = []
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            shapes += [(a, b), (b,)]
        total = sum(int(np.prod(s)) for s in shapes)
        self.flat = np.zeros(total, np.float32)
        self.gflat = np.zeros(total, np.float32)
        self.params, self.grads, off = [], [], 0
        for s in shapes:
            k = int(np.prod(s))
            self.params.append(self.flat[off:off + k].reshape(s))
            self.grads.append(self.gflat[off:off + k].reshape(s))
            off += k
        for i in range(0, len(shapes), 2):
            self.params[i][...] = glorot_uniform(rng, *shapes[i])
        self.h = [np.empty((BATCH, n), np.float32) for n in self.sizes[1:]]
        self.d = [np.empty((BATCH, n), np.float32) for n in self.sizes[1:]]
        self.step_buf = np.empty_like(self.gflat)

    def forward(self, xb):
        """Returns softmax probabilities (a view of an internal buffer)."""
        n = len(xb)
        w1, b1, w2, b2, w3, b3 = self.params
        h1, h2, z = (h[:n] for h in self.h)
        np.matmul(xb, w1, out=h1); h1 += b1; np.maximum(h1, 0, out=h1)
        np.matmul(h1, w2, out=h2); h2 += b2; np.maximum(h2, 0, out=h2)
        np.matmul(h2, w3, out=z); z += b3
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def train_step(self, xb, yb):
        n = len(xb)
        w1, b1, w2, b2, w3, b3 = self.params
        g1, gb1, g2, gb2, g3, gb3 = self.grads
        p = self.forward(xb)
        h1, h2 = self.h[0][:n], self.h[1][:n]
        rows = np.arange(n)
        pt = p[rows, yb]
        loss = -np.log(np.maximum(pt, 1e-7)).sum()
        correct = np.count_nonzero(p.argmax(axis=1) == yb)
        dz = p  # in place: dL/dz = (p - onehot) / n
        dz[rows, yb] -= 1.0
        dz *= np.float32(1.0 / n)
        np.matmul(h2.T, dz, out=g3); dz.sum(axis=0, out=gb3)
        dh2 = self.d[1][:n]
        np.matmul(dz, w3.T, out=dh2); dh2 *= h2 > 0
        np.matmul(h1.T, dh2, out=g2); dh2.sum(axis=0, out=gb2)
        dh1 = self.d[0][:n]
        np.matmul(dh2, w2.T, out=dh1); dh1 *= h1 > 0
        np.matmul(xb.T, dh1, out=g1); dh1.sum(axis=0, out=gb1)
        np.multiply(self.gflat, np.float32(LR), out=self.step_buf)
        self.flat -= self.step_buf
        return loss, correct

    def evaluate(self, x, y):
        loss, correct = 0.0, 0
        for s in range(0, len(x), BATCH):
            xb, yb = x[s:s + BATCH], y[s:s + BATCH]
            p = self.forward(xb)
            loss -= np.log(np.maximum(p[np.arange(len(xb)), yb], 1e-7)).sum()
            correct += np.count_nonzero(p.argmax(axis=1) == yb)
        return loss / len(x), correct / len(x)


def numpy_epoch(data, seed):
    (x, y), (xv, yv) = data
    x2, xv2 = x.reshape(len(x), -1), xv.reshape(len(xv), -1)
    model = NumpyMLP(seed)
    rng = np.random.default_rng(seed)
    with Timer() as t:
        perm = rng.permutation(len(x2))
        xs, ys = x2[perm], y[perm]
        loss, correct = 0.0, 0
        for s in range(0, len(xs), BATCH):
            l, c = model.train_step(xs[s:s + BATCH], ys[s:s + BATCH])
            loss += l; correct += c
        logs = (loss / len(xs), correct / len(xs), *model.evaluate(xv2, yv))
    numpy_epoch.last_logs = logs
    return t.elapsed


# ------------------------------------------------------------------ PyTorch

def torch_epoch(data, seed):
    import torch
    from torch import nn
    (x, y), (xv, yv) = data
    torch.manual_seed(seed)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    XV, YV = torch.from_numpy(xv), torch.from_numpy(yv)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(),
                          nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()  # softmax + sparse CE on the logits
    with Timer() as t:
        model.train()
        perm = torch.randperm(len(X))
        xs, ys = X[perm], Y[perm]
        loss_sum, correct = 0.0, 0
        for s in range(0, len(xs), BATCH):
            xb, yb = xs[s:s + BATCH], ys[s:s + BATCH]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(xb)
            correct += (out.argmax(1) == yb).sum().item()
        model.eval()
        vloss, vcorrect = 0.0, 0
        with torch.no_grad():
            for s in range(0, len(XV), BATCH):
                out = model(XV[s:s + BATCH])
                vloss += loss_fn(out, YV[s:s + BATCH]).item() * len(out)
                vcorrect += (out.argmax(1) == YV[s:s + BATCH]).sum().item()
    return t.elapsed


# ------------------------------------------------------------ Keras / TF

def keras_epoch(data, seed):
    import keras
    return keras_api_epoch(keras, data, seed)


def main():
    args = _common.make_parser(__doc__.splitlines()[0]).parse_args()
    train, valid, _, note = _common.load_fashion_mnist()
    data = (train, valid)
    epochs = {"numnet": numnet_epoch, "NumPy loop": numpy_epoch, "PyTorch": torch_epoch,
              "Keras 3 / TF": keras_epoch}
    title = "W1 classifier: seconds per epoch (fit + validation), batch 32"
    meds = _common.run_epoch_benchmark(args, title, note, data, epochs)
    logs = getattr(numpy_epoch, "last_logs", None)
    if logs:
        print("NumPy loop sanity (last round): loss %.4f acc %.4f val_loss %.4f val_acc %.4f" % logs)
    if "numnet" in meds and "PyTorch" in meds:
        r = meds["numnet"] / meds["PyTorch"]
        print(f"target W1 at most 0.6 x PyTorch (issue 10): numnet at {r:.2f} x -> "
              f"{'MET' if r <= 0.6 else 'NOT MET'}")


if __name__ == "__main__":
    main()
