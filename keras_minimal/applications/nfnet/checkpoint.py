"""Reference NFNet checkpoints ↔ our layers: timm's dm_nfnet_* and DeepMind's Haiku names.

timm (dm_nfnet_f0 … f6, and the fixtures): stem.conv{1-4}, stages.{s}.{b}.{conv1, conv2,
conv2b, conv3, downsample.conv}.{weight, bias, gain}, stages.{s}.{b}.attn_last.fc{1,2},
stages.{s}.{b}.skipinit_gain, final_conv, head.fc.

DeepMind (the official Haiku code, nfnets/nfnet.py): module paths such as
NFNet/~/stem_conv0, NFNet/~/nf_block_3/~/conv1b, NFNet/~/nf_block_3/~/squeeze_excite/~/linear_1,
NFNet/~/final_conv and NFNet/~/linear, with parameters w, b, bias, gain and skip_gain. A
flat mapping or .npz keyed "<module>/<param>" (NFNet/~/nf_block/~/conv0/w) or in the dotted
form of DeepMind's utils.flatten_haiku_tree (NFNet.nf_block.conv0.w) is translated to timm's
names here; so is DeepMind's own release, F0_haiku.npz … F6_haiku.npz (dill pickles of the
Haiku tree, read by keras_minimal.weights.haiku_pickle). Conv kernels are HWIO there,
Linear ones (in, out), gains (out,), the skip gain a scalar; the module names follow Haiku's
numbering: nf_block, nf_block_1, …; in each SE block linear (fc0) and linear_1 (fc1).

The names fix the shapes, not the numerics: DeepMind's weights reproduce DeepMind's outputs
in a model built with reference="deepmind" (tanh GELU and DeepMind's weight
standardisation, references.py); in timm's form they give timm's port of them.
"""

import re

import numpy as np

from keras_minimal.applications.nfnet.variants import VARIANTS
from keras_minimal.weights.conversions import (
    CONV2D,
    DENSE,
    DENSE_FROM_CONV1X1,
    IDENTITY,
    Conversion,
)
from keras_minimal.weights.reference import ReferenceLayout, Target, weight_and_bias_targets

# ScaledStdConv2d gain (out, 1, 1, 1) → WSConv2D gain (out,).
WS_GAIN = Conversion("ws_gain", lambda a: a.reshape(-1), lambda s: (s[0], 1, 1, 1))

_BLOCK_CONVS = ("conv1", "conv2", "conv2b", "conv3")
_NF_BLOCK_CONV1 = re.compile(r"stages\.\d+\.\d+\.conv1\.weight")


def _ws_conv_targets(prefix, layer):
    targets = weight_and_bias_targets(prefix, layer, CONV2D)
    targets[f"{prefix}.gain"] = Target(layer.gain, WS_GAIN)
    return targets


def _targets(model, config):
    get = model.get_layer
    layer_names = {layer.name for layer in model.layers}
    targets = {}
    for i in range(1, 5):
        targets.update(_ws_conv_targets(f"stem.conv{i}", get(f"stem_conv{i}")))
    for stage, depth in enumerate(config["depths"]):
        for index in range(depth):
            ours, theirs = f"stages_{stage}_{index}", f"stages.{stage}.{index}"
            for conv in _BLOCK_CONVS:
                targets.update(_ws_conv_targets(f"{theirs}.{conv}", get(f"{ours}_{conv}")))
            if f"{ours}_downsample_conv" in layer_names:
                targets.update(
                    _ws_conv_targets(f"{theirs}.downsample.conv", get(f"{ours}_downsample_conv"))
                )
            for fc in ("fc1", "fc2"):
                targets.update(
                    weight_and_bias_targets(
                        f"{theirs}.attn_last.{fc}", get(f"{ours}_se_{fc}"), DENSE_FROM_CONV1X1
                    )
                )
            targets[f"{theirs}.skipinit_gain"] = Target(
                get(f"{ours}_skip_gain").skip_gain, IDENTITY
            )
    targets.update(_ws_conv_targets("final_conv", get("final_conv")))
    if config["include_top"]:
        targets.update(weight_and_bias_targets("head.fc", get("predictions"), DENSE))
    return targets


# ---- DeepMind Haiku names → timm names -------------------------------------------------

_HAIKU_BLOCK_MODULES = {
    ("conv0",): "conv1",
    ("conv1",): "conv2",
    ("conv1b",): "conv2b",
    ("conv2",): "conv3",
    ("conv_shortcut",): "downsample.conv",
    ("squeeze_excite", "linear"): "attn_last.fc1",
    ("squeeze_excite", "linear_1"): "attn_last.fc2",
}
_HAIKU_PARAMS = {"w": "weight", "b": "bias", "bias": "bias", "gain": "gain"}


def is_haiku_checkpoint(names):
    return any(name.startswith(("NFNet/", "NFNet.")) for name in names)


