"""The parts of TensorFlow that Keras' TensorBoard tests use to READ event files, served by
the `tensorboard` package when TensorFlow is not installed (test-side glue for
`plugin.py`'s TensorFlow stand-in: those tests then really read numnet's event files).

No side effects on import: `plugin.py` installs the stand-in.
"""

import importlib
import types


def tf_record_iterator(path):
    """`tf_record.tf_record_iterator`: the records of an event file, read by the
    `tensorboard` package's own reader (no TensorFlow)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    yield from RawEventFileLoader(path).Load()


def tensorboard_part(name):
    """The stand-in for the TensorFlow module `name`, or None (then it stays absent)."""
    if name == "tensorflow.core.util.event_pb2":
        return importlib.import_module("tensorboard.compat.proto.event_pb2")
    if name == "tensorflow.python.lib.io.tf_record":
        module = types.ModuleType(name)
        module.tf_record_iterator = tf_record_iterator
        return module
    return None
