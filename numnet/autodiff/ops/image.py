"""Image ops of `keras.ops.image`: colour spaces, padding and cropping.

`rgb_to_grayscale`, `rgb_to_hsv`, `hsv_to_rgb`, `pad_images` and `crop_images`, on one
image (height, width, channels) or a batch, channels last or first
(`keras.config.image_data_format()` by default). Written with numnet ops, so the
gradients are the autodiff's (the colour conversions are piecewise: their gradients are
those of the piece each pixel is in).
"""

from numnet.autodiff.ops.arithmetic import add, divide, multiply, subtract
from numnet.autodiff.ops.core import as_tensor, cast, xp
from numnet.autodiff.ops.linalg import tensordot
from numnet.autodiff.ops.math import abs as absolute
from numnet.autodiff.ops.math import clip, maximum, minimum, mod, where
from numnet.autodiff.ops.shape import expand_dims, getitem, pad, stack
from numnet.backend import standardize_data_format

# ITU-R BT.601 luma, as TensorFlow's `rgb_to_grayscale` weighs the channels
_LUMA = (0.2989, 0.5870, 0.1140)


def _channel_axis(images, data_format, name):
    images = as_tensor(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"{name}: Invalid images rank: expected rank 3 (single image) or rank "
                         f"4 (batch of images). Received input with shape: "
                         f"images.shape={tuple(images.shape)}")
    return images, (-1 if standardize_data_format(data_format) == "channels_last" else -3)


def _planes(images, axis):
    """The three channels of `images` along `axis`, each without that axis."""
    index = [slice(None)] * images.ndim
    planes = []
    for channel in range(3):
        index[axis] = channel
        planes.append(getitem(images, tuple(index)))
    return planes


def _float_images(images, name):
    if images.data.dtype.kind != "f":
        raise ValueError(f"{name}: Invalid images dtype: expected float dtype. Received: "
                         f"images.dtype={images.data.dtype.name}")


def rgb_to_grayscale(images, data_format=None):
    """Luma of RGB images (one channel, where the three were); one-channel images as they are.
    Integer images are weighed in float and cast back, as Keras does."""
    images, axis = _channel_axis(images, data_format, "rgb_to_grayscale")
    channels = images.shape[axis]
    if channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: Invalid channel size: expected 3 (RGB) or 1 "
                         f"(Grayscale). Received input with shape: "
                         f"images.shape={tuple(images.shape)}")
    if channels == 1:
        return images
    dtype = images.data.dtype
    floats = images if dtype.kind == "f" else cast(images, "float32")
    weights = xp.asarray(_LUMA, dtype=floats.data.dtype)
    gray = expand_dims(tensordot(floats, weights, axes=([images.ndim + axis], [0])), axis)
    return gray if dtype.kind == "f" else cast(gray, dtype)


def rgb_to_hsv(images, data_format=None):
    """Hue, saturation and value (each in [0, 1]) of float RGB images in [0, 1]."""
    images, axis = _channel_axis(images, data_format, "rgb_to_hsv")
    _float_images(images, "rgb_to_hsv")
    tiny = float(xp.finfo(images.data.dtype).eps)
    images = where(absolute(images) < tiny, 0.0, images)
    red, green, blue = _planes(images, axis)
    value = maximum(maximum(red, green), blue)
    spread = subtract(value, minimum(minimum(red, green), blue))
    lit, colored = value > 0, spread > 0
    saturation = where(lit, divide(spread, where(lit, value, 1.0)), 0.0)
    sixth = divide(1.0, multiply(where(colored, spread, 1.0), 6.0))  # 1 / (6 * spread)
    # the sector of the largest channel: red (around 0), green (1/3) or blue (2/3)
    hue = where(value == green, add(multiply(sixth, subtract(blue, red)), 2.0 / 6.0),
                add(multiply(sixth, subtract(red, green)), 4.0 / 6.0))
    hue = where(value == red, multiply(sixth, subtract(green, blue)), hue)
    hue = where(colored, hue, 0.0)
    hue = where(hue < 0.0, add(hue, 1.0), hue)
    return cast(stack([hue, saturation, value], axis=axis), images.data.dtype)


