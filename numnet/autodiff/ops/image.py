"""Image ops of `keras.ops.image`: colour spaces, padding, cropping, resizing, patches, blur.

`rgb_to_grayscale`, `rgb_to_hsv`, `hsv_to_rgb`, `pad_images`, `crop_images`, `resize`,
`extract_patches` (and `_3d`), `gaussian_blur`, `scale_and_translate`, `sobel_edges`,
`ssim` and `map_coordinates`,
on one image (height, width, channels) or a batch, channels last or first
(`keras.config.image_data_format()` by default). Written with numnet ops, so the
gradients are the autodiff's (the colour conversions are piecewise: their gradients are
those of the piece each pixel is in).

`resize` resamples each spatial axis in turn. "nearest" takes the input row nearest to
each output row's centre (TensorFlow's half-pixel rule). The other methods weigh input
rows by a kernel of their distance to the output row's centre, as TensorFlow's
`scale_and_translate` does (and its half-pixel bilinear and bicubic resizing, which
agree with it, but for the bicubic one's tabulated kernel: `_bicubic_weights`): the
weights of each output row, a `(input, output)` matrix made once, are normalized to sum
to 1 over the rows inside the image, and with `antialias` the kernel widens by the
downscaling factor. One product per axis applies them.
"""

from numnet.autodiff.ops.arithmetic import add, divide, multiply, subtract
from numnet.autodiff.ops.convolution import conv, depthwise_conv
from numnet.autodiff.ops.core import as_tensor, cast, xp
from numnet.autodiff.ops.linalg import tensordot
from numnet.autodiff.ops.math import abs as absolute
from numnet.autodiff.ops.math import clip, maximum, minimum, mod, round as round_, where
from numnet.autodiff.ops.reductions import mean
from numnet.autodiff.ops.shape import (
    expand_dims, getitem, moveaxis, pad, reshape, stack, take, transpose,
)
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


def _check_choice(name, argument, value, allowed):
    """Raises Keras' error for an `argument` of op `name` that is none of `allowed`."""
    if value not in allowed:
        raise ValueError(f"{name}: Invalid value for argument `{argument}`. Expected one of "
                         f"{tuple(allowed)}. Received: {argument}={value}")


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


def _floats(x):
    """`x`, or `x` in float32 when it holds integers (resampled, then brought back)."""
    return x if x.data.dtype.kind == "f" else cast(x, "float32")


def _like(out, x):
    """`out` (floats) in `x`'s dtype: integers rounded and kept within `x`'s own range."""
    dtype = x.data.dtype
    if dtype.kind == "f":
        return out
    return cast(clip(round_(out), float(xp.min(x.data)), float(xp.max(x.data))), dtype)


def _resampled(x, axis, weights):
    """`x` with `axis` mapped through `weights` (input positions x output positions)."""
    return moveaxis(tensordot(x, weights.astype(x.data.dtype), axes=([axis], [0])), -1, axis)


def _gaussian_window(size, sigma):
    """A normalized Gaussian window of `size` taps, `sigma` wide, centred."""
    offsets = xp.arange(int(size)) - (int(size) - 1) / 2
    weights = xp.exp(-0.5 * (offsets / float(sigma)) ** 2)
    return weights / weights.sum()


def _per_channel(window, channels, dtype):
    """A depthwise kernel applying the 2-D `window` to each of `channels` on its own."""
    return xp.repeat(window[:, :, None, None], channels, axis=2).astype(dtype)


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
    floats = _floats(images)
    weights = xp.asarray(_LUMA, dtype=floats.data.dtype)
    gray = expand_dims(tensordot(floats, weights, axes=([images.ndim + axis], [0])), axis)
    return gray if floats is images else cast(gray, images.data.dtype)


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


