"""Per-primitive export rules: one table per format, filled by decorators.

Each format module (`onnx_format`, `numpy_format`, `saved_model`) owns an
`OpTable` and registers one rule per primitive name:

```python
@ONNX_OPS.register("exp", "log", "sqrt")
def _unary(builder, node):
    ...
```

A new primitive becomes exportable by registering a rule in each table (the
test `tests/export/test_coverage.py` lists the primitives that have none).
Primitives that can never be part of an exported forward pass (backward
rules, random draws, variable writes) are listed in `NOT_EXPORTED` with the
reason, which the error message then gives; so are the loss kernels' primitives
(`numnet.autodiff.ops.nn.LOSS_PRIMITIVES`), new ones included.
"""

from numnet.export.errors import ExportError

# Primitives that are no part of an inference graph, by name (or suffix), with why.
NOT_EXPORTED = {
    "_grad": "it is a backward (gradient) rule, which inference never runs",
    "dense_input_grad": "it is a backward (gradient) rule, which inference never runs",
    "dense_param_grad": "it is a backward (gradient) rule, which inference never runs",
    "scatter_add": "it is the backward rule of indexing, which inference never runs",
    "scatter_take": "it is the backward rule of `take`, which inference never runs",
    "assign": "it writes a variable (a training-time update)",
    "assign_add": "it writes a variable (a training-time update)",
    "assign_sub": "it writes a variable (a training-time update)",
    "random_uniform": "it draws random numbers (training-time noise)",
    "random_normal": "it draws random numbers (training-time noise)",
    "dropout_mask": "it draws random numbers (training-time noise)",
}


def not_exported_reason(name):
    """Why primitive `name` is never exported, or None."""
    from numnet.autodiff.ops.nn import LOSS_PRIMITIVES
    if name in NOT_EXPORTED:
        return NOT_EXPORTED[name]
    if name.endswith("_grad"):
        return NOT_EXPORTED["_grad"]
    if name in LOSS_PRIMITIVES:
        return ("it is a loss, which training computes; a model's outputs are exported "
                "(compute a score in `call` with numnet ops instead)")
    return None


class OpTable:
    """The rules of one format: primitive name -> function writing that primitive."""

    def __init__(self, format_name):
        self.format_name = format_name
        self.rules = {}

    def register(self, *names):
        """Decorator: the function writes every primitive in `names`."""
        def decorate(rule):
            for name in names:
                if name in self.rules:
                    raise ValueError(f"{self.format_name}: primitive {name!r} already has a rule")
                self.rules[name] = rule
            return rule
        return decorate

    def __contains__(self, name):
        return name in self.rules

    def rule(self, node, model_name):
        """The rule for `node`, or an `ExportError` naming the op and its layer."""
        rule = self.rules.get(node.op)
        if rule is not None:
            return rule
        path, class_name = node.scope
        reason = not_exported_reason(node.op)
        why = f"because {reason}" if reason else \
            f"which numnet cannot write as {self.format_name} yet"
        raise ExportError(
            f"Cannot export model '{model_name}' to {self.format_name}: layer '{path}' "
            f"({class_name}) uses the op '{node.op}', {why}. Ops this format supports: "
            f"{', '.join(sorted(self.rules))}.")
