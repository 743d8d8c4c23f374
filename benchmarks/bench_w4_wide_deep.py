"""W4: one training epoch of the textbook's Wide & Deep regressor, side by side.

Two inputs from the California housing features (`x[:, :5]` wide, `x[:, 2:]`
deep), a Normalization on each (adapted on the training rows, untimed), two
Dense(30, relu) on the deep path, the normalized wide input concatenated with
the second hidden layer into a main Dense(1), an auxiliary Dense(1) on the
second hidden layer; `loss=("mse", "mse")`, `loss_weights=(0.9, 0.1)`,
Adam(1e-3), RootMeanSquaredError on both outputs, batch 32, 11,610 training
rows shuffled, validation on 3,870 rows at the epoch's end. numnet runs the
Functional and the subclassed form (the book's `WideAndDeepModel`).

    python benchmarks/bench_w4_wide_deep.py [--rounds 5] [--threads 1] [--keras] [--no-torch]
"""

import _common  # first: sets the thread environment before NumPy loads

import numpy as np

from _common import Timer, glorot_uniform

BATCH = 32
LR = 1e-3
BETA1, BETA2, EPS = 0.9, 0.999, 1e-7  # Keras Adam defaults
UNITS = 30


def _split(x):
    return x[:, :5], x[:, 2:]


def _functional(keras, norm_wide, norm_deep):
    input_wide = keras.layers.Input(shape=[5])
    input_deep = keras.layers.Input(shape=[6])
    hidden1 = keras.layers.Dense(UNITS, activation="relu")(norm_deep(input_deep))
    hidden2 = keras.layers.Dense(UNITS, activation="relu")(hidden1)
    concat = keras.layers.concatenate([norm_wide(input_wide), hidden2])
    output = keras.layers.Dense(1)(concat)
    aux_output = keras.layers.Dense(1)(hidden2)
    return keras.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])


def _subclassed(keras, norm_wide, norm_deep):
    class WideAndDeepModel(keras.Model):
        def __init__(self, units=UNITS, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.norm_layer_wide = norm_wide
            self.norm_layer_deep = norm_deep
            self.hidden1 = keras.layers.Dense(units, activation=activation)
            self.hidden2 = keras.layers.Dense(units, activation=activation)
            self.main_output = keras.layers.Dense(1)
            self.aux_output = keras.layers.Dense(1)

        def call(self, inputs):
            input_wide, input_deep = inputs
            norm_wide = self.norm_layer_wide(input_wide)
            norm_deep = self.norm_layer_deep(input_deep)
            hidden1 = self.hidden1(norm_deep)
            hidden2 = self.hidden2(hidden1)
            concat = keras.layers.concatenate([norm_wide, hidden2])
            return self.main_output(concat), self.aux_output(hidden2)

    return WideAndDeepModel(name="my_cool_model")


def keras_api_epoch(keras, data, seed, build):
    """One timed epoch of the model, written once against the Keras API."""
    (x, y), (xv, yv) = data
    keras.utils.set_random_seed(seed)
    (xw, xd), (xvw, xvd) = _split(x), _split(xv)
    norm_wide, norm_deep = keras.layers.Normalization(), keras.layers.Normalization()
    norm_wide.adapt(xw)
    norm_deep.adapt(xd)
    model = build(keras, norm_wide, norm_deep)
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1),
                  optimizer=keras.optimizers.Adam(learning_rate=LR),
                  metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    with Timer() as t:
        model.fit((xw, xd), (y, y), epochs=1, batch_size=BATCH, verbose=0,
                  validation_data=((xvw, xvd), (yv, yv)))
    return t.elapsed


def numnet_functional_epoch(data, seed):
    import numnet
    return keras_api_epoch(numnet, data, seed, _functional)


def numnet_subclassed_epoch(data, seed):
    import numnet
    return keras_api_epoch(numnet, data, seed, _subclassed)