def _sides(name, labels, values, size, grows):
    """(before, after) of one axis from exactly two of `values`, (before, after, target size),
    named `labels`; `grows`: padding (the target is larger) or cropping."""
    if list(values).count(None) != 1:
        raise ValueError(f"{name}: Must specify exactly two of {', '.join(labels)}. Received: "
                         + ", ".join(f"{k}={v}" for k, v in zip(labels, values)))
    for label, value in zip(labels, values):
        if value is not None and value < 0:
            raise ValueError(f"{name}: {label} must be >= 0. Received: {label}={value}")
    before, after, target = values
    change = (target - size if grows else size - target) if target is not None else None
    before = change - after if before is None else before
    after = change - before if after is None else after
    for label, value in zip(labels, (before, after)):
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
    top, bottom = _sides("pad_images", ("top_padding", "bottom_padding", "target_height"),
                         (top_padding, bottom_padding, target_height), images.shape[rows], True)
    left, right = _sides("pad_images", ("left_padding", "right_padding", "target_width"),
                         (left_padding, right_padding, target_width), images.shape[columns],
                         True)
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
    top, bottom = _sides("crop_images", ("top_cropping", "bottom_cropping", "target_height"),
                         (top_cropping, bottom_cropping, target_height), height, False)
    left, right = _sides("crop_images", ("left_cropping", "right_cropping", "target_width"),
                         (left_cropping, right_cropping, target_width), width, False)
    index = [slice(None)] * images.ndim
    index[rows], index[columns] = slice(top, height - bottom), slice(left, width - right)
    return getitem(images, tuple(index))


# ------------------------------------------------------------------------ resize
def _triangle(distance):
    return xp.maximum(0.0, 1.0 - distance)


def _keys_cubic(distance):  # Keys' cubic convolution kernel, a = -0.5
    near = (1.5 * distance - 2.5) * distance * distance + 1.0
    far = ((-0.5 * distance + 2.5) * distance - 4.0) * distance + 2.0
    return xp.where(distance < 1.0, near, xp.where(distance < 2.0, far, 0.0))


def _lanczos(radius):
    def kernel(distance):
        product = radius * xp.sin(xp.pi * distance) * xp.sin(xp.pi * distance / radius)
        with xp.errstate(divide="ignore", invalid="ignore"):
            value = xp.where(distance > 1e-3, product / (xp.pi * distance) ** 2, 1.0)
        return xp.where(distance > radius, 0.0, value)
    return kernel


# `scale_and_translate`'s methods (`resize` takes four of the names)
_SCALE_METHODS = {"linear": _triangle, "bilinear": _triangle, "trilinear": _triangle,
                  "triangle": _triangle, "cubic": _keys_cubic, "bicubic": _keys_cubic,
                  "tricubic": _keys_cubic, "lanczos3": _lanczos(3.0), "lanczos5": _lanczos(5.0)}
RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")


def _resampling_weights(size_in, size_out, kernel, antialias, scale=None, translation=0.0):
    """The `(size_in, size_out)` weights of input rows in each output row (see the module
    docstring), in float64; an input position p lands at `p * scale + translation` in the
    output (`scale` by default: the ratio of the sizes)."""
    shrink = size_in / size_out if scale is None else 1.0 / scale
    width = max(shrink, 1.0) if antialias else 1.0
    centres = (xp.arange(size_out) + 0.5 - translation) * shrink - 0.5  # in input coordinates
    weights = kernel(xp.abs(centres[None, :] - xp.arange(size_in)[:, None]) / width)
    totals = weights.sum(axis=0, keepdims=True)
    usable = xp.abs(totals) > 1000.0 * float(xp.finfo(xp.float32).eps)
    weights = xp.where(usable, weights / xp.where(totals != 0, totals, 1.0), 0.0)
    inside = (centres >= -0.5) & (centres <= size_in - 0.5)
    return xp.where(inside[None, :], weights, 0.0)


