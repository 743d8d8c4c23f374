"""An array pass's batches: made a chunk of `_CHUNK` at a time, they must still cover the
data's rows in the pass's order, whole batches first and a partial one last."""

import numpy as np
import pytest

from numnet.backend import global_generator, set_seed
from numnet.models import data_adapter
from numnet.models.data_adapter import ArrayAdapter

ROWS = 2 * data_adapter._CHUNK * 3 + 5  # more than two chunks of batches of 3, and a rest


def _rows_of_one_epoch(adapter):
    with adapter.epoch() as batches:
        steps, rows = [], []
        for step, batch in batches:
            steps.append(step)
            rows.append(np.arange(ROWS)[batch.index])
    return steps, rows


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_pass_covers_the_rows_in_its_order_across_chunks(shuffle):
    x = np.arange(ROWS, dtype="float32")[:, None]
    adapter = ArrayAdapter((x,), batch_size=3, shuffle=shuffle)
    set_seed(7)
    steps, rows = _rows_of_one_epoch(adapter)
    set_seed(7)
    expected = global_generator().permutation(ROWS) if shuffle else np.arange(ROWS)
    assert steps == list(range(adapter.num_batches)) and len(steps) > 2 * data_adapter._CHUNK
    assert [len(r) for r in rows] == [3] * (ROWS // 3) + [ROWS % 3]
    np.testing.assert_array_equal(np.concatenate(rows), expected)


def test_sharded_passes_split_every_global_batch_across_chunks():
    class Shard:
        def __init__(self, rank):
            self.rank, self.size = rank, 2

    x = np.arange(ROWS, dtype="float32")[:, None]
    parts = []
    for rank in (0, 1):
        set_seed(3)
        parts.append(_rows_of_one_epoch(ArrayAdapter((x,), batch_size=3, shuffle=True,
                                                    shard=Shard(rank)))[1])
    set_seed(3)
    order = global_generator().permutation(ROWS)[:ROWS - ROWS % 2]
    assert len(parts[0]) == len(parts[1]) > data_adapter._CHUNK
    together = np.concatenate([np.concatenate(pair) for pair in zip(*parts)])
    np.testing.assert_array_equal(together, order)
