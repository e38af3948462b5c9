"""scikit-learn's bundled digits as small RGB images: a real dataset that works offline."""

import numpy as np


def load_digits_rgb(image_size=32, test_fraction=0.2, seed=0):
    """The 1,797 8×8 digits upsampled to image_size² RGB in [0, 255], split stratified.

    Returns:
        ((x_train, y_train), (x_test, y_test)); images float32 NHWC, labels int32.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError(
            "The digits dataset ships with scikit-learn: pip install 'keras-minimal[training]'."
        ) from None
    import tensorflow as tf

    digits = load_digits()
    images = digits.images[..., None].astype("float32") * (255.0 / 16.0)
    images = tf.image.resize(images, (image_size, image_size), method="bilinear").numpy()
    images = np.repeat(np.clip(images, 0.0, 255.0), 3, axis=-1)
    labels = digits.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    return (x_train, y_train), (x_test, y_test)
