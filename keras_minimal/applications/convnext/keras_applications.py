"""keras.applications' ConvNeXt (keras/src/applications/convnext.py) ↔ our layers.

keras.applications names its layers after the model ("convnext_tiny_stem", …). Its weights
come named by layer (legacy .h5, a keras.Model) or in Keras 3's native naming (.weights.h5,
.keras: "layers/conv2d_5/vars/0", see keras_minimal.weights.keras_files); both are
translated to the layer names without the model-name prefix:

    stem/vars/0..3                      Sequential: Conv2D 4×4 kernel, bias, LayerNorm γ, β
    downsampling_block_{i}/vars/0..3    Sequential: LayerNorm γ, β, Conv2D 2×2 kernel, bias
                                        (our stages_{i+1}_downsample_norm, _downsample_conv)
    stage_{i}_block_{j}_depthwise_conv  Conv2D(groups=C): kernel (7, 7, 1, C), bias
    stage_{i}_block_{j}_layernorm, _pointwise_conv_1, _pointwise_conv_2, _layer_scale
    head_layernorm                      include_top: the head LayerNorm after the pooling;
                                        include_top=False: the LayerNorm that ends the model
                                        (unnamed in Keras: "layer_normalization[_n]")
    head_dense                          the classifier

Numerics: LayerNorm ε = 1e-6, exact (erf) GELU and layer scale x·γ as ours. Keras'
preprocessing, Normalization(mean=255·m, variance=(255·s)²), is ours, x/(255·s) − m/s,
written as one multiply-add: the two agree to float32 rounding, and carry no weights.
"""

import re

import numpy as np

from keras_minimal.applications.convnext.model import block_name, has_head_norm
from keras_minimal.applications.convnext.variants import VARIANTS
from keras_minimal.weights.conversions import IDENTITY, Conversion
from keras_minimal.weights.reference import ReferenceLayout, Target

# Conv2D(groups=C) kernel (kh, kw, 1, C) → DepthwiseConv2D kernel (kh, kw, C, 1).
GROUPED_TO_DEPTHWISE = Conversion(
    "keras_grouped_to_depthwise",
    lambda a: np.transpose(a, (0, 1, 3, 2)),
    lambda s: (s[0], s[1], s[3], s[2]),
)

_BLOCK_PARTS = ("depthwise_conv", "layernorm", "pointwise_conv_1", "pointwise_conv_2")
_HEAD = ("head_layernorm", "head_dense")
_DESCRIPTION = (
    "keras.applications ConvNeXt (its layer names without the model-name prefix: stem, "
    "downsampling_block_i, stage_i_block_j_*, head_layernorm, head_dense)"
)
# Paths that only a Keras 3 native file of keras.applications' ConvNeXt holds.
_NATIVE_MARKERS = (
    "layers/sequential/layers/conv2d/vars/0",
    "layers/sequential_1/layers/layer_normalization/vars/0",
    "layers/conv2d/vars/0",
)
_NATIVE_PATH = re.compile(r"layers/(?P<kind>[a-z0-9_]+?)(?:_(?P<count>\d+))?/(?P<rest>.+)")
_UNNAMED_NORM = re.compile(r"layer_normalization(?:_\d+)?/vars/(\d+)")


def _shape(value):
    """An array's shape, or the shape itself (keras_files.read_keras_file(names_only=True))."""
    return value if isinstance(value, tuple) else np.shape(value)


def _model_prefix(names):
    """keras.applications' model name ("convnext_tiny") from its layer names, or None."""
    for name in names:
        match = re.fullmatch(r"(.+)_stem/vars/0", name)
        if match and f"{match.group(1)}_stage_0_block_0_depthwise_conv/vars/0" in names:
            return match.group(1)
    return None


def _from_layer_names(checkpoint, prefix):
    unnamed_norms = {n.split("/")[0] for n in checkpoint if _UNNAMED_NORM.fullmatch(n)}
    renamed = {}
    for name, value in checkpoint.items():
        match = _UNNAMED_NORM.fullmatch(name)
        if name.startswith(prefix + "_"):
            name = name[len(prefix) + 1 :]
        elif match and len(unnamed_norms) == 1:
            name = f"head_layernorm/vars/{match.group(1)}"
        renamed[name] = value
    return renamed


