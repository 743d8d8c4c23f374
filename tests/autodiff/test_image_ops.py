"""`numnet.ops.image` beyond the values compared with Keras (tests/test_reference_ops.py):
identities the resampling must keep, and the errors that name the argument at fault."""

import numpy as np
import pytest

from numnet import ops

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"])
@pytest.mark.parametrize("antialias", [False, True])
def test_resizing_keeps_an_image_of_its_own_size_and_a_constant_one(method, antialias):
    images = RNG.uniform(size=(2, 5, 6, 3)).astype("float32")
    same = ops.image.resize(images, (5, 6), interpolation=method, antialias=antialias)
    np.testing.assert_allclose(np.asarray(same), images, rtol=0, atol=1e-6)
    flat = np.full((1, 4, 7, 2), 0.375, "float32")
    for size in [(2, 3), (9, 11), (4, 1)]:
        out = ops.image.resize(flat, size, interpolation=method, antialias=antialias)
        np.testing.assert_allclose(np.asarray(out), 0.375, rtol=0, atol=1e-6)


def test_nearest_takes_the_row_under_each_output_centre():
    rows = np.arange(4, dtype="float32").reshape(1, 4, 1, 1)
    out = np.asarray(ops.image.resize(rows, (2, 1), interpolation="nearest"))
    np.testing.assert_array_equal(out.ravel(), [1.0, 3.0])  # centres at rows 1.0 and 3.0


def test_colour_conversions_invert_each_other():
    rgb = RNG.uniform(size=(3, 4, 3)).astype("float32")
    back = ops.image.hsv_to_rgb(ops.image.rgb_to_hsv(rgb))
    np.testing.assert_allclose(np.asarray(back), rgb, rtol=0, atol=2e-6)
    first = np.transpose(rgb, (2, 0, 1))
    gray = ops.image.rgb_to_grayscale(first, data_format="channels_first")
    np.testing.assert_allclose(np.asarray(gray)[0], np.asarray(
        ops.image.rgb_to_grayscale(rgb))[..., 0], rtol=1e-6)


def test_pads_and_crops_are_inverse_and_infer_the_third_number():
    images = RNG.uniform(size=(2, 4, 5, 3)).astype("float32")
    padded = ops.image.pad_images(images, 1, 2, target_height=7, target_width=8)
    assert padded.shape == (2, 7, 8, 3)
    cropped = ops.image.crop_images(padded, 1, 2, bottom_cropping=2, right_cropping=1)
    np.testing.assert_array_equal(np.asarray(cropped), images)


@pytest.mark.parametrize("call, message", [
    (lambda x: ops.image.pad_images(x, top_padding=1), "exactly two of top_padding"),
    (lambda x: ops.image.pad_images(x, -1, 0, 0, 0), "top_padding must be >= 0"),
    (lambda x: ops.image.crop_images(x, 3, 0, target_height=3, right_cropping=0),
     "bottom_cropping must be >= 0"),
    (lambda x: ops.image.resize(x, (2, 2), interpolation="area"), "`interpolation`"),
    (lambda x: ops.image.resize(x, (2, 2), fill_mode="reflect"), "`fill_mode`"),
    (lambda x: ops.image.resize(x, (2,)), "Argument `size`"),
    (lambda x: ops.image.resize(x, (2, 2), crop_to_aspect_ratio=True,
                                pad_to_aspect_ratio=True), "Only one of"),
    (lambda x: ops.image.rgb_to_hsv(x.astype("int32")), "expected float dtype"),
    (lambda x: ops.image.rgb_to_grayscale(x[..., :2]), "Invalid channel size"),
    (lambda x: ops.image.rgb_to_grayscale(x[0, 0]), "Invalid images rank"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.ones((4, 5, 3), "float32"))


def test_a_blur_window_of_other_height_than_width_is_the_separable_gaussian():
    """(Keras' NumPy and JAX backends: rows from `kernel_size[1]`, `sigma[1]`; its TensorFlow
    and torch backends reshape that window into `kernel_size` and scramble it.)"""
    image = RNG.uniform(size=(6, 7, 1)).astype("float32")
    blurred = np.asarray(ops.image.gaussian_blur(image, kernel_size=(3, 5), sigma=(0.7, 1.3)))

    def window(size, sigma):
        weights = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / sigma) ** 2)
        return weights / weights.sum()
    rows, columns = window(5, 1.3), window(3, 0.7)
    padded = np.pad(image[:, :, 0], ((2, 2), (1, 1)))
    expected = sum(rows[r] * columns[c] * padded[r:r + 6, c:c + 7]
                   for r in range(5) for c in range(3))
    np.testing.assert_allclose(blurred[:, :, 0], expected, rtol=3e-7)  # (float32 sums)


