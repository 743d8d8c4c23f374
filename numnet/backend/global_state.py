"""Global state that `clear_session()` resets: the layer and model name counters."""

import gc
import re

_NAME_COUNTERS = {}


def to_snake_case(name):
    """Converts `"MyLayerName"` to `"my_layer_name"` the way Keras names layers."""
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
