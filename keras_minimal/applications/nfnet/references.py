"""Where timm's dm_nfnet_* and DeepMind's own nfnets/nfnet.py define an NFNet differently.

For the published F0–F6 both give the same network; they part for other width tables
(DeepMind's F+ models, or width[0] ≠ 256) and in the numerics. `reference="timm"` (default):

- stem: stem_chs/8, /4, /2 and stem_chs channels (stem_chs defaults to 128 for any table);
- bottleneck: channels × bottle_ratio, which group_size must divide;
- squeeze-excite hidden width: make_divisible(C × se_ratio, 8);
- default activation "gelu" (exact, torch's nn.GELU) and weight_standardization "timm"
  (ε = 1e-5 inside the square root).

`reference="deepmind"`:

- stem: 16, 32, 64 and stem_chs channels (stem_chs defaults to channels[0] // 2);
- bottleneck: int(channels × bottle_ratio) rounded down to a multiple of group_size;
- squeeze-excite hidden width: max(1, int(C × se_ratio));
- default activation "gelu_approximate" (jax.nn.gelu, the tanh form) and
  weight_standardization "deepmind" (var × fan_in floored at 1e-4).
"""

from collections.abc import Callable
from dataclasses import dataclass

from keras_minimal.applications.channels import make_divisible


@dataclass(frozen=True)
class NFNetReference:
    name: str
    activation: str  # the default activation (a key of model.NONLINEARITY_GAINS)
    weight_standardization: str  # the default WSConv2D form
    default_stem_chs: Callable  # channels → the stem's output width
    stem_widths: Callable  # stem_chs → the four stem convolutions' widths
    bottleneck_width: Callable  # (width, bottle_ratio, group_size) → the block's middle width
    se_hidden: Callable  # (width, se_ratio) → the squeeze-excite hidden width


TIMM = NFNetReference(
    name="timm",
    activation="gelu",
    weight_standardization="timm",
    default_stem_chs=lambda channels: 128,  # timm's _dm_nfnet_cfg: stem_chs=128 for any table
    stem_widths=lambda stem_chs: (stem_chs // 8, stem_chs // 4, stem_chs // 2, stem_chs),
    bottleneck_width=lambda width, ratio, group_size: int(width * ratio),
    se_hidden=lambda width, ratio: make_divisible(width * ratio, 8, round_limit=0.0),
)

DEEPMIND = NFNetReference(
    name="deepmind",
    activation="gelu_approximate",
    weight_standardization="deepmind",
    default_stem_chs=lambda channels: channels[0] // 2,
    stem_widths=lambda stem_chs: (16, 32, 64, stem_chs),
    bottleneck_width=lambda width, ratio, group_size: int(width * ratio) // group_size * group_size,
    se_hidden=lambda width, ratio: max(1, int(width * ratio)),
)

REFERENCES = {reference.name: reference for reference in (TIMM, DEEPMIND)}