def hsv_to_rgb(images, data_format=None):
    """RGB of float images of hue, saturation and value (the inverse of `rgb_to_hsv`)."""
    images, axis = _channel_axis(images, data_format, "hsv_to_rgb")
    _float_images(images, "hsv_to_rgb")
    hue, saturation, value = _planes(images, axis)
    sector = multiply(mod(hue, 1.0), 6.0)  # the hue on the colour wheel's six sectors
    share = [clip(subtract(absolute(subtract(sector, 3.0)), 1.0), 0.0, 1.0),
             clip(subtract(2.0, absolute(subtract(sector, 2.0))), 0.0, 1.0),
             clip(subtract(2.0, absolute(subtract(sector, 4.0))), 0.0, 1.0)]
    grey = subtract(1.0, saturation)
    planes = [multiply(value, add(grey, multiply(saturation, s))) for s in share]
    return cast(stack(planes, axis=axis), images.data.dtype)


def _sides(name, before, after, target, size, what):
    """(before, after) from exactly two of `before`, `after` and the `target` size."""
    names = {"padding": ("top", "bottom", "height"), "width_padding": ("left", "right", "width"),
             "cropping": ("top", "bottom", "height"),
             "width_cropping": ("left", "right", "width")}[what]
    kind = what.split("_")[-1]
    first, second, dimension = (f"{names[0]}_{kind}", f"{names[1]}_{kind}",
                                f"target_{names[2]}")
    if [before, after, target].count(None) != 1:
        raise ValueError(f"{name}: Must specify exactly two of {first}, {second}, {dimension}. "
                         f"Received: {first}={before}, {second}={after}, "
                         f"{dimension}={target}")
    for label, value in ((first, before), (second, after), (dimension, target)):
        if value is not None and value < 0:
            raise ValueError(f"{name}: {label} must be >= 0. Received: {label}={value}")
    sign = 1 if kind == "padding" else -1  # padding adds rows, cropping removes them
    if before is None:
        before = sign * (target - size) - after
    if after is None:
        after = sign * (target - size) - before
    for label, value in ((first, before), (second, after)):
        if value < 0:
            raise ValueError(f"{name}: {label} must be >= 0. Received: {label}={value}")
    return int(before), int(after)


def _spatial_axes(images, data_format):
    last = standardize_data_format(data_format) == "channels_last"
    return (images.ndim - 3, images.ndim - 2) if last else (images.ndim - 2, images.ndim - 1)


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None,
               right_padding=None, target_height=None, target_width=None, data_format=None):
    """`images` with rows and columns of zeros around them: of each side, two of the
    before / after / target numbers are given and the third follows."""
    images, _ = _channel_axis(images, data_format, "pad_images")
    rows, columns = _spatial_axes(images, data_format)
    top, bottom = _sides("pad_images", top_padding, bottom_padding, target_height,
                         images.shape[rows], "padding")
    left, right = _sides("pad_images", left_padding, right_padding, target_width,
                         images.shape[columns], "width_padding")
    widths = [(0, 0)] * images.ndim
    widths[rows], widths[columns] = (top, bottom), (left, right)
    return pad(images, widths)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    """`images` without rows and columns on their sides: of each side, two of the
    before / after / target numbers are given and the third follows."""
    images, _ = _channel_axis(images, data_format, "crop_images")
    rows, columns = _spatial_axes(images, data_format)
    height, width = images.shape[rows], images.shape[columns]
    top, bottom = _sides("crop_images", top_cropping, bottom_cropping, target_height, height,
                         "cropping")
    left, right = _sides("crop_images", left_cropping, right_cropping, target_width, width,
                         "width_cropping")
    index = [slice(None)] * images.ndim
    index[rows], index[columns] = slice(top, height - bottom), slice(left, width - right)
    return getitem(images, tuple(index))


__all__ = ["crop_images", "hsv_to_rgb", "pad_images", "rgb_to_grayscale", "rgb_to_hsv"]
