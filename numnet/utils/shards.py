"""`shard_dataset`: training data in a folder of Parquet or CSV files, read batch by batch.

The files are cut into chunks (a Parquet row group; up to `chunk_rows` lines
of a CSV file), which are the units of reading, shuffling and sharding:

- reading: each epoch reads the chunks once, in a background thread (fit's
  read-ahead), so memory holds about one shuffle window plus one chunk and a
  few batches, never the whole data;
- shuffling: every epoch visits the chunks in a new random order, and mixes
  the rows of consecutive chunks in windows of at least `shuffle_buffer` rows
  (tf.data's shuffle buffer, done a window at a time);
- sharding: under `numnet.distribute` (or with `rank`/`num_ranks`) each rank
  reads its own chunks, dealt so that the ranks' row counts are as even as
  possible; every rank takes the same number of steps per epoch (the fewest
  any rank can fill), the rows left over on the others are not used.

Parquet is read with pyarrow (`pip install 'numnet[parquet]'`); CSV files,
numeric with one header line, with NumPy alone.
"""

import io
import math
from pathlib import Path

import numpy as np

from numnet.backend import floatx, global_generator

_BLOCK = 1 << 20


class ShardDataset:
    """One epoch of `(x, y)` batches per `iter()`; `len()` is the number of batches.

    Made by `shard_dataset`; pass it to `fit`, `evaluate` or `predict` as `x`.
    """

    def __init__(self, chunks, columns, features, labels, batch_size, shuffle, seed,
                 shuffle_buffer, rank, num_ranks, label_dtype):
        self.columns = columns
        self.features = features
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.rank, self.num_ranks = rank, num_ranks
        self.label_dtype = label_dtype
        self.all_chunks = chunks
        self.rows = sum(chunk.rows for chunk in chunks)
        dealt = _deal(chunks, num_ranks)
        empty = [r for r, part in enumerate(dealt) if not part]
        if empty:
            raise ValueError(f"shard_dataset: {len(chunks)} chunk(s) cannot feed {num_ranks} "
                             f"ranks (rank(s) {empty} would get none); use smaller chunks "
                             "(Parquet row groups, `chunk_rows` for CSV) or fewer ranks.")
        self.chunks = dealt[rank]
        self.num_batches = min(math.ceil(sum(c.rows for c in part) / batch_size)
                               for part in dealt)
        self._epoch = 0

    def __len__(self):
        return self.num_batches

    def __iter__(self):
        rng = global_generator() if self.seed is None else \
            np.random.default_rng([self.seed, self._epoch])
        self._epoch += 1
        return self._batches(rng)

    def _batches(self, rng):
        chunks = list(self.chunks)
        if self.shuffle:
            chunks = [chunks[i] for i in rng.permutation(len(chunks))]
        produced = 0
        carry = None
        for window in self._windows(chunks):
            if carry is not None:
                window = [np.concatenate([a, b]) for a, b in zip(carry, window)]
            if self.shuffle:
                order = rng.permutation(len(window[0]))
                window = [part[order] for part in window]
            whole = len(window[0]) // self.batch_size * self.batch_size
            for start in range(0, whole, self.batch_size):
                if produced == self.num_batches:
                    return
                yield self._batch(window, slice(start, start + self.batch_size))
                produced += 1
            carry = [part[whole:] for part in window]
        if carry is not None and len(carry[0]) and produced < self.num_batches:
            yield self._batch(carry, slice(None))

    def _windows(self, chunks):
        """Consecutive chunks read and joined until each window has `shuffle_buffer` rows."""
        parts, rows = [], 0
        for chunk in chunks:
            parts.append(chunk.read(self))
            rows += chunk.rows
            if rows >= self.shuffle_buffer:
                yield [np.concatenate(column) for column in zip(*parts)]
                parts, rows = [], 0
        if parts:
            yield [np.concatenate(column) for column in zip(*parts)]

    def _batch(self, window, rows):
        x = window[0][rows]
        if not self.labels:
            return (x,)
        y = window[1][rows]
        return x, (y[:, 0] if y.shape[1] == 1 else y)

    def __repr__(self):
        return (f"<ShardDataset {self.rows} rows in {len(self.all_chunks)} chunks, "
                f"{len(self.features)} features, labels {self.labels}, batch {self.batch_size}, "
                f"rank {self.rank} of {self.num_ranks}: {self.num_batches} batches>")


