"""The one place where the four families register with keras_minimal.model_families.

Each family's builder, checkpoint layouts (name maps) and published weights (URLs) live in
its own folder; weights/ and deploy/ find them through the registry, by `model.family`,
without importing applications.
"""

from keras_minimal.applications.backbone import BackboneModel
from keras_minimal.applications.convnext import checkpoint as convnext_checkpoint
from keras_minimal.applications.convnext import keras_applications as convnext_keras
from keras_minimal.applications.convnext.model import ConvNeXt
from keras_minimal.applications.convnext.variants import VARIANTS as CONVNEXT_VARIANTS
from keras_minimal.applications.nfnet import checkpoint as nfnet_checkpoint
from keras_minimal.applications.nfnet.model import NFNet, NFNetModel
from keras_minimal.applications.nfnet.sources import WEIGHT_SOURCES as NFNET_SOURCES
from keras_minimal.applications.pplcnet import checkpoint as pplcnet_checkpoint
from keras_minimal.applications.pplcnet.model import PPLCNet
from keras_minimal.applications.pplcnet.sources import WEIGHTS_URLS as PPLCNET_URLS
from keras_minimal.applications.vanillanet import checkpoint as vanillanet_checkpoint
from keras_minimal.applications.vanillanet.model import VanillaNet, VanillaNetModel
from keras_minimal.applications.vanillanet.variants import RELEASE_URL as VANILLANET_URL
from keras_minimal.model_families import Family, register_family

FAMILIES = (
    Family(
        "vanillanet",
        VanillaNet,
        VanillaNetModel,
        vanillanet_checkpoint.reference_layout,
        {"imagenet": lambda variant: VANILLANET_URL.format(name=variant)},
    ),
    Family(
        "convnext",
        ConvNeXt,
        BackboneModel,
        convnext_checkpoint.reference_layout,
        {"imagenet": lambda variant: CONVNEXT_VARIANTS[variant].imagenet_url},
        keras_applications_layout=convnext_keras.reference_layout,
    ),
    Family("pplcnet", PPLCNet, BackboneModel, pplcnet_checkpoint.reference_layout, PPLCNET_URLS),
    Family(
        "nfnet",
        NFNet,
        NFNetModel,
        nfnet_checkpoint.reference_layout,
        {name: source.url for name, source in NFNET_SOURCES.items()},
        weights_options={
            name: source.options for name, source in NFNET_SOURCES.items() if source.options
        },
    ),
)
for _family in FAMILIES:
    register_family(_family)

# Generic builders by family name (a --model_config's "family").
BUILDERS = {family.name: family.builder for family in FAMILIES}