def _bicubic_weights(size_in, size_out):
    """`_resampling_weights` of Keys' cubic kernel as TensorFlow's bicubic resizing (without
    antialias) computes them: in float32, each centre's distance to the row below it rounded
    to 1/1024 (TensorFlow reads the kernel from a table of 1,024 steps)."""
    centres = (xp.arange(size_out, dtype=xp.float32) + xp.float32(0.5)) * \
        (xp.float32(size_in) / xp.float32(size_out)) - xp.float32(0.5)
    below = xp.floor(centres)
    steps = xp.rint((centres - below) * xp.float32(1024)).astype(xp.float64) / 1024
    weights = _keys_cubic(xp.abs(below.astype(xp.float64)[None, :] + steps[None, :]
                                 - xp.arange(size_in)[:, None]))
    totals = weights.sum(axis=0, keepdims=True)
    return weights / xp.where(totals != 0, totals, 1.0)


def _nearest_rows(size_in, size_out):
    """The input row nearest to each output row's centre (float32 arithmetic, as
    TensorFlow's)."""
    centres = (xp.arange(size_out, dtype=xp.float32) + xp.float32(0.5)) * \
        xp.float32(size_in) / xp.float32(size_out)
    return xp.minimum(xp.floor(centres).astype(xp.int64), size_in - 1)


def _to_aspect_ratio(images, rows, columns, target, crop, fill_value):
    """`images` cropped (`crop`) or padded with `fill_value` around its centre to the target
    size's aspect ratio, with Keras' rounding."""
    height, width = images.shape[rows], images.shape[columns]
    target_height, target_width = target
    tall = int(float(width * target_height) / target_width)
    wide = int(float(height * target_width) / target_height)
    if crop:
        tall, wide = max(min(height, tall), 1), max(min(width, wide), 1)
        top, left = int(float(height - tall) / 2), int(float(width - wide) / 2)
        index = [slice(None)] * images.ndim
        index[rows], index[columns] = slice(top, top + tall), slice(left, left + wide)
        return getitem(images, tuple(index))
    top = int(float(max(height, tall) - height) / 2)
    left = int(float(max(width, wide) - width) / 2)
    widths = [(0, 0)] * images.ndim
    if top > 0:  # (Keras pads one axis: the rows when they need it, else the columns)
        widths[rows] = (top, top)
    elif left > 0:
        widths[columns] = (left, left)
    else:
        return images
    return pad(images, widths, constant_values=fill_value)


def _check_resize_arguments(size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                            fill_mode):
    _check_choice("resize", "interpolation", interpolation, RESIZE_INTERPOLATIONS)
    _check_choice("resize", "fill_mode", fill_mode, ("constant",))
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("resize: Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` "
                         "can be `True`.")
    if len(size) != 2 or not all(int(n) == n and n > 0 for n in size):
        raise ValueError(f"resize: Argument `size` must be a tuple of two positive elements "
                         f"(height, width). Received: size={size}")


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """`images` resampled to `size` (height, width) by `interpolation` ("bilinear",
    "nearest", "bicubic", "lanczos3", "lanczos5"; see the module docstring), first cropped
    or padded (with `fill_value`) to the new aspect ratio when asked. Integer images are
    resampled in float32, rounded and kept within their own range."""
    _check_resize_arguments(size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                            fill_mode)
    images, _ = _channel_axis(images, data_format, "resize")
    rows, columns = _spatial_axes(images, data_format)
    size = (int(size[0]), int(size[1]))
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        images = _to_aspect_ratio(images, rows, columns, size, crop_to_aspect_ratio,
                                  fill_value)
    x = _floats(images)
    for axis, size_out in zip((rows, columns), size):
        size_in = x.shape[axis]
        if interpolation == "nearest":
            x = take(x, _nearest_rows(size_in, size_out), axis=axis)
        else:
            x = _resampled(x, axis, _bicubic_weights(size_in, size_out) if (
                interpolation == "bicubic" and not antialias) else _resampling_weights(
                size_in, size_out, _SCALE_METHODS[interpolation], antialias))
    return _like(x, images)


