"""`Resizing` and `CenterCrop` beyond their numbers against Keras (test_reference_layers.py):
integer images, dict inputs, shapes, saving."""

import numpy as np
import pytest

import numnet as keras

RNG = np.random.default_rng(8)


def test_resizing_keeps_integer_images_integer_and_within_their_dtype():
    images = RNG.integers(0, 256, size=(2, 5, 7, 3)).astype("uint8")
    out = np.asarray(keras.layers.Resizing(4, 9, interpolation="bicubic")(images))
    floats = np.asarray(keras.ops.image.resize(images.astype("float32"), (4, 9),
                                               interpolation="bicubic"))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.clip(np.round(floats), 0, 255))  # saturated


def test_center_crop_returns_the_layer_dtype_and_the_central_window():
    images = RNG.uniform(size=(5, 7, 3)).astype("float64")
    out = keras.layers.CenterCrop(3, 4)(images)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(out), images[1:4, 1:5].astype("float32"))


def test_dict_inputs_transform_images_and_masks_and_keep_labels():
    images = RNG.uniform(size=(2, 4, 6, 3)).astype("float32")
    masks = RNG.integers(0, 3, size=(2, 4, 6, 1)).astype("float32")
    labels = np.array([1, 0])
    out = keras.layers.Resizing(8, 12)({"images": images, "segmentation_masks": masks,
                                        "labels": labels})
    assert sorted(out) == ["images", "labels", "segmentation_masks"]
    assert out["images"].shape == (2, 8, 12, 3)
    np.testing.assert_array_equal(np.asarray(out["labels"]), labels)
    np.testing.assert_array_equal(np.unique(np.asarray(out["segmentation_masks"])),
                                  np.unique(masks))  # nearest: no blended classes
    with pytest.raises(NotImplementedError, match="bounding boxes"):
        keras.layers.CenterCrop(2, 2)({"images": images, "bounding_boxes": {}})


def test_image_layers_in_a_saved_model_and_channels_first_shapes(tmp_path):
    model = keras.Sequential([keras.Input((3, 5, 7)),
                              keras.layers.Resizing(4, 6, data_format="channels_first"),
                              keras.layers.CenterCrop(2, 3, data_format="channels_first"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    assert model.output_shape == (None, 2)
    assert model.layers[0].output.shape == (None, 3, 4, 6)
    x = RNG.uniform(size=(2, 3, 5, 7)).astype("float32")
    model.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(keras.saving.load_model(tmp_path / "m.keras")(x)),
                                  np.asarray(model(x)))
