"""Reports, during fit, the examples that the input pipelines could not load."""

import logging

import keras

logger = logging.getLogger(__name__)


class LoadFailureReport(keras.callbacks.Callback):
    """At the end of each epoch, one warning naming the training examples that failed to load
    in that epoch (count, a few names and reasons); after each validation pass, the same for
    validation examples not reported before. Logged through Python logging, whatever
    TensorFlow's C++ log level."""

    def __init__(self, train_failures, val_failures=None):
        super().__init__()
        self.train_failures = train_failures
        self.val_failures = val_failures
        self._val_reported = 0

    def on_epoch_end(self, epoch, logs=None):
        summary = self.train_failures.summary(epoch)
        if summary:
            logger.warning(
                "Epoch %d: %s; each was replaced by another example of its batch.",
                epoch + 1,
                summary,
            )

    def on_test_end(self, logs=None):
        if self.val_failures is None or self.val_failures.count() == self._val_reported:
            return
        self._val_reported = self.val_failures.count()
        logger.warning("Validation: %s; they were skipped.", self.val_failures.summary())
