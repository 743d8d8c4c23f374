"""How fit splits data by rank (no MPI needed: the rank is given).

Rank r takes its equal part of every global batch of `batch_size * size`
rows; the `n % size` rows left over in a pass are not used in that pass
(PyTorch's DistributedSampler with drop_last); a PyDataset's batches are dealt
round-robin, `len // size` to each rank.
"""

import math
from collections import namedtuple

import numpy as np
import pytest

import numnet as keras
from numnet.models import data_adapter

Shard = namedtuple("Shard", "rank size")


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=[2]), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _rows(adapter):
    with adapter.epoch() as batches:
        return [batch.arrays()[0][:, 0].astype(int) for _, batch in batches]


@pytest.mark.parametrize("n, batch, size, shuffle", [(103, 8, 2, False), (103, 8, 4, True),
                                                     (64, 16, 4, False), (10, 4, 3, True)])
def test_each_global_batch_is_split_evenly_over_the_ranks(n, batch, size, shuffle):
    x = np.stack([np.arange(n), np.zeros(n)], axis=1).astype("float32")
    y = np.zeros(n, "float32")
    per_rank = []
    for rank in range(size):
        model = _model()
        keras.utils.set_random_seed(11)  # every rank draws the same permutation
        adapter = data_adapter.array_adapter(model, x, y, None, call="fit", batch_size=batch,
                                             shuffle=shuffle, shard=Shard(rank, size))
        assert adapter.steps == math.ceil((n - n % size) / (batch * size))
        per_rank.append(_rows(adapter))
    model = _model()
    keras.utils.set_random_seed(11)
    whole = data_adapter.array_adapter(model, x, y, None, call="fit",
                                       batch_size=batch * size, shuffle=shuffle)
    reference = _rows(whole)
    used = n - n % size
    for step, global_rows in enumerate(zip(*per_rank)):
        sizes = {len(part) for part in global_rows}
        assert len(sizes) == 1  # the same rows on every rank: the means weigh alike
        joined = np.concatenate(global_rows)
        expected = reference[step][:len(joined)]
        np.testing.assert_array_equal(joined, expected)
    assert sum(len(p) for rank in per_rank for p in rank) == used


def test_a_pydataset_is_dealt_round_robin():
    class Numbered(keras.utils.PyDataset):
        def __len__(self):
            return 7

        def __getitem__(self, index):
            return np.full((2, 2), index, "float32"), np.zeros(2, "float32")
    seen = []
    for rank in range(3):
        model = _model()
        keras.utils.set_random_seed(5)
        adapter = data_adapter.get_data_adapter(Numbered(), model=model, call="fit",
                                                shuffle=True, shard=Shard(rank, 3))
        assert adapter.steps == 2
        seen.append([int(r[0]) for r in _rows(adapter)])
    flat = [i for rank in seen for i in rank]
    assert len(set(flat)) == 6 and set(flat) <= set(range(7))
    keras.utils.set_random_seed(5)
    order = keras.backend.global_generator().permutation(7)
    assert seen == [order[r::3][:2].tolist() for r in range(3)]
