"""A small VanillaNet trained on scikit-learn's digits, for the tests that need a real
classifier: an int8 verdict means nothing on random weights, whose outputs are flat."""

import keras

from keras_minimal.applications import VanillaNet
from keras_minimal.training.digits import load_digits_rgb

IMAGE_SIZE = 32


def digits():
    """((x_train, y_train), (x_test, y_test)): RGB in [0, 255], IMAGE_SIZE² pixels."""
    return load_digits_rgb(IMAGE_SIZE)


def train_digits_vanillanet(path, epochs=10):
    """Train a 33k-parameter VanillaNet (RGB in [0, 255], softmax out) on the digits with
    model.fit and save it to `path` (a .keras file). λ = 1 throughout, so it fuses."""
    keras.utils.set_random_seed(0)
    (x_train, y_train), _ = digits()
    model = VanillaNet(
        (16, 32, 64, 128),
        (2, 2, 1),
        classes=10,
        input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
        name="digits",
    )
    model.set_act_learn(1.0)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=0)
    model.save(path)
    return path
