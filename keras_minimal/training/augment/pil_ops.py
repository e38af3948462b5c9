"""PIL's image operations, as timm's AutoAugment calls them on uint8 images, on one
integer-valued float32 [0, 255] HWC image (tf ops, graph mode): the colour and histogram
operations reproduce PIL's integer arithmetic, the geometric ones its double-precision
bilinear sampling (a point outside the image takes `fill`)."""

import math

import tensorflow as tf


def _luma(image):
    """PIL convert("L"): ITU-R 601-2 luma in 16-bit fixed point, rounded."""
    rgb = tf.cast(image, tf.int32)
    luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) // 65536
    return tf.cast(luma, tf.float32)[..., None]


def blend(degenerate, image, factor):
    """PIL Image.blend(degenerate, image, factor) on uint8: float32 maths, truncated."""
    factor = tf.cast(factor, tf.float32)
    return tf.clip_by_value(tf.floor(degenerate + factor * (image - degenerate)), 0.0, 255.0)


def auto_contrast(image, arg=None, fill=None):
    low = tf.reduce_min(image, axis=[0, 1])
    high = tf.reduce_max(image, axis=[0, 1])
    scale = 255.0 / tf.cast(tf.maximum(high - low, 1.0), tf.float64)
    offset = -tf.cast(low, tf.float64) * scale
    stretched = tf.cast(tf.floor(tf.cast(image, tf.float64) * scale + offset), tf.float32)
    return tf.where(high > low, tf.clip_by_value(stretched, 0.0, 255.0), image)


def equalize(image, arg=None, fill=None):
    """PIL ImageOps.equalize: per channel, lut[i] = (step // 2 + #pixels below i) // step
    with step = (#pixels − #pixels at the brightest value) // 255; identity if step is 0."""
    pixels = tf.cast(image, tf.int32)
    channels = tf.shape(pixels)[-1]
    flat = tf.reshape(pixels + 256 * tf.range(channels), [-1])
    histogram = tf.math.bincount(flat, minlength=256 * channels, maxlength=256 * channels)
    histogram = tf.reshape(histogram, [channels, 256])
    total = tf.reduce_sum(histogram, axis=1)
    brightest = tf.gather(histogram, tf.reduce_max(pixels, axis=[0, 1]), batch_dims=1)
    step = (total - brightest) // 255
    below = tf.cumsum(histogram, axis=1, exclusive=True)
    safe_step = tf.maximum(step, 1)[:, None]
    lut = tf.minimum((safe_step // 2 + below) // safe_step, 255)
    lut = tf.where(step[:, None] > 0, lut, tf.range(256)[None, :])
    return tf.cast(tf.gather(tf.reshape(lut, [-1]), pixels + 256 * tf.range(channels)), tf.float32)


def invert(image, arg=None, fill=None):
    return 255.0 - image


def posterize(image, bits, fill=None):
    mask = 256 - tf.bitwise.left_shift(tf.constant(1), 8 - tf.cast(bits, tf.int32))
    return tf.cast(tf.bitwise.bitwise_and(tf.cast(image, tf.int32), mask), tf.float32)


def solarize(image, threshold, fill=None):
    return tf.where(image < tf.cast(threshold, tf.float32), image, 255.0 - image)


def solarize_add(image, add, fill=None):
    return tf.where(image < 128.0, tf.minimum(image + tf.cast(add, tf.float32), 255.0), image)


def color(image, factor, fill=None):
    return blend(_luma(image), image, factor)


def contrast(image, factor, fill=None):
    mean = tf.floor(tf.reduce_mean(tf.cast(_luma(image), tf.float64)) + 0.5)
    return blend(tf.cast(mean, tf.float32), image, factor)


def sharpness(image, factor, fill=None):
    """Blend with PIL's SMOOTH filter ([[1,1,1],[1,5,1],[1,1,1]] / 13, rounded), which
    leaves the one-pixel border unchanged."""
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]])
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, tf.shape(image)[-1], 1])
    smooth = tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "SAME")[0]
    smooth = tf.round(smooth / 13.0)
    inner = tf.pad(tf.ones_like(image[1:-1, 1:-1, :1], tf.bool), [[1, 1], [1, 1], [0, 0]])
    return blend(tf.where(inner, smooth, image), image, factor)


