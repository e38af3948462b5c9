"""NFNet's trainable parameter count derived from the architecture, written out by hand.

Checked against the reference counts of F0–F6 (timm's dm_nfnet_*); F7, which has no
reference model, is then derived rather than copied. `deepmind_nfnet_param_count` follows
DeepMind's nfnets/nfnet.py for any width table (its stem and width rounding).
"""


def ws_conv(in_chs, out_chs, kernel=1, groups=1):
    """A scaled-WS convolution: kernel + bias + gain."""
    return kernel * kernel * (in_chs // groups) * out_chs + 2 * out_chs


def nf_block(
    in_chs, out_chs, group_size=128, bottle_ratio=0.5, se_ratio=0.5, stride=1, round_mid=False
):
    mid = int(out_chs * bottle_ratio)
    groups = mid // group_size
    if round_mid:  # DeepMind: the bottleneck is `groups` whole groups
        mid = groups * group_size
    hidden = int(out_chs * se_ratio)
    count = ws_conv(in_chs, mid)  # conv1
    count += 2 * ws_conv(mid, mid, 3, groups)  # conv2, conv2b
    count += ws_conv(mid, out_chs)  # conv3
    count += out_chs * hidden + hidden + hidden * out_chs + out_chs  # SE fc1, fc2
    count += 1  # skip gain
    if stride > 1 or in_chs != out_chs:
        count += ws_conv(in_chs, out_chs)  # transition shortcut
    return count


def nfnet_param_count(depths, channels=(256, 512, 1536, 1536), stem_chs=128, classes=1000):
    count = ws_conv(3, stem_chs // 8, 3) + ws_conv(stem_chs // 8, stem_chs // 4, 3)
    count += ws_conv(stem_chs // 4, stem_chs // 2, 3) + ws_conv(stem_chs // 2, stem_chs, 3)
    in_chs = stem_chs
    for stage, (depth, out_chs) in enumerate(zip(depths, channels, strict=True)):
        for index in range(depth):
            stride = 2 if stage > 0 and index == 0 else 1
            count += nf_block(in_chs, out_chs, stride=stride)
            in_chs = out_chs
    num_features = 2 * channels[-1]
    count += ws_conv(in_chs, num_features)  # final conv
    return count + num_features * classes + classes


def deepmind_nfnet_param_count(depths, channels, group_size=128, classes=1000):
    stem = (3, 16, 32, 64, channels[0] // 2)  # nfnet.py: stem_conv0 … stem_conv3
    count = sum(ws_conv(a, b, 3) for a, b in zip(stem[:-1], stem[1:], strict=True))
    in_chs = stem[-1]
    for stage, (depth, out_chs) in enumerate(zip(depths, channels, strict=True)):
        for index in range(depth):
            stride = 2 if stage > 0 and index == 0 else 1
            count += nf_block(in_chs, out_chs, group_size, stride=stride, round_mid=True)
            in_chs = out_chs
    num_features = 2 * channels[-1]
    count += ws_conv(in_chs, num_features)
    return count + num_features * classes + classes
