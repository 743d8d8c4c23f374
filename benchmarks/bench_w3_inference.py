"""W3: inference of the W1 model (784-300-100-10, softmax) and `import` time.

All implementations share the same weights (from a numnet model) and their
outputs are checked against each other. Measures, median over interleaved
rounds: `predict` on the 10,000 Fashion-MNIST test images with batch 32 and
as one batch of 10,000; one-sample latency through `model.predict(x1,
verbose=0)` and through `model(x1)`, for the Sequential and the Functional
form of the model (PyTorch and NumPy have one path only: their single forward is
timed in both tables, side by side);
`import numnet` in a fresh subprocess (median of 5).

    python benchmarks/bench_w3_inference.py [--rounds 5] [--threads 1] [--keras]
"""

import _common  # first: sets the thread environment before NumPy loads

import os
import subprocess
import sys

import numpy as np

from _common import Timer

N_CALLS = {"numnet": 2000, "numnet Functional": 2000, "NumPy": 2000, "PyTorch": 2000,
           "Keras 3 / TF": 10}
N_CALLS_EAGER = {"numnet": 2000, "numnet Functional": 2000, "NumPy": 2000, "PyTorch": 2000,
                 "Keras 3 / TF": 100}


def build_numnet(seed=1):
    import numnet as keras
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.layers.Input(shape=[28, 28]),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def build_numnet_functional(seed=1):
    """The same layers as a Functional model."""
    import numnet as keras
    keras.utils.set_random_seed(seed)
    inputs = keras.layers.Input(shape=[28, 28])
    hidden = keras.layers.Flatten()(inputs)
    hidden = keras.layers.Dense(300, activation="relu")(hidden)
    hidden = keras.layers.Dense(100, activation="relu")(hidden)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))