def _native_blocks(checkpoint):
    """[(stage, block)] of the native file's depthwise convs, in order: a stage is a run of
    blocks of one width (keras.applications' widths grow from stage to stage)."""
    widths = []
    while True:
        path = f"layers/{_numbered('conv2d', len(widths))}/vars/0"
        if path not in checkpoint:
            break
        widths.append(_shape(checkpoint[path])[-1])
    blocks, stage, block = [], 0, 0
    for index, width in enumerate(widths):
        if index and width != widths[index - 1]:
            stage, block = stage + 1, 0
        blocks.append((stage, block))
        block += 1
    return blocks


def _numbered(kind, count):
    return kind if count == 0 else f"{kind}_{count}"


def _native_name(kind, count, rest, blocks):
    """Our canonical name for one native path, or None when it is not a ConvNeXt weight."""
    inner = re.fullmatch(r"layers/(conv2d|layer_normalization)/vars/(\d)", rest)
    if kind == "sequential" and inner:
        conv_first = count == 0  # the stem: conv then norm; downsampling: norm then conv
        offset = 0 if (inner.group(1) == "conv2d") == conv_first else 2
        owner = "stem" if count == 0 else f"downsampling_block_{count - 1}"
        return f"{owner}/vars/{int(inner.group(2)) + offset}"
    if not rest.startswith("vars/"):
        return None
    n = len(blocks)
    block, part = None, None
    if kind == "conv2d" and count < n:
        block, part = count, "depthwise_conv"
    elif kind == "layer_normalization":
        if count == n:
            return f"head_layernorm/{rest}"
        block, part = count, "layernorm"
    elif kind == "dense":
        if count == 2 * n:
            return f"head_dense/{rest}"
        block, part = count // 2, f"pointwise_conv_{count % 2 + 1}"
    elif kind == "layer_scale":
        block, part = count, "layer_scale"
    if block is None or block >= n:
        return None
    stage, index = blocks[block]
    return f"stage_{stage}_block_{index}_{part}/{rest}"


def _from_native(checkpoint):
    blocks = _native_blocks(checkpoint)
    renamed = {}
    for path, value in checkpoint.items():
        match = _NATIVE_PATH.fullmatch(path)
        name = None
        if match:
            count = int(match.group("count") or 0)
            name = _native_name(match.group("kind"), count, match.group("rest"), blocks)
        renamed[name or path] = value
    return renamed


def keras_names(checkpoint):
    """`checkpoint` (keras_files' naming) in the canonical names of the module docstring;
    unchanged when it is not recognisably a keras.applications ConvNeXt."""
    if all(marker in checkpoint for marker in _NATIVE_MARKERS):
        return _from_native(checkpoint)
    prefix = _model_prefix(checkpoint)
    if prefix is None:
        return checkpoint
    return _from_layer_names(checkpoint, prefix)


def _vars(owner, variables, conversions=None):
    conversions = conversions or [IDENTITY] * len(variables)
    return {
        f"{owner}/vars/{index}": Target(variable, conversion)
        for index, (variable, conversion) in enumerate(zip(variables, conversions, strict=True))
    }


