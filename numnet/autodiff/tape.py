"""Reverse-mode differentiation with a tape.

While a :class:`GradientTape` is open, every primitive whose inputs the tape
tracks appends its node (primitive, inputs, output) to the tape. The tape is
therefore already in topological order: `gradient()` walks it backwards once,
calling each primitive's backward rule (`vjp`, written with ops beside its
forward in `ops/`) and summing the gradients of tensors used several times.
Nothing is recorded when no tape is open, so inference pays nothing.
"""

from numnet.autodiff.primitive import RECORDERS
from numnet.backend import xp
from numnet.tree import flatten, map_structure


def is_recording():
    """True while at least one tape is open and recording."""
    return any(isinstance(r, GradientTape) for r in RECORDERS)


class GradientTape:
    """Records operations for automatic differentiation, like `tf.GradientTape`.

    Trainable variables read inside the `with` block are watched automatically;
    other tensors need `tape.watch(tensor)`.

    Example:

    ```python
    w = numnet.Variable([[1.0], [2.0]])
    with numnet.GradientTape() as tape:
        loss = numnet.ops.sum(numnet.ops.square(x @ w))
    dw = tape.gradient(loss, w)
    ```

    Args:
        persistent: allow several `gradient()` calls on the same tape.
        watch_accessed_variables: watch trainable variables automatically.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._nodes = []
        self._tracked = set()
        self._watched = []
        self._used = False
        self._recording = False
        # Persistent tapes only: id(array) -> (array, its values when first recorded).
        self._saved_values = {}

    def __enter__(self):
        RECORDERS.append(self)
        self._recording = True
        return self

    def __exit__(self, *exc):
        self._stop()
        return False

    def _stop(self):
        if self._recording:
            RECORDERS.remove(self)
            self._recording = False

    def record(self, node):
        """Keeps `node` if it reads a tracked tensor (called by every primitive while open)."""
        tracked = self._tracked
        needs = tuple([isinstance(p, Tensor) and (id(p) in tracked or (
            p.trainable and self._auto_watch(p))) for p in node.inputs])
        if True in needs:
            tracked.add(id(node.output))
            self._nodes.append((node, needs))
            if self.persistent:
                self._save_variable_values(node.inputs)

    def _auto_watch(self, tensor):
        if self.watch_accessed_variables and tensor.trainable:
            self._tracked.add(id(tensor))
            self._watched.append(tensor)
            return True
        return False

    def watch(self, tensor):
        """Tracks `tensor` (or each tensor in a list) so gradients flow to it."""
        items = tensor if isinstance(tensor, (list, tuple)) else [tensor]
        for item in items:
            if not isinstance(item, Tensor):
                raise TypeError(
                    "GradientTape.watch() expects numnet tensors or variables; "
                    f"received {type(item).__name__}. Convert arrays with "
                    "numnet.ops.convert_to_tensor() first."
                )
        self._tracked.update([id(item) for item in items])
        self._watched.extend(items)

    def _save_variable_values(self, parents):
        """Keeps a copy of each variable's values as the forward pass first saw them.

        Backward rules read the arrays they were given; an optimizer step
        between two `gradient()` calls of a persistent tape updates those
        arrays in place. With the copies, every call differentiates at the
        values of the forward pass, as TensorFlow does.
        """
        saved = self._saved_values
        for p in parents:
            if type(p) is Variable and id(p.data) not in saved:
                saved[id(p.data)] = (p.data, p.data.copy())

    def _forward_values(self):
        """Context manager: puts the saved values back for one backward pass."""
        return _ForwardValues(self._saved_values.values())

    def stop_recording(self):
        """Context manager that pauses recording inside the `with` block."""
        return _Paused(self)

    def reset(self):
        """Forgets everything recorded so far."""
        self._nodes.clear()
        self._tracked.clear()
        self._watched.clear()
        self._saved_values = {}

    def watched_variables(self):
        """Returns the variables this tape watched."""
        return [t for t in self._watched if t.trainable is not None]

    def _backward(self, grads, keep):
        """Walks the nodes backwards, accumulating gradient tensors into `grads` (by id).

        The backward rules are primitives too: a capture open around this call
        records them, and so does any other open tape (higher-order gradients).
        """
        for node, needs in reversed(self._nodes):
            key = id(node.output)
            g = grads.get(key) if key in keep else grads.pop(key, None)
            if g is None:
                continue
            parent_grads = node.prim.vjp(g, node.inputs, node.output, needs, **node.attrs)
            for parent, pg, need in zip(node.inputs, parent_grads, needs):
                if need and pg is not None:
                    key = id(parent)
                    previous = grads.get(key)
                    grads[key] = pg if previous is None else _ops.add(previous, pg)

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """Returns d(target)/d(source) for each source, in the structure of `sources`.

        Sources the target does not depend on get `None` (or zeros with
        `unconnected_gradients="zero"`), as TensorFlow does.
        """
        if self._used and not self.persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only compute one gradient. "
                "Use GradientTape(persistent=True) to call gradient() several times."
            )
        self._used = True
        if not self.persistent:
            self._stop()
        targets = target if isinstance(target, (list, tuple)) else [target]
        if output_gradients is not None and not isinstance(output_gradients, (list, tuple)):
            output_gradients = [output_gradients]
        grads = {}
        for i, t in enumerate(targets):
            if output_gradients is not None:
                seed = _ops.convert_to_tensor(output_gradients[i], dtype=t.data.dtype)
            else:
                seed = Tensor(xp.ones_like(t.data))
            key = id(t)
            grads[key] = seed if key not in grads else _ops.add(grads[key], seed)
        flat_sources = (sources if type(sources) in (list, tuple) and
                        all(type(x) is Variable for x in sources) else flatten(sources))
        keep = {id(x) for x in flat_sources}
        with _Paused(self):  # a persistent tape must not record its own backward pass
            if self.persistent and self._saved_values:
                with self._forward_values():
                    self._backward(grads, keep)
            else:
                self._backward(grads, keep)
        if not self.persistent:
            self.reset()

        def result(source):
            g = grads.get(id(source))
            if g is None:
                if unconnected_gradients == "zero":
                    return Tensor(xp.zeros_like(source.data))
                return None
            if g.shape != source.data.shape:
                raise AssertionError(
                    f"Gradient shape {g.shape} does not match its source's shape "
                    f"{source.data.shape}: a backward rule is wrong."
                )
            return g

        if flat_sources is sources:
            return type(sources)([result(x) for x in sources])
        return map_structure(result, sources)


class _ForwardValues:
    """Swaps the forward-time values into arrays changed since, and back afterwards."""

    def __init__(self, saved):
        self.changed = [(array, values) for array, values in saved
                        if not xp.array_equal(array, values, equal_nan=True)]
        self.current = []

    def __enter__(self):
        for array, values in self.changed:
            self.current.append(array.copy())
            array[...] = values

    def __exit__(self, *exc):
        for (array, _), current in zip(self.changed, self.current):
            array[...] = current
        return False


class _Paused:
    def __init__(self, tape):
        self.tape = tape

    def __enter__(self):
        if self.tape._recording:
            RECORDERS.remove(self.tape)
        return self

    def __exit__(self, *exc):
        if self.tape._recording:
            RECORDERS.append(self.tape)
        return False


# Imported last: tensor.py imports the ops, which import the primitives.
from numnet.autodiff.tensor import Tensor, Variable  # noqa: E402
from numnet.autodiff import ops as _ops  # noqa: E402
