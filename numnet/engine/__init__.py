"""The engine: numnet's compiled steps (capture, planning, replay).

`fit`, `evaluate` and `predict` run their step function through a
`CompiledFunction`: captured op by op on its first two calls per input
signature (`capture`), planned into kernels over buffers allocated once
(`plan`, with the rewrites of `rewrite`), then replayed. Nothing here knows
about layers or models: a step is any function of a batch of tensors whose
computation goes through numnet's ops, whose optimizer steps and metric
updates are host calls.
"""

from numnet.engine.capture import Capture, HostCall, difference
from numnet.engine.compiled import Batch, CompiledFunction, Source
from numnet.engine.plan import Program, plan

__all__ = ["Batch", "Capture", "CompiledFunction", "HostCall", "Program", "plan",
           "Source", "difference"]