def _targets(model, config):
    get = model.get_layer
    stem_conv, stem_norm = get("stem_conv"), get("stem_norm")
    targets = _vars("stem", [stem_conv.kernel, stem_conv.bias, stem_norm.gamma, stem_norm.beta])
    for i, depth in enumerate(config["depths"]):
        if i > 0:
            norm = get(f"stages_{i}_downsample_norm")
            conv = get(f"stages_{i}_downsample_conv")
            targets.update(
                _vars(
                    f"downsampling_block_{i - 1}",
                    [norm.gamma, norm.beta, conv.kernel, conv.bias],
                )
            )
        for j in range(depth):
            ours, theirs = block_name(i, j), f"stage_{i}_block_{j}"
            dwconv = get(f"{ours}_dwconv")
            targets.update(
                _vars(
                    f"{theirs}_depthwise_conv",
                    [dwconv.kernel, dwconv.bias],
                    [GROUPED_TO_DEPTHWISE, IDENTITY],
                )
            )
            norm = get(f"{ours}_norm")
            targets.update(_vars(f"{theirs}_layernorm", [norm.gamma, norm.beta]))
            for index in (1, 2):
                dense = get(f"{ours}_pwconv{index}")
                targets.update(
                    _vars(f"{theirs}_pointwise_conv_{index}", [dense.kernel, dense.bias])
                )
            if config["layer_scale_init_value"]:
                targets.update(_vars(f"{theirs}_layer_scale", [get(f"{ours}_layer_scale").gamma]))
    if has_head_norm(config):
        norm = get("head_norm")
        targets.update(_vars("head_layernorm", [norm.gamma, norm.beta]))
    if config["include_top"]:
        dense = get("predictions")
        targets.update(_vars("head_dense", [dense.kernel, dense.bias]))
    return targets


def _skippable(config):
    """Without our top, Keras' classifier is left out (as Keras' include_top=False does),
    with its head LayerNorm where we have none."""
    head = {"head_dense/vars/0", "head_dense/vars/1"}
    if not has_head_norm(config):
        head |= {"head_layernorm/vars/0", "head_layernorm/vars/1"}
    return lambda name: not config["include_top"] and name in head


def _diagnose(config):
    def diagnose(names):
        ends_in_norm = "head_layernorm/vars/0" in names and "head_dense/vars/0" not in names
        if has_head_norm(config) or not ends_in_norm:
            return None
        return (
            "The Keras model was built with include_top=False, so its output ends in a "
            "LayerNormalization; this model (include_top=False, pooling=None) has none: it "
            "returns the last stage's map, as timm's forward_features. To reproduce the Keras "
            "model, build this one with its pooling: feature_norm=True for pooling=None, "
            'pooling="avg" or "max" otherwise. Received: weights ending in head_layernorm '
            "without head_dense, for a model built with include_top=False, pooling=None."
        )

    return diagnose


def architecture(checkpoint):
    """(depths, dims) of a keras.applications ConvNeXt in canonical names, or None."""
    stages = {}
    for name, value in checkpoint.items():
        match = re.fullmatch(r"stage_(\d+)_block_(\d+)_depthwise_conv/vars/0", name)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            depth, _ = stages.get(stage, (0, 0))
            stages[stage] = (max(depth, block + 1), _shape(value)[-1])
    if not stages or sorted(stages) != list(range(len(stages))):
        return None
    return [stages[i][0] for i in sorted(stages)], [stages[i][1] for i in sorted(stages)]


def _hint(config):
    def hint(problems, checkpoint):
        found = architecture(checkpoint)
        ours = (list(config["depths"]), list(config["dims"]))
        if found is None:
            return f"This does not look like a {_DESCRIPTION}."
        if found != ours:
            names = [n for n, v in VARIANTS.items() if (list(v.depths), list(v.dims)) == found]
            return (
                f"The Keras model has depths={found[0]} dims={found[1]}"
                + (f" ({' or '.join(names)})" if names else "")
                + f"; this model has depths={ours[0]} dims={ours[1]}."
            )
        if any(n.endswith("_layer_scale/vars/0") for n in problems["unexpected"]):
            return (
                "The Keras model has layer scale; build this one with layer_scale_init_value=1e-6."
            )
        return None

    return hint


def reference_layout(model):
    """The keras.applications layout of `model` (a ConvNeXt of ours) for `plan_assignments`."""
    config = model.builder_config
    return ReferenceLayout(
        description=(
            f"{model.variant or 'this ConvNeXt'} (depths={config['depths']}, "
            f"dims={config['dims']}, include_top={config['include_top']}, "
            f"pooling={config['pooling']}) read as a {_DESCRIPTION}"
        ),
        targets=_targets(model, config),
        skippable=_skippable(config),
        diagnose=_diagnose(config),
        hint=_hint(config),
        translate=keras_names,
    )
