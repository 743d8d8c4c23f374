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
(`numnet.autodiff.ops.nn.LOSS_PRIMITIVES`), new ones included. A primitive
that one format cannot express faithfully is listed, with the reason, in
`NOT_EXPORTED_TO[format name]`; a rule that can write only some
configurations of its op refuses the others with `refuse` (same message).
"""

from numnet.export.errors import ExportError

# Primitives that are no part of an inference graph, by name (or suffix), with why.
NOT_EXPORTED = {
    "_grad": "it is a backward (gradient) rule, which inference never runs",
    "dense_input_grad": "it is a backward (gradient) rule, which inference never runs",
    "dense_param_grad": "it is a backward (gradient) rule, which inference never runs",
    "scatter_add": "it is the backward rule of indexing, which inference never runs",
    "scatter_take": "it is the backward rule of `take`, which inference never runs",
    "scatter_along": "it is the backward rule of `take_along_axis`, which inference never runs",
    "assign": "it writes a variable (a training-time update)",
    "assign_add": "it writes a variable (a training-time update)",
    "assign_sub": "it writes a variable (a training-time update)",
    "random_uniform": "it draws random numbers (training-time noise)",
    "random_normal": "it draws random numbers (training-time noise)",
    "dropout_mask": "it draws random numbers (training-time noise)",
    "sum_of_squares": "it is the L2 regularizers' penalty, a training-time loss term",
}
# The square-matrix, integer, scatter and special functions of `numnet.ops` that the
# exporters do not write (ONNX has no operator for most of them: no inverse, solve,
# Cholesky factor, erfinv, nextafter, gcd or lcm, and its BitShift takes unsigned integers
# only). A model
# using one keeps working in numnet; exporting it names the op and this reason.
_NOT_WRITTEN = (
    "numnet's exporters do not write this function of numnet.ops yet (ONNX has no operator "
    "for most of the matrix, integer and special functions); compute it outside the "
    "exported model, or keep the model in numnet's own formats")
NOT_EXPORTED.update({name: _NOT_WRITTEN for name in (
    "view", "i0", "i1", "lu_factor", "lu_pivots", "dft", "inv", "det", "slogdet_sign", "log_abs_det", "solve", "cholesky", "erfinv", "nextafter",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
    "bitwise_right_shift", "gcd", "lcm", "gather_nd", "scatter_nd", "scatter_update",
    "scatter_update_max", "scatter_update_min", "scatter_update_mul", "eigh_values",
    "eigh_vectors", "qr_q", "qr_r", "singular_values", "svd_vectors")})

# Primitives one format cannot express faithfully, by format name, with why.
NOT_EXPORTED_TO = {
    "ONNX": {
        "hash_bins": (
            "ONNX has no operator that hashes strings: Keras buckets a value (in Hashing, and "
            "out-of-vocabulary tokens in lookups with several OOV indices) by FarmHash64 (or, "
            "with a salt, SipHash-2-4) of its string form, which needs a string's bytes and "
            "64-bit wrapping arithmetic over them, and no ONNX operator (standard or "
            "ai.onnx.ml) gives access to a string's bytes. Export to format='tf_saved_model' "
            "(TensorFlow's own string hashes) or 'numpy', or hash the feature before the "
            "model"),
    },
}


# What the primitives of these kinds do, which an inference graph never does (the tracer
# refuses them when they run at inference).
_KIND_REASONS = {"effect": "it writes a variable (a training-time update, a metric's state)",
                 "random": "it draws random numbers (training-time noise)"}


def not_exported_reason(name, format_name=None, kind=None):
    """Why primitive `name` (of `kind`, if known) is never exported (to `format_name`, if
    given), or None."""
    from numnet.autodiff.ops.nn import LOSS_PRIMITIVES
    if format_name is not None and name in NOT_EXPORTED_TO.get(format_name, {}):
        return NOT_EXPORTED_TO[format_name][name]
    if name in NOT_EXPORTED:
        return NOT_EXPORTED[name]
    if kind in _KIND_REASONS:
        return _KIND_REASONS[kind]
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
        reason = not_exported_reason(node.op, self.format_name)
        why = f"because {reason}" if reason else \
            f"which numnet cannot write as {self.format_name} yet"
        raise ExportError(
            f"{_cannot(node, model_name, self.format_name)}, {why}. Ops this format "
            f"supports: {', '.join(sorted(self.rules))}.")


def refuse(node, model_name, format_name, reason):
    """Raises the `ExportError` of a rule that cannot write this use of its op (`reason`)."""
    raise ExportError(f"{_cannot(node, model_name, format_name)}, {reason}.")


def _cannot(node, model_name, format_name):
    path, class_name = node.scope
    return (f"Cannot export model '{model_name}' to {format_name}: layer '{path}' "
            f"({class_name}) uses the op '{node.op}'")