# ---------------------------------------------------------- patches and blurring
def _patches(images, size, strides, dilation_rate, padding, data_format, axes, name):
    """`extract_patches` over `axes` (2 or 3) spatial axes: a convolution whose kernel is the
    identity on each window's values (exact: each output is one input times 1)."""
    sizes = (size,) * axes if isinstance(size, int) else tuple(size)
    if len(sizes) != axes:
        raise TypeError(f"{name}: Invalid `size` argument. Expected an int or a tuple of "
                        f"length {axes}. Received: size={size}")
    volumes = as_tensor(images)
    if volumes.ndim not in (axes + 1, axes + 2):
        raise ValueError(f"{name}: expected rank {axes + 1} (one) or {axes + 2} (a batch); "
                         f"received shape {tuple(volumes.shape)}")
    last = standardize_data_format(data_format) == "channels_last"
    channels = volumes.shape[-1] if last else volumes.shape[-1 - axes]
    floats = _floats(volumes)
    width = int(xp.prod(sizes)) * channels
    kernel = xp.eye(width, dtype=floats.data.dtype).reshape(sizes + (channels, width))
    single = volumes.ndim == axes + 1
    batch = expand_dims(floats, 0) if single else floats
    patches = conv(batch, kernel, strides=sizes if strides is None else strides,
                   padding=padding, data_format=data_format, dilation_rate=dilation_rate)
    patches = getitem(patches, 0) if single else patches
    return patches if floats is volumes else cast(patches, volumes.data.dtype)


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid",
                    data_format=None):
    """The windows of `size` (an int or (height, width); (depth, height, width) for
    volumes) of one image or a batch, each flattened (rows, columns, channels) along the
    last axis; `strides` default to `size` (patches that do not overlap)."""
    if not isinstance(size, (int, tuple, list)):
        raise TypeError(f"extract_patches: Invalid `size` argument. Expected an int or a tuple. "
                        f"Received: size={size} of type {type(size).__name__}")
    if not isinstance(size, int) and len(size) not in (2, 3):
        raise ValueError(f"extract_patches: Invalid `size` argument. Expected a tuple of "
                         f"length 2 or 3. Received: size={size} with length {len(size)}")
    axes = 3 if not isinstance(size, int) and len(size) == 3 else 2
    return _patches(images, size, strides, dilation_rate, padding, data_format, axes,
                    "extract_patches")


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid",
                       data_format=None):
    """`extract_patches` of volumes: windows of (depth, height, width), or a cube of `size`."""
    return _patches(volumes, size, strides, dilation_rate, padding, data_format, 3,
                    "extract_patches_3d")


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Each channel convolved with a normalized Gaussian window, zeros around the image (as
    Keras: the window's rows from `kernel_size[1]` and `sigma[1]`, its columns from
    `kernel_size[0]` and `sigma[0]`)."""
    images, axis = _channel_axis(images, data_format, "gaussian_blur")
    floats = _floats(images)
    window = xp.outer(_gaussian_window(kernel_size[1], sigma[1]),
                      _gaussian_window(kernel_size[0], sigma[0]))
    kernel = _per_channel(window, images.shape[axis], floats.data.dtype)
    single = images.ndim == 3
    batch = expand_dims(floats, 0) if single else floats
    blurred = depthwise_conv(batch, kernel, padding="same", data_format=data_format)
    blurred = getitem(blurred, 0) if single else blurred
    return blurred if floats is images else cast(blurred, images.data.dtype)


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method,
                        antialias=True):
    """`images` resampled to `output_shape` along `spatial_dims`: an input position p (pixel
    centres at p + 0.5) lands at `p * scale + translation`; outputs whose position falls
    outside the input are 0 (JAX's `scale_and_translate`, with `_resampling_weights`).
    `scale` and `translation` are numbers here: no gradient reaches them."""
    _check_choice("scale_and_translate", "method", method, _SCALE_METHODS)
    x = as_tensor(images)
    scale = xp.asarray(getattr(scale, "data", scale), dtype=xp.float64).reshape(-1)
    translation = xp.asarray(getattr(translation, "data", translation),
                             dtype=xp.float64).reshape(-1)
    if not len(scale) == len(translation) == len(spatial_dims):
        raise ValueError(f"scale_and_translate: `scale` and `translation` need one number per "
                         f"spatial dimension {tuple(spatial_dims)}; received {len(scale)} and "
                         f"{len(translation)}.")
    out = _floats(x)
    for axis, step, shift in zip(spatial_dims, scale, translation):
        axis %= x.ndim
        out = _resampled(out, axis, _resampling_weights(
            x.shape[axis], int(output_shape[axis]), _SCALE_METHODS[method], antialias,
            float(step), float(shift)))
    return _like(out, x)


# Sobel's operators: the vertical and the horizontal derivative, smoothed across
_SOBEL = xp.array([[[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
                   [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]], dtype=xp.float64)


def sobel_edges(images, data_format=None):
    """The vertical and horizontal Sobel derivatives of each channel of a batch of images,
    `(..., channels, 2)` (`[dy, dx]`), the images mirrored at their borders as TensorFlow's
    `sobel_edges` does (without repeating the edge)."""
    images = as_tensor(images)
    if images.ndim != 4:
        raise ValueError(f"sobel_edges: expected a batch of images of rank 4; received shape "
                         f"{tuple(images.shape)}")
    first = standardize_data_format(data_format) == "channels_first"
    x = moveaxis(images, 1, -1) if first else images
    floats = _floats(x)
    mirrored = pad(floats, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    kernel = xp.repeat(xp.transpose(_SOBEL, (1, 2, 0))[:, :, None, :], x.shape[-1], axis=2)
    edges = depthwise_conv(mirrored, kernel.astype(floats.data.dtype))
    edges = reshape(edges, tuple(x.shape) + (2,))
    return transpose(edges, (0, 3, 1, 2, 4)) if first else edges


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         data_format=None):
    """The structural similarity of two images (or batches), averaged over the positions of a
    `filter_size` Gaussian window inside the images and over the channels."""
    images = []
    for name, image in (("image1", image1), ("image2", image2)):
        image = as_tensor(image)
        if image.ndim not in (3, 4):
            raise ValueError(f"ssim: Invalid {name} rank: expected rank 3 (single image) or rank "
                             f"4 (batch of images). Received input with shape: "
                             f"{name}.shape={tuple(image.shape)}")
        image = _floats(image)
        image = expand_dims(image, 0) if image.ndim == 3 else image
        images.append(moveaxis(image, 1, -1) if standardize_data_format(data_format) ==
                      "channels_first" else image)
    first, second = images
    window = _gaussian_window(filter_size, filter_sigma)
    kernel = _per_channel(xp.outer(window, window), first.shape[-1], first.data.dtype)

    def local_mean(values):
        return depthwise_conv(values, kernel)
    mean1, mean2 = local_mean(first), local_mean(second)
    var1 = subtract(local_mean(multiply(first, first)), multiply(mean1, mean1))
    var2 = subtract(local_mean(multiply(second, second)), multiply(mean2, mean2))
    covariance = subtract(local_mean(multiply(first, second)), multiply(mean1, mean2))
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    numerator = multiply(add(multiply(multiply(mean1, mean2), 2.0), c1),
                         add(multiply(covariance, 2.0), c2))
    denominator = multiply(add(add(multiply(mean1, mean1), multiply(mean2, mean2)), c1),
                           add(add(var1, var2), c2))
    result = mean(divide(numerator, denominator), axis=(1, 2, 3))
    unbatched = as_tensor(image1).ndim == 3
    return getitem(result, 0) if unbatched else result


# ------------------------------------------------------------- map coordinates
def _fixed_indices(index, size, fill_mode):
    """Integer positions along an axis of `size` mapped inside it by `fill_mode`, and which
    of them were inside already (only "constant" fills the others)."""
    inside = (index >= 0) & (index < size)
    if fill_mode in ("constant", "nearest"):
        return xp.clip(index, 0, size - 1), inside if fill_mode == "constant" else None
    if fill_mode == "wrap":  # (a b c d | a b c d | a b c d)
        return index % size, None
    if fill_mode == "mirror":  # (c d c b | a b c d | c b a b): period 2 (size - 1)
        if size == 1:
            return xp.zeros_like(index), None
        phase = index % (2 * (size - 1))
        return xp.where(phase < size, phase, 2 * (size - 1) - phase), None
    phase = index % (2 * size)  # "reflect": (d c b a | a b c d | d c b a)
    return xp.where(phase < size, phase, 2 * size - 1 - phase), None


MAP_COORDINATES_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0.0):
    """`inputs` sampled at `coordinates` (one row of positions per axis of `inputs`): the
    nearest entry (`order=0`) or the linear interpolation of the neighbours (`order=1`);
    positions outside are filled by `fill_mode` as Keras documents it ("constant" with
    `fill_value`, "nearest", "wrap", "mirror", "reflect"). Differentiable with respect to
    `inputs` and, with `order=1`, the coordinates."""
    x, coords = as_tensor(inputs), as_tensor(coordinates)
    if coords.ndim < 2:
        raise ValueError(f"map_coordinates: Invalid coordinates rank: expected at least rank 2. "
                         f"Received input with shape: {tuple(coords.shape)}")
    if coords.shape[0] != x.ndim:
        raise ValueError(f"map_coordinates: First dim of `coordinates` must be the same as the "
                         f"rank of `inputs`. Received inputs with shape: {tuple(x.shape)} and "
                         f"coordinate leading dim of {coords.shape[0]}")
    _check_choice("map_coordinates", "fill_mode", fill_mode, MAP_COORDINATES_FILL_MODES)
    if order not in (0, 1):
        raise NotImplementedError("map_coordinates: `order` must be 0 (nearest) or 1 (linear).")
    if coords.data.dtype.kind != "f":
        coords = cast(coords, "float32")
    nodes = []  # per axis: (index array, validity or None, weight tensor or None)
    for axis, size in enumerate(x.shape):
        position = getitem(coords, axis)
        if order == 0:
            pairs = [(xp.rint(position.data).astype(xp.int64), None)]
        else:
            low = xp.floor(position.data)
            upper = subtract(position, low)  # the weight of the upper neighbour
            pairs = [(low.astype(xp.int64), subtract(1.0, upper)),
                     (low.astype(xp.int64) + 1, upper)]
        nodes.append([(*_fixed_indices(index, size, fill_mode), weight)
                      for index, weight in pairs])
    floats = x if x.data.dtype == coords.data.dtype else cast(x, coords.data.dtype)
    total = None
    for corner in _corners(nodes):
        value = getitem(floats, tuple(index for index, _, _ in corner))
        valid = [v for _, v, _ in corner if v is not None]
        if valid:
            value = where(xp.logical_and.reduce(valid), value, float(fill_value))
        for _, _, weight in corner:
            value = value if weight is None else multiply(value, weight)
        total = value if total is None else add(total, value)
    if x.data.dtype.kind == "f":
        return cast(total, x.data.dtype)
    return cast(round_(total), x.data.dtype)


def _corners(nodes):
    """Every choice of one neighbour per axis (the corners of the interpolation cell)."""
    corners = [[]]
    for choices in nodes:
        corners = [corner + [choice] for corner in corners for choice in choices]
    return corners


# ------------------------------------------------------------ affine transform
AFFINE_TRANSFORM_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _inside_coordinates(position, size, fill_mode):
    """Continuous positions along an axis of `size` brought inside by `fill_mode`, in float32,
    with the formulas of TensorFlow's projective transform ("constant" leaves them: reads
    outside take the fill value; "mirror", which TensorFlow lacks, reflects about the edge
    pixels as Keras documents it)."""
    if fill_mode == "constant":
        return position
    if size <= 1:
        return xp.zeros_like(position)
    length, last = xp.float32(size), xp.float32(size - 1)
    below, above = position < 0, position > last
    if fill_mode == "reflect":  # (d c b a | a b c d | d c b a)
        twice = xp.float32(2 * size)
        low = twice * xp.trunc(-position / twice) + position
        low = xp.where(low < -length, low + twice, -low - 1)
        high = position - twice * xp.trunc(position / twice)
        high = xp.where(high >= length, twice - high - 1, high)
        position = xp.where(below, low, xp.where(above, high, position))
    elif fill_mode == "wrap":  # (a b c d | a b c d | a b c d), in TensorFlow's steps
        low = position + length * (xp.trunc(-position / last) + 1)
        high = position - length * xp.trunc(position / last)
        position = xp.where(below, low, xp.where(above, high, position))
    elif fill_mode == "mirror":  # (c d c b | a b c d | c b a b)
        position = xp.abs(xp.mod(position + last, 2 * last) - last)
    return xp.clip(position, xp.float32(0), last)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """`images` resampled through projective `transform`s (8 numbers `a0, a1, a2, b0, b1, b2,
    c0, c1`, one for all images or one each): output pixel (x, y) reads the input at
    `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`, `k = c0 x + c1 y + 1`, by
    "nearest" or "bilinear" interpolation, positions outside brought inside by `fill_mode`
    ("constant" reads `fill_value`). TensorFlow's projective transform, in float32."""
    _check_choice("affine_transform", "interpolation", interpolation, ("nearest", "bilinear"))
    _check_choice("affine_transform", "fill_mode", fill_mode, AFFINE_TRANSFORM_FILL_MODES)
    images, _ = _channel_axis(images, data_format, "affine_transform")
    matrix = xp.asarray(getattr(transform, "data", transform), dtype=xp.float32)
    if matrix.ndim not in (1, 2) or matrix.shape[-1] != 8:
        raise ValueError(f"affine_transform: Invalid transform shape: expected (8,) or "
                         f"(batch, 8). Received input with shape: transform.shape="
                         f"{matrix.shape}")
    single = images.ndim == 3
    x = expand_dims(images, 0) if single else images
    first = standardize_data_format(data_format) == "channels_first"
    x = moveaxis(x, 1, -1) if first else x
    batch, height, width = x.shape[:3]
    t = matrix.reshape(-1, 8)[:, :, None, None]  # (1 or batch, 8, 1, 1)
    column = xp.arange(width, dtype=xp.float32)[None, None, :]
    row = xp.arange(height, dtype=xp.float32)[None, :, None]
    with xp.errstate(divide="ignore", invalid="ignore"):
        projection = t[:, 6] * column + t[:, 7] * row + xp.float32(1)
        read_x = (t[:, 0] * column + t[:, 1] * row + t[:, 2]) / projection
        read_y = (t[:, 3] * column + t[:, 4] * row + t[:, 5]) / projection
    read_x = _inside_coordinates(read_x, width, fill_mode)
    read_y = _inside_coordinates(read_y, height, fill_mode)
    projected = xp.broadcast_to(projection != 0, read_x.shape)
    floats = _floats(x)
    single_transform = len(t) == 1  # then no index follows the batch (the op exports)
    flat_pixels = reshape(floats, (-1, height * width, floats.shape[-1]))

    def read(y, x_):  # the pixels at whole positions, the fill value outside
        y, x_ = y.astype(xp.int64), x_.astype(xp.int64)
        inside = (y >= 0) & (y < height) & (x_ >= 0) & (x_ < width) & projected
        y, x_ = xp.clip(y, 0, height - 1), xp.clip(x_, 0, width - 1)
        if single_transform:  # one gather along the pixels, (height x width) positions
            pixels = take(flat_pixels, y[0] * width + x_[0], axis=1)
        else:
            pixels = getitem(floats, (xp.arange(batch)[:, None, None], y, x_))
        return where(inside[..., None], pixels, float(fill_value))
    if interpolation == "nearest":  # (half away from zero, as C's round)
        out = read(xp.sign(read_y) * xp.floor(xp.abs(read_y) + xp.float32(0.5)),
                   xp.sign(read_x) * xp.floor(xp.abs(read_x) + xp.float32(0.5)))
    else:
        low_y, low_x = xp.floor(read_y), xp.floor(read_x)
        up_y, up_x = low_y + 1, low_x + 1
        to_low_x, to_up_x = (up_x - read_x)[..., None], (read_x - low_x)[..., None]
        top = add(multiply(read(low_y, low_x), to_low_x), multiply(read(low_y, up_x), to_up_x))
        bottom = add(multiply(read(up_y, low_x), to_low_x), multiply(read(up_y, up_x), to_up_x))
        out = add(multiply(top, (up_y - read_y)[..., None]),
                  multiply(bottom, (read_y - low_y)[..., None]))
    out = where(projected[..., None], out, float(fill_value))
    out = out if x.data.dtype.kind == "f" else cast(round_(out), x.data.dtype)
    out = moveaxis(out, -1, 1) if first else out
    return getitem(out, 0) if single else out


