"""The kernel table: every numerical formula of numnet, written once.

In the spirit of scikit-learn's `ACTIVATIONS` / `DERIVATIVES` tables, each
entry is a small dtype-generic function on raw arrays, computing through the
`numnet.backend` array module and able to write into a given `out` array
(which may be one of its inputs: the formulas then run in place). Everything
else reads the formulas from here:

- `numnet.autodiff.ops` wraps them into differentiable primitives;
- the compiled training step (`numnet.engine`) replays those primitives'
  kernels into preallocated buffers;
- the scikit-learn estimators run them in float64 with scikit-learn's order
  of operations;
- the perceptron layer and the scikit-learn `Perceptron` share Rosenblatt's
  rule (`rosenblatt_step`).
"""

from numnet.kernels.activations import ACTIVATIONS, ActivationKernel
from numnet.kernels.losses import LOSSES, LossKernel
from numnet.kernels.rosenblatt import rosenblatt_epoch, rosenblatt_step

__all__ = ["ACTIVATIONS", "ActivationKernel", "LOSSES", "LossKernel", "rosenblatt_epoch",
           "rosenblatt_step"]
