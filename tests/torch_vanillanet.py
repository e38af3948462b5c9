"""The official VanillaNet training graph as a trainable torch.nn.Module.

The PyTorch side of benchmarks/gpu_training_throughput.py where the official repository is
not at hand (the GPU machine cannot fetch it). Parameters and BatchNorm statistics carry the
official state-dict names, so an official checkpoint loads with strict=True; the forward pass
is tests/torch_reference.vanillanet_torch, which reproduces the official fixtures.
"""

import torch

from tests.torch_reference import random_training_state_dict, vanillanet_torch

_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


class VanillaNetTorch(torch.nn.Module):
    """Training-graph VanillaNet; `act_learn` is the deep-training λ, as in the official code."""

    def __init__(self, state, strides, act_num=3, ada_pool=None, act_learn=1.0):
        super().__init__()
        self.strides, self.act_num, self.ada_pool = list(strides), act_num, ada_pool
        self.act_learn = act_learn
        self._slots = []
        for name, value in state.items():
            owner, attribute = self._owner(name)
            tensor = torch.as_tensor(value).clone()
            if attribute in _STATISTICS:
                owner.register_buffer(attribute, tensor)
            else:
                owner.register_parameter(attribute, torch.nn.Parameter(tensor))
            self._slots.append((name, owner, attribute))

    def _owner(self, name):
        """The submodule that holds `name` (created along the dotted path) and the leaf name."""
        *path, attribute = name.split(".")
        module = self
        for part in path:
            if not hasattr(module, part):
                module.add_module(part, torch.nn.Module())
            module = getattr(module, part)
        return module, attribute

    def forward(self, x):
        tensors = {name: getattr(owner, attribute) for name, owner, attribute in self._slots}
        return vanillanet_torch(
            tensors,
            x,
            self.strides,
            self.act_num,
            self.ada_pool,
            self.act_learn,
            training=self.training,
        )


def vanillanet_torch_model(name, classes=1000, seed=0):
    """A registered VanillaNet variant (e.g. "vanillanet_5") with random weights."""
    from keras_minimal.applications.vanillanet.variants import VARIANTS

    variant = VARIANTS[name]
    state = random_training_state_dict(variant.dims, variant.strides, classes, seed=seed)
    return VanillaNetTorch(state, variant.strides, ada_pool=variant.ada_pool)
