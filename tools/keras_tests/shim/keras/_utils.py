"""Small generic helpers Keras' tests reach through `keras.src.utils` (not numnet API)."""


def removesuffix(text, suffix):
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def removeprefix(text, prefix):
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


# `keras.src.utils.file_utils`: Keras' path helpers, which also reach remote file systems
# (`gs://...`) through TensorFlow; its tests use them on local paths only.
def join(path, *paths):
    import os
    return os.path.join(path, *paths)


def exists(path):
    import os
    return os.path.exists(path)


def isdir(path):
    import os
    return os.path.isdir(path)


def File(path, mode="r"):  # noqa: N802  (Keras' name)
    return open(path, mode)


def is_remote_path(path):
    import re
    return re.match(r"^(/cns|/cfs|/gcs|/tmp/dfs|gs|hdfs|readahead|s3)://", str(path)) is not None


# `keras.src.utils.io_utils.set_logging_verbosity`: Keras sets absl's verbosity; numnet's
# messages go to the `numnet` logger of Python's `logging`.
def set_logging_verbosity(level):
    import logging
    levels = {"FATAL": logging.FATAL, "ERROR": logging.ERROR, "WARNING": logging.WARNING,
              "INFO": logging.INFO, "DEBUG": logging.DEBUG}
    if level not in levels:
        raise ValueError("Please pass a valid level for logging verbosity. Expected one of: "
                         f"{set(levels)}. Received: {level}")
    logging.getLogger("numnet").setLevel(levels[level])
