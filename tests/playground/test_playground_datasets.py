"""The playground's data generators, features and CSV reader."""

import numpy as np
import pytest

from numnet.playground import datasets


@pytest.mark.parametrize("name", datasets.CLASSIFICATION + datasets.REGRESSION)
def test_generators_shapes_range_and_seed(name):
    points, labels = datasets.generate(name, 300, 0.2, seed=5)
    assert points.shape == (300, 2) and labels.shape == (300,)
    assert points.dtype == np.float32 and labels.dtype == np.float32
    if name != "gauss":  # Gaussian tails may leave the drawn plane
        assert np.abs(points).max() <= datasets.DOMAIN
    again = datasets.generate(name, 300, 0.2, seed=5)
    other = datasets.generate(name, 300, 0.2, seed=6)
    np.testing.assert_array_equal(points, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(points, other[0])
    if name in datasets.CLASSIFICATION:
        assert set(np.unique(labels)) == {0.0, 1.0}
    else:
        assert labels.min() >= -1 and labels.max() <= 1 and labels.std() > 0.1


def test_noise_free_labels_follow_each_rule():
    points, labels = datasets.generate("circle", 400, 0.0, seed=0)
    radius = np.hypot(points[:, 0], points[:, 1])
    np.testing.assert_array_equal(labels, (radius < 2.5).astype(np.float32))
    assert radius[labels == 0].min() >= 3.5
    points, labels = datasets.generate("xor", 400, 0.0, seed=0)
    np.testing.assert_array_equal(labels, (points[:, 0] * points[:, 1] >= 0).astype(np.float32))
    assert np.abs(points).min() >= 0.3  # padded off the axes
    points, labels = datasets.generate("gauss", 400, 0.0, seed=0)
    np.testing.assert_allclose(points[labels == 1].mean(axis=0), [2, 2], atol=0.2)
    np.testing.assert_allclose(points[labels == 0].mean(axis=0), [-2, -2], atol=0.2)
    points, labels = datasets.generate("plane", 400, 0.0, seed=0)
    np.testing.assert_allclose(labels, np.clip(points.sum(axis=1) / 10, -1, 1), atol=1e-6)
    points, labels = datasets.generate("multigauss", 400, 0.0, seed=0)
    np.testing.assert_allclose(labels, datasets.multigauss_value(points), atol=1e-6)


def test_spiral_arms_and_noise():
    points, labels = datasets.generate("spiral", 200, 0.0, seed=0)
    # Without noise the two arms are point reflections of each other.
    np.testing.assert_allclose(points[labels == 1], -points[labels == 0], atol=1e-5)
    noisy, _ = datasets.generate("spiral", 200, 0.5, seed=0)
    shift = np.abs(noisy - points)
    assert 0 < shift.max() <= 0.5 + 1e-6


def test_noise_flips_some_labels_and_widens_gauss():
    _, clean = datasets.generate("xor", 1000, 0.0, seed=1)
    points, noisy = datasets.generate("xor", 1000, 0.5, seed=1)
    rule = (points[:, 0] * points[:, 1] >= 0).astype(np.float32)
    assert (clean == datasets.generate("xor", 1000, 0.0, seed=1)[1]).all()
    assert 0.05 < np.mean(noisy != rule) < 0.5
    narrow, _ = datasets.generate("gauss", 1000, 0.0, seed=1)
    wide, _ = datasets.generate("gauss", 1000, 0.5, seed=1)
    assert wide.std() > narrow.std() * 1.3


def test_split_ratio_shuffles_and_keeps_both_parts():
    data = datasets.make_data("circle", 500, 0.0, train_percent=30, seed=3)
    assert len(data.x_train) == 150 and len(data.x_test) == 350
    assert data.domain == datasets.DOMAIN
    both = np.concatenate([data.x_train, data.x_test])
    points, _ = datasets.generate("circle", 500, 0.0, seed=3)
    assert sorted(map(tuple, both)) == sorted(map(tuple, points))
    tiny = datasets.split(points[:3], np.zeros(3), 90)
    assert len(tiny.x_train) == 2 and len(tiny.x_test) == 1
    wide = datasets.split(points * 3, np.zeros(500), 50)  # uploaded data beyond [-6, 6]
    assert wide.domain >= np.abs(points * 3).max()


@pytest.mark.parametrize("bad", [("moons", 10, 0.0), ("circle", 1, 0.0), ("circle", 10, 0.6)])
def test_generate_refuses_bad_arguments(bad):
    with pytest.raises(ValueError):
        datasets.generate(*bad)


def test_feature_matrix_columns_in_fixed_order():
    points = np.array([[1.0, 2.0], [-0.5, 3.0]], np.float32)
    got = datasets.feature_matrix(points, ["sinx2", "x1", "x1x2", "x2sq"])
    x1, x2 = points[:, 0], points[:, 1]
    np.testing.assert_allclose(got, np.stack([x1, x2 * x2, x1 * x2, np.sin(x2)], 1), rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown features"):
        datasets.feature_matrix(points, ["x3"])
    with pytest.raises(ValueError, match="at least one"):
        datasets.feature_matrix(points, [])


def test_parse_csv_reads_rows_with_or_without_header():
    text = "x1,x2,label\n1,2,1\n-1,-2,-1\n0.5, 0.5, 0\n# comment\n3;4;1\n"
    points, labels = datasets.parse_csv(text, "classification")
    np.testing.assert_array_equal(points, [[1, 2], [-1, -2], [0.5, 0.5], [3, 4]])
    np.testing.assert_array_equal(labels, [1, 0, 0, 1])
    points, labels = datasets.parse_csv("1,2,0.3\n2,3,-7\n3,4,1\n4,5,2\n", "regression")
    np.testing.assert_array_equal(labels, np.float32([0.3, -7, 1, 2]))


@pytest.mark.parametrize("text, problem, message", [
    ("1,2,1\n1,2\n3,4,0\n5,6,1\n", "classification", "line 2: expected three numbers"),
    ("1,2,1\n3,x,0\n", "classification", "line 2: expected three numbers"),
    ("1,2,1\n3,4,0\n", "classification", "at least 4 rows"),
    ("1,2,1\n3,4,2\n5,6,1\n7,8,0\n", "classification", "labels must be 0/1 or -1/1"),
    ("1,2,1\n3,4,1\n5,6,1\n7,8,1\n", "classification", "both classes"),
    ("1,nan,1\n3,4,0\n5,6,1\n7,8,0\n", "classification", "finite"),
    ("1e9,2,1\n3,4,0\n5,6,1\n7,8,0\n", "classification", "finite"),
    ("", "regression", "at least 4 rows"),
])
def test_parse_csv_refuses_bad_files(text, problem, message):
    with pytest.raises(ValueError, match=message):
        datasets.parse_csv(text, problem)


def test_parse_csv_row_limit():
    text = "".join(f"{i},{i},{i % 2}\n" for i in range(11))
    with pytest.raises(ValueError, match="too many rows"):
        datasets.parse_csv(text, "classification", max_rows=10)
