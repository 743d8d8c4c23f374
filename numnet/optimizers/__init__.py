"""Optimizers with Keras 3's names, defaults, update rules, variables and configs.

`get("adam")`, `get("Adam")`, `get({"class_name": "Adam", "config": {...}})`
and `get(Adam())` all return an optimizer; `serialize`/`deserialize` round-trip
them through Keras' config envelope.
"""

from numnet.optimizers import schedules
from numnet.optimizers.base_optimizer import Optimizer
from numnet.optimizers.sgd import SGD
from numnet.optimizers.adam import Adam
from numnet.optimizers.adamw import AdamW
from numnet.optimizers.rmsprop import RMSprop
from numnet.optimizers.adagrad import Adagrad
from numnet.optimizers.nadam import Nadam
from numnet.optimizers.adamax import Adamax
from numnet.optimizers.adadelta import Adadelta
from numnet.optimizers.ftrl import Ftrl
from numnet.optimizers.lion import Lion
from numnet.optimizers.lamb import Lamb
from numnet.optimizers.adafactor import Adafactor
from numnet.optimizers.schedule_free_adamw import ScheduleFreeAdamW
from numnet.optimizers.muon import Muon
from numnet.optimizers.loss_scale_optimizer import LossScaleOptimizer
from numnet.optimizers.multi_optimizer import MultiOptimizer, OptimizerMap
from numnet.serialization import deserialize_keras_object, serialize_keras_object

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax",
    "Adadelta", "Ftrl", "Lion", "Lamb", "Adafactor", "ScheduleFreeAdamW", "Muon",
    "LossScaleOptimizer", "MultiOptimizer", "OptimizerMap",
    "schedules", "get", "serialize", "deserialize",
]

_CLASSES = (Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Adamax, Adadelta, Ftrl,
            Lion, Lamb, Adafactor, ScheduleFreeAdamW, Muon, LossScaleOptimizer, MultiOptimizer,
            OptimizerMap)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
# String identifiers are case-insensitive ("adam", "Adam", "ADAM", "rmsprop").
# Keras 3.15 leaves Lamb out of its string identifiers (`get("lamb")` raises there too);
# configs that name it still load. The wrappers need an optimizer to wrap: no name alone.
_BY_LOWER_NAME = {cls.__name__.lower(): cls for cls in _CLASSES if cls not in (
    Optimizer, Lamb, LossScaleOptimizer, MultiOptimizer, OptimizerMap)}
_ANY_CASE = {cls.__name__.lower(): cls for cls in _CLASSES}  # configs' class names


def serialize(optimizer):
    """Returns the Keras config envelope of an optimizer."""
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None):
    """Rebuilds an optimizer from its config envelope (or a name)."""
    if (isinstance(config, dict) and isinstance(config.get("class_name"), str)
            and not config.get("registered_name")
            and not (custom_objects and config["class_name"] in custom_objects)):
        cls = _ANY_CASE.get(config["class_name"].lower())
        if cls is not None:
            config = {**config, "class_name": cls.__name__}
    return deserialize_keras_object(
        config, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT,
        printable_module_name="optimizer",
    )


def get(identifier):
    """Resolves an optimizer identifier.

    Args:
        identifier: None (returned as is), an `Optimizer` (returned as is), a name (case-insensitive:
            "sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam", "adamax",
            "adadelta", "ftrl", "lion", "adafactor"; not "lamb", as in Keras); the optimizer
            gets its default arguments), or a config dict.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_LOWER_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Could not interpret optimizer identifier: {identifier!r}. Valid "
                f"names are: {', '.join(sorted(_BY_LOWER_NAME))} (case-insensitive)."
            )
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
