"""Public model constructors (keras.applications style) and the model registry."""

from keras_minimal.applications import families
from keras_minimal.applications.backbone import BackboneModel
from keras_minimal.applications.convnext import CONSTRUCTORS as _CONVNEXT_CONSTRUCTORS
from keras_minimal.applications.convnext import (
    ConvNeXt,
    ConvNeXtBase,
    ConvNeXtLarge,
    ConvNeXtSmall,
    ConvNeXtTiny,
    ConvNeXtXLarge,
)
from keras_minimal.applications.imagenet_classes import decode_predictions, imagenet_classes
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
from keras_minimal.applications.pplcnet import CONSTRUCTORS as _PPLCNET_CONSTRUCTORS
from keras_minimal.applications.pplcnet import (
    PPLCNet,
    PPLCNet_x0_5,
    PPLCNet_x0_25,
    PPLCNet_x0_35,
    PPLCNet_x0_75,
    PPLCNet_x1_0,
    PPLCNet_x1_5,
    PPLCNet_x2_0,
    PPLCNet_x2_5,
)
from keras_minimal.applications.preprocessing import preprocess_input
from keras_minimal.applications.pyramid import feature_pyramid
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
for _name, _constructor in {
    **_CONVNEXT_CONSTRUCTORS,
    **_NFNET_CONSTRUCTORS,
    **_PPLCNET_CONSTRUCTORS,
}.items():
    register_model(_name, _constructor)

__all__ = [
    "BackboneModel",
    "ConvNeXt",
    "ConvNeXtBase",
    "ConvNeXtLarge",
    "ConvNeXtSmall",
    "ConvNeXtTiny",
    "ConvNeXtXLarge",
    "PPLCNet",
    "PPLCNet_x0_25",
    "PPLCNet_x0_35",
    "PPLCNet_x0_5",
    "PPLCNet_x0_75",
    "PPLCNet_x1_0",
    "PPLCNet_x1_5",
    "PPLCNet_x2_0",
    "PPLCNet_x2_5",
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
    "decode_predictions",
    "families",
    "feature_pyramid",
    "imagenet_classes",
    "list_models",
    "preprocess_input",
    "register_model",
]
