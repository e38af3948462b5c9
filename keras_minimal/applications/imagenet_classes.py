"""The ImageNet-1k class names and decode_predictions, as keras.applications has them, offline.

`imagenet_class_index.json` beside this file is byte for byte the file that
keras.applications' decode_predictions downloads (a test checks it against the md5 that
Keras verifies): {"0": ["n01440764", "tench"], …, "999": ["n15075141", "toilet_tissue"]},
the WordNet ids in the order of the ImageNet-1k (ILSVRC 2012) class indices, each with the
first name of its synset, spaces as underscores ("crane" and "maillot" appear twice, as
two synsets share them). It was built offline from tensorflow-datasets' imagenet2012
`labels.txt` (the ids) and the synset names listed in its `siscore/labels.py`.
"""

import functools
import json
from importlib import resources

import keras
import numpy as np

from keras_minimal.validation import is_integer

CLASS_INDEX_FILE = "imagenet_class_index.json"
NUM_CLASSES = 1000


@functools.cache
def imagenet_classes():
    """((wnid, name), …) of the 1000 ImageNet-1k classes, by class index."""
    text = resources.files(__package__).joinpath(CLASS_INDEX_FILE).read_text(encoding="utf-8")
    index = json.loads(text)
    return tuple(tuple(index[str(i)]) for i in range(len(index)))


def decode_predictions(preds, top=5):
    """The top classes of a batch of ImageNet-1k predictions, as keras.applications returns.

    Args:
        preds: the model's output for a batch, shape (samples, 1000): probabilities or
            logits (a numpy array or a backend tensor).
        top: how many classes to return per sample (all 1000 when larger).

    Returns:
        One list per sample of (class_id, class_name, score) tuples, best first, e.g.
        ("n02123045", "tabby", 0.61): the WordNet id, the class name and preds' value.

    Raises:
        ValueError: preds is not of shape (samples, 1000), or top is not a positive integer.
    """
    preds = keras.ops.convert_to_numpy(preds) if keras.ops.is_tensor(preds) else np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != NUM_CLASSES:
        raise ValueError(
            "decode_predictions expects a batch of ImageNet-1k predictions, an array of shape "
            f"(samples, {NUM_CLASSES}): the output of a model built with include_top=True and "
            f"classes={NUM_CLASSES}. Received: an array of shape {preds.shape}"
        )
    if not is_integer(top) or top < 1:
        raise ValueError(
            f"top is the number of classes to return per sample, an integer ≥ 1. Received: "
            f"top={top!r}"
        )
    classes = imagenet_classes()
    results = []
    for pred in preds:
        # keras.applications' order: argsort, best first, then a stable sort by score.
        best = pred.argsort()[-int(top) :][::-1]
        result = [(*classes[i], pred[i]) for i in best]
        result.sort(key=lambda entry: entry[2], reverse=True)
        results.append(result)
    return results
