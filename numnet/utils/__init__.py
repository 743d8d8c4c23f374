"""Utilities, as in `keras.utils`."""

from numnet.backend import clear_session
from numnet.callbacks.progbar import Progbar
from numnet.utils.io_utils import (
    disable_interactive_logging, enable_interactive_logging, is_interactive_logging_enabled,
)
from numnet.models.py_dataset import PyDataset, Sequence
from numnet.backend import standardize_dtype
from numnet.layers.symbolic import is_keras_tensor
from numnet.serialization import (
    CustomObjectScope, custom_object_scope, deserialize_keras_object, get_custom_objects,
    get_registered_name, get_registered_object, register_keras_serializable,
    serialize_keras_object,
)
from numnet.models.packing import pack_x_y_sample_weight, unpack_x_y_sample_weight
from numnet.utils.numerical import normalize, to_categorical
from numnet.utils.rng import set_random_seed


def __getattr__(name):
    # Helpers with heavier imports (matplotlib, graphviz, the shard readers) load when asked for.
    if name in ("shard_dataset", "ShardDataset"):
        from numnet.utils import shards
        return getattr(shards, name)
    if name in ("plot_model", "model_to_dot"):
        from numnet.utils import model_plot
        return getattr(model_plot, name)
    if name in ("plot_learning_curves", "plot_history", "plot_image_grid", "plot_confusion_matrix",
                "plot_predictions"):
        from numnet.utils import plots
        return getattr(plots, name)
    raise AttributeError(f"module 'numnet.utils' has no attribute '{name}'")


__all__ = ["CustomObjectScope", "Progbar", "PyDataset", "Sequence", "ShardDataset", "clear_session",
           "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
           "get_registered_name", "get_registered_object", "is_keras_tensor", "normalize",
           "pack_x_y_sample_weight", "register_keras_serializable", "serialize_keras_object",
           "set_random_seed", "shard_dataset", "standardize_dtype", "to_categorical",
           "unpack_x_y_sample_weight", "plot_model"]
