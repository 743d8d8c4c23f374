"""`enclosing_rows`: the row-ordered rows a 2-D column slice is part of."""

import numpy as np
import pytest

from numnet.backend import enclosing_rows


def _same_view(a, b):
    return a.__array_interface__ == b.__array_interface__


def test_column_slices_of_row_ordered_rows_are_found_with_their_columns():
    owner = np.arange(7 * 8, dtype=np.float32).reshape(7, 8).copy()  # owns its data
    reshaped = np.arange(7 * 8, dtype=np.float32).reshape(7, 8)      # a view of a 1-D array
    stacked = np.arange(2 * 7 * 8, dtype=np.float32).reshape(2, 7, 8)
    cases = [(owner, owner[:, :5], slice(0, 5)), (owner, owner[:, 2:], slice(2, 8)),
             (owner, owner[:, 1:7], slice(1, 7)), (reshaped, reshaped[:, 3:7], slice(3, 7)),
             (owner[2:5], owner[2:5, 4:], slice(4, 8)), (stacked[1], stacked[1][:, :6], slice(0, 6))]
    for table, view, columns in cases:
        rows, found = enclosing_rows(view)
        assert found == columns
        assert rows.flags.c_contiguous and np.shares_memory(rows, table)
        assert _same_view(rows, table)  # the same memory, shape and strides
        assert _same_view(rows[:, found], view)


def test_anything_else_is_its_own_buffer():
    table = np.arange(7 * 8, dtype=np.float32).reshape(7, 8).copy()
    others = [
        table,                 # row ordered already
        table[:, :3],          # the rows are more than twice as wide
        table[::2, :5],        # every other row
        table[:, 1:7:2],       # not adjacent columns
        table.T[:5],           # column ordered
        np.arange(8.0)[::2],   # one dimension
        np.asfortranarray(table)[:, :5],                 # the memory is column ordered
        np.arange(56, dtype=np.int32).reshape(7, 8).view(np.float32)[:, :5],  # base of int32
    ]
    for view in others:
        rows, columns = enclosing_rows(view)
        assert rows is view and columns == slice(None)


# ------------------------------------------------------------------ zeros_operands
from numnet.backend import array_module  # noqa: E402
from numnet.backend import zeros_operands  # noqa: E402


@pytest.mark.parametrize("shape", [(32, 51), (3, 4, 5), (7,), (0, 5),
                                   (2 * array_module.ZEROS_CHUNK + 3,), (5000, 51)])
def test_zeros_operands_cover_the_array_in_blocks_of_rows(shape):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    out = np.empty_like(x)
    triples = zeros_operands(x, out)
    covered = 0
    for x_part, zeros, out_part in triples:
        assert zeros.shape == x_part.shape == out_part.shape and zeros.dtype == x.dtype
        assert not zeros.any() and not zeros.flags.writeable
        assert zeros.size <= array_module.ZEROS_CHUNK
        assert x_part.size == 0 or (np.shares_memory(x_part, x) and
                                    np.shares_memory(out_part, out))
        covered += len(x_part)
    assert covered == len(x)
    if x.size > array_module.ZEROS_CHUNK:
        assert len(triples) > 1


def test_zeros_operands_of_a_0d_array_and_of_rows_wider_than_the_chunk():
    x = np.asarray(-2.5, dtype=np.float64)
    [(part, zero, out)] = zeros_operands(x, x)
    assert part is x and out is x and zero == 0 and zero.dtype == np.float64
    wide = np.zeros((2, array_module.ZEROS_CHUNK + 1), dtype=np.float32)
    assert zeros_operands(wide, wide) is None


def test_zeros_operands_of_strided_views_keep_their_strides():
    table = np.arange(32 * 51, dtype=np.float32).reshape(32, 51) - 800
    view = table[:, :50]
    triples = zeros_operands(view, view)
    for part, zeros, out in triples:
        np.maximum(part, zeros, out=out)
    assert (table[:, :50] >= 0).all() and (table[:, 50] == np.arange(32 * 51)[50::51] - 800).all()


def test_shared_zeros_are_one_read_only_vector_per_dtype():
    from numnet.backend import shared_zeros

    a, b = shared_zeros((4, 5), np.float32), shared_zeros((7,), "float32")
    assert a.shape == (4, 5) and b.shape == (7,) and a.dtype == b.dtype == np.float32
    assert np.shares_memory(a, b) and not a.any() and not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    c = shared_zeros((3,), np.float64)
    assert c.dtype == np.float64 and not np.shares_memory(a, c)
    assert shared_zeros((), np.float32).shape == ()
