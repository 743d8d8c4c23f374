"""Export latency: one-sample inference of the textbook classifier, numnet against its exports.

The W1 model (784-300-100-10, softmax, the same weights everywhere) is exported
with `model.export(format="onnx")` and `model.export(format="numpy")`; then,
in one process, round-robin, median over rounds of the mean over many calls,
one Fashion-MNIST test image at a time through:

- numnet `model.predict(x1, verbose=0)` and `model(x1)`;
- ONNX Runtime `session.run` on the exported `.onnx` file (1 intra-op thread,
  sequential execution), and the same file through `numnet.export.load(path)
  .predict(...)` (which checks names and shapes first, as a server would);
- the exported NumPy module's `forward(inputs, weights)`, and through
  `numnet.export.load(folder).predict(...)`.

Outputs are checked against each other first (max |diff| <= 1e-5).

    python benchmarks/bench_export_latency.py [--rounds 7] [--calls 2000] [--threads 1]
"""

import _common  # first: sets the thread environment before NumPy loads

import argparse
import tempfile

import numpy as np

from _common import Timer


def build_model(seed=7):
    import numnet as keras
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.layers.Input(shape=[28, 28]), keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def make_impls(model, folder, threads):
    """name -> function of one sample returning the output array."""
    import onnxruntime
    from numnet.export import load
    onnx_path, numpy_path = f"{folder}/model.onnx", f"{folder}/model_numpy"
    model.export(onnx_path, format="onnx", verbose=False)
    model.export(numpy_path, format="numpy", verbose=False)
    name = model.inputs[0].name

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(onnx_path, options,
                                           providers=["CPUExecutionProvider"])
    onnx_loaded = load(onnx_path, threads=threads)
    numpy_loaded = load(numpy_path)
    module, weights = numpy_loaded.module, numpy_loaded.weights
    return {
        "numnet predict": lambda x: model.predict(x, verbose=0),
        "numnet model(x)": lambda x: model(x).numpy(),
        "ONNX Runtime session.run": lambda x: session.run(None, {name: x})[0],
        "ONNX via export.load": lambda x: onnx_loaded.predict({name: x})["output_0"],
        "NumPy module forward": lambda x: module.forward({name: x}, weights)["output_0"],
        "NumPy via export.load": lambda x: numpy_loaded.predict({name: x})["output_0"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up rounds (default 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS and ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per round (default 2000)")
    args = parser.parse_args()
    _, _, (xt, _), note = _common.load_fashion_mnist()
    import onnxruntime  # noqa: F401  (loads its thread pools before the limit)
    _common.limit_threads(args.threads)
    _common.header("Export latency: one sample through numnet and its exports", args)
    print(note)
    print("thread pools (threadpoolctl):\n" + _common.thread_report())
    print(f"onnxruntime {onnxruntime.__version__}, intra-op threads {args.threads}, sequential")

    model = build_model()
    x1 = np.ascontiguousarray(xt[:1])
    with tempfile.TemporaryDirectory() as folder:
        impls = make_impls(model, folder, args.threads)
        reference = model.predict(x1, verbose=0)
        for name, fn in impls.items():
            diff = float(np.abs(np.asarray(fn(x1)) - reference).max())
            print(f"  {name}: max |diff| vs predict = {diff:.1e}"
                  + ("" if diff <= 1e-5 else "  <-- WARNING above 1e-5"))

        def job(fn):
            def run():
                with Timer() as t:
                    for _ in range(args.calls):
                        fn(x1)
                return t.elapsed / args.calls
            return run

        print(f"\none sample (per call, mean of {args.calls} calls): median of {args.rounds} "
              f"interleaved rounds after {args.warmup} warm-up")
        results = _common.interleave({name: job(fn) for name, fn in impls.items()},
                                     args.rounds, args.warmup)
        _common.print_table(results, refs=("numnet predict",))


if __name__ == "__main__":
    main()
