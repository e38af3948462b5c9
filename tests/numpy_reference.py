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