class NumpyWideDeep:
    """The same arithmetic by hand: parameters, gradients and Adam's moments each in one
    flat float32 buffer, every activation in a preallocated buffer."""

    def __init__(self, x_train, seed):
        rng = np.random.default_rng(seed)
        xw, xd = _split(x_train)
        self.mw, self.sw = xw.mean(0), 1 / np.sqrt(np.maximum(xw.var(0), 1e-7))
        self.md, self.sd = xd.mean(0), 1 / np.sqrt(np.maximum(xd.var(0), 1e-7))
        shapes = [(6, UNITS), (UNITS,), (UNITS, UNITS), (UNITS,), (5 + UNITS, 1), (1,),
                  (UNITS, 1), (1,)]
        total = sum(int(np.prod(s)) for s in shapes)
        self.flat, self.gflat = np.zeros(total, np.float32), np.zeros(total, np.float32)
        self.m, self.v = np.zeros(total, np.float32), np.zeros(total, np.float32)
        self.tmp, self.tmp2 = np.empty(total, np.float32), np.empty(total, np.float32)
        self.p, self.g, off = [], [], 0
        for s in shapes:
            k = int(np.prod(s))
            self.p.append(self.flat[off:off + k].reshape(s))
            self.g.append(self.gflat[off:off + k].reshape(s))
            off += k
        for i in (0, 2, 4, 6):
            self.p[i][...] = glorot_uniform(rng, *shapes[i])
        b = BATCH
        self.concat = np.empty((b, 5 + UNITS), np.float32)  # [norm wide | hidden2]
        self.xd = np.empty((b, 6), np.float32)
        self.h1 = np.empty((b, UNITS), np.float32)
        self.out, self.aux = np.empty((b, 1), np.float32), np.empty((b, 1), np.float32)
        self.d_out, self.d_aux = np.empty((b, 1), np.float32), np.empty((b, 1), np.float32)
        self.d_h2, self.d_h1 = np.empty((b, UNITS), np.float32), np.empty((b, UNITS), np.float32)
        self.t = 0

    def forward(self, xb):
        n = len(xb)
        c, xd, h1 = self.concat[:n], self.xd[:n], self.h1[:n]
        np.subtract(xb[:, :5], self.mw, out=c[:, :5]); c[:, :5] *= self.sw
        np.subtract(xb[:, 2:], self.md, out=xd); xd *= self.sd
        h2 = c[:, 5:]
        np.matmul(xd, self.p[0], out=h1); h1 += self.p[1]; np.maximum(h1, 0, out=h1)
        np.matmul(h1, self.p[2], out=h2); h2 += self.p[3]; np.maximum(h2, 0, out=h2)
        out, aux = self.out[:n], self.aux[:n]
        np.matmul(c, self.p[4], out=out); out += self.p[5]
        np.matmul(h2, self.p[6], out=aux); aux += self.p[7]
        return out, aux

    def train_step(self, xb, yb):
        n = len(xb)
        out, aux = self.forward(xb)
        d_out, d_aux = self.d_out[:n], self.d_aux[:n]
        np.subtract(out, yb, out=d_out)
        np.subtract(aux, yb, out=d_aux)
        sq = (float(np.dot(d_out[:, 0], d_out[:, 0])), float(np.dot(d_aux[:, 0], d_aux[:, 0])))
        d_out *= np.float32(0.9 * 2.0 / n)
        d_aux *= np.float32(0.1 * 2.0 / n)
        c, h1, xd = self.concat[:n], self.h1[:n], self.xd[:n]
        h2 = c[:, 5:]
        np.matmul(c.T, d_out, out=self.g[4]); d_out.sum(0, out=self.g[5])
        np.matmul(h2.T, d_aux, out=self.g[6]); d_aux.sum(0, out=self.g[7])
        d_h2 = self.d_h2[:n]
        np.matmul(d_out, self.p[4][5:].T, out=d_h2)
        d_h2 += d_aux @ self.p[6].T
        d_h2 *= h2 > 0
        np.matmul(h1.T, d_h2, out=self.g[2]); d_h2.sum(0, out=self.g[3])
        d_h1 = self.d_h1[:n]
        np.matmul(d_h2, self.p[2].T, out=d_h1); d_h1 *= h1 > 0
        np.matmul(xd.T, d_h1, out=self.g[0]); d_h1.sum(0, out=self.g[1])
        self.t += 1
        g, m, v, tmp, tmp2 = self.gflat, self.m, self.v, self.tmp, self.tmp2
        lr_t = LR * np.sqrt(1 - BETA2 ** self.t) / (1 - BETA1 ** self.t)
        m *= BETA1; np.multiply(g, 1 - BETA1, out=tmp); m += tmp
        v *= BETA2; np.multiply(g, g, out=tmp); tmp *= 1 - BETA2; v += tmp
        np.sqrt(v, out=tmp); tmp += EPS
        np.divide(m, tmp, out=tmp2); tmp2 *= np.float32(lr_t)
        self.flat -= tmp2
        return sq

    def evaluate(self, x, y):
        sq = np.zeros(2)
        for s in range(0, len(x), BATCH):
            out, aux = self.forward(x[s:s + BATCH])
            yb = y[s:s + BATCH]
            sq += float(np.sum((out - yb) ** 2)), float(np.sum((aux - yb) ** 2))
        return np.sqrt(sq / len(x))


