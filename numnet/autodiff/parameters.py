"""`ParameterStore`: a model's trainable weights as views into one flat buffer.

Placing the weights one after the other in a single array lets an optimizer
update all of them with one NumPy call per operation (its slots are flat
arrays of the same layout), lets the compiled step write every gradient
straight into one flat gradient buffer, and puts each Dense kernel directly
above its bias (Keras' weight order is kernel, bias), so that `x @ W + b` is one
matrix product with the `(inputs + 1, units)` block. Once placed, a variable's
array never moves again (see `Variable.place`): nothing needs to check for
moved arrays at run time.
"""

import weakref

from numnet.backend import xp

# id(kernel array) -> its Stack, for the kernels a store holds directly above their
# bias (see `stacked_block`). Weak: a store's stacks go with it.
_STACKS = weakref.WeakValueDictionary()


class _Stack:
    """A kernel view, the bias view right after it, and their joint block."""

    __slots__ = ("kernel", "bias", "block", "__weakref__")

    def __init__(self, kernel, bias, block):
        self.kernel, self.bias, self.block = kernel, bias, block


def stacked_block(kernel, bias):
    """The (k + 1, n) block of a 2-D `kernel` array stored directly above `bias`, else None.

    Only arrays a `ParameterStore` placed that way have one: a Dense layer's
    kernel and bias, in Keras' weight order.
    """
    stack = _STACKS.get(id(kernel))
    if stack is None or stack.kernel is not kernel or stack.bias is not bias:
        return None
    return stack.block


def kernel_block(kernel):
    """The (k + 1, n) block whose first k rows are the 2-D `kernel` array (a kernel stored
    directly above its bias, see `stacked_block`), else None."""
    stack = _STACKS.get(id(kernel))
    return stack.block if stack is not None and stack.kernel is kernel else None


class ParameterStore:
    """The flat buffer holding `variables` (same float dtype), in order.

    Use `ParameterStore.of(variables)` to get the store that already holds
    exactly these variables, or to make one when none of them is placed yet.
    """

    def __init__(self, variables):
        self.variables = tuple(variables)
        dtypes = {v.data.dtype for v in self.variables}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            raise ValueError("A parameter store needs variables of one float dtype; received "
                             f"{sorted(str(d) for d in dtypes)}.")
        self.dtype = next(iter(dtypes))
        self.offsets = []
        total = 0
        for v in self.variables:
            self.offsets.append(total)
            total += v.data.size
        self.size = total
        self.flat = xp.empty(total, dtype=self.dtype)
        for v, view in zip(self.variables, self.views(self.flat)):
            v.place(view, store=self)
        self._stacks = []
        for i in range(len(self.variables) - 1):
            block = self.block(i, i + 1)
            kernel, bias = self.variables[i].data, self.variables[i + 1].data
            if block is not None and kernel.ndim == 2 and bias.ndim == 1:
                stack = _Stack(kernel, bias, block)
                self._stacks.append(stack)
                _STACKS[id(kernel)] = stack

    @classmethod
    def of(cls, variables):
        """The store holding exactly `variables` in this order, a new one, or None.

        None when some of them are placed elsewhere (or in another order), or
        when they do not share one float dtype: they are then updated one by one.
        """
        variables = list(variables)
        if not variables:
            return None
        store = variables[0].store
        if store is not None:
            if len(store.variables) == len(variables) and all(
                    a is b for a, b in zip(store.variables, variables)):
                return store
            return None
        # (a variable pinned where it is, without a store, may still move into one)
        if any(v.store is not None for v in variables) or \
                len({id(v) for v in variables}) != len(variables):
            return None
        dtypes = {v.data.dtype for v in variables}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            return None
        return cls(variables)

    def views(self, flat):
        """Views of a flat array laid out like the store, one per variable, in order."""
        return [flat[start:start + v.data.size].reshape(v.data.shape)
                for start, v in zip(self.offsets, self.variables)]

    def new_rows(self, rows):
        """A `(rows, size)` array of zeros laid out like the store (optimizer slots, gradients)."""
        return xp.zeros((rows, self.size), dtype=self.dtype)

    def block(self, first, last, flat=None):
        """The contiguous rows of variables `first`..`last` (indices) as one 2-D block.

        For a kernel `(n, units)` followed by its bias `(units,)` this is the
        `(n + 1, units)` array with the bias as its last row. Returns None when
        the variables do not stack that way.
        """
        flat = self.flat if flat is None else flat
        shapes = [self.variables[i].data.shape for i in range(first, last + 1)]
        columns = shapes[0][-1] if shapes[0] else None
        if columns is None or any(not s or s[-1] != columns for s in shapes):
            return None
        start = self.offsets[first]
        stop = self.offsets[last] + self.variables[last].data.size
        return flat[start:stop].reshape(-1, columns)

    def index(self, variable):
        """The position of `variable` in the store (ValueError if it is not there)."""
        for i, v in enumerate(self.variables):
            if v is variable:
                return i
        raise ValueError(f"Variable '{variable.path}' is not in this parameter store.")
