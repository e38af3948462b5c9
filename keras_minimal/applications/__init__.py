"""Public model constructors (keras.applications style) and the model registry."""

from keras_minimal.applications import families
from keras_minimal.applications.backbone import BackboneModel
from keras_minimal.applications.nfnet import CONSTRUCTORS as _NFNET_CONSTRUCTORS
from keras_minimal.applications.nfnet import (
    NFNet,
    NFNetF0,
    NFNetF1,
    NFNetF2,
    NFNetF3,
    NFNetF4,
    NFNetF5,
    NFNetF6,
    NFNetF7,
    NFNetModel,
)
from keras_minimal.applications.registry import create_model, list_models, register_model
from keras_minimal.applications.vanillanet import (
    CONSTRUCTORS as _VANILLANET_CONSTRUCTORS,
)
from keras_minimal.applications.vanillanet import (
    VanillaNet,
    VanillaNet5,
    VanillaNet6,
    VanillaNet7,
    VanillaNet8,
    VanillaNet9,
    VanillaNet10,
    VanillaNet11,
    VanillaNet12,
    VanillaNet13,
    VanillaNet13_x1_5,
    VanillaNet13_x1_5_ada_pool,
    VanillaNetModel,
)

for _name, _constructor in _VANILLANET_CONSTRUCTORS.items():
    register_model(_name, _constructor)
for _name, _constructor in _NFNET_CONSTRUCTORS.items():
    register_model(_name, _constructor)

__all__ = [
    "BackboneModel",
    "NFNet",
    "NFNetF0",
    "NFNetF1",
    "NFNetF2",
    "NFNetF3",
    "NFNetF4",
    "NFNetF5",
    "NFNetF6",
    "NFNetF7",
    "NFNetModel",
    "VanillaNet",
    "VanillaNet5",
    "VanillaNet6",
    "VanillaNet7",
    "VanillaNet8",
    "VanillaNet9",
    "VanillaNet10",
    "VanillaNet11",
    "VanillaNet12",
    "VanillaNet13",
    "VanillaNet13_x1_5",
    "VanillaNet13_x1_5_ada_pool",
    "VanillaNetModel",
    "create_model",
    "families",
    "list_models",
    "register_model",
]