def _deal(chunks, num_ranks):
    """Chunks per rank, biggest first to the rank with the fewest rows (the same on every rank)."""
    dealt = [[] for _ in range(num_ranks)]
    totals = [0] * num_ranks
    for index in sorted(range(len(chunks)), key=lambda i: (-chunks[i].rows, i)):
        rank = min(range(num_ranks), key=lambda r: (totals[r], r))
        dealt[rank].append(index)
        totals[rank] += chunks[index].rows
    return [[chunks[i] for i in sorted(part)] for part in dealt]  # each in file order


# ------------------------------------------------------------------- chunks
class _ParquetChunk:
    def __init__(self, path, group, rows):
        self.path, self.group, self.rows = path, group, rows

    def read(self, dataset):
        pq = _pyarrow()
        names = dataset.features + dataset.labels
        try:
            table = pq.ParquetFile(self.path).read_row_group(self.group, columns=names)
        except Exception as error:  # pyarrow raises its own kinds
            raise ValueError(f"{self.path}: cannot read row group {self.group}: {error}") \
                from None
        columns = []
        for name in names:
            column = table.column(name)
            if column.null_count:
                raise ValueError(f"{self.path}: column '{name}' has {column.null_count} missing "
                                 f"value(s) in row group {self.group}.")
            columns.append(column.to_numpy())
        return _split(self.path, f"row group {self.group}", columns, dataset)


class _CsvChunk:
    def __init__(self, path, start, stop, first_row, rows, usecols):
        self.path, self.start, self.stop = path, start, stop
        self.first_row, self.rows, self.usecols = first_row, rows, usecols

    def read(self, dataset):
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            text = handle.read(self.stop - self.start).decode("utf-8")
        where = f"rows {self.first_row + 1}-{self.first_row + self.rows} after the header"
        try:
            table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2,
                               usecols=self.usecols)
        except ValueError as error:
            raise ValueError(f"{self.path} ({where}): {error}") from None
        if len(table) != self.rows:
            raise ValueError(f"{self.path} ({where}): read {len(table)} rows where "
                             f"{self.rows} lines were counted (blank lines?).")
        return _split(self.path, where, list(table.T), dataset)


def _split(path, where, columns, dataset):
    """(features as floatx, labels) from the chunk's columns, ordered features then labels."""
    count = len(dataset.features)
    try:
        x = np.stack(columns[:count], axis=1).astype(floatx())
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path} ({where}): the feature columns are not numeric ({error}).") \
            from None
    labels = columns[count:]
    if not labels:
        return (x,)
    y = np.stack(labels, axis=1)
    dtype = dataset.label_dtype or (np.int64 if y.dtype.kind in "iub" else floatx())
    if y.dtype.kind not in "iubf":
        raise ValueError(f"{path} ({where}): the label column(s) {dataset.labels} are not "
                         f"numeric (dtype {y.dtype}).")
    return x, y.astype(dtype)


def _pyarrow():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Reading Parquet files needs pyarrow: pip install "
                          "'numnet[parquet]'.") from None
    return pq


def _parquet_chunks(path):
    pq = _pyarrow()
    try:
        handle = pq.ParquetFile(path)
    except Exception as error:
        raise ValueError(f"{path}: not a readable Parquet file ({error}).") from None
    metadata = handle.metadata
    chunks = [_ParquetChunk(path, g, metadata.row_group(g).num_rows)
              for g in range(metadata.num_row_groups)]
    return list(handle.schema_arrow.names), [c for c in chunks if c.rows]


def _csv_chunks(path, chunk_rows):
    """The header's column names and the file cut every `chunk_rows` lines (by byte offsets)."""
    with open(path, "rb") as handle:
        header = handle.readline()
        try:
            names = [name.strip().strip('"') for name in header.decode("utf-8").split(",")]
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: the header line is not UTF-8 text ({error}).") from None
        if not header.strip():
            raise ValueError(f"{path}: empty file (a CSV shard needs a header line).")
        line_ends = []   # the byte offset after each data line
        offset = handle.tell()
        last = b"\n"
        while True:
            block = handle.read(_BLOCK)
            if not block:
                break
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + offset + 1
            line_ends.append(ends)
            offset += len(block)
            last = block[-1:]
    ends = np.concatenate(line_ends) if line_ends else np.zeros(0, dtype=np.int64)
    if last != b"\n" and offset > len(header):
        ends = np.append(ends, offset)  # a last line without its newline
    start, chunks = len(header), []
    for first in range(0, len(ends), chunk_rows):
        stop = int(ends[min(first + chunk_rows, len(ends)) - 1])
        rows = min(chunk_rows, len(ends) - first)
        chunks.append((start, stop, first, rows))
        start = stop
    return names, chunks