def _float64(value):
    # tf.cast(0.15, tf.float64) goes through float32; PIL's geometry is double precision.
    return tf.cast(value, tf.float64) if tf.is_tensor(value) else tf.constant(value, tf.float64)


def affine(image, matrix, fill):
    """PIL Image.transform(AFFINE, BILINEAR, fillcolor=fill): the output pixel centre
    (x + ½, y + ½) reads input point (a·x + b·y + c, d·x + e·y + f), bilinear with edge
    clamping, `fill` where that point lies outside the image; truncated to integers."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    a, b, c, d, e, f = (_float64(v) for v in matrix)
    ys = tf.cast(tf.range(height), tf.float64)[:, None] + 0.5
    xs = tf.cast(tf.range(width), tf.float64)[None, :] + 0.5
    x_in, y_in = a * xs + b * ys + c, d * xs + e * ys + f
    outside = (x_in < 0) | (x_in >= tf.cast(width, tf.float64))
    outside |= (y_in < 0) | (y_in >= tf.cast(height, tf.float64))
    x_in, y_in = x_in - 0.5, y_in - 0.5
    x0, y0 = tf.floor(x_in), tf.floor(y_in)
    dx, dy = (x_in - x0)[..., None], (y_in - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    pixels = tf.cast(image, tf.float64)

    def at(y, x):
        y = tf.clip_by_value(y, 0, height - 1)
        x = tf.clip_by_value(x, 0, width - 1)
        return tf.gather_nd(pixels, tf.stack([y, x], axis=-1))

    top = at(y0, x0) + (at(y0, x0 + 1) - at(y0, x0)) * dx
    bottom = at(y0 + 1, x0) + (at(y0 + 1, x0 + 1) - at(y0 + 1, x0)) * dx
    value = tf.cast(tf.floor(top + (bottom - top) * dy), tf.float32)
    return tf.where(outside[..., None], tf.constant(fill, tf.float32), value)


def rotate(image, degrees, fill):
    """PIL Image.rotate(degrees) (counter-clockwise) about the image centre, with PIL's
    order of operations (angle mod 360, matrix rounded to 15 decimals)."""
    shape = tf.cast(tf.shape(image), tf.float64)
    cx, cy = shape[1] / 2.0, shape[0] / 2.0
    angle = -tf.math.floormod(_float64(degrees), 360.0) * (math.pi / 180.0)
    cos, sin = (tf.round(v * 1e15) / 1e15 for v in (tf.cos(angle), tf.sin(angle)))
    matrix = (cos, sin, cos * -cx + sin * -cy + cx, -sin, cos, -sin * -cx + cos * -cy + cy)
    return affine(image, matrix, fill)


def shear_x(image, factor, fill):
    return affine(image, (1.0, factor, 0.0, 0.0, 1.0, 0.0), fill)


def shear_y(image, factor, fill):
    return affine(image, (1.0, 0.0, 0.0, factor, 1.0, 0.0), fill)


def translate_x_rel(image, fraction, fill):
    pixels = _float64(fraction) * tf.cast(tf.shape(image)[1], tf.float64)
    return affine(image, (1.0, 0.0, pixels, 0.0, 1.0, 0.0), fill)


def translate_y_rel(image, fraction, fill):
    pixels = _float64(fraction) * tf.cast(tf.shape(image)[0], tf.float64)
    return affine(image, (1.0, 0.0, 0.0, 0.0, 1.0, pixels), fill)


OPS = {
    "AutoContrast": auto_contrast,
    "Equalize": equalize,
    "Invert": invert,
    "Rotate": rotate,
    "Posterize": posterize,
    "PosterizeIncreasing": posterize,
    "PosterizeOriginal": posterize,
    "Solarize": solarize,
    "SolarizeAdd": solarize_add,
    "Color": color,
    "Contrast": contrast,
    "Sharpness": sharpness,
    "ShearX": shear_x,
    "ShearY": shear_y,
    "TranslateXRel": translate_x_rel,
    "TranslateYRel": translate_y_rel,
}
