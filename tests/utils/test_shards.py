"""`numnet.utils.shard_dataset`: folders of Parquet or CSV files, read batch by batch.

The table has an `id` column (0..n-1), so every test can say exactly which
rows a batch holds: in order without shuffling, each row once per epoch with
it, and disjoint parts of the same rows across ranks.
"""

import numpy as np
import pytest

import numnet as keras

ROWS, FILES = 1000, 3


def _table(rows=ROWS):
    rng = np.random.default_rng(0)
    return {"id": np.arange(rows, dtype=np.float64),
            "a": rng.normal(size=rows), "b": rng.normal(size=rows),
            "label": (np.arange(rows) % 3).astype(np.int64),
            "target": rng.normal(size=rows)}


def _bounds(rows=ROWS, files=FILES):
    cuts = np.linspace(0, rows, files + 1).astype(int)
    return list(zip(cuts[:-1], cuts[1:]))


def _write_parquet(folder, table=None, row_group=128):
    pa = pytest.importorskip("pyarrow", reason="pyarrow (numnet[parquet]) is not installed")
    import pyarrow.parquet as pq

    table = table or _table()
    folder.mkdir(exist_ok=True)
    for i, (lo, hi) in enumerate(_bounds(len(table["id"]))):
        part = pa.table({k: v[lo:hi] for k, v in table.items()})
        pq.write_table(part, folder / f"part-{i}.parquet", row_group_size=row_group)
    return folder


def _write_csv(folder, table=None, newline="\n", final_newline=True):
    table = table or _table()
    folder.mkdir(exist_ok=True)
    names = list(table)
    for i, (lo, hi) in enumerate(_bounds(len(table["id"]))):
        lines = [",".join(names)] + [",".join(repr(float(table[k][r])) if k != "label" else
                                              str(int(table[k][r])) for k in names)
                                     for r in range(lo, hi)]
        text = newline.join(lines) + (newline if final_newline else "")
        (folder / f"part-{i}.csv").write_text(text, newline="")
    return folder


@pytest.fixture(params=["parquet", "csv"])
def folder(request, tmp_path):
    if request.param == "parquet":
        return _write_parquet(tmp_path / "parquet")
    return _write_csv(tmp_path / "csv")


def _ids(dataset):
    batches = list(dataset)
    return [batch[0][:, 0].astype(int) for batch in batches], batches


def test_without_shuffling_the_rows_come_in_order_with_a_last_partial_batch(folder):
    data = keras.utils.shard_dataset(folder, label="label", features=["id", "a", "b"],
                                     batch_size=64, shuffle=False, chunk_rows=100)
    assert len(data) == 16  # 1000 rows: 15 batches of 64 and one of 40
    ids, batches = _ids(data)
    assert [len(i) for i in ids] == [64] * 15 + [40]
    np.testing.assert_array_equal(np.concatenate(ids), np.arange(ROWS))
    x, y = batches[0]
    assert x.dtype == np.float32 and x.shape == (64, 3)
    # Parquet keeps the column's integer type; CSV has none: float32 unless label_dtype says
    assert y.dtype == (np.int64 if folder.name == "parquet" else np.float32)
    assert y.shape == (64,)
    np.testing.assert_array_equal(y, np.arange(64) % 3)
    data = keras.utils.shard_dataset(folder, label="label", batch_size=64, shuffle=False,
                                     label_dtype="int64")
    assert next(iter(data))[1].dtype == np.int64


def test_shuffling_visits_every_row_once_per_epoch_across_files(folder):
    data = keras.utils.shard_dataset(folder, label=["label", "target"],
                                     features=["id", "a", "b"], batch_size=50, seed=3,
                                     shuffle_buffer=400, chunk_rows=100)
    first, batches = _ids(data)
    second, _ = _ids(data)
    for epoch in (first, second):
        np.testing.assert_array_equal(np.sort(np.concatenate(epoch)), np.arange(ROWS))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    files = [np.searchsorted([hi for _, hi in _bounds()], ids, side="right") for ids in first]
    assert max(len(set(f.tolist())) for f in files) > 1  # batches mix rows of several files
    assert batches[0][1].shape == (50, 2) and batches[0][1].dtype == np.float32