def _homography(start_points, end_points):
    """The projective transforms (n, 8) taking each of the 4 `end_points` to its start point
    (an output pixel at an end point reads the input at the start point): 8 linear equations
    per image, solved in float32 as TensorFlow solves them."""
    equations = []
    for point in range(4):
        (start_x, start_y), (end_x, end_y) = start_points[:, point].T, end_points[:, point].T
        ones, zeros = xp.ones_like(end_x), xp.zeros_like(end_x)
        equations.append(xp.stack([end_x, end_y, ones, zeros, zeros, zeros,
                                   -start_x * end_x, -start_x * end_y], axis=-1))
        equations.append(xp.stack([zeros, zeros, zeros, end_x, end_y, ones,
                                   -start_y * end_x, -start_y * end_y], axis=-1))
    coefficients = xp.stack(equations, axis=1)  # (n, 8, 8)
    targets = start_points.reshape(len(start_points), 8, 1)  # x1, y1, x2, y2, ...
    return xp.linalg.solve(coefficients, targets).reshape(-1, 8).astype(xp.float32)


def perspective_transform(images, start_points, end_points, interpolation="bilinear",
                          fill_value=0, data_format=None):
    """`images` warped so that the 4 `start_points` (x, y) move to the `end_points` (one set
    for all images or one each), by `affine_transform` of the homography between them;
    outside reads take `fill_value`."""
    starts, ends = (xp.asarray(getattr(p, "data", p), dtype=xp.float32)
                    for p in (start_points, end_points))
    for name, points in (("start_points", starts), ("end_points", ends)):
        if points.ndim not in (2, 3) or points.shape[-2:] != (4, 2):
            raise ValueError(f"perspective_transform: Invalid {name} shape: expected (4,2) for "
                             f"a single image or (N,4,2) for a batch. Received shape: "
                             f"{points.shape}")
    if starts.shape != ends.shape:
        raise ValueError(f"perspective_transform: start_points and end_points must have the "
                         f"same shape. Received start_points.shape={starts.shape}, "
                         f"end_points.shape={ends.shape}")
    transform = _homography(starts.reshape(-1, 4, 2), ends.reshape(-1, 4, 2))
    return affine_transform(images, transform, interpolation, "constant", fill_value,
                            data_format)


__all__ = ["affine_transform", "crop_images", "extract_patches", "extract_patches_3d",
           "gaussian_blur", "hsv_to_rgb", "map_coordinates", "pad_images",
           "perspective_transform", "resize", "rgb_to_grayscale", "rgb_to_hsv",
           "scale_and_translate", "sobel_edges", "ssim"]
