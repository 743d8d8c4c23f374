"""Models: `Model` (Functional and subclassed), `Sequential`, and model utilities."""

from numnet.models.model import Model
from numnet.models.sequential import Sequential
from numnet.models.cloning import clone_model
from numnet.models.functional import Functional


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a `.keras` model (see `numnet.saving.load_model`)."""
    from numnet.saving import load_model as _load_model
    return _load_model(filepath, custom_objects=custom_objects, compile=compile,
                       safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves a model to a `.keras` file (see `numnet.saving.save_model`)."""
    from numnet.saving import save_model as _save_model
    return _save_model(model, filepath, overwrite=overwrite, zipped=zipped, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """Rebuilds a model (without weights) from `model.to_json()`."""
    from numnet.saving import model_from_json as _model_from_json
    return _model_from_json(json_string, custom_objects=custom_objects)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]
