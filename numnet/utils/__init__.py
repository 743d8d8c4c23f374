"""Utilities, as in `keras.utils`."""

from numnet.backend import clear_session
from numnet.callbacks.progbar import Progbar
from numnet.utils.io_utils import (
    disable_interactive_logging, enable_interactive_logging, is_interactive_logging_enabled,
)
from numnet.models.py_dataset import PyDataset, Sequence
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


__all__ = ["Progbar", "PyDataset", "Sequence", "ShardDataset", "clear_session", "normalize",
           "set_random_seed", "shard_dataset", "to_categorical", "plot_model"]
