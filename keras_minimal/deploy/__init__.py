"""Deployment: fusion maths (pure numpy), to_deploy(), export() with verification, MAC counts."""

from keras_minimal.deploy.exporter import ExportVerificationError, export, export_artefacts
from keras_minimal.deploy.flops import count_macs
from keras_minimal.deploy.layerwise_agreement import LayerAgreement, layerwise_agreement
from keras_minimal.deploy.to_deploy import to_deploy

__all__ = [
    "ExportVerificationError",
    "LayerAgreement",
    "count_macs",
    "export",
    "export_artefacts",
    "layerwise_agreement",
    "to_deploy",
]
