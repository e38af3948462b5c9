"""Direct numpy computations that tests compare the library against."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d(x, kernel, bias=None, stride=1, padding=0):
    """NHWC input, HWIO kernel; symmetric zero padding."""
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw = kernel.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    out = np.einsum("bhwcij,ijco->bhwo", windows, kernel)
    return out if bias is None else out + bias


def depthwise_conv2d(x, kernel, bias=None, padding=0):
    """NHWC input, (kh, kw, C, 1) kernel, stride 1."""
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw = kernel.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))
    out = np.einsum("bhwcij,ijc->bhwc", windows, kernel[..., 0])
    return out if bias is None else out + bias


def batch_norm(x, gamma, beta, mean, variance, epsilon):
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def relu(x):
    return np.maximum(x, 0)


def same_padding(size, kernel, stride):
    """TF "SAME" padding (before, after) along one axis: the extra pixel goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d_same(x, kernel, bias=None, stride=1, groups=1):
    """NHWC input, (kh, kw, in/groups, out) kernel, TF "SAME" padding, grouped."""
    kh, kw, group_in, out = kernel.shape
    pad_h = same_padding(x.shape[1], kh, stride)
    pad_w = same_padding(x.shape[2], kw, stride)
    x = np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))
    group_out = out // groups
    outputs = []
    for g in range(groups):
        part = x[..., g * group_in : (g + 1) * group_in]
        outputs.append(conv2d(part, kernel[..., g * group_out : (g + 1) * group_out], None, stride))
    out = np.concatenate(outputs, axis=-1)
    return out if bias is None else out + bias


def scaled_standardized_kernel(kernel, gain, epsilon, form):
    """Scaled weight standardisation written out one output channel at a time."""
    standardized = np.empty(kernel.shape, dtype=np.float64)
    for o in range(kernel.shape[-1]):
        w = kernel[..., o].astype(np.float64)
        n = w.size
        mean = w.sum() / n
        variance = ((w - mean) ** 2).sum() / n
        if form == "timm":
            standardized[..., o] = gain[o] * (w - mean) / (np.sqrt(variance + epsilon) * np.sqrt(n))
        else:
            standardized[..., o] = gain[o] * (w - mean) / np.sqrt(max(variance * n, epsilon))
    return standardized


def fake_quant(x, low, high, narrow_range=False):
    """TensorFlow's FakeQuantWithMinMaxVars (8 bits): the zero point nudged onto the
    grid, values clamped, rounded half up."""
    quant_min, quant_max = (1 if narrow_range else 0), 255
    scale = (high - low) / (quant_max - quant_min)
    zero_point = np.clip(np.round(quant_min - low / scale), quant_min, quant_max)
    nudged_low, nudged_high = (quant_min - zero_point) * scale, (quant_max - zero_point) * scale
    clamped = np.clip(x, nudged_low, nudged_high)
    return np.floor((clamped - nudged_low) / scale + 0.5) * scale + nudged_low


def symmetric_int8(weights, axis=None):
    """Weights rounded to int8 levels -127..127 with scale max|w| / 127 (per `axis`)."""
    others = (
        None if axis is None else tuple(i for i in range(weights.ndim) if i != axis % weights.ndim)
    )
    scale = np.abs(weights).max(axis=others, keepdims=True) / 127
    return np.clip(np.round(weights / scale), -127, 127) * scale
