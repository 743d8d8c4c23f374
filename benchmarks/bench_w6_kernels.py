"""What W6 adds to a W1 step, kernel by kernel, each beside the way it was done before.

W6 is W1 with Dropout(0.2) after each hidden layer and an L2(1e-4) kernel
regularizer on them (see bench_w6_regularized.py). Each row is one call at
W6's shapes (batch 32, 784 x 300 first kernel), interleaved rounds of
`--calls` calls, the median per call:

- the fused SGD product of the first layer: with weight decay (`beta != 1`) as
  one BLAS call, which scales the weights in a pass of its own first, and as
  the row blocks of `blas.scaling_product_into`, which each take OpenBLAS'
  direct path and scale as they add; plain SGD (`beta = 1`) for scale;
- the first Dropout mask, drawn with a half draw pending in the generator (as
  after building a model): `uniform_at_least` on the raw draws, and NumPy's own
  float32 draws compared with the rate;
- the L2 penalty's value over the first kernel (`vdot`), for scale.

    python benchmarks/bench_w6_kernels.py [--rounds 7] [--calls 300]
"""

import _common  # first: sets the thread environment before NumPy loads

import numpy as np

from numnet.backend import blas, uniform_at_least_kernel

BATCH, INPUTS, UNITS, RATE = 32, 784, 300, 0.2
LEARNING_RATE, DECAY = 0.01, 2e-4  # L2(1e-4): the gradient's factor is 2e-4


def product_impls():
    """The first layer's fused SGD step: its kernel rows and its bias row."""
    rng = np.random.default_rng(0)
    wide = np.ones((BATCH, INPUTS + 1), np.float32)
    wide[:, :-1] = rng.random((BATCH, INPUTS), dtype=np.float32)
    dz = rng.normal(size=(BATCH, UNITS)).astype(np.float32) * 1e-3
    weights = rng.normal(size=(INPUTS + 1, UNITS)).astype(np.float32) * 0.05
    a = wide.T
    one = blas.product_into(a[:-1], dz, weights[:-1])
    blocks = blas.scaling_product_into(a[:-1], dz, weights[:-1])
    whole = blas.product_into(a, dz, weights)
    bias = blas.product_into(a[-1:], dz, weights[-1:])
    if one is None or blocks is None:
        raise SystemExit("no direct BLAS call here: nothing to compare")
    beta = 1.0 - LEARNING_RATE * DECAY

    def decayed(kernel_rows):
        def step():
            kernel_rows(-LEARNING_RATE, beta)
            bias(-LEARNING_RATE, 1.0)
        return step
    edges = blas.scaling_blocks(INPUTS, BATCH, UNITS, np.float32)
    split = f"{len(edges) - 1} row blocks" if edges else "one product, not split here"
    return {"decay, one product": decayed(one),
            f"decay, {split} (numnet)": decayed(blocks),
            "plain SGD, one product (beta = 1)": lambda: whole(-LEARNING_RATE, 1.0)}


def mask_impls():
    """The first Dropout mask, a half draw pending before each."""
    keep = np.empty((BATCH, UNITS), dtype=bool)
    draw = uniform_at_least_kernel(keep, RATE)
    ours, theirs = np.random.default_rng(1), np.random.default_rng(1)
    ours.random(dtype=np.float32), theirs.random(dtype=np.float32)  # a half pending
    rate = np.float32(RATE)
    return {"NumPy float32 draws >= rate": lambda: np.greater_equal(
                theirs.random((BATCH, UNITS), dtype=np.float32), rate, out=keep),
            "uniform_at_least, raw draws (numnet)": lambda: draw(ours)}


def main():
    args = _common.per_call_args(__doc__, "W6's extra kernels: us per call (float32)", calls=300)
    kernel = np.random.default_rng(2).normal(size=INPUTS * UNITS).astype(np.float32)
    sections = {
        "first layer's SGD product (785 x 300 block, batch 32)": (
            product_impls(), "decay, one product"),
        "first Dropout mask (32 x 300), a half pending": (
            mask_impls(), "NumPy float32 draws >= rate"),
        "L2 value over the first kernel (784 x 300)": (
            {"vdot(w, w)": lambda: np.vdot(kernel, kernel)}, "vdot(w, w)"),
    }
    for title, (impls, ref) in sections.items():
        print(f"\n{title}: {args.calls} calls per round")
        timed = {name: _common.per_call(f, args.calls) for name, f in impls.items()}
        results = _common.interleave(timed, args.rounds, args.warmup)
        _common.print_table(results, refs=(ref,))


if __name__ == "__main__":
    main()
