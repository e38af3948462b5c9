"""Keeps a run's input pipelines out of Python while Keras destroys their iterators."""

import keras


class LoadGates(keras.callbacks.Callback):
    """Opens the failure reports of the training pipeline for `fit` and of the validation
    pipeline for each evaluation pass, and closes them at the end of each, before Keras
    drops the iterators (training/data/failures.py says why)."""

    def __init__(self, train_failures, val_failures=None):
        super().__init__()
        self.train_failures = train_failures
        self.val_failures = val_failures

    def on_train_begin(self, logs=None):
        self.train_failures.open()

    def on_train_end(self, logs=None):
        self.train_failures.close()

    def on_test_begin(self, logs=None):
        if self.val_failures is not None:
            self.val_failures.open()

    def on_test_end(self, logs=None):
        if self.val_failures is not None:
            self.val_failures.close()
