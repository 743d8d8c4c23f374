"""Kernels called with preallocated scratch buffers (as a replay calls them) give the
same bits as the allocating calls (as the tape calls them)."""

import numpy as np
import pytest

from numnet.kernels import ACTIVATIONS, LOSSES

SPARSE = LOSSES["sparse_categorical_crossentropy"]
RNG = np.random.default_rng(3)


def _case(shape, label_dtype, column):
    logits = (RNG.normal(size=shape) * 4).astype("float32")
    labels = RNG.integers(0, shape[-1], size=shape[:-1]).astype(label_dtype)
    if column:
        labels = labels[..., None]
    return labels, logits


CASES = [((16, 5), "uint8", False), ((16, 5), "int64", True), ((4, 3, 7), "float32", False),
         ((1, 2), "int32", True)]


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape,label_dtype,column", CASES)
def test_sparse_cross_entropy_with_scratch_is_the_same(shape, label_dtype, column, from_logits):
    labels, logits = _case(shape, label_dtype, column)
    output = logits if from_logits else ACTIVATIONS["softmax"].forward(logits.copy())
    expected = SPARSE.value(labels, output, from_logits=from_logits)
    scratch = SPARSE.scratch(output)
    out = np.full(shape[:-1], np.nan, dtype="float32")
    for _ in range(2):  # the buffers are reused: a second call must not see the first's
        got = SPARSE.value(labels, output, from_logits=from_logits, out=out, scratch=scratch)
        assert got is out
        np.testing.assert_array_equal(out, expected)
    strided = np.full(shape[:-1] + (2,), np.nan, dtype="float32")[..., 0]  # not contiguous
    SPARSE.value(labels, output, from_logits=from_logits, out=strided, scratch=scratch)
    np.testing.assert_array_equal(strided, expected)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape,label_dtype,column", CASES)
def test_sparse_cross_entropy_gradient_with_scratch_is_the_same(shape, label_dtype, column,
                                                                from_logits):
    labels, logits = _case(shape, label_dtype, column)
    output = logits if from_logits else ACTIVATIONS["softmax"].forward(logits.copy())
    g = RNG.uniform(0.5, 1.5, size=shape[:-1]).astype("float32")
    extra = {"probabilities": ACTIVATIONS["softmax"].forward(logits.copy())} if from_logits \
        else {}
    expected = SPARSE.gradient(labels, output, g, from_logits=from_logits, **extra)
    scratch = SPARSE.scratch(output)
    out = np.full(shape, np.nan, dtype="float32")
    for _ in range(2):
        SPARSE.gradient(labels, output, g, from_logits=from_logits, out=out, scratch=scratch,
                        **extra)
        np.testing.assert_array_equal(out, expected)


def test_sparse_cross_entropy_labels_out_of_range_still_raise_with_scratch():
    labels, logits = _case((4, 3), "int64", False)
    labels[2] = 3
    with pytest.raises(IndexError):
        SPARSE.value(labels, logits, from_logits=True, out=np.empty(4, "float32"),
                     scratch=SPARSE.scratch(logits))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_with_scratch_is_the_same(axis):
    x = (RNG.normal(size=(6, 5)) * 10).astype("float32")
    expected = ACTIVATIONS["softmax"].forward(x.copy(), axis=axis)
    reduced = list(x.shape)
    reduced[axis] = 1
    scratch = (np.empty(reduced, "float32"), np.empty(reduced, "float32"))
    out = np.empty_like(x)
    ACTIVATIONS["softmax"].forward(x, out, axis, scratch)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape,label_dtype,column", CASES)
def test_sparse_cross_entropy_from_its_softmax_statistics_is_the_same(shape, label_dtype,
                                                                       column):
    """The engine hands the loss the maxima and sums its softmax kept (see
    `engine.rewrite.share_softmax_statistics`): the same bits as from the logits alone."""
    from numnet.autodiff.ops.nn import softmax_scratch
    labels, logits = _case(shape, label_dtype, column)
    expected = SPARSE.value(labels, logits, from_logits=True)
    stats = softmax_scratch(logits.shape, logits.dtype)
    probabilities = np.empty_like(logits)
    ACTIVATIONS["softmax"].forward(logits, probabilities, -1, stats)
    out = np.full(shape[:-1], np.nan, dtype="float32")
    SPARSE.value(labels, logits, from_logits=True, out=out, scratch=SPARSE.scratch(logits),
                 softmax_stats=stats)
    np.testing.assert_array_equal(out, expected)
