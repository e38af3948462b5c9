"""The PyTorch references of the benchmarks: the official / timm architectures written with
torch.nn.functional in tests/torch_reference.py (checked there against the reference fixtures:
VanillaNet, timm ConvNeXt, lcnet and dm_nfnet), random weights in the reference layout, and
their export as PyTorch users do it.

NFNet standardises its weights in the forward pass, as timm's ScaledStdConv2dSame does;
torch.onnx.export leaves that computation in the file (as it does timm's F.batch_norm form of
it), and onnxruntime constant-folds it when the session is created, so the graph it runs has
constant weights: for nfnet_f0 at 256², 81 Conv, each grouped convolution one Conv with
`group`."""

import numpy as np


def reference_as_module(function, state, **kwargs):
    """A torch.nn.Module running function(state tensors, x, **kwargs), for torch.onnx."""
    import torch

    class Reference(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.names = sorted(state)
            for i, key in enumerate(self.names):
                self.register_buffer(f"t{i}", torch.from_numpy(np.asarray(state[key])))

        def forward(self, x):
            sd = {key: getattr(self, f"t{i}") for i, key in enumerate(self.names)}
            return function(sd, x, **kwargs)

    return Reference().eval()


def vanillanet_reference(name, graph):
    from keras_minimal.applications.vanillanet.variants import VARIANTS
    from tests.torch_reference import (
        random_deploy_state_dict,
        random_training_state_dict,
        vanillanet_torch,
    )

    variant = VARIANTS[name]
    make_state = random_deploy_state_dict if graph == "deploy" else random_training_state_dict
    state = make_state(variant.dims, variant.strides, 1000)
    module = reference_as_module(
        vanillanet_torch, state, strides=variant.strides, ada_pool=variant.ada_pool
    )
    return module, "official VanillaNet architecture (torch.nn.functional)"


def timm_reference(function, description, **model_kwargs):
    """A reference in timm's layout, its random weights shaped by our checkpoint mapping."""

    def build(name, graph):
        import keras

        import keras_minimal
        from tests.torch_reference import random_reference_state

        with keras.StatelessScope(initialize_variables=False):
            model = keras_minimal.create_model(name, **model_kwargs)
        return reference_as_module(function, random_reference_state(model)), description

    return build


def _references():
    from tests import torch_reference

    references = {f"vanillanet_{d}": vanillanet_reference for d in range(5, 14)}
    convnext = timm_reference(torch_reference.convnext_torch, "timm ConvNeXt (torch.nn.functional)")
    lcnet = timm_reference(
        torch_reference.lcnet_torch, "timm lcnet (torch.nn.functional)", head_bias=True
    )
    for size in ("tiny", "small", "base", "large", "xlarge"):
        references[f"convnext_{size}"] = convnext
    nfnet = timm_reference(torch_reference.nfnet_torch, "timm dm_nfnet (torch.nn.functional)")
    for scale in ("0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5"):
        references[f"pplcnet_x{scale}"] = lcnet
    for index in range(8):
        references[f"nfnet_f{index}"] = nfnet
    return references


def reference_names():
    """The registered models that have a torch reference."""
    return sorted(_references())


def reference_module(name, graph="deploy"):
    """(torch module, description) of the reference architecture of registered model `name`."""
    return _references()[name](name, graph)


def export_reference_onnx(module, x, path):
    """torch.onnx.export of the reference as PyTorch users export it (opset 17, input "x")."""
    import torch

    torch.onnx.export(module, (x,), path, dynamo=False, opset_version=17, input_names=["x"])
