"""`CompiledFunction`: a step function captured per input signature, then replayed.

This is numnet's answer to Keras' compiled `train_step` (and to tinygrad's
TinyJit, whose capture-and-replay it follows). For each input signature
(the shapes and dtypes of the batch's arrays and its structure):

1. the first call just runs the function eagerly (a signature met only once,
   like a last partial batch, costs no more than that), unless it is the
   first signature of a `capture_first` function (a training step: it repeats);
2. the second call runs it eagerly under a `Capture`;
3. the third call does the same and compares the two captures: the same ops
   on the same values, with the same constants, means the Python code around
   the ops does not depend on the data, and the capture is planned into a
   `Program` (a function whose code is known to trace alike on every batch,
   `one_capture`, is planned from its first capture);
4. every later call copies the batch into the program's input buffers and
   replays its kernels.

A call the capture cannot follow (it reads tensor values into Python, or its
ops change from batch to batch) keeps running eagerly for that signature;
`reason` says why, and the result is always the eager one. A call inside a
`StatelessScope` runs eagerly too: the scope puts back what the call writes,
which a replay's kernels would write past it.

A program computes in buffers of its own, so a `CompiledFunction` serves one
thread at a time: the model that owns it holds its `turn_lock` around every use.
It keeps no reference to a call's data once the call ends (`end_call`): captures
copy the rows they are given, and a plan drops the captured arrays.
"""

from functools import partial

from numnet.autodiff.primitive import CAPTURES, IN_STEP, RECORDERS, wrap
from numnet.autodiff.tensor import STATELESS
from numnet.backend import xp
from numnet.engine.capture import Capture, difference
from numnet.engine.plan import Program, copy_rows, plan
from numnet.tree import flatten, pack_sequence_as, structure_key


class Source:
    """A structure of whole-data arrays (the same first dimension), flattened once.

    A fit makes one for its data and then one `Batch` per step: the per-step
    work is only the row index.

    Streamed input (a generator, a `PyDataset`, a memory-mapped file) has no
    whole-data array: each batch comes as arrays of its own, in a `Source`
    made with `stream=`, an object naming the stream it belongs to. A replay
    then hoists nothing out of the step (there is no whole data to compute
    on), and redoes its per-epoch work when the epoch or the stream changes,
    not at every batch.
    """

    __slots__ = ("structure", "leaves", "data_leaves", "rebuild", "rows", "key", "stream")

    def __init__(self, structure, stream=None):
        self.structure = structure
        self.stream = stream
        if stream is None and type(structure) is xp.ndarray:  # one input array, kept cheap
            self.leaves = self.data_leaves = [structure]
            self.rebuild, self.rows = partial(pack_sequence_as, None), len(structure)
            self.key = ("leaf", ((structure.shape[1:], structure.dtype.str),))
            return
        self.leaves, self.rebuild = flatten(structure), partial(pack_sequence_as, structure)
        self.data_leaves = [leaf for leaf in self.leaves if leaf is not None]
        self.rows = max((len(leaf) for leaf in self.data_leaves), default=0)
        # An array given twice is one input of a replay (`_capture`): which are is in the key.
        first = {}
        self.key = (structure_key(structure), tuple(None if leaf is None else (
            leaf.shape[1:], leaf.dtype.str, first.setdefault(id(leaf), i))
            for i, leaf in enumerate(self.leaves)), stream is not None)


class Batch:
    """Rows `index` (a slice, or an array of row numbers in range) of a `Source`, gathered
    only when needed.

    A replay gathers the rows straight into its input buffers; an eager call
    gets them with `arrays()`.
    """

    __slots__ = ("source", "index")

    def __init__(self, source, index):
        self.source = source if isinstance(source, Source) else Source(source)
        self.index = index

    @property
    def sources(self):
        """What the whole-data values of a replay are computed from: the source, or its stream."""
        source = self.source
        return source if source.stream is None else source.stream

    def leaves(self):
        return [None if leaf is None else leaf[self.index] for leaf in self.source.leaves]

    def source_rows(self):
        """Rows of the whole data (None for a streamed batch: nothing may be hoisted)."""
        return self.source.rows if self.source.stream is None else None

    def arrays(self):
        """The batch as a structure of arrays, like the source's."""
        return self.source.rebuild(self.leaves())

    def rows(self):
        """How many rows the batch has (its `index` selects them)."""
        index = self.index
        return len(range(*index.indices(self.source.rows))) if type(index) is slice else len(index)

    def signature(self):
        return self.rows(), self.source.key


_SEEN_ONCE = object()  # the entry of a signature called once, not captured yet


