"""Top-1 / top-5 accuracy, cross-entropy and throughput of a classifier on a dataset."""

import time

import keras
import numpy as np


def outputs_logits(model):
    """Whether the model outputs logits: from its builder arguments (classifier_activation),
    else from its last layer's activation."""
    config = getattr(model, "builder_config", {}) or {}
    if "classifier_activation" in config:
        return config["classifier_activation"] in (None, "linear")
    activation = getattr(model.layers[-1], "activation", None) if model.layers else None
    return getattr(activation, "__name__", None) != "softmax"


def evaluate(model, dataset, from_logits=None, failures=None):
    """Evaluate on a dataset of (images, int labels) batches.

    Returns {"top1", "top5", "loss", "examples", "images_per_second", "failed_examples",
    "failed_named"}; images/s counts the whole loop (input pipeline included), after one
    untimed warm-up batch (with a single batch, that batch, warm-up included). `failures`:
    the LoadFailures the dataset was made with (make_dataset(failures=...)); the examples it
    skipped are reported, and too many of them (or none loaded at all) raise
    UnreadableDataError.
    """
    if from_logits is None:
        from_logits = outputs_logits(model)
    top1 = top5 = 0
    loss_sum = 0.0
    count = 0
    timed_images, start = 0, None
    loop_start = time.perf_counter()
    for images, labels in dataset:
        scores = np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(images)))
        labels = np.asarray(labels).reshape(-1).astype(int)
        if labels.max(initial=0) >= scores.shape[-1] or labels.min(initial=0) < 0:
            raise ValueError(
                f"Labels must lie in [0, {scores.shape[-1]}) (the model's classes). "
                f"Received labels from {labels.min()} to {labels.max()}."
            )
        if from_logits:
            shifted = scores - scores.max(-1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        else:
            log_probs = np.log(np.clip(scores, 1e-12, 1.0))
        loss_sum += float(-log_probs[np.arange(len(labels)), labels].sum())
        ranked = np.argsort(-scores, axis=-1)[:, :5]
        top1 += int((ranked[:, 0] == labels).sum())
        top5 += int((ranked == labels[:, None]).any(-1).sum())
        count += len(labels)
        if start is None:
            start = time.perf_counter()
        else:
            timed_images += len(labels)
    if failures is not None:
        failures.check_pass(count)
    if count == 0:
        raise ValueError("The evaluation dataset is empty.")
    if not timed_images:  # one batch: time it, warm-up included
        timed_images, start = count, loop_start
    seconds = time.perf_counter() - start
    return {
        "top1": top1 / count,
        "top5": top5 / count,
        "loss": loss_sum / count,
        "examples": count,
        "images_per_second": timed_images / seconds if seconds > 0 else None,
        "failed_examples": failures.count() if failures is not None else 0,
        "failed_named": [list(pair) for pair in failures.named()] if failures is not None else [],
    }