def numpy_forward(weights, x):
    w1, b1, w2, b2, w3, b3 = weights
    h = x.reshape(len(x), -1) @ w1; h += b1; np.maximum(h, 0, out=h)
    h2 = h @ w2; h2 += b2; np.maximum(h2, 0, out=h2)
    z = h2 @ w3; z += b3
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def make_impls(weights, args):
    """name -> dict(predict32, predict_all, predict1, call1): each takes x."""
    impls = {}
    for name, build in (("numnet", build_numnet), ("numnet Functional", build_numnet_functional)):
        nn_model = build()
        nn_model.set_weights(weights)
        impls[name] = {
            "predict32": lambda x, m=nn_model: m.predict(x, batch_size=32, verbose=0),
            "predict_all": lambda x, m=nn_model: m.predict(x, batch_size=len(x), verbose=0),
            "predict1": lambda x, m=nn_model: m.predict(x, verbose=0),
            "call1": lambda x, m=nn_model: m(x),
        }

    def np_batched(x, bs=32):
        out = np.empty((len(x), 10), np.float32)
        for s in range(0, len(x), bs):
            out[s:s + bs] = numpy_forward(weights, x[s:s + bs])
        return out

    # One sample: `predict` and `model(x)` are both measured against the same single forward.
    impls["NumPy"] = {"predict32": np_batched,
                      "predict_all": lambda x: numpy_forward(weights, x),
                      "predict1": lambda x: numpy_forward(weights, x),
                      "call1": lambda x: numpy_forward(weights, x)}
    if not args.no_torch:
        import torch
        from torch import nn
        tm = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                           nn.ReLU(), nn.Linear(100, 10), nn.Softmax(dim=1)).eval()
        with torch.no_grad():
            for lin, (w, b) in zip([tm[1], tm[3], tm[5]], zip(weights[::2], weights[1::2])):
                lin.weight.copy_(torch.from_numpy(w.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))

        def t_batched(x, bs=32):
            xt = torch.from_numpy(x)
            with torch.no_grad():
                return torch.cat([tm(xt[s:s + bs]) for s in range(0, len(xt), bs)]).numpy()

        def t_all(x):
            with torch.no_grad():
                return tm(torch.from_numpy(x)).numpy()

        impls["PyTorch"] = {"predict32": t_batched, "predict_all": t_all, "predict1": t_all,
                            "call1": t_all}
    if args.keras:
        import keras
        km = keras.Sequential([
            keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
            keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        km.set_weights(weights)
        impls["Keras 3 / TF"] = {
            "predict32": lambda x: km.predict(x, batch_size=32, verbose=0),
            "predict_all": lambda x: km.predict(x, batch_size=len(x), verbose=0),
            "predict1": lambda x: km.predict(x, verbose=0),
            "call1": lambda x: km(x),
        }
    return impls


def to_numpy(y):
    for attr in ("numpy",):
        if hasattr(y, attr):
            try:
                return np.asarray(y.numpy())
            except Exception:
                pass
    if hasattr(y, "data"):
        return np.asarray(y.data)
    return np.asarray(y)


def _compile_numnet_bytecode():
    """Writes numnet's bytecode first, as `pip install` does: an editable checkout run with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module at every import."""
    import compileall

    import numnet
    compileall.compile_dir(os.path.dirname(numnet.__file__), quiet=1)


def import_times(modules, reps=5):
    """module -> (median in-process import seconds, median whole-process seconds)."""
    _compile_numnet_bytecode()
    out = {}
    code = ("import time; t = time.perf_counter(); import {m}; "
            "print(time.perf_counter() - t)")
    env = dict(os.environ)
    for name, stmt in modules.items():
        inner, outer = [], []
        for _ in range(reps):
            with Timer() as t:
                r = subprocess.run([sys.executable, "-c", code.format(m=stmt)], env=env,
                                   capture_output=True, text=True)
            if r.returncode:
                inner = f"FAILED: {r.stderr.strip().splitlines()[-1]}"
                break
            inner.append(float(r.stdout.strip().splitlines()[-1]))
            outer.append(t.elapsed)
        out[name] = (inner, outer)
    return out


def main():
    args = _common.make_parser(__doc__.splitlines()[0], rounds=5).parse_args()
    if not args.no_torch:
        import torch  # noqa: F401
    if args.keras:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    _, _, (xt, _), note = _common.load_fashion_mnist()
    import numnet  # noqa: F401
    _common.limit_threads(args.threads)
    _common.header("W3 inference of the W1 model", args)
    print(note)
    print("thread pools (threadpoolctl):\n" + _common.thread_report())

    weights = [np.asarray(w, np.float32) for w in build_numnet(seed=7).get_weights()]
    impls = make_impls(weights, args)
    x1 = np.ascontiguousarray(xt[:1])
    ref = numpy_forward(weights, xt)
    for name, fns in impls.items():
        for key, fn in fns.items():
            x = x1 if key.endswith("1") else xt
            try:
                diff = np.abs(to_numpy(fn(x)).reshape(len(x), -1) - ref[:len(x)]).max()
                if diff > 1e-4:
                    print(f"WARNING {name} {key}: max |diff| vs NumPy = {diff:.2e}")
            except Exception as e:
                print(f"{name} {key} FAILED: {type(e).__name__}: {e}")
    print("outputs checked against the NumPy forward (max |diff| <= 1e-4 unless warned above)")

    metrics = {
        "predict32": ("predict, 10k test images, batch 32 (s per 10k)", xt, None),
        "predict_all": ("predict, 10k test images as one batch (s per 10k)", xt, None),
        "predict1": ("one sample: model.predict(x1, verbose=0) (per call; PyTorch/NumPy: forward)",
                     x1, N_CALLS),
        "call1": ("one sample: model(x1) (per call; PyTorch/NumPy: forward)", x1, N_CALLS_EAGER),
    }
    for key, (title, x, calls) in metrics.items():
        jobs = {}
        for name, fns in impls.items():
            if key not in fns:
                continue

            def job(fn=fns[key], k=(calls or {}).get(name, 1)):
                with Timer() as t:
                    for _ in range(k):
                        fn(x)
                return t.elapsed / k

            jobs[name] = job
        print(f"\n{title}: median of {args.rounds} interleaved rounds after {args.warmup} warm-up")
        results = _common.interleave(jobs, args.rounds, args.warmup)
        meds = _common.print_table(results, refs=("PyTorch", "NumPy"))
        limit = {"predict1": 100e-6, "call1": 30e-6}.get(key)
        for name in ("numnet", "numnet Functional"):
            if limit is not None and name in meds:
                what = "predict" if key == "predict1" else "model(x)"
                print(f"target one-sample {what} < {limit * 1e6:.0f} us: {name} "
                      f"{_common.fmt_time(meds[name])} -> "
                      f"{'MET' if meds[name] < limit else 'NOT MET'}")

    mods = {"numnet": "numnet", "numpy": "numpy"}
    if not args.no_torch:
        mods["torch"] = "torch"
    if args.keras:
        mods["keras (TF)"] = "keras"
    print("\nimport time in a fresh subprocess, median of 5 (in-process = perf_counter around "
          "the import; whole process = python start-up + import + exit)")
    print_target = "target import numnet < 0.2 s: not measured (import failed)"
    print("| module | in-process import | whole process |")
    print("|---|---|---|")
    for name, (inner, outer) in import_times(mods).items():
        if isinstance(inner, str):
            print(f"| {name} | {inner} | |")
        else:
            print(f"| {name} | {_common.median(inner):.3f} s | {_common.median(outer):.3f} s |")
            if name == "numnet":
                m = _common.median(inner)
                print_target = f"target import numnet < 0.2 s: {m:.3f} s -> {'MET' if m < 0.2 else 'NOT MET'}"
    print(print_target)


if __name__ == "__main__":
    main()