def _files(source, file_format):
    if isinstance(source, (list, tuple)):
        paths = [Path(p) for p in source]
    else:
        source = Path(source)
        if not source.is_dir():
            raise ValueError(f"shard_dataset: {source} is not a folder.")
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in (".parquet", ".csv")
                       and p.is_file())
    if not paths:
        raise ValueError(f"shard_dataset: no .parquet or .csv files in {source}.")
    kinds = {file_format or p.suffix.lower().lstrip(".") for p in paths}
    if len(kinds) > 1 or not kinds <= {"parquet", "csv"}:
        raise ValueError(f"shard_dataset: the files must all be Parquet or all CSV; found "
                         f"{sorted(kinds)}.")
    return [str(p) for p in paths], kinds.pop()


def shard_dataset(directory, label, features=None, batch_size=32, shuffle=True, seed=None,
                  shuffle_buffer=None, file_format=None, chunk_rows=65_536, rank=None,
                  num_ranks=None, label_dtype=None):
    """A `ShardDataset` reading the Parquet or CSV files in `directory` (see the module docstring).

    Args:
        directory: a folder (its `.parquet` or `.csv` files, by name), or a list of files.
        label: the target column's name, a list of names (a 2-D `y`), or None
            (inputs only, for `predict`).
        features: the input columns, in order (default: all the others).
        batch_size: rows per batch.
        shuffle: a new chunk order and new row mixing every epoch.
        seed: for the shuffling (default: numnet's global generator, which
            `numnet.utils.set_random_seed` seeds).
        shuffle_buffer: rows mixed together at least (default: 16 batches,
            and at least 10,000 rows).
        file_format: "parquet" or "csv" (default: from the file names).
        chunk_rows: lines per chunk of a CSV file.
        rank, num_ranks: this process' part (default: numnet.distribute's
            rank and size when it is initialized, else all of it).
        label_dtype: the targets' dtype (default: int64 for integer columns,
            else float32).

    Every file must hold the named columns; a file that cannot be read, lacks
    a column or holds a non-numeric value raises an error naming it (and the
    rows, when reading them).
    """
    paths, kind = _files(directory, file_format)
    labels = [] if label is None else [label] if isinstance(label, str) else list(label)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; received {batch_size!r}.")
    columns, chunks = None, []
    for path in paths:
        if kind == "parquet":
            names, file_chunks = _parquet_chunks(path)
        else:
            names, spans = _csv_chunks(path, chunk_rows)
        if features is None:
            features = [name for name in names if name not in labels]
        missing = [name for name in list(features) + labels if name not in names]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing} (it has {names}).")
        if kind == "csv":
            usecols = [names.index(name) for name in list(features) + labels]
            file_chunks = [_CsvChunk(path, a, b, first, rows, usecols)
                           for a, b, first, rows in spans]
        columns = columns or names
        chunks.extend(file_chunks)
    if not chunks:
        raise ValueError(f"shard_dataset: the files in {directory} hold no rows.")
    if rank is None or num_ranks is None:
        from numnet import distribute
        rank, num_ranks = (distribute.rank(), distribute.size()) if \
            distribute.is_initialized() else (0, 1)
    if not 0 <= rank < num_ranks:
        raise ValueError(f"`rank` must be in [0, {num_ranks}); received {rank}.")
    if shuffle_buffer is None:
        shuffle_buffer = max(16 * batch_size, 10_000)
    return ShardDataset(chunks, columns, list(features), labels, batch_size, shuffle, seed,
                        shuffle_buffer, rank, num_ranks,
                        None if label_dtype is None else np.dtype(label_dtype))


__all__ = ["ShardDataset", "shard_dataset"]
