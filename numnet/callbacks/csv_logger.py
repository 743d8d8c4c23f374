"""`CSVLogger`: writes each epoch's logs as a CSV row."""

import csv
import os

from numnet.callbacks.callback import Callback, is_chief


class CSVLogger(Callback):
    """Streams epoch results to a CSV file: an `epoch` column, then the logs' keys, sorted.

    Args:
        filename: the CSV file.
        separator: the column separator.
        append: append to an existing file (the header is written only if
            the file is new or empty) instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        if not is_chief():
            return  # rank 0 writes the log of a distributed job
        if self.append:
            self.append_header = not (os.path.exists(self.filename) and
                                      os.path.getsize(self.filename) > 0)
            mode = "a"
        else:
            self.append_header = True
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()  # a previous fit died before on_train_end
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        if self.csv_file is None:
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            # With validation_freq > 1 the first epoch has no val_ keys: add them (Keras).
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend("val_" + k for k in list(self.keys))
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update({k: _csv_value(logs.get(k, "NA")) for k in self.keys})
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
            self.csv_file = None
        self.writer = None


def _csv_value(value):
    """Per-class results are written as Keras writes them: `"[a, b]"`."""
    if hasattr(value, "__len__") and not isinstance(value, str) and \
            getattr(value, "ndim", 1) != 0:
        return f"\"[{', '.join(map(str, value))}]\""
    return value
