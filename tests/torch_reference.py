"""The reference architectures written with torch.nn.functional from their descriptions: the
official VanillaNet, timm's ConvNeXt, lcnet (PP-LCNet) and dm_nfnet (NFNet).

Checked against the reference fixtures (tests/test_torch_reference.py) and, on random weights,
against our models (tests/applications/test_*_torch_parity.py); then used where no fixture
exists (the ada_pool model) and as the PyTorch baselines of the benchmarks
(benchmarks/torch_references.py). State-dict names are the official / timm ones.
"""

import numpy as np


def _batch_norm(sd, t, p, eps, training=False):
    """BatchNorm of t with the running statistics and affine of `p` in `sd`.

    Inference by default; with `training`, batch statistics (the running ones are updated
    in place, momentum 0.1 as torch.nn.BatchNorm2d).
    """
    import torch.nn.functional as F

    return F.batch_norm(
        t,
        sd[f"{p}.running_mean"],
        sd[f"{p}.running_var"],
        sd[f"{p}.weight"],
        sd[f"{p}.bias"],
        training=training,
        eps=eps,
    )


def vanillanet_torch(sd, x, strides, act_num=3, ada_pool=None, act_learn=1.0, training=False):
    """Official VanillaNet logits in torch: `sd` maps official names to tensors, x is NCHW.

    Either form: the deploy graph if `stem.0.weight` is in `sd`, else the training graph
    (whose BatchNorms use batch statistics when `training`; dropout is 0 as in the fixtures).
    """
    import torch.nn.functional as F

    deploy = "stem.0.weight" in sd

    def conv(t, p, **kwargs):
        return F.conv2d(t, sd[f"{p}.weight"], sd[f"{p}.bias"], **kwargs)

    def bn(t, p):
        return _batch_norm(sd, t, p, eps=1e-6, training=training)

    def series(t, p):
        w = sd[f"{p}.weight"]
        out = F.conv2d(F.relu(t), w, sd.get(f"{p}.bias"), padding=act_num, groups=w.shape[0])
        return out if deploy else bn(out, f"{p}.bn")

    def pointwise_pair(t, first, second):
        t = F.leaky_relu(first(t), act_learn)
        return second(t)

    stride, padding = (3, 1) if ada_pool else (4, 0)
    if deploy:
        x = series(conv(x, "stem.0", stride=stride, padding=padding), "stem.1")
    else:
        x = pointwise_pair(
            x,
            lambda t: bn(conv(t, "stem1.0", stride=stride, padding=padding), "stem1.1"),
            lambda t: bn(conv(t, "stem2.0"), "stem2.1"),
        )
        x = series(x, "stem2.2")
    for i, s in enumerate(strides):
        p = f"stages.{i}"
        if deploy:
            x = conv(x, f"{p}.conv")
        else:
            x = pointwise_pair(
                x,
                lambda t, p=p: bn(conv(t, f"{p}.conv1.0"), f"{p}.conv1.1"),
                lambda t, p=p: bn(conv(t, f"{p}.conv2.0"), f"{p}.conv2.1"),
            )
        if s != 1:
            use_ada = ada_pool and ada_pool[i]
            x = F.adaptive_max_pool2d(x, ada_pool[i]) if use_ada else F.max_pool2d(x, s)
        x = series(x, f"{p}.act")
    x = F.adaptive_avg_pool2d(x, 1)
    if deploy:
        x = conv(x, "cls.2")
    else:
        x = pointwise_pair(
            x, lambda t: bn(conv(t, "cls1.2"), "cls1.3"), lambda t: conv(t, "cls2.0")
        )
    return x.flatten(1)


def vanillanet_forward(state, x_nhwc, strides, act_num=3, ada_pool=None, act_learn=1.0):
    """Logits of the official VanillaNet in either form, numpy in and out."""
    import torch

    sd = {k: torch.as_tensor(np.asarray(v)) for k, v in state.items()}
    x = torch.as_tensor(x_nhwc).permute(0, 3, 1, 2)
    with torch.no_grad():
        return vanillanet_torch(sd, x, strides, act_num, ada_pool, act_learn).numpy()


def random_deploy_state_dict(dims, strides, classes, act_num=3, seed=0):
    """A deploy-form official state dict with random weights (for timing)."""
    rng = np.random.default_rng(seed)
    k = 2 * act_num + 1
    state = {}

    def add(p, shape):
        state[f"{p}.weight"] = rng.normal(0, 0.05, shape).astype("float32")
        state[f"{p}.bias"] = rng.normal(0, 0.05, shape[0]).astype("float32")

    add("stem.0", (dims[0], 3, 4, 4))
    add("stem.1", (dims[0], 1, k, k))
    for i in range(len(strides)):
        add(f"stages.{i}.conv", (dims[i + 1], dims[i], 1, 1))
        add(f"stages.{i}.act", (dims[i + 1], 1, k, k))
    add("cls.2", (classes, dims[-1], 1, 1))
    return state


