"""Saving and loading models in Keras 3's formats (`keras.saving`).

```python
model.save("my_model.keras")
model = numnet.saving.load_model("my_model.keras")
model.save_weights("my_model.weights.h5")
model.save("my_model.h5")  # the legacy whole-model HDF5 file, with Keras' warning
numnet.saving.KerasFileEditor("my_model.keras").summary()  # inspect, edit, resave weights
```

Loading checks the file's type and extension before opening it, refuses
anything that would read outside the file (HDF5 links, external or virtual
datasets, filter plugins, links out of a saved folder), reads archive members
in bounded chunks, and never runs code from the file.
"""

from numnet.saving.file_editor import KerasFileEditor
from numnet.saving.keras_format import (
    load_model, load_weights, model_from_json, save_model, save_weights,
)
from numnet.serialization import (
    CustomObjectScope, custom_object_scope, deserialize_keras_object, get_custom_objects, get_registered_name, get_registered_object,
    register_keras_serializable, serialize_keras_object,
)

__all__ = [
    "CustomObjectScope", "KerasFileEditor", "custom_object_scope", "deserialize_keras_object",
    "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
    "load_weights", "model_from_json", "register_keras_serializable", "save_model",
    "save_weights", "serialize_keras_object",
]
