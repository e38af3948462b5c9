"""Deployment: fusion maths (pure numpy) and to_deploy()."""

from keras_minimal.deploy.to_deploy import to_deploy

__all__ = ["to_deploy"]
