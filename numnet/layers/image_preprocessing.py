"""`Resizing` and `CenterCrop`: Keras' deterministic image preprocessing layers.

Each takes a batch of images or one image (channels last or first), or a dict with
`"images"` (and optionally `"labels"`, left as they are, and `"segmentation_masks"`,
transformed with nearest-neighbour sampling), as Keras' image preprocessing layers do.
Bounding boxes are not supported yet: a dict with them raises.
"""

from numnet.autodiff import ops
from numnet.autodiff.ops.image import resize
from numnet.backend import standardize_data_format, xp
from numnet.layers.base import Layer
from numnet.serialization import register_builtin


class _ImagePreprocessing(Layer):
    """What both layers share: the data format, dict inputs, and the output shape."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs):
        if not isinstance(inputs, dict):
            return self.transform_images(inputs)
        if "bounding_boxes" in inputs:
            raise NotImplementedError(f"{type(self).__name__} ('{self.name}'): bounding boxes "
                                      f"are not supported yet; pass images, labels and "
                                      f"segmentation masks.")
        if "images" not in inputs:
            raise ValueError(f"{type(self).__name__} ('{self.name}'): a dict input needs "
                             f"'images'; received keys {sorted(inputs)}.")
        outputs = dict(inputs)
        outputs["images"] = self.transform_images(inputs["images"])
        if "segmentation_masks" in inputs:
            outputs["segmentation_masks"] = self.transform_images(
                inputs["segmentation_masks"], interpolation="nearest")
        return outputs

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"{type(self).__name__} ('{self.name}'): expected images of rank 3 "
                             f"(one image) or 4 (a batch); received input shape {input_shape}.")
        rows = len(shape) - (3 if self.data_format == "channels_last" else 2)
        shape[rows], shape[rows + 1] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "height": self.height, "width": self.width}


@register_builtin("keras.layers")
class Resizing(_ImagePreprocessing):
    """Resizes images to `(height, width)` (`ops.image.resize`'s methods and options);
    integer images stay integers: rounded, then saturated to their dtype's range."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(height, width, data_format=data_format, **kwargs)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode, self.fill_value = fill_mode, fill_value
        self.antialias = antialias

    def transform_images(self, images, interpolation=None):
        images = ops.convert_to_tensor(images)
        dtype = images.data.dtype
        floats = images if dtype.kind == "f" else ops.cast(images, "float32")
        resized = resize(floats, (self.height, self.width),
                         interpolation=interpolation or self.interpolation,
                         antialias=self.antialias, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                         pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                         fill_value=self.fill_value, data_format=self.data_format)
        if dtype.kind == "f":
            return resized
        limits = xp.iinfo(dtype) if dtype.kind in "iu" else None
        rounded = ops.round(resized)
        if limits is not None:
            rounded = ops.clip(rounded, float(limits.min), float(limits.max))
        return ops.cast(rounded, dtype)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


@register_builtin("keras.layers")
class CenterCrop(_ImagePreprocessing):
    """The central `(height, width)` window of each image, in the layer's dtype; an image
    smaller than that is cropped to the target's aspect ratio and resized (bilinear), as
    Keras does."""

    def transform_images(self, images, interpolation="bilinear"):
        images = ops.cast(ops.convert_to_tensor(images), self.compute_dtype)
        rows = images.ndim - (3 if self.data_format == "channels_last" else 2)
        extra_rows = images.shape[rows] - self.height
        extra_columns = images.shape[rows + 1] - self.width
        if extra_rows < 0 or extra_columns < 0:
            return resize(images, (self.height, self.width), interpolation=interpolation,
                          crop_to_aspect_ratio=True, data_format=self.data_format)
        index = [slice(None)] * images.ndim
        index[rows] = slice(extra_rows // 2, extra_rows // 2 + self.height)
        index[rows + 1] = slice(extra_columns // 2, extra_columns // 2 + self.width)
        return ops.getitem(images, tuple(index))


__all__ = ["CenterCrop", "Resizing"]