class CompiledFunction:
    """`fn(data)` compiled per input signature (see the module docstring).

    Args:
        fn: the step function, called with a structure of tensors or arrays.
        name: for messages ("train", "test", "predict").
    """

    def __init__(self, fn, name="step", enabled=True, before_planning=None,
                 capture_first=False, hoist=True, one_capture=None):
        self.fn, self.name, self.enabled, self.before_planning = fn, name, enabled, before_planning
        # Capture the first signature from its first call (a training step repeats);
        # later ones (a last partial batch) still start eagerly.
        self.capture_first = capture_first
        # Whether input-only work may be hoisted out of the step onto the whole data: not
        # when every call brings its whole data anyway (`model(x)`).
        self.hoist = hoist
        # A callable saying whether `fn` runs only code known to trace the same ops on
        # every batch (then one capture is enough); asked once, at the first capture.
        self._one_capture = one_capture
        # How many captures of a signature precede its plan: 1 when the function's code is
        # known to trace alike on every batch, else 2 (compared); None before the first.
        self.captures_to_plan = None
        self.reason = None if enabled else f"the {name} step runs eagerly (jit_compile=False)"
        self._entries = {}
        self._whole_arrays = {}  # (shape, dtype) -> program: see `call_array`

    def call_array(self, array):
        """Replays the step on one whole array at the least cost per call (`model(x)`), and
        returns the `Program` it ran: read its `result()` or `result_buffers`.

        Only for a shape and dtype planned from a call on one whole array, while that
        program is valid; else None, and the caller goes through `__call__`.
        """
        program = self._whole_arrays.get((array.shape, array.dtype))
        if program is None or RECORDERS.items or STATELESS.items or not program.valid():
            return None
        program.run_on(array)
        return program

    def __call__(self, batch):
        """Runs the step on a `Batch` (or a structure of arrays) and returns its result."""
        batch = batch if isinstance(batch, Batch) else Batch(batch, slice(None))
        if not self.enabled or STATELESS.items:  # a replay's writes would escape the scope
            return self._eager(batch)
        signature = batch.signature()
        entry = self._entries.get(signature)
        if type(entry) is Program:
            if entry.valid():
                entry.feed(batch)
                return entry.run()
            entry = None  # a variable moved (into a parameter store): capture again
        if isinstance(entry, str) or RECORDERS:
            # Eager for good (or inside someone else's tape or capture: stay eager).
            return self._eager(batch)
        if entry is None and not (self.capture_first and not self._entries):
            # A signature seen once (a last partial batch, a single evaluation chunk)
            # costs nothing more than an eager call; capturing starts on its second call.
            self._entries[signature] = _SEEN_ONCE
            return self._eager(batch)
        return self._capture(batch, signature, None if entry is None or entry is _SEEN_ONCE else entry)

    def replaying(self, batches):
        """The `(step, Batch)` pairs of `batches` less those it replays itself, for a caller
        that calls this function on each pair it gets and reads no result between steps (a
        `fit` without batch callbacks).

        After a call the caller made, the batches that follow with its signature are
        replayed here in one loop: the same rows fed to the same program's `run` as in
        `__call__`, without its per-call checks, which nothing between two such steps can
        change.
        """
        source = rows = pairs = run = None  # of the batches replayed here
        for step, batch in batches:
            if batch.source is source and batch.rows() == rows:  # the signature replayed
                copy_rows(pairs, batch.index)
                run()
                continue
            yield step, batch
            entry, source = self._entries.get(batch.signature()), None
            if type(entry) is Program and entry.valid() and self.enabled and not (
                    STATELESS.items or RECORDERS):
                source, rows, pairs, run = (batch.source, batch.rows(), entry.feed_pairs(batch),
                                            entry.run)

    def _eager(self, batch):
        IN_STEP.append(self)
        try:
            return self.fn(batch.arrays())
        finally:
            IN_STEP.pop()

    def _capture(self, batch, signature, previous):
        # Rows that view the caller's arrays are copied: a capture kept for comparing with
        # the next one (or its graph) then holds no reference to the caller's data.
        leaves = [leaf if leaf is None or leaf.base is None else leaf.copy()
                  for leaf in batch.leaves()]
        first = {}  # an array given twice (one target for two outputs) is one input, fed once
        wrapped = [None if leaf is None else first.setdefault(id(source), wrap(leaf))
                   for source, leaf in zip(batch.source.leaves, leaves)]
        tensors, data = [t for t in wrapped if t is not None], batch.source.rebuild(wrapped)
        with Capture(tensors) as capture:
            result = self.fn(data)
        if capture.unusable is not None:
            self._give_up(signature, capture.unusable)
        elif previous is None and not self._one_capture_enough():
            self._entries[signature] = (capture, result)
        elif previous is not None and (why := difference(previous[0], capture)) is not None:
            self._give_up(signature, why)
        else:
            if self.before_planning is not None:
                self.before_planning()
            program = self._entries[signature] = plan(
                capture, result, batch.source_rows() if self.hoist else None)
            if len(leaves) == 1 and batch.index == slice(None) and not program.hoisted and \
                    all(source == 0 for source, _ in program.feeds):  # fed one whole array
                self._whole_arrays[leaves[0].shape, leaves[0].dtype] = program
        return result

    def _one_capture_enough(self):
        if self.captures_to_plan is None:
            self.captures_to_plan = 1 if self._one_capture and self._one_capture() else 2
        return self.captures_to_plan == 1

    def _give_up(self, signature, why):
        self.reason = self._entries[signature] = f"the {self.name} step runs eagerly: {why}"

    def begin_epoch(self):
        """A new epoch (or evaluate / predict call): invariants and hoisted rows are redone.

        Also what `end_call` does when a call ends: the programs let go of its data.
        """
        for program in self.programs:
            program.begin_epoch()

    end_call = begin_epoch

    @property
    def programs(self):
        """The programs planned so far (one per replayed signature)."""
        return [e for e in self._entries.values() if type(e) is Program]


__all__ = ["Batch", "CAPTURES", "CompiledFunction", "Source"]
