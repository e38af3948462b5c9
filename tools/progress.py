"""Training progress for the tools: one compact line per epoch (or every N epochs) with an ETA.

    epoch 10/80  accuracy 0.995  loss 0.3788  top5 1  act_learn 0.3333  0:16, ETA 1:14

Imported inside the tools' main(): it imports Keras, hence TensorFlow (see tools/quiet.py).
"""

import sys
import time

import keras

from keras_minimal.training import trainer


def format_duration(seconds):
    """m:ss, or h:mm:ss from an hour on (as Keras' progress bar writes its ETA)."""
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class EpochLines(keras.callbacks.Callback):
    """Prints the metrics of the first epoch, of every `every`-th and of the last, each with
    the time this process has trained so far and the ETA of the remaining epochs (from the
    second epoch on: the first also traces and compiles the step)."""

    def __init__(self, epochs, every=1, stream=None, clock=time.perf_counter):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(
                f"`every` is a number of epochs: pass a positive integer such as 10. "
                f"Received: every={every!r}"
            )
        self.epochs, self.every = int(epochs), every
        self.stream, self.clock = stream, clock
        self.durations = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(self.clock() - self._epoch_start)
        number = epoch + 1
        if not (number == 1 or number % self.every == 0 or number == self.epochs):
            return
        metrics = "  ".join(f"{name} {value:.4g}" for name, value in (logs or {}).items())
        timing = format_duration(sum(self.durations))
        if len(self.durations) > 1:
            steady = self.durations[1:]
            eta = (self.epochs - number) * sum(steady) / len(steady)
            timing += f", ETA {format_duration(eta)}"
        width = len(str(self.epochs))
        print(
            f"epoch {number:>{width}}/{self.epochs}  {metrics}  {timing}",
            file=self.stream or sys.stdout,
            flush=True,
        )


class Trainer(trainer.Trainer):
    """The library's Trainer, printing EpochLines every `print_every` epochs (None: none)."""

    def __init__(self, *args, print_every=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.print_every = print_every

    def callbacks(self, start_step, val_data):
        callbacks = super().callbacks(start_step, val_data)
        if self.print_every:
            callbacks.append(EpochLines(self.epochs, self.print_every))
        return callbacks
