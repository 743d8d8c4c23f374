"""Elementwise kernels at the shapes of W1, W2 and an evaluation chunk, side by side.

Why numnet's relu is NumPy's `maximum` against an array of zeros: NumPy 2.x runs
`maximum` of two arrays through its vectorized loop, `maximum(x, 0)` through a scalar
one. Each row: one call on a float32 array of that shape (in place), interleaved
rounds of `--calls` calls (fewer for larger arrays), the median per call. The eager relu
adds a Python call around what a replay binds once. Also `add` and `multiply` with a 0-d
operand (vectorized either way) and `sign` (the relu gradient's float mask), for scale.

    python benchmarks/bench_elementwise.py [--rounds 7] [--calls 2000]
"""

import _common  # first: sets the thread environment before NumPy loads

import numpy as np

from numnet.backend import zeros_operands
from numnet.kernels.activations import ACTIVATIONS

SHAPES = {"W2 hidden (32 x 51)": (32, 51), "W1 first hidden (32 x 301)": (32, 301),
          "W2 validation chunk (3,870 x 50)": (3870, 50)}


def main():
    args = _common.per_call_args(__doc__, "elementwise kernels: us per call (float32, in place)", calls=2000)
    relu = ACTIVATIONS["relu"].forward
    for title, shape in SHAPES.items():
        x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        zero, mask = np.float32(0), np.empty_like(x)
        blocks = zeros_operands(x, x)  # what a replay binds once

        def bound_relu():
            for x_part, zeros, out_part in blocks:
                np.maximum(x_part, zeros, out=out_part)
        impls = {
            "maximum(x, 0)": lambda: np.maximum(x, zero, out=x),
            "numnet relu, eager (the kernel table's)": lambda: relu(x, out=x),
            "numnet relu, replayed (maximum against shared zeros)": bound_relu,
            "add(x, 0-d)": lambda: np.add(x, zero, out=x),
            "multiply(x, 0-d)": lambda: np.multiply(x, np.float32(1), out=x),
            "sign(x)": lambda: np.sign(x, out=mask),
        }
        calls = max(10, args.calls * 1632 // x.size)
        print(f"\n{title}: {calls} calls per round")
        timed = {name: _common.per_call(f, calls) for name, f in impls.items()}
        results = _common.interleave(timed, args.rounds, args.warmup)
        _common.print_table(results, refs=("maximum(x, 0)",))


if __name__ == "__main__":
    main()