def random_training_state_dict(dims, strides, classes, act_num=3, seed=0):
    """A training-form official state dict with random weights and BN statistics."""
    rng = np.random.default_rng(seed)
    k = 2 * act_num + 1
    state = {}

    def conv(p, cout, cin, kh):
        state[f"{p}.weight"] = rng.normal(0, 0.3, (cout, cin, kh, kh)).astype("float32")
        state[f"{p}.bias"] = rng.normal(0, 0.1, cout).astype("float32")

    def bn(p, n):
        state[f"{p}.weight"] = rng.uniform(0.5, 1.5, n).astype("float32")
        state[f"{p}.bias"] = rng.normal(0, 0.2, n).astype("float32")
        state[f"{p}.running_mean"] = rng.normal(0, 0.2, n).astype("float32")
        state[f"{p}.running_var"] = rng.uniform(0.5, 2.0, n).astype("float32")
        state[f"{p}.num_batches_tracked"] = np.array(7, dtype="int64")

    conv("stem1.0", dims[0], 3, 4)
    bn("stem1.1", dims[0])
    conv("stem2.0", dims[0], dims[0], 1)
    bn("stem2.1", dims[0])
    state["stem2.2.weight"] = rng.normal(0, 0.3, (dims[0], 1, k, k)).astype("float32")
    bn("stem2.2.bn", dims[0])
    for i in range(len(strides)):
        conv(f"stages.{i}.conv1.0", dims[i], dims[i], 1)
        bn(f"stages.{i}.conv1.1", dims[i])
        conv(f"stages.{i}.conv2.0", dims[i + 1], dims[i], 1)
        bn(f"stages.{i}.conv2.1", dims[i + 1])
        state[f"stages.{i}.act.weight"] = rng.normal(0, 0.3, (dims[i + 1], 1, k, k)).astype(
            "float32"
        )
        bn(f"stages.{i}.act.bn", dims[i + 1])
    conv("cls1.2", classes, dims[-1], 1)
    bn("cls1.3", classes)
    conv("cls2.0", classes, classes, 1)
    return state


def convnext_torch(sd, x):
    """timm ConvNeXt logits (names of timm's convnext_*; depths read off `sd`), x NCHW."""
    import torch.nn.functional as F

    def layer_norm_2d(t, p):
        t = t.permute(0, 2, 3, 1)
        t = F.layer_norm(t, t.shape[-1:], sd[f"{p}.weight"], sd[f"{p}.bias"], eps=1e-6)
        return t.permute(0, 3, 1, 2)

    x = F.conv2d(x, sd["stem.0.weight"], sd["stem.0.bias"], stride=4)
    x = layer_norm_2d(x, "stem.1")
    stage = 0
    while f"stages.{stage}.blocks.0.gamma" in sd:
        if f"stages.{stage}.downsample.0.weight" in sd:
            x = layer_norm_2d(x, f"stages.{stage}.downsample.0")
            p = f"stages.{stage}.downsample.1"
            x = F.conv2d(x, sd[f"{p}.weight"], sd[f"{p}.bias"], stride=2)
        block = 0
        while f"stages.{stage}.blocks.{block}.gamma" in sd:
            p = f"stages.{stage}.blocks.{block}"
            w = sd[f"{p}.conv_dw.weight"]
            y = F.conv2d(x, w, sd[f"{p}.conv_dw.bias"], padding=3, groups=w.shape[0])
            y = y.permute(0, 2, 3, 1)
            y = F.layer_norm(
                y, y.shape[-1:], sd[f"{p}.norm.weight"], sd[f"{p}.norm.bias"], eps=1e-6
            )
            y = F.gelu(F.linear(y, sd[f"{p}.mlp.fc1.weight"], sd[f"{p}.mlp.fc1.bias"]))
            y = F.linear(y, sd[f"{p}.mlp.fc2.weight"], sd[f"{p}.mlp.fc2.bias"]) * sd[f"{p}.gamma"]
            x = x + y.permute(0, 3, 1, 2)
            block += 1
        stage += 1
    x = x.mean(dim=(2, 3))
    x = F.layer_norm(x, x.shape[-1:], sd["head.norm.weight"], sd["head.norm.bias"], eps=1e-6)
    return F.linear(x, sd["head.fc.weight"], sd["head.fc.bias"])


