"""The ImageNet mean and standard deviation (RGB, in [0, 1] units) that the models' input
normalisation uses; augmentation fills and calibration data follow them."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
