"""PP-LCNet's architecture table and its eight published scales (PaddleClas pp_lcnet.py)."""

from dataclasses import dataclass

# Per stage, the DepthSepConv blocks as (kernel, in, out, stride, SE) at scale 1.0, in
# PaddleClas' names. timm (mobilenetv3._gen_lcnet) builds the same blocks but splits
# blocks5 into its stages 3 (the first two blocks) and 4 (the other four). The strides of
# the first blocks of blocks3 … blocks6 are those of `stride_list` (see STRIDED_UNITS).
NET_CONFIG = {
    "blocks2": ((3, 16, 32, 1, False),),
    "blocks3": ((3, 32, 64, 2, False), (3, 64, 64, 1, False)),
    "blocks4": ((3, 64, 128, 2, False), (3, 128, 128, 1, False)),
    "blocks5": ((3, 128, 256, 2, False),) + ((5, 256, 256, 1, False),) * 5,
    "blocks6": ((5, 256, 512, 2, True), (5, 512, 512, 1, True)),
}
STEM_WIDTH = 16
HEAD_WIDTH = 1280  # PaddleClas' class_expand
SE_REDUCTION = 4

# PaddleClas' stride_list: the stem conv (conv1) takes stride_list[0], the first block of
# blocks3 … blocks6 stride_list[1] … [4] (PPLCNetBaseNet sets net_config["blocks{i+3}"][0][3]).
# A stride is an int or an [height, width] pair (PP-OCR: [2, [2, 1], [2, 1], [2, 1], [2, 1]]).
STRIDED_UNITS = ("conv1", "blocks3", "blocks4", "blocks5", "blocks6")
DEFAULT_STRIDES = (2, 2, 2, 2, 2)

# PaddleClas' `act` (ConvBNLayer's and the last conv's activation; the SE keeps its ReLU and
# hard sigmoid) → the Keras activation that computes it.
ACTIVATIONS = {"hardswish": "hard_silu", "relu": "relu", "relu6": "relu6"}
DEFAULT_ACT = "hardswish"


@dataclass(frozen=True)
class PPLCNetVariant:
    constructor_name: str  # also PaddleClas' model name (PPLCNet_x0_25 …)
    scale: float
    paddle_params: int  # trainable, classes=1000, head_bias=False (PaddleClas)
    timm_params: int  # head_bias=True (timm lcnet_*)

    @property
    def config(self):
        return {"scale": self.scale}


VARIANTS = {
    "pplcnet_x0_25": PPLCNetVariant("PPLCNet_x0_25", 0.25, 1521184, 1522464),
    "pplcnet_x0_35": PPLCNetVariant("PPLCNet_x0_35", 0.35, 1643090, 1644370),
    "pplcnet_x0_5": PPLCNetVariant("PPLCNet_x0_5", 0.5, 1879576, 1880856),
    "pplcnet_x0_75": PPLCNetVariant("PPLCNet_x0_75", 0.75, 2357008, 2358288),
    "pplcnet_x1_0": PPLCNetVariant("PPLCNet_x1_0", 1.0, 2952520, 2953800),
    "pplcnet_x1_5": PPLCNetVariant("PPLCNet_x1_5", 1.5, 4499832, 4501112),
    "pplcnet_x2_0": PPLCNetVariant("PPLCNet_x2_0", 2.0, 6521512, 6522792),
    "pplcnet_x2_5": PPLCNetVariant("PPLCNet_x2_5", 2.5, 9017560, 9018840),
}


def find_variant(scale):
    """The registered name of this scale, or None."""
    for name, variant in VARIANTS.items():
        if variant.scale == scale:
            return name
    return None


# The tiny row for fast functional tests (the configuration of the lcnet_050_timm fixture).
TEST_CONFIG = {"scale": 0.5}
