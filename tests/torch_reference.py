"""The official VanillaNet forward pass written with torch.nn.functional from its description.

Checked against the reference fixtures (tests/test_torch_reference.py), then used where no
fixture exists (the ada_pool model) and as the PyTorch-eager baseline of the benchmarks.
State-dict names are the official ones.
"""

import numpy as np


def vanillanet_torch(sd, x, strides, act_num=3, ada_pool=None, act_learn=1.0):
    """Official VanillaNet logits in torch: `sd` maps official names to tensors, x is NCHW.

    Either form: the deploy graph if `stem.0.weight` is in `sd`, else the training graph.
    """
    import torch.nn.functional as F

    deploy = "stem.0.weight" in sd

    def conv(t, p, **kwargs):
        return F.conv2d(t, sd[f"{p}.weight"], sd[f"{p}.bias"], **kwargs)

    def bn(t, p):
        return F.batch_norm(
            t,
            sd[f"{p}.running_mean"],
            sd[f"{p}.running_var"],
            sd[f"{p}.weight"],
            sd[f"{p}.bias"],
            training=False,
            eps=1e-6,
        )

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
