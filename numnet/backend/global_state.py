"""Global state: the layer and model name counters (`clear_session()` resets them), and
`ThreadStack`, for state that each thread keeps on its own."""

import gc
import re
import threading
from functools import lru_cache

_NAME_COUNTERS = {}


class ThreadStack(threading.local):
    """A stack that each thread has its own of, as TensorFlow's tapes and JAX's traces are:
    a tape or a capture open in one thread never records what another thread computes,
    and a scope opened in one thread never reaches another.

    It answers `bool()`, `len()`, iteration, indexing, `append`, `remove` and `pop`
    like the list it holds, `items` (read that on hot paths: it is faster). Each
    thread's stack starts as `bottom`.
    """

    def __init__(self, *bottom):
        self.items = list(bottom)

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def append(self, item):
        self.items.append(item)

    def remove(self, item):
        self.items.remove(item)

    def pop(self, index=-1):
        return self.items.pop(index)


@lru_cache(maxsize=1024)
def to_snake_case(name):
    """Converts `"MyLayerName"` to `"my_layer_name"` the way Keras names layers (once per
    class name: every layer built asks)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def unique_name(prefix):
    """Returns `prefix`, then `prefix_1`, `prefix_2`, ... on later calls."""
    count = _NAME_COUNTERS.get(prefix, 0)
    _NAME_COUNTERS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session(free_memory=True):
    """Resets the name counters (so the next `Dense` is named `dense` again)."""
    _NAME_COUNTERS.clear()
    if free_memory:
        gc.collect()