def _haiku_array(module, param, array):
    """A Haiku parameter in timm's layout."""
    if param == "gain":
        return array.reshape(-1, 1, 1, 1)
    if param != "w":
        return array
    if array.ndim == 4:  # HWIO → OIHW
        return np.transpose(array, (3, 2, 0, 1))
    if ".attn_last." in module:  # SE Linear (in, out) → timm 1×1 conv (out, in, 1, 1)
        return array.T[:, :, None, None]
    return array.T  # Linear (in, out) → (out, in)


def _haiku_module(parts, block_names):
    """timm module name for the Haiku module path `parts` (after NFNet), or None."""
    head = parts[0]
    if len(parts) == 1 and re.fullmatch(r"stem_conv\d", head):
        return f"stem.conv{int(head[-1]) + 1}"
    if len(parts) == 1 and head in ("final_conv", "linear"):
        return "final_conv" if head == "final_conv" else "head.fc"
    match = re.fullmatch(r"nf_block(?:_(\d+))?", head)
    if match:
        index = int(match.group(1) or 0)
        if index < len(block_names):
            if len(parts) == 1:
                return block_names[index]
            module = _HAIKU_BLOCK_MODULES.get(tuple(parts[1:]))
            if module:
                return f"{block_names[index]}.{module}"
    return None


def haiku_translator(depths):
    """checkpoint → checkpoint with DeepMind's Haiku names mapped onto timm's (else unchanged)."""
    block_names = [f"stages.{s}.{b}" for s, depth in enumerate(depths) for b in range(depth)]

    def translate(checkpoint):
        if not is_haiku_checkpoint(checkpoint):
            return checkpoint
        translated = {}
        for name, array in checkpoint.items():
            parts = [p for p in re.split(r"/~/|/|\.", name) if p]
            module = None
            if parts[0] == "NFNet" and len(parts) >= 3:
                module = _haiku_module(parts[1:-1], block_names)
            param = parts[-1]
            if module is None or (param not in _HAIKU_PARAMS and param != "skip_gain"):
                translated[name] = array  # reported as unexpected
            elif param == "skip_gain":
                translated[f"{module}.skipinit_gain"] = array
            else:
                translated[f"{module}.{_HAIKU_PARAMS[param]}"] = _haiku_array(
                    module, param, np.asarray(array)
                )
        return translated

    return translate


# ---- diagnosis -------------------------------------------------------------------------


def _diagnose(deploy):
    def diagnose(names):
        if deploy:
            return (
                "This NFNet is the deploy graph (weight standardisation folded into plain "
                "convolutions), which reference checkpoints do not describe. Build the model "
                "with deploy=False, load the checkpoint there, then fold it with "
                "keras_minimal.deploy.to_deploy(model)."
            )
        # NormFreeNet blocks are stages.<stage>.<block>.conv1 (VanillaNet and ConvNeXt also
        # have stages.* names, but not that one).
        is_norm_free_net = any(_NF_BLOCK_CONV1.fullmatch(n) for n in names)
        if not is_norm_free_net or any(n.endswith("skipinit_gain") for n in names):
            return None
        stem = (
            "a single-convolution stem (NF-ResNet / NF-RegNet)"
            if "stem.conv.weight" in names
            else "no stages.*.skipinit_gain"
        )
        return (
            f"This is a checkpoint of a timm (non-dm) NormFreeNet ({stem}): timm's nfnet_*, "
            "eca_nfnet_* and nf_* models use symmetric padding and fold the activation gain "
            "into their convolutions, so their weights do not fit the DeepMind layout this "
            "model implements (TF 'SAME' padding, gains in the activations, SkipInit gains), "
            "which is timm's dm_nfnet_* layout. Load a dm_nfnet_* checkpoint (or DeepMind's "
            "F*_haiku.npz) instead."
        )

    return diagnose


def checkpoint_depths(checkpoint):
    """Blocks per stage of a timm-named NFNet checkpoint."""
    depths = []
    while f"stages.{len(depths)}.0.conv1.weight" in checkpoint:
        stage = len(depths)
        depths.append(
            1 + max(int(n.split(".")[2]) for n in checkpoint if n.startswith(f"stages.{stage}."))
        )
    return depths


def _hint(config):
    def hint(problems, checkpoint):
        depths = checkpoint_depths(checkpoint)
        if depths and depths != list(config["depths"]):
            names = [n for n, v in VARIANTS.items() if list(v.depths) == depths]
            return (
                f"The checkpoint has depths={depths}"
                + (f" ({' or '.join(names)})" if names else "")
                + f"; this model has depths={config['depths']}."
            )
        return None

    return hint


def reference_layout(model):
    config = model.builder_config
    include_top = config["include_top"]
    return ReferenceLayout(
        description=(
            f"{model.variant or 'this NFNet'} (depths={config['depths']}, "
            f"channels={config['channels']}, group_size={config['group_size']}, "
            f"include_top={include_top})"
        ),
        targets={} if config["deploy"] else _targets(model, config),
        skippable=lambda name: not include_top and name.startswith("head."),
        diagnose=_diagnose(config["deploy"]),
        hint=_hint(config),
        translate=haiku_translator(config["depths"]),
    )