def numpy_epoch(data, seed):
    (x, y), (xv, yv) = data
    model = NumpyWideDeep(x, seed)
    rng = np.random.default_rng(seed)
    with Timer() as t:
        perm = rng.permutation(len(x))
        xs, ys = x[perm], y[perm]
        sq = np.zeros(2)
        for s in range(0, len(xs), BATCH):
            sq += model.train_step(xs[s:s + BATCH], ys[s:s + BATCH])
        val_rmse = model.evaluate(xv, yv)
    numpy_epoch.last_logs = (*np.sqrt(sq / len(xs)), *val_rmse)
    return t.elapsed


def torch_epoch(data, seed):
    import torch
    from torch import nn
    (x, y), (xv, yv) = data
    torch.manual_seed(seed)
    X, Y, XV, YV = (torch.from_numpy(a) for a in (x, y, xv, yv))

    class Normalize(nn.Module):
        def __init__(self, data):
            super().__init__()
            self.register_buffer("mean", data.mean(0))
            self.register_buffer("std", data.var(0, unbiased=False).clamp_min(1e-7).sqrt())

        def forward(self, t):
            return (t - self.mean) / self.std

    class WideAndDeep(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm_wide, self.norm_deep = Normalize(X[:, :5]), Normalize(X[:, 2:])
            self.hidden1, self.hidden2 = nn.Linear(6, UNITS), nn.Linear(UNITS, UNITS)
            self.main, self.aux = nn.Linear(5 + UNITS, 1), nn.Linear(UNITS, 1)

        def forward(self, xw, xd):
            h2 = torch.relu(self.hidden2(torch.relu(self.hidden1(self.norm_deep(xd)))))
            return self.main(torch.cat([self.norm_wide(xw), h2], dim=1)), self.aux(h2)

    model = WideAndDeep()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=EPS)
    mse = nn.MSELoss()
    with Timer() as t:
        model.train()
        perm = torch.randperm(len(X))
        xs, ys = X[perm], Y[perm]
        total = torch.zeros(2)
        for s in range(0, len(xs), BATCH):
            xb, yb = xs[s:s + BATCH], ys[s:s + BATCH]
            out, aux = model(xb[:, :5], xb[:, 2:])
            main_loss, aux_loss = mse(out, yb), mse(aux, yb)
            loss = 0.9 * main_loss + 0.1 * aux_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += torch.stack([main_loss.detach(), aux_loss.detach()]) * len(xb)
        model.eval()
        with torch.no_grad():
            vtotal = torch.zeros(2)
            for s in range(0, len(XV), BATCH):
                xb, yb = XV[s:s + BATCH], YV[s:s + BATCH]
                out, aux = model(xb[:, :5], xb[:, 2:])
                vtotal += torch.stack([mse(out, yb), mse(aux, yb)]) * len(xb)
        float(total.sum())
    return t.elapsed


def keras_functional_epoch(data, seed):
    import keras
    return keras_api_epoch(keras, data, seed, _functional)


def main():
    args = _common.make_parser(__doc__.splitlines()[0], rounds=5).parse_args()
    train, valid, note = _common.load_california_housing()
    data = (train, valid)
    epochs = {"numnet Functional": numnet_functional_epoch,
              "numnet subclassed": numnet_subclassed_epoch,
              "NumPy loop": numpy_epoch, "PyTorch": torch_epoch,
              "Keras 3 / TF": keras_functional_epoch}
    title = "W4 Wide & Deep regressor: seconds per epoch (fit + validation), batch 32"
    meds = _common.run_epoch_benchmark(args, title, note, data, epochs)
    logs = getattr(numpy_epoch, "last_logs", None)
    if logs:
        print("NumPy loop sanity (last round): train RMSE main %.4f aux %.4f, "
              "val RMSE main %.4f aux %.4f" % logs)
    for name in ("numnet Functional", "numnet subclassed"):
        if name in meds and "NumPy loop" in meds:
            r = meds[name] / meds["NumPy loop"]
            print(f"target W4 at most 1.0 x the hand-written loop: {name} at {r:.2f} x -> "
                  f"{'MET' if r <= 1.0 else 'NOT MET'}")


if __name__ == "__main__":
    main()