# Stride of the first block of each of timm's six lcnet stages (timm splits PP-LCNet's blocks5
# into a stride-2 3×3 block and five 5×5 blocks).
LCNET_STAGE_STRIDES = (1, 2, 2, 2, 1, 2)


def lcnet_torch(sd, x):
    """timm lcnet_* logits (PP-LCNet; widths and SE read off `sd`), x NCHW."""
    import torch.nn.functional as F

    def bn(t, p):
        return _batch_norm(sd, t, p, eps=1e-5)

    x = F.hardswish(bn(F.conv2d(x, sd["conv_stem.weight"], stride=2, padding=1), "bn1"))
    stage = 0
    while f"blocks.{stage}.0.conv_dw.weight" in sd:
        block = 0
        while f"blocks.{stage}.{block}.conv_dw.weight" in sd:
            p = f"blocks.{stage}.{block}"
            w = sd[f"{p}.conv_dw.weight"]
            stride = LCNET_STAGE_STRIDES[stage] if block == 0 else 1
            x = F.conv2d(x, w, stride=stride, padding=w.shape[-1] // 2, groups=w.shape[0])
            x = F.hardswish(bn(x, f"{p}.bn1"))
            if f"{p}.se.conv_reduce.weight" in sd:
                s = x.mean(dim=(2, 3), keepdim=True)
                s = F.relu(
                    F.conv2d(s, sd[f"{p}.se.conv_reduce.weight"], sd[f"{p}.se.conv_reduce.bias"])
                )
                s = F.conv2d(s, sd[f"{p}.se.conv_expand.weight"], sd[f"{p}.se.conv_expand.bias"])
                x = x * F.relu6(s + 3.0) / 6.0
            x = F.hardswish(bn(F.conv2d(x, sd[f"{p}.conv_pw.weight"]), f"{p}.bn2"))
            block += 1
        stage += 1
    x = x.mean(dim=(2, 3), keepdim=True)
    x = F.hardswish(F.conv2d(x, sd["conv_head.weight"], sd.get("conv_head.bias")))
    return F.linear(x.flatten(1), sd["classifier.weight"], sd["classifier.bias"])


# timm's _nonlin_gamma["gelu"]: γ with γ·gelu(x) of unit variance for x ~ N(0, 1).
TIMM_GELU_GAMMA = 1.7015043497085571


def _same_padding(size, kernel, stride):
    """(before, after) of TF "SAME" padding along one side, as timm's pad_same."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def nfnet_torch(sd, x, alpha=0.2, eps=1e-5):
    """timm dm_nfnet_* logits (NormFreeNet, eval mode; widths and depths read off `sd`), x NCHW.

    ScaledStdConv2dSame: each kernel standardised per output channel from the weights on every
    call, ŵ = gain·(w − mean)/(sqrt(var + eps)·sqrt(fan_in)), TF "SAME" padding (explicit F.pad
    where it is asymmetric, as timm's pad_same); activations γ·gelu(x); NormFreeBlock:
    out = β·act1(x), shortcut = x or DownsampleAvg(out), conv1 → conv2 → conv2b → conv3 (acts
    between), SE on the last, ×2 (attn_gain), × skipinit_gain, × α, + shortcut.
    """
    import torch
    import torch.nn.functional as F

    def act(t):
        return F.gelu(t) * TIMM_GELU_GAMMA

    def conv(t, p, stride=1):
        w = sd[f"{p}.weight"]
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        fan_in = w[0].numel()
        w = (w - mean) * torch.rsqrt(var + eps) * (sd[f"{p}.gain"] * fan_in**-0.5)
        kernel = w.shape[-1]
        groups = t.shape[1] // w.shape[1]
        if stride == 1:
            return F.conv2d(t, w, sd[f"{p}.bias"], padding=kernel // 2, groups=groups)
        top, bottom = _same_padding(t.shape[-2], kernel, stride)
        left, right = _same_padding(t.shape[-1], kernel, stride)
        t = F.pad(t, (left, right, top, bottom))
        return F.conv2d(t, w, sd[f"{p}.bias"], stride=stride, groups=groups)

    x = conv(x, "stem.conv1", stride=2)
    x = conv(act(x), "stem.conv2")
    x = conv(act(x), "stem.conv3")
    x = conv(act(x), "stem.conv4", stride=2)
    expected_var = 1.0
    stage = 0
    while f"stages.{stage}.0.conv1.weight" in sd:
        block = 0
        while f"stages.{stage}.{block}.conv1.weight" in sd:
            p = f"stages.{stage}.{block}"
            stride = 2 if stage > 0 and block == 0 else 1
            out = act(x) * expected_var**-0.5
            shortcut = x
            if f"{p}.downsample.conv.weight" in sd:
                shortcut = out
                if stride > 1:
                    shortcut = F.avg_pool2d(
                        shortcut, 2, stride, ceil_mode=True, count_include_pad=False
                    )
                shortcut = conv(shortcut, f"{p}.downsample.conv")
            out = conv(out, f"{p}.conv1")
            out = conv(act(out), f"{p}.conv2", stride=stride)
            out = conv(act(out), f"{p}.conv2b")
            out = conv(act(out), f"{p}.conv3")
            s = out.mean(dim=(2, 3), keepdim=True)
            s = F.relu(F.conv2d(s, sd[f"{p}.attn_last.fc1.weight"], sd[f"{p}.attn_last.fc1.bias"]))
            s = F.conv2d(s, sd[f"{p}.attn_last.fc2.weight"], sd[f"{p}.attn_last.fc2.bias"])
            out = 2.0 * out * torch.sigmoid(s)
            x = out * sd[f"{p}.skipinit_gain"] * alpha + shortcut
            if block == 0:
                expected_var = 1.0  # reset after the first block of each stage (timm)
            expected_var += alpha**2
            block += 1
        stage += 1
    x = act(conv(x, "final_conv"))
    return F.linear(x.mean(dim=(2, 3)), sd["head.fc.weight"], sd["head.fc.bias"])


def run_torch(function, state, x_nhwc):
    """numpy in and out around a *_torch reference function."""
    import torch

    sd = {k: torch.as_tensor(np.asarray(v)) for k, v in state.items()}
    with torch.no_grad():
        return function(sd, torch.as_tensor(x_nhwc).permute(0, 3, 1, 2)).numpy()


def random_reference_state(model, seed=0):
    """A state dict in the model's reference layout (official / timm names and shapes)."""
    from keras_minimal import model_families

    rng = np.random.default_rng(seed)
    layout = model_families.registered_families()[model.family].reference_layout(model)
    state = {}
    for name, target in layout.targets.items():
        shape = target.conversion.reference_shape(tuple(target.variable.shape))
        if name.endswith("running_var"):
            state[name] = rng.uniform(0.5, 1.5, shape).astype("float32")
        else:
            state[name] = rng.normal(0, 0.05, shape).astype("float32")
    return state


def lively_state(model, seed=0):
    """A reference-layout state whose activations neither fade nor explode through the network.

    Kernels N(0, 3/fan_in) (a little above He, for hard-swish), norm and BatchNorm scales and
    NFNet's gains U(0.5, 1.5), biases and running means N(0, 0.1), running variances
    U(0.5, 1.5), ConvNeXt's γ U(0.5, 1).
    """
    rng = np.random.default_rng(seed)
    state = {}
    for name, array in random_reference_state(model).items():
        shape = array.shape
        if name.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("running_mean", ".bias")):
            value = rng.normal(0, 0.1, shape)
        elif name.endswith("gamma"):
            value = rng.uniform(0.5, 1.0, shape)
        elif len(shape) == 1 or name.endswith("gain"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0, np.sqrt(3.0 / np.prod(shape[1:])), shape)
        state[name] = value.astype("float32")
    return state


def random_images(side, contrast=1.0):
    """Two N(0, contrast²) NHWC images of side × side."""
    x = np.random.default_rng(1).normal(size=(2, side, side, 3))
    return (contrast * x).astype("float32")


def assert_depends_on_input(function, state, x):
    """The reference logits of x, after checking they are not (nearly) those of a blank image:
    weights under which the input fades would hide bugs on the input path."""
    reference = run_torch(function, state, x)
    blank = run_torch(function, state, np.zeros_like(x))
    assert np.max(np.abs(reference - blank)) > 0.05 * np.max(np.abs(reference))
    return reference


def assert_reproduces_reference(model, function, x, deploy=True):
    """`model`, loaded with lively random weights in the reference layout, computes what the
    reference `function` computes on x (checked to depend on x), and so does its deploy graph
    (everything folded by to_deploy) unless deploy=False."""
    from keras_minimal.deploy import to_deploy
    from keras_minimal.weights import load_reference
    from tests.helpers import assert_matches_reference

    state = lively_state(model)
    reference = assert_depends_on_input(function, state, x)
    load_reference(model, state)
    assert_matches_reference(model(x, training=False), reference)
    if deploy:
        assert_matches_reference(to_deploy(model)(x, training=False), reference)