@pytest.mark.parametrize("fill_mode, numpy_mode", [
    ("mirror", "reflect"), ("reflect", "symmetric"), ("wrap", "wrap"), ("nearest", "edge")])
def test_map_coordinates_extends_the_input_as_keras_documents(fill_mode, numpy_mode):
    """At whole coordinates, far outside on both sides too: NumPy's `pad` of the same kind
    (Keras' TensorFlow backend gives other entries for "mirror" beyond the end and for
    "reflect" before the start; its JAX backend agrees with these)."""
    inputs = RNG.uniform(size=(5, 6)).astype("float32")
    padded = np.pad(inputs, 12, mode=numpy_mode)
    coordinates = RNG.integers(-11, 17, size=(2, 60))
    out = ops.image.map_coordinates(inputs, coordinates.astype("float32"), 0,
                                    fill_mode=fill_mode)
    np.testing.assert_array_equal(np.asarray(out), padded[coordinates[0] + 12,
                                                          coordinates[1] + 12])


def test_map_coordinates_checks_its_arguments():
    inputs = np.ones((3, 4), "float32")
    with pytest.raises(ValueError, match="First dim of `coordinates`"):
        ops.image.map_coordinates(inputs, np.zeros((3, 2), "float32"), 1)
    with pytest.raises(ValueError, match="Invalid coordinates rank"):
        ops.image.map_coordinates(inputs, np.zeros(2, "float32"), 1)
    with pytest.raises(ValueError, match="`fill_mode`"):
        ops.image.map_coordinates(inputs, np.zeros((2, 2), "float32"), 1, fill_mode="edge")
    with pytest.raises(NotImplementedError, match="`order` must be 0"):
        ops.image.map_coordinates(inputs, np.zeros((2, 2), "float32"), 3)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_affine_mirror_mode_mirrors_about_the_edge_pixels(interpolation):
    """(TensorFlow has no "mirror": checked at whole shifts against NumPy's pad.)"""
    images = RNG.uniform(size=(1, 4, 5, 2)).astype("float32")
    padded = np.pad(images, ((0, 0), (9, 9), (9, 9), (0, 0)), mode="reflect")
    for dx, dy in [(-7, 3), (6, -2), (0, 9)]:
        shift = np.array([1, 0, dx, 0, 1, dy, 0, 0], "float32")
        out = ops.image.affine_transform(images, shift, interpolation, fill_mode="mirror")
        np.testing.assert_array_equal(np.asarray(out),
                                      padded[:, 9 + dy:13 + dy, 9 + dx:14 + dx])


def test_affine_transform_checks_its_arguments():
    images = np.ones((4, 5, 3), "float32")
    identity = np.array([1, 0, 0, 0, 1, 0, 0, 0], "float32")
    np.testing.assert_array_equal(np.asarray(ops.image.affine_transform(images, identity)),
                                  images)
    with pytest.raises(ValueError, match="`interpolation`"):
        ops.image.affine_transform(images, identity, interpolation="bicubic")
    with pytest.raises(ValueError, match="`fill_mode`"):
        ops.image.affine_transform(images, identity, fill_mode="symmetric")
    with pytest.raises(ValueError, match="Invalid transform shape"):
        ops.image.affine_transform(images, identity[:6])


def test_perspective_transform_of_unmoved_corners_is_the_identity_and_checks_points():
    images = RNG.uniform(size=(2, 4, 5, 3)).astype("float32")
    corners = np.array([[0, 0], [4, 0], [0, 3], [4, 3]], "float32")
    same = ops.image.perspective_transform(images, corners, corners)
    np.testing.assert_allclose(np.asarray(same), images, rtol=0, atol=2e-6)
    with pytest.raises(ValueError, match="Invalid start_points shape"):
        ops.image.perspective_transform(images, corners[:3], corners)
    with pytest.raises(ValueError, match="must have the same shape"):
        ops.image.perspective_transform(images, corners, np.stack([corners] * 2))
