"""The official VanillaNet forward pass written with torch.nn.functional from its description.

Used where no fixture exists (the ada_pool model's stride-3 stem and adaptive pools).
State-dict names are the official training-form names.
"""

import numpy as np


def vanillanet_forward(state, x_nhwc, strides, act_num=3, ada_pool=None, act_learn=1.0):
    import torch
    import torch.nn.functional as F

    sd = {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)

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
        return bn(F.conv2d(F.relu(t), w, padding=act_num, groups=w.shape[0]), f"{p}.bn")

    stride, padding = (3, 1) if ada_pool else (4, 0)
    x = bn(F.conv2d(x, sd["stem1.0.weight"], sd["stem1.0.bias"], stride, padding), "stem1.1")
    x = F.leaky_relu(x, act_learn)
    x = bn(F.conv2d(x, sd["stem2.0.weight"], sd["stem2.0.bias"]), "stem2.1")
    x = series(x, "stem2.2")
    for i, s in enumerate(strides):
        p = f"stages.{i}"
        x = bn(F.conv2d(x, sd[f"{p}.conv1.0.weight"], sd[f"{p}.conv1.0.bias"]), f"{p}.conv1.1")
        x = F.leaky_relu(x, act_learn)
        x = bn(F.conv2d(x, sd[f"{p}.conv2.0.weight"], sd[f"{p}.conv2.0.bias"]), f"{p}.conv2.1")
        if s != 1:
            x = (
                F.adaptive_max_pool2d(x, ada_pool[i])
                if ada_pool and ada_pool[i]
                else F.max_pool2d(x, s)
            )
        x = series(x, f"{p}.act")
    x = F.adaptive_avg_pool2d(x, 1)
    x = bn(F.conv2d(x, sd["cls1.2.weight"], sd["cls1.2.bias"]), "cls1.3")
    x = F.leaky_relu(x, act_learn)
    x = F.conv2d(x, sd["cls2.0.weight"], sd["cls2.0.bias"])
    return x.flatten(1).numpy()


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