def test_ranks_read_disjoint_chunks_and_take_the_same_number_of_steps(folder):
    parts = [keras.utils.shard_dataset(folder, label="label", features=["id", "a", "b"],
                                       batch_size=32, seed=1, chunk_rows=100, rank=r,
                                       num_ranks=3) for r in range(3)]
    assert len({len(p) for p in parts}) == 1
    seen = [np.concatenate(_ids(p)[0]) for p in parts]
    assert all(len(_ids(p)[0]) == len(p) for p in parts)
    together = np.concatenate(seen)
    assert len(np.unique(together)) == len(together)  # disjoint
    assert len(together) > ROWS - 3 * 32   # what is not used: less than a batch per rank
    with pytest.raises(ValueError, match=r"cannot feed 40 ranks"):
        keras.utils.shard_dataset(folder, label="label", rank=0, num_ranks=40, chunk_rows=100)


def test_fit_on_shards_equals_fit_on_the_same_rows_in_memory(folder):
    table = _table()
    x = np.stack([table["a"], table["b"]], axis=1).astype("float32")
    y = table["target"].astype("float32")

    def model():
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input(shape=[2]), keras.layers.Dense(4, activation="tanh"),
                                keras.layers.Dense(1)])
        net.compile(optimizer="sgd", loss="mse")
        return net
    data = keras.utils.shard_dataset(folder, label="target", features=["a", "b"], batch_size=64,
                                     shuffle=False, chunk_rows=100)
    a, b = model(), model()
    ha = a.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0)
    hb = b.fit(data, epochs=2, verbose=0)
    assert ha.history == hb.history
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
    inputs = keras.utils.shard_dataset(folder, label=None, features=["a", "b"], batch_size=100,
                                       shuffle=False, chunk_rows=100)
    np.testing.assert_array_equal(b.predict(inputs, verbose=0),
                                  b.predict(x, batch_size=100, verbose=0))


def test_csv_line_endings_and_a_missing_final_newline(tmp_path):
    for name, kwargs in (("crlf", {"newline": "\r\n"}), ("last", {"final_newline": False})):
        data = keras.utils.shard_dataset(_write_csv(tmp_path / name, **kwargs), label="label",
                                         features=["id"], batch_size=100, shuffle=False,
                                         chunk_rows=70)
        np.testing.assert_array_equal(np.concatenate(_ids(data)[0]), np.arange(ROWS))


def test_bad_shards_are_named(tmp_path):
    folder = _write_csv(tmp_path / "csv")
    lines = (folder / "part-1.csv").read_text().splitlines()
    lines[57] = lines[57].replace(",", ",oops", 1)
    (folder / "part-1.csv").write_text("\n".join(lines) + "\n")
    data = keras.utils.shard_dataset(folder, label="label", batch_size=50, shuffle=False,
                                     chunk_rows=20)
    net = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dense(3)])
    net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"part-1\.csv \(rows 41-60 after the header\): could "
                                         r"not convert string 'oops"):
        net.fit(data, epochs=1, verbose=0)

    with pytest.raises(ValueError, match=r"part-0\.csv: no column\(s\) \['price'\]"):
        keras.utils.shard_dataset(_write_csv(tmp_path / "other"), label="price")
    with pytest.raises(ValueError, match=r"no \.parquet or \.csv files"):
        keras.utils.shard_dataset(tmp_path / "other" / "..", label="label")


def test_bad_parquet_files_are_named(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow (numnet[parquet]) is not installed")
    import pyarrow.parquet as pq

    folder = _write_parquet(tmp_path / "p")
    (folder / "part-9.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ValueError, match=r"part-9\.parquet: not a readable Parquet file"):
        keras.utils.shard_dataset(folder, label="label")
    (folder / "part-9.parquet").unlink()
    table = _table(10)
    pq.write_table(pa.table({**{k: v for k, v in table.items() if k != "a"},
                             "a": pa.array([1.0, None] * 5)}), folder / "part-9.parquet")
    data = keras.utils.shard_dataset(folder, label="label", batch_size=500, shuffle=False)
    with pytest.raises(ValueError, match=r"part-9\.parquet: column 'a' has 5 missing value"):
        list(data)
